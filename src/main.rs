//! `sessiontrail`: the command line. It parses flags and calls the library crates;
//! the work is done in `sessiontrail-ingest`, `-correlate`, `-report` and `-generate`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::{ArgGroup, Args, Parser, Subcommand};
use sessiontrail_aws::backfill::{RequestPacer, lookup_session_events};
use sessiontrail_aws::mirror::mirror_dataset;
use sessiontrail_aws::s3_inputs::CloudTrailScope;
use sessiontrail_aws::{
    DatasetStorage, InputLocations, Location, S3, S3Url, load_aws_config, merge_inputs, s3_client,
};
use sessiontrail_correlate::{Inputs, Policy, RunSettings, Severity};
use sessiontrail_report::monthly_report::Month;
use sessiontrail_report::{FindingsFormat, OutputFormat, ReportSettings, TablePartitions};

/// Exit codes (docs/contracts.md "Exit codes").
const EXIT_ERROR: u8 = 1;
const EXIT_USAGE: u8 = 2;
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
        Start with (the shipped fixtures, judged at the instant their truth.json is for):\n  \
        sessiontrail correlate --policy fixtures/generated/sessiontrail.toml \\\n      \
        --cloudtrail fixtures/generated/cloudtrail --broker-log fixtures/generated/broker \\\n      \
        --out out --as-of 2026-02-03T01:00:00Z\n  \
        sessiontrail query --data out --name unattributed",
    after_help = "Exit codes: 0 done (findings and rejects may exist), 1 error (or a reject under --strict), \
        2 usage (or --as-of earlier than the dataset's last run), 3 a finding at or above --fail-on \
        (among the findings new in this run, or all with --fail-on-scope all), or a failed check of verify."
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
        sessiontrail correlate --policy sessiontrail.toml \\\n      \
        --cloudtrail AWSLogs/111122223333/CloudTrail/eu-west-1/2026/02/02 \\\n      \
        --broker-log broker/2026/02/02 --out dataset/ --fail-on critical\n  \
        # a sweep with no new data: decides what became older than grace\n  \
        sessiontrail correlate --policy sessiontrail.toml --broker-log broker/2026/02/03 --out dataset/")]
    Correlate(CorrelateArgs),
    /// Run a named query or any SQL over the dataset (tables `sessions`, `findings`, `rejects`).
    #[command(after_help = "Examples:\n  \
        sessiontrail query --list\n  \
        sessiontrail query --data dataset/ --name unattributed\n  \
        sessiontrail query --data dataset/ --format csv \\\n      \
        \"SELECT original_user, count(*) AS sessions FROM sessions WHERE dt >= '2026-02-01' GROUP BY 1 ORDER BY 2 DESC\"")]
    Query(QueryArgs),
    /// Write the monthly compliance report (report.html, report.md, report.json).
    #[command(after_help = "Examples:\n  \
        sessiontrail report --data dataset/ --month 2026-02 --out report/ --policy sessiontrail.toml\n  \
        # judged at a fixed instant (a report before grace has passed says PROVISIONAL):\n  \
        sessiontrail report --data s3://audit-out/sessiontrail --month 2026-02 --out report/ \\\n      \
        --as-of 2026-03-01T01:00:00Z")]
    Report(ReportArgs),
    /// Export findings for Security Hub (asff), Security Lake (ocsf) or any SIEM (jsonl, csv).
    #[command(after_help = "Examples:\n  \
        sessiontrail findings --data dataset/ --format ocsf > findings.ocsf.jsonl\n  \
        # Security Hub: one BatchImportFindings request per line\n  \
        sessiontrail findings --data dataset/ --format asff | while read -r batch; do \\\n      \
        aws securityhub batch-import-findings --cli-input-json \"$batch\"; done")]
    Findings(FindingsArgs),
    /// Write realistic CloudTrail, broker log, policy and ground truth for trying things out.
    Generate(GenerateArgs),
    /// Write the session broker's guard rails from the policy file: the member-account
    /// StackSet template (a Session document per permission set, the session-starter
    /// role) and each permission set's inline policy.
    #[command(after_help = "Example:\n  \
        sessiontrail guard-rails --policy sessiontrail.toml --out guard-rails/ \\\n      \
        --broker-function-arn arn:aws:lambda:eu-west-1:111122223333:function:sessiontrail-broker\n  \
        # then, in the management account:\n  \
        aws cloudformation create-stack-set --stack-set-name sessiontrail-guard-rails \\\n      \
        --template-body file://guard-rails/member-stackset.json --capabilities CAPABILITY_NAMED_IAM ...\n  \
        aws sso-admin put-inline-policy-to-permission-set --instance-arn ... --permission-set-arn ... \\\n      \
        --inline-policy file://guard-rails/permission-set-Admin.json\n\n\
        What each file holds: docs/contracts.md \"Broker guard rails\".")]
    GuardRails(GuardRailsArgs),
    /// Correlate ssm session events pulled through CloudTrail LookupEvents (accounts
    /// without a trail bucket; the last 90 days), with the broker log.
    #[command(after_help = "Example:\n  \
        AWS_PROFILE=audit sessiontrail backfill --policy sessiontrail.toml --since 2026-11-01 \\\n      \
        --lookup-region eu-west-1 us-east-1 --broker-log s3://broker-logs/broker \\\n      \
        --out s3://audit-out/sessiontrail\n\n\
        LookupEvents allows 2 requests per second per account and region; a month of a busy region\n\
        takes minutes. Credentials and region come from the usual AWS configuration (SSO profiles too).")]
    Backfill(BackfillArgs),
    /// Verify CloudTrail's digest files: each digest's signature, the chain of digests,
    /// and the SHA-256 of every log file they list (exit 3 when any check failed).
    #[command(after_help = "Examples:\n  \
        # a copy of the trail bucket, the newest digest's S3 metadata saved beside it as\n  \
        # <digest>.metadata.json (scripts/fetch-digest-signatures.sh saves all of them):\n  \
        aws cloudtrail list-public-keys --region eu-west-1 --start-time 2026-02-01 > keys-eu-west-1.json\n  \
        sessiontrail verify --cloudtrail trail-bucket-copy --public-keys keys-eu-west-1.json\n  \
        # one day, the keys fetched with ListPublicKeys in each region the digests come from:\n  \
        sessiontrail verify --cloudtrail trail-bucket-copy/AWSLogs/111122223333 --live \\\n      \
        --from 2026-02-01 --to 2026-02-01\n  \
        # in place in the bucket (the signatures from the digests' object metadata):\n  \
        sessiontrail verify --cloudtrail s3://trail-bucket/AWSLogs/111122223333/ --live\n\n\
        Prints one line per failed check on stdout, RULE<TAB>FILE<TAB>WHAT, with the rule ids\n\
        log_file_tampered (critical), digest_signature_invalid (critical), log_file_missing (high),\n\
        digest_chain_broken (high), log_file_not_covered (low); then a summary on stderr.\n\
        Only the newest digest of each trail needs its sidecar: the others' signatures are in the\n\
        digest after them. What each check means: docs/contracts.md \"Evidence verification\".\n\n\
        Exit codes: 0 every check passed, 3 a check failed, 1 error (no folder, no digest files,\n\
        a key file that is not a list-public-keys output), 2 usage.")]
    Verify(VerifyArgs),
    /// Show one session's chain of custody: its CloudTrail record (file, byte offset, the
    /// file's SHA-256, the digest listing it and whether that digest's signature and chain
    /// verified) and its broker record (file, line).
    #[command(after_help = "Examples:\n  \
        sessiontrail correlate --policy sessiontrail.toml --cloudtrail trail-copy --broker-log broker/ \\\n      \
        --out dataset/ --verify --public-keys keys-eu-west-1.json\n  \
        sessiontrail evidence --data dataset/ --session alice@example.com-0a1b2c3d4e5f67890\n  \
        # a failed StartSession has no session id: name its CloudTrail eventID\n  \
        sessiontrail evidence --data dataset/ --session 3f1c2d4e-5a6b-4c7d-8e9f-0a1b2c3d4e5f --format jsonl\n\n\
        Every value comes from one SQL file, queries/evidence/session_custody.sql, over the dataset's\n\
        sessions and evidence tables; rerun it with Athena or `sessiontrail query` to check.\n\
        The log file columns are empty until a `correlate --verify` run has checked that file.\n\n\
        Exit codes: 0 shown, 1 no such session in the dataset (or an error), 2 usage.")]
    Evidence(EvidenceArgs),
    /// Check the controls per-permission-set Linux users depend on (session documents,
    /// the default preferences, SSMSessionRunAs, permission-set policies, the broker's
    /// function URL), from a snapshot of AWS CLI outputs or the same APIs live (exit 3
    /// when any check failed or could not be made).
    #[command(after_help = "Examples:\n  \
        # save the AWS CLI outputs (management account credentials, one profile per member account):\n  \
        scripts/posture-snapshot.sh --out snapshot/ --instance-arn arn:aws:sso:::instance/ssoins-0123456789abcdef \\\n      \
        --permission-set Admin=SSMRunAs-Admin-Session --permission-set Developer=SSMRunAs-Developer-Session \\\n      \
        --account 111122223333 --account 444455556666 --region eu-west-1 --region us-east-1 \\\n      \
        --account-profile 'audit-%s' --broker-function sessiontrail-broker --broker-profile audit-111122223333 \\\n      \
        --broker-region eu-west-1\n  \
        sessiontrail posture --policy sessiontrail.toml --snapshot snapshot/\n  \
        # the same calls made live with the SDK (a read role assumed in each member account), saved for replay:\n  \
        sessiontrail posture --policy sessiontrail.toml --live --profile management --sso-region eu-west-1 \\\n      \
        --accounts 111122223333,444455556666 --regions eu-west-1,us-east-1 --role-name sessiontrail-posture-read \\\n      \
        --broker-function arn:aws:lambda:eu-west-1:111122223333:function:sessiontrail-broker --save snapshot/\n  \
        # one account and region, as JSON lines (findings, then every check with its status):\n  \
        sessiontrail posture --policy sessiontrail.toml --snapshot snapshot/ --accounts 111122223333 \\\n      \
        --regions eu-west-1 --format jsonl\n  \
        # test data: every planted failure with its truth.json\n  \
        cargo run -p sessiontrail-generate --example posture -- posture-cases/\n  \
        sessiontrail posture --policy posture-cases/sessiontrail.toml --snapshot posture-cases/abac-run-as/snapshot\n\n\
        Prints one line per finding on stdout, RULE<TAB>SEVERITY<TAB>ACCOUNT<TAB>REGION<TAB>RESOURCE<TAB>DETAIL\n\
        (- for none), and reject<TAB>FILE: REASON for a snapshot file that is not what its command prints;\n\
        then a summary on stderr (checks passed, failed, not made). A check whose command output is missing\n\
        or bad is not made, never passed: it raises posture_check_not_made naming the file.\n\
        Rules and snapshot layout: docs/contracts.md \"Posture\".\n\n\
        Exit codes: 0 every check passed, 3 a finding (a check failed or was not made), 1 error (bad policy,\n\
        no snapshot folder, no account in scope, --live without credentials), 2 usage.")]
    Posture(PostureArgs),
}

