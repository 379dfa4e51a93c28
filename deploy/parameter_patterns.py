"""The template's AllowedPatterns against values they must accept and values they must refuse.

Run by deploy/check.sh with cfn-lint's Python (for its YAML loader):
    python deploy/parameter_patterns.py deploy/template.yaml

The prefixes and the policy key become Resource and s3:prefix values of the function's IAM policy, and the principal
ARNs become aws:PrincipalArn values of the bucket policy: a `*` or `?` there is an IAM wildcard, `${...}` an IAM
policy variable, a comma splits SESSIONTRAIL_CLOUDTRAIL / SESSIONTRAIL_BROKER_LOG. CloudFormation matches the whole
value against AllowedPattern (Java regex); the patterns use only syntax that Python's re reads the same way.
Exits 1 if a pattern accepts a refused value, refuses an accepted one, or refuses its parameter's default.
"""

import re
import sys

from cfnlint.decode import cfn_yaml

CASES = {
    "TrailPrefix": (
        ["AWSLogs/", "org-trail/AWSLogs/", "AWSLogs/o-abc123defg/", "AWSLogs/123456789012/CloudTrail/"],
        ["", "AWSLogs", "*", "AWSLogs*", "AWSLogs/*", "AWSLogs/?/", "/AWSLogs/", "AWSLogs//", "${aws:username}/",
         "a,b/", "AWS Logs/"],
    ),
    "BrokerLogPrefix": (
        ["broker-logs/", "broker", "logs/broker/2026", "exports/dt=2026-01-01/"],
        ["", "*", "broker*", "broker/?", "/broker/", "broker//x", "${aws:userid}/", "a,b", "x y"],
    ),
    "PolicyS3Url": (
        ["s3://config-bucket/sessiontrail/sessiontrail.toml", "s3://my.bucket/p.toml"],
        ["s3://b/", "s3://bkt/*", "s3://bkt/a/*.toml", "s3://bkt/a?", "s3://bkt/a//b", "s3://bkt/${x}",
         "s3://bkt/a/", "s3://bkt/a,b"],
    ),
    "DigestPublicKeys": (
        ["", "live", "s3://config-bucket/sessiontrail/public-keys.json"],
        ["Live", "s3://bkt/*", "s3://bkt/a?", "s3://bkt/${x}", "s3://bkt/a/", "s3://bkt/a,b", "live,s3://b/k"],
    ),
    "OutputPrefix": (["sessiontrail", "audit/sessiontrail"], ["", "/x", "x/", "x*", "a//b", "${x}"]),
    "AccountIds": (["", "123456789012", "123456789012,210987654321"],
                   ["*", "12345678901", "123456789012, 210987654321", "123456789012,", "any"]),
    "ScheduleExpression": (["rate(15 minutes)", "cron(0/15 * * * ? *)"], ["15 minutes", "rate 5"]),
    "MetricsNamespace": (["SessionTrail", "Org/SessionTrail"], ["", "/x", ":x", "a" * 256]),
    "BreakGlassPrincipalArn": (
        ["", "arn:aws:iam::123456789012:role/break-glass",
         "arn:aws:iam::123456789012:role/aws-reserved/sso.amazonaws.com/eu-west-1/AWSReservedSSO_Admin_0123abcd",
         "arn:aws:iam::123456789012:user/bg"],
        ["arn:aws:iam::123456789012:role/*", "arn:aws:iam::123456789012:role/bg?", "arn:aws:iam::*:role/x",
         "arn:aws:iam::123456789012:root", "arn:aws:sts::123456789012:assumed-role/x/y", "*"],
    ),
    "DeployPrincipalArn": (
        ["", "arn:aws:iam::123456789012:role/cfn-deploy"],
        ["arn:aws:iam::123456789012:role/*", "arn:aws:iam::123456789012:root", "*"],
    ),
    "PermissionsBoundaryArn": (
        ["", "arn:aws:iam::aws:policy/PowerUserAccess", "arn:aws:iam::123456789012:policy/b/boundary"],
        ["arn:aws:iam::123456789012:role/x", "*"],
    ),
    "AthenaResultsKmsKeyArn": (
        ["", "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"],
        ["alias/aws/s3", "arn:aws:kms:eu-west-1:123456789012:alias/aws/s3", "*"],
    ),
}


def main():
    parameters = cfn_yaml.load(sys.argv[1])["Parameters"]
    failures, count = [], 0
    for name, (accepted, refused) in CASES.items():
        pattern = re.compile(parameters[name]["AllowedPattern"])
        default = parameters[name].get("Default")
        for value in accepted + ([] if default is None else [str(default)]):
            count += 1
            if not pattern.fullmatch(value):
                failures.append("%s refuses %r" % (name, value))
        for value in refused:
            count += 1
            if pattern.fullmatch(value):
                failures.append("%s accepts %r" % (name, value))
    for failure in failures:
        print("FAIL " + failure)
    print("parameter patterns: %d of %d values as expected (%d parameters)" % (count - len(failures), count, len(CASES)))
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
