//! `flow copy SRC DST --table T` (or `--all-tables`): a one-line copy. It writes the equivalent .flow text (shown
//! with `--emit`) and runs it through the same checker and engine as `flow run`, so a copy is
//! never a second code path.

use super::common::context;
use super::run::{Verify, run_plans};
use super::{CopyArgs, Exit};
use crate::analyze::{Discover, EXPLAIN_THE_SET, analyze};
use crate::diagnostics::codes;
use crate::exec::{ProgressMode, RunHints};
use crate::plan::{Backend, BackendKind};
use crate::semantic::CheckContext;

pub async fn run(args: CopyArgs) -> Exit {
    let secrets = if args.emit { Secrets::AsVariables } else { Secrets::InText };
    let text = match emit(&args, secrets) {
        Ok(t) => t,
        Err(e) => {
            super::command_error(e.code(), &e);
            return Exit::Usage;
        }
    };
    if args.emit {
        super::say!("{text}");
        let vars: Vec<&str> = [(&args.source, SOURCE_PASSWORD), (&args.target, TARGET_PASSWORD)]
            .into_iter()
            .filter(|(url, _)| crate::plan::endpoint::password_span(url).is_some())
            .map(|(_, var)| var)
            .collect();
        if !vars.is_empty() {
            crate::eprintln_lossy!(
                "note: the password is not written into the file: set {} (--var NAME=VALUE or the environment) when \
                 you run it, written as in the URL (percent-encoded: `/` as %2F, `@` as %40, `%` as %25)",
                vars.join(" and ")
            );
        }
        return Exit::Ok;
    }
    let ctx = match context(&[], None, None) {
        Ok(c) => CheckContext { cluster: args.engine.is_some(), ..c },
        Err(e) => {
            super::command_error(e.code(), &e);
            return Exit::Usage;
        }
    };
    let mut analysis = analyze("<flow copy>", &text, &ctx, Discover::Online).await;
    for problem in analysis.problems.problems.iter_mut().filter(|p| p.help.as_deref() == Some(EXPLAIN_THE_SET)) {
        // A copy has no file to explain until `--emit` writes one.
        problem.help = Some(
            "the same `flow copy` command with `--emit` writes this copy as a .flow file; `flow explain` of that \
             file shows what is carried over to each target table"
                .into(),
        );
    }
    for problem in analysis.problems.problems.iter_mut().filter(|p| p.code == codes::sink::WRITES_ITS_SOURCE) {
        // A copy has no transform: writing what it reads is never what it means.
        problem.warning = false;
        problem.help =
            Some("the source and the target are the same: name another target table, schema or server".into());
    }
    super::common::print_problems(&analysis, super::common::Unanswered::LeaveToCommand);
    if !analysis.ok() {
        return Exit::Usage;
    }
    let hints = RunHints {
        // The same copy command with --resume plans the same pipeline, so it continues the run.
        resume: "the same `flow copy` command with `--resume`".to_string(),
        on_error: "to load the other rows, write this copy as a .flow file (the same `flow copy` command with \
                   `--emit`) and give its sink `on error skip` or `on error reject to dst.table(\"rejects\")`"
            .to_string(),
        keep_last: "add `--keep-last-by COLUMN` to write the last row of each key".to_string(),
    };
    let engine = match super::run::engine_for(args.engine.as_deref()) {
        Ok(engine) => engine,
        Err(e) => {
            super::command_error(e.code(), &e);
            return Exit::Usage;
        }
    };
    let progress = if args.quiet { ProgressMode::Quiet } else { ProgressMode::Auto };
    run_plans(analysis, progress, args.report.as_deref(), args.resume, hints, engine, Verify::No).await
}

/// Why a `flow copy` command line names no copy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CopyError {
    /// A source or target that names no backend (shown with its password masked).
    #[error("cannot tell what `{shown}` is: use {}", url_forms())]
    UnknownBackend { shown: String },
    #[error(
        "--query reads from a database source; a file is read whole (shape it with a transform in a .flow file: \
         `flow copy ... --emit` writes one to start from)"
    )]
    QueryOfFile,
    #[error("name what to read: --table NAME or --query SQL")]
    NothingToRead,
    #[error("name the target table: --table NAME")]
    NoTargetTable,
    #[error("--keep-last-by keeps the last row of each key of an upsert: give --mode upsert --keys COL")]
    KeepLastWithoutUpsert,
    #[error("--mode upsert needs --keys COL[,COL...]")]
    UpsertWithoutKeys,
    #[error("unknown --mode `{mode}`: use append, replace, truncate or upsert")]
    UnknownMode { mode: String },
    #[error("--partition-by works only for database sources")]
    PartitionOfFile,
    /// `--all-tables` between backends of which one has no catalog of tables.
    #[error("--all-tables copies between databases ({})", catalog_titles())]
    AllTablesOfFiles,
    #[error("--all-tables takes --mode append, replace or truncate, not `{mode}`")]
    AllTablesMode { mode: String },
    /// `--include`, `--exclude` or `--schema` without `--all-tables`. (clap's `requires` does not
    /// hold them: a flag's default `false` counts as given.)
    #[error("{option} works only with --all-tables; with --table, name the target table itself (--table SCHEMA.TABLE)")]
    OnlyWithAllTables { option: &'static str },
}

