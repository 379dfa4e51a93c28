//! `sessiontrail-connect --target i-... [--profile P] [--region R] [--reason TEXT]`

use std::process::ExitCode;

use clap::Parser;
use sessiontrail_connect::{Options, prepare};

/// Start an SSM session through the session broker, as the Linux user of your permission
/// set, then run session-manager-plugin on it.
#[derive(Debug, Parser)]
#[command(name = "sessiontrail-connect", version, about, long_about = None)]
struct Cli {
    /// The instance: i-... (EC2) or mi-... (managed instance).
    #[arg(long, value_name = "ID")]
    target: String,
    /// The AWS profile (an IAM Identity Center profile); else AWS_PROFILE or the default.
    #[arg(long, value_name = "P")]
    profile: Option<String>,
    /// The instance's region; else the profile's, else the broker's.
    #[arg(long, value_name = "R")]
    region: Option<String>,
    /// Why you connect (the broker logs it; StartSession records it).
    #[arg(long, value_name = "TEXT")]
    reason: Option<String>,
    /// The broker's function URL; else SESSIONTRAIL_BROKER_URL, else broker_url in
    /// ~/.config/sessiontrail/connect.toml ([profile.<name>] first).
    #[arg(long, value_name = "URL")]
    broker_url: Option<String>,
    /// Say nothing before the plugin runs (errors are still said).
    #[arg(long, short)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let options = Options {
        target: cli.target,
        profile: cli.profile,
        region: cli.region,
        reason: cli.reason,
        broker_url: cli.broker_url,
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("sessiontrail-connect: cannot start: {error}");
            return ExitCode::from(1);
        }
    };
    let prepared = runtime.block_on(prepare(&options));
    drop(runtime);
    let mut prepared = match prepared {
        Ok(prepared) => prepared,
        Err(error) => {
            eprintln!("sessiontrail-connect: {error}");
            return ExitCode::from(error.exit_code());
        }
    };
    if !cli.quiet {
        // stderr: stdout belongs to the plugin (and to ssh under ProxyCommand).
        let session = &prepared.session;
        eprintln!(
            "sessiontrail-connect: session {} on {} in {}{}{}",
            session.session_id,
            options.target,
            prepared.region,
            session
                .run_as
                .as_deref()
                .map(|user| format!(" as {user}"))
                .unwrap_or_default(),
            session
                .document_name
                .as_deref()
                .map(|doc| format!(" (document {doc})"))
                .unwrap_or_default(),
        );
    }
    run(&mut prepared.command)
}

/// Replaces this process with the plugin: it gets the terminal, stdin/stdout (an ssh
/// ProxyCommand's) and the signals, and its exit status is the command's.
#[cfg(unix)]
fn run(command: &mut std::process::Command) -> ExitCode {
    use std::os::unix::process::CommandExt;
    let error = command.exec();
    eprintln!(
        "sessiontrail-connect: cannot run session-manager-plugin: {error}; reinstall it as {} says",
        sessiontrail_connect::error::PLUGIN_INSTALL_URL
    );
    ExitCode::from(4)
}

#[cfg(not(unix))]
fn run(command: &mut std::process::Command) -> ExitCode {
    match command.status() {
        Ok(status) => ExitCode::from(status.code().unwrap_or(1).clamp(0, 255) as u8),
        Err(error) => {
            eprintln!(
                "sessiontrail-connect: cannot run session-manager-plugin: {error}; reinstall it as {} says",
                sessiontrail_connect::error::PLUGIN_INSTALL_URL
            );
            ExitCode::from(4)
        }
    }
}
