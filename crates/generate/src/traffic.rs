//! The regular population: every day, `sessions_per_day` users ask the broker for a
//! session. Nearly all of them are clean (attributed, no finding); a few fail the way
//! real sessions fail (target offline, access denied), and the broker itself turns a
//! few callers away without calling SSM.

use crate::broker_log::{Channels, Ending, Outcome};
use crate::clock::{DAY, HOUR, MINUTE, Millis, SECOND};
use crate::cloudtrail::SessionCall;
use crate::scenario::Scenario;
use crate::truth::Status;

/// Relative number of sessions started in each UTC hour.
const HOURLY: [u32; 24] = [
    1, 1, 1, 1, 1, 2, 3, 5, 8, 10, 10, 9, 7, 9, 10, 10, 9, 7, 5, 4, 3, 2, 2, 1,
];

/// Adds the regular sessions of every day.
pub fn regular(s: &mut Scenario<'_>, sessions_per_day: u32) {
    let regular_users: Vec<usize> = (0..s.world.users.len())
        .filter(|i| s.world.users[*i].regular)
        .collect();
    let accounts = s.world.accounts.len();
    let regions = s.world.regions.len();
    // The first account is the busiest.
    let account_weights: Vec<u32> = (0..accounts).map(|i| if i == 0 { 3 } else { 2 }).collect();
    for day in 0..s.days {
        let midnight = s.start + Millis::from(day) * DAY;
        let mut times: Vec<Millis> = (0..sessions_per_day)
            .map(|_| {
                let hour = s.prng.weighted(&HOURLY) as Millis;
                midnight + hour * HOUR + s.prng.between(0, HOUR)
            })
            .collect();
        times.sort_unstable();
        for at in times {
            let user = *s.prng.pick(&regular_users);
            let set = *s.prng.pick(&s.world.users[user].permission_sets);
            let account = s.prng.weighted(&account_weights);
            let region = s.prng.index(regions);
            session(s, (account, region), at, user, set, day);
        }
    }
}

fn session(
    s: &mut Scenario<'_>,
    (account, region): (usize, usize),
    at: Millis,
    user: usize,
    set: &str,
    day: u32,
) {
    let mut plan = s.broker_session(account, region, at, user, set);
    let hour = (at - s.start).rem_euclid(DAY) / HOUR;
    // The CloudWatch export covers a morning of the first day; the subscription
    // payload the last four hours of the last day. Both repeat JSON-lines records.
    plan.channels = Channels {
        jsonl: true,
        export: day == 0 && (8..12).contains(&hour),
        subscription: at >= s.end() - 4 * HOUR,
    };
    plan.redelivered = s.prng.chance(0.004);
    plan.delay = u8::from(s.prng.chance(0.02));
    if let Some(record) = &mut plan.record {
        if s.prng.chance(0.03) {
            record.ts_offset_minutes = *s.prng.pick(&[120, -300, 330]);
        }
        if s.prng.chance(0.1) {
            record.ssm_request_id = None;
        }
        if s.prng.chance(0.1) {
            record.caller_user_id = None;
        }
        if s.prng.chance(0.05) {
            record.run_as = None;
        }
        if s.prng.chance(0.02) {
            record.source_ip = None;
        }
    }
    let roll = s.prng.below(1000);
    if roll < 15 {
        // The broker refuses the caller before calling SSM: a record, no session; a
        // row of status denied keyed by the record's request id.
        if let Some(mut record) = plan.record.take() {
            record.outcome = Outcome::Denied;
            record.session_id = None;
            record.ssm_request_id = None;
            record.document_name = None;
            record.run_as = None;
            let caller = plan.caller.identity.arn();
            s.lone_record(&record, &caller, plan.channels);
            s.truth.session(
                &format!("broker:{}", record.request_id),
                None,
                Status::Denied,
            );
        }
        return;
    }
    if roll < 50 {
        let code = if roll < 38 {
            "TargetNotConnected"
        } else {
            "AccessDenied"
        };
        s.fail(&mut plan, code);
        // A broker record without ssm_request_id cannot be matched to the failed
        // StartSession: it is an attempt of its own (denied or failed).
        let lone = plan
            .record
            .as_ref()
            .filter(|r| r.ssm_request_id.is_none())
            .map(|r| (format!("broker:{}", r.request_id), r.outcome));
        let committed = s.commit_broker(plan);
        s.truth
            .session(&committed.start_event_id, None, Status::Failed);
        if let Some((key, outcome)) = lone {
            let status = match outcome {
                Outcome::Denied => Status::Denied,
                _ => Status::Failed,
            };
            s.truth.session(&key, None, status);
        }
        return;
    }
    let minutes = *s.prng.pick(&[3, 5, 8, 12, 20, 30, 45, 60, 90, 150]);
    let duration = minutes * MINUTE + s.prng.between(0, MINUTE);
    if s.prng.chance(0.05) {
        let broker = s.world.broker_actor(account);
        let resume_at = at + duration / 2;
        if resume_at < s.as_of {
            let resume = s.control(SessionCall::Resume, resume_at, broker);
            plan.controls.push(resume);
        }
    }
    let end = at + duration;
    if end < s.as_of - SECOND {
        match s.prng.below(100) {
            0..60 => {
                let caller = plan.caller.clone();
                let own = s.control(SessionCall::Terminate, end, caller);
                plan.controls.push(own);
            }
            60..85 => {
                let broker = s.world.broker_actor(account);
                let idle = s.control(SessionCall::Terminate, end, broker);
                plan.controls.push(idle);
            }
            _ => {}
        }
    }
    debug_assert_eq!(plan.ending, Ending::Normal);
    let session_id = plan.session_id.clone();
    s.commit_broker(plan);
    s.truth
        .session(&session_id, Some(&session_id), Status::Attributed);
}