/// The dataset a reading command reads.
#[derive(Args)]
struct DataArg {
    /// Dataset written by `correlate`: a folder or s3://bucket/prefix (an s3:// dataset's
    /// Parquet is copied to a temporary folder first; Athena reads it in place).
    #[arg(long, value_name = "DIR")]
    data: String,
}

#[derive(Args)]
struct ReportArgs {
    #[command(flatten)]
    data: DataArg,
    /// The month to report on (UTC).
    #[arg(long, value_name = "YYYY-MM", value_parser = parse_month)]
    month: Month,
    /// Folder for report.html, report.md and report.json (created if missing).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Policy file whose `[report] min_attribution_rate` gives the verdict's threshold.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// The verdict's threshold (0..1), overriding the policy's.
    #[arg(long, value_name = "RATE")]
    min_attribution_rate: Option<f64>,
    /// The instant the report is computed at (RFC 3339; default now): its generated_at,
    /// and whether it is final. A report is final once the policy's grace (--policy;
    /// 30m without one) has passed since the month's end and no session of the month
    /// is pending; before that its three files say it is provisional and why.
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant_arg)]
    as_of: Option<i64>,
}

#[derive(Args)]
struct FindingsArgs {
    #[command(flatten)]
    data: DataArg,
    /// jsonl (the findings table, one JSON object per line), csv, ocsf (OCSF 1.1.0
    /// Detection Finding, JSON lines) or asff (one BatchImportFindings batch of at most
    /// 100 findings per line).
    #[arg(long, value_name = "FORMAT", value_parser = findings_format_parser())]
    format: FindingsFormat,
}

#[derive(Args)]
#[command(group(ArgGroup::new("inputs").required(true).multiple(true).args(["cloudtrail", "broker_log"])))]
struct CorrelateArgs {
    /// CloudTrail input: files or folders (walked for .json, .jsonl, .log, .gz) or
    /// s3://bucket/prefix locations, in any form: S3 log files, EventBridge events,
    /// lookup-events output, JSON lines. Give this, --broker-log or both.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    cloudtrail: Vec<String>,
    #[command(flatten)]
    dataset: DatasetArgs,
    #[command(flatten)]
    scope: ScopeArgs,
    #[command(flatten)]
    verify: VerifyInRunArgs,
    #[command(flatten)]
    run: RunArgs,
}

