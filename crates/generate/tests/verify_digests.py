#!/usr/bin/env python3
"""Verifies the CloudTrail digest files of a folder laid out like a trail's bucket, as
the CloudTrail user guide defines it ("CloudTrail digest file structure", "Custom
implementations of CloudTrail log file integrity validation"), with Python's
`cryptography` and the standard library only: an implementation independent of the
generator (Rust, RustCrypto) and of sessiontrail's verifier.

    verify_digests.py OUT [--bucket-dir DIR] [--public-keys FILE]

OUT is a `sessiontrail generate --digests` folder: the bucket is OUT/cloudtrail, the
keys OUT/public-keys.json (`aws cloudtrail list-public-keys` output). Each digest's
signature is read from its sidecar `<digest>.metadata.json` (`aws s3api head-object`
output). Prints one JSON object:

    {"digests":   [{"key": K, "signature": "valid"|"invalid"}],
     "log_files": [{"key": K, "status": S, "digest": K|null}],
     "problems":  [{"rule": R, "key": K}]}

statuses: verified (listed by a validly signed digest, same SHA-256 of the
uncompressed file), tampered (listed, other hash), missing (listed, absent),
not_covered (present, listed by no digest), unsigned (listed only by digests whose
signature does not verify); rules: log_file_tampered, log_file_missing,
log_file_not_covered, digest_signature_invalid, digest_chain_broken (a digest whose
previous digest is absent, another than the one before it, or whose
previousDigestHashValue / previousDigestSignature differ from that digest's hash and
signature, or a gap between them).
"""

import argparse
import base64
import binascii
import gzip
import hashlib
import json
import os
import re
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

DIGEST_NAME = re.compile(
    r"^(?P<account>\d{12})_CloudTrail-Digest_(?P<region>[a-z0-9-]+)_(?P<rest>.+)_"
    r"(?P<stamp>\d{8}T\d{6}Z)(?P<backfill>_backfill)?\.json\.gz$"
)


def load_keys(path):
    """Fingerprint -> public key, each fingerprint checked against its key's DER."""
    with open(path, encoding="utf-8") as f:
        listing = json.load(f)
    keys = {}
    for entry in listing["PublicKeyList"]:
        der = base64.b64decode(entry["Value"])
        fingerprint = hashlib.md5(der).hexdigest()
        if fingerprint != entry["Fingerprint"]:
            raise SystemExit(f"public key {entry['Fingerprint']}: its MD5 is {fingerprint}")
        # PKCS#1 RSAPublicKey or SubjectPublicKeyInfo, whichever the DER is.
        try:
            key = serialization.load_der_public_key(der)
        except ValueError:
            raise SystemExit(f"public key {fingerprint} is not a DER public key")
        keys[fingerprint] = key
    return keys


def walk(bucket_dir):
    """(digest keys, log file keys) under the bucket folder, as S3 keys."""
    digests, logs = [], []
    for dirpath, _, names in os.walk(bucket_dir):
        for name in names:
            key = os.path.relpath(os.path.join(dirpath, name), bucket_dir).replace(os.sep, "/")
            parts = key.split("/")
            if not name.endswith(".json.gz"):
                continue
            if "CloudTrail-Digest" in parts:
                digests.append(key)
            elif "CloudTrail" in parts:
                logs.append(key)
    return sorted(digests), sorted(logs)


def read_gz(path):
    with open(path, "rb") as f:
        return gzip.decompress(f.read())


