//! The posture of the controls per-permission-set Linux users depend on
//! (docs/contracts.md "Posture"): for every account and region in scope, each mapped
//! permission set's session document (exists, `Standard_Stream`, Run As enabled with the
//! policy's `run_as`, idle and maximum durations, logging, encryption); the account's
//! default `SSM-SessionManagerRunShell` preferences (what a session bypassing the broker
//! runs as); IAM Identity Center's attributes for access control and the broker's and
//! session-starter roles' tags (`SSMSessionRunAs` overrides every document); each
//! permission set's inline and managed policies (`ssm:StartSession` only with its own
//! document, with `ssm:SessionDocumentAccessCheck`); the broker's function URL
//! (`AuthType` `AWS_IAM`).
//!
//! AWS state comes from a [`PostureSource`]: [`SnapshotSource`] reads a folder of AWS
//! CLI outputs (`scripts/posture-snapshot.sh`). Every check ends passed, failed (with
//! findings) or not made (with a `posture_check_not_made` finding saying which command's
//! output was missing or bad): a check not made is never a pass.
//!
//! ```
//! use sessiontrail_posture::{PostureSettings, SnapshotSource, check_posture};
//!
//! let snapshot = tempfile::tempdir()?; // an empty snapshot: nothing can be checked
//! std::fs::create_dir_all(snapshot.path().join("accounts/111122223333/eu-west-1"))?;
//! let policy = sessiontrail_correlate::Policy::parse(
//!     "[broker]\nrole_names = [\"sessiontrail-session-starter\"]\n\
//!      [[permission_set]]\nname = \"Admin\"\ndocument = \"SSMRunAs-Admin-Session\"\nrun_as = \"admin\"\n",
//! )?;
//! let source = SnapshotSource::open(snapshot.path())?;
//! let report = check_posture(&policy, &source, &PostureSettings::default())?;
//! assert_eq!(report.passed(), 0);
//! assert!(report.findings.iter().all(|f| f.rule.as_str() == "posture_check_not_made"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod iam;
pub mod rule;
pub mod source;

use std::collections::BTreeSet;
use std::io::Write;

use serde_json::{Value, json};
use sessiontrail_correlate::Policy;

pub use rule::PostureRule;
pub use source::{
    Answer, Call, PostureSource, Recorded, SnapshotSource, aws_cli_error_text, write_snapshot,
};

use iam::{Statement, allowing};

/// What the checks are measured against, beyond the policy file.
#[derive(Debug, Clone, PartialEq)]
pub struct PostureSettings {
    /// Accounts in scope (None: every `accounts/<id>` of the snapshot).
    pub accounts: Option<Vec<String>>,
    /// Regions in scope (None: every `accounts/<id>/<region>` of the snapshot).
    pub regions: Option<Vec<String>>,
    /// The largest `idleSessionTimeout` allowed, minutes.
    pub max_idle_minutes: u32,
    /// The largest `maxSessionDuration` allowed, minutes (absent in a document: no limit,
    /// a failure).
    pub max_session_minutes: u32,
    /// Require `s3BucketName` or `cloudWatchLogGroupName`.
    pub require_logging: bool,
    /// Require `kmsKeyId`.
    pub require_encryption: bool,
    /// The partition of the ARNs the permission-set policies are probed with.
    pub partition: String,
}

impl Default for PostureSettings {
    fn default() -> Self {
        PostureSettings {
            accounts: None,
            regions: None,
            max_idle_minutes: 20,
            max_session_minutes: 60,
            require_logging: true,
            require_encryption: true,
            partition: "aws".into(),
        }
    }
}

/// What a check ended as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CheckStatus {
    Passed,
    Failed,
    NotMade,
}

impl CheckStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Passed => "passed",
            CheckStatus::Failed => "failed",
            CheckStatus::NotMade => "not_made",
        }
    }
}

/// One check of one resource.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckResult {
    /// `session_document`, `default_preferences`, `access_control_attributes`,
    /// `starter_role_tags`, `broker_role_tags`, `permission_set_policies`, `broker_url_auth`.
    pub check: &'static str,
    pub account: Option<String>,
    pub region: Option<String>,
    pub resource: String,
    pub status: CheckStatus,
    /// What was seen (a pass's note says what holds, e.g. who bypassing sessions run as).
    pub note: String,
}