/// Verifying the CloudTrail read against its digests in the correlation run.
#[derive(Args)]
struct VerifyInRunArgs {
    /// Check every CloudTrail log file read against CloudTrail's signed digest files
    /// (the checks of `sessiontrail verify`), hashing each file in the pass that reads
    /// it: evidence/ gets a row per log file, each session row its file's status
    /// (cloudtrail_evidence), and failed checks are findings (log_file_tampered, ...).
    /// The --cloudtrail locations must be folders of the trail's copy with its digests
    /// and their .metadata.json sidecars.
    #[arg(long, requires = "verify_keys")]
    verify: bool,
    /// --verify: saved `aws cloudtrail list-public-keys` output (one file per region).
    #[arg(long, value_name = "FILE", num_args = 1.., group = "verify_keys", requires = "verify")]
    public_keys: Vec<PathBuf>,
    /// --verify: fetch the public keys with CloudTrail ListPublicKeys instead.
    #[arg(long, group = "verify_keys", requires = "verify")]
    live: bool,
}

/// The policy, broker log and dataset of a command that correlates.
#[derive(Args)]
struct DatasetArgs {
    /// Policy file: broker identity, permission set -> document and run_as, [direct]
    /// allowances.
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// Broker log input (files, folders or s3:// locations): JSON lines (also Lambda's
    /// JSON log format), CloudWatch Logs exports or subscription payloads.
    #[arg(long = "broker-log", value_name = "PATH", num_args = 1..)]
    broker_log: Vec<String>,
    /// Dataset: a folder or s3://bucket/prefix; sessions/, findings/, rejects/, state/
    /// (created if missing).
    #[arg(long, value_name = "DIR")]
    out: String,
}

/// Narrowing an s3:// CloudTrail location to part of the trail, listed without listing
/// the whole bucket.
#[derive(Args)]
struct ScopeArgs {
    /// s3:// CloudTrail: start of the window, a date (YYYY-MM-DD, the whole day) or an
    /// RFC 3339 instant; read from its delivery-date folder on.
    #[arg(long, value_name = "WHEN", value_parser = parse_window_start)]
    since: Option<i64>,
    /// s3:// CloudTrail: end of the window, a date (the whole day) or an RFC 3339
    /// instant; the next day's folder is read too, for late deliveries.
    #[arg(long, value_name = "WHEN", value_parser = parse_window_end)]
    until: Option<i64>,
    /// s3:// CloudTrail: only these accounts.
    #[arg(long, value_name = "ID", num_args = 1..)]
    account: Vec<String>,
    /// s3:// CloudTrail: only these regions.
    #[arg(long, value_name = "REGION", num_args = 1..)]
    region: Vec<String>,
}

/// How a correlation run behaves and reports.
#[derive(Args)]
struct RunArgs {
    /// The instant grace is measured at (RFC 3339); default now. Items younger than
    /// the policy's grace stay `pending` and are decided by a later run. Never earlier
    /// than the dataset's last run (exit 2).
    #[arg(long, value_name = "RFC3339", value_parser = parse_instant_arg)]
    as_of: Option<i64>,
    /// Exit 3 when a finding of this severity or worse is in --fail-on-scope: by
    /// default a finding this run raised that no earlier run over the dataset had, so
    /// rerunning over the same inputs exits 0.
    #[arg(long, value_name = "SEVERITY", value_parser = severity_parser())]
    fail_on: Option<Severity>,
    /// Which findings --fail-on looks at: `new` (raised by this run, not by an earlier
    /// run over the dataset) or `all` (every finding of the run's window: the sessions
    /// still in the state and the new inputs, whether or not an earlier run raised them).
    #[arg(
        long,
        value_name = "SCOPE",
        default_value = "new",
        value_parser = ["new", "all"],
        requires = "fail_on"
    )]
    fail_on_scope: String,
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
struct BackfillArgs {
    /// Start of the window: a date (YYYY-MM-DD, from its first instant) or an RFC 3339
    /// instant (LookupEvents keeps 90 days).
    #[arg(long, value_name = "WHEN", value_parser = parse_window_start)]
    since: i64,
    /// End of the window: a date (to its last instant) or an RFC 3339 instant; default
    /// now.
    #[arg(long, value_name = "WHEN", value_parser = parse_window_end)]
    until: Option<i64>,
    /// Regions whose LookupEvents to call (the API is per region); default the
    /// profile's region. (`--region` is the old spelling.)
    #[arg(long = "lookup-region", alias = "region", value_name = "REGION", num_args = 1..)]
    lookup_region: Vec<String>,
    #[command(flatten)]
    dataset: DatasetArgs,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Args)]
#[command(group(ArgGroup::new("what").required(true).args(["sql", "name", "list"])))]
struct QueryArgs {
    /// Dataset written by `correlate`: a folder or s3://bucket/prefix (copied to a
    /// temporary folder first; Athena queries it in place, see deploy/).
    #[arg(long, value_name = "DIR", required_unless_present = "list")]
    data: Option<String>,
    /// SQL to run (tables: sessions, findings, rejects; partition column dt).
    #[arg(value_name = "SQL", conflicts_with_all = ["name", "list"])]
    sql: Option<String>,
    /// A named query from queries/ (see --list).
    #[arg(long, value_name = "NAME", conflicts_with = "list")]
    name: Option<String>,
    /// List the named queries and the question each answers.
    #[arg(long)]
    list: bool,
    /// Output format: table, csv, or jsonl (JSON lines; `json` is the old spelling).
    #[arg(long, default_value = "table", value_name = "FORMAT", value_parser = output_format_parser())]
    format: OutputFormat,
}

#[derive(Args)]
struct EvidenceArgs {
    #[command(flatten)]
    data: DataArg,
    /// The session id (as StartSession returned it), or a StartSession's CloudTrail eventID.
    #[arg(long, value_name = "ID")]
    session: String,
    /// Output: table (sections of name and value) or jsonl (one object per session row).
    #[arg(long, default_value = "table", value_name = "FORMAT", value_parser = output_format_parser())]
    format: OutputFormat,
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
    #[arg(long, value_name = "DATE", default_value_t = GENERATE_DEFAULTS.start_date)]
    start_date: chrono::NaiveDate,
    /// Days of activity.
    #[arg(long, default_value_t = GENERATE_DEFAULTS.days)]
    days: u32,
    /// Broker sessions per day.
    #[arg(long, default_value_t = GENERATE_DEFAULTS.sessions_per_day)]
    sessions_per_day: u32,
    /// Non-ssm CloudTrail records per ssm session event.
    #[arg(long, default_value_t = GENERATE_DEFAULTS.noise_per_session)]
    noise_per_session: u32,
    /// Write about this much uncompressed CloudTrail (e.g. 250MB, 1GB, 4GB), for benchmarks.
    #[arg(long, value_name = "SIZE")]
    target_size: Option<String>,
    /// Generate only regular traffic, without the planted cases of every rule and status.
    #[arg(long)]
    no_planted_cases: bool,
    /// Also sign: every trail's hourly CloudTrail digest files, each with its S3 metadata
    /// sidecar `<digest>.metadata.json` (what `aws s3api head-object` prints: the
    /// signature), the key as `public-keys.json` (what `aws cloudtrail list-public-keys`
    /// prints), and the expected verification in truth.json's `evidence`.
    #[arg(long)]
    digests: bool,
    /// With --digests, tamper with the signed set, one case of each kind named:
    /// log_file_tampered (a byte changed), log_file_missing (a file deleted),
    /// digest_removed (a digest gone from its chain), signature_forged, wrong_key
    /// (signed by another key), backfill (a late file listed by a _backfill digest:
    /// still verified), log_file_not_covered (a file no digest lists), or all.
    #[arg(
        long,
        value_name = "CASE[,CASE...]",
        value_delimiter = ',',
        requires = "digests",
        value_parser = tamper_parser()
    )]
    tamper: Vec<String>,
}

