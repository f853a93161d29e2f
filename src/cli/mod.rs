//! The command line: clap definitions and one module per command. Each command returns an
//! [`Exit`] so `main` alone decides the process exit code.

mod check;
#[cfg(feature = "cluster")]
mod cluster;
mod common;
mod copy;
mod docs;
mod explain;
mod fmt;
pub mod log_format;
#[cfg(feature = "cluster")]
mod logging;
mod run;
mod schema;
mod status;
mod verify;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// How a command ended: 0 success, 1 runtime failure, 2 usage or validation error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok = 0,
    Runtime = 1,
    Usage = 2,
}

#[derive(Debug, Parser)]
#[command(
    name = "flow",
    version,
    about = "Declarative dataflow/ETL: move and reshape data between databases and files"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a .flow file: syntax, names, options, and (when sources answer) columns.
    Check(CheckArgs),
    /// Show what a pipeline will do — stages, partitions, SQL, schemas, type mappings, DDL — without writing anything.
    Explain(ExplainArgs),
    /// Run the pipelines of a .flow file.
    Run(RunArgs),
    /// Copy one table or query between two URLs without writing a .flow file.
    Copy(CopyArgs),
    /// Show the runs recorded in the targets' ledgers, and what each left undone.
    Status(FileArgs),
    /// Compare each target with its source, partition by partition (counts and checksums); exit 1 if they differ.
    Verify(VerifyArgs),
    /// Start a Ballista scheduler that runs Flow's pipelines (`flow run --engine ballista://ADDR`).
    #[cfg(feature = "cluster")]
    Scheduler(SchedulerArgs),
    /// Start a Ballista executor that runs Flow's partitions for a scheduler.
    #[cfg(feature = "cluster")]
    Executor(ExecutorArgs),
    /// Rewrite .flow files in the canonical layout (`--check`: only name the files that would change, exit 1).
    Fmt(FmtArgs),
    /// Print the shell completion script for bash, zsh, fish, powershell or elvish.
    Completions {
        /// The shell to complete for.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `flow man > flow.1 && man -l flow.1`.
    Man,
    /// Print the JSON Schema of connection profiles (flow.yaml), for editors.
    Schema {
        /// The schema to print.
        #[arg(value_enum, default_value_t = schema::SchemaKind::Profiles)]
        kind: schema::SchemaKind,
    },
}

#[derive(Debug, Args)]
pub struct FmtArgs {
    /// Files or directories (searched for *.flow); none: the current directory; `-`: standard
    /// input to standard output.
    pub paths: Vec<PathBuf>,
    /// Write nothing; name each file that would change and exit 1 if any would (for CI).
    #[arg(long)]
    pub check: bool,
}

#[cfg(feature = "cluster")]
#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Address to serve gRPC on; port 0 picks a free one (printed as `listening on ADDR`).
    #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
    pub bind: String,
    /// Seconds without a heartbeat after which an executor counts as lost and its partitions
    /// run again elsewhere.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub executor_timeout: u64,
}

#[cfg(feature = "cluster")]
#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler to register with.
    #[arg(long, value_name = "HOST:PORT")]
    pub scheduler: String,
    /// The executor's data (Arrow Flight) address; its gRPC port is the next one unless
    /// --grpc-port says otherwise.
    #[arg(long, default_value = "127.0.0.1:50051", value_name = "IP:PORT")]
    pub bind: String,
    /// The executor's gRPC port (task launch, cancellation).
    #[arg(long, value_name = "PORT")]
    pub grpc_port: Option<u16>,
    /// Partitions run at once.
    #[arg(long, default_value_t = 2, value_name = "N")]
    pub slots: usize,
    /// The id to register under; default `executor-PORT-PID`. Unique in the cluster.
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Seconds between heartbeats (keep well under the scheduler's --executor-timeout).
    #[arg(long, default_value_t = 5, value_name = "SECONDS")]
    pub heartbeat: u64,
    /// Retry a source or target connection of a task this many times (with backoff) when it
    /// fails for a transient reason, as `flow run --connect-retries` does locally; the client's
    /// own setting does not reach the executors.
    #[arg(long, value_name = "N", default_value_t = crate::connect::retry::DEFAULT_CONNECT_RETRIES)]
    pub connect_retries: u32,
}

