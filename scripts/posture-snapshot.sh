#!/usr/bin/env bash
# Saves the AWS CLI outputs `sessiontrail posture --snapshot DIR` checks: session
# documents, Session Manager preferences, Identity Center's attributes for access
# control, permission-set policies, role tags and the broker's function URL. See --help.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: posture-snapshot.sh --out DIR --instance-arn ARN --permission-set NAME=DOCUMENT...
           --account ID... --region REGION... --broker-function NAME
           [--starter-role NAME...] [--default-document NAME]
           [--sso-profile P] [--sso-region R] [--account-profile FMT]
           [--broker-profile P] [--broker-region R]

Runs the documented AWS CLI commands below and saves exactly what each prints (JSON)
in the layout `sessiontrail posture --snapshot DIR` reads (docs/contracts.md
"Posture"). When a command fails, its standard error is saved instead, as the same
path ending in .error (e.g. `An error occurred (InvalidDocument) ...`: the document
does not exist); posture reads that as the answer, and a file that is neither there
nor .error as a check it could not make.

  DIR/sso-admin-describe-instance-access-control-attribute-configuration.json
      aws sso-admin describe-instance-access-control-attribute-configuration --instance-arn ARN
  DIR/permission-sets/<NAME>/sso-admin-get-inline-policy-for-permission-set.json
      aws sso-admin get-inline-policy-for-permission-set --instance-arn ARN --permission-set-arn PS
  DIR/permission-sets/<NAME>/sso-admin-list-managed-policies-in-permission-set.json
      aws sso-admin list-managed-policies-in-permission-set --instance-arn ARN --permission-set-arn PS
  DIR/permission-sets/<NAME>/sso-admin-list-customer-managed-policy-references-in-permission-set.json
      aws sso-admin list-customer-managed-policy-references-in-permission-set --instance-arn ARN --permission-set-arn PS
  DIR/permission-sets/<NAME>/iam-get-policy-version-<POLICY NAME>.json   (each managed policy)
      aws iam get-policy-version --policy-arn P --version-id <aws iam get-policy: DefaultVersionId>
  DIR/accounts/<ID>/<REGION>/ssm-get-document-<DOCUMENT>.json   (each mapped document, and
      the default document SSM-SessionManagerRunShell: the account's preferences)
      aws ssm get-document --name DOCUMENT --document-format JSON --region REGION
  DIR/accounts/<ID>/iam-list-role-tags-<ROLE>.json   (each --starter-role)
      aws iam list-role-tags --role-name ROLE
  DIR/broker/lambda-get-function-configuration.json
      aws lambda get-function-configuration --function-name BROKER
  DIR/broker/lambda-get-function-url-config.json
      aws lambda get-function-url-config --function-name BROKER
  DIR/broker/iam-list-role-tags.json   (the broker function's execution role)
      aws iam list-role-tags --role-name <get-function-configuration: Role's name>

Options:
  --out DIR                  output folder (created; files of the same names replaced)
  --instance-arn ARN         the IAM Identity Center instance (aws sso-admin list-instances)
  --permission-set N=DOC     a mapped permission set and its session document, as the
                             policy file's [[permission_set]] name and document (repeat)
  --account ID               a member account in scope (repeat)
  --region REGION            a region sessions run in (repeat)
  --starter-role NAME        the session-starter role of each account, as the policy's
                             [broker] role_names (repeat; default sessiontrail-session-starter)
  --default-document NAME    the default session document (default SSM-SessionManagerRunShell)
  --broker-function NAME     the broker function's name or ARN
  --sso-profile P            profile for the sso-admin and managed-policy calls (the
                             management or delegated administrator account)
  --sso-region R             Identity Center's region
  --account-profile FMT      profile of each member account: a printf format with %s for
                             the account id (e.g. 'audit-%s'); default: the current
                             credentials for every account
  --broker-profile P         profile of the broker's account (default: the current one)
  --broker-region R          the broker's region
  -h, --help                 this text

Example:
  scripts/posture-snapshot.sh --out snapshot/ \
      --instance-arn arn:aws:sso:::instance/ssoins-0123456789abcdef \
      --permission-set Admin=SSMRunAs-Admin-Session --permission-set Developer=SSMRunAs-Developer-Session \
      --account 111122223333 --account 444455556666 --region eu-west-1 --region us-east-1 \
      --account-profile 'audit-%s' --sso-profile management --sso-region eu-west-1 \
      --broker-function sessiontrail-broker --broker-profile audit-111122223333 --broker-region eu-west-1
  sessiontrail posture --policy sessiontrail.toml --snapshot snapshot/

Read-only. Needs sso:DescribeInstanceAccessControlAttributeConfiguration,
sso:ListPermissionSets, sso:DescribePermissionSet, sso:GetInlinePolicyForPermissionSet,
sso:ListManagedPoliciesInPermissionSet, sso:ListCustomerManagedPolicyReferencesInPermissionSet,
iam:GetPolicy, iam:GetPolicyVersion, iam:ListRoleTags, ssm:GetDocument,
lambda:GetFunctionConfiguration, lambda:GetFunctionUrlConfig. Uses the AWS CLI with its
usual configuration (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL...).
EOF
}

out="" instance_arn="" broker_function="" default_document="SSM-SessionManagerRunShell"
sso_profile="" sso_region="" account_profile="" broker_profile="" broker_region=""
permission_sets=() accounts=() regions=() starter_roles=()
while [ $# -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --out) out="${2:?--out needs a value}"; shift 2 ;;
        --instance-arn) instance_arn="${2:?--instance-arn needs a value}"; shift 2 ;;
        --permission-set) permission_sets+=("${2:?--permission-set needs NAME=DOCUMENT}"); shift 2 ;;
        --account) accounts+=("${2:?--account needs a value}"); shift 2 ;;
        --region) regions+=("${2:?--region needs a value}"); shift 2 ;;
        --starter-role) starter_roles+=("${2:?--starter-role needs a value}"); shift 2 ;;
        --default-document) default_document="${2:?--default-document needs a value}"; shift 2 ;;
        --broker-function) broker_function="${2:?--broker-function needs a value}"; shift 2 ;;
        --sso-profile) sso_profile="${2:?--sso-profile needs a value}"; shift 2 ;;
        --sso-region) sso_region="${2:?--sso-region needs a value}"; shift 2 ;;
        --account-profile) account_profile="${2:?--account-profile needs a value}"; shift 2 ;;
        --broker-profile) broker_profile="${2:?--broker-profile needs a value}"; shift 2 ;;
        --broker-region) broker_region="${2:?--broker-region needs a value}"; shift 2 ;;
        *) echo "posture-snapshot.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