#[derive(Args)]
#[command(group(ArgGroup::new("keys").required(true).args(["public_keys", "live"])))]
struct VerifyArgs {
    /// The trail bucket's copy: the folder holding AWSLogs/, AWSLogs itself or any
    /// folder below it, walked whole. Each digest's S3 metadata is read from the
    /// sidecar <digest file name>.metadata.json beside it (`aws s3api head-object`).
    /// Or s3://bucket/prefix: copied first, the metadata from HeadObject.
    #[arg(long, value_name = "DIR")]
    cloudtrail: String,
    /// Saved output of `aws cloudtrail list-public-keys` (one file per region the
    /// digests come from; list several).
    #[arg(long, value_name = "FILE", num_args = 1..)]
    public_keys: Vec<PathBuf>,
    /// Fetch the public keys with CloudTrail ListPublicKeys, in each region the digests
    /// come from (AWS credentials from the usual configuration).
    #[arg(long)]
    live: bool,
    /// Only digests ending at or after this, and log files named from it on: a date
    /// (YYYY-MM-DD, from its first instant) or an RFC 3339 instant.
    #[arg(long, value_name = "WHEN", value_parser = parse_window_start)]
    from: Option<i64>,
    /// Only digests starting at or before this, and log files named up to it: a date
    /// (to its last instant) or an RFC 3339 instant.
    #[arg(long, value_name = "WHEN", value_parser = parse_window_end)]
    to: Option<i64>,
    /// Threads hashing log files (default: the number of cores).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

#[derive(Args)]
#[command(group(ArgGroup::new("posture_source").required(true).args(["snapshot", "live"])))]
struct PostureArgs {
    /// The policy file the broker and the audit share (its [[permission_set]] and [broker]).
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// A folder of AWS CLI outputs, as scripts/posture-snapshot.sh writes it.
    #[arg(long, value_name = "DIR")]
    snapshot: Option<PathBuf>,
    /// Call the same AWS APIs with the SDK instead (needs --broker-function).
    #[arg(long, requires = "broker_function")]
    live: bool,
    /// Accounts in scope (default: every accounts/<id> folder of the snapshot; with
    /// --live, the caller's account).
    #[arg(long, value_name = "ID", num_args = 1.., value_delimiter = ',')]
    accounts: Vec<String>,
    /// Regions in scope (default: every accounts/<id>/<region> folder of the snapshot;
    /// with --live, the configured region).
    #[arg(long, value_name = "REGION", num_args = 1.., value_delimiter = ',')]
    regions: Vec<String>,
    /// --live: the AWS profile (Identity Center's management or delegated administrator
    /// account).
    #[arg(long, value_name = "PROFILE", requires = "live")]
    profile: Option<String>,
    /// --live: the read role assumed in each member account that is not the caller's.
    #[arg(long, value_name = "NAME", requires = "live")]
    role_name: Option<String>,
    /// --live: the IAM Identity Center instance (default: the one list-instances names).
    #[arg(long, value_name = "ARN", requires = "live")]
    instance_arn: Option<String>,
    /// --live: Identity Center's region (default: the configured region).
    #[arg(long, value_name = "REGION", requires = "live")]
    sso_region: Option<String>,
    /// --live: the broker function's name or ARN.
    #[arg(long, value_name = "NAME", requires = "live")]
    broker_function: Option<String>,
    /// --live: the broker's region when --broker-function is a name.
    #[arg(long, value_name = "REGION", requires = "live")]
    broker_region: Option<String>,
    /// --live: also save every answer in the snapshot layout (replay with --snapshot).
    #[arg(long, value_name = "DIR", requires = "live")]
    save: Option<PathBuf>,
    /// Output: text (tab-separated finding lines) or jsonl (findings, checks, rejects).
    #[arg(long, default_value = "text", value_parser = ["text", "jsonl"])]
    format: String,
    /// The largest idleSessionTimeout a session document may have, minutes.
    #[arg(long, value_name = "MINUTES", default_value_t = 20)]
    max_idle_session_timeout: u32,
    /// The largest maxSessionDuration a session document may have, minutes.
    #[arg(long, value_name = "MINUTES", default_value_t = 60)]
    max_session_duration: u32,
    /// Do not require session logging (s3BucketName or cloudWatchLogGroupName).
    #[arg(long)]
    no_require_logging: bool,
    /// Do not require kmsKeyId.
    #[arg(long)]
    no_require_encryption: bool,
    /// The partition of the ARNs permission-set policies are probed with.
    #[arg(long, default_value = "aws")]
    partition: String,
}

#[derive(Args)]
struct GuardRailsArgs {
    /// The policy file the broker and the audit share.
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// Output folder; existing files of the same names are replaced.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// The broker function's ARN (the broker stack's BrokerFunctionArn output).
    #[arg(long, value_name = "ARN")]
    broker_function_arn: String,
    /// The session-starter role's name (the broker stack's StarterRoleName).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "sessiontrail-session-starter"
    )]
    starter_role_name: String,
    /// The partition of the permission-set policies' ARNs.
    #[arg(long, default_value = "aws")]
    partition: String,
    /// Session documents' idleSessionTimeout, minutes (1 to 60).
    #[arg(long, value_name = "MINUTES", default_value_t = 20)]
    idle_session_timeout: u32,
    /// Session documents' maxSessionDuration, minutes (1 to 1440).
    #[arg(long, value_name = "MINUTES", default_value_t = 60)]
    max_session_duration: u32,
}

