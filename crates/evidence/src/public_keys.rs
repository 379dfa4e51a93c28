//! CloudTrail's public keys: read from a saved `aws cloudtrail list-public-keys` output
//! or fetched live (behind [`PublicKeySource`]), and chosen for a digest by its
//! `digestPublicKeyFingerprint` and the keys' validity windows.
//!
//! A key's `Value` is base64 DER, a PKCS#1 `RSAPublicKey` or a `SubjectPublicKeyInfo`
//! (both occur); its fingerprint is the hex MD5 of those decoded bytes.

use base64::Engine;
use chrono::{DateTime, TimeDelta, Utc};
use md5::{Digest as _, Md5};
use serde_json::Value;

use crate::hex;

/// How far outside its validity window a key is still taken for a digest: CloudTrail
/// signs a digest shortly after its end time, and `aws cloudtrail validate-logs` looks
/// keys up over the digests' range plus two hours.
pub const VALIDITY_SLACK: TimeDelta = TimeDelta::hours(2);

/// One public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The decoded DER bytes.
    pub der: Vec<u8>,
    /// Hex MD5 of `der`.
    pub fingerprint: String,
    pub valid_from: DateTime<Utc>,
    pub valid_to: DateTime<Utc>,
}

/// A `list-public-keys` entry before it is checked: what a saved file or the live
/// `ListPublicKeys` call gives.
#[derive(Debug, Clone)]
pub struct PublicKeyEntry {
    pub der: Vec<u8>,
    pub valid_from: DateTime<Utc>,
    pub valid_to: DateTime<Utc>,
    /// The fingerprint CloudTrail states, checked against the key's MD5.
    pub stated_fingerprint: Option<String>,
}

/// Why keys could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {reason}")]
pub struct KeyFileError {
    /// The key file, or `ListPublicKeys in REGION`.
    pub source_name: String,
    pub reason: String,
}

/// The keys at hand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicKeys {
    keys: Vec<PublicKey>,
}

