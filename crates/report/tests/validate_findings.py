#!/usr/bin/env python3
"""Validates `sessiontrail findings --format asff|ocsf` output against the published models.

    python3 validate_findings.py asff < batches.jsonl
    python3 validate_findings.py ocsf < events.jsonl

asff: every line is a BatchImportFindings request body `{"Findings": [...]}`, checked
recursively against botocore's Security Hub service model (the `BatchImportFindings`
input shape, so every finding against `AwsSecurityFinding`):
  - required members, and no member the shape does not have (no unknown keys);
  - JSON types: string, integer/long (not boolean), double/float (a number), boolean,
    list, map, structure, blob (a string), timestamp (an ISO 8601 string);
  - enums, `pattern`s (e.g. NonEmptyString), `min`/`max` of lengths, list and map
    sizes and numbers, including the `Findings` list's 1..100 (one call's limit);
  - the limits the model states only in its documentation: "Length Constraints:
    Minimum length of N. Maximum length of M." (Title 256, Description 1024, Id 512...),
    "Array Members: ... Maximum number of M items." (Resources 1..32, Types 50),
    ProductFields' 50 pairs of keys <= 128 and values <= 2048 characters, the `Types`
    namespaces, and ISO 8601 for the members documented as timestamp fields
    (CreatedAt, UpdatedAt, FirstObservedAt...), which the model types as strings;
  - and botocore's own client-side validator (botocore.validate.ParamValidator, what
    boto3 runs before sending) over the same request, whose errors are reported too.

ocsf: every line is one event, checked with jsonschema (Draft 2020-12) against the JSON
Schema that the `ocsf-json-schema` package generates from the OCSF 1.1.0 schema export it
ships (schema.ocsf.io/1.1.0/export/schema), for the class of the event's `class_uid`
with the profiles the event declares in `metadata.profiles`. That schema has every
attribute's type, enum values and required flag, objects nested recursively, and
forbids attributes the class or object does not have. On top of it, the rules the JSON
Schema cannot express: `class_uid` is 2004 (Detection Finding), `category_uid` 2,
`type_uid` = class_uid * 100 + activity_id, `metadata.version` is 1.1.0, and each
enum's caption sibling (`severity` of `severity_id`, ...) matches the schema's caption
unless the id is 99 (Other).

Every violation is printed with its JSON path (`line 3: $.Findings[7].Title: ...`); the
exit status is 0 when there are none, 1 when there are, 2 on bad usage or input that
is not JSON lines, and 3 when a needed package is missing (the message starts with
`MISSING:`), so a caller can tell "cannot check here" from "invalid".
"""

from __future__ import annotations

import datetime
import json
import math
import re
import sys

OCSF_VERSION = "1.1.0"
OCSF_CLASS_UID = 2004
OCSF_CATEGORY_UID = 2
ASFF_OPERATION = "BatchImportFindings"


class Report:
    def __init__(self) -> None:
        self.violations: list[str] = []

    def add(self, line: int, path: str, message: str) -> None:
        self.violations.append(f"line {line}: {path}: {message}")


def missing(what: str) -> None:
    print(f"MISSING: {what}")
    sys.exit(3)


def json_lines(text: str) -> list[tuple[int, object]]:
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((number, json.loads(line)))
        except json.JSONDecodeError as e:
            print(f"line {number}: not JSON: {e}")
            sys.exit(2)
    return out


def json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


# ---------------------------------------------------------------------------------
# ASFF
# ---------------------------------------------------------------------------------

# ISO 8601 as Security Hub accepts it: a date, `T`, a time with optional fractional
# seconds, and `Z` or an offset.
ISO_8601 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}(:?\d{2})?)$"
)
LENGTH_DOC = re.compile(
    r"Length Constraints:\s*(?:Minimum length of (\d+)\.?)?\s*(?:Maximum length of (\d+))?"
)
ARRAY_DOC = re.compile(
    r"Array Members:\s*(?:Minimum number of (\d+) items?\.?)?\s*"
    r"(?:Maximum number of (\d+) items?)?"
)
PAIRS_DOC = re.compile(r"up to (\d+) key-value pairs")
KEY_DOC = re.compile(r"the key can contain up to (\d+) characters")
VALUE_DOC = re.compile(r"the value can contain up to (\d+) characters")
NAMESPACES_DOC = re.compile(r"Valid namespace values are:\s*(.+?)(?:</|\n|$)", re.S)


