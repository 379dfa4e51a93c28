#!/usr/bin/env python3
"""A loopback stand-in for the AWS calls around sessiontrail's session broker.

It plays, on one port, what moto 5.2.1 lacks for the broker's path:

- STS ``AssumeRole`` (awsQuery protocol, XML answers). moto implements AssumeRole but
  drops ``SourceIdentity`` (moto/sts/models.py keeps no such field), and the CloudTrail
  records below must carry it, so the stand-in issues the credentials itself.
- SSM ``StartSession``, ``ResumeSession`` and ``TerminateSession`` (JSON 1.1), which
  moto does not implement.
- A Lambda function URL with ``AuthType: AWS_IAM``: the SigV4-signed request becomes the
  function URL event (payload format 2.0, ``requestContext.authorizer.iam`` from the
  verified signer), sent to a Lambda Runtime API emulator's Invoke endpoint
  (cargo-lambda's), and the function's answer becomes the HTTP answer.

Every request is routed by its SigV4 credential scope's service and checked as AWS
would: the signature recomputed with the signer's secret (canonical request over the
signed headers, the body's SHA-256, the date within 5 minutes), the session token, the
request parsed by its protocol and validated against botocore's service model (unknown
parameters, types, lengths, patterns), IAM decisions from the configuration (who may
assume the session-starter role, which documents a caller may start, who may invoke the
URL). A request that fails validation is answered as AWS does (``ValidationException``,
``ValidationError``) *and* recorded as a violation: the broker must never send one.

Each call AWS logs is kept as the CloudTrail record AWS writes for it (shaped like the
real records in ../shared/corpus/real: ``userIdentity.sessionContext.sourceIdentity``,
the hidden ``tokenValue``, ``errorCode``/``errorMessage`` on failure), and
``POST /_standin/flush`` writes the records not yet delivered as CloudTrail log files
(``AWSLogs/ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/ACCOUNT_CloudTrail_REGION_..._X.json.gz``).

Control endpoints (no signature): ``GET /_standin/health``, ``GET /_standin/stats``
(requests per operation, violations, server-side milliseconds per call),
``POST /_standin/flush``, ``POST /_standin/throttle?op=StartSession&n=2`` (the next n
calls of op answer ThrottlingException).

Usage: ``aws_standin.py --config CONFIG.json`` prints ``listening http://127.0.0.1:PORT``
once it listens on a free loopback port. The configuration's keys are described in
``load_config``. Standard library and botocore only.
"""

import argparse
import datetime
import gzip
import hashlib
import hmac
import json
import os
import random
import string
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

import botocore.exceptions
import botocore.session
import botocore.validate

BOTOCORE = botocore.session.get_session()
MODELS = {name: BOTOCORE.get_service_model(name) for name in ("ssm", "sts")}
VALIDATOR = botocore.validate.ParamValidator()

HIDDEN = "Value hidden due to security reasons."
MAX_SKEW = datetime.timedelta(minutes=5)
LOCK = threading.Lock()


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def rand(chars, n):
    return "".join(random.choice(chars) for _ in range(n))


def load_config(path):
    """The configuration, a JSON object:

    - ``trail_out``: folder the CloudTrail log files are written to.
    - ``principals``: the credentials the stand-in knows, each ``{access_key_id,
      secret_access_key, session_token?, arn, principal_id, account_id, type
      ("AssumedRole" | "IAMUser"), issuer_arn? (the role of an assumed role),
      org_id?, invoke_url: bool (the URL admits it: its permission set may
      lambda:InvokeFunctionUrl), documents: [names] | null (StartSession allowed only
      with these, null: any; with ssm:SessionDocumentAccessCheck, no document is
      SSM-SessionManagerRunShell)}``.
    - ``roles``: roles that may be assumed, each ``{arn, role_id, trusts: [role ARNs of
      callers], documents: [names]}`` (the session-starter role of the StackSet).
    - ``instances``: ``{id: {"connected": bool}}``; other targets are not connected.
    - ``function``: ``{invoke_url, account_id, region, org_id}``: where the URL's
      events go and whose organisation it admits.
    - ``throttle``: ``{operation: n}``: answer the next n calls of it with
      ThrottlingException.
    """
    with open(path, encoding="utf-8") as f:
        config = json.load(f)
    config.setdefault("roles", [])
    config.setdefault("instances", {})
    config.setdefault("throttle", {})
    return config