/// The key for a digest, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChoice<'a> {
    Found(&'a PublicKey),
    /// Keys with that fingerprint exist, valid at other times only.
    NotValidAt(Vec<&'a PublicKey>),
    Unknown,
}

impl PublicKeys {
    /// Checks entries: each must be an RSA public key, and its stated fingerprint (when
    /// given) the MD5 of its bytes.
    pub fn from_entries(
        entries: Vec<PublicKeyEntry>,
        source_name: &str,
    ) -> Result<Self, KeyFileError> {
        let mut keys = Vec::with_capacity(entries.len());
        for (i, entry) in entries.into_iter().enumerate() {
            let error = |reason: String| KeyFileError {
                source_name: source_name.to_string(),
                reason: format!("key {i}: {reason}"),
            };
            if aws_lc_rs::rsa::PublicKey::from_der(&entry.der).is_err() {
                return Err(error(
                    "Value is not an RSA public key (PKCS#1 RSAPublicKey or SubjectPublicKeyInfo DER)".to_string(),
                ));
            }
            let fingerprint = fingerprint_of(&entry.der);
            if let Some(stated) = &entry.stated_fingerprint
                && !stated.eq_ignore_ascii_case(&fingerprint)
            {
                return Err(error(format!(
                    "Fingerprint {stated} is not the MD5 of the key ({fingerprint})"
                )));
            }
            if entry.valid_to < entry.valid_from {
                return Err(error(
                    "ValidityEndTime is before ValidityStartTime".to_string(),
                ));
            }
            keys.push(PublicKey {
                der: entry.der,
                fingerprint,
                valid_from: entry.valid_from,
                valid_to: entry.valid_to,
            });
        }
        Ok(PublicKeys { keys })
    }

    /// Reads the JSON `aws cloudtrail list-public-keys` prints
    /// (`{"PublicKeyList":[{"Value","ValidityStartTime","ValidityEndTime","Fingerprint"}]}`;
    /// times as RFC 3339 text, or epoch seconds as a number or text).
    pub fn from_list_public_keys_json(
        content: &[u8],
        source_name: &str,
    ) -> Result<Self, KeyFileError> {
        let error = |reason: String| KeyFileError {
            source_name: source_name.to_string(),
            reason,
        };
        let value: Value = serde_json::from_slice(content).map_err(|e| {
            error(format!(
                "not JSON ({e}); expected the output of `aws cloudtrail list-public-keys`"
            ))
        })?;
        let list = value
            .get("PublicKeyList")
            .or_else(|| value.get("publicKeyList"))
            .and_then(Value::as_array)
            .ok_or_else(|| {
                error("no PublicKeyList array; expected the output of `aws cloudtrail list-public-keys`".to_string())
            })?;
        let mut entries = Vec::with_capacity(list.len());
        for (i, item) in list.iter().enumerate() {
            let field = |name: &str| {
                item.get(name)
                    .filter(|v| !v.is_null())
                    .ok_or_else(|| error(format!("key {i}: field {name} is missing")))
            };
            let value = field("Value")?
                .as_str()
                .ok_or_else(|| error(format!("key {i}: field Value is not a string")))?;
            let der = base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .map_err(|e| error(format!("key {i}: field Value is not base64 ({e})")))?;
            let time = |name: &str| {
                let value = field(name)?;
                parse_key_time(value).ok_or_else(|| {
                    error(format!(
                        "key {i}: field {name} {value} is not a time (RFC 3339 or epoch seconds)"
                    ))
                })
            };
            let stated_fingerprint = match item.get("Fingerprint") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => {
                    return Err(error(format!("key {i}: field Fingerprint is not a string")));
                }
            };
            entries.push(PublicKeyEntry {
                der,
                valid_from: time("ValidityStartTime")?,
                valid_to: time("ValidityEndTime")?,
                stated_fingerprint,
            });
        }
        Self::from_entries(entries, source_name)
    }

    /// Adds `other`'s keys (several regions' files together).
    pub fn extend(&mut self, other: PublicKeys) {
        for key in other.keys {
            if !self.keys.contains(&key) {
                self.keys.push(key);
            }
        }
    }

    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// The key with `fingerprint` valid at `at` (within [`VALIDITY_SLACK`]).
    pub fn choose(&self, fingerprint: &str, at: DateTime<Utc>) -> KeyChoice<'_> {
        let matching: Vec<&PublicKey> = self
            .keys
            .iter()
            .filter(|k| k.fingerprint.eq_ignore_ascii_case(fingerprint))
            .collect();
        if matching.is_empty() {
            return KeyChoice::Unknown;
        }
        let from = |k: &PublicKey| {
            k.valid_from
                .checked_sub_signed(VALIDITY_SLACK)
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        };
        let to = |k: &PublicKey| {
            k.valid_to
                .checked_add_signed(VALIDITY_SLACK)
                .unwrap_or(DateTime::<Utc>::MAX_UTC)
        };
        match matching.iter().find(|k| from(k) <= at && at <= to(k)) {
            Some(key) => KeyChoice::Found(key),
            None => KeyChoice::NotValidAt(matching),
        }
    }
}

