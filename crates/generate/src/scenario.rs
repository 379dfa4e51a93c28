//! The scenario under construction: every CloudTrail event that is not background
//! noise, every broker Lambda invocation, and the ground truth, built one session at a
//! time from plans ([`BrokerSession`], [`DirectSession`]) that start out clean and
//! consistent and that planted cases then bend in one place.

use std::collections::BTreeSet;

use crate::broker_log::{self, BrokerRecord, Channels, Ending, Invocation, Outcome};
use crate::clock::{DAY, Millis};
use crate::cloudtrail::{self, Call, SSM_SOURCE, SessionCall, StartRequest};
use crate::json::J;
use crate::options::PlantedCase;
use crate::policy::{self, DEFAULT_DOCUMENT};
use crate::prng::Prng;
use crate::truth::{Rule, Status, Truth};
use crate::world::{Actor, BROKER_FUNCTION, World};

/// A CloudTrail record to deliver (not noise).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CtEvent {
    pub account: usize,
    pub region: usize,
    pub at: Millis,
    pub body: String,
    /// Delivered this many files late.
    pub delay: u8,
    /// Delivered a second time, in the next file of the same trail.
    pub duplicate: bool,
    /// An ssm StartSession / ResumeSession / TerminateSession record.
    pub ssm_session: bool,
}

/// A ResumeSession or TerminateSession call on a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Control {
    pub call: SessionCall,
    pub at: Millis,
    pub actor: Actor,
    pub error: Option<(String, String)>,
}

/// A session started through the broker, from the user's request to the broker log.
#[derive(Clone, Debug, PartialEq)]
pub struct BrokerSession {
    pub account: usize,
    pub region: usize,
    /// StartSession `eventTime`.
    pub at: Millis,
    /// The human who asked the broker.
    pub caller: Actor,
    pub session_id: String,
    pub request: StartRequest,
    /// StartSession `requestID` and `eventID`.
    pub request_id: String,
    pub event_id: String,
    pub error: Option<(String, String)>,
    /// CloudTrail has the StartSession (false: the broker claims a session SSM never started).
    pub in_cloudtrail: bool,
    /// The StartSession record is delivered in two files.
    pub redelivered: bool,
    /// The StartSession record is delivered this many files late.
    pub delay: u8,
    /// The broker's record; `None` when the broker never logged one.
    pub record: Option<BrokerRecord>,
    /// The Lambda request id (the record's `request_id`).
    pub lambda_request_id: String,
    pub channels: Channels,
    pub ending: Ending,
    /// More records claiming this session, each from its own invocation.
    pub extra_records: Vec<BrokerRecord>,
    pub controls: Vec<Control>,
}

/// A session started without the broker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectSession {
    pub account: usize,
    pub region: usize,
    pub at: Millis,
    pub actor: Actor,
    pub session_id: String,
    pub request: StartRequest,
    pub request_id: String,
    pub event_id: String,
    pub error: Option<(String, String)>,
    pub controls: Vec<Control>,
}

/// Ids of what a committed plan wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Committed {
    /// StartSession eventID (the key of a failed session).
    pub start_event_id: String,
    /// eventIDs of the plan's controls, in order.
    pub control_event_ids: Vec<String>,
}

/// Reasons users give.
const REASONS: [&str; 6] = [
    "OPS-1432 disk usage alert",
    "INC-20931 latency on checkout",
    "deploy verification",
    "CHG-7781 kernel patching",
    "debug failing cron job",
    "rotate nginx logs",
];

/// Everything planted so far.
pub struct Scenario<'w> {
    pub world: &'w World,
    pub prng: Prng,
    /// Midnight of the first day.
    pub start: Millis,
    pub days: u32,
    pub as_of: Millis,
    pub events: Vec<CtEvent>,
    pub invocations: Vec<Invocation>,
    pub truth: Truth,
    pub planted: Vec<PlantedCase>,
    session_ids: BTreeSet<String>,
}