class State:
    def __init__(self, config):
        self.config = config
        self.keys = {p["access_key_id"]: dict(p) for p in config["principals"]}
        self.sessions = {}
        self.records = []
        self.delivered = 0
        self.violations = []
        self.counts = {}
        self.server_ms = {}
        self.files = []


# ---------------------------------------------------------------------------------------
# SigV4, checked the way AWS checks it.


def sigv4_key(secret, date, region, service):
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def canonical_uri(path):
    # Non-S3 services: each segment URI-encoded twice; "/" stays "/".
    segments = path.split("/")
    return "/".join(
        urllib.parse.quote(urllib.parse.quote(s, safe="-_.~"), safe="-_.~") for s in segments
    ) or "/"


def canonical_query(query):
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    enc = lambda s: urllib.parse.quote(s, safe="-_.~")
    return "&".join(f"{enc(k)}={enc(v)}" for k, v in sorted(pairs))


class AuthError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def verify_signature(state, method, path, query, headers, body):
    """Returns (principal, service, region) or raises AuthError."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        raise AuthError("MissingAuthenticationToken", "Missing Authentication Token")
    fields = {}
    for part in auth[len("AWS4-HMAC-SHA256 "):].split(","):
        k, _, v = part.strip().partition("=")
        fields[k] = v
    try:
        akid, date, region, service, terminal = fields["Credential"].split("/")
        signed = fields["SignedHeaders"].split(";")
        signature = fields["Signature"]
    except (KeyError, ValueError):
        raise AuthError("IncompleteSignature", "The Authorization header is malformed")
    if terminal != "aws4_request":
        raise AuthError("IncompleteSignature", "Credential scope must end in aws4_request")
    principal = state.keys.get(akid)
    if principal is None:
        raise AuthError(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    if "host" not in signed:
        raise AuthError("IncompleteSignature", "host must be signed")
    amz_date = headers.get("x-amz-date", "")
    try:
        when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(
            tzinfo=datetime.timezone.utc
        )
    except ValueError:
        raise AuthError("IncompleteSignature", "x-amz-date is missing or malformed")
    if abs(now() - when) > MAX_SKEW or amz_date[:8] != date:
        raise AuthError("InvalidSignatureException", "Signature expired")
    token = principal.get("session_token")
    if token is not None:
        if headers.get("x-amz-security-token") != token:
            raise AuthError(
                "UnrecognizedClientException",
                "The security token included in the request is invalid.",
            )
        if "x-amz-security-token" not in signed and service != "sts":
            # AWS accepts an unsigned token header for some services; the SDKs sign it.
            pass
    payload = headers.get("x-amz-content-sha256") or hashlib.sha256(body).hexdigest()
    if payload != hashlib.sha256(body).hexdigest():
        raise AuthError("InvalidSignatureException", "x-amz-content-sha256 is not the body's hash")
    canonical_headers = "".join(
        f"{h}:{' '.join(headers.get(h, '').split())}\n" for h in signed
    )
    canonical = "\n".join(
        [
            method,
            canonical_uri(path),
            canonical_query(query),
            canonical_headers,
            ";".join(signed),
            payload,
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    expected = hmac.new(
        sigv4_key(principal["secret_access_key"], date, region, service),
        to_sign.encode(),
        hashlib.sha256,
    ).hexdigest()
    if not hmac.compare_digest(expected, signature):
        raise AuthError(
            "InvalidSignatureException",
            "The request signature we calculated does not match the signature you provided.",
        )
    return principal, service, region


# ---------------------------------------------------------------------------------------
# Parsing by protocol and validation against botocore's model.


def query_params(shape, flat):
    """awsQuery form fields (`Tags.member.1.Key=...`) as the input structure."""
    out = {}
    for key, value in flat.items():
        parts = key.split(".")
        if parts[0] not in shape.members:
            raise ValueError(f"Unknown parameter {key}")
        set_query(out, shape.members[parts[0]], parts[0], parts[1:], value)
    return out


def set_query(container, shape, name, rest, value):
    t = shape.type_name
    if t == "structure":
        inner = container.setdefault(name, {})
        if not rest or rest[0] not in shape.members:
            raise ValueError(f"Unknown member {'.'.join(rest)} of {name}")
        set_query(inner, shape.members[rest[0]], rest[0], rest[1:], value)
    elif t == "list":
        if len(rest) < 2 or rest[0] != "member" or not rest[1].isdigit():
            raise ValueError(f"{name} is a list: {name}.member.N")
        items = container.setdefault(name, {})
        index = int(rest[1])
        if shape.member.type_name == "structure":
            holder = items.setdefault(index, {})
            if len(rest) < 3 or rest[2] not in shape.member.members:
                raise ValueError(f"Unknown member of {name}")
            set_query(holder, shape.member.members[rest[2]], rest[2], rest[3:], value)
        else:
            items[index] = scalar(shape.member, value)
    else:
        if rest:
            raise ValueError(f"{name} is a scalar")
        container[name] = scalar(shape, value)


def scalar(shape, value):
    if shape.type_name in ("integer", "long"):
        return int(value)
    if shape.type_name == "boolean":
        return value == "true"
    return value


def lists_in_order(value):
    """Turns the {index: item} dicts of query lists into lists, in index order."""
    if isinstance(value, dict):
        if value and all(isinstance(k, int) for k in value):
            return [lists_in_order(value[k]) for k in sorted(value)]
        return {k: lists_in_order(v) for k, v in value.items()}
    return value


def validate(state, service, operation, params):
    shape = MODELS[service].operation_model(operation).input_shape
    try:
        VALIDATOR_REPORT = VALIDATOR.validate(params, shape)
    except Exception as error:  # a validator crash is a violation too
        return str(error)
    if VALIDATOR_REPORT.has_errors():
        return VALIDATOR_REPORT.generate_report()
    return None


def check_output(service, operation, answer):
    shape = MODELS[service].operation_model(operation).output_shape
    report = VALIDATOR.validate(answer, shape)
    if report.has_errors():
        raise AssertionError(f"the stand-in's own {operation} answer: {report.generate_report()}")


# ---------------------------------------------------------------------------------------
# CloudTrail records.


def user_identity(principal):
    identity = {
        "type": principal.get("type", "AssumedRole"),
        "principalId": principal["principal_id"],
        "arn": principal["arn"],
        "accountId": principal["account_id"],
        "accessKeyId": principal["access_key_id"],
    }
    if identity["type"] == "IAMUser":
        identity["userName"] = principal["arn"].rsplit("/", 1)[-1]
        return identity
    issuer = principal["issuer_arn"]
    context = {
        "sessionIssuer": {
            "type": "Role",
            "principalId": principal["principal_id"].split(":")[0],
            "arn": issuer,
            "accountId": principal["account_id"],
            "userName": issuer.rsplit("/", 1)[-1],
        },
        "attributes": {
            "creationDate": principal.get("created", iso(now())),
            "mfaAuthenticated": "false",
        },
    }
    if principal.get("source_identity"):
        context["sourceIdentity"] = principal["source_identity"]
    identity["sessionContext"] = context
    if principal.get("identity_store_user_id"):
        identity["onBehalfOf"] = {
            "userId": principal["identity_store_user_id"],
            "identityStoreArn": principal["identity_store_arn"],
        }
    return identity


def record(state, principal, source, name, region, host, request_id, params, response,
           error=None, recipient=None, source_ip="127.0.0.1", user_agent="", extra=None):
    rec = {
        "eventVersion": "1.11",
        "userIdentity": user_identity(principal),
        "eventTime": iso(now()),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": source_ip,
        "userAgent": user_agent,
    }
    if error:
        rec["errorCode"], rec["errorMessage"] = error
    rec["requestParameters"] = params
    rec["responseElements"] = response
    rec["requestID"] = request_id
    rec["eventID"] = str(uuid.uuid4())
    rec["readOnly"] = False
    if extra:
        rec.update(extra)
    rec["eventType"] = "AwsApiCall"
    rec["managementEvent"] = True
    rec["recipientAccountId"] = recipient or principal["account_id"]
    rec["eventCategory"] = "Management"
    rec["tlsDetails"] = {
        "tlsVersion": "TLSv1.3",
        "cipherSuite": "TLS_AES_128_GCM_SHA256",
        "clientProvidedHostHeader": host,
    }
    with LOCK:
        state.records.append(rec)


def flush(state):
    """Writes the records not yet delivered, one log file per account, region and minute."""
    with LOCK:
        pending = state.records[state.delivered:]
        state.delivered = len(state.records)
    groups = {}
    for rec in pending:
        key = (rec["recipientAccountId"], rec["awsRegion"], rec["eventTime"][:16])
        groups.setdefault(key, []).append(rec)
    written = []
    for (account, region, minute), records in sorted(groups.items()):
        t = datetime.datetime.strptime(minute, "%Y-%m-%dT%H:%M")
        folder = os.path.join(
            state.config["trail_out"], "AWSLogs", account, "CloudTrail", region,
            t.strftime("%Y"), t.strftime("%m"), t.strftime("%d"),
        )
        os.makedirs(folder, exist_ok=True)
        name = (
            f"{account}_CloudTrail_{region}_{t.strftime('%Y%m%dT%H%MZ')}_"
            f"{rand(string.ascii_letters + string.digits, 16)}.json.gz"
        )
        path = os.path.join(folder, name)
        with gzip.open(path + ".tmp", "wt", encoding="utf-8") as f:
            json.dump({"Records": records}, f, separators=(",", ":"))
        os.replace(path + ".tmp", path)
        written.append(path)
    with LOCK:
        state.files.extend(written)
    return written


# ---------------------------------------------------------------------------------------
# The services.


def session_arn(region, account, session_id):
    return f"arn:aws:ssm:{region}:{account}:session/{session_id}"


class Answer(Exception):
    """An AWS error answer."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def take_throttle(state, operation):
    with LOCK:
        left = state.config["throttle"].get(operation, 0)
        if left > 0:
            state.config["throttle"][operation] = left - 1
            return True
    return False


