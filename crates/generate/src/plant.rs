//! Planted cases: at least one session of every status and one case of every rule,
//! each bent away from a clean session in one place only, so the expected result is
//! unambiguous. Most are placed on the first day, 25 minutes apart; the pending ones in
//! the last half hour before `as_of`.

use crate::broker_log::{Channels, Ending, Outcome};
use crate::clock::{DAY, HOUR, MINUTE, Millis, SECOND};
use crate::cloudtrail::{self, SessionCall};
use crate::json::{J, Obj};
use crate::noise;
use crate::policy::{DEFAULT_DOCUMENT, GRACE, MAX_CLOCK_SKEW};
use crate::scenario::{BrokerSession, Committed, Scenario};
use crate::truth::{Rule, Status};
use crate::world::{AUTOMATION_ROLE, BROKER_FUNCTION, CLI_AGENT, CONSOLE_ROLE, SSO_REGION};

/// Hands out the times of the first day's cases.
struct Slots {
    next: Millis,
}

impl Slots {
    fn take(&mut self, s: &mut Scenario<'_>) -> Millis {
        let at = self.next + s.prng.between(0, 5 * MINUTE) / SECOND * SECOND;
        self.next += 25 * MINUTE;
        at
    }
}

/// Commits `plan` and plants it as an attributed session with `rules` on its key.
fn attributed(s: &mut Scenario<'_>, name: &str, plan: BrokerSession, rules: &[Rule]) -> Committed {
    let session_id = plan.session_id.clone();
    let committed = s.commit_broker(plan);
    let findings: Vec<(Rule, &str)> = rules
        .iter()
        .map(|rule| (*rule, session_id.as_str()))
        .collect();
    s.plant(
        name,
        &session_id,
        Some((Some(&session_id), Status::Attributed)),
        &findings,
    );
    committed
}

fn record_mut(plan: &mut BrokerSession) -> &mut crate::broker_log::BrokerRecord {
    plan.record
        .as_mut()
        .expect("a fresh broker plan has a record")
}

/// The `eventID` of a record built as a [`J`].
fn event_id_of(record: &J) -> String {
    if let J::Obj(entries) = record {
        for (key, value) in entries {
            if key == "eventID"
                && let J::Str(id) = value
            {
                return id.clone();
            }
        }
    }
    String::new()
}

