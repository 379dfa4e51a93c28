//! A digest file's JSON, as the CloudTrail user guide defines it ("CloudTrail digest
//! file structure"), read strictly: every field present, hashes of 64 hex digits, times
//! RFC 3339, the five `previousDigest*` fields all null (a starting digest) or all set.
//! Fields AWS may add later are ignored.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::hex;
use crate::log_hash::Sha256Hash;

/// The only hash algorithm digests use.
pub const SHA_256: &str = "SHA-256";
/// The only signature algorithm digests use.
pub const SHA256_WITH_RSA: &str = "SHA256withRSA";

/// A parsed digest file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    pub aws_account_id: String,
    pub digest_start_time: DateTime<Utc>,
    pub digest_end_time: DateTime<Utc>,
    /// `digestEndTime` exactly as written: the first line of the string to sign.
    pub digest_end_time_text: String,
    pub digest_s3_bucket: String,
    pub digest_s3_object: String,
    /// Lowercase hex.
    pub digest_public_key_fingerprint: String,
    pub digest_signature_algorithm: String,
    pub newest_event_time: Option<DateTime<Utc>>,
    pub oldest_event_time: Option<DateTime<Utc>>,
    /// None for a starting digest.
    pub previous: Option<PreviousDigest>,
    pub log_files: Vec<ListedLogFile>,
}

/// What a digest says of the digest before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousDigest {
    pub s3_bucket: String,
    pub s3_object: String,
    pub hash_value: Sha256Hash,
    pub hash_algorithm: String,
    /// Hex, exactly as written (the last line of this digest's string to sign).
    pub signature: String,
}

/// One entry of `logFiles`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedLogFile {
    pub s3_bucket: String,
    pub s3_object: String,
    pub hash_value: Sha256Hash,
    pub hash_algorithm: String,
    pub newest_event_time: Option<DateTime<Utc>>,
    pub oldest_event_time: Option<DateTime<Utc>>,
}

/// Why a file is not a valid digest: the file, the field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}{reason}", field.as_deref().map(|f| format!("field {f}: ")).unwrap_or_default())]
pub struct DigestError {
    pub file: String,
    pub field: Option<String>,
    pub reason: String,
}

/// Parses a digest's uncompressed content; `file` names it in errors.
pub fn parse_digest(content: &[u8], file: &str) -> Result<Digest, DigestError> {
    let error = |field: Option<&str>, reason: String| DigestError {
        file: file.to_string(),
        field: field.map(str::to_string),
        reason,
    };
    let value: Value =
        serde_json::from_slice(content).map_err(|e| error(None, format!("not JSON ({e})")))?;
    let Value::Object(object) = value else {
        return Err(error(None, "not a JSON object".to_string()));
    };
    let fields = Fields {
        object: &object,
        path: String::new(),
        file,
    };
    let aws_account_id = fields.string("awsAccountId")?;
    if !(aws_account_id.len() == 12 && aws_account_id.bytes().all(|c| c.is_ascii_digit())) {
        return Err(error(
            Some("awsAccountId"),
            format!("{aws_account_id:?} is not a 12-digit account id"),
        ));
    }
    let digest_start_time = fields.time("digestStartTime")?;
    let digest_end_time_text = fields.string("digestEndTime")?;
    let digest_end_time = fields.time("digestEndTime")?;
    let digest_s3_bucket = fields.non_empty("digestS3Bucket")?;
    let digest_s3_object = fields.non_empty("digestS3Object")?;
    let fingerprint = fields.string("digestPublicKeyFingerprint")?;
    if !hex::is_hex_of_len(&fingerprint, 32) {
        return Err(error(
            Some("digestPublicKeyFingerprint"),
            format!("{fingerprint:?} is not the 32 hex digits of an MD5 fingerprint"),
        ));
    }
    let digest_signature_algorithm = fields.string("digestSignatureAlgorithm")?;
    if digest_signature_algorithm != SHA256_WITH_RSA {
        return Err(error(
            Some("digestSignatureAlgorithm"),
            format!(
                "{digest_signature_algorithm:?} is not {SHA256_WITH_RSA}, the only algorithm CloudTrail signs with"
            ),
        ));
    }
    let newest_event_time = fields.optional_time("newestEventTime")?;
    let oldest_event_time = fields.optional_time("oldestEventTime")?;
    let previous = previous_digest(&fields)?;
    let log_files = match fields.get("logFiles")? {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| listed_log_file(item, &format!("logFiles[{i}]"), file))
            .collect::<Result<Vec<_>, _>>()?,
        other => {
            return Err(error(
                Some("logFiles"),
                format!("is {}, not an array", kind(other)),
            ));
        }
    };
    Ok(Digest {
        aws_account_id,
        digest_start_time,
        digest_end_time,
        digest_end_time_text,
        digest_s3_bucket,
        digest_s3_object,
        digest_public_key_fingerprint: fingerprint.to_ascii_lowercase(),
        digest_signature_algorithm,
        newest_event_time,
        oldest_event_time,
        previous,
        log_files,
    })
}