/// `sessiontrail generate`'s defaults, shown in its help.
static GENERATE_DEFAULTS: std::sync::LazyLock<sessiontrail_generate::GenerateOptions> =
    std::sync::LazyLock::new(Default::default);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = match &cli.command {
        Command::Correlate(args) => args.run.quiet,
        Command::Backfill(args) => args.run.quiet,
        _ => false,
    };
    init_logs(quiet);
    let result = match cli.command {
        Command::Correlate(args) => correlate(args),
        Command::Query(args) => query(args),
        Command::Report(args) => report(args),
        Command::Findings(args) => findings(args),
        Command::Generate(args) => generate(args),
        Command::GuardRails(args) => guard_rails(args),
        Command::Backfill(args) => backfill(args),
        Command::Verify(args) => verify(args),
        Command::Evidence(args) => evidence(args),
        Command::Posture(args) => posture(args),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        // A closed pipe (`| head`) is the reader's choice, not an error.
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", error_text(&err));
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Logs of the library crates ([`tracing`] events) in a human format on stderr:
/// warnings and errors (only errors under `--quiet`), nothing from other crates;
/// `RUST_LOG` says otherwise. What a command prints (its summary, its errors) is not a
/// log and does not go through here.
fn init_logs(quiet: bool) {
    let level = if quiet { "error" } else { "warn" };
    let default = [
        "sessiontrail",
        "sessiontrail_ingest",
        "sessiontrail_correlate",
        "sessiontrail_report",
        "sessiontrail_generate",
        "sessiontrail_aws",
    ]
    .iter()
    .fold("off".to_string(), |filter, name| {
        format!("{filter},{name}={level}")
    });
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(false)
        .with_env_filter(filter)
        .try_init();
}

/// The error and its causes, each said once: a cause whose text the message already
/// holds (DataFusion repeats its source in its own message) is not repeated.
fn error_text(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
    }
    text
}

/// `--tamper`'s names: the generator's tamper cases, and `all`.
fn tamper_parser() -> PossibleValuesParser {
    let names = sessiontrail_generate::TamperCase::ALL
        .iter()
        .map(|case| case.as_str())
        .chain(["all"]);
    PossibleValuesParser::new(names.map(PossibleValue::new))
}

fn severity_parser() -> impl TypedValueParser<Value = Severity> {
    let names = Severity::ALL
        .iter()
        .rev()
        .map(|s| PossibleValue::new(s.as_str()));
    PossibleValuesParser::new(names).map(|s| Severity::parse(&s).expect("a listed severity"))
}

/// JSON lines are `jsonl` in every command; `json` stays as the old spelling.
fn output_format_parser() -> impl TypedValueParser<Value = OutputFormat> {
    let names = OutputFormat::ALL.iter().map(|f| match f {
        OutputFormat::Json => PossibleValue::new("jsonl").alias("json"),
        other => PossibleValue::new(other.name()),
    });
    PossibleValuesParser::new(names).map(|s| match s.as_str() {
        "jsonl" | "json" => OutputFormat::Json,
        other => other.parse().expect("a listed format"),
    })
}

fn findings_format_parser() -> impl TypedValueParser<Value = FindingsFormat> {
    let names = FindingsFormat::ALL.iter().map(|f| match f.name() {
        "jsonl" => PossibleValue::new("jsonl").alias("json"),
        name => PossibleValue::new(name),
    });
    PossibleValuesParser::new(names).map(|s| {
        let name = if s == "json" { "jsonl" } else { s.as_str() };
        name.parse().expect("a listed format")
    })
}

fn parse_instant_arg(text: &str) -> Result<i64, String> {
    sessiontrail_ingest::time::parse_rfc3339_millis(text)
        .ok_or_else(|| "expected an RFC 3339 timestamp such as 2026-02-03T01:00:00Z".to_string())
}

fn parse_month(text: &str) -> Result<Month, String> {
    text.parse::<Month>().map_err(|e| e.to_string())
}

/// A window's start: a date is its first instant.
fn parse_window_start(text: &str) -> Result<i64, String> {
    parse_window(text, 0)
}

/// A window's end: a date is its last instant.
fn parse_window_end(text: &str) -> Result<i64, String> {
    parse_window(text, 86_400_000 - 1)
}

fn parse_window(text: &str, into_day: i64) -> Result<i64, String> {
    if let Ok(date) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        let start = date.and_hms_opt(0, 0, 0).expect("midnight exists");
        return Ok(start.and_utc().timestamp_millis() + into_day);
    }
    sessiontrail_ingest::time::parse_rfc3339_millis(text).ok_or_else(|| {
        "expected a date (YYYY-MM-DD) or an RFC 3339 timestamp such as 2026-02-03T01:00:00Z"
            .to_string()
    })
}

/// A progress bar on stderr when it is a terminal and the command is not quiet.
fn progress_bar(enabled: bool, label: &'static str) -> indicatif::ProgressBar {
    if !enabled || !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:30}] {pos}/{len} files, {elapsed} (eta {eta})",
        )
        .expect("a valid template")
        .progress_chars("=> "),
    );
    bar.set_message(label);
    bar
}

/// A `(done, total)` callback that moves `bar`.
fn advance(bar: &indicatif::ProgressBar) -> impl Fn(usize, usize) + Sync + '_ {
    move |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
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
    let policy = Policy::load(&args.dataset.policy)?;
    let locations = InputLocations::parse(&args.cloudtrail, &args.dataset.broker_log)?;
    let out = Location::parse(&args.dataset.out)?;
    let scope = args.scope.scope()?;
    if !scope.is_everything() && !locations.has_s3_cloudtrail() {
        bail!(
            "--since, --until, --account and --region narrow s3:// CloudTrail locations; for folders, name the folders to read"
        );
    }
    if args.verify.verify {
        return correlate_verified(args, &policy, &locations, &out);
    }
    let bar = progress_bar(!args.run.quiet, "reading CloudTrail");
    let mut inputs = locations.read_local(args.run.threads, &advance(&bar))?;
    bar.finish_and_clear();
    let aws = Aws::new_if(locations.has_s3() || out.is_s3())?;
    if let Some(aws) = &aws {
        let bar = progress_bar(!args.run.quiet, "reading CloudTrail from S3");
        let from_s3 = aws
            .runtime
            .block_on(locations.read_s3(&aws.s3, &scope, &advance(&bar)))?;
        bar.finish_and_clear();
        merge_inputs(&mut inputs, from_s3);
    }
    run_and_report(&policy, &out, aws.as_ref(), inputs, &args.run)
}