impl<'w> Scenario<'w> {
    /// An empty scenario over `days` days from `start`; `as_of` is one hour after them.
    pub fn new(world: &'w World, seed: u64, start: Millis, days: u32) -> Self {
        let end = start + Millis::from(days) * DAY;
        Scenario {
            world,
            prng: Prng::derive(seed, "scenario", 0),
            start,
            days,
            as_of: end + crate::clock::HOUR,
            events: Vec::new(),
            invocations: Vec::new(),
            truth: Truth::default(),
            planted: Vec::new(),
            session_ids: BTreeSet::new(),
        }
    }

    /// End of the last generated day.
    pub fn end(&self) -> Millis {
        self.as_of - crate::clock::HOUR
    }

    /// A fresh SessionId `<caller>-<suffix>`, the suffix in one of the two observed forms.
    pub fn new_session_id(&mut self, caller: &str) -> String {
        loop {
            let suffix = if self.prng.chance(0.5) {
                format!("0{}", self.prng.hex(16))
            } else {
                self.prng.lower_alnum(26)
            };
            let id = format!("{caller}-{suffix}");
            if self.session_ids.insert(id.clone()) {
                return id;
            }
        }
    }

    /// A random target of (`account`, `region`).
    pub fn target(&mut self, account: usize, region: usize) -> String {
        let instances = &self.world.accounts[account].instances[region];
        instances[self.prng.index(instances.len())].clone()
    }

    /// A clean plan: `user` asks the broker for a session with `permission_set`.
    pub fn broker_session(
        &mut self,
        account: usize,
        region: usize,
        at: Millis,
        user: usize,
        permission_set: &str,
    ) -> BrokerSession {
        let world = self.world;
        let caller = world.sso_actor(account, permission_set, user);
        let set = policy::lookup(permission_set);
        let document = if set.document == DEFAULT_DOCUMENT && self.prng.chance(0.5) {
            None
        } else {
            Some(set.document.to_owned())
        };
        let session_id = self.new_session_id(BROKER_FUNCTION);
        let target = self.target(account, region);
        let reason = if self.prng.chance(0.3) {
            Some((*self.prng.pick(&REASONS)).to_owned())
        } else {
            None
        };
        let request_id = self.prng.uuid();
        let event_id = self.prng.uuid();
        let lambda_request_id = self.prng.uuid();
        let role = world.sso_role(account, permission_set);
        let user = &world.users[user];
        let record = BrokerRecord {
            ts: at + self.prng.between(150, 900),
            ts_offset_minutes: 0,
            request_id: lambda_request_id.clone(),
            caller_arn: caller.identity.arn(),
            caller_user_id: Some(format!("{}:{}", role.role_id, user.name)),
            permission_set: Some(permission_set.to_owned()),
            account_id: world.accounts[account].id.clone(),
            region: world.regions[region].clone(),
            target: target.clone(),
            document_name: Some(
                document
                    .clone()
                    .unwrap_or_else(|| DEFAULT_DOCUMENT.to_owned()),
            ),
            run_as: Some(set.run_as.to_owned()),
            outcome: Outcome::Started,
            session_id: Some(session_id.clone()),
            ssm_request_id: Some(request_id.clone()),
            reason: reason.clone(),
            source_ip: Some(user.source_ip.clone()),
            extra: Vec::new(),
        };
        BrokerSession {
            account,
            region,
            at,
            caller,
            session_id,
            request: StartRequest {
                target,
                document,
                parameters: Vec::new(),
                reason,
            },
            request_id,
            event_id,
            error: None,
            in_cloudtrail: true,
            redelivered: false,
            delay: 0,
            record: Some(record),
            lambda_request_id,
            channels: Channels::JSONL,
            ending: Ending::Normal,
            extra_records: Vec::new(),
            controls: Vec::new(),
        }
    }

