//! Matching CloudTrail session events with broker records, giving every session its
//! status and raising the rules' findings (DESIGN.md "Definitions", "Session status",
//! "Rules").
//!
//! [`correlate`] is a pure function of the records it is given, the policy and
//! `as_of`: it neither reads nor writes anything. Runs carry the records that later
//! runs still need (see [`crate::state`]) and call it on all of them, so the result of
//! day 1 then day 2 equals one run over both.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::json;
use sessiontrail_ingest::arn::{
    permission_set_of_arn, permission_set_of_role_name, user_name_of_arn,
};
use sessiontrail_ingest::time::{EpochMillis, format_rfc3339_millis};
use sessiontrail_ingest::{BrokerOutcome, BrokerRecord, SessionEvent, SessionEventName, TokenLeak};

use crate::finding::{Finding, finding_id};
use crate::policy::Policy;
use crate::rule::Rule;
use crate::session::{InBandIdentity, InBandSource, Session};
use crate::status::SessionStatus;

/// What [`correlate`] found.
#[derive(Debug, Default, Clone)]
pub struct Correlation {
    /// Sorted by (start_time, key).
    pub sessions: Vec<Session>,
    /// Sorted by (event_time, finding_id).
    pub findings: Vec<Finding>,
    /// For each session key: the records it was built from, and its latest time.
    pub owners: BTreeMap<String, Owner>,
    /// eventIDs of StartSession records that repeat the session id of an earlier one
    /// (another eventID): the earliest is the session; the others are counted here and
    /// kept with it.
    pub repeated_starts: Vec<String>,
    /// eventIDs of Resume/TerminateSession calls that failed (errorCode): they change
    /// no session; counted here and kept with their session when it is known.
    pub failed_controls: Vec<String>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Owner {
    pub last_activity: EpochMillis,
    pub event_ids: BTreeSet<String>,
    pub request_ids: BTreeSet<String>,
}

impl Owner {
    fn event(&mut self, event: &SessionEvent) {
        self.last_activity = self.last_activity.max(event.event_time);
        self.event_ids.insert(event.event_id.clone());
    }

