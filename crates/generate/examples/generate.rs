//! Writes a generated data set: `generate OUT [SEED] [TARGET_BYTES]`.

use std::path::PathBuf;
use std::process::ExitCode;

use sessiontrail_generate::{GenerateOptions, generate};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(out) = args.next().map(PathBuf::from) else {
        eprintln!("usage: generate OUT [SEED] [TARGET_BYTES]");
        return ExitCode::from(2);
    };
    let mut options = GenerateOptions::default();
    if let Some(seed) = args.next().and_then(|s| s.parse().ok()) {
        options.seed = seed;
    }
    options.target_bytes = args.next().and_then(|s| s.parse().ok());
    let started = std::time::Instant::now();
    match generate(&out, &options) {
        Ok(summary) => {
            println!("{summary}");
            for case in &summary.planted {
                println!(
                    "  {:<14} {:<40} {:<60} {}",
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
