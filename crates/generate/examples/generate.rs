//! Writes a generated data set and lists the planted cases.
//!
//! `cargo run --release -p sessiontrail-generate --example generate -- OUT [key=value...]`
//! with keys `seed`, `days`, `sessions`, `noise`, `accounts`, `regions` (comma
//! separated), `target` (uncompressed bytes), `plant` and `digests` (true/false) and
//! `tamper` (comma separated tamper cases, or `all`).

use std::path::PathBuf;
use std::process::ExitCode;

use sessiontrail_generate::{GenerateOptions, generate};

fn parse(options: &mut GenerateOptions, arg: &str) -> Result<(), String> {
    let (key, value) = arg
        .split_once('=')
        .ok_or_else(|| format!("{arg:?} is not key=value"))?;
    let number = || value.parse::<u64>().map_err(|e| format!("{key}: {e}"));
    let small = || value.parse::<u32>().map_err(|e| format!("{key}: {e}"));
    match key {
        "seed" => options.seed = number()?,
        "days" => options.days = small()?,
        "sessions" => options.sessions_per_day = small()?,
        "noise" => options.noise_per_session = small()?,
        "accounts" => options.accounts = small()?,
        "regions" => options.regions = value.split(',').map(str::to_owned).collect(),
        "target" => options.target_bytes = Some(number()?),
        "plant" => options.plant_cases = value == "true",
        "digests" => options.digests = value == "true",
        "tamper" => {
            let names: Vec<&str> = value.split(',').collect();
            options.tamper =
                sessiontrail_generate::TamperCase::parse_list(&names).map_err(|e| e.to_string())?;
        }
        other => return Err(format!("unknown key {other:?}")),
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!(
            "usage: generate OUT [seed=N] [days=N] [sessions=N] [noise=N] [accounts=N] [regions=a,b] [target=BYTES] [plant=BOOL] [digests=BOOL] [tamper=CASE,...]"
        );
        return ExitCode::from(2);
    };
    let mut options = GenerateOptions::default();
    for arg in args {
        if let Err(message) = parse(&mut options, &arg) {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    }
    let started = std::time::Instant::now();
    match generate(&out, &options) {
        Ok(summary) => {
            println!("{summary}");
            for case in &summary.planted {
                println!(
                    "  {:<13} {:<44} {} [{}]",
                    case.status.as_deref().unwrap_or("-"),
                    case.key,
                    case.name,
                    case.findings.join(", ")
                );
            }
            eprintln!("took {:.1?}", started.elapsed());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