    fn record(&mut self, record: &BrokerRecord) {
        self.last_activity = self.last_activity.max(record.ts);
        self.request_ids.insert(record.request_id.clone());
    }
}

/// Correlates deduplicated records (one per eventID, one per broker request_id).
pub fn correlate(
    events: &[SessionEvent],
    records: &[BrokerRecord],
    policy: &Policy,
    as_of: EpochMillis,
) -> Correlation {
    let grace = policy.grace.as_millis() as i64;
    let past_grace = |time: EpochMillis| as_of.saturating_sub(time) >= grace;

    let mut events: Vec<&SessionEvent> = events.iter().collect();
    events.sort_by(|a, b| (a.event_time, &a.event_id).cmp(&(b.event_time, &b.event_id)));
    let mut records: Vec<&BrokerRecord> = records.iter().collect();
    records.sort_by(|a, b| (a.ts, &a.request_id).cmp(&(b.ts, &b.request_id)));

    // CloudTrail side.
    let mut starts: BTreeMap<&str, &SessionEvent> = BTreeMap::new();
    let mut starts_by_request: HashMap<&str, &SessionEvent> = HashMap::new();
    let mut failed: Vec<&SessionEvent> = Vec::new();
    // Successful StartSession records without a session id (a publisher nulled
    // `responseElements`): still a session start, keyed by eventID.
    let mut unnumbered: Vec<&SessionEvent> = Vec::new();
    let mut repeated: BTreeMap<&str, Vec<&SessionEvent>> = BTreeMap::new();
    let mut controls: BTreeMap<&str, Vec<&SessionEvent>> = BTreeMap::new();
    let mut failed_controls: BTreeMap<&str, Vec<&SessionEvent>> = BTreeMap::new();
    for &event in &events {
        match event.event_name {
            SessionEventName::StartSession => {
                if let Some(request_id) = event.request_id.as_deref() {
                    starts_by_request.entry(request_id).or_insert(event);
                }
                match (event.failed(), event.session_id.as_deref()) {
                    (true, _) => failed.push(event),
                    (false, None) => unnumbered.push(event),
                    (false, Some(session_id)) => {
                        // Earliest wins; a second start with the same id is kept with it
                        // and counted.
                        if starts.contains_key(session_id) {
                            repeated.entry(session_id).or_default().push(event);
                        } else {
                            starts.insert(session_id, event);
                        }
                    }
                }
            }
            _ => {
                if let Some(session_id) = event.session_id.as_deref() {
                    let by_session = if event.failed() {
                        &mut failed_controls
                    } else {
                        &mut controls
                    };
                    by_session.entry(session_id).or_default().push(event);
                }
            }
        }
    }

    // Broker side: which session each record claims. Matching needs no outcome (a
    // broker that got a SessionId and then failed still names the human); only a
    // `started` record without a CloudTrail counterpart can become an orphan.
    let mut claims: BTreeMap<String, Vec<&BrokerRecord>> = BTreeMap::new();
    // Records matched by ssm_request_id to a StartSession without a session id (failed,
    // or with its responseElements nulled), by that start's eventID.
    let mut event_claims: HashMap<&str, Vec<&BrokerRecord>> = HashMap::new();
    let mut unresolved: Vec<&BrokerRecord> = Vec::new();
    // Denied or error records that match no StartSession: rows of their own.
    let mut unmatched: Vec<&BrokerRecord> = Vec::new();
    for &record in &records {
        let started = record.outcome == BrokerOutcome::Started;
        if let Some(session_id) = &record.session_id
            && (started || starts.contains_key(session_id.as_str()))
        {
            claims.entry(session_id.clone()).or_default().push(record);
        } else if let Some(start) = record
            .ssm_request_id
            .as_deref()
            .and_then(|id| starts_by_request.get(id))
        {
            match (start.failed(), start.session_id.as_deref()) {
                (false, Some(session_id)) => claims
                    .entry(session_id.to_string())
                    .or_default()
                    .push(record),
                _ => event_claims
                    .entry(&start.event_id)
                    .or_default()
                    .push(record),
            }
        } else if started {
            unresolved.push(record);
        } else {
            unmatched.push(record);
        }
    }

    let mut out = Correlation::default();
    let mut builder = Builder {
        policy,
        out: &mut out,
    };

    for (&session_id, &start) in &starts {
        let claim = claims.get(session_id).map(Vec::as_slice).unwrap_or(&[]);
        let via_broker =
            policy.is_broker(start.issuer_arn.as_deref(), start.issuer_name.as_deref());
        let status = match (via_broker, claim.first()) {
            (false, _) => SessionStatus::Direct,
            (true, Some(_)) => SessionStatus::Attributed,
            (true, None) if past_grace(start.event_time) => SessionStatus::Unattributed,
            (true, None) => SessionStatus::Pending,
        };
        let session_controls = controls.get(session_id).map(Vec::as_slice).unwrap_or(&[]);
        builder.cloudtrail_session(start, status, via_broker, claim, session_controls);
    }
    for &start in &unnumbered {
        let via_broker =
            policy.is_broker(start.issuer_arn.as_deref(), start.issuer_name.as_deref());
        let claim = event_claims
            .get(start.event_id.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let status = match (via_broker, claim.first()) {
            (false, _) => SessionStatus::Direct,
            (true, Some(_)) => SessionStatus::Attributed,
            (true, None) if past_grace(start.event_time) => SessionStatus::Unattributed,
            (true, None) => SessionStatus::Pending,
        };
        builder.cloudtrail_session(start, status, via_broker, claim, &[]);
    }
    for &start in &failed {
        let via_broker =
            policy.is_broker(start.issuer_arn.as_deref(), start.issuer_name.as_deref());
        let claim = event_claims
            .get(start.event_id.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        builder.cloudtrail_session(start, SessionStatus::Failed, via_broker, claim, &[]);
    }
    for (session_id, claim) in &claims {
        if starts.contains_key(session_id.as_str()) {
            continue;
        }
        let status = if past_grace(claim[0].ts) {
            SessionStatus::Orphan
        } else {
            SessionStatus::Pending
        };
        let session_controls = controls
            .get(session_id.as_str())
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        builder.broker_session(claim, status, session_controls);
    }
    for &record in &unresolved {
        let status = if past_grace(record.ts) {
            SessionStatus::Orphan
        } else {
            SessionStatus::Pending
        };
        builder.broker_session(&[record], status, &[]);
    }
    for &record in &unmatched {
        let status = match record.outcome {
            BrokerOutcome::Denied => SessionStatus::Denied,
            _ => SessionStatus::Failed,
        };
        builder.broker_session(&[record], status, &[]);
    }
    // Repeated starts and failed controls change no row; they stay with their session
    // (kept and archived with it) and are counted.
    for (session_id, events) in repeated.iter().chain(failed_controls.iter()) {
        if let Some(owner) = out.owners.get_mut(*session_id) {
            events.iter().for_each(|e| owner.event(e));
        }
    }
    out.repeated_starts = repeated
        .values()
        .flatten()
        .map(|e| e.event_id.clone())
        .collect();
    out.failed_controls = failed_controls
        .values()
        .flatten()
        .map(|e| e.event_id.clone())
        .collect();
    let mut builder = Builder {
        policy,
        out: &mut out,
    };
    builder.secrets(&records);

    out.sessions.sort_by_key(|s| (s.start_time, s.key()));
    out.findings
        .sort_by(|a, b| (a.event_time, &a.finding_id).cmp(&(b.event_time, &b.finding_id)));
    out
}

struct Builder<'a> {
    policy: &'a Policy,
    out: &'a mut Correlation,
}

/// A rule about one session: raises its findings on the subject (none, one, or one per
/// control call).
type SessionRule = fn(&mut Builder<'_>, &Subject<'_>);

/// The rules about one session, each a function of its own, in the order their
/// findings are raised. Every rule is here but secret_in_broker_log, which is about
/// records (a test checks this list against [`Rule::ALL`]).
const SESSION_RULES: [(Rule, SessionRule); 11] = [
    (Rule::UnattributedSession, |b, s| b.unattributed_session(s)),
    (Rule::OrphanBrokerRecord, |b, s| b.orphan_broker_record(s)),
    (Rule::DirectSession, |b, s| b.direct_session(s)),
    (Rule::UnknownPermissionSet, |b, s| {
        b.unknown_permission_set(s)
    }),
    (Rule::DocumentMismatch, |b, s| b.document_mismatch(s)),
    (Rule::RunAsMismatch, |b, s| b.run_as_mismatch(s)),
    (Rule::FieldMismatch, |b, s| b.field_mismatch(s)),
    (Rule::InBandIdentityMismatch, |b, s| {
        b.in_band_identity_mismatch(s)
    }),
    (Rule::ClockSkew, |b, s| b.clock_skew(s)),
    (Rule::DuplicateBrokerClaim, |b, s| {
        b.duplicate_broker_claim(s)
    }),
    (Rule::ForeignSessionControl, |b, s| {
        b.foreign_session_control(s)
    }),
];

/// The session a [`SessionRule`] judges, with the records it was built from.
struct Subject<'a> {
    session: &'a Session,
    /// `session.key()`.
    key: String,
    /// Its StartSession (none for a broker-only session).
    start: Option<&'a SessionEvent>,
    /// The broker records that claim it, earliest first.
    claim: &'a [&'a BrokerRecord],
    /// Its successful Resume/TerminateSession calls.
    controls: &'a [&'a SessionEvent],
}

