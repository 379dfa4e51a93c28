//! A digest's signature: the string CloudTrail signs, where the signature is kept, and
//! its check (RSA PKCS#1 v1.5 with SHA-256, aws-lc).
//!
//! The string to sign is four lines joined by `\n`, no trailing newline:
//! `digestEndTime`, `digestS3Bucket/digestS3Object`, the hex SHA-256 of the
//! uncompressed digest file, and `previousDigestSignature` (the literal `null` on a
//! starting digest). The signature is the hex of the S3 object's `x-amz-meta-signature`
//! metadata; for a local copy it is read from a sidecar beside the digest,
//! `<digest file name>.metadata.json`, holding what `aws s3api head-object` printed.

use std::path::{Path, PathBuf};

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
use serde_json::Value;

use crate::digest::{Digest, SHA256_WITH_RSA};
use crate::hex;
use crate::log_hash::Sha256Hash;
use crate::public_keys::PublicKey;

/// What CloudTrail signed for `digest`, whose uncompressed content hashes to
/// `content_hash`.
pub fn string_to_sign(digest: &Digest, content_hash: &Sha256Hash) -> String {
    let previous = digest
        .previous
        .as_ref()
        .map(|p| p.signature.as_str())
        .unwrap_or("null");
    format!(
        "{}\n{}/{}\n{}\n{}",
        digest.digest_end_time_text,
        digest.digest_s3_bucket,
        digest.digest_s3_object,
        content_hash.to_hex(),
        previous
    )
}

/// Whether `signature` (raw bytes) is `key`'s SHA256withRSA signature of `message`.
pub fn signature_is_valid(key: &PublicKey, message: &[u8], signature: &[u8]) -> bool {
    UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &key.der)
        .verify(message, signature)
        .is_ok()
}

/// The S3 metadata of a digest object that matters here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestMetadata {
    /// Hex.
    pub signature: String,
    pub signature_algorithm: Option<String>,
    /// Backfill digests: when the backfill was generated (signed).
    pub backfill_generation_timestamp: Option<String>,
}

/// The sidecar that holds a local digest's S3 metadata.
pub fn sidecar_path(digest_path: &Path) -> PathBuf {
    let mut name = digest_path.file_name().unwrap_or_default().to_os_string();
    name.push(".metadata.json");
    digest_path.with_file_name(name)
}

/// The file-name ending of sidecars.
pub const SIDECAR_SUFFIX: &str = ".metadata.json";

/// Reads a sidecar: the JSON of `aws s3api head-object`, whose `Metadata` has
/// `signature` (hex) and `signature-algorithm`.
pub fn parse_sidecar(content: &[u8], file: &str) -> Result<DigestMetadata, String> {
    let value: Value = serde_json::from_slice(content).map_err(|e| {
        format!("{file}: not JSON ({e}); expected the output of `aws s3api head-object`")
    })?;
    let metadata = value
        .get("Metadata")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            format!("{file}: no Metadata object; expected the output of `aws s3api head-object`")
        })?;
    let text = |name: &str| -> Result<Option<String>, String> {
        match metadata.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{file}: field Metadata.{name} is not a string")),
        }
    };
    let signature = text("signature")?.ok_or_else(|| {
        format!("{file}: field Metadata.signature is missing (is the object a CloudTrail digest?)")
    })?;
    if signature.is_empty() || hex::decode(&signature).is_none() {
        return Err(format!("{file}: field Metadata.signature is not hex"));
    }
    let signature_algorithm = text("signature-algorithm")?;
    if let Some(algorithm) = &signature_algorithm
        && algorithm != SHA256_WITH_RSA
    {
        return Err(format!(
            "{file}: field Metadata.signature-algorithm {algorithm:?} is not {SHA256_WITH_RSA}"
        ));
    }
    Ok(DigestMetadata {
        signature,
        signature_algorithm,
        backfill_generation_timestamp: text("backfill-generation-timestamp")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::parse_digest;

    #[test]
    fn the_string_to_sign_is_four_lines_and_null_for_a_starting_digest() {
        let content = include_bytes!("../tests/data/user-guide-digest.json");
        let digest = parse_digest(content, "sample").unwrap();
        let hash = Sha256Hash([0xab; 32]);
        let text = string_to_sign(&digest, &hash);
        let lines: Vec<&str> = text.split('\n').collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0], "2015-08-17T15:01:31Z");
        assert_eq!(
            lines[1],
            "S3-bucket-name/AWSLogs/111122223333/CloudTrail-Digest/us-east-2/2015/08/17/111122223333_CloudTrail-Digest_us-east-2_your-trail-name_us-east-2_20150817T150131Z.json.gz"
        );
        assert_eq!(lines[2], "ab".repeat(32));
        assert!(lines[3].starts_with("50887ccffad4c002"));
        let mut starting = digest.clone();
        starting.previous = None;
        assert!(string_to_sign(&starting, &hash).ends_with("\nnull"));
    }

    #[test]
    fn reads_head_object_output_and_refuses_other_json() {
        let sidecar = br#"{"AcceptRanges":"bytes","ContentLength":100,"ContentType":"application/json","Metadata":{"signature":"00ff","signature-algorithm":"SHA256withRSA"}}"#;
        let metadata = parse_sidecar(sidecar, "s").unwrap();
        assert_eq!(metadata.signature, "00ff");
        assert!(
            parse_sidecar(b"{}", "s")
                .unwrap_err()
                .contains("no Metadata")
        );
        assert!(
            parse_sidecar(br#"{"Metadata":{}}"#, "s")
                .unwrap_err()
                .contains("signature is missing")
        );
        assert!(
            parse_sidecar(br#"{"Metadata":{"signature":"xyz"}}"#, "s")
                .unwrap_err()
                .contains("not hex")
        );
        assert!(
            parse_sidecar(b"nope", "s")
                .unwrap_err()
                .contains("not JSON")
        );
        assert_eq!(
            sidecar_path(Path::new("a/b.json.gz")),
            PathBuf::from("a/b.json.gz.metadata.json")
        );
    }
}
