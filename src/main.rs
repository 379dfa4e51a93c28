//! `sessiontrail`: the command line. It parses flags and calls the library crates;
//! the work is done in `sessiontrail-ingest`, `-correlate`, `-report` and `-generate`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use sessiontrail_correlate::{Policy, RunOptions, Severity};
use sessiontrail_report::OutputFormat;

/// Exit codes (DESIGN.md "CLI").
const EXIT_ERROR: u8 = 1;
const EXIT_FAIL_ON: u8 = 3;

#[derive(Parser)]
#[command(
    name = "sessiontrail",
    version,
    about = "Attribute SSM sessions started by a session broker to the humans behind them.",
    long_about = "Attribute SSM sessions started by a session broker to the humans behind them.\n\n\
        CloudTrail names the broker Lambda, not the person, as the caller of every \
        StartSession it makes. sessiontrail joins CloudTrail with the broker's own log, \
        writes one attributed row per session as Hive-partitioned Parquet, flags sessions \
        no human can be tied to (and documents that don't match the permission set), and \
        answers questions about them in SQL.\n\n\
        Start with:\n  \
        sessiontrail correlate --policy fixtures/generated/sessiontrail.toml \\\n      \
        --cloudtrail fixtures/generated/cloudtrail --broker-log fixtures/generated/broker --out out\n  \
        sessiontrail query --data out --name unattributed",
    after_help = "Exit codes: 0 done (findings and rejects may exist), 1 error (or a reject under --strict), \
        2 usage, 3 a finding at or above --fail-on."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Correlate CloudTrail with the broker log and update the attributed dataset.
    #[command(after_help = "Examples:\n  \
        sessiontrail correlate --policy sessiontrail.toml --cloudtrail trail-bucket-copy/AWSLogs \\\n      \
        --broker-log broker-logs/ --out dataset/\n  \
        # each day, over that day's files; state in dataset/state carries what is pending:\n  \
        sessiontrail correlate --policy sessiontrail.toml --cloudtrail AWSLogs/111122223333/CloudTrail/eu-west-1/2026/02/02 \\\n      \
        --broker-log broker/2026/02/02 --out dataset/ --fail-on critical")]
    Correlate(CorrelateArgs),
    /// Run a named query or any SQL over the dataset (tables `sessions`, `findings`).
    #[command(after_help = "Examples:\n  \
        sessiontrail query --list\n  \
        sessiontrail query --data dataset/ --name unattributed\n  \
        sessiontrail query --data dataset/ --format csv \\\n      \
        \"SELECT original_user, count(*) AS sessions FROM sessions WHERE dt >= '2026-02-01' GROUP BY 1 ORDER BY 2 DESC\"")]
    Query(QueryArgs),
    /// Write the monthly compliance report (report.html, report.md, report.json).
    Report(ReportArgs),
    /// Export findings for Security Hub (asff), Security Lake (ocsf) or any SIEM (jsonl, csv).
    Findings(FindingsArgs),
    /// Write realistic CloudTrail, broker log, policy and ground truth for trying things out.
    Generate(GenerateArgs),
}

#[derive(Args)]
struct ReportArgs {
    /// Dataset folder written by `correlate`.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// The month to report on (UTC).
    #[arg(long, value_name = "YYYY-MM")]
    month: String,
    /// Folder for report.html, report.md and report.json (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Policy file whose `[report] min_attribution_rate` gives the verdict's threshold.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The verdict's threshold (0..1), overriding the policy's.
    #[arg(long, value_name = "RATE")]
    min_attribution_rate: Option<f64>,
}

#[derive(Args)]
struct FindingsArgs {
    /// Dataset folder written by `correlate`.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// jsonl, csv, ocsf (OCSF 1.1.0 Detection Finding, JSON lines) or asff (one
    /// BatchImportFindings batch of at most 100 findings per line).
    #[arg(long, value_name = "FORMAT")]
    format: String,
}