/// Where keys come from: saved files, or CloudTrail's `ListPublicKeys` (per region).
/// `Send`, so that the digests can be checked on a thread of their own.
pub trait PublicKeySource: Send {
    /// The keys that can have signed `region`'s digests between `start` and `end`.
    fn public_keys(
        &mut self,
        region: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> Result<PublicKeys, KeyFileError>;
}

/// Saved keys serve every region (fingerprints tell them apart).
impl PublicKeySource for PublicKeys {
    fn public_keys(
        &mut self,
        _region: &str,
        _start: DateTime<Utc>,
        _end: DateTime<Utc>,
    ) -> Result<PublicKeys, KeyFileError> {
        Ok(self.clone())
    }
}

/// Hex MD5 of a key's DER bytes: CloudTrail's key fingerprint.
pub fn fingerprint_of(der: &[u8]) -> String {
    hex::encode(&Md5::digest(der))
}

fn parse_key_time(value: &Value) -> Option<DateTime<Utc>> {
    let seconds = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => match s.parse::<f64>() {
            Ok(seconds) => seconds,
            Err(_) => {
                return DateTime::parse_from_rfc3339(s)
                    .ok()
                    .map(|t| t.with_timezone(&Utc));
            }
        },
        _ => return None,
    };
    if !seconds.is_finite() {
        return None;
    }
    DateTime::from_timestamp_millis((seconds * 1000.0).round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three keys of the CloudTrail user guide's `list-public-keys` sample
    /// (tests/data/user-guide-list-public-keys.json), with the fingerprints it states.
    fn guide_keys() -> PublicKeys {
        let content = include_bytes!("../tests/data/user-guide-list-public-keys.json");
        PublicKeys::from_list_public_keys_json(content, "guide").unwrap()
    }

    #[test]
    fn the_user_guide_s_keys_have_the_fingerprints_it_states() {
        let keys = guide_keys();
        let fingerprints: Vec<&str> = keys.keys().iter().map(|k| k.fingerprint.as_str()).collect();
        // Two PKCS#1 keys and one SubjectPublicKeyInfo key.
        assert_eq!(
            fingerprints,
            [
                "8eba5db5bea9b640d1c96a77256fe7f2",
                "8933b39ddc64d26d8e14ffbf6566fee4",
                "31e8b5433410dfb61a9dc45cc65b22ff"
            ]
        );
        assert_eq!(keys.keys()[0].valid_from.timestamp(), 1436317441);
    }

    #[test]
    fn a_key_is_chosen_by_fingerprint_and_validity() {
        let keys = guide_keys();
        let inside = DateTime::from_timestamp(1436000000, 0).unwrap();
        assert!(
            matches!(keys.choose("31E8B5433410DFB61A9DC45CC65B22FF", inside), KeyChoice::Found(k) if k.fingerprint == "31e8b5433410dfb61a9dc45cc65b22ff")
        );
        let later = DateTime::from_timestamp(1500000000, 0).unwrap();
        assert!(matches!(
            keys.choose("31e8b5433410dfb61a9dc45cc65b22ff", later),
            KeyChoice::NotValidAt(_)
        ));
        assert_eq!(
            keys.choose("00000000000000000000000000000000", inside),
            KeyChoice::Unknown
        );
    }

    #[test]
    fn files_that_are_not_keys_are_refused_clearly() {
        let not_json = PublicKeys::from_list_public_keys_json(b"hello", "keys.json").unwrap_err();
        assert!(
            not_json.to_string().starts_with("keys.json: not JSON"),
            "{not_json}"
        );
        let no_list = PublicKeys::from_list_public_keys_json(b"{}", "k").unwrap_err();
        assert!(no_list.reason.contains("PublicKeyList"));
        let not_a_key = br#"{"PublicKeyList":[{"Value":"aGVsbG8=","ValidityStartTime":0,"ValidityEndTime":1}]}"#;
        let err = PublicKeys::from_list_public_keys_json(not_a_key, "k").unwrap_err();
        assert!(
            err.reason.contains("key 0: Value is not an RSA public key"),
            "{err}"
        );
        let content = String::from_utf8(
            include_bytes!("../tests/data/user-guide-list-public-keys.json").to_vec(),
        )
        .unwrap();
        let wrong = content.replace(
            "8eba5db5bea9b640d1c96a77256fe7f2",
            "8eba5db5bea9b640d1c96a77256fe7f3",
        );
        let err = PublicKeys::from_list_public_keys_json(wrong.as_bytes(), "k").unwrap_err();
        assert!(err.reason.contains("is not the MD5"), "{err}");
    }
}