/// Plants every case.
pub fn all(s: &mut Scenario<'_>) {
    let world = s.world;
    let a = 0;
    let b = world.accounts.len() - 1;
    let r0 = 0;
    let r1 = 1 % world.regions.len();
    let user = |name: &str| world.user(name);
    let mut slots = Slots {
        next: s.start + HOUR,
    };

    // --- attributed, clean ------------------------------------------------------
    let at = slots.take(s);
    let plan = s.broker_session(a, r0, at, user("alice@example.com"), "Admin");
    attributed(s, "clean broker session (Admin)", plan, &[]);

    let at = slots.take(s);
    let mut plan = s.broker_session(a, r0, at, user("dave@example.com"), "Dev");
    plan.request.document = None;
    record_mut(&mut plan).document_name = Some(DEFAULT_DOCUMENT.to_owned());
    attributed(
        s,
        "Dev session without documentName (the default document is Dev's)",
        plan,
        &[],
    );

    let at = slots.take(s);
    let mut plan = s.broker_session(b, r0, at, user("carol@example.com"), "Data_Engineer");
    record_mut(&mut plan).session_id = None;
    attributed(
        s,
        "broker record without session_id, matched by ssm_request_id (Data_Engineer)",
        plan,
        &[],
    );

    let at = slots.take(s);
    let mut plan = s.broker_session(a, r1, at, user("heidi@example.com"), "Data_Engineer");
    plan.redelivered = true;
    attributed(s, "StartSession record delivered in two files", plan, &[]);

    let at = slots.take(s);
    let mut plan = s.broker_session(a, r0, at, user("erin@example.com"), "ReadOnly");
    plan.channels = Channels {
        jsonl: true,
        export: true,
        subscription: true,
    };
    attributed(
        s,
        "broker record repeated in JSON lines, CloudWatch export and subscription payload",
        plan,
        &[],
    );

    let at = slots.take(s);
    let mut plan = s.broker_session(b, r1, at, user("ivan@example.com"), "Dev");
    record_mut(&mut plan).ts_offset_minutes = 120;
    attributed(s, "broker ts written with a +02:00 offset", plan, &[]);

    let at = s.start + DAY - 20 * SECOND;
    let plan = s.broker_session(a, r0, at, user("peggy@example.com"), "Dev");
    attributed(
        s,
        "StartSession 20 s before midnight, delivered in the next day's folder",
        plan,
        &[],
    );

    let at = s.as_of - 12 * MINUTE;
    let plan = s.broker_session(a, r1, at, user("trent@example.com"), "ReadOnly");
    attributed(
        s,
        "both sides younger than grace: attributed at once (matching never waits)",
        plan,
        &[],
    );

    // --- session control ---------------------------------------------------------
    let at = slots.take(s);
    let mut plan = s.broker_session(a, r0, at, user("alice@example.com"), "Admin");
    let own = s.control(
        SessionCall::Terminate,
        at + 15 * MINUTE,
        plan.caller.clone(),
    );
    plan.controls.push(own);
    attributed(s, "TerminateSession by the session's own user", plan, &[]);

    let at = slots.take(s);
    let mut plan = s.broker_session(a, r0, at, user("olivia@example.com"), "Admin");
    let broker = world.broker_actor(a);
    let idle = s.control(SessionCall::Terminate, at + 20 * MINUTE, broker.clone());
    plan.controls.push(idle);
    let resume = s.control(SessionCall::Resume, at + 5 * MINUTE, broker);
    plan.controls.push(resume);
    attributed(
        s,
        "ResumeSession and TerminateSession by the broker",
        plan,
        &[],
    );

    let at = slots.take(s);
    let mut plan = s.broker_session(a, r0, at, user("grace@example.com"), "Admin");
    let intruder = world.sso_actor(a, "ReadOnly", user("mallory@example.com"));
    let foreign = s.control(SessionCall::Terminate, at + 10 * MINUTE, intruder);
    plan.controls.push(foreign);
    let session_id = plan.session_id.clone();
    let committed = s.commit_broker(plan);
    s.plant(
        "TerminateSession by another user (mallory, ReadOnly)",
        &session_id,
        Some((Some(&session_id), Status::Attributed)),
        &[(Rule::ForeignSessionControl, &committed.control_event_ids[0])],
    );

    let at = slots.take(s);
    let mut plan = s.broker_session(b, r0, at, user("bob@example.com"), "ReadOnly");
    let intruder = world.sso_actor(b, "ReadOnly", user("sybil@example.com"));
    let foreign = s.control(SessionCall::Resume, at + 8 * MINUTE, intruder);
    plan.controls.push(foreign);
    let own = s.control(
        SessionCall::Terminate,
        at + 30 * MINUTE,
        plan.caller.clone(),
    );
    plan.controls.push(own);
    let session_id = plan.session_id.clone();
    let committed = s.commit_broker(plan);
    s.plant(
        "ResumeSession by another user (sybil), then TerminateSession by the owner",
        &session_id,
        Some((Some(&session_id), Status::Attributed)),
        &[(Rule::ForeignSessionControl, &committed.control_event_ids[0])],
    );

    let at = slots.take(s);
    let mut plan = s.broker_session(a, r1, at, user("carol@example.com"), "Data_Engineer");
    let intruder = world.sso_actor(a, "ReadOnly", user("mallory@example.com"));
    let resource = format!(
        "arn:aws:ssm:{}:{}:session/{}",
        world.regions[r1], world.accounts[a].id, plan.session_id
    );
    let mut denied = s.control(SessionCall::Terminate, at + 6 * MINUTE, intruder.clone());
    denied.error = Some(cloudtrail::access_denied_message(
        &intruder.identity.arn(),
        "TerminateSession",
        &resource,
    ));
    plan.controls.push(denied);
    attributed(
        s,
        "TerminateSession by another user that failed (AccessDenied): not a finding",
        plan,
        &[],
    );

    let at = slots.take(s);
    let unknown = s.new_session_id(BROKER_FUNCTION);
    let broker = world.broker_actor(a);
    let terminate = s.control(SessionCall::Terminate, at, broker);
    let event_id = s.commit_control(a, r0, &unknown, terminate);
    s.plant(
        "broker TerminateSession of a session started before the data: no session, no finding",
        &event_id,
        None,
        &[],
    );

    // --- failed ------------------------------------------------------------------
    let at = slots.take(s);
    let mut plan = s.broker_session(a, r0, at, user("bob@example.com"), "ReadOnly");
    s.fail(&mut plan, "AccessDenied");
    let committed = s.commit_broker(plan);
    s.plant(
        "failed broker StartSession (AccessDenied, responseElements null), broker record outcome denied",
        &committed.start_event_id,
        Some((None, Status::Failed)),
        &[],
    );

    let at = slots.take(s);
    let mut plan = s.broker_session(b, r1, at, user("judy@example.com"), "Data_Engineer");
    s.fail(&mut plan, "TargetNotConnected");
    let committed = s.commit_broker(plan);
    s.plant(
        "failed broker StartSession (TargetNotConnected), broker record outcome error",
        &committed.start_event_id,
        Some((None, Status::Failed)),
        &[],
    );

    let at = slots.take(s);
    let mut actor = world.sso_actor(a, "Admin", user("alice@example.com"));
    actor.user_agent = CLI_AGENT.to_owned();
    let mut plan = s.direct_session(a, r0, at, actor, None);
    plan.error = Some(cloudtrail::target_not_connected(&plan.request.target));
    let committed = s.commit_direct(plan);
    s.plant(
        "failed direct StartSession (TargetNotConnected) by an SSO user: failed wins, no finding",
        &committed.start_event_id,
        Some((None, Status::Failed)),
        &[],
    );

    let at = slots.take(s);
    let plan = s.broker_session(a, r0, at, user("frank@example.com"), "ReadOnly");
    let mut record = plan
        .record
        .clone()
        .expect("a fresh broker plan has a record");
    record.outcome = Outcome::Denied;
    record.session_id = None;
    record.ssm_request_id = None;
    record.document_name = None;
    record.run_as = None;
    let caller = plan.caller.identity.arn();
    s.lone_record(&record, &caller, Channels::JSONL);
    s.plant(
        "broker refused the caller before calling SSM (record outcome denied): a denied attempt, no session",
        &format!("broker:{}", record.request_id),
        Some((None, Status::Denied)),
        &[],
    );

    // --- missing counterparts ----------------------------------------------------
    let at = slots.take(s);
    let mut plan = s.broker_session(a, r0, at, user("li.wei@example.com"), "Dev");
    plan.record = None;
    plan.ending = Ending::TimedOut;
    let session_id = plan.session_id.clone();
    s.commit_broker(plan);
    s.plant(
        "broker StartSession whose Lambda timed out before logging: unattributed",
        &session_id,
        Some((Some(&session_id), Status::Unattributed)),
        &[(Rule::UnattributedSession, &session_id)],
    );

    let at = slots.take(s);
    let mut plan = s.broker_session(b, r1, at, user("walter@example.com"), "Data_Engineer");
    plan.in_cloudtrail = false;
    let session_id = plan.session_id.clone();
    s.commit_broker(plan);
    s.plant(
        "broker record 'started' that CloudTrail never saw: orphan",
        &session_id,
        Some((Some(&session_id), Status::Orphan)),
        &[(Rule::OrphanBrokerRecord, &session_id)],
    );

    let at = s.as_of - GRACE + 12 * MINUTE;
    let mut plan = s.broker_session(a, r0, at, user("victor@example.com"), "Dev");
    plan.record = None;
    let session_id = plan.session_id.clone();
    s.commit_broker(plan);
    s.plant(
        "broker StartSession 18 min before as_of, no broker record yet: pending",
        &session_id,
        Some((Some(&session_id), Status::Pending)),
        &[],
    );

    let at = s.as_of - GRACE + 21 * MINUTE;
    let mut plan = s.broker_session(b, r0, at, user("maria.garcia@example.com"), "Data_Engineer");
    plan.in_cloudtrail = false;
    plan.channels = Channels {
        jsonl: false,
        export: false,
        subscription: true,
    };
    let session_id = plan.session_id.clone();
    s.commit_broker(plan);
    s.plant(
        "broker record 9 min before as_of (subscription only), no StartSession yet: pending",
        &session_id,
        Some((Some(&session_id), Status::Pending)),
        &[],
    );

    // --- policy rules on matched pairs -------------------------------------------
    let at = slots.take(s);
    let mut plan = s.broker_session(a, r1, at, user("grace@example.com"), "Admin");
    plan.request.document = None;
    record_mut(&mut plan).document_name = Some(DEFAULT_DOCUMENT.to_owned());
    attributed(
        s,
        "Admin session without documentName (default document, not Admin's)",
        plan,
        &[Rule::DocumentMismatch],
    );

    let at = slots.take(s);
    let plan = s.broker_session(a, r0, at, user("henry@example.com"), "Billing");
    attributed(
        s,
        "caller's permission set Billing is not in the policy",
        plan,
        &[Rule::UnknownPermissionSet],
    );

    let at = slots.take(s);
    let mut plan = s.broker_session(a, r0, at, user("jean-luc@example.com"), "Admin");
    record_mut(&mut plan).run_as = Some("root".to_owned());
    attributed(
        s,
        "broker ran an Admin session as root",
        plan,
        &[Rule::RunAsMismatch],
    );

    let at = slots.take(s);
    let mut plan = s.broker_session(a, r0, at, user("bob@example.com"), "ReadOnly");
    let other = loop {
        let candidate = s.target(a, r0);
        if candidate != plan.request.target {
            break candidate;
        }
    };
    record_mut(&mut plan).target = other;
    attributed(s, "field mismatch: target", plan, &[Rule::FieldMismatch]);

    let at = slots.take(s);
    let mut plan = s.broker_session(a, r0, at, user("dave@example.com"), "Dev");
    let other_account = world
        .accounts
        .iter()
        .find(|acct| acct.id != world.accounts[a].id)
        .map_or_else(|| "000000000000".to_owned(), |acct| acct.id.clone());
    record_mut(&mut plan).account_id = other_account;
    attributed(
        s,
        "field mismatch: account_id",
        plan,
        &[Rule::FieldMismatch],
    );

    let at = slots.take(s);
    let mut plan = s.broker_session(a, r0, at, user("heidi@example.com"), "Data_Engineer");
    let other_region = world
        .regions
        .iter()
        .find(|region| **region != world.regions[r0])
        .cloned()
        .unwrap_or_else(|| {
            if world.regions[r0] == "eu-central-1" {
                "us-west-2".to_owned()
            } else {
                "eu-central-1".to_owned()
            }
        });
    record_mut(&mut plan).region = other_region;
    attributed(s, "field mismatch: region", plan, &[Rule::FieldMismatch]);

    let at = slots.take(s);
    let mut plan = s.broker_session(b, r0, at, user("carol@example.com"), "Data_Engineer");
    record_mut(&mut plan).document_name = Some("SSMRunAs-ReadOnly-Session".to_owned());
    attributed(
        s,
        "field mismatch: document_name (CloudTrail used the right document)",
        plan,
        &[Rule::FieldMismatch],
    );

    let at = slots.take(s);
    let mut plan = s.broker_session(a, r1, at, user("frank@example.com"), "ReadOnly");
    record_mut(&mut plan).permission_set = Some("Admin".to_owned());
    attributed(
        s,
        "field mismatch: record's permission_set Admin, caller_arn's ReadOnly",
        plan,
        &[Rule::FieldMismatch],
    );

    let at = slots.take(s);
    let mut plan = s.broker_session(a, r0, at, user("ivan@example.com"), "Dev");
    let record = record_mut(&mut plan);
    record.ts = at + MAX_CLOCK_SKEW + 2 * MINUTE + 340;
    attributed(
        s,
        "broker ts 7 min after eventTime",
        plan,
        &[Rule::ClockSkew],
    );

    let at = slots.take(s);
    let mut plan = s.broker_session(b, r0, at, user("peggy@example.com"), "Dev");
    let mut twin = record_mut(&mut plan).clone();
    twin.request_id = s.prng.uuid();
    twin.ts += 2 * SECOND + 117;
    plan.extra_records.push(twin);
    attributed(
        s,
        "two broker records (different request_id) claim one session_id",
        plan,
        &[Rule::DuplicateBrokerClaim],
    );

    // --- secrets in the broker log -----------------------------------------------
    let at = slots.take(s);
    let mut plan = s.broker_session(a, r0, at, user("olivia@example.com"), "Admin");
    let token = format!("AAEAA{}", s.prng.alnum(140));
    record_mut(&mut plan)
        .extra
        .push(("token_value".to_owned(), J::Str(token)));
    attributed(
        s,
        "broker record with a token_value key",
        plan,
        &[Rule::SecretInBrokerLog],
    );

    let at = slots.take(s);
    let mut plan = s.broker_session(a, r1, at, user("judy@example.com"), "ReadOnly");
    let region = world.regions[r1].clone();
    let response = Obj::new()
        .with("SessionId", plan.session_id.clone())
        .with("TokenValue", format!("AAEAA{}", s.prng.alnum(140)))
        .with(
            "StreamUrl",
            cloudtrail::stream_url(&region, &plan.session_id),
        );
    record_mut(&mut plan)
        .extra
        .push(("ssm_response".to_owned(), response.into()));
    attributed(
        s,
        "broker record with the raw SSM response (nested TokenValue)",
        plan,
        &[Rule::SecretInBrokerLog],
    );

    let at = slots.take(s);
    let mut plan = s.broker_session(b, r1, at, user("victor@example.com"), "Dev");
    let region = world.regions[r1].clone();
    let url = format!(
        "{}&token={}",
        cloudtrail::stream_url(&region, &plan.session_id),
        s.prng.alnum(120)
    );
    record_mut(&mut plan)
        .extra
        .push(("stream_url".to_owned(), J::Str(url)));
    attributed(
        s,
        "broker record with a wss:// stream URL carrying token=",
        plan,
        &[Rule::SecretInBrokerLog],
    );

    let at = slots.take(s);
    let plan = s.broker_session(a, r0, at, user("erin@example.com"), "Dev");
    let mut record = plan
        .record
        .clone()
        .expect("a fresh broker plan has a record");
    record.outcome = Outcome::Error;
    record.session_id = None;
    record.ssm_request_id = None;
    record.run_as = None;
    let credentials = Obj::new()
        .with("access_key_id", format!("ASIA{}", s.prng.upper_alnum(16)))
        .with(
            "session_token",
            format!("IQoJb3JpZ2luX2Vj{}", s.prng.alnum(200)),
        );
    record.extra.push((
        "debug".to_owned(),
        Obj::new()
            .with("step", "assume target role")
            .with("credentials", credentials)
            .into(),
    ));
    let caller = plan.caller.identity.arn();
    s.lone_record(&record, &caller, Channels::JSONL);
    let key = format!("broker:{}", record.request_id);
    s.plant(
        "error broker record (no session_id) with a nested session_token: a failed attempt",
        &key,
        Some((None, Status::Failed)),
        &[(Rule::SecretInBrokerLog, &key)],
    );

    // --- direct sessions ---------------------------------------------------------
    let sso_with_region = format!("/aws-reserved/sso.amazonaws.com/{SSO_REGION}/");
    let sso_without_region = "/aws-reserved/sso.amazonaws.com/";

    let at = slots.take(s);
    let mut actor =
        world.sso_actor_with_path(a, "ReadOnly", user("frank@example.com"), &sso_with_region);
    actor.user_agent = CLI_AGENT.to_owned();
    let mut plan = s.direct_session(a, r0, at, actor.clone(), Some("SSMRunAs-ReadOnly-Session"));
    let own = s.control(SessionCall::Terminate, at + 25 * MINUTE, actor);
    plan.controls.push(own);
    direct(
        s,
        "direct session, SSO ReadOnly role with region path, terminated by its user",
        plan,
        &[Rule::DirectSession],
    );

    let at = slots.take(s);
    let mut actor = world.sso_actor_with_path(
        b,
        "Data_Engineer",
        user("heidi@example.com"),
        sso_without_region,
    );
    actor.user_agent = CLI_AGENT.to_owned();
    let plan = s.direct_session(b, r0, at, actor, Some("SSMRunAs-DataEng-Session"));
    direct(
        s,
        "direct session, SSO Data_Engineer role without region path",
        plan,
        &[Rule::DirectSession],
    );

    let at = slots.take(s);
    let mut actor = world.sso_actor(a, "BreakGlass", user("rupert@example.com"));
    actor.user_agent = CLI_AGENT.to_owned();
    let plan = s.direct_session(a, r0, at, actor, None);
    direct(
        s,
        "direct BreakGlass session (allowed permission set)",
        plan,
        &[],
    );

    let at = slots.take(s);
    let ip = s.prng.ip_in("203.0.113");
    let actor = world.plain_role_actor(a, AUTOMATION_ROLE, "runbook-nightly", &ip);
    let plan = s.direct_session(a, r1, at, actor, Some(DEFAULT_DOCUMENT));
    direct(
        s,
        "direct session by ops-automation role (allowed principal)",
        plan,
        &[],
    );

    let at = slots.take(s);
    let ip = s.prng.ip_in("192.0.2");
    let actor = world.iam_user_actor(a, &ip);
    let mut plan = s.direct_session(a, r0, at, actor, Some("AWS-StartPortForwardingSession"));
    plan.request.parameters = vec![
        ("portNumber".to_owned(), vec!["5432".to_owned()]),
        ("localPortNumber".to_owned(), vec!["15432".to_owned()]),
    ];
    direct(
        s,
        "direct port-forwarding session by an IAM user (no permission set)",
        plan,
        &[Rule::DirectSession],
    );

    let at = slots.take(s);
    let ip = s.prng.ip_in("198.51.100");
    let mut actor = world.plain_role_actor(a, CONSOLE_ROLE, "jojithom", &ip);
    actor.console = true;
    actor.user_agent = "aws-internal/3 aws-sdk-java/1.11.937 Linux/4.9.230-0.1.ac.223.84.332.metal1.x86_64 OpenJDK_64-Bit_Server_VM/25.275-b01 java/1.8.0_275 vendor/Oracle_Corporation".to_owned();
    let plan = s.direct_session(a, r0, at, actor, None);
    direct(
        s,
        "direct console session by a plain IAM role named Admin (not an SSO role)",
        plan,
        &[Rule::DirectSession],
    );

    let at = slots.take(s);
    let mut actor = world.sso_actor(a, "Admin", user("olivia@example.com"));
    actor.user_agent = CLI_AGENT.to_owned();
    let plan = s.direct_session(a, r0, at, actor, None);
    direct(
        s,
        "direct session, SSO Admin without documentName",
        plan,
        &[Rule::DirectSession, Rule::DocumentMismatch],
    );

    // --- decoys --------------------------------------------------------------------
    let mut at = slots.take(s);
    for kind in noise::DECOYS {
        let region = if matches!(kind, noise::Kind::IamCreateSsmServiceLinkedRole) {
            world.global_region().unwrap_or(r0)
        } else {
            r0
        };
        let record = noise::build(kind, world, a, region, at, &mut s.prng);
        let id = event_id_of(&record);
        s.push_record(a, region, at, record);
        s.plant(
            &format!("decoy {kind:?}: not an ssm session"),
            &id,
            None,
            &[],
        );
        at += 90 * SECOND;
    }
}

/// Commits a direct plan and plants it with `rules` on its key.
fn direct(s: &mut Scenario<'_>, name: &str, plan: crate::scenario::DirectSession, rules: &[Rule]) {
    let session_id = plan.session_id.clone();
    s.commit_direct(plan);
    let findings: Vec<(Rule, &str)> = rules
        .iter()
        .map(|rule| (*rule, session_id.as_str()))
        .collect();
    s.plant(
        name,
        &session_id,
        Some((Some(&session_id), Status::Direct)),
        &findings,
    );
}