#[derive(Args)]
struct CorrelateArgs {
    /// Policy file: broker identity, permission set -> document and run_as, [direct] allowances.
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// CloudTrail input: files or folders (walked for .json, .jsonl, .log, .gz) in any form:
    /// S3 log files, EventBridge events, lookup-events output, JSON lines.
    #[arg(long, value_name = "PATH", num_args = 1.., required = true)]
    cloudtrail: Vec<PathBuf>,
    /// Broker log input: JSON lines, CloudWatch Logs exports or subscription payloads.
    #[arg(long = "broker-log", value_name = "PATH", num_args = 1.., required = true)]
    broker_log: Vec<PathBuf>,
    /// Dataset folder: sessions/, findings/, rejects/, state/ (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The instant grace is measured at (RFC 3339); default now. Items younger than
    /// the policy's grace stay `pending` and are decided by a later run.
    #[arg(long, value_name = "RFC3339")]
    as_of: Option<String>,
    /// Exit 3 when the run's window holds a finding of this severity or worse
    /// (low, medium, high, critical).
    #[arg(long, value_name = "SEVERITY")]
    fail_on: Option<String>,
    /// Exit 1 when any input record was rejected (the dataset is still written).
    #[arg(long)]
    strict: bool,
    /// Threads reading input files (default: the number of cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
    /// Print nothing but errors.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args)]
struct QueryArgs {
    /// Dataset folder written by `correlate`.
    #[arg(long, value_name = "DIR", required_unless_present = "list")]
    data: Option<PathBuf>,
    /// SQL to run (tables: sessions, findings; partition column dt).
    #[arg(value_name = "SQL", conflicts_with_all = ["name", "list"])]
    sql: Option<String>,
    /// A named query from queries/ (see --list).
    #[arg(long, value_name = "NAME", conflicts_with = "list")]
    name: Option<String>,
    /// List the named queries and the question each answers.
    #[arg(long)]
    list: bool,
    /// Output format: table, csv or json (JSON lines).
    #[arg(long, default_value = "table", value_name = "FORMAT")]
    format: String,
}

#[derive(Args)]
struct GenerateArgs {
    /// Output folder (must be empty or not exist).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Seed: the same seed and options give byte-identical output.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First day of activity (YYYY-MM-DD).
    #[arg(long, value_name = "DATE")]
    start_date: Option<String>,
    /// Days of activity.
    #[arg(long)]
    days: Option<u32>,
    /// Broker sessions per day.
    #[arg(long)]
    sessions_per_day: Option<u32>,
    /// Non-ssm CloudTrail records per ssm session event.
    #[arg(long)]
    noise_per_session: Option<u32>,
    /// Write about this much uncompressed CloudTrail (e.g. 250MB, 1GB, 4GB), for benchmarks.
    #[arg(long, value_name = "SIZE")]
    target_size: Option<String>,
    /// Generate only regular traffic, without the planted cases of every rule and status.
    #[arg(long)]
    no_planted_cases: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Correlate(args) => correlate(args),
        Command::Query(args) => query(args),
        Command::Report(args) => report(args),
        Command::Findings(args) => findings(args),
        Command::Generate(args) => generate(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn correlate(args: CorrelateArgs) -> Result<u8> {
    let policy = Policy::load(&args.policy)?;
    let fail_on = args
        .fail_on
        .as_deref()
        .map(|s| {
            Severity::parse(s).with_context(|| {
                format!("--fail-on {s:?}: expected one of low, medium, high, critical")
            })
        })
        .transpose()?;
    let mut options = RunOptions::new(args.cloudtrail, args.broker_log, args.out);
    if let Some(as_of) = &args.as_of {
        options.as_of = Some(
            sessiontrail_ingest::time::parse_rfc3339_millis(as_of)
                .with_context(|| format!("--as-of {as_of:?} is not an RFC 3339 timestamp"))?,
        );
    }
    options.progress = !args.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    if let Some(threads) = args.threads {
        options.threads = threads.max(1);
    }
    let summary = sessiontrail_correlate::run(&policy, &options)?;
    if !args.quiet {
        println!("{summary}");
    }
    if args.strict && !summary.rejects.is_empty() {
        eprintln!(
            "error: --strict: {} input records were rejected",
            summary.rejects.len()
        );
        return Ok(EXIT_ERROR);
    }
    if let (Some(threshold), Some(worst)) = (fail_on, summary.max_severity())
        && worst >= threshold
    {
        eprintln!("sessiontrail: --fail-on {threshold}: findings of severity {worst} present");
        return Ok(EXIT_FAIL_ON);
    }
    Ok(0)
}

fn query(args: QueryArgs) -> Result<u8> {
    let format: OutputFormat = args.format.parse()?;
    if args.list {
        let mut out = std::io::stdout().lock();
        for (name, _) in sessiontrail_report::named_queries() {
            writeln!(
                out,
                "{name:<24} {}",
                sessiontrail_report::description(name)?
            )?;
        }
        return Ok(0);
    }
    let sql = match (&args.sql, &args.name) {
        (Some(sql), None) => sql.clone(),
        (None, Some(name)) => sessiontrail_report::named_query(name)?.to_string(),
        _ => bail!("give SQL or --name NAME (see sessiontrail query --list)"),
    };
    let data = args.data.context("--data DIR is required")?;
    let batches = runtime()?.block_on(sessiontrail_report::run_query(&data, &sql))?;
    let mut out = std::io::stdout().lock();
    sessiontrail_report::write_batches(&batches, format, &mut out)?;
    out.flush()?;
    Ok(0)
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the query runtime")
}

fn report(args: ReportArgs) -> Result<u8> {
    let policy_rate = match &args.policy {
        Some(path) => Policy::load(path)?.min_attribution_rate,
        None => None,
    };
    let threshold = args.min_attribution_rate.or(policy_rate);
    let report = runtime()?.block_on(sessiontrail_report::write_monthly_report(
        &args.data,
        &args.month,
        &args.out,
        threshold,
    ))?;
    let summary = &report.summary;
    let rate = summary
        .attribution_rate
        .map_or("n/a (no broker sessions)".to_string(), |r| {
            format!("{:.2} %", r * 100.0)
        });
    println!(
        "sessiontrail report {}: {} sessions, {} via the broker, attribution rate {rate}, verdict {}",
        args.month, summary.sessions, summary.broker_sessions, summary.verdict
    );
    println!(
        "  unattributed {}, orphan {}, pending {}, direct {}, failed {}; findings {} ({} critical, {} high)",
        summary.unattributed,
        summary.orphan,
        summary.pending,
        summary.direct,
        summary.failed,
        summary.findings,
        summary.critical_findings,
        summary.high_findings
    );
    for file in [
        sessiontrail_report::monthly_report::HTML_FILE,
        sessiontrail_report::monthly_report::MARKDOWN_FILE,
        sessiontrail_report::monthly_report::JSON_FILE,
    ] {
        println!("  wrote {}", args.out.join(file).display());
    }
    Ok(0)
}

fn findings(args: FindingsArgs) -> Result<u8> {
    let format: sessiontrail_report::FindingsFormat = args.format.parse()?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let written = runtime()?.block_on(sessiontrail_report::export_findings(
        &args.data, format, &mut out,
    ))?;
    out.flush()?;
    eprintln!(
        "sessiontrail findings: {written} findings as {}",
        args.format
    );
    Ok(0)
}

fn generate(args: GenerateArgs) -> Result<u8> {
    let mut options = sessiontrail_generate::GenerateOptions {
        seed: args.seed,
        plant_cases: !args.no_planted_cases,
        ..Default::default()
    };
    if let Some(date) = &args.start_date {
        options.start_date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .with_context(|| format!("--start-date {date:?} is not YYYY-MM-DD"))?;
    }
    if let Some(days) = args.days {
        options.days = days;
    }
    if let Some(n) = args.sessions_per_day {
        options.sessions_per_day = n;
    }
    if let Some(n) = args.noise_per_session {
        options.noise_per_session = n;
    }
    if let Some(size) = &args.target_size {
        options.target_bytes = Some(parse_size(size)?);
    }
    let summary = sessiontrail_generate::generate(&args.out, &options)?;
    println!("{summary}");
    Ok(0)
}

/// `250MB`, `1GB`, `1.5GiB`, `1000000` (bytes). Decimal units are powers of 1000.
fn parse_size(text: &str) -> Result<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .with_context(|| format!("size {text:?}: expected a number and a unit such as 1GB"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "kib" => 1024.0,
        "mib" => 1024.0 * 1024.0,
        "gib" => 1024.0 * 1024.0 * 1024.0,
        other => bail!("size {text:?}: unknown unit {other:?} (use B, KB, MB, GB, KiB, MiB, GiB)"),
    };
    Ok((number * scale) as u64)
}