/// One finding: a rule that fired on a resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Finding {
    pub rule: PostureRule,
    pub account: Option<String>,
    pub region: Option<String>,
    /// The document, permission set, role or function the finding is about.
    pub resource: String,
    /// One sentence naming account, region and resource.
    pub detail: String,
}

/// A snapshot file that was there but not what its command prints.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Reject {
    pub reason: String,
}

/// Everything a posture run found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PostureReport {
    pub checks: Vec<CheckResult>,
    pub findings: Vec<Finding>,
    pub rejects: Vec<Reject>,
}

impl PostureReport {
    fn count(&self, status: CheckStatus) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }
    pub fn passed(&self) -> usize {
        self.count(CheckStatus::Passed)
    }
    pub fn failed(&self) -> usize {
        self.count(CheckStatus::Failed)
    }
    pub fn not_made(&self) -> usize {
        self.count(CheckStatus::NotMade)
    }

    /// Every check passed (no finding, no check not made).
    pub fn all_passed(&self) -> bool {
        self.findings.is_empty() && self.checks.iter().all(|c| c.status == CheckStatus::Passed)
    }

    /// `posture: N checks: P passed, F failed, M not made; K findings; R rejects`.
    pub fn summary(&self) -> String {
        format!(
            "posture: {} checks: {} passed, {} failed, {} not made; {} findings; {} rejected snapshot files",
            self.checks.len(),
            self.passed(),
            self.failed(),
            self.not_made(),
            self.findings.len(),
            self.rejects.len()
        )
    }

    /// One line per finding, `RULE<TAB>SEVERITY<TAB>ACCOUNT<TAB>REGION<TAB>RESOURCE<TAB>DETAIL`
    /// (`-` for no account or region), then one `reject<TAB>REASON` line per reject.
    pub fn write_text(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for f in &self.findings {
            writeln!(
                out,
                "{}\t{}\t{}\t{}\t{}\t{}",
                f.rule,
                f.rule.severity().as_str(),
                f.account.as_deref().unwrap_or("-"),
                f.region.as_deref().unwrap_or("-"),
                f.resource,
                f.detail
            )?;
        }
        for r in &self.rejects {
            writeln!(out, "reject\t{}", r.reason)?;
        }
        Ok(())
    }

    /// One JSON object per finding (`rule`, `severity`, `title`, `account`, `region`,
    /// `resource`, `detail`), then one per check (`check`, `status`, ... `note`), then
    /// one per reject (`reject`).
    pub fn write_jsonl(&self, out: &mut dyn Write) -> std::io::Result<()> {
        for f in &self.findings {
            let line = json!({
                "rule": f.rule.as_str(),
                "severity": f.rule.severity().as_str(),
                "title": f.rule.title(),
                "account": f.account,
                "region": f.region,
                "resource": f.resource,
                "detail": f.detail,
            });
            writeln!(out, "{line}")?;
        }
        for c in &self.checks {
            let line = json!({
                "check": c.check,
                "status": c.status.as_str(),
                "account": c.account,
                "region": c.region,
                "resource": c.resource,
                "note": c.note,
            });
            writeln!(out, "{line}")?;
        }
        for r in &self.rejects {
            writeln!(out, "{}", json!({"reject": r.reason}))?;
        }
        Ok(())
    }
}

/// Why posture could not run at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PostureError {
    #[error(
        "no account in scope: the snapshot has no accounts/<account id> folder and --accounts names none"
    )]
    NoAccounts,
    #[error(
        "the policy maps no permission set: add a [[permission_set]] with name, document and run_as"
    )]
    NoPermissionSets,
}

/// The account and region of a place a check looks at.
#[derive(Clone, Copy)]
struct Place<'a> {
    account: Option<&'a str>,
    region: Option<&'a str>,
}

impl Place<'_> {
    fn text(&self) -> String {
        match (self.account, self.region) {
            (Some(a), Some(r)) => format!("in account {a} region {r}"),
            (Some(a), None) => format!("in account {a}"),
            _ => String::new(),
        }
    }
}

/// One check being made: its findings, then its status.
struct Check<'a> {
    name: &'static str,
    place: Place<'a>,
    resource: String,
    findings: Vec<Finding>,
    not_made: bool,
    note: String,
}