impl CopyError {
    /// The diagnostic code, of the `flow::usage` group.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownBackend { .. } => codes::usage::UNKNOWN_BACKEND,
            Self::NothingToRead | Self::NoTargetTable | Self::UpsertWithoutKeys => codes::usage::MISSING,
            Self::UnknownMode { .. } | Self::AllTablesMode { .. } => codes::usage::BAD_VALUE,
            Self::QueryOfFile
            | Self::KeepLastWithoutUpsert
            | Self::PartitionOfFile
            | Self::AllTablesOfFiles
            | Self::OnlyWithAllTables { .. } => codes::usage::CONFLICT,
        }
    }
}

/// How a URL or path names each backend: `postgres://, mysql://, sqlite://PATH, or a path
/// ending .csv or .parquet`.
fn url_forms() -> String {
    let (mut forms, mut endings) = (Vec::new(), Vec::new());
    for info in Backend::ALL.map(Backend::info) {
        match info.kind {
            BackendKind::Server => forms.push(format!("{}://", info.schemes[0])),
            BackendKind::FileDatabase => forms.push(format!("{}://PATH", info.schemes[0])),
            BackendKind::Files => endings.extend(info.extensions.iter().copied()),
            BackendKind::Generated => {}
        }
    }
    format!("{}, or a path ending {}", forms.join(", "), endings.join(" or "))
}

/// The backends whose whole databases can be copied, by title.
fn catalog_titles() -> String {
    crate::connect::registry::catalog_titles().join(", ")
}

/// Where the passwords of the URLs go in the .flow text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrets {
    /// In the text: it is run at once and never shown.
    InText,
    /// As `${FLOW_SOURCE_PASSWORD}` / `${FLOW_TARGET_PASSWORD}`: the text is printed (`--emit`)
    /// and kept, and secrets stay out of .flow files.
    AsVariables,
}

/// The variables `--emit` puts in place of the source's and the target's passwords.
pub const SOURCE_PASSWORD: &str = "FLOW_SOURCE_PASSWORD";
pub const TARGET_PASSWORD: &str = "FLOW_TARGET_PASSWORD";

/// A URL as a .flow string literal; with [`Secrets::AsVariables`] its password is `${var}`.
fn url_literal(url: &str, var: &str, secrets: Secrets) -> String {
    match crate::plan::endpoint::password_span(url).filter(|_| secrets == Secrets::AsVariables) {
        Some(span) => {
            // A NUL cannot be in a URL; it marks where the variable goes once the rest is quoted.
            let mut masked = url.to_string();
            masked.replace_range(span, "\0");
            quote(&masked).replace('\0', &format!("${{{var}}}"))
        }
        None => quote(url),
    }
}

