//! The in-band attribution of the golden case `fixtures/cases/in_band_identity_mismatch`
//! beyond its statuses and rules: each row's `in_band_identity`, `in_band_source`,
//! `in_band_identity_store` and `reason`, and the findings' details
//! (docs/contracts.md "In-band identity", the `sessions` columns). The expected values
//! are read off the case's CloudTrail and broker records (see its README.md).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{path_str, read_table, run};

const CASE: &str = "fixtures/cases/in_band_identity_mismatch";

fn correlate(out: &Path) {
    let case = Path::new(env!("CARGO_MANIFEST_DIR")).join(CASE);
    let policy = case.join("../sessiontrail.toml");
    let output = run(&[
        "correlate",
        "--policy",
        path_str(&policy),
        "--cloudtrail",
        path_str(&case.join("cloudtrail")),
        "--broker-log",
        path_str(&case.join("broker")),
        "--out",
        path_str(out),
        "--as-of",
        "2025-03-04T12:00:00Z",
        "--quiet",
    ]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn by_session(rows: Vec<BTreeMap<String, String>>) -> BTreeMap<String, BTreeMap<String, String>> {
    rows.into_iter()
        .map(|row| (row["session_id"].clone(), row))
        .collect()
}

#[test]
fn rows_hold_the_in_band_identity_where_it_came_from_and_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    correlate(dir.path());
    let sessions = by_session(read_table(dir.path(), "sessions"));
    // (session id, in_band_identity, in_band_source, in_band_identity_store, reason,
    // original_user); "" is null.
    let expected = [
        (
            "alice@example.com-z5ben3ohh9prb46i23lrren3xi",
            "alice@example.com",
            "source_identity",
            "",
            "OPS-42 disk full on web-1",
            "alice@example.com",
        ),
        (
            "bob@example.com-k2r8m4q6t0w3y5a7c9e1g3i5ko",
            "bob@example.com",
            "source_identity",
            "",
            "",
            "mallory@example.com",
        ),
        (
            "Carol@example.com-p4s6u8w0y2a4c6e8g0i2k4m6oq",
            "Carol@example.com",
            "source_identity",
            "",
            "",
            "carol@example.com",
        ),
        (
            "dave@example.com-r6u8w0y2a4c6e8g0i2k4m6o8qs",
            "d4d8e488-b081-7057-982d-5fbc2662f519",
            "on_behalf_of",
            "arn:aws:identitystore::111122223333:identitystore/d-9066740a19",
            "",
            "dave@example.com",
        ),
        (
            "session-broker-0c4f5a6b7d8e9f012",
            "",
            "",
            "",
            "",
            "erin@example.com",
        ),
        // Unattributed: the in-band columns say whose it probably was; no original_user.
        (
            "frank@example.com-t8w0y2a4c6e8g0i2k4m6o8q0su",
            "frank@example.com",
            "source_identity",
            "",
            "INC-7 restart",
            "",
        ),
        (
            "grace@example.com-v0y2a4c6e8g0i2k4m6o8q0s2uw",
            "grace@example.com",
            "source_identity",
            "",
            "",
            "heidi@example.com",
        ),
    ];
    assert_eq!(sessions.len(), expected.len(), "{:?}", sessions.keys());
    for (id, identity, source, store, reason, user) in expected {
        let row = &sessions[id];
        assert_eq!(
            (
                row["in_band_identity"].as_str(),
                row["in_band_source"].as_str(),
                row["in_band_identity_store"].as_str(),
                row["reason"].as_str(),
                row["original_user"].as_str(),
            ),
            (identity, source, store, reason, user),
            "{id}"
        );
    }
    assert_eq!(
        sessions["frank@example.com-t8w0y2a4c6e8g0i2k4m6o8q0su"]["original_principal_arn"],
        ""
    );
}

#[test]
fn findings_name_both_identities_and_whose_an_unattributed_session_probably_was() {
    let dir = tempfile::tempdir().unwrap();
    correlate(dir.path());
    let findings = read_table(dir.path(), "findings");
    let detail = |rule: &str, session: &str| -> (String, serde_json::Value) {
        let row = findings
            .iter()
            .find(|f| f["rule"] == rule && f["session_id"] == session)
            .unwrap_or_else(|| panic!("{rule} on {session}"));
        (
            row["detail"].clone(),
            serde_json::from_str(&row["evidence"]).unwrap(),
        )
    };
    let (text, evidence) = detail(
        "unattributed_session",
        "frank@example.com-t8w0y2a4c6e8g0i2k4m6o8q0su",
    );
    assert_eq!(
        text,
        "StartSession by the broker has no broker record after 30m; CloudTrail's sourceIdentity names frank@example.com"
    );
    assert_eq!(evidence["in_band_identity"], "frank@example.com");
    assert_eq!(evidence["in_band_source"], "source_identity");

    let (text, evidence) = detail(
        "in_band_identity_mismatch",
        "bob@example.com-k2r8m4q6t0w3y5a7c9e1g3i5ko",
    );
    assert_eq!(
        text,
        "CloudTrail's sourceIdentity names bob@example.com but the broker record's caller is mallory@example.com"
    );
    assert_eq!(evidence["source_identity"], "bob@example.com");
    assert_eq!(
        evidence["caller_arn"],
        "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/mallory@example.com"
    );
    assert_eq!(evidence["event_id"], "1a6a5b9f-2e3d-4c7b-9f80-2b3c4d5e6f02");
    assert_eq!(
        evidence["request_id"],
        "d2a1f3e4-5c6b-4d7e-9f80-a12b3c4d5e02"
    );

    let (text, _) = detail(
        "in_band_identity_mismatch",
        "grace@example.com-v0y2a4c6e8g0i2k4m6o8q0s2uw",
    );
    assert_eq!(
        text,
        "CloudTrail's sourceIdentity names grace@example.com but the broker record's caller is heidi@example.com"
    );
    let severities: Vec<&str> = findings
        .iter()
        .filter(|f| f["rule"] == "in_band_identity_mismatch")
        .map(|f| f["severity"].as_str())
        .collect();
    assert_eq!(severities, ["high", "high", "high"]);
}