impl<'a> Check<'a> {
    fn new(name: &'static str, place: Place<'a>, resource: impl Into<String>) -> Self {
        Check {
            name,
            place,
            resource: resource.into(),
            findings: Vec::new(),
            not_made: false,
            note: String::new(),
        }
    }

    fn fail(&mut self, rule: PostureRule, detail: String) {
        self.findings.push(Finding {
            rule,
            account: self.place.account.map(str::to_string),
            region: self.place.region.map(str::to_string),
            resource: self.resource.clone(),
            detail,
        });
    }

    /// The check could not be made: why.
    fn not_made(&mut self, why: String) {
        let detail = format!(
            "{} check of {} {} not made: {why}",
            self.name.replace('_', " "),
            self.resource,
            self.place.text()
        )
        .replace("  ", " ");
        self.fail(PostureRule::CheckNotMade, detail);
        self.not_made = true;
    }

    fn finish(self, report: &mut PostureReport) {
        let status = if self.not_made {
            CheckStatus::NotMade
        } else if self.findings.is_empty() {
            CheckStatus::Passed
        } else {
            CheckStatus::Failed
        };
        report.checks.push(CheckResult {
            check: self.name,
            account: self.place.account.map(str::to_string),
            region: self.place.region.map(str::to_string),
            resource: self.resource,
            status,
            note: self.note,
        });
        report.findings.extend(self.findings);
    }
}

struct Run<'a> {
    source: &'a dyn PostureSource,
    rejects: BTreeSet<String>,
}

impl Run<'_> {
    /// The output of a call, or why not (rejects recorded).
    fn output(&mut self, call: &Call) -> Result<Value, Answer> {
        match self.source.answer(call) {
            Answer::Output(value) => Ok(value),
            Answer::Unavailable { why, reject: true } => {
                self.rejects.insert(why.clone());
                Err(Answer::Unavailable { why, reject: true })
            }
            other => Err(other),
        }
    }

    fn reject(&mut self, call: &Call, reason: &str) -> String {
        let why = format!("{}: {reason}", call.snapshot_path().display());
        self.rejects.insert(why.clone());
        why
    }
}

fn unavailable_why(answer: &Answer, call: &Call) -> String {
    match answer {
        Answer::Unavailable { why, .. } => why.clone(),
        Answer::AwsError(code) => format!("`{}` failed with {code}", call.command()),
        Answer::Output(_) => String::new(),
    }
}

/// Checks the posture of every account and region in scope.
pub fn check_posture(
    policy: &Policy,
    source: &dyn PostureSource,
    settings: &PostureSettings,
) -> Result<PostureReport, PostureError> {
    if policy.permission_sets.is_empty() {
        return Err(PostureError::NoPermissionSets);
    }
    let accounts = settings
        .accounts
        .clone()
        .unwrap_or_else(|| source.accounts());
    if accounts.is_empty() {
        return Err(PostureError::NoAccounts);
    }
    let mut run = Run {
        source,
        rejects: BTreeSet::new(),
    };
    let mut report = PostureReport::default();
    let mut scope: Vec<(String, String)> = Vec::new();
    for account in &accounts {
        let regions = settings
            .regions
            .clone()
            .unwrap_or_else(|| source.regions(account));
        if regions.is_empty() {
            let mut check = Check::new(
                "session_document",
                Place {
                    account: Some(account),
                    region: None,
                },
                "every session document",
            );
            check.not_made(format!(
                "no region in scope (no folder accounts/{account}/<region> in the snapshot and no --regions)"
            ));
            check.finish(&mut report);
        }
        for region in regions {
            scope.push((account.clone(), region));
        }
    }

    for (account, region) in &scope {
        let place = Place {
            account: Some(account),
            region: Some(region),
        };
        for (name, set) in &policy.permission_sets {
            check_document(
                &mut run,
                &mut report,
                place,
                name,
                &set.document,
                set.run_as.as_deref(),
                settings,
            );
        }
        check_default_preferences(&mut run, &mut report, place, &policy.default_document);
    }
    check_access_control_attributes(&mut run, &mut report);
    for account in &accounts {
        let mut roles: BTreeSet<&str> = policy
            .broker_role_names
            .iter()
            .map(String::as_str)
            .collect();
        for arn in &policy.broker_role_arns {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            if parts.len() == 6
                && parts[4] == account
                && let Some(name) = parts[5].strip_prefix("role/")
            {
                roles.insert(name.rsplit('/').next().unwrap_or(name));
            }
        }
        for role in roles {
            check_role_tags(
                &mut run,
                &mut report,
                "starter_role_tags",
                Place {
                    account: Some(account),
                    region: None,
                },
                role,
                Call::RoleTags {
                    account: account.clone(),
                    role: role.to_string(),
                },
            );
        }
    }
    check_broker(&mut run, &mut report);
    for (name, set) in &policy.permission_sets {
        check_permission_set(
            &mut run,
            &mut report,
            policy,
            name,
            &set.document,
            &scope,
            settings,
        );
    }
    report.rejects = run
        .rejects
        .into_iter()
        .map(|reason| Reject { reason })
        .collect();
    Ok(report)
}