def strip_tags(doc: str) -> str:
    return re.sub(r"<[^>]+>", "", doc or "")


def documented_limits(doc: str) -> dict:
    """Limits stated in a member's documentation (the model has no metadata for them)."""
    text = strip_tags(doc)
    limits: dict = {}
    m = LENGTH_DOC.search(text)
    if m and (m.group(1) or m.group(2)):
        if m.group(1):
            limits["min_len"] = int(m.group(1))
        if m.group(2):
            limits["max_len"] = int(m.group(2))
    m = ARRAY_DOC.search(text)
    if m and (m.group(1) or m.group(2)):
        if m.group(1):
            limits["min_items"] = int(m.group(1))
        if m.group(2):
            limits["max_items"] = int(m.group(2))
    for key, pattern in (("max_pairs", PAIRS_DOC), ("max_key", KEY_DOC), ("max_value", VALUE_DOC)):
        m = pattern.search(text)
        if m:
            limits[key] = int(m.group(1))
    if "see Timestamps" in text or "formatting of timestamp fields" in text:
        limits["timestamp"] = True
    m = NAMESPACES_DOC.search(text)
    if m and "namespace/category/classifier" in text:
        names = [n.strip() for n in m.group(1).split("|")]
        # The last one runs into the next sentence ("... Identifications Array Members").
        names[-1] = names[-1].split(" Array Members")[0].strip().rstrip(".")
        limits["namespaces"] = names
    return limits


def valid_iso_8601(value: str) -> bool:
    if not ISO_8601.match(value):
        return False
    try:
        text = re.sub(r"\.(\d{1,9})", lambda m: "." + (m.group(1) + "000000")[:6], value)
        datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
        return True
    except ValueError:
        return False


class AsffValidator:
    def __init__(self, report: Report) -> None:
        self.report = report

    def check(self, line: int, value: object, shape, path: str, doc: str = "") -> None:
        limits = documented_limits(doc)
        kind = shape.type_name
        meta = shape.metadata
        if kind == "structure" and getattr(shape, "is_document_type", False):
            return  # any JSON
        expected = {
            "structure": "object",
            "map": "object",
            "list": "array",
            "string": "string",
            "blob": "string",
            "timestamp": "string",
            "boolean": "boolean",
            "integer": "integer",
            "long": "integer",
            "double": "number",
            "float": "number",
        }.get(kind)
        actual = json_type(value)
        if expected is None:
            self.report.add(line, path, f"shape {shape.name} has type {kind}, not checked")
            return
        if actual != expected and not (expected == "number" and actual == "integer"):
            self.report.add(
                line, path, f"is a JSON {actual}, the model wants {kind} ({shape.name})"
            )
            return
        if kind == "structure":
            self.structure(line, value, shape, path)
        elif kind == "list":
            self.size(line, path, len(value), meta.get("min"), meta.get("max"), "items")
            self.size(
                line, path, len(value), limits.get("min_items"), limits.get("max_items"),
                "items (documented)",
            )
            for i, item in enumerate(value):
                self.check(line, item, shape.member, f"{path}[{i}]")
            if "namespaces" in limits:
                self.finding_types(line, value, limits["namespaces"], path)
        elif kind == "map":
            self.size(line, path, len(value), meta.get("min"), meta.get("max"), "entries")
            self.size(line, path, len(value), None, limits.get("max_pairs"), "pairs (documented)")
            for key, item in value.items():
                self.check(line, key, shape.key, f"{path} key {key!r}")
                if "max_key" in limits and len(key) > limits["max_key"]:
                    self.report.add(
                        line, f"{path} key {key!r}",
                        f"key of {len(key)} characters, documented maximum {limits['max_key']}",
                    )
                item_path = f"{path}[{json.dumps(key)}]"
                self.check(line, item, shape.value, item_path)
                if (
                    "max_value" in limits
                    and isinstance(item, str)
                    and len(item) > limits["max_value"]
                ):
                    self.report.add(
                        line, item_path,
                        f"value of {len(item)} characters, documented maximum "
                        f"{limits['max_value']}",
                    )
        elif kind in ("string", "blob"):
            self.string(line, value, shape, path, limits)
        elif kind == "timestamp":
            if not valid_iso_8601(value):
                self.report.add(line, path, f"{value!r} is not an ISO 8601 timestamp")
        elif kind in ("integer", "long", "double", "float"):
            if isinstance(value, float) and not math.isfinite(value):
                self.report.add(line, path, f"{value} is not a finite number")
            if "min" in meta and value < meta["min"]:
                self.report.add(line, path, f"{value} is below the minimum {meta['min']}")
            if "max" in meta and value > meta["max"]:
                self.report.add(line, path, f"{value} is above the maximum {meta['max']}")

    def structure(self, line: int, value: dict, shape, path: str) -> None:
        for name in shape.required_members:
            if name not in value:
                self.report.add(line, path, f"required member {name} is missing ({shape.name})")
        for name, item in value.items():
            member = shape.members.get(name)
            if member is None:
                self.report.add(line, f"{path}.{name}", f"unknown member of {shape.name}")
                continue
            if item is None:
                self.report.add(line, f"{path}.{name}", "is null")
                continue
            self.check(line, item, member, f"{path}.{name}", member.documentation)

    def string(self, line: int, value: str, shape, path: str, limits: dict) -> None:
        meta = shape.metadata
        enum = meta.get("enum")
        if enum and value not in enum:
            self.report.add(line, path, f"{value!r} is not one of {shape.name} {enum}")
        if "pattern" in meta and not re.search(meta["pattern"], value):
            self.report.add(
                line, path, f"{value!r} does not match {shape.name}'s pattern {meta['pattern']!r}"
            )
        length = len(value)
        self.size(line, path, length, meta.get("min"), meta.get("max"), "characters")
        self.size(
            line, path, length, limits.get("min_len"), limits.get("max_len"),
            "characters (documented)",
        )
        if limits.get("timestamp") and not valid_iso_8601(value):
            self.report.add(line, path, f"{value!r} is not an ISO 8601 timestamp")

    def size(self, line, path, n, low, high, what) -> None:
        if low is not None and n < low:
            self.report.add(line, path, f"{n} {what}, the minimum is {low}")
        if high is not None and n > high:
            self.report.add(line, path, f"{n} {what}, the maximum is {high}")

    def finding_types(self, line, types, namespaces, path) -> None:
        for i, kind in enumerate(types):
            if not isinstance(kind, str):
                continue
            parts = kind.split("/")
            if not 2 <= len(parts) <= 3 or not all(p.strip() for p in parts):
                self.report.add(
                    line, f"{path}[{i}]", f"{kind!r} is not namespace/category[/classifier]"
                )
            elif parts[0] not in namespaces:
                self.report.add(
                    line, f"{path}[{i}]", f"namespace {parts[0]!r} is not one of {namespaces}"
                )