    /// Makes `plan` a failed StartSession: `code` is `AccessDenied` (broker record
    /// outcome `denied`) or `TargetNotConnected` (outcome `error`).
    pub fn fail(&mut self, plan: &mut BrokerSession, code: &str) {
        let (error, outcome) = if code == "AccessDenied" {
            let world = self.world;
            let account = &world.accounts[plan.account].id;
            let region = &world.regions[plan.region];
            let resource = cloudtrail::target_arn(region, account, &plan.request.target);
            let broker = world.broker_actor(plan.account).identity.arn();
            (
                cloudtrail::access_denied_message(&broker, "StartSession", &resource),
                Outcome::Denied,
            )
        } else {
            (
                cloudtrail::target_not_connected(&plan.request.target),
                Outcome::Error,
            )
        };
        plan.error = Some(error);
        if let Some(record) = &mut plan.record {
            record.outcome = outcome;
            record.session_id = None;
            record.run_as = None;
        }
        self.session_ids.remove(&plan.session_id);
    }

    /// A control call by `actor` at `at`.
    pub fn control(&self, call: SessionCall, at: Millis, actor: Actor) -> Control {
        Control {
            call,
            at,
            actor,
            error: None,
        }
    }

    /// Writes a broker session plan out; returns the event ids it wrote.
    pub fn commit_broker(&mut self, plan: BrokerSession) -> Committed {
        let world = self.world;
        let account = &world.accounts[plan.account].id;
        let region = world.regions[plan.region].as_str();
        if plan.in_cloudtrail {
            let broker = world.broker_actor(plan.account);
            let mut call = Call::new(
                &mut self.prng,
                plan.at,
                (region, account),
                &broker,
                (SSM_SOURCE, "StartSession"),
                false,
            );
            call.request_id = plan.request_id.clone();
            call.event_id = plan.event_id.clone();
            call.request = plan.request.to_json();
            match &plan.error {
                Some(error) => call.error = Some(error.clone()),
                None => {
                    call.response =
                        cloudtrail::session_response(&mut self.prng, region, &plan.session_id)
                }
            }
            let body = cloudtrail::record(call, &mut self.prng).to_json();
            self.events.push(CtEvent {
                account: plan.account,
                region: plan.region,
                at: plan.at,
                body,
                delay: plan.delay,
                duplicate: plan.redelivered,
                ssm_session: true,
            });
        }
        let caller_arn = plan.caller.identity.arn();
        if plan.record.is_some() || plan.ending == Ending::TimedOut {
            let (request_id, start) = match &plan.record {
                Some(record) => (
                    record.request_id.clone(),
                    record.ts - self.prng.between(250, 900),
                ),
                None => (
                    plan.lambda_request_id.clone(),
                    plan.at - self.prng.between(100, 400),
                ),
            };
            let mut invocation = broker_log::invocation(
                &mut self.prng,
                &request_id,
                start,
                &caller_arn,
                plan.record.as_ref(),
                plan.ending,
            );
            invocation.channels = plan.channels;
            self.invocations.push(invocation);
        }
        for record in &plan.extra_records {
            self.lone_record(record, &caller_arn, plan.channels);
        }
        let control_event_ids = plan
            .controls
            .into_iter()
            .map(|control| {
                self.commit_control(plan.account, plan.region, &plan.session_id, control)
            })
            .collect();
        Committed {
            start_event_id: plan.event_id,
            control_event_ids,
        }
    }

    /// A broker record logged by an invocation of its own.
    pub fn lone_record(&mut self, record: &BrokerRecord, caller_arn: &str, channels: Channels) {
        let start = record.ts - self.prng.between(250, 900);
        let mut invocation = broker_log::invocation(
            &mut self.prng,
            &record.request_id,
            start,
            caller_arn,
            Some(record),
            Ending::Normal,
        );
        invocation.channels = channels;
        self.invocations.push(invocation);
    }

    /// A clean plan: `actor` starts a session itself.
    pub fn direct_session(
        &mut self,
        account: usize,
        region: usize,
        at: Millis,
        actor: Actor,
        document: Option<&str>,
    ) -> DirectSession {
        let session_id = self.new_session_id(&actor.identity.caller_name());
        let target = self.target(account, region);
        DirectSession {
            account,
            region,
            at,
            actor,
            session_id,
            request: StartRequest {
                target,
                document: document.map(str::to_owned),
                parameters: Vec::new(),
                reason: None,
            },
            request_id: self.prng.uuid(),
            event_id: self.prng.uuid(),
            error: None,
            controls: Vec::new(),
        }
    }