missing=""
[ -n "$out" ] || missing="$missing --out"
[ -n "$instance_arn" ] || missing="$missing --instance-arn"
[ -n "$broker_function" ] || missing="$missing --broker-function"
[ ${#permission_sets[@]} -gt 0 ] || missing="$missing --permission-set"
[ ${#accounts[@]} -gt 0 ] || missing="$missing --account"
[ ${#regions[@]} -gt 0 ] || missing="$missing --region"
if [ -n "$missing" ]; then
    echo "posture-snapshot.sh: missing$missing (see --help)" >&2
    exit 2
fi
[ ${#starter_roles[@]} -gt 0 ] || starter_roles=(sessiontrail-session-starter)
command -v aws >/dev/null || { echo "posture-snapshot.sh: the AWS CLI (aws) is not installed" >&2; exit 1; }

# Global options of each group of calls.
sso_opts=()
[ -z "$sso_profile" ] || sso_opts+=(--profile "$sso_profile")
[ -z "$sso_region" ] || sso_opts+=(--region "$sso_region")
broker_opts=()
[ -z "$broker_profile" ] || broker_opts+=(--profile "$broker_profile")
[ -z "$broker_region" ] || broker_opts+=(--region "$broker_region")
account_opts() {
    account_args=()
    if [ -n "$account_profile" ]; then
        # shellcheck disable=SC2059 # the format is the user's, with %s for the account
        account_args+=(--profile "$(printf "$account_profile" "$1")")
    fi
}

saved=0 failed=0
# save FILE.json aws ARGS...: the command's JSON output in FILE.json, or its standard error
# in FILE.error when it fails (the other of the two removed).
save() {
    local file="$1" error
    shift
    error="${file%.json}.error"
    mkdir -p "$(dirname "$file")"
    if "$@" --output json >"$file.tmp" 2>"$error.tmp"; then
        mv "$file.tmp" "$file"
        rm -f "$error.tmp" "$error"
        saved=$((saved + 1))
    else
        mv "$error.tmp" "$error"
        rm -f "$file.tmp" "$file"
        failed=$((failed + 1))
        echo "posture-snapshot.sh: $* failed: $(tr '\n' ' ' <"$error")" >&2
    fi
}

mkdir -p "$out"

# IAM Identity Center (management or delegated administrator account).
save "$out/sso-admin-describe-instance-access-control-attribute-configuration.json" \
    aws "${sso_opts[@]}" sso-admin describe-instance-access-control-attribute-configuration \
    --instance-arn "$instance_arn"

declare -A permission_set_arn=()
for arn in $(aws "${sso_opts[@]}" sso-admin list-permission-sets --instance-arn "$instance_arn" \
    --query 'PermissionSets[]' --output text); do
    name="$(aws "${sso_opts[@]}" sso-admin describe-permission-set --instance-arn "$instance_arn" \
        --permission-set-arn "$arn" --query 'PermissionSet.Name' --output text)"
    permission_set_arn["$name"]="$arn"
done

documents=("$default_document")
for entry in "${permission_sets[@]}"; do
    name="${entry%%=*}" document="${entry#*=}"
    if [ "$name" = "$entry" ] || [ -z "$name" ] || [ -z "$document" ]; then
        echo "posture-snapshot.sh: --permission-set $entry is not NAME=DOCUMENT" >&2
        exit 2
    fi
    documents+=("$document")
    arn="${permission_set_arn[$name]:-}"
    if [ -z "$arn" ]; then
        # Nothing saved: posture reports the permission set's checks as not made.
        echo "posture-snapshot.sh: permission set $name is not in $instance_arn" >&2
        failed=$((failed + 1))
        continue
    fi
    dir="$out/permission-sets/$name"
    save "$dir/sso-admin-get-inline-policy-for-permission-set.json" \
        aws "${sso_opts[@]}" sso-admin get-inline-policy-for-permission-set \
        --instance-arn "$instance_arn" --permission-set-arn "$arn"
    save "$dir/sso-admin-list-managed-policies-in-permission-set.json" \
        aws "${sso_opts[@]}" sso-admin list-managed-policies-in-permission-set \
        --instance-arn "$instance_arn" --permission-set-arn "$arn"
    save "$dir/sso-admin-list-customer-managed-policy-references-in-permission-set.json" \
        aws "${sso_opts[@]}" sso-admin list-customer-managed-policy-references-in-permission-set \
        --instance-arn "$instance_arn" --permission-set-arn "$arn"
    if [ -f "$dir/sso-admin-list-managed-policies-in-permission-set.json" ]; then
        while read -r policy_name policy_arn; do
            [ -n "$policy_arn" ] || continue
            version_file="$dir/iam-get-policy-version-$policy_name.json"
            # get-policy's error, if any, stands for the version's (posture reads .error).
            if ! version="$(aws "${sso_opts[@]}" iam get-policy --policy-arn "$policy_arn" \
                --query 'Policy.DefaultVersionId' --output text 2>"${version_file%.json}.error")" ||
                [ -z "$version" ]; then
                rm -f "$version_file"
                echo "posture-snapshot.sh: no default version of $policy_arn: $(tr '\n' ' ' <"${version_file%.json}.error")" >&2
                failed=$((failed + 1))
                continue
            fi
            save "$version_file" \
                aws "${sso_opts[@]}" iam get-policy-version --policy-arn "$policy_arn" --version-id "$version"
        done < <(aws "${sso_opts[@]}" sso-admin list-managed-policies-in-permission-set \
            --instance-arn "$instance_arn" --permission-set-arn "$arn" \
            --query 'AttachedManagedPolicies[].[Name,Arn]' --output text)
    fi
done

# Each member account: its starter roles' tags, and each region's documents.
for account in "${accounts[@]}"; do
    account_opts "$account"
    for role in "${starter_roles[@]}"; do
        save "$out/accounts/$account/iam-list-role-tags-$role.json" \
            aws "${account_args[@]}" iam list-role-tags --role-name "$role"
    done
    for region in "${regions[@]}"; do
        for document in "${documents[@]}"; do
            save "$out/accounts/$account/$region/ssm-get-document-$document.json" \
                aws "${account_args[@]}" --region "$region" ssm get-document \
                --name "$document" --document-format JSON
        done
    done
done

# The broker.
save "$out/broker/lambda-get-function-configuration.json" \
    aws "${broker_opts[@]}" lambda get-function-configuration --function-name "$broker_function"
save "$out/broker/lambda-get-function-url-config.json" \
    aws "${broker_opts[@]}" lambda get-function-url-config --function-name "$broker_function"
if [ -f "$out/broker/lambda-get-function-configuration.json" ]; then
    role_arn="$(aws "${broker_opts[@]}" lambda get-function-configuration \
        --function-name "$broker_function" --query Role --output text)"
    save "$out/broker/iam-list-role-tags.json" \
        aws "${broker_opts[@]}" iam list-role-tags --role-name "${role_arn##*/}"
fi

echo "posture-snapshot.sh: $saved outputs saved, $failed commands failed (their .error files say why) in $out" >&2