def sts(state, principal, region, body, request):
    form = dict(urllib.parse.parse_qsl(body.decode(), keep_blank_values=True))
    action = form.pop("Action", None)
    version = form.pop("Version", None)
    if action != "AssumeRole" or version != MODELS["sts"].metadata["apiVersion"]:
        raise Answer(400, "InvalidAction", f"Could not find operation {action} for version {version}")
    shape = MODELS["sts"].operation_model("AssumeRole").input_shape
    try:
        params = lists_in_order(query_params(shape, form))
    except ValueError as error:
        state.violations.append(f"AssumeRole: {error}")
        raise Answer(400, "ValidationError", str(error))
    problem = validate(state, "sts", "AssumeRole", params)
    if problem:
        state.violations.append(f"AssumeRole: {problem}")
        raise Answer(400, "ValidationError", problem)
    role = next((r for r in state.config["roles"] if r["arn"] == params["RoleArn"]), None)
    caller_role = principal.get("issuer_arn") or principal["arn"]
    request_id = str(uuid.uuid4())
    host = request.headers.get("host", "sts.amazonaws.com")
    req_params = {
        "roleArn": params["RoleArn"],
        "roleSessionName": params["RoleSessionName"],
    }
    if "DurationSeconds" in params:
        req_params["durationSeconds"] = params["DurationSeconds"]
    if "SourceIdentity" in params:
        req_params["sourceIdentity"] = params["SourceIdentity"]
    if role is None or caller_role not in role["trusts"]:
        message = (
            f"User: {principal['arn']} is not authorized to perform: sts:AssumeRole on "
            f"resource: {params['RoleArn']}"
        )
        record(state, principal, "sts.amazonaws.com", "AssumeRole", region, host, request_id,
               req_params, None, ("AccessDenied", message),
               user_agent=request.headers.get("user-agent", ""))
        raise Answer(403, "AccessDenied", message)
    duration = params.get("DurationSeconds", 3600)
    if not 900 <= duration <= 43200:
        raise Answer(400, "ValidationError", "DurationSeconds must be 900 to 43200")
    account = role["arn"].split(":")[4]
    akid = "ASIA" + rand(string.ascii_uppercase + "234567", 16)
    secret = rand(string.ascii_letters + string.digits + "+/", 40)
    token = "IQoJb3JpZ2luX2Vj" + rand(string.ascii_letters + string.digits + "+/", 300)
    expiration = now() + datetime.timedelta(seconds=duration)
    session_name = params["RoleSessionName"]
    role_name = role["arn"].rsplit("/", 1)[-1]
    assumed_arn = f"arn:aws:sts::{account}:assumed-role/{role_name}/{session_name}"
    assumed = {
        "access_key_id": akid,
        "secret_access_key": secret,
        "session_token": token,
        "arn": assumed_arn,
        "principal_id": f"{role['role_id']}:{session_name}",
        "account_id": account,
        "type": "AssumedRole",
        "issuer_arn": role["arn"],
        "documents": role.get("documents"),
        "created": iso(now()),
        "source_identity": params.get("SourceIdentity") or principal.get("source_identity"),
        "invoke_url": False,
    }
    with LOCK:
        state.keys[akid] = assumed
    response = {
        "credentials": {"accessKeyId": akid, "sessionToken": token,
                        "expiration": expiration.strftime("%b %d, %Y, %I:%M:%S %p")},
        "assumedRoleUser": {"assumedRoleId": assumed["principal_id"], "arn": assumed_arn},
    }
    if assumed["source_identity"]:
        response["sourceIdentity"] = assumed["source_identity"]
    extra = {"resources": [{"accountId": account, "type": "AWS::IAM::Role", "ARN": role["arn"]}]}
    if account != principal["account_id"]:
        extra["sharedEventID"] = str(uuid.uuid4())
    record(state, principal, "sts.amazonaws.com", "AssumeRole", region, host, request_id,
           req_params, response, recipient=account,
           user_agent=request.headers.get("user-agent", ""), extra=extra)
    source = (
        f"<SourceIdentity>{escape(assumed['source_identity'])}</SourceIdentity>"
        if assumed["source_identity"] else ""
    )
    xml = (
        '<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
        f"<AssumeRoleResult>{source}<AssumedRoleUser>"
        f"<AssumedRoleId>{escape(assumed['principal_id'])}</AssumedRoleId>"
        f"<Arn>{escape(assumed_arn)}</Arn></AssumedRoleUser>"
        f"<Credentials><AccessKeyId>{akid}</AccessKeyId>"
        f"<SecretAccessKey>{escape(secret)}</SecretAccessKey>"
        f"<SessionToken>{escape(token)}</SessionToken>"
        f"<Expiration>{iso(expiration)}</Expiration></Credentials>"
        "<PackedPolicySize>0</PackedPolicySize></AssumeRoleResult>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        "</AssumeRoleResponse>"
    )
    return 200, "text/xml", xml.encode(), request_id