const PREVIOUS_FIELDS: [&str; 5] = [
    "previousDigestS3Bucket",
    "previousDigestS3Object",
    "previousDigestHashValue",
    "previousDigestHashAlgorithm",
    "previousDigestSignature",
];

fn previous_digest(fields: &Fields) -> Result<Option<PreviousDigest>, DigestError> {
    let mut null = Vec::new();
    for name in PREVIOUS_FIELDS {
        if fields.get(name)?.is_null() {
            null.push(name);
        }
    }
    if null.len() == PREVIOUS_FIELDS.len() {
        return Ok(None);
    }
    if let Some(first) = null.first() {
        return Err(fields.error(
            first,
            "is null while other previousDigest* fields are set (all five are null only on a starting digest)".to_string(),
        ));
    }
    let hash_algorithm = fields.string("previousDigestHashAlgorithm")?;
    if hash_algorithm != SHA_256 {
        return Err(fields.error(
            "previousDigestHashAlgorithm",
            format!("{hash_algorithm:?} is not {SHA_256}"),
        ));
    }
    let signature = fields.string("previousDigestSignature")?;
    if signature.is_empty() || hex::decode(&signature).is_none() {
        return Err(fields.error("previousDigestSignature", "is not hex".to_string()));
    }
    Ok(Some(PreviousDigest {
        s3_bucket: fields.non_empty("previousDigestS3Bucket")?,
        s3_object: fields.non_empty("previousDigestS3Object")?,
        hash_value: fields.hash("previousDigestHashValue")?,
        hash_algorithm,
        signature,
    }))
}

fn listed_log_file(item: &Value, path: &str, file: &str) -> Result<ListedLogFile, DigestError> {
    let Value::Object(object) = item else {
        return Err(DigestError {
            file: file.to_string(),
            field: Some(path.to_string()),
            reason: format!("is {}, not an object", kind(item)),
        });
    };
    let fields = Fields {
        object,
        path: format!("{path}."),
        file,
    };
    let hash_algorithm = fields.string("hashAlgorithm")?;
    if hash_algorithm != SHA_256 {
        return Err(fields.error(
            "hashAlgorithm",
            format!("{hash_algorithm:?} is not {SHA_256}"),
        ));
    }
    Ok(ListedLogFile {
        s3_bucket: fields.non_empty("s3Bucket")?,
        s3_object: fields.non_empty("s3Object")?,
        hash_value: fields.hash("hashValue")?,
        hash_algorithm,
        newest_event_time: fields.optional_time("newestEventTime")?,
        oldest_event_time: fields.optional_time("oldestEventTime")?,
    })
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The fields of one JSON object, read with errors that name the file and field.
struct Fields<'a> {
    object: &'a Map<String, Value>,
    /// Prefix of field names in errors (`logFiles[3].`).
    path: String,
    file: &'a str,
}

