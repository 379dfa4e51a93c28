//! The signed set's signatures checked by an independent implementation: Python's
//! `cryptography` (OpenSSL), from the user guide's description alone, agreeing with
//! `verify_folder` on a valid and a forged signature. Skipped, saying so, where
//! `python3` with `cryptography` is not installed.

mod signed_set;

use std::process::Command;

use sessiontrail_evidence::{PublicKeys, Rule, VerifyOptions, verify_folder};
use signed_set::*;

const CHECK: &str = r#"
import base64, gzip, hashlib, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.exceptions import InvalidSignature

keys = {}
for entry in json.load(open(sys.argv[1]))["PublicKeyList"]:
    der = base64.b64decode(entry["Value"])
    assert hashlib.md5(der).hexdigest() == entry["Fingerprint"]
    keys[entry["Fingerprint"]] = serialization.load_der_public_key(der)
for path in sys.argv[2:]:
    raw = gzip.decompress(open(path, "rb").read())
    digest = json.loads(raw)
    signature = json.load(open(path + ".metadata.json"))["Metadata"]["signature"]
    previous = digest["previousDigestSignature"] or "null"
    to_sign = "\n".join([digest["digestEndTime"], digest["digestS3Bucket"] + "/" + digest["digestS3Object"], hashlib.sha256(raw).hexdigest(), previous])
    try:
        keys[digest["digestPublicKeyFingerprint"]].verify(bytes.fromhex(signature), to_sign.encode(), padding.PKCS1v15(), hashes.SHA256())
        print("valid")
    except InvalidSignature:
        print("invalid")
"#;

fn python_has_cryptography() -> bool {
    Command::new("python3")
        .args(["-c", "import cryptography"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn python_cryptography_agrees_on_valid_and_forged_signatures() {
    if !python_has_cryptography() {
        eprintln!("skipped: python3 with the cryptography package is not installed");
        return;
    }
    for spki in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut trail = Trail::new(dir.path(), Signer::new(spki));
        trail.hourly(3);
        let forged = &trail.digests[2];
        let mut signature = forged.signature.clone().into_bytes();
        signature[0] = if signature[0] == b'a' { b'b' } else { b'a' };
        write_sidecar(&forged.path, std::str::from_utf8(&signature).unwrap(), None);
        let keys = trail.write_keys(dir.path());

        let mut python = Command::new("python3");
        python.arg("-c").arg(CHECK).arg(&keys);
        for digest in &trail.digests {
            python.arg(&digest.path);
        }
        let output = python.output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let python_says: Vec<String> = String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(python_says, ["valid", "valid", "invalid"], "spki: {spki}");

        let mut ours =
            PublicKeys::from_list_public_keys_json(&std::fs::read(&keys).unwrap(), "keys.json")
                .unwrap();
        let v = verify_folder(dir.path(), &VerifyOptions::default(), &mut ours).unwrap();
        let invalid: Vec<&str> = v
            .problems
            .iter()
            .filter(|p| p.rule == Rule::DigestSignatureInvalid)
            .map(|p| p.file.as_str())
            .collect();
        assert_eq!(invalid, [forged.path.display().to_string()]);
        assert_eq!(v.digests.iter().filter(|d| d.signature_verified).count(), 2);
    }
}