def string_to_sign(digest, raw):
    previous = digest["previousDigestSignature"]
    return "\n".join(
        [
            digest["digestEndTime"],
            f"{digest['digestS3Bucket']}/{digest['digestS3Object']}",
            hashlib.sha256(raw).hexdigest(),
            "null" if previous is None else previous,
        ]
    ).encode()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--bucket-dir")
    parser.add_argument("--public-keys")
    args = parser.parse_args()
    bucket_dir = args.bucket_dir or os.path.join(args.out, "cloudtrail")
    keys = load_keys(args.public_keys or os.path.join(args.out, "public-keys.json"))
    digest_keys, log_keys = walk(bucket_dir)

    problems = set()
    digests = {}  # key -> dict(data, raw, signature, valid)
    for key in digest_keys:
        raw = read_gz(os.path.join(bucket_dir, key))
        data = json.loads(raw)
        name = DIGEST_NAME.match(key.rsplit("/", 1)[1])
        if name is None:
            raise SystemExit(f"{key}: not a digest file name")
        if data["digestS3Object"] != key:
            raise SystemExit(f"{key}: names {data['digestS3Object']} as its key")
        with open(os.path.join(bucket_dir, key + ".metadata.json"), encoding="utf-8") as f:
            metadata = json.load(f)["Metadata"]
        valid = False
        key_for = keys.get(data["digestPublicKeyFingerprint"])
        if (
            key_for is not None
            and metadata.get("signature-algorithm") == "SHA256withRSA"
            and data["digestSignatureAlgorithm"] == "SHA256withRSA"
            and (name["backfill"] is None or "backfill-generation-timestamp" in metadata)
        ):
            try:
                key_for.verify(
                    binascii.unhexlify(metadata["signature"]),
                    string_to_sign(data, raw),
                    padding.PKCS1v15(),
                    hashes.SHA256(),
                )
                valid = True
            except (InvalidSignature, binascii.Error, ValueError):
                valid = False
        if not valid:
            problems.add(("digest_signature_invalid", key))
        digests[key] = {
            "data": data,
            "raw": raw,
            "signature": metadata.get("signature"),
            "valid": valid,
            "chain": (key.rsplit("/", 4)[0], name["rest"]),
            "backfill": name["backfill"] is not None,
        }

    # The chains: regular digests of one trail and source region, oldest first. Backfill
    # digests stand alone.
    chains = {}
    for key, d in digests.items():
        if not d["backfill"]:
            chains.setdefault(d["chain"], []).append(key)
    for chain in chains.values():
        chain.sort(key=lambda k: digests[k]["data"]["digestEndTime"])
        for i, key in enumerate(chain):
            data = digests[key]["data"]
            previous_key = data["previousDigestS3Object"]
            if previous_key is None:
                if i > 0:
                    problems.add(("digest_chain_broken", key))
                continue
            before = digests.get(chain[i - 1]) if i > 0 else None
            previous = digests.get(previous_key)
            if (
                previous is None
                or before is not previous
                or data["previousDigestS3Bucket"] != previous["data"]["digestS3Bucket"]
                or data["previousDigestHashAlgorithm"] != "SHA-256"
                or data["previousDigestHashValue"] != hashlib.sha256(previous["raw"]).hexdigest()
                or data["previousDigestSignature"] != previous["signature"]
                or data["digestStartTime"] != previous["data"]["digestEndTime"]
            ):
                problems.add(("digest_chain_broken", key))

    # Log files: what the digests list, and what the folder holds.
    listed = {}  # log key -> [(digest key, expected hash, signature valid)]
    for key, d in sorted(digests.items()):
        for entry in d["data"]["logFiles"]:
            if entry["hashAlgorithm"] != "SHA-256":
                raise SystemExit(f"{key}: hash algorithm {entry['hashAlgorithm']}")
            listed.setdefault(entry["s3Object"], []).append((key, entry["hashValue"], d["valid"]))
    present = set(log_keys)
    files = {}
    for log_key in sorted(present | set(listed)):
        listings = listed.get(log_key, [])
        signed = [l for l in listings if l[2]]
        if signed:
            digest_key, expected, _ = signed[0]
            if log_key not in present:
                status = "missing"
                problems.add(("log_file_missing", log_key))
            elif hashlib.sha256(read_gz(os.path.join(bucket_dir, log_key))).hexdigest() != expected:
                status = "tampered"
                problems.add(("log_file_tampered", log_key))
            else:
                status = "verified"
        elif listings:
            digest_key, status = listings[0][0], "unsigned"
        else:
            digest_key, status = None, "not_covered"
            problems.add(("log_file_not_covered", log_key))
        files[log_key] = (status, digest_key)

    json.dump(
        {
            "digests": [
                {"key": k, "signature": "valid" if d["valid"] else "invalid"}
                for k, d in sorted(digests.items())
            ],
            "log_files": [
                {"key": k, "status": s, "digest": d} for k, (s, d) in sorted(files.items())
            ],
            "problems": [{"rule": r, "key": k} for r, k in sorted(problems)],
        },
        sys.stdout,
        indent=1,
    )
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
