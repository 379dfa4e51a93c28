//! Writes the posture snapshot cases (`sessiontrail posture` test data) and lists them.
//!
//! `cargo run -p sessiontrail-generate --example posture -- OUT`, then e.g.
//! `sessiontrail posture --policy OUT/sessiontrail.toml --snapshot OUT/pass/snapshot`.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: posture OUT");
        return ExitCode::from(2);
    };
    match sessiontrail_generate::posture::write_posture_cases(&out) {
        Ok(cases) => {
            for case in cases {
                println!(
                    "{}\t{} findings\t{}",
                    case.snapshot.display(),
                    case.findings.len(),
                    case.description
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}
