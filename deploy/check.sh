#!/usr/bin/env bash
# Lints the deployment templates, from the repository root:
#   1. cfn-lint (runs the SAM transform, then validates the CloudFormation it yields),
#   2. checkov (every failing check is fixed or skipped with a reason in the resource's Metadata),
#   3. the Glue tables' columns against the Parquet schema in crates/correlate/src/schema.rs,
#   4. the output bucket's and the findings bus's policies: who they deny, for a matrix of requests
#      (deploy/policy_decisions.py; the policy language as documented, not AWS's evaluator),
#   5. the parameters' AllowedPatterns against accepted and refused values (deploy/parameter_patterns.py:
#      no IAM wildcard or policy variable can reach a policy through a parameter),
#   6. the broker's function URL (deploy/broker/template.yaml): AWS_IAM auth, invocations only from the
#      organisation and only through the URL.
# The tools live in their own virtualenvs under ~/.cache/sessiontrail/ so their pins (checkov pins
# boto3 1.35, cfn-lint's aws-sam-translator pulls a newer boto3) never meet the CI's
# (botocore==1.43.11, moto, jsonschema) in the user's site-packages. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${HOME}/.cache/sessiontrail"
# 1.53.3 is the last cfn-lint that runs the SAM transform: 1.54.0 dropped aws-sam-translator and checks
# AWS::Serverless resources against bundled schemas only (misses e.g. a bad DeadLetterQueue or LogFormat).
CFN_LINT_VERSION=1.53.3
CHECKOV_VERSION=3.3.30
TEMPLATE=deploy/template.yaml
# Every template cfn-lint and checkov check: the audit stack, the broker account's stack, and the member-account
# template `sessiontrail guard-rails` generates from deploy/broker/sessiontrail.example.toml.
TEMPLATES=(deploy/template.yaml deploy/broker/template.yaml deploy/broker/example/member-stackset.json)

# ensure VENV PACKAGE VERSION: install PACKAGE==VERSION into $CACHE/VENV unless already there.
ensure() {
    local venv="${CACHE}/$1" package="$2" version="$3"
    local marker="${venv}/.installed-${package}-${version}"
    [ -f "${marker}" ] && return 0
    echo "== installing ${package}==${version} into ${venv}"
    rm -rf "${venv}"
    python3 -m venv "${venv}"
    "${venv}/bin/python" -m pip install --quiet --disable-pip-version-check "${package}==${version}"
    touch "${marker}"
}

ensure venv-cfn-lint cfn-lint "${CFN_LINT_VERSION}"
ensure venv-checkov checkov "${CHECKOV_VERSION}"

status=0

for template in "${TEMPLATES[@]}"; do
    echo "== cfn-lint ${template}"
    "${CACHE}/venv-cfn-lint/bin/cfn-lint" -- "${template}" || status=1

    echo "== checkov -f ${template}"
    # --skip-download: no call to the Prisma Cloud API (guidelines, BC_* ids), so no network is needed.
    "${CACHE}/venv-checkov/bin/checkov" -f "${template}" --framework cloudformation --quiet --compact \
        --skip-download || status=1
done

echo "== Glue columns vs crates/correlate/src/schema.rs"
"${CACHE}/venv-cfn-lint/bin/python" - "${TEMPLATE}" crates/correlate/src/schema.rs <<'PY' || status=1
import re
import sys

from cfnlint.decode import cfn_yaml

template, schema_rs = sys.argv[1], sys.argv[2]
resources = cfn_yaml.load(template)["Resources"]
source = open(schema_rs, encoding="utf-8").read()

ARROW_TO_HIVE = {"Utf8": "string", "LargeUtf8": "string", "Boolean": "boolean",
                 "Int32": "int", "Int64": "bigint", "UInt32": "bigint", "UInt64": "bigint",
                 "Float64": "double"}


