"""Who the output bucket's policy and the findings bus's policy deny, request by request.

Run by deploy/check.sh with cfn-lint's Python (for its YAML loader):
    python deploy/policy_decisions.py deploy/template.yaml

The template's intrinsics (Ref, Fn::GetAtt, Fn::Sub, Fn::If, Fn::Select, Fn::Split) are resolved for two parameter
sets (defaults; and with BreakGlassPrincipalArn and DeployPrincipalArn set), then each request of the matrix below is
evaluated against the statements of both resource policies: is it explicitly denied, and does an Allow name it. This
is the IAM policy language as documented (wildcards in Action and Resource, ArnEquals/ArnNotEquals, StringEquals/
StringNotEquals, Bool, NumericLessThan; a condition key missing from the request makes a negated operator match and
a positive one fail), not AWS's evaluator: it proves the template says what deploy/README.md says, not what IAM does.
Exits 1 on the first matrix row whose outcome differs.
"""

import fnmatch
import json
import sys

from cfnlint.decode import cfn_yaml

ACCOUNT = "123456789012"
REGION = "eu-west-1"
STACK = "sessiontrail"
BUCKET = "sessiontrail-outputbucket-abc123"
FUNCTION_ROLE = "arn:aws:iam::%s:role/sessiontrail-FunctionRole-ABC123" % ACCOUNT
BREAK_GLASS = "arn:aws:iam::%s:role/break-glass" % ACCOUNT
DEPLOYER = "arn:aws:iam::%s:role/cfn-deploy" % ACCOUNT
ADMIN = "arn:aws:iam::%s:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123" % ACCOUNT
ANONYMOUS = None  # no aws:PrincipalArn in the request

NO_VALUE = object()