    /// Writes a direct session plan out.
    pub fn commit_direct(&mut self, plan: DirectSession) -> Committed {
        let world = self.world;
        let account = &world.accounts[plan.account].id;
        let region = world.regions[plan.region].as_str();
        let mut call = Call::new(
            &mut self.prng,
            plan.at,
            (region, account),
            &plan.actor,
            (SSM_SOURCE, "StartSession"),
            false,
        );
        call.request_id = plan.request_id.clone();
        call.event_id = plan.event_id.clone();
        call.request = plan.request.to_json();
        match &plan.error {
            Some(error) => call.error = Some(error.clone()),
            None => {
                call.response =
                    cloudtrail::session_response(&mut self.prng, region, &plan.session_id)
            }
        }
        let body = cloudtrail::record(call, &mut self.prng).to_json();
        self.events.push(CtEvent {
            account: plan.account,
            region: plan.region,
            at: plan.at,
            body,
            delay: 0,
            duplicate: false,
            ssm_session: true,
        });
        let control_event_ids = plan
            .controls
            .into_iter()
            .map(|control| {
                self.commit_control(plan.account, plan.region, &plan.session_id, control)
            })
            .collect();
        Committed {
            start_event_id: plan.event_id,
            control_event_ids,
        }
    }

    /// Writes a Resume/TerminateSession of `session_id`; returns its eventID.
    pub fn commit_control(
        &mut self,
        account: usize,
        region: usize,
        session_id: &str,
        control: Control,
    ) -> String {
        let world = self.world;
        let account_id = &world.accounts[account].id;
        let region_name = world.regions[region].as_str();
        let mut call = Call::new(
            &mut self.prng,
            control.at,
            (region_name, account_id),
            &control.actor,
            (SSM_SOURCE, control.call.name()),
            false,
        );
        call.request = cloudtrail::session_id_params(session_id);
        match control.error {
            Some(error) => call.error = Some(error),
            None => {
                call.response = match control.call {
                    SessionCall::Resume => {
                        cloudtrail::session_response(&mut self.prng, region_name, session_id)
                    }
                    SessionCall::Terminate => cloudtrail::session_id_params(session_id),
                }
            }
        }
        let event_id = call.event_id.clone();
        let body = cloudtrail::record(call, &mut self.prng).to_json();
        self.events.push(CtEvent {
            account,
            region,
            at: control.at,
            body,
            delay: 0,
            duplicate: false,
            ssm_session: true,
        });
        event_id
    }

    /// Adds a non-session record (a decoy).
    pub fn push_record(&mut self, account: usize, region: usize, at: Millis, record: J) {
        self.events.push(CtEvent {
            account,
            region,
            at,
            body: record.to_json(),
            delay: 0,
            duplicate: false,
            ssm_session: false,
        });
    }

    /// Records a planted case in the truth and in the list of cases.
    /// `session` is the expected session row (`None`: the case is not a session);
    /// `findings` pairs each expected rule with its key.
    pub fn plant(
        &mut self,
        name: &str,
        key: &str,
        session: Option<(Option<&str>, Status)>,
        findings: &[(Rule, &str)],
    ) {
        if let Some((session_id, status)) = session {
            self.truth.session(key, session_id, status);
        }
        for (rule, finding_key) in findings {
            self.truth.finding(*rule, finding_key);
        }
        self.planted.push(PlantedCase {
            name: name.to_owned(),
            key: key.to_owned(),
            status: session.map(|(_, status)| status.as_str().to_owned()),
            findings: findings
                .iter()
                .map(|(rule, finding_key)| {
                    if *finding_key == key {
                        rule.as_str().to_owned()
                    } else {
                        format!("{} on {finding_key}", rule.as_str())
                    }
                })
                .collect(),
        });
    }
}