#[derive(Debug, Args)]
pub struct FileArgs {
    /// The .flow file.
    pub file: PathBuf,
    /// Set a variable: --var NAME=VALUE (repeatable); wins over the environment and defaults.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Connection profiles (YAML). Default: flow.yaml beside the .flow file, if present.
    #[arg(long, value_name = "FILE")]
    pub profiles: Option<PathBuf>,
    /// Do not contact sources (no schemas, bounds or column checks).
    #[arg(long)]
    pub offline: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Stage by stage, for people.
    Text,
    /// The same, as stable JSON.
    Json,
    /// The pipeline graph for Graphviz: `flow explain FILE --format dot | dot -Tsvg > graph.svg`.
    Dot,
    /// The pipeline graph as a Mermaid flowchart (`flowchart LR`), for Markdown `mermaid` blocks.
    Mermaid,
}

/// `flow run --progress`: what a run shows on stderr while it goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProgressFormat {
    /// Bars on a terminal; a plain line every few seconds when stderr is not a terminal.
    Auto,
    /// A plain line every few seconds (`FLOW_PROGRESS_INTERVAL` seconds, default 5).
    Lines,
    /// One JSON event per line: run, stage and partition started and finished, rows so far, failed.
    Json,
    /// Nothing (as --quiet).
    None,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// Check for a run on this Ballista cluster (ballista://HOST:PORT): what only runs in one
    /// process is refused, as `flow run --engine` would refuse it.
    #[arg(long, value_name = "ballista://HOST:PORT")]
    pub engine: Option<String>,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// Compare on this Ballista cluster (ballista://HOST:PORT): each executor reads its
    /// partitions of the source and the target and returns their checksums; only a partition
    /// that differs is read again here, to show its differences.
    #[arg(long, value_name = "ballista://HOST:PORT")]
    pub engine: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    pub file: FileArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Explain a run on this Ballista cluster (ballista://HOST:PORT): what only runs in one
    /// process is refused, as `flow run --engine` would refuse it.
    #[arg(long, value_name = "ballista://HOST:PORT")]
    pub engine: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The .flow file.
    pub file: PathBuf,
    /// Set a variable: --var NAME=VALUE (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Connection profiles (YAML). Default: flow.yaml beside the .flow file, if present.
    #[arg(long, value_name = "FILE")]
    pub profiles: Option<PathBuf>,
    /// Write the run report as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// No progress output; only the summary and errors.
    #[arg(long, short)]
    pub quiet: bool,
    /// Progress on stderr: bars on a terminal or plain lines (auto), plain lines, JSON events
    /// (one per line, for orchestrators) or none.
    #[arg(long, value_enum, default_value_t = ProgressFormat::Auto, conflicts_with = "quiet")]
    pub progress: ProgressFormat,
    /// Log lines (warnings, errors, problems of the file) as text or as JSON objects, one per
    /// line. Default: json with --progress json, else text.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<log_format::LogFormat>,
    /// Retry a connection this many times (with backoff) when it fails for a transient reason:
    /// refused, reset, too many connections, server starting up or shutting down.
    #[arg(long, value_name = "N", default_value_t = crate::connect::retry::DEFAULT_CONNECT_RETRIES)]
    pub connect_retries: u32,
    /// Continue the last unfinished run of each pipeline: partitions it committed are kept, the
    /// others are read and written again. Does nothing for a pipeline whose last run finished.
    #[arg(long)]
    pub resume: bool,
    /// After a successful run, compare every target with its source (as `flow verify` does).
    #[arg(long)]
    pub verify: bool,
    /// Run the partitions on a Ballista cluster: ballista://HOST:PORT names its scheduler
    /// (`flow scheduler`). Without it, the run stays in this process.
    #[arg(long, value_name = "ballista://HOST:PORT")]
    pub engine: Option<String>,
}