def ssm(state, principal, region, body, request):
    target = request.headers.get("x-amz-target", "")
    prefix, _, operation = target.partition(".")
    if prefix != MODELS["ssm"].metadata["targetPrefix"] or operation not in (
        "StartSession", "ResumeSession", "TerminateSession"
    ):
        raise Answer(400, "UnknownOperationException", f"the stand-in does not serve {target}")
    if request.headers.get("content-type", "").split(";")[0] != "application/x-amz-json-1.1":
        state.violations.append(f"{operation}: content-type {request.headers.get('content-type')}")
        raise Answer(400, "SerializationException", "expected application/x-amz-json-1.1")
    try:
        params = json.loads(body or b"{}")
    except ValueError as error:
        state.violations.append(f"{operation}: body is not JSON: {error}")
        raise Answer(400, "SerializationException", str(error))
    problem = validate(state, "ssm", operation, params)
    if problem:
        state.violations.append(f"{operation}: {problem}")
        raise Answer(400, "ValidationException", problem)
    request_id = str(uuid.uuid4())
    host = request.headers.get("host", f"ssm.{region}.amazonaws.com")
    agent = request.headers.get("user-agent", "")
    account = principal["account_id"]
    if take_throttle(state, operation):
        raise Answer(400, "ThrottlingException", "Rate exceeded")

    def fail(status, code, message, req_params, trail_code=None):
        record(state, principal, "ssm.amazonaws.com", operation, region, host, request_id,
               req_params, None, (trail_code or code, message), user_agent=agent)
        raise Answer(status, code, message)

    if operation == "StartSession":
        document = params.get("DocumentName")
        req_params = {
            "target": params["Target"],
            "documentName": document,
            "parameters": params.get("Parameters"),
        }
        if "Reason" in params:
            req_params["reason"] = params["Reason"]
        allowed = principal.get("documents")
        effective = document or "SSM-SessionManagerRunShell"
        if allowed is not None and effective not in allowed:
            message = (
                f"User: {principal['arn']} is not authorized to perform: ssm:StartSession on "
                f"resource: arn:aws:ssm:{region}:{account}:document/{effective} because no "
                "identity-based policy allows the ssm:StartSession action"
            )
            # On the wire AccessDeniedException; CloudTrail's errorCode is unverified
            # (../shared/aws-formats.md): AccessDenied here.
            fail(400, "AccessDeniedException", message, req_params, "AccessDenied")
        instance = state.config["instances"].get(params["Target"])
        if not instance or not instance.get("connected", True):
            fail(400, "TargetNotConnected", f"{params['Target']} is not connected.", req_params)
        name = principal["arn"].rsplit("/", 1)[-1]
        session_id = f"{name}-{rand(string.ascii_lowercase + string.digits, 26)}"
        token = "AAEAA" + rand(string.ascii_letters + string.digits + "+/", 400)
        answer = {
            "SessionId": session_id,
            "TokenValue": token,
            "StreamUrl": (
                f"wss://ssmmessages.{region}.amazonaws.com/v1/data-channel/{session_id}"
                f"?role=publish_subscribe&cell-number={rand(string.ascii_letters + string.digits, 40)}"
            ),
        }
        with LOCK:
            state.sessions[session_id] = {
                "owner": principal["arn"], "account": account, "region": region,
                "target": params["Target"], "document": effective, "open": True,
            }
        response = {"sessionId": session_id, "tokenValue": HIDDEN, "streamUrl": answer["StreamUrl"]}
    else:
        session_id = params["SessionId"]
        req_params = {"sessionId": session_id}
        session = state.sessions.get(session_id)
        if operation == "ResumeSession":
            if session is None or not session["open"]:
                fail(400, "DoesNotExistException", f"Session {session_id} does not exist", req_params)
            answer = {
                "SessionId": session_id,
                "TokenValue": "AAEAA" + rand(string.ascii_letters + string.digits + "+/", 400),
                "StreamUrl": f"wss://ssmmessages.{region}.amazonaws.com/v1/data-channel/{session_id}"
                f"?role=publish_subscribe&cell-number={rand(string.ascii_letters + string.digits, 40)}",
            }
            response = {"sessionId": session_id, "tokenValue": HIDDEN, "streamUrl": answer["StreamUrl"]}
        else:
            if session is not None:
                with LOCK:
                    session["open"] = False
            answer = {"SessionId": session_id}
            response = {"sessionId": session_id}
    check_output("ssm", operation, answer)
    record(state, principal, "ssm.amazonaws.com", operation, region, host, request_id,
           req_params, response, user_agent=agent)
    return 200, "application/x-amz-json-1.1", json.dumps(answer).encode(), request_id