def validate_asff(lines, report: Report) -> int:
    try:
        import botocore
        import botocore.session
        from botocore.validate import ParamValidator
    except ImportError:
        missing("botocore (python3 -m pip install botocore)")
    model = botocore.session.get_session().get_service_model("securityhub")
    request = model.operation_model(ASFF_OPERATION).input_shape
    validator = AsffValidator(report)
    findings = 0
    for line, batch in lines:
        validator.check(line, batch, request, "$")
        if isinstance(batch, dict) and isinstance(batch.get("Findings"), list):
            findings += len(batch["Findings"])
        # botocore's client-side check of the same request (required members, unknown
        # members, types, `min`; timestamps as datetime or ISO strings).
        errors = ParamValidator().validate(batch, request)
        if errors.has_errors():
            for error in errors.generate_report().splitlines()[1:]:
                report.add(line, "$", f"botocore ParamValidator: {error.strip()}")
    print(
        f"asff: {len(lines)} batches, {findings} findings checked against botocore "
        f"{botocore.__version__} securityhub {model.api_version} {request.name}"
    )
    return findings


# ---------------------------------------------------------------------------------
# OCSF
# ---------------------------------------------------------------------------------


def enum_captions(attributes: dict) -> dict:
    """`{id attribute: (sibling, {value: caption})}` for the enum attributes with a sibling."""
    out = {}
    for name, attribute in attributes.items():
        enum = attribute.get("enum")
        sibling = attribute.get("sibling")
        if enum and sibling:
            out[name] = (sibling, {str(k): v.get("caption") for k, v in enum.items()})
    return out