impl Fields<'_> {
    fn error(&self, name: &str, reason: String) -> DigestError {
        DigestError {
            file: self.file.to_string(),
            field: Some(format!("{}{name}", self.path)),
            reason,
        }
    }

    fn get(&self, name: &str) -> Result<&Value, DigestError> {
        self.object
            .get(name)
            .ok_or_else(|| self.error(name, "is missing".to_string()))
    }

    fn string(&self, name: &str) -> Result<String, DigestError> {
        match self.get(name)? {
            Value::String(s) => Ok(s.clone()),
            other => Err(self.error(name, format!("is {}, not a string", kind(other)))),
        }
    }

    fn non_empty(&self, name: &str) -> Result<String, DigestError> {
        let text = self.string(name)?;
        if text.is_empty() {
            return Err(self.error(name, "is empty".to_string()));
        }
        Ok(text)
    }

    fn hash(&self, name: &str) -> Result<Sha256Hash, DigestError> {
        let text = self.string(name)?;
        Sha256Hash::from_hex(&text).map_err(|why| self.error(name, format!("{text:?} {why}")))
    }

    fn time(&self, name: &str) -> Result<DateTime<Utc>, DigestError> {
        let text = self.string(name)?;
        parse_time(&text)
            .ok_or_else(|| self.error(name, format!("{text:?} is not an RFC 3339 time")))
    }

    fn optional_time(&self, name: &str) -> Result<Option<DateTime<Utc>>, DigestError> {
        if self.get(name)?.is_null() {
            return Ok(None);
        }
        self.time(name).map(Some)
    }
}

fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn starting_digest() -> Value {
        serde_json::json!({
            "awsAccountId": "111122223333",
            "digestStartTime": "2026-02-01T00:00:00Z",
            "digestEndTime": "2026-02-01T01:00:00Z",
            "digestS3Bucket": "trail-bucket",
            "digestS3Object": "AWSLogs/111122223333/CloudTrail-Digest/eu-west-1/2026/02/01/111122223333_CloudTrail-Digest_eu-west-1_t_eu-west-1_20260201T010000Z.json.gz",
            "digestPublicKeyFingerprint": "31e8b5433410dfb61a9dc45cc65b22ff",
            "digestSignatureAlgorithm": "SHA256withRSA",
            "newestEventTime": null,
            "oldestEventTime": null,
            "previousDigestS3Bucket": null,
            "previousDigestS3Object": null,
            "previousDigestHashValue": null,
            "previousDigestHashAlgorithm": null,
            "previousDigestSignature": null,
            "logFiles": []
        })
    }

    fn parse(value: &Value) -> Result<Digest, DigestError> {
        parse_digest(value.to_string().as_bytes(), "d.json.gz")
    }

    #[test]
    fn a_starting_digest_has_no_previous() {
        let digest = parse(&starting_digest()).unwrap();
        assert_eq!(digest.previous, None);
        assert_eq!(digest.digest_end_time_text, "2026-02-01T01:00:00Z");
        assert!(digest.log_files.is_empty());
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let err = parse_digest(b"{not json", "a/b.json.gz").unwrap_err();
        assert!(
            err.to_string().starts_with("a/b.json.gz: not JSON"),
            "{err}"
        );

        let mut missing = starting_digest();
        missing.as_object_mut().unwrap().remove("digestEndTime");
        let err = parse(&missing).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("digestEndTime"));
        assert!(
            err.to_string().contains("field digestEndTime: is missing"),
            "{err}"
        );

        let mut half = starting_digest();
        half["previousDigestS3Object"] = "AWSLogs/x".into();
        let err = parse(&half).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("previousDigestS3Bucket"));

        let mut bad_log = starting_digest();
        bad_log["logFiles"] = serde_json::json!([{ "s3Bucket": "b", "s3Object": "k", "hashValue": "00", "hashAlgorithm": "SHA-256", "newestEventTime": null, "oldestEventTime": null }]);
        let err = parse(&bad_log).unwrap_err();
        assert_eq!(err.field.as_deref(), Some("logFiles[0].hashValue"));
        assert!(err.reason.contains("2 hex digits"), "{err}");

        let mut wrong_type = starting_digest();
        wrong_type["logFiles"] = serde_json::json!({});
        assert!(
            parse(&wrong_type)
                .unwrap_err()
                .reason
                .contains("not an array")
        );

        assert!(
            parse_digest(b"[]", "x")
                .unwrap_err()
                .reason
                .contains("not a JSON object")
        );
    }
}