/// `correlate --verify`: the CloudTrail folders read and verified in one pass, then
/// correlated with what the checks found.
fn correlate_verified(
    args: CorrelateArgs,
    policy: &Policy,
    locations: &InputLocations,
    out: &Location,
) -> Result<u8> {
    use sessiontrail_aws::location::split_locations;
    use sessiontrail_aws::trail_copy::CopyNames;
    use sessiontrail_evidence::{VerifyOptions, evidence_input, read_and_verify};
    let (local, s3) = split_locations(&locations.cloudtrail);
    let broker_only = InputLocations {
        cloudtrail: Vec::new(),
        broker_logs: locations.broker_logs.clone(),
    };
    let mut inputs = broker_only.read_local(args.run.threads, &|_, _| {})?;
    let aws = Aws::new_if(locations.has_s3() || out.is_s3() || args.verify.live)?;
    if let Some(aws) = &aws {
        let from_s3 = aws.runtime.block_on(broker_only.read_s3(
            &aws.s3,
            &CloudTrailScope::default(),
            &|_, _| {},
        ))?;
        merge_inputs(&mut inputs, from_s3);
    }
    // An s3:// location is copied first, as `verify` copies it (digests with their
    // HeadObject metadata as sidecars, log files), then read and verified in one pass
    // like a folder; what is recorded names its objects by s3:// URL.
    let mut folders: Vec<(PathBuf, Option<String>)> =
        local.into_iter().map(|folder| (folder, None)).collect();
    let mut copies = Vec::new();
    for url in &s3 {
        let aws = aws
            .as_ref()
            .expect("S3 locations bring the AWS configuration");
        let copy = tempfile::tempdir().context("creating a temporary folder")?;
        aws.runtime
            .block_on(sessiontrail_aws::trail_copy::copy_trail(
                &aws.s3,
                url,
                copy.path(),
            ))
            .with_context(|| format!("copying {url} to verify it"))?;
        folders.push((copy.path().to_path_buf(), Some(url.bucket.clone())));
        copies.push((CopyNames::new(copy.path(), &url.bucket), copy));
    }
    if folders.is_empty() {
        bail!("--verify needs --cloudtrail folders or s3:// locations to verify");
    }
    let show = |text: &str| {
        copies
            .iter()
            .fold(text.to_string(), |text, (names, _)| names.show(&text))
    };
    let threads = args
        .run
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let options = VerifyOptions {
        threads: Some(threads),
        ..Default::default()
    };
    let bar = progress_bar(!args.run.quiet, "reading and hashing CloudTrail");
    let mut read = match &aws {
        Some(aws) if args.verify.live => {
            let mut keys = sessiontrail_aws::public_keys::LivePublicKeys {
                runtime: aws.runtime.handle().clone(),
                sdk: aws.sdk.clone(),
            };
            read_and_verify(&folders, threads, &advance(&bar), &options, &mut keys)
        }
        _ => {
            let mut keys = saved_public_keys(&args.verify.public_keys)?;
            read_and_verify(&folders, threads, &advance(&bar), &options, &mut keys)
        }
    }
    .map_err(|e| anyhow::anyhow!(show(&e.to_string())))?;
    bar.finish_and_clear();
    for (names, _) in &copies {
        names.rename_read(&mut read.cloudtrail);
    }
    let mut evidence = sessiontrail_correlate::EvidenceInput::default();
    for (folder, verification) in &read.verifications {
        if !args.run.quiet {
            eprintln!(
                "{}: {}",
                show(&folder.display().to_string()),
                verify_summary(verification)
            );
        }
        let found = evidence_input(verification, &show);
        evidence.log_files.extend(found.log_files);
        evidence.digests_checked.extend(found.digests_checked);
        evidence.digest_problems.extend(found.digest_problems);
    }
    inputs.cloudtrail.merge(read.cloudtrail);
    inputs.evidence = Some(evidence);
    run_and_report(policy, out, aws.as_ref(), inputs, &args.run)
}

/// Public keys from saved `aws cloudtrail list-public-keys` outputs.
fn saved_public_keys(paths: &[PathBuf]) -> Result<sessiontrail_evidence::PublicKeys> {
    let mut keys = sessiontrail_evidence::PublicKeys::default();
    for path in paths {
        let content = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        keys.extend(
            sessiontrail_evidence::PublicKeys::from_list_public_keys_json(
                &content,
                &path.display().to_string(),
            )?,
        );
    }
    Ok(keys)
}

/// Runs the correlation into `out`, prints the summary, and gives the exit code.
fn run_and_report(
    policy: &Policy,
    out: &Location,
    aws: Option<&Aws>,
    inputs: Inputs,
    args: &RunArgs,
) -> Result<u8> {
    let fail_on = args.fail_on;
    let settings = RunSettings {
        as_of: args.as_of,
        outbox: false,
    };
    let storage = DatasetStorage::for_run(out, aws.map(|aws| &aws.s3))?;
    let result = sessiontrail_correlate::run_on(policy, &storage, inputs, &settings);
    let mut summary = match result {
        Ok(summary) => summary,
        // Refused before anything was written (RunError::AsOfBeforeLastRun: --as-of
        // earlier than the dataset's last run): a wrong flag, not a failure.
        Err(err) if err.is_usage() => {
            eprintln!("error: {err}");
            return Ok(EXIT_USAGE);
        }
        Err(err) => return Err(err.into()),
    };
    summary.elapsed = summary.elapsed.max(std::time::Duration::from_millis(1));
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
    if let Some(threshold) = fail_on {
        let (worst, which) = match args.fail_on_scope.as_str() {
            "all" => (summary.max_severity(), "in the run's window"),
            _ => (
                summary.new_findings.iter().map(|f| f.severity()).max(),
                "new in this run",
            ),
        };
        if let Some(worst) = worst
            && worst >= threshold
        {
            eprintln!("sessiontrail: --fail-on {threshold}: findings of severity {worst} {which}");
            return Ok(EXIT_FAIL_ON);
        }
    }
    Ok(0)
}

impl ScopeArgs {
    fn scope(&self) -> Result<CloudTrailScope> {
        let date =
            |millis: i64| chrono::DateTime::from_timestamp_millis(millis).map(|t| t.date_naive());
        let scope = CloudTrailScope {
            since: self.since.and_then(date),
            until: self.until.and_then(date),
            accounts: self.account.clone(),
            regions: self.region.clone(),
        };
        if let (Some(since), Some(until)) = (scope.since, scope.until)
            && since > until
        {
            bail!("--since {since} is after --until {until}");
        }
        Ok(scope)
    }
}

/// The AWS clients of one command, on a runtime of their own.
struct Aws {
    runtime: tokio::runtime::Runtime,
    sdk: aws_config::SdkConfig,
    s3: S3,
}

impl Aws {
    fn new_if(needed: bool) -> Result<Option<Aws>> {
        if !needed {
            return Ok(None);
        }
        let runtime = runtime()?;
        let sdk = runtime.block_on(load_aws_config());
        let s3 = S3::new(s3_client(&sdk), runtime.handle().clone());
        Ok(Some(Aws { runtime, sdk, s3 }))
    }
}