class OcsfChecks:
    """What the JSON Schema does not say: uids, version, captions of enum ids."""

    def __init__(self, schema: dict, report: Report) -> None:
        self.schema = schema
        self.report = report

    def event(self, line: int, event: dict, class_name: str) -> None:
        if event.get("class_uid") != OCSF_CLASS_UID:
            self.report.add(line, "$.class_uid", f"is {event.get('class_uid')!r}, not 2004")
        if event.get("category_uid") != OCSF_CATEGORY_UID:
            self.report.add(line, "$.category_uid", f"is {event.get('category_uid')!r}, not 2")
        class_uid, activity_id = event.get("class_uid"), event.get("activity_id")
        if isinstance(class_uid, int) and isinstance(activity_id, int):
            if event.get("type_uid") != class_uid * 100 + activity_id:
                self.report.add(
                    line, "$.type_uid",
                    f"is {event.get('type_uid')!r}, not class_uid * 100 + activity_id "
                    f"= {class_uid * 100 + activity_id}",
                )
        version = (event.get("metadata") or {}).get("version")
        if version != OCSF_VERSION:
            self.report.add(line, "$.metadata.version", f"is {version!r}, not {OCSF_VERSION}")
        attributes = self.schema["classes"][class_name]["attributes"]
        self.captions(line, event, attributes, "$")

    def captions(self, line: int, value: dict, attributes: dict, path: str) -> None:
        for name, (sibling, captions) in enum_captions(attributes).items():
            if name not in value or sibling not in value:
                continue
            caption = captions.get(str(value[name]))
            if str(value[name]) != "99" and caption is not None and value[sibling] != caption:
                self.report.add(
                    line, f"{path}.{sibling}",
                    f"is {value[sibling]!r}, but {name} {value[name]} is {caption!r}",
                )
        for name, item in value.items():
            attribute = attributes.get(name) or {}
            object_type = attribute.get("object_type")
            if object_type not in self.schema["objects"]:
                continue
            nested = self.schema["objects"][object_type]["attributes"]
            items = item if isinstance(item, list) else [item]
            for i, one in enumerate(items):
                if isinstance(one, dict):
                    where = f"{path}.{name}[{i}]" if isinstance(item, list) else f"{path}.{name}"
                    self.captions(line, one, nested, where)


def validate_ocsf(lines, report: Report) -> int:
    try:
        import jsonschema
    except ImportError:
        missing("jsonschema (python3 -m pip install jsonschema)")
    try:
        from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema
    except ImportError:
        missing("ocsf-json-schema (python3 -m pip install ocsf-json-schema)")
    schema = get_ocsf_schema(version=OCSF_VERSION)
    generator = OcsfJsonSchemaEmbedded(schema)
    checks = OcsfChecks(schema, report)
    validators: dict = {}
    for line, event in lines:
        if not isinstance(event, dict):
            report.add(line, "$", f"is a JSON {json_type(event)}, not an object")
            continue
        try:
            class_name = generator.lookup_class_name_from_uid(class_uid=event.get("class_uid"))
        except (ValueError, TypeError):
            report.add(line, "$.class_uid", f"{event.get('class_uid')!r} is no OCSF class")
            continue
        profiles = (event.get("metadata") or {}).get("profiles") or []
        if not isinstance(profiles, list) or not all(isinstance(p, str) for p in profiles):
            profiles = []  # the schema reports the bad type
        key = (class_name, tuple(sorted(profiles)))
        if key not in validators:
            json_schema = generator.get_class_schema(class_name=class_name, profiles=list(key[1]))
            validators[key] = jsonschema.Draft202012Validator(json_schema)
        for error in sorted(validators[key].iter_errors(event), key=lambda e: list(e.path)):
            report.add(line, error.json_path, error.message[:300])
        checks.event(line, event, class_name)
    import importlib.metadata as md

    print(
        f"ocsf: {len(lines)} events checked against OCSF {schema['version']} "
        f"(ocsf-json-schema {md.version('ocsf-json-schema')}, jsonschema "
        f"{md.version('jsonschema')})"
    )
    return len(lines)


def main() -> int:
    if len(sys.argv) != 2 or sys.argv[1] not in ("asff", "ocsf"):
        print(__doc__.split("\n\n")[0] if __doc__ else "usage: validate_findings.py asff|ocsf")
        return 2
    lines = json_lines(sys.stdin.read())
    report = Report()
    if sys.argv[1] == "asff":
        validate_asff(lines, report)
    else:
        validate_ocsf(lines, report)
    for violation in report.violations:
        print(violation)
    if report.violations:
        print(f"{len(report.violations)} violations")
        return 1
    print("valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