class Resolver:
    def __init__(self, template, parameters):
        self.template = template
        self.params = {name: str(spec.get("Default", "")) for name, spec in template["Parameters"].items()}
        self.params.update(parameters)
        self.params.update({"AWS::AccountId": ACCOUNT, "AWS::Region": REGION, "AWS::Partition": "aws",
                            "AWS::StackName": STACK, "AWS::URLSuffix": "amazonaws.com"})
        self.refs = {"OutputBucket": BUCKET, "FunctionRole": "sessiontrail-FunctionRole-ABC123",
                     "FindingsBus": self.params["FindingsBusName"]}
        self.attrs = {"OutputBucket.Arn": "arn:aws:s3:::%s" % BUCKET, "FunctionRole.Arn": FUNCTION_ROLE,
                      "FindingsBus.Arn": "arn:aws:events:%s:%s:event-bus/%s"
                                         % (REGION, ACCOUNT, self.params["FindingsBusName"])}
        self.conditions = {}

    def condition(self, name):
        if name not in self.conditions:
            self.conditions[name] = bool(self.value(self.template["Conditions"][name]))
        return self.conditions[name]

    def sub(self, text, variables):
        out, i = "", 0
        while i < len(text):
            if text.startswith("${!", i):
                out, i = out + "${", i + 3
            elif text.startswith("${", i):
                end = text.index("}", i)
                name = text[i + 2:end]
                if name in variables:
                    out += str(variables[name])
                elif name in self.params:
                    out += self.params[name]
                elif name in self.attrs:
                    out += self.attrs[name]
                elif name in self.refs:
                    out += self.refs[name]
                else:
                    raise KeyError("Fn::Sub: unknown ${%s}" % name)
                i = end + 1
            else:
                out, i = out + text[i], i + 1
        return out

    def value(self, node):
        if isinstance(node, list):
            return [v for v in (self.value(n) for n in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                if arg == "AWS::NoValue":
                    return NO_VALUE
                return self.params[arg] if arg in self.params else self.refs[arg]
            if key == "Fn::GetAtt":
                name = ".".join(arg) if isinstance(arg, list) else arg
                return self.attrs[name]
            if key == "Fn::Sub":
                if isinstance(arg, list):
                    variables = {k: self.value(v) for k, v in arg[1].items()}
                    return self.sub(arg[0], variables)
                return self.sub(arg, {})
            if key == "Fn::If":
                return self.value(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Fn::Equals":
                a, b = (self.value(x) for x in arg)
                return str(a) == str(b)
            if key == "Fn::Not":
                return not self.value(arg[0])
            if key == "Fn::Select":
                return self.value(arg[1])[int(self.value(arg[0]))]
            if key == "Fn::Split":
                return self.value(arg[1]).split(arg[0])
            if key == "Condition":
                return self.condition(arg)
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NO_VALUE}


def listify(x):
    return x if isinstance(x, list) else [x]


def condition_matches(conditions, context):
    for operator, pairs in conditions.items():
        for key, wanted in pairs.items():
            wanted = [str(w) for w in listify(wanted)]
            have = context.get(key)
            if operator in ("ArnNotEquals", "StringNotEquals"):
                if have is not None and have in wanted:
                    return False
            elif operator in ("ArnEquals", "StringEquals"):
                if have is None or have not in wanted:
                    return False
            elif operator == "Bool":
                if have is None or str(have).lower() not in [w.lower() for w in wanted]:
                    return False
            elif operator == "NumericLessThan":
                if have is None or not float(have) < float(wanted[0]):
                    return False
            else:
                raise ValueError("operator %s not modelled" % operator)
    return True


def statement_applies(statement, principal, action, resource, context):
    if not any(fnmatch.fnmatchcase(action.lower(), a.lower()) for a in listify(statement["Action"])):
        return False
    if not any(fnmatch.fnmatchcase(resource, r) for r in listify(statement["Resource"])):
        return False
    who = statement.get("Principal")
    if who != "*":
        if principal is None or principal not in listify(who.get("AWS", [])):
            return False
    context = dict(context)
    if principal is not None:
        context["aws:PrincipalArn"] = principal
    return condition_matches(statement.get("Condition", {}), context)


def decide(policy, principal, action, resource, context):
    statements = listify(policy["Statement"])
    if any(s["Effect"] == "Deny" and statement_applies(s, principal, action, resource, context) for s in statements):
        return "deny"
    if any(s["Effect"] == "Allow" and statement_applies(s, principal, action, resource, context) for s in statements):
        return "allow"
    return "IAM decides"


TLS = {"aws:SecureTransport": "true", "s3:TlsVersion": "1.3"}
OBJ = "arn:aws:s3:::%s/" % BUCKET
BKT = "arn:aws:s3:::%s" % BUCKET
FINDING = {"events:source": "sessiontrail", "events:detail-type": "SessionTrail Finding"}

# (parameter set, who, principal, action, resource, context, expected)
BUCKET_MATRIX = [
    ("both", "function", FUNCTION_ROLE, "s3:PutObject", OBJ + "sessiontrail/state/state.jsonl.gz", TLS, "IAM decides"),
    ("both", "function", FUNCTION_ROLE, "s3:DeleteObject", OBJ + "sessiontrail/findings/dt=2026-01-01/part-0.parquet", TLS, "IAM decides"),
    ("both", "function", FUNCTION_ROLE, "s3:GetObject", OBJ + "sessiontrail/state/state.jsonl.gz", TLS, "IAM decides"),
    ("both", "function", FUNCTION_ROLE, "s3:DeleteObjectVersion", OBJ + "sessiontrail/state/state.jsonl.gz", TLS, "deny"),
    ("both", "function", FUNCTION_ROLE, "s3:PutObjectTagging", OBJ + "sessiontrail/state/state.jsonl.gz", TLS, "IAM decides"),
    ("both", "function", FUNCTION_ROLE, "s3:PutLifecycleConfiguration", BKT, TLS, "deny"),
    ("both", "function over plain HTTP", FUNCTION_ROLE, "s3:PutObject", OBJ + "sessiontrail/state/state.jsonl.gz",
     {"aws:SecureTransport": "false", "s3:TlsVersion": "1.3"}, "deny"),
    ("both", "admin", ADMIN, "s3:PutObject", OBJ + "sessiontrail/state/state.jsonl.gz", TLS, "deny"),
    ("both", "admin", ADMIN, "s3:DeleteObject", OBJ + "sessiontrail/state/state.jsonl.gz", TLS, "deny"),
    ("both", "admin", ADMIN, "s3:PutObject", OBJ + "sessiontrail/reports/2026-01/report.json", TLS, "deny"),
    ("both", "admin", ADMIN, "s3:PutObjectAcl", OBJ + "sessiontrail/findings/dt=2026-01-01/part-0.parquet", TLS, "deny"),
    ("both", "admin", ADMIN, "s3:ReplicateObject", OBJ + "sessiontrail/state/state.jsonl.gz", TLS, "deny"),
    ("both", "admin", ADMIN, "s3:DeleteObjectVersion", OBJ + "sessiontrail/state/state.jsonl.gz", TLS, "deny"),
    ("both", "admin", ADMIN, "s3:DeleteObjectVersion", OBJ + "athena-results/q.csv", TLS, "deny"),
    ("both", "admin", ADMIN, "s3:PutObject", OBJ + "athena-results/q.csv", TLS, "IAM decides"),
    ("both", "admin", ADMIN, "s3:PutObject", OBJ + "config/sessiontrail.toml", TLS, "IAM decides"),
    ("both", "admin", ADMIN, "s3:PutObject", OBJ + "sessiontrail-other/x", TLS, "IAM decides"),
    ("both", "admin", ADMIN, "s3:PutLifecycleConfiguration", BKT, TLS, "deny"),
    ("both", "admin", ADMIN, "s3:PutBucketPolicy", BKT, TLS, "deny"),
    ("both", "admin", ADMIN, "s3:DeleteBucketPolicy", BKT, TLS, "deny"),
    ("both", "admin", ADMIN, "s3:PutBucketVersioning", BKT, TLS, "deny"),
    ("both", "admin", ADMIN, "s3:PutBucketObjectLockConfiguration", BKT, TLS, "deny"),
    ("both", "admin", ADMIN, "s3:PutBucketTagging", BKT, TLS, "IAM decides"),
    ("both", "admin", ADMIN, "s3:GetObject", OBJ + "sessiontrail/state/state.jsonl.gz", TLS, "IAM decides"),
    ("both", "anonymous", ANONYMOUS, "s3:PutObject", OBJ + "sessiontrail/state/state.jsonl.gz", TLS, "deny"),
    ("both", "break-glass", BREAK_GLASS, "s3:PutObject", OBJ + "sessiontrail/state/state.jsonl.gz", TLS, "IAM decides"),
    ("both", "break-glass", BREAK_GLASS, "s3:DeleteObjectVersion", OBJ + "sessiontrail/state/state.jsonl.gz", TLS, "IAM decides"),
    ("both", "break-glass", BREAK_GLASS, "s3:PutBucketPolicy", BKT, TLS, "IAM decides"),
    ("both", "deployer", DEPLOYER, "s3:PutBucketPolicy", BKT, TLS, "IAM decides"),
    ("both", "deployer", DEPLOYER, "s3:PutLifecycleConfiguration", BKT, TLS, "IAM decides"),
    ("both", "deployer", DEPLOYER, "s3:PutObject", OBJ + "sessiontrail/state/state.jsonl.gz", TLS, "deny"),
    ("both", "deployer", DEPLOYER, "s3:DeleteObjectVersion", OBJ + "sessiontrail/state/state.jsonl.gz", TLS, "deny"),
    ("defaults", "function", FUNCTION_ROLE, "s3:PutObject", OBJ + "sessiontrail/state/state.jsonl.gz", TLS, "IAM decides"),
    ("defaults", "function", FUNCTION_ROLE, "s3:DeleteObject", OBJ + "sessiontrail/sessions/dt=2026-01-01/part-0.parquet", TLS, "IAM decides"),
    ("defaults", "admin", ADMIN, "s3:PutObject", OBJ + "sessiontrail/state/state.jsonl.gz", TLS, "deny"),
    ("defaults", "break-glass role, not configured", BREAK_GLASS, "s3:PutObject", OBJ + "sessiontrail/state/state.jsonl.gz", TLS, "deny"),
    ("defaults", "admin", ADMIN, "s3:DeleteObjectVersion", OBJ + "sessiontrail/state/state.jsonl.gz", TLS, "deny"),
    ("defaults", "admin (no DeployPrincipalArn: IAM decides)", ADMIN, "s3:PutBucketPolicy", BKT, TLS, "IAM decides"),
]

BUS_MATRIX = [
    ("both", "function, its finding", FUNCTION_ROLE, FINDING, "allow"),
    ("both", "function, other source", FUNCTION_ROLE, {"events:source": "aws.ssm", "events:detail-type": "SessionTrail Finding"}, "deny"),
    ("both", "function, other detail-type", FUNCTION_ROLE, {"events:source": "sessiontrail", "events:detail-type": "Test"}, "deny"),
    ("both", "admin, a forged finding", ADMIN, FINDING, "deny"),
    ("both", "break-glass, a finding", BREAK_GLASS, FINDING, "deny"),
    ("defaults", "function, its finding", FUNCTION_ROLE, FINDING, "allow"),
    ("defaults", "admin, a forged finding", ADMIN, FINDING, "deny"),
]

PARAMETER_SETS = {
    "defaults": {"TrailBucketName": "trail-bucket", "BrokerLogBucketName": "broker-logs", "BrokerLogPrefix": "broker/",
                 "PolicyS3Url": "s3://config-bucket/sessiontrail/sessiontrail.toml"},
}
PARAMETER_SETS["both"] = dict(PARAMETER_SETS["defaults"], BreakGlassPrincipalArn=BREAK_GLASS,
                              DeployPrincipalArn=DEPLOYER)


def main():
    template = cfn_yaml.load(sys.argv[1])
    template = json.loads(json.dumps(template))
    failed = 0
    for set_name, parameters in PARAMETER_SETS.items():
        resolver = Resolver(template, parameters)
        bucket_policy = resolver.value(template["Resources"]["OutputBucketPolicy"]["Properties"]["PolicyDocument"])
        bus_policy = resolver.value(template["Resources"]["FindingsBus"]["Properties"]["Policy"])
        bus_arn = resolver.attrs["FindingsBus.Arn"]
        rows = [(who, decide(bucket_policy, p, a, r, c), expected, "%s %s" % (a, r.replace(OBJ, "").replace(BKT, "bucket")))
                for (s, who, p, a, r, c, expected) in BUCKET_MATRIX if s == set_name]
        rows += [(who, decide(bus_policy, p, "events:PutEvents", bus_arn, c), expected, "events:PutEvents")
                 for (s, who, p, c, expected) in BUS_MATRIX if s == set_name]
        for who, got, expected, what in rows:
            mark = "ok  " if got == expected else "FAIL"
            if got != expected:
                failed += 1
            print("%s [%s] %-45s %-70s -> %s%s" % (mark, set_name, who, what, got,
                                                    "" if got == expected else " (expected %s)" % expected))
    total = len(BUCKET_MATRIX) + len(BUS_MATRIX)
    print("policy decisions: %d of %d as documented" % (total - failed, total))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