impl<'a> Subject<'a> {
    /// The broker record the session is attributed by: the earliest claim.
    fn primary(&self) -> Option<&'a BrokerRecord> {
        self.claim.first().copied()
    }

    /// A broker session matched with its broker record.
    fn matched(&self) -> bool {
        self.session.status == SessionStatus::Attributed
    }

    /// The StartSession and broker record of a matched session.
    fn matched_pair(&self) -> Option<(&'a SessionEvent, &'a BrokerRecord)> {
        self.start.zip(self.primary()).filter(|_| self.matched())
    }

    /// The policy's entry for the session's permission set, when it has one.
    fn expected<'p>(&self, policy: &'p Policy) -> Option<&'p crate::policy::PermissionSetPolicy> {
        self.session
            .permission_set
            .as_deref()
            .and_then(|p| policy.permission_set(p))
    }
}

impl Builder<'_> {
    fn cloudtrail_session(
        &mut self,
        start: &SessionEvent,
        status: SessionStatus,
        via_broker: bool,
        claim: &[&BrokerRecord],
        session_controls: &[&SessionEvent],
    ) {
        let policy = self.policy;
        let primary = claim.first().copied();
        let matched = via_broker && primary.is_some();
        let original_principal = if matched {
            primary.map(|r| r.caller_arn.clone())
        } else if !via_broker {
            start.principal_arn.clone()
        } else {
            None
        };
        let permission_set = if matched {
            primary.and_then(|r| permission_set_of_arn(&r.caller_arn))
        } else if !via_broker {
            start
                .issuer_name
                .as_deref()
                .and_then(permission_set_of_role_name)
                .or_else(|| {
                    start
                        .principal_arn
                        .as_deref()
                        .and_then(permission_set_of_arn)
                })
        } else {
            None
        }
        .map(str::to_string);
        let document = start
            .document_name
            .clone()
            .unwrap_or_else(|| policy.default_document.clone());
        let end_time = end_time(session_controls);
        let in_band = InBandIdentity::of(start);
        let session = Session {
            session_id: (status != SessionStatus::Failed)
                .then(|| start.session_id.clone())
                .flatten(),
            status,
            start_time: start.event_time,
            end_time,
            account_id: start.account_id.clone(),
            region: start.region.clone(),
            target: start.target.clone(),
            document_name: Some(document.clone()),
            via_broker,
            cloudtrail_event_id: Some(start.event_id.clone()),
            cloudtrail_principal_arn: start.principal_arn.clone(),
            original_user: original_user(original_principal.as_deref(), primary),
            original_principal_arn: original_principal,
            expected_document: permission_set
                .as_deref()
                .and_then(|p| policy.permission_set(p))
                .map(|p| p.document.clone()),
            run_as: primary.and_then(|r| r.run_as.clone()).or_else(|| {
                permission_set
                    .as_deref()
                    .and_then(|p| policy.permission_set(p))
                    .and_then(|p| p.run_as.clone())
            }),
            permission_set,
            broker_request_id: primary.map(|r| r.request_id.clone()),
            source_ip: primary
                .and_then(|r| r.source_ip.clone())
                .or_else(|| start.source_ip.clone()),
            user_agent: start.user_agent.clone(),
            in_band_source: in_band.as_ref().map(|i| i.source),
            in_band_identity_store: in_band.as_ref().and_then(|i| i.identity_store.clone()),
            cloudtrail_file: start.source.as_ref().map(|s| s.file.clone()),
            cloudtrail_byte_offset: start.source.as_ref().map(|s| s.byte_offset),
            cloudtrail_evidence: None,
            broker_file: primary
                .and_then(|r| r.source.as_ref())
                .map(|s| s.file.clone()),
            broker_line: primary.and_then(|r| r.source.as_ref()).map(|s| s.line),
            in_band_identity: in_band.map(|i| i.identity),
            reason: start.reason.clone(),
        };
        let key = session.key();
        let owner = self.out.owners.entry(key).or_default();
        owner.event(start);
        claim.iter().for_each(|r| owner.record(r));
        session_controls.iter().for_each(|e| owner.event(e));

        if status != SessionStatus::Failed {
            self.session_findings(&session, Some(start), claim, session_controls);
        }
        self.out.sessions.push(session);
    }

    fn broker_session(
        &mut self,
        claim: &[&BrokerRecord],
        status: SessionStatus,
        session_controls: &[&SessionEvent],
    ) {
        let policy = self.policy;
        let record = claim[0];
        let permission_set = permission_set_of_arn(&record.caller_arn).map(str::to_string);
        let session = Session {
            session_id: record.session_id.clone(),
            status,
            start_time: record.ts,
            end_time: end_time(session_controls),
            account_id: Some(record.account_id.clone()),
            region: Some(record.region.clone()),
            target: Some(record.target.clone()),
            document_name: record.document_name.clone(),
            via_broker: true,
            cloudtrail_event_id: None,
            cloudtrail_principal_arn: None,
            original_principal_arn: Some(record.caller_arn.clone()),
            original_user: original_user(Some(&record.caller_arn), Some(record)),
            expected_document: permission_set
                .as_deref()
                .and_then(|p| policy.permission_set(p))
                .map(|p| p.document.clone()),
            run_as: record.run_as.clone().or_else(|| {
                permission_set
                    .as_deref()
                    .and_then(|p| policy.permission_set(p))
                    .and_then(|p| p.run_as.clone())
            }),
            permission_set,
            broker_request_id: Some(record.request_id.clone()),
            source_ip: record.source_ip.clone(),
            user_agent: None,
            // No CloudTrail record: nothing in band.
            in_band_identity: None,
            in_band_source: None,
            in_band_identity_store: None,
            cloudtrail_file: None,
            cloudtrail_byte_offset: None,
            cloudtrail_evidence: None,
            broker_file: record.source.as_ref().map(|s| s.file.clone()),
            broker_line: record.source.as_ref().map(|s| s.line),
            reason: None,
        };
        let owner = self.out.owners.entry(session.key()).or_default();
        claim.iter().for_each(|r| owner.record(r));
        session_controls.iter().for_each(|e| owner.event(e));
        if !matches!(status, SessionStatus::Denied | SessionStatus::Failed) {
            self.session_findings(&session, None, claim, session_controls);
        }
        self.out.sessions.push(session);
    }

    /// Every rule that is about one session (all but secret_in_broker_log, which
    /// [`Builder::secrets`] raises over all records): [`SESSION_RULES`] in turn.
    fn session_findings(
        &mut self,
        session: &Session,
        start: Option<&SessionEvent>,
        claim: &[&BrokerRecord],
        session_controls: &[&SessionEvent],
    ) {
        let subject = Subject {
            key: session.key(),
            session,
            start,
            claim,
            controls: session_controls,
        };
        for (rule, check) in SESSION_RULES {
            let before = self.out.findings.len();
            check(self, &subject);
            debug_assert!(
                self.out.findings[before..].iter().all(|f| f.rule == rule),
                "the check of {rule} raised another rule"
            );
        }
    }

    /// unattributed_session: the status says it. An in-band identity (the StartSession
    /// names one itself) says whose session it probably was.
    fn unattributed_session(&mut self, s: &Subject) {
        let session = s.session;
        if session.status != SessionStatus::Unattributed {
            return;
        }
        let waited = humanize(self.policy.grace);
        let mut evidence = json!({"event_id": session.cloudtrail_event_id,
                                  "principal_arn": session.cloudtrail_principal_arn});
        let detail = match (&session.in_band_identity, session.in_band_source) {
            (Some(identity), Some(source)) => {
                evidence["in_band_identity"] = json!(identity);
                evidence["in_band_source"] = json!(source.as_str());
                let whose = match (source, &session.in_band_identity_store) {
                    (InBandSource::OnBehalfOf, Some(store)) => {
                        evidence["in_band_identity_store"] = json!(store);
                        format!("Identity Center user {identity} of {store}")
                    }
                    (InBandSource::OnBehalfOf, None) => format!("Identity Center user {identity}"),
                    (InBandSource::SourceIdentity, _) => identity.clone(),
                };
                format!(
                    "StartSession by the broker has no broker record after {waited}; CloudTrail's {} names {whose}",
                    source.field_name()
                )
            }
            _ => format!(
                "StartSession by the broker has no broker record after {waited}: no human is known for this session"
            ),
        };
        self.push(Rule::UnattributedSession, &s.key, session, detail, evidence);
    }

    /// orphan_broker_record: the status says it.
    fn orphan_broker_record(&mut self, s: &Subject) {
        if s.session.status != SessionStatus::Orphan {
            return;
        }
        self.push(
            Rule::OrphanBrokerRecord,
            &s.key,
            s.session,
            format!(
                "the broker logged a started session that CloudTrail has not recorded after {}",
                humanize(self.policy.grace)
            ),
            json!({"request_id": s.session.broker_request_id, "caller_arn": s.session.original_principal_arn}),
        );
    }

    /// direct_session: a direct session that `[direct]` does not allow.
    fn direct_session(&mut self, s: &Subject) {
        let (policy, session) = (self.policy, s.session);
        if session.status != SessionStatus::Direct {
            return;
        }
        let allowed = session
            .permission_set
            .as_deref()
            .is_some_and(|p| policy.direct_allowed_permission_sets.contains(p))
            || s.start.is_some_and(|start| {
                [start.issuer_arn.as_deref(), start.principal_arn.as_deref()]
                    .into_iter()
                    .flatten()
                    .any(|arn| policy.direct_allowed_principals.contains(arn))
            });
        if allowed {
            return;
        }
        self.push(
            Rule::DirectSession,
            &s.key,
            session,
            "session started without the broker by a principal not allowed under [direct]"
                .to_string(),
            json!({
                "event_id": session.cloudtrail_event_id,
                "principal_arn": session.cloudtrail_principal_arn,
                "issuer_arn": s.start.and_then(|start| start.issuer_arn.clone()),
                "permission_set": session.permission_set,
            }),
        );
    }

    /// unknown_permission_set: a matched session whose permission set the policy does
    /// not know. Then [`Subject::expected`] is none, so document_mismatch and
    /// run_as_mismatch do not fire.
    fn unknown_permission_set(&mut self, s: &Subject) {
        let session = s.session;
        if !s.matched()
            || self
                .policy
                .permission_set(session.permission_set.as_deref().unwrap_or(""))
                .is_some()
        {
            return;
        }
        let what = match &session.permission_set {
            Some(name) => format!("permission set {name:?} is not in the policy"),
            None => "the caller is not an IAM Identity Center role".to_string(),
        };
        self.push(
            Rule::UnknownPermissionSet,
            &s.key,
            session,
            format!(
                "broker session by {}: {what}",
                session.original_principal_arn.as_deref().unwrap_or("?")
            ),
            json!({"caller_arn": session.original_principal_arn, "permission_set": session.permission_set,
                   "request_id": session.broker_request_id}),
        );
    }

    /// document_mismatch: an attributed, direct or orphan session of a permission set
    /// in the policy used another document than that permission set's.
    fn document_mismatch(&mut self, s: &Subject) {
        let session = s.session;
        if !matches!(
            session.status,
            SessionStatus::Attributed | SessionStatus::Direct | SessionStatus::Orphan
        ) {
            return;
        }
        let Some(expected) = s.expected(self.policy) else {
            return;
        };
        let used = session
            .document_name
            .as_deref()
            .unwrap_or(&self.policy.default_document);
        if used == expected.document {
            return;
        }
        self.push(
            Rule::DocumentMismatch,
            &s.key,
            session,
            format!(
                "permission set {} must use document {} but the session used {}",
                session.permission_set.as_deref().unwrap_or(""),
                expected.document,
                used
            ),
            json!({"expected_document": expected.document, "document_name": used,
                   "event_id": session.cloudtrail_event_id, "request_id": session.broker_request_id}),
        );
    }

    /// run_as_mismatch: the matched broker record's run_as is not the policy's.
    fn run_as_mismatch(&mut self, s: &Subject) {
        if !s.matched() {
            return;
        }
        if let Some(expected) = s.expected(self.policy)
            && let (Some(record), Some(expected_user)) = (s.primary(), expected.run_as.as_deref())
            && let Some(run_as) = record.run_as.as_deref()
            && run_as != expected_user
        {
            self.push(
                Rule::RunAsMismatch,
                &s.key,
                s.session,
                format!(
                    "the broker ran the session as {run_as} but permission set {} maps to {expected_user}",
                    s.session.permission_set.as_deref().unwrap_or("")
                ),
                json!({"run_as": run_as, "expected_run_as": expected_user, "request_id": record.request_id}),
            );
        }
    }

    /// field_mismatch: the matched StartSession and broker record disagree; one finding
    /// naming every field that differs.
    fn field_mismatch(&mut self, s: &Subject) {
        let Some((start, record)) = s.matched_pair() else {
            return;
        };
        let policy = self.policy;
        let document = start
            .document_name
            .as_deref()
            .unwrap_or(&policy.default_document);
        let parsed_set = permission_set_of_arn(&record.caller_arn);
        let pairs: [(&str, Option<&str>, Option<&str>); 5] = [
            (
                "target",
                start.target.as_deref(),
                Some(record.target.as_str()),
            ),
            (
                "account_id",
                start.account_id.as_deref(),
                Some(record.account_id.as_str()),
            ),
            (
                "region",
                start.region.as_deref(),
                Some(record.region.as_str()),
            ),
            (
                "document_name",
                Some(document),
                record.document_name.as_deref(),
            ),
            (
                "permission_set",
                parsed_set,
                record.permission_set.as_deref(),
            ),
        ];
        let mut differing = serde_json::Map::new();
        for (name, cloudtrail, broker) in pairs {
            if let (Some(cloudtrail), Some(broker)) = (cloudtrail, broker)
                && cloudtrail != broker
            {
                differing.insert(
                    name.to_string(),
                    json!({"cloudtrail": cloudtrail, "broker": broker}),
                );
            }
            if name == "permission_set" && parsed_set.is_none() && broker.is_some() {
                differing.insert(
                    name.to_string(),
                    json!({"caller_arn": record.caller_arn, "broker": broker}),
                );
            }
        }
        if differing.is_empty() {
            return;
        }
        let names: Vec<&str> = differing.keys().map(String::as_str).collect();
        let detail = format!(
            "CloudTrail and the broker record disagree on {}",
            names.join(", ")
        );
        self.push(
            Rule::FieldMismatch,
            &s.key,
            s.session,
            detail,
            json!({"fields": differing, "event_id": start.event_id, "request_id": record.request_id}),
        );
    }

    /// in_band_identity_mismatch: the matched StartSession's `sourceIdentity` is not the
    /// user of the broker record's caller (case-sensitive, as STS keeps both). An
    /// `onBehalfOf` user id is not compared: no broker record carries one.
    fn in_band_identity_mismatch(&mut self, s: &Subject) {
        let Some((start, record)) = s.matched_pair() else {
            return;
        };
        let Some(source_identity) = start.source_identity.as_deref() else {
            return;
        };
        let caller_user = s.session.original_user.as_deref();
        if caller_user == Some(source_identity) {
            return;
        }
        self.push(
            Rule::InBandIdentityMismatch,
            &s.key,
            s.session,
            format!(
                "CloudTrail's sourceIdentity names {source_identity} but the broker record's caller is {}",
                caller_user.unwrap_or("no user")
            ),
            json!({"source_identity": source_identity, "original_user": caller_user,
                   "caller_arn": record.caller_arn, "event_id": start.event_id,
                   "request_id": record.request_id}),
        );
    }

    /// clock_skew: the matched pair's times are further apart than max_clock_skew.
    fn clock_skew(&mut self, s: &Subject) {
        let Some((start, record)) = s.matched_pair() else {
            return;
        };
        let policy = self.policy;
        let skew = (record.ts - start.event_time).abs();
        if skew <= policy.max_clock_skew.as_millis() as i64 {
            return;
        }
        self.push(
            Rule::ClockSkew,
            &s.key,
            s.session,
            format!(
                "broker ts and CloudTrail eventTime are {} apart (allowed: {})",
                humanize(std::time::Duration::from_millis(skew as u64)),
                humanize(policy.max_clock_skew)
            ),
            json!({"ts": format_rfc3339_millis(record.ts), "event_time": format_rfc3339_millis(start.event_time),
                   "skew_ms": skew, "request_id": record.request_id, "event_id": start.event_id}),
        );
    }

    /// duplicate_broker_claim: broker records with different request ids claim the
    /// session.
    fn duplicate_broker_claim(&mut self, s: &Subject) {
        let mut claimants: Vec<&BrokerRecord> = s.claim.to_vec();
        claimants.dedup_by(|a, b| a.request_id == b.request_id);
        if claimants.len() <= 1 {
            return;
        }
        let callers: BTreeSet<&str> = claimants.iter().map(|r| r.caller_arn.as_str()).collect();
        self.push(
            Rule::DuplicateBrokerClaim,
            &s.key,
            s.session,
            format!(
                "{} broker records claim this session ({} distinct callers); the earliest is used",
                claimants.len(),
                callers.len()
            ),
            json!({"request_ids": claimants.iter().map(|r| &r.request_id).collect::<Vec<_>>(),
                   "caller_arns": claimants.iter().map(|r| &r.caller_arn).collect::<Vec<_>>()}),
        );
    }

    /// foreign_session_control: one finding per Resume/TerminateSession by neither a
    /// broker principal nor the session's original principal.
    fn foreign_session_control(&mut self, s: &Subject) {
        let session = s.session;
        for control in s.controls {
            let by_broker = self.policy.is_broker(
                control.issuer_arn.as_deref(),
                control.issuer_name.as_deref(),
            );
            let by_owner = session.original_principal_arn.is_some()
                && control.principal_arn == session.original_principal_arn;
            if by_broker || by_owner {
                continue;
            }
            let mut finding = self.finding(
                Rule::ForeignSessionControl,
                &control.event_id,
                session,
                format!(
                    "{} by {}, who is neither the broker nor the session's original principal",
                    control.event_name.as_str(),
                    control
                        .principal_arn
                        .as_deref()
                        .unwrap_or("an unknown principal")
                ),
                json!({"event_id": control.event_id, "event_name": control.event_name.as_str(),
                       "principal_arn": control.principal_arn,
                       "original_principal_arn": session.original_principal_arn}),
            );
            finding.event_time = control.event_time;
            finding.principal_arn = control.principal_arn.clone();
            self.out.findings.push(finding);
        }
    }

    /// secret_in_broker_log: once per session (or per record without a session id).
    fn secrets(&mut self, records: &[&BrokerRecord]) {
        // A record belongs to the session it was matched with (by session id or by
        // ssm_request_id); a record of no session is known by its request id.
        let open: BTreeSet<String> = self
            .out
            .sessions
            .iter()
            .filter(|s| s.status != SessionStatus::Failed)
            .map(Session::key)
            .collect();
        let record_owner: HashMap<&str, &str> = self
            .out
            .owners
            .iter()
            .filter(|(key, _)| open.contains(*key))
            .flat_map(|(key, owner)| {
                owner
                    .request_ids
                    .iter()
                    .map(move |id| (id.as_str(), key.as_str()))
            })
            .collect();
        let mut by_key: BTreeMap<String, Vec<&BrokerRecord>> = BTreeMap::new();
        for &record in records.iter().filter(|r| !r.token_paths.is_empty()) {
            let key = match (
                record_owner.get(record.request_id.as_str()),
                &record.session_id,
            ) {
                (Some(owner), _) => owner.to_string(),
                (None, Some(id)) => id.clone(),
                (None, None) => format!("broker:{}", record.request_id),
            };
            by_key.entry(key).or_default().push(record);
        }
        for (key, leaking) in by_key {
            let session = self
                .out
                .sessions
                .iter()
                .find(|s| s.status != SessionStatus::Failed && s.key() == key)
                .cloned();
            let first = leaking[0];
            let paths: BTreeSet<&str> = leaking
                .iter()
                .flat_map(|r| r.token_paths.iter().map(String::as_str))
                .collect();
            let detail = format!(
                "the broker log holds a session token (in {}); the value was not stored",
                paths.iter().copied().collect::<Vec<_>>().join(", ")
            );
            let evidence = json!({"request_ids": leaking.iter().map(|r| &r.request_id).collect::<Vec<_>>(),
                                  "session_id": first.session_id, "token_paths": paths});
            let finding = match &session {
                Some(session) => {
                    self.finding(Rule::SecretInBrokerLog, &key, session, detail, evidence)
                }
                None => Finding {
                    finding_id: finding_id(Rule::SecretInBrokerLog, &key),
                    rule: Rule::SecretInBrokerLog,
                    // No session row carries this id: the row names none.
                    session_id: None,
                    event_time: first.ts,
                    account_id: Some(first.account_id.clone()),
                    region: Some(first.region.clone()),
                    target: Some(first.target.clone()),
                    principal_arn: Some(first.caller_arn.clone()),
                    permission_set: permission_set_of_arn(&first.caller_arn).map(str::to_string),
                    detail,
                    evidence,
                    owner: format!("broker:{}", first.request_id),
                },
            };
            let owner = self.out.owners.entry(finding.owner.clone()).or_default();
            leaking.iter().for_each(|r| owner.record(r));
            self.out.findings.push(finding);
        }
    }

    fn finding(
        &self,
        rule: Rule,
        key: &str,
        session: &Session,
        detail: String,
        evidence: serde_json::Value,
    ) -> Finding {
        Finding {
            finding_id: finding_id(rule, key),
            rule,
            session_id: session.session_id.clone(),
            event_time: session.start_time,
            account_id: session.account_id.clone(),
            region: session.region.clone(),
            target: session.target.clone(),
            principal_arn: session
                .original_principal_arn
                .clone()
                .or_else(|| session.cloudtrail_principal_arn.clone()),
            permission_set: session.permission_set.clone(),
            detail,
            evidence,
            owner: session.key(),
        }
    }

    fn push(
        &mut self,
        rule: Rule,
        key: &str,
        session: &Session,
        detail: String,
        evidence: serde_json::Value,
    ) {
        let finding = self.finding(rule, key, session, detail, evidence);
        self.out.findings.push(finding);
    }
}