/// The dataset folder a query reads: the folder itself, or a temporary copy of the
/// partitions `wanted` of an s3:// dataset's Parquet.
fn local_dataset(
    data: &str,
    wanted: &[TablePartitions],
) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
    match Location::parse(data)? {
        Location::Local(path) => Ok((path, None)),
        Location::S3(url) => {
            let aws = Aws::new_if(true)?.expect("asked for");
            let copy = tempfile::tempdir().context("a temporary folder for the dataset")?;
            let files = aws
                .runtime
                .block_on(mirror_dataset(&aws.s3, &url, copy.path(), wanted))?;
            eprintln!("sessiontrail: read {files} Parquet files from {url}");
            Ok((copy.path().to_path_buf(), Some(copy)))
        }
    }
}

fn backfill(args: BackfillArgs) -> Result<u8> {
    let policy = Policy::load(&args.dataset.policy)?;
    let since = args.since;
    let until = args
        .until
        .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
    if since >= until {
        bail!(
            "--since {} is not before --until {}",
            sessiontrail_ingest::time::format_rfc3339_millis(since),
            sessiontrail_ingest::time::format_rfc3339_millis(until)
        );
    }
    let out = Location::parse(&args.dataset.out)?;
    let locations = InputLocations::parse(&[], &args.dataset.broker_log)?;
    let aws = Aws::new_if(true)?.expect("asked for");
    let regions = if args.lookup_region.is_empty() {
        vec![
            aws.sdk
                .region()
                .map(|r| r.to_string())
                .context("no region: give --lookup-region or set one in the AWS profile")?,
        ]
    } else {
        args.lookup_region.clone()
    };
    let mut inputs = locations.read_local(args.run.threads, &|_, _| {})?;
    let quiet = args.run.quiet;
    for region in &regions {
        let client = sessiontrail_aws::backfill::cloudtrail_client(&aws.sdk, region);
        let mut pacer = RequestPacer::new(sessiontrail_aws::backfill::MIN_REQUEST_INTERVAL);
        let read = aws.runtime.block_on(lookup_session_events(
            &client,
            region,
            since,
            until,
            &mut pacer,
            &|event_name, page| {
                if !quiet {
                    eprint!("\rLookupEvents {region}: {event_name} page {page}   ");
                }
            },
        ))?;
        if !quiet {
            eprintln!(
                "\rLookupEvents {region}: {} requests, {} ssm session events",
                read.requests, read.cloudtrail.stats.session_events
            );
        }
        inputs.cloudtrail.merge(read.cloudtrail);
    }
    let from_s3 = aws.runtime.block_on(locations.read_s3(
        &aws.s3,
        &CloudTrailScope::default(),
        &|_, _| {},
    ))?;
    merge_inputs(&mut inputs, from_s3);
    run_and_report(&policy, &out, Some(&aws), inputs, &args.run)
}

fn query(args: QueryArgs) -> Result<u8> {
    let format = args.format;
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
        _ => unreachable!("clap requires exactly one of SQL, --name and --list"),
    };
    let data = args.data.context("--data DIR is required")?;
    let (data, _copy) = local_dataset(&data, &sessiontrail_report::every_partition())?;
    let batches = runtime()?.block_on(sessiontrail_report::run_query(&data, &sql))?;
    let mut out = std::io::stdout().lock();
    sessiontrail_report::write_batches(&batches, format, &mut out)?;
    out.flush()?;
    Ok(0)
}

fn evidence(args: EvidenceArgs) -> Result<u8> {
    let (data, _copy) = local_dataset(&args.data.data, &sessiontrail_report::every_partition())?;
    let custody =
        runtime()?.block_on(sessiontrail_report::session_custody(&data, &args.session))?;
    if custody.rows() == 0 {
        bail!(
            "no session with session_id or cloudtrail_event_id {:?} in {}",
            args.session,
            args.data.data
        );
    }
    let mut out = std::io::stdout().lock();
    sessiontrail_report::write_custody(&custody, args.format, &mut out)?;
    Ok(0)
}

fn verify(args: VerifyArgs) -> Result<u8> {
    use sessiontrail_aws::trail_copy::CopyNames;
    use sessiontrail_evidence::{VerifyOptions, verify_folder};
    let at = |millis: Option<i64>| millis.and_then(chrono::DateTime::from_timestamp_millis);
    let mut options = VerifyOptions {
        from: at(args.from),
        to: at(args.to),
        threads: args.threads,
        ..Default::default()
    };
    let aws = if args.live || S3Url::is_s3(&args.cloudtrail) {
        let runtime = runtime()?;
        let sdk = runtime.block_on(load_aws_config());
        Some((runtime, sdk))
    } else {
        None
    };
    // An s3:// location is copied first (digests with their HeadObject metadata as
    // sidecars, log files), and named by its s3:// keys in what is printed.
    let copy = tempfile::tempdir().context("creating a temporary folder")?;
    let (folder, shown_as) = match (&aws, S3Url::is_s3(&args.cloudtrail)) {
        (Some((runtime, sdk)), true) => {
            let url = S3Url::parse(&args.cloudtrail)?;
            let s3 = S3::new(s3_client(sdk), runtime.handle().clone());
            runtime.block_on(sessiontrail_aws::trail_copy::copy_trail(
                &s3,
                &url,
                copy.path(),
            ))?;
            options.bucket = Some(url.bucket.clone());
            (
                copy.path().to_path_buf(),
                Some(CopyNames::new(copy.path(), &url.bucket)),
            )
        }
        _ => (PathBuf::from(&args.cloudtrail), None),
    };
    let verification = match &aws {
        Some((runtime, sdk)) if args.live => {
            let mut keys = sessiontrail_aws::public_keys::LivePublicKeys {
                runtime: runtime.handle().clone(),
                sdk: sdk.clone(),
            };
            verify_folder(&folder, &options, &mut keys)
        }
        _ => {
            let mut keys = saved_public_keys(&args.public_keys)?;
            verify_folder(&folder, &options, &mut keys)
        }
    };
    let show = |text: &str| match &shown_as {
        Some(names) => names.show(text),
        None => text.to_string(),
    };
    let verification = verification.map_err(|e| anyhow::anyhow!(show(&e.to_string())))?;
    let one_line = |text: &str| text.replace(['\t', '\n', '\r'], " ");
    let mut out = std::io::stdout().lock();
    for problem in &verification.problems {
        writeln!(
            out,
            "{}\t{}\t{}",
            problem.rule.as_str(),
            one_line(&show(&problem.file)),
            one_line(&show(&problem.detail))
        )?;
    }
    out.flush()?;
    eprintln!("{}", verify_summary(&verification));
    Ok(if verification.passed() {
        0
    } else {
        EXIT_FAIL_ON
    })
}