/// The .flow text equivalent to a copy command.
pub fn emit(args: &CopyArgs, secrets: Secrets) -> Result<String, CopyError> {
    let src_backend = backend_of(&args.source)?;
    let dst_backend = backend_of(&args.target)?;
    if args.all_tables {
        return emit_all_tables(args, src_backend, dst_backend, secrets);
    }
    let set_options = [
        ("--include", !args.include.is_empty()),
        ("--exclude", !args.exclude.is_empty()),
        ("--schema", args.schema.is_some()),
    ];
    if let Some((option, _)) = set_options.into_iter().find(|(_, given)| *given) {
        return Err(CopyError::OnlyWithAllTables { option });
    }
    let table = args.table.as_deref();
    if !src_backend.is_database() && args.query.is_some() {
        return Err(CopyError::QueryOfFile);
    }
    if src_backend.is_database() && table.is_none() && args.query.is_none() {
        return Err(CopyError::NothingToRead);
    }
    if dst_backend.is_database() && table.is_none() {
        return Err(CopyError::NoTargetTable);
    }
    if args.keep_last_by.is_some() && !args.mode.eq_ignore_ascii_case("upsert") {
        return Err(CopyError::KeepLastWithoutUpsert);
    }
    let mode = match args.mode.to_ascii_lowercase().as_str() {
        m @ ("append" | "replace" | "truncate") => m.to_string(),
        "upsert" if !args.keys.is_empty() => {
            let keys = args.keys.iter().map(|k| name(k)).collect::<Vec<_>>().join(", ");
            match &args.keep_last_by {
                Some(by) => format!("upsert on ({keys}) keep last by {}", name(by)),
                None => format!("upsert on ({keys})"),
            }
        }
        "upsert" => return Err(CopyError::UpsertWithoutKeys),
        other => return Err(CopyError::UnknownMode { mode: other.to_string() }),
    };
    let mut out = String::from("# Generated by `flow copy`.\n");
    let source_target = match src_backend {
        b if b.is_database() => {
            out.push_str(&format!("let src = {}({})\n", b.name(), url_literal(&args.source, SOURCE_PASSWORD, secrets)));
            match &args.query {
                Some(q) => format!("src.query({})", quote(q)),
                None => format!("src.table({})", quote(table.unwrap_or_default())),
            }
        }
        b => format!("{}({})", b.name(), quote(&args.source)),
    };
    let sink_target = match dst_backend {
        b if b.is_database() => {
            out.push_str(&format!("let dst = {}({})\n", b.name(), url_literal(&args.target, TARGET_PASSWORD, secrets)));
            // With --query, --table names the target alone: it is written as given.
            let target = match &args.query {
                Some(_) => table.unwrap_or_default().to_string(),
                None => target_table(table.unwrap_or_default(), src_backend, b),
            };
            format!("dst.table({})", quote(&target))
        }
        b => format!("{}({})", b.name(), quote(&args.target)),
    };
    let partition = match (&args.partition_by, args.partitions) {
        (Some(col), Some(n)) if src_backend.is_database() => {
            format!(" {{ partition by {} into {n} }}", name(col))
        }
        (Some(_), _) => return Err(CopyError::PartitionOfFile),
        _ => String::new(),
    };
    let sink_mode =
        if dst_backend.is_file() && mode == "replace" { String::new() } else { format!(" {{ mode {mode} }}") };
    out.push_str(&format!(
        "\npipeline copy {{\n  source data = {source_target}{partition}\n  sink data -> {sink_target}{sink_mode}\n}}\n"
    ));
    Ok(out)
}

/// `--all-tables`: a table set read from the source and written into the target's schema.
fn emit_all_tables(args: &CopyArgs, src: Backend, dst: Backend, secrets: Secrets) -> Result<String, CopyError> {
    if !src.is_database() || !dst.is_database() {
        return Err(CopyError::AllTablesOfFiles);
    }
    let mode = args.mode.to_ascii_lowercase();
    if !matches!(mode.as_str(), "append" | "replace" | "truncate") {
        return Err(CopyError::AllTablesMode { mode });
    }
    let mut patterns: Vec<String> = args.include.iter().map(|p| quote(p)).collect();
    if !args.exclude.is_empty() {
        let excluded: Vec<String> = args.exclude.iter().map(|p| quote(p)).collect();
        patterns.push(format!("exclude: [{}]", excluded.join(", ")));
    }
    let schema = args.schema.as_deref().map(quote).unwrap_or_default();
    Ok(format!(
        "# Generated by `flow copy --all-tables`.\nlet src = {}({})\nlet dst = {}({})\n\npipeline copy {{\n  \
         source tables = src.tables({})\n  sink tables -> dst.schema({schema}) {{ mode {mode} }}\n}}\n",
        src.name(),
        url_literal(&args.source, SOURCE_PASSWORD, secrets),
        dst.name(),
        url_literal(&args.target, TARGET_PASSWORD, secrets),
        patterns.join(", ")
    ))
}

/// The target table for `--table NAME`: a schema qualifier is kept only where it means the same
/// thing on both sides (PostgreSQL to PostgreSQL). A SQLite file has no schemas, and a MySQL
/// target's database is the one its URL names, so `public.orders` becomes `orders` there.
fn target_table(name: &str, src: Backend, dst: Backend) -> String {
    let parsed = crate::plan::TableName::parse(name);
    if parsed.parts.len() > 1 && !(src == dst && src.info().portable_schemas) {
        // Written back in .flow's quoting: a name holding a dot or beginning with `"` stays one part.
        let table = crate::plan::TableName { parts: vec![parsed.table().to_string()] };
        return table.flow_text();
    }
    name.to_string()
}

fn backend_of(url: &str) -> Result<Backend, CopyError> {
    Backend::from_url(url).ok_or_else(|| CopyError::UnknownBackend { shown: crate::plan::endpoint::redact_url(url) })
}

/// A .flow string literal: `\`, `"` and `$` escaped so nothing is read as a variable.
fn quote(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        if matches!(c, '\\' | '"' | '$') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A column name as .flow writes it: bare when it is a plain identifier, back-quoted otherwise.
fn name(text: &str) -> String {
    let plain = text.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if plain { text.to_string() } else { format!("`{}`", text.replace('`', "")) }
}