def rust_columns(static_name):
    block = re.search(r"static %s\b.*?\]\)\)\s*\}\);" % static_name, source, re.S)
    if block is None:
        sys.exit("schema.rs: no static %s" % static_name)
    columns = []
    for m in re.finditer(r'text\("(\w+)"\)|Field::new\(\s*"(\w+)",\s*([^,]+),', block.group(0)):
        if m.group(1):
            columns.append((m.group(1), "string"))
            continue
        arrow = m.group(3).strip()
        if arrow.startswith("timestamp_type"):
            columns.append((m.group(2), "timestamp"))
        else:
            name = arrow.removeprefix("DataType::")
            if name not in ARROW_TO_HIVE:
                sys.exit("schema.rs: no Hive type for %s (column %s)" % (arrow, m.group(2)))
            columns.append((m.group(2), ARROW_TO_HIVE[name]))
    return columns


failed = False
for table, static_name in (("sessions", "SESSIONS"), ("findings", "FINDINGS"), ("evidence", "EVIDENCE")):
    inputs = [r["Properties"]["TableInput"] for r in resources.values()
              if r.get("Type") == "AWS::Glue::Table" and r["Properties"]["TableInput"]["Name"] == table]
    if len(inputs) != 1:
        sys.exit("%s: expected one Glue table named %s" % (template, table))
    glue = [(c["Name"], c["Type"]) for c in inputs[0]["StorageDescriptor"]["Columns"]]
    expected = rust_columns(static_name)
    if glue != expected:
        failed = True
        print("table %s: columns differ from schema.rs" % table)
        print("  template: %s" % glue)
        print("  schema.rs: %s" % expected)
    else:
        print("table %s: %d columns match" % (table, len(glue)))
sys.exit(1 if failed else 0)
PY

echo "== bucket and bus policy decisions (deploy/policy_decisions.py; every row: the same command without | tail)"
# The summary line, and the rows that differ when there are any.
if decisions="$("${CACHE}/venv-cfn-lint/bin/python" deploy/policy_decisions.py "${TEMPLATE}" 2>&1)"; then
    echo "${decisions}" | tail -n 1
else
    echo "${decisions}" | grep -v '^ok ' || true
    status=1
fi

echo "== parameter AllowedPatterns (deploy/parameter_patterns.py)"
"${CACHE}/venv-cfn-lint/bin/python" deploy/parameter_patterns.py "${TEMPLATE}" || status=1

echo "== the broker's function URL: AWS_IAM, admitted only for the organisation"
"${CACHE}/venv-cfn-lint/bin/python" - deploy/broker/template.yaml <<'PY' || status=1
import sys

from cfnlint.decode import cfn_yaml

resources = cfn_yaml.load(sys.argv[1])["Resources"]
problems = []
urls = [(n, r["Properties"].get("FunctionUrlConfig")) for n, r in resources.items()
        if r.get("Type") == "AWS::Serverless::Function"]
for name, url in urls:
    if url is None or url.get("AuthType") != "AWS_IAM":
        problems.append("%s: FunctionUrlConfig.AuthType is not AWS_IAM" % name)
permissions = {n: r["Properties"] for n, r in resources.items() if r.get("Type") == "AWS::Lambda::Permission"}
actions = sorted(p["Action"] for p in permissions.values())
if actions != ["lambda:InvokeFunction", "lambda:InvokeFunctionUrl"]:
    problems.append("permissions grant %s, not exactly InvokeFunctionUrl and InvokeFunction" % actions)
for name, p in permissions.items():
    if p.get("Principal") == "*" and "PrincipalOrgID" not in p:
        problems.append("%s: Principal * without PrincipalOrgID" % name)
    if p["Action"] == "lambda:InvokeFunction" and p.get("InvokedViaFunctionUrl") is not True:
        problems.append("%s: lambda:InvokeFunction not limited to the function URL" % name)
    if p["Action"] == "lambda:InvokeFunctionUrl" and p.get("FunctionUrlAuthType") != "AWS_IAM":
        problems.append("%s: FunctionUrlAuthType is not AWS_IAM" % name)
for problem in problems:
    print(problem)
print("broker URL: %d function(s), %d permission(s), %d problem(s)" % (len(urls), len(permissions), len(problems)))
sys.exit(1 if problems else 0)
PY

if [ "${status}" -ne 0 ]; then
    echo "deploy/check.sh: FAILED" >&2
fi
exit "${status}"