/// The end of a session: its first successful TerminateSession.
fn end_time(session_controls: &[&SessionEvent]) -> Option<EpochMillis> {
    session_controls
        .iter()
        .filter(|e| e.event_name == SessionEventName::TerminateSession)
        .map(|e| e.event_time)
        .min()
}

/// The human's user name: from the principal ARN, else from `caller_user_id`
/// (`AROA...:alice@example.com`).
fn original_user(principal: Option<&str>, record: Option<&BrokerRecord>) -> Option<String> {
    principal
        .and_then(user_name_of_arn)
        .map(str::to_string)
        .or_else(|| {
            record
                .and_then(|r| r.caller_user_id.as_deref())
                .and_then(|id| id.split_once(':'))
                .map(|(_, user)| user.to_string())
        })
}

fn humanize(duration: std::time::Duration) -> String {
    let secs = duration.as_secs();
    match secs {
        s if s % 86_400 == 0 && s > 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 && s > 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 && s > 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The key of a token found outside a broker record: its request id when the line
/// named one, else where it was read.
pub fn leak_key(leak: &TokenLeak) -> String {
    match &leak.request_id {
        Some(request_id) => format!("leak:broker:{request_id}"),
        None => format!("leak:{}:{}", leak.source_file, leak.line),
    }
}

/// `secret_in_broker_log` for tokens found outside broker records (a log line without
/// `v`, a rejected record): one finding per leak key. `event_time` is the line's time,
/// else `first_seen(finding_id)` (when it was first announced), else `as_of`.
pub fn leak_findings(
    leaks: &[TokenLeak],
    sessions: &[Session],
    first_seen: impl Fn(&str) -> Option<EpochMillis>,
    as_of: EpochMillis,
) -> Vec<Finding> {
    let mut by_key: BTreeMap<String, Vec<&TokenLeak>> = BTreeMap::new();
    for leak in leaks {
        by_key.entry(leak_key(leak)).or_default().push(leak);
    }
    by_key
        .into_iter()
        .map(|(key, leaking)| {
            let first = leaking[0];
            let id = finding_id(Rule::SecretInBrokerLog, &key);
            let session = first.session_id.as_deref().and_then(|sid| {
                sessions
                    .iter()
                    .find(|s| s.session_id.as_deref() == Some(sid) && s.status != SessionStatus::Failed)
            });
            let paths: BTreeSet<&str> = leaking
                .iter()
                .flat_map(|l| l.token_paths.iter().map(String::as_str))
                .collect();
            let places: BTreeSet<String> = leaking
                .iter()
                .map(|l| format!("{}:{}", l.source_file, l.line))
                .collect();
            let detail = format!(
                "the broker log holds a session token outside a broker record (in {}, at {}); the value was not stored",
                paths.iter().copied().collect::<Vec<_>>().join(", "),
                places.iter().cloned().collect::<Vec<_>>().join(", ")
            );
            let caller = first.caller_arn.clone();
            Finding {
                event_time: first.ts.or_else(|| first_seen(&id)).unwrap_or(as_of),
                finding_id: id,
                rule: Rule::SecretInBrokerLog,
                session_id: session.and_then(|s| s.session_id.clone()),
                account_id: first.account_id.clone(),
                region: first.region.clone(),
                target: first.target.clone(),
                permission_set: caller
                    .as_deref()
                    .and_then(permission_set_of_arn)
                    .map(str::to_string),
                principal_arn: caller,
                detail,
                evidence: json!({"request_id": first.request_id, "session_id": first.session_id,
                                 "token_paths": paths, "lines": places}),
                owner: key,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules about records rather than one session: raised by `Builder::secrets`
    /// and `leak_findings`.
    const RECORD_RULES: [Rule; 1] = [Rule::SecretInBrokerLog];

    const POLICY: &str = r#"
[broker]
role_names = ["sessiontrail-session-starter"]
grace = "30m"
[[permission_set]]
name = "Admin"
document = "SSMRunAs-Admin-Session"
run_as = "admin"
"#;
    /// 2026-07-15T12:45:55Z
    const T: EpochMillis = 1_784_119_555_000;

    /// StartSession of the broker's session-starter role, as CloudTrail records it.
    fn start(session_id: &str, source_identity: Option<&str>) -> SessionEvent {
        SessionEvent {
            event_id: format!("event-{session_id}"),
            event_name: SessionEventName::StartSession,
            event_time: T,
            event_version: Some("1.11".into()),
            account_id: Some("111122223333".into()),
            region: Some("eu-west-1".into()),
            request_id: Some(format!("request-{session_id}")),
            principal_type: Some("AssumedRole".into()),
            principal_arn: Some(format!(
                "arn:aws:sts::111122223333:assumed-role/sessiontrail-session-starter/{}",
                source_identity.unwrap_or("broker")
            )),
            issuer_arn: Some("arn:aws:iam::111122223333:role/sessiontrail-session-starter".into()),
            issuer_name: Some("sessiontrail-session-starter".into()),
            session_id: Some(session_id.into()),
            target: Some("i-0123456789abcdef0".into()),
            document_name: Some("SSMRunAs-Admin-Session".into()),
            error_code: None,
            source_ip: None,
            user_agent: None,
            source_identity: source_identity.map(str::to_string),
            on_behalf_of_user_id: None,
            on_behalf_of_identity_store_arn: None,
            reason: Some("OPS-42".into()),
            source: None,
        }
    }

    /// The broker's record of a session started for `user` (Admin).
    fn record(session_id: &str, user: &str) -> BrokerRecord {
        BrokerRecord {
            request_id: format!("lambda-{session_id}"),
            ts: T - 400,
            caller_arn: format!(
                "arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/{user}"
            ),
            caller_user_id: Some(format!("AROAEXAMPLESSOADMIN1:{user}")),
            permission_set: Some("Admin".into()),
            account_id: "111122223333".into(),
            region: "eu-west-1".into(),
            target: "i-0123456789abcdef0".into(),
            document_name: Some("SSMRunAs-Admin-Session".into()),
            run_as: Some("admin".into()),
            outcome: BrokerOutcome::Started,
            session_id: Some(session_id.into()),
            ssm_request_id: None,
            reason: Some("OPS-42".into()),
            source_ip: None,
            token_paths: vec![],
            source: None,
        }
    }

    fn run(events: &[SessionEvent], records: &[BrokerRecord]) -> Correlation {
        correlate(
            events,
            records,
            &Policy::parse(POLICY).unwrap(),
            T + 3_600_000,
        )
    }

    fn rules_of<'a>(out: &'a Correlation, session_id: &str) -> Vec<&'a str> {
        out.findings
            .iter()
            .filter(|f| f.session_id.as_deref() == Some(session_id))
            .map(|f| f.rule.as_str())
            .collect()
    }

    #[test]
    fn a_source_identity_other_than_the_callers_user_is_a_mismatch() {
        let events = [
            start("s-same", Some("alice@example.com")),
            start("s-swapped", Some("bob@example.com")),
            start("s-case", Some("Alice@example.com")),
            start("s-none", None),
        ];
        let records = [
            record("s-same", "alice@example.com"),
            record("s-swapped", "alice@example.com"),
            record("s-case", "alice@example.com"),
            record("s-none", "alice@example.com"),
        ];
        let out = run(&events, &records);
        assert!(
            out.sessions
                .iter()
                .all(|s| s.status == SessionStatus::Attributed)
        );
        assert_eq!(rules_of(&out, "s-same"), Vec::<&str>::new());
        assert_eq!(rules_of(&out, "s-none"), Vec::<&str>::new());
        assert_eq!(rules_of(&out, "s-case"), ["in_band_identity_mismatch"]);
        assert_eq!(rules_of(&out, "s-swapped"), ["in_band_identity_mismatch"]);
        let swapped = out
            .findings
            .iter()
            .find(|f| f.session_id.as_deref() == Some("s-swapped"))
            .unwrap();
        assert_eq!(
            swapped.detail,
            "CloudTrail's sourceIdentity names bob@example.com but the broker record's caller is alice@example.com"
        );
        assert_eq!(swapped.evidence["source_identity"], "bob@example.com");
        assert_eq!(swapped.evidence["original_user"], "alice@example.com");
        assert_eq!(swapped.evidence["request_id"], "lambda-s-swapped");
        let row = out
            .sessions
            .iter()
            .find(|s| s.session_id.as_deref() == Some("s-swapped"))
            .unwrap();
        assert_eq!(row.in_band_identity.as_deref(), Some("bob@example.com"));
        assert_eq!(row.in_band_source, Some(InBandSource::SourceIdentity));
        assert_eq!(row.in_band_identity_store, None);
        assert_eq!(row.reason.as_deref(), Some("OPS-42"));
        assert_eq!(row.original_user.as_deref(), Some("alice@example.com"));
    }

    #[test]
    fn on_behalf_of_is_recorded_not_compared_and_source_identity_comes_first() {
        let mut only = start("s-obo", None);
        only.on_behalf_of_user_id = Some("d4d8e488-b081-7057-982d-5fbc2662f519".into());
        only.on_behalf_of_identity_store_arn =
            Some("arn:aws:identitystore::123456789012:identitystore/d-9066740a19".into());
        let mut both = only.clone();
        both.event_id = "event-s-both".into();
        both.session_id = Some("s-both".into());
        both.source_identity = Some("alice@example.com".into());
        let out = run(
            &[only, both],
            &[
                record("s-obo", "alice@example.com"),
                record("s-both", "alice@example.com"),
            ],
        );
        assert!(out.findings.is_empty(), "{:?}", out.findings);
        let row = |id: &str| {
            out.sessions
                .iter()
                .find(|s| s.session_id.as_deref() == Some(id))
                .unwrap()
        };
        assert_eq!(
            row("s-obo").in_band_identity.as_deref(),
            Some("d4d8e488-b081-7057-982d-5fbc2662f519")
        );
        assert_eq!(row("s-obo").in_band_source, Some(InBandSource::OnBehalfOf));
        assert_eq!(
            row("s-obo").in_band_identity_store.as_deref(),
            Some("arn:aws:identitystore::123456789012:identitystore/d-9066740a19")
        );
        assert_eq!(
            row("s-both").in_band_identity.as_deref(),
            Some("alice@example.com")
        );
        assert_eq!(
            row("s-both").in_band_source,
            Some(InBandSource::SourceIdentity)
        );
        assert_eq!(row("s-both").in_band_identity_store, None);
    }

    #[test]
    fn an_unattributed_session_with_an_in_band_identity_says_whose_it_probably_was() {
        let mut obo = start("s-obo", None);
        obo.on_behalf_of_user_id = Some("d4d8e488-b081-7057-982d-5fbc2662f519".into());
        obo.on_behalf_of_identity_store_arn =
            Some("arn:aws:identitystore::123456789012:identitystore/d-9066740a19".into());
        let out = run(
            &[
                start("s-named", Some("alice@example.com")),
                obo,
                start("s-anon", None),
            ],
            &[],
        );
        assert!(
            out.sessions
                .iter()
                .all(|s| s.status == SessionStatus::Unattributed)
        );
        let finding = |id: &str| {
            out.findings
                .iter()
                .find(|f| f.session_id.as_deref() == Some(id))
                .unwrap()
        };
        assert_eq!(
            finding("s-named").detail,
            "StartSession by the broker has no broker record after 30m; CloudTrail's sourceIdentity names alice@example.com"
        );
        assert_eq!(
            finding("s-named").evidence["in_band_identity"],
            "alice@example.com"
        );
        assert_eq!(
            finding("s-named").evidence["in_band_source"],
            "source_identity"
        );
        assert_eq!(
            finding("s-obo").detail,
            "StartSession by the broker has no broker record after 30m; CloudTrail's onBehalfOf names \
             Identity Center user d4d8e488-b081-7057-982d-5fbc2662f519 of \
             arn:aws:identitystore::123456789012:identitystore/d-9066740a19"
        );
        assert_eq!(
            finding("s-anon").detail,
            "StartSession by the broker has no broker record after 30m: no human is known for this session"
        );
        assert!(finding("s-anon").evidence.get("in_band_identity").is_none());
        let named = out
            .sessions
            .iter()
            .find(|s| s.session_id.as_deref() == Some("s-named"))
            .unwrap();
        assert_eq!(named.in_band_identity.as_deref(), Some("alice@example.com"));
        assert_eq!(named.original_user, None, "the row stays unattributed");
        assert_eq!(named.original_principal_arn, None);
        assert_eq!(rules_of(&out, "s-named"), ["unattributed_session"]);
    }

    #[test]
    fn every_rule_is_checked_once_by_a_session_or_a_record_rule() {
        let mut checked: Vec<Rule> = SESSION_RULES.iter().map(|(rule, _)| *rule).collect();
        checked.extend(RECORD_RULES);
        checked.sort();
        // Rules about a log file are checked by sessiontrail-evidence, not here.
        let mut all: Vec<Rule> = Rule::ALL
            .into_iter()
            .filter(|rule| rule.subject() == crate::rule::Subject::Session)
            .collect();
        all.sort();
        assert_eq!(
            checked, all,
            "each session rule of Rule::ALL needs its check in SESSION_RULES (or RECORD_RULES), once"
        );
    }
}