def function_url(state, principal, region, body, request):
    function = state.config["function"]
    if not principal.get("invoke_url") or principal.get("org_id") != function.get("org_id"):
        raise Answer(403, "AccessDeniedException", "Forbidden")
    parsed = urllib.parse.urlsplit(request.path)
    t = now()
    request_id = str(uuid.uuid4())
    headers = {}
    for name, value in request.headers.items():
        name = name.lower()
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    try:
        text = body.decode("utf-8")
        encoded = False
    except UnicodeDecodeError:
        import base64

        text = base64.b64encode(body).decode()
        encoded = True
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": parsed.path or "/",
        "rawQueryString": parsed.query,
        "headers": headers,
        "requestContext": {
            "accountId": function["account_id"],
            "apiId": function.get("url_id", "standin"),
            "authorizer": {
                "iam": {
                    "accessKey": principal["access_key_id"],
                    "accountId": principal["account_id"],
                    "callerId": principal["principal_id"],
                    "cognitoIdentity": None,
                    "principalOrgId": principal.get("org_id"),
                    "userArn": principal["arn"],
                    "userId": principal["principal_id"],
                }
            },
            "domainName": request.headers.get("host", ""),
            "domainPrefix": function.get("url_id", "standin"),
            "http": {
                "method": request.command,
                "path": parsed.path or "/",
                "protocol": request.request_version,
                "sourceIp": request.client_address[0],
                "userAgent": request.headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": "$default",
            "stage": "$default",
            "time": t.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(t.timestamp() * 1000),
        },
        "body": text,
        "isBase64Encoded": encoded,
    }
    invoke = urllib.request.Request(
        function["invoke_url"], data=json.dumps(event).encode(), method="POST",
        headers={"content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(invoke, timeout=60) as answer:
            payload = json.loads(answer.read() or b"null")
            function_error = answer.headers.get("X-Amz-Function-Error")
    except (urllib.error.URLError, ValueError) as error:
        raise Answer(502, "ServiceException", f"the function could not be invoked: {error}")
    if function_error or not isinstance(payload, dict) or "statusCode" not in payload:
        raise Answer(502, "ServiceException", "Internal Server Error")
    out = payload.get("body") or ""
    if payload.get("isBase64Encoded"):
        import base64

        out_bytes = base64.b64decode(out)
    else:
        out_bytes = out.encode()
    content_type = (payload.get("headers") or {}).get("content-type", "application/json")
    return int(payload["statusCode"]), content_type, out_bytes, request_id


SERVICES = {"sts": sts, "ssm": ssm, "lambda": function_url}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, *args):
        pass

    def send(self, status, content_type, body, request_id, extra=None):
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.send_header("x-amzn-RequestId", request_id)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        state = self.state
        if self.path == "/_standin/health":
            return self.send(200, "application/json", b"{}", "-")
        if self.path == "/_standin/stats":
            with LOCK:
                body = json.dumps({
                    "counts": state.counts,
                    "violations": state.violations,
                    "server_ms": state.server_ms,
                    "records": len(state.records),
                    "files": state.files,
                    "sessions": state.sessions,
                }).encode()
            return self.send(200, "application/json", body, "-")
        # Anything else is a signed request (a function URL takes every method).
        self.do_POST()

    def do_PUT(self):
        self.do_POST()

    def do_DELETE(self):
        self.do_POST()

    def do_POST(self):
        state = self.state
        started = time.perf_counter()
        length = int(self.headers.get("content-length") or 0)
        if length > 6 * 1024 * 1024:
            return self.send(413, "application/json", b'{"message":"Request Entity Too Large"}', "-")
        body = self.rfile.read(length)
        if self.path.startswith("/_standin/throttle?"):
            query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            with LOCK:
                state.config["throttle"][query["op"]] = int(query["n"])
            return self.send(200, "application/json", b"{}", "-")
        if self.path == "/_standin/flush":
            written = flush(state)
            return self.send(200, "application/json", json.dumps(written).encode(), "-")
        headers = {k.lower(): v for k, v in self.headers.items()}
        split = urllib.parse.urlsplit(self.path)
        # The service the signer named, for the error's format (before it is verified).
        scope = headers.get("authorization", "").partition("Credential=")[2].split(",")[0]
        service = (scope.split("/") + [""] * 5)[3] or "unknown"
        try:
            principal, service, region = verify_signature(
                state, self.command, split.path, split.query, headers, body
            )
            handler = SERVICES.get(service)
            if handler is None:
                raise Answer(400, "UnknownService", f"the stand-in does not serve {service}")
            status, content_type, out, request_id = handler(state, principal, region, body, self)
            self.send(status, content_type, out, request_id)
        except AuthError as error:
            code = error.code
            if service == "sts":
                # STS (awsQuery) names these differently from the JSON services.
                code = {
                    "InvalidSignatureException": "SignatureDoesNotMatch",
                    "UnrecognizedClientException": "InvalidClientTokenId",
                }.get(code, code)
            self.error(service, 403 if service != "ssm" else 400, code, error.message)
        except Answer as error:
            self.error(service, error.status, error.code, error.message)
        except Exception as error:  # the stand-in's own bug: loud, never a silent pass
            with LOCK:
                state.violations.append(f"stand-in error: {type(error).__name__}: {error}")
            self.error(service, 500, "InternalFailure", str(error))
        finally:
            op = headers.get("x-amz-target", "").partition(".")[2] or service
            ms = (time.perf_counter() - started) * 1000
            with LOCK:
                state.counts[op] = state.counts.get(op, 0) + 1
                state.server_ms.setdefault(op, []).append(round(ms, 3))

    def error(self, service, status, code, message):
        request_id = str(uuid.uuid4())
        if service == "sts":
            body = (
                '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">'
                f"<Error><Type>Sender</Type><Code>{escape(code)}</Code>"
                f"<Message>{escape(message)}</Message></Error>"
                f"<RequestId>{request_id}</RequestId></ErrorResponse>"
            ).encode()
            return self.send(status, "text/xml", body, request_id)
        if service == "lambda":
            body = json.dumps({"Message": message}).encode()
            return self.send(status, "application/json", body, request_id,
                             {"x-amzn-ErrorType": code})
        body = json.dumps({"__type": code, "message": message}).encode()
        self.send(status, "application/x-amz-json-1.1", body, request_id)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    state = State(load_config(args.config))
    Handler.state = state
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"listening http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