#[derive(Debug, Args)]
pub struct CopyArgs {
    /// Source: postgres://..., mysql://..., sqlite://PATH, or a path ending .csv / .parquet.
    pub source: String,
    /// Target: same forms as the source.
    pub target: String,
    /// Table to read (and to write, unless --query is given, when it names only the target).
    #[arg(long)]
    pub table: Option<String>,
    /// SQL to read instead of a whole table.
    #[arg(long)]
    pub query: Option<String>,
    /// Write mode: append, replace, truncate or upsert (with --keys).
    #[arg(long, default_value = "replace")]
    pub mode: String,
    /// Key columns for --mode upsert, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub keys: Vec<String>,
    /// With --mode upsert: of the rows sharing a key, write the one with the largest value of
    /// this column (rows that tie on it are refused); without it, a key seen twice is refused.
    #[arg(long, value_name = "COLUMN")]
    pub keep_last_by: Option<String>,
    /// Partition the source read by this integer, date or timestamp column.
    #[arg(long, value_name = "COLUMN", requires = "partitions")]
    pub partition_by: Option<String>,
    /// Number of partitions for --partition-by.
    #[arg(long, value_name = "N", requires = "partition_by")]
    pub partitions: Option<u32>,
    /// Copy every table of the source (narrowed by --include/--exclude), with keys, indexes,
    /// foreign keys and identities, into the target's --schema.
    #[arg(long, conflicts_with_all = ["table", "query", "keys", "keep_last_by"])]
    pub all_tables: bool,
    /// With --all-tables: copy only tables matching this pattern (`*`, `?`; `schema.table` or `table`); repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub include: Vec<String>,
    /// With --all-tables: leave out tables matching this pattern; repeatable.
    #[arg(long, value_name = "PATTERN")]
    pub exclude: Vec<String>,
    /// With --all-tables: the target schema (PostgreSQL) or database (MySQL); default: the connection's.
    #[arg(long, value_name = "NAME")]
    pub schema: Option<String>,
    /// Print the equivalent .flow file instead of running it.
    #[arg(long)]
    pub emit: bool,
    /// No progress output.
    #[arg(long, short)]
    pub quiet: bool,
    /// Continue the last unfinished run of this copy (the same command without --resume was
    /// interrupted or failed): partitions it committed are kept.
    #[arg(long, conflicts_with = "emit")]
    pub resume: bool,
    /// Write the run report as JSON to this file.
    #[arg(long, value_name = "PATH")]
    pub report: Option<PathBuf>,
    /// Run the partitions on a Ballista cluster (`ballista://HOST:PORT`, see `flow run --engine`).
    #[arg(long, value_name = "ballista://HOST:PORT", conflicts_with = "emit")]
    pub engine: Option<String>,
}

/// `print!` for the commands' output: a closed stdout (`flow explain ... | head`) means the
/// reader has gone, which is not an error of Flow's, so it neither panics (as `print!` does) nor
/// fails the command. SIGPIPE stays ignored: a server or database closing its socket must give
/// an error, not kill the process.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::write_out(&format!($($arg)*))
    };
}
pub(crate) use say;

/// Resolves on Ctrl-C or SIGTERM (what `kill` and service managers send), naming it. A run stops on
/// either (`flow::run::interrupted`); Ballista's scheduler does not stop on SIGTERM by itself.
pub(crate) async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return "Ctrl-C";
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => "Ctrl-C",
            _ = term.recv() => "SIGTERM",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// Writes `text` to stdout, ignoring a closed pipe (see [`say!`]).
pub(crate) fn write_out(text: &str) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
}

/// Prints an error a command meets before it checks or runs anything (its command line, its
/// environment, a port it cannot take): `error: MESSAGE` on stderr, as such errors of every
/// command read, whatever `FLOW_LOG` filters (it may be what is wrong); with `--log-format json`
/// a JSON log line whose `code` field is `code` (mostly of the `flow::usage` group).
pub(crate) fn command_error(code: &'static str, message: &dyn std::fmt::Display) {
    if log_format::json() {
        tracing::error!(code, "{message}");
    } else {
        crate::eprintln_lossy!("error: {message}");
    }
}

pub fn main_with(cli: Cli) -> Exit {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return Exit::Runtime;
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Check(args) => check::run(args).await,
            Command::Explain(args) => explain::run(args).await,
            Command::Run(args) => run::run(args).await,
            Command::Copy(args) => copy::run(args).await,
            Command::Status(args) => status::run(args).await,
            Command::Verify(args) => verify::run(args).await,
            #[cfg(feature = "cluster")]
            Command::Scheduler(args) => cluster::scheduler(args).await,
            #[cfg(feature = "cluster")]
            Command::Executor(args) => cluster::executor(args).await,
            Command::Fmt(args) => fmt::run(args),
            Command::Completions { shell } => docs::completions(shell),
            Command::Man => docs::man(),
            Command::Schema { kind } => schema::run(kind),
        }
    })
}