/// A document's `inputs.KEY`, `{{ parameter }}` resolved from the parameter's default.
fn document_input(content: &Value, key: &str) -> Result<Option<Value>, String> {
    let Some(value) = content.get("inputs").and_then(|i| i.get(key)) else {
        return Ok(None);
    };
    let Some(text) = value.as_str() else {
        return Ok(Some(value.clone()));
    };
    let trimmed = text.trim();
    let Some(name) = trimmed
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .map(str::trim)
    else {
        return Ok(Some(value.clone()));
    };
    match content
        .get("parameters")
        .and_then(|p| p.get(name))
        .and_then(|p| p.get("default"))
    {
        Some(default) => Ok(Some(default.clone())),
        None => Err(format!(
            "{key} is {{{{ {name} }}}}, a parameter without a default the caller of StartSession sets"
        )),
    }
}

fn as_bool(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

fn as_minutes(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn non_empty(value: &Option<Value>) -> bool {
    value
        .as_ref()
        .and_then(Value::as_str)
        .is_some_and(|s| !s.trim().is_empty())
}

/// The session document's content: `Content` of `ssm get-document`, a JSON string.
fn document_content(run: &mut Run, call: &Call, output: &Value) -> Result<Value, String> {
    let content = match output.get("Content") {
        Some(Value::String(text)) => serde_json::from_str::<Value>(text).map_err(|e| {
            run.reject(
                call,
                &format!("Content is not JSON ({e}); use --document-format JSON"),
            )
        })?,
        Some(Value::Object(_)) => output["Content"].clone(),
        _ => return Err(run.reject(call, "no Content string, as ssm get-document prints")),
    };
    if !content.is_object() {
        return Err(run.reject(call, "Content is not a JSON object"));
    }
    Ok(content)
}

#[allow(clippy::too_many_arguments)]
fn check_document(
    run: &mut Run,
    report: &mut PostureReport,
    place: Place,
    permission_set: &str,
    document: &str,
    run_as: Option<&str>,
    settings: &PostureSettings,
) {
    let mut check = Check::new("session_document", place, document);
    let at = place.text();
    let call = Call::GetDocument {
        account: place.account.unwrap_or_default().into(),
        region: place.region.unwrap_or_default().into(),
        name: document.into(),
    };
    let output = match run.output(&call) {
        Ok(output) => output,
        Err(Answer::AwsError(code)) if code == "InvalidDocument" => {
            check.fail(
                PostureRule::DocumentMissing,
                format!("session document {document} of permission set {permission_set} does not exist {at}"),
            );
            return check.finish(report);
        }
        Err(answer) => {
            check.not_made(unavailable_why(&answer, &call));
            return check.finish(report);
        }
    };
    let content = match document_content(run, &call, &output) {
        Ok(content) => content,
        Err(why) => {
            check.not_made(why);
            return check.finish(report);
        }
    };
    let session_type = content.get("sessionType").and_then(Value::as_str);
    if session_type != Some("Standard_Stream") {
        check.fail(
            PostureRule::DocumentNotStandardStream,
            format!(
                "session document {document} {at} has sessionType {}, not Standard_Stream",
                session_type.unwrap_or("(none)")
            ),
        );
    }
    match document_input(&content, "runAsEnabled") {
        Ok(Some(v)) if as_bool(&v) == Some(true) => {}
        Ok(v) => check.fail(
            PostureRule::DocumentNotRunAs,
            format!(
                "session document {document} {at} has runAsEnabled {}: its sessions run as ssm-user, not {}",
                v.map_or("(absent)".to_string(), |v| v.to_string()),
                run_as.unwrap_or("the permission set's user")
            ),
        ),
        Err(why) => check.fail(
            PostureRule::DocumentNotRunAs,
            format!("session document {document} {at}: {why}"),
        ),
    }
    match (run_as, document_input(&content, "runAsDefaultUser")) {
        (None, _) => {
            check.note = format!(
                "the policy gives permission set {permission_set} no run_as: runAsDefaultUser not compared"
            );
        }
        (Some(want), Ok(Some(Value::String(user)))) if user == want => {}
        (Some(want), Ok(v)) => check.fail(
            PostureRule::RunAsMismatch,
            format!(
                "session document {document} {at} runs as {}, the policy maps permission set {permission_set} to {want}",
                v.map_or("(no runAsDefaultUser)".to_string(), |v| v.to_string())
            ),
        ),
        (Some(want), Err(why)) => check.fail(
            PostureRule::RunAsMismatch,
            format!("session document {document} {at}: {why} (the policy's run_as is {want})"),
        ),
    }
    let mut bounds = Vec::new();
    match document_input(&content, "idleSessionTimeout") {
        // Absent: Session Manager's default, 20 minutes.
        Ok(None) if settings.max_idle_minutes >= 20 => {}
        Ok(None) => bounds.push(format!(
            "idleSessionTimeout absent (20 minutes) over {}",
            settings.max_idle_minutes
        )),
        Ok(Some(v)) => match as_minutes(&v) {
            Some(m) if m <= u64::from(settings.max_idle_minutes) => {}
            Some(m) => bounds.push(format!(
                "idleSessionTimeout {m} over {} minutes",
                settings.max_idle_minutes
            )),
            None => bounds.push(format!("idleSessionTimeout {v} is not a number of minutes")),
        },
        Err(why) => bounds.push(why),
    }
    match document_input(&content, "maxSessionDuration") {
        Ok(None) => bounds.push("no maxSessionDuration (sessions never end)".into()),
        Ok(Some(v)) => match as_minutes(&v) {
            Some(m) if m <= u64::from(settings.max_session_minutes) => {}
            Some(m) => bounds.push(format!(
                "maxSessionDuration {m} over {} minutes",
                settings.max_session_minutes
            )),
            None => bounds.push(format!("maxSessionDuration {v} is not a number of minutes")),
        },
        Err(why) => bounds.push(why),
    }
    if !bounds.is_empty() {
        check.fail(
            PostureRule::SessionBounds,
            format!("session document {document} {at}: {}", bounds.join("; ")),
        );
    }
    let input = |key: &str| document_input(&content, key).unwrap_or(None);
    if settings.require_logging
        && !non_empty(&input("s3BucketName"))
        && !non_empty(&input("cloudWatchLogGroupName"))
    {
        check.fail(
            PostureRule::SessionLogging,
            format!("session document {document} {at} sets neither s3BucketName nor cloudWatchLogGroupName"),
        );
    }
    if settings.require_encryption && !non_empty(&input("kmsKeyId")) {
        check.fail(
            PostureRule::SessionEncryption,
            format!("session document {document} {at} sets no kmsKeyId"),
        );
    }
    check.finish(report);
}

fn check_default_preferences(
    run: &mut Run,
    report: &mut PostureReport,
    place: Place,
    document: &str,
) {
    let mut check = Check::new("default_preferences", place, document);
    let at = place.text();
    let call = Call::GetDocument {
        account: place.account.unwrap_or_default().into(),
        region: place.region.unwrap_or_default().into(),
        name: document.into(),
    };
    let content = match run.output(&call) {
        Ok(output) => match document_content(run, &call, &output) {
            Ok(content) => content,
            Err(why) => {
                check.not_made(why);
                return check.finish(report);
            }
        },
        Err(Answer::AwsError(code)) if code == "InvalidDocument" => {
            check.note =
                "no Session Manager preferences: bypassing sessions run as ssm-user".into();
            check.fail(
                PostureRule::DefaultRunAs,
                format!("no Session Manager preferences ({document}) {at}: sessions that bypass the broker run as ssm-user"),
            );
            return check.finish(report);
        }
        Err(answer) => {
            check.not_made(unavailable_why(&answer, &call));
            return check.finish(report);
        }
    };
    let enabled = document_input(&content, "runAsEnabled")
        .ok()
        .flatten()
        .and_then(|v| as_bool(&v))
        == Some(true);
    let user = document_input(&content, "runAsDefaultUser")
        .ok()
        .flatten()
        .and_then(|v| v.as_str().map(str::to_string))
        .filter(|u| !u.trim().is_empty());
    match (enabled, user) {
        (true, Some(user)) if user != "root" => {
            check.note = format!("sessions that bypass the broker run as {user}");
        }
        (true, Some(user)) => {
            check.note = "sessions that bypass the broker run as root".into();
            check.fail(
                PostureRule::DefaultRunAs,
                format!("{document} {at} runs sessions that bypass the broker as {user}"),
            );
        }
        _ => {
            check.note = "sessions that bypass the broker run as ssm-user".into();
            check.fail(
                PostureRule::DefaultRunAs,
                format!("{document} {at} does not enable Run As: sessions that bypass the broker run as ssm-user"),
            );
        }
    }
    check.finish(report);
}

/// Does a `[{"Key": ...}]` list hold `SSMSessionRunAs`? An error when it is not such a
/// list.
fn has_run_as_key(items: Option<&Value>, what: &str) -> Result<bool, String> {
    let Some(items) = items.and_then(Value::as_array) else {
        return Err(format!("no {what} array"));
    };
    let mut found = false;
    for item in items {
        let Some(key) = item.get("Key").and_then(Value::as_str) else {
            return Err(format!(
                "{what} holds {item}, not an object with a Key string"
            ));
        };
        found |= key.eq_ignore_ascii_case("SSMSessionRunAs");
    }
    Ok(found)
}

fn check_access_control_attributes(run: &mut Run, report: &mut PostureReport) {
    let place = Place {
        account: None,
        region: None,
    };
    let mut check = Check::new(
        "access_control_attributes",
        place,
        "IAM Identity Center instance",
    );
    let call = Call::AccessControlAttributes;
    match run.output(&call) {
        Ok(output) => {
            let attributes = output
                .get("InstanceAccessControlAttributeConfiguration")
                .and_then(|c| c.get("AccessControlAttributes"));
            match has_run_as_key(
                attributes,
                "InstanceAccessControlAttributeConfiguration.AccessControlAttributes",
            ) {
                Ok(true) => check.fail(
                    PostureRule::AbacRunAs,
                    "IAM Identity Center's attributes for access control pass SSMSessionRunAs: it overrides every session document's runAsDefaultUser".into(),
                ),
                Ok(false) => {}
                Err(e) => {
                    let why = run.reject(&call, &e);
                    check.not_made(why);
                }
            }
        }
        Err(Answer::AwsError(code)) if code == "ResourceNotFoundException" => {
            check.note = "attributes for access control are not enabled".into();
        }
        Err(answer) => check.not_made(unavailable_why(&answer, &call)),
    }
    check.finish(report);
}

fn check_role_tags(
    run: &mut Run,
    report: &mut PostureReport,
    name: &'static str,
    place: Place,
    role: &str,
    call: Call,
) {
    let mut check = Check::new(name, place, role);
    match run.output(&call) {
        Ok(output) => {
            let tags = output.get("Tags");
            match has_run_as_key(tags, "Tags") {
                Ok(true) => check.fail(
                    PostureRule::RoleRunAsTag,
                    format!(
                        "role {role} {} carries an SSMSessionRunAs tag: it overrides every session document's runAsDefaultUser",
                        place.text()
                    )
                    .replace("  ", " "),
                ),
                Ok(false) => {}
                Err(e) => {
                    let why = run.reject(&call, &e);
                    check.not_made(why);
                }
            }
        }
        Err(Answer::AwsError(code)) if code == "NoSuchEntity" => {
            check.note = "the role does not exist".into();
        }
        Err(answer) => check.not_made(unavailable_why(&answer, &call)),
    }
    check.finish(report);
}

fn check_broker(run: &mut Run, report: &mut PostureReport) {
    let call = Call::BrokerFunctionConfiguration;
    let configuration = run.output(&call);
    let (function, account, region, role) = match &configuration {
        Ok(c) => {
            let arn = c.get("FunctionArn").and_then(Value::as_str).unwrap_or("");
            let parts: Vec<&str> = arn.split(':').collect();
            let name = c
                .get("FunctionName")
                .and_then(Value::as_str)
                .unwrap_or("the broker function")
                .to_string();
            let role = c
                .get("Role")
                .and_then(Value::as_str)
                .map(|r| r.rsplit('/').next().unwrap_or(r).to_string());
            (
                name,
                parts.get(4).map(|s| s.to_string()),
                parts.get(3).map(|s| s.to_string()),
                role,
            )
        }
        Err(_) => ("the broker function".to_string(), None, None, None),
    };
    let place = Place {
        account: account.as_deref(),
        region: region.as_deref(),
    };
    let mut check = Check::new("broker_url_auth", place, function.clone());
    let url_call = Call::BrokerUrlConfig;
    match run.output(&url_call) {
        Ok(output) => match output.get("AuthType").and_then(Value::as_str) {
            Some("AWS_IAM") => {}
            Some(other) => check.fail(
                PostureRule::UrlAuth,
                format!(
                    "the broker function {function}'s URL {} has AuthType {other}, not AWS_IAM: anyone can call it",
                    place.text()
                ),
            ),
            None => {
                let why = run.reject(&url_call, "no AuthType, as lambda get-function-url-config prints");
                check.not_made(why);
            }
        },
        Err(Answer::AwsError(code)) if code == "ResourceNotFoundException" => {
            check.note = "the broker function has no function URL".into();
        }
        Err(answer) => check.not_made(unavailable_why(&answer, &url_call)),
    }
    check.finish(report);

    let role_place = Place {
        account: account.as_deref(),
        region: None,
    };
    match (&configuration, role) {
        (Ok(_), Some(role)) => {
            check_role_tags(
                run,
                report,
                "broker_role_tags",
                role_place,
                &role,
                Call::BrokerRoleTags,
            );
        }
        (Ok(_), None) => {
            let why = run.reject(
                &call,
                "no Role, as lambda get-function-configuration prints",
            );
            let mut check = Check::new("broker_role_tags", role_place, "the broker's role");
            check.not_made(why);
            check.finish(report);
        }
        (Err(answer), _) => {
            let mut check = Check::new("broker_role_tags", role_place, "the broker's role");
            check.not_made(unavailable_why(answer, &call));
            check.finish(report);
        }
    }
}

/// The statements of a permission set's inline and managed policies, or why not.
fn permission_set_statements(
    run: &mut Run,
    permission_set: &str,
) -> Result<Vec<Statement>, String> {
    let ps = permission_set.to_string();
    let mut statements = Vec::new();
    let call = Call::InlinePolicy {
        permission_set: ps.clone(),
    };
    let output = run.output(&call).map_err(|a| unavailable_why(&a, &call))?;
    match output.get("InlinePolicy") {
        Some(Value::String(text)) if text.trim().is_empty() => {}
        Some(Value::String(text)) => statements.extend(
            iam::parse_policy_text(text)
                .map_err(|e| run.reject(&call, &format!("InlinePolicy: {e}")))?,
        ),
        Some(Value::Object(_)) => statements.extend(
            iam::parse_policy(&output["InlinePolicy"])
                .map_err(|e| run.reject(&call, &format!("InlinePolicy: {e}")))?,
        ),
        None => {
            return Err(run.reject(
                &call,
                "no InlinePolicy, as get-inline-policy-for-permission-set prints",
            ));
        }
        Some(_) => return Err(run.reject(&call, "InlinePolicy is not a string")),
    }
    let call = Call::ManagedPolicies {
        permission_set: ps.clone(),
    };
    let output = run.output(&call).map_err(|a| unavailable_why(&a, &call))?;
    let Some(attached) = output
        .get("AttachedManagedPolicies")
        .and_then(Value::as_array)
    else {
        return Err(run.reject(&call, "no AttachedManagedPolicies array"));
    };
    for policy in attached {
        let Some(name) = policy.get("Name").and_then(Value::as_str) else {
            return Err(run.reject(&call, "an attached policy without Name"));
        };
        let call = Call::ManagedPolicyVersion {
            permission_set: ps.clone(),
            policy_name: name.to_string(),
        };
        let output = run.output(&call).map_err(|a| unavailable_why(&a, &call))?;
        let parsed = match output.get("PolicyVersion").and_then(|v| v.get("Document")) {
            Some(Value::String(text)) => iam::parse_policy_text(text),
            Some(document @ Value::Object(_)) => iam::parse_policy(document),
            _ => Err("no PolicyVersion.Document".to_string()),
        };
        statements.extend(parsed.map_err(|e| run.reject(&call, &e))?);
    }
    let call = Call::CustomerManagedPolicies { permission_set: ps };
    let output = run.output(&call).map_err(|a| unavailable_why(&a, &call))?;
    match output
        .get("CustomerManagedPolicyReferences")
        .and_then(Value::as_array)
    {
        Some(refs) if refs.is_empty() => {}
        Some(refs) => {
            let names: Vec<&str> = refs
                .iter()
                .filter_map(|r| r.get("Name").and_then(Value::as_str))
                .collect();
            return Err(format!(
                "customer managed policies {} are defined in each account and not read by posture",
                names.join(", ")
            ));
        }
        None => return Err(run.reject(&call, "no CustomerManagedPolicyReferences array")),
    }
    Ok(statements)
}

fn document_arn(partition: &str, region: &str, account: &str, name: &str) -> String {
    // AWS's own documents have no account in their ARN.
    let account = if name.starts_with("AWS-") {
        ""
    } else {
        account
    };
    format!("arn:{partition}:ssm:{region}:{account}:document/{name}")
}

fn check_permission_set(
    run: &mut Run,
    report: &mut PostureReport,
    policy: &Policy,
    permission_set: &str,
    own_document: &str,
    scope: &[(String, String)],
    settings: &PostureSettings,
) {
    let place = Place {
        account: None,
        region: None,
    };
    let mut check = Check::new("permission_set_policies", place, permission_set);
    let statements = match permission_set_statements(run, permission_set) {
        Ok(statements) => statements,
        Err(why) => {
            check.not_made(why);
            return check.finish(report);
        }
    };
    let mut others: BTreeSet<&str> = [
        policy.default_document.as_str(),
        "SSM-SessionManagerRunShell",
        "AWS-StartInteractiveCommand",
        "AWS-StartPortForwardingSession",
        "AWS-StartSSHSession",
        "sessiontrail-posture-probe-document",
    ]
    .into_iter()
    .collect();
    others.extend(policy.permission_sets.values().map(|s| s.document.as_str()));
    others.remove(own_document);
    const START: &str = "ssm:StartSession";
    let p = &settings.partition;
    let mut unrestricted = None;
    let mut unchecked = None;
    for (account, region) in scope {
        if unrestricted.is_none() {
            unrestricted = others.iter().find_map(|doc| {
                let arn = document_arn(p, region, account, doc);
                allowing(&statements, START, &arn)
                    .first()
                    .map(|s| format!("allows ssm:StartSession with document {doc} in account {account} region {region} ({})", s.label()))
            });
        }
        if unchecked.is_none() {
            let targets = [
                format!("arn:{p}:ec2:{region}:{account}:instance/i-0123456789abcdef0"),
                format!("arn:{p}:ssm:{region}:{account}:managed-instance/mi-0123456789abcdef0"),
            ];
            unchecked = targets.iter().find_map(|arn| {
                allowing(&statements, START, arn)
                    .into_iter()
                    .find(|s| !s.has_document_access_check())
                    .map(|s| format!("allows ssm:StartSession on {arn} without ssm:SessionDocumentAccessCheck ({}): a session without a document name runs the default document unchecked", s.label()))
            });
        }
    }
    if let Some(what) = unrestricted {
        check.fail(
            PostureRule::PermissionSetUnrestricted,
            format!("permission set {permission_set} {what}, not only {own_document}"),
        );
    }
    if let Some(what) = unchecked {
        check.fail(
            PostureRule::DocumentAccessCheckMissing,
            format!("permission set {permission_set} {what}"),
        );
    }
    check.finish(report);
}