/// `verify`'s last line: what was checked and what failed.
fn verify_summary(v: &sessiontrail_evidence::Verification) -> String {
    use sessiontrail_evidence::{LogFileStatus, evidence_rules};
    let signed = v.digests.iter().filter(|d| d.signature_verified).count();
    let chained = v.digests.iter().filter(|d| d.chain_verified).count();
    let statuses: Vec<String> = LogFileStatus::ALL
        .iter()
        .map(|s| format!("{} {}", v.count(*s), s.as_str()))
        .collect();
    let rules: Vec<String> = evidence_rules()
        .filter(|r| v.problem_count(*r) > 0)
        .map(|r| format!("{} {}", v.problem_count(r), r.as_str()))
        .collect();
    format!(
        "verify: {} digests ({signed} signature verified, {chained} chain verified); {} log files ({}); {}",
        v.digests.len(),
        v.log_files.len(),
        statuses.join(", "),
        if rules.is_empty() {
            "every check passed".to_string()
        } else {
            format!("{} problems ({})", v.problems.len(), rules.join(", "))
        }
    )
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the query runtime")
}

fn report(args: ReportArgs) -> Result<u8> {
    let policy = args.policy.as_deref().map(Policy::load).transpose()?;
    let mut settings = ReportSettings::with_threshold(
        args.min_attribution_rate
            .or(policy.as_ref().and_then(|p| p.min_attribution_rate)),
    );
    if let Some(policy) = &policy {
        settings.grace = policy.grace;
    }
    if let Some(millis) = args.as_of {
        settings.as_of = Some(
            chrono::DateTime::from_timestamp_millis(millis).context("--as-of is out of range")?,
        );
    }
    let month = args.month;
    let (data, _copy) = local_dataset(
        &args.data.data,
        &sessiontrail_report::partitions_needed(month),
    )?;
    let month_text = month.to_string();
    let report = runtime()?.block_on(sessiontrail_report::write_monthly_report(
        &data,
        &month_text,
        &args.out,
        &settings,
    ))?;
    let summary = &report.summary;
    let rate = summary
        .attribution_rate
        .map_or("n/a (no broker sessions)".to_string(), |r| {
            format!("{:.2} %", r * 100.0)
        });
    println!(
        "sessiontrail report {}: {} sessions, {} via the broker, attribution rate {rate}, verdict {}",
        month_text, summary.sessions, summary.broker_sessions, summary.verdict
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
    if let Some(reason) = report.finality.provisional_reason() {
        println!("  PROVISIONAL (not final): {reason}");
    }
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
    let format = args.format;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let (data, _copy) = local_dataset(&args.data.data, &sessiontrail_report::every_partition())?;
    let export = runtime()?.block_on(sessiontrail_report::export_findings_with_summary(
        &data, format, &mut out,
    ))?;
    out.flush()?;
    eprintln!("sessiontrail findings: {}", export.summary());
    Ok(0)
}

fn generate(args: GenerateArgs) -> Result<u8> {
    let mut options = sessiontrail_generate::GenerateOptions {
        seed: args.seed,
        plant_cases: !args.no_planted_cases,
        start_date: args.start_date,
        days: args.days,
        sessions_per_day: args.sessions_per_day,
        noise_per_session: args.noise_per_session,
        ..Default::default()
    };
    if let Some(size) = &args.target_size {
        options.target_bytes = Some(parse_size(size)?);
    }
    options.digests = args.digests;
    options.tamper = sessiontrail_generate::TamperCase::parse_list(&args.tamper)?;
    let summary = sessiontrail_generate::generate(&args.out, &options)?;
    println!("{summary}");
    Ok(0)
}

fn posture(args: PostureArgs) -> Result<u8> {
    use sessiontrail_aws::posture_live::{LiveOptions, LivePostureSource, load_config};
    use sessiontrail_posture::{PostureSettings, PostureSource, SnapshotSource, check_posture};
    let policy = Policy::load(&args.policy)?;
    let accounts = (!args.accounts.is_empty()).then_some(args.accounts);
    let regions = (!args.regions.is_empty()).then_some(args.regions);
    let settings = PostureSettings {
        accounts: accounts.clone(),
        regions: regions.clone(),
        max_idle_minutes: args.max_idle_session_timeout,
        max_session_minutes: args.max_session_duration,
        require_logging: !args.no_require_logging,
        require_encryption: !args.no_require_encryption,
        partition: args.partition.clone(),
    };
    // The runtime outlives the live source, which makes its calls on it.
    let live_runtime = if args.live { Some(runtime()?) } else { None };
    let (snapshot, live) = match (&args.snapshot, &live_runtime) {
        (Some(snapshot), _) => (
            Some(SnapshotSource::open(snapshot).map_err(anyhow::Error::msg)?),
            None,
        ),
        (None, Some(runtime)) => {
            let options = LiveOptions {
                accounts,
                regions,
                role_name: args.role_name,
                instance_arn: args.instance_arn,
                sso_region: args.sso_region,
                broker_function: args.broker_function.unwrap_or_default(),
                broker_region: args.broker_region,
                partition: args.partition,
            };
            let handle = runtime.handle().clone();
            let live = runtime.block_on(async {
                let base = load_config(args.profile.as_deref()).await;
                LivePostureSource::connect(base, options, handle).await
            })?;
            (None, Some(live))
        }
        (None, None) => bail!("posture needs --snapshot DIR or --live"),
    };
    let (source, shown): (&dyn PostureSource, String) = match (&snapshot, &live) {
        (Some(s), _) => (s, s.root().display().to_string()),
        (None, Some(l)) => (l, "the live AWS APIs".to_string()),
        (None, None) => unreachable!("one source is open"),
    };
    let report =
        check_posture(&policy, source, &settings).with_context(|| format!("posture of {shown}"))?;
    if let (Some(dir), Some(live)) = (&args.save, &live) {
        let written = sessiontrail_posture::write_snapshot(dir, &live.recorded(), &live.scope())
            .with_context(|| format!("saving the answers in {}", dir.display()))?;
        eprintln!(
            "posture: {} outputs saved in {}",
            written.len(),
            dir.display()
        );
    }
    let mut out = std::io::stdout().lock();
    if args.format == "jsonl" {
        report.write_jsonl(&mut out)?;
    } else {
        report.write_text(&mut out)?;
    }
    out.flush()?;
    eprintln!("{}", report.summary());
    Ok(if report.all_passed() { 0 } else { EXIT_FAIL_ON })
}

fn guard_rails(args: GuardRailsArgs) -> Result<u8> {
    use sessiontrail_broker::guard_rails::{GuardRailSettings, guard_rail_files, write_files};
    let policy = Policy::load(&args.policy)?;
    let settings = GuardRailSettings {
        partition: args.partition,
        broker_function_arn: args.broker_function_arn,
        starter_role_name: args.starter_role_name,
        idle_session_timeout_minutes: args.idle_session_timeout,
        max_session_duration_minutes: args.max_session_duration,
    };
    let files = guard_rail_files(&policy, &settings)
        .with_context(|| format!("guard rails of {}", args.policy.display()))?;
    for path in write_files(&args.out, &files)? {
        println!("{}", path.display());
    }
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
