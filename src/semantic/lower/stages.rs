//! A pipeline's stages: its settings, then each source, transform and table sink lowered to
//! its plan (target relation, batch size, timeout, write mode, error handling), and the check
//! that a sink fed by an incremental source does not replace what earlier runs copied.

use std::collections::HashMap;

use super::super::expr::{ExprRenderer, sql_type};
use super::graph::StageKindName;
use super::options::{StageOpts, TargetUse};
use super::{DEFAULT_BATCH_SIZE, Lowering, Resolved, duplicate};
use crate::diagnostics::{Problem, codes, suggest};
use crate::plan::table_set::TableSetPlan;
use crate::plan::*;
use crate::syntax::ast::{self, Ident, Span, StageOptionKind, StepKind, Target};

impl Lowering<'_> {
    pub(super) fn pipeline(&mut self, p: &ast::Pipeline) -> PipelinePlan {
        let mut parallelism = None;
        let mut timeout = None;
        let mut seen_settings: HashMap<&str, Span> = HashMap::new();
        for s in &p.settings {
            let (key, lit) = match s {
                ast::Setting::Parallelism(l) => ("parallelism", l),
                ast::Setting::Timeout(l) => ("timeout", l),
            };
            if seen_settings.insert(key, lit.span).is_some() {
                self.problems.push(
                    Problem::error(codes::pipeline::DUPLICATE_SETTING, format!("`{key}` is set twice"))
                        .at(lit.span, "set again here")
                        .help("keep one of them"),
                );
                continue;
            }
            match s {
                ast::Setting::Parallelism(l) => parallelism = self.ok(self.literals.count(l, "parallelism")),
                ast::Setting::Timeout(l) => timeout = self.ok(self.literals.duration(l, "the pipeline timeout")),
            }
        }
        for item in &p.unknown_items {
            self.problems.push(
                Problem::error(codes::pipeline::UNKNOWN_ITEM, format!("unknown pipeline item `{}`", item.name))
                    .at(item.span, "not a pipeline item")
                    .help(
                        suggest(&item.name, &["source", "transform", "sink", "parallelism", "timeout"]).unwrap_or_else(
                            || "a pipeline holds source, transform, sink, parallelism and timeout".into(),
                        ),
                    ),
            );
        }

        // One namespace for every stage in the pipeline.
        let mut names: HashMap<String, (Span, StageKindName)> = HashMap::new();
        let mut declare = |this: &mut Self, ident: &Ident, kind: StageKindName| {
            if let Some((first, _)) = names.get(&ident.name) {
                this.problems.push(duplicate("stage", ident, *first));
            } else {
                names.insert(ident.name.clone(), (ident.span, kind));
            }
        };
        for s in &p.sources {
            let kind = match s.target {
                Target::Tables { .. } => StageKindName::TableSet,
                _ => StageKindName::Source,
            };
            declare(self, &s.name, kind);
        }
        for t in &p.transforms {
            declare(self, &t.name, StageKindName::Transform);
        }
        for s in &p.sinks {
            if let Some(n) = &s.name {
                declare(self, n, StageKindName::Sink);
            }
        }

        let (set_sources, table_sources): (Vec<&ast::Source>, Vec<&ast::Source>) =
            p.sources.iter().partition(|s| matches!(s.target, Target::Tables { .. }));
        let sources = table_sources.iter().filter_map(|s| self.source(s)).collect();
        let mut table_sets: Vec<TableSetPlan> = set_sources.iter().filter_map(|s| self.table_set(s)).collect();
        let transforms = p.transforms.iter().filter_map(|t| self.transform(t, &names)).collect();
        let (schema_sinks, table_sinks): (Vec<&ast::Sink>, Vec<&ast::Sink>) =
            p.sinks.iter().partition(|s| matches!(s.target, Target::Schema { .. }));
        for s in schema_sinks {
            self.schema_sink(s, &names, &mut table_sets);
        }
        let lowered: Vec<(&ast::Sink, SinkPlan)> =
            table_sinks.into_iter().filter_map(|s| self.sink(s, &names).map(|plan| (s, plan))).collect();

        self.check_graph(p, &names);

        let mut plan = PipelinePlan {
            name: p.name.name.clone(),
            parallelism: parallelism.map_or(self.ctx.default_parallelism.max(1), |n| n as usize),
            timeout,
            sources,
            transforms,
            sinks: Vec::new(),
            table_sets,
            foreign_keys: Vec::new(),
        };
        for (ast_sink, sink) in &lowered {
            self.check_incremental_mode(&plan, ast_sink, sink);
            self.check_keep_last(&plan, ast_sink, sink);
        }
        plan.sinks = lowered.into_iter().map(|(_, sink)| sink).collect();
        plan
    }

    /// A sink fed by an incremental source receives only the new rows: replacing or truncating
    /// its target with them would drop everything copied before.
    fn check_incremental_mode(&mut self, plan: &PipelinePlan, ast_sink: &ast::Sink, sink: &SinkPlan) {
        let Some((source, _)) = plan.lineage(&sink.input) else { return };
        let Some(incremental) = &source.incremental else { return };
        if matches!(sink.mode, WriteMode::Append | WriteMode::Upsert { .. }) {
            return;
        }
        let span = ast_sink
            .options
            .iter()
            .find(|o| matches!(o.kind, StageOptionKind::Mode(_)))
            .map_or(ast_sink.span, |o| o.span);
        self.problems.push(
            Problem::error(
                codes::sink::INCREMENTAL_MODE,
                format!(
                    "sink `{}` receives only the new rows of `{}` (incremental on {}), so mode {} would drop \
                     the rows copied by earlier runs",
                    sink.name, source.name, incremental.column, sink.mode
                ),
            )
            .at(span, "replaces the target with the new rows only")
            .help("use `mode append` for rows that are only inserted, or `mode upsert on (KEY)` for rows that change"),
        );
    }

    /// `keep last by` keeps the last row of each key per partition, so a source split into
    /// partitions by a column that is not a key (as the file says it: a split Flow chooses, or
    /// files, are checked once the sources are described) could send one key through two.
    fn check_keep_last(&mut self, plan: &PipelinePlan, ast_sink: &ast::Sink, sink: &SinkPlan) {
        let WriteMode::Upsert { keep: Some(keep), .. } = &sink.mode else { return };
        let Some((source, _)) = plan.lineage(&sink.input) else { return };
        let partitions = source.partition.as_ref().map_or(1, |p| p.count);
        let Some(reason) = crate::plan::upsert::key_split(plan, sink, partitions) else { return };
        let span = ast_sink
            .options
            .iter()
            .find(|o| matches!(o.kind, StageOptionKind::Mode(_)))
            .map_or(ast_sink.span, |o| o.span);
        self.problems.push(keep_last_split(&sink.name, keep, &reason, span, source.endpoint.backend.is_file()));
    }

    fn source(&mut self, s: &ast::Source) -> Option<SourcePlan> {
        let (resolved, relation) = self.target(&s.target, TargetUse::Source)?;
        let mut opts = StageOpts::default();
        self.options(&s.options, TargetUse::Source, resolved.endpoint.backend, &mut opts);
        let partition = opts.partition.map(|(column, count)| PartitionSpec { column, count, automatic: false });
        let incremental = opts.incremental.map(|column| IncrementalSpec { column });
        let batch = opts.batch.or(resolved.default_batch);
        Some(SourcePlan {
            incremental,
            name: s.name.name.clone(),
            batch_size: batch.unwrap_or(DEFAULT_BATCH_SIZE),
            batch_automatic: batch.is_none(),
            timeout: opts.timeout.or(resolved.default_timeout),
            endpoint: resolved.endpoint,
            relation,
            partition,
            // A single table reads its inheritance children too, as PostgreSQL's SELECT does.
            only: false,
        })
    }

    fn sink(&mut self, s: &ast::Sink, names: &HashMap<String, (Span, StageKindName)>) -> Option<SinkPlan> {
        let input_ok = self.input_of(&s.input, names);
        let (resolved, relation) = self.target(&s.target, TargetUse::Sink)?;
        let mut opts = StageOpts::default();
        let backend = resolved.endpoint.backend;
        self.options(&s.options, TargetUse::Sink, backend, &mut opts);
        let mode = opts.mode.unwrap_or(if backend.is_file() { WriteMode::Replace } else { WriteMode::Append });
        let name = match &s.name {
            Some(n) => n.name.clone(),
            None => format!("{}->{}", s.input.name, short_target(&relation)),
        };
        let on_error = match opts.on_error.take() {
            None | Some(ast::OnErrorAst::Fail) => OnError::Fail,
            Some(ast::OnErrorAst::Skip) => OnError::Skip,
            Some(ast::OnErrorAst::Reject { connection, table, span }) => {
                let target = Target::Table { connection: connection.clone(), table, span };
                match self.target(&target, TargetUse::Sink) {
                    Some((reject, Relation::Table { name: table })) if reject.endpoint.url == resolved.endpoint.url => {
                        OnError::Reject { table }
                    }
                    Some(_) => {
                        self.problems.push(
                            Problem::error(
                                codes::sink::REJECT_ELSEWHERE,
                                format!(
                                    "the reject table must be on the sink's own connection, not `{}`",
                                    connection.name
                                ),
                            )
                            .at(span, "another connection")
                            .help(
                                "rejects are written in the same transaction as the rows, so they go to a table \
                                 of the sink's database",
                            ),
                        );
                        OnError::Fail
                    }
                    None => OnError::Fail,
                }
            }
        };
        if let (Some((_, span)), OnError::Fail) = (&opts.max_rejects, &on_error) {
            self.problems.push(
                Problem::warning(codes::sink::MAX_REJECTS_UNUSED, "`max rejects` has no effect with `on error fail`")
                    .at(*span, "the first bad row fails the run")
                    .help("add `on error skip` or `on error reject to db.table(\"rejects\")`"),
            );
        }
        input_ok.then(|| SinkPlan {
            name,
            input: s.input.name.clone(),
            batch_size: opts.batch.or(resolved.default_batch).unwrap_or(DEFAULT_BATCH_SIZE),
            timeout: opts.timeout.or(resolved.default_timeout),
            endpoint: resolved.endpoint,
            relation,
            mode,
            create_if_missing: opts.create_if_missing.unwrap_or(true),
            on_error,
            max_rejects: opts.max_rejects.map(|(n, _)| n),
            carried: None,
        })
    }

    fn target(&mut self, target: &Target, use_: TargetUse) -> Option<(Resolved, Relation)> {
        match target {
            Target::Table { connection, table, .. } => {
                let resolved = self.endpoint_for(connection)?;
                let name = self.ok(self.literals.string(table, "the table name"))?;
                if name.trim().is_empty() {
                    self.problems.push(
                        Problem::error(codes::target::BAD_TABLE, "the table name is empty")
                            .at(table.span, "empty name")
                            .help("name a table, e.g. \"public.orders\""),
                    );
                    return None;
                }
                let backend = resolved.endpoint.backend;
                let relation = match backend.info().kind {
                    BackendKind::Generated => {
                        if name != "orders" {
                            self.problems.push(
                                Problem::error(codes::target::BAD_TABLE, format!("generate has no table `{name}`"))
                                    .at(table.span, "unknown synthetic table")
                                    .help("the synthetic source offers one table: \"orders\""),
                            );
                            return None;
                        }
                        if use_ == TargetUse::Sink {
                            self.problems.push(not_writable(target.span()));
                            return None;
                        }
                        generated_relation(&resolved.endpoint)
                    }
                    BackendKind::Files => {
                        let ext = backend.name();
                        let dir = resolved.endpoint.url.trim_end_matches('/');
                        let file = if name.ends_with(&format!(".{ext}")) { name } else { format!("{name}.{ext}") };
                        Relation::File { path: format!("{dir}/{file}") }
                    }
                    BackendKind::Server | BackendKind::FileDatabase => {
                        let parsed = TableName::parse(&name);
                        let fixed = backend.info().fixed_schemas;
                        if let Some(schema) = parsed.schema().filter(|s| fixed.is_some_and(|f| !f.contains(s))) {
                            self.problems.push(sqlite_schema(table.span, schema, parsed.table()));
                            return None;
                        }
                        if backend == Backend::Mysql
                            && parsed.schema().is_none()
                            && !names_database(&resolved.endpoint.url)
                        {
                            self.problems.push(unqualified_without_database(table.span, connection, parsed.table()));
                            return None;
                        }
                        if use_ == TargetUse::Sink
                            && backend == Backend::Sqlite
                            && parsed.table().get(..7).is_some_and(|p| p.eq_ignore_ascii_case("sqlite_"))
                        {
                            self.problems.push(sqlite_reserved(table.span, parsed.table()));
                            return None;
                        }
                        Relation::Table { name: parsed }
                    }
                };
                Some((resolved, relation))
            }
            Target::Query { connection, sql, .. } => {
                let resolved = self.endpoint_for(connection)?;
                let text = self.ok(self.literals.string(sql, "the query"))?;
                if use_ == TargetUse::Sink {
                    self.problems.push(
                        Problem::error(codes::target::QUERY_SINK, "a sink cannot write to a query")
                            .at(target.span(), "not a table")
                            .help("write to CONN.table(\"name\")"),
                    );
                    return None;
                }
                if !resolved.endpoint.backend.is_database() {
                    self.problems.push(
                        Problem::error(
                            codes::target::QUERY_ON_FILE,
                            format!("`{}` is not a database; it cannot run a query", connection.name),
                        )
                        .at(target.span(), "no SQL here")
                        .help("read the file with .table(...) and use a `sql` transform step"),
                    );
                    return None;
                }
                if text.trim().is_empty() {
                    self.problems.push(
                        Problem::error(codes::target::BAD_QUERY, "the query is empty")
                            .at(sql.span, "empty")
                            .help("write a SELECT"),
                    );
                    return None;
                }
                Some((resolved, Relation::Query { sql: text }))
            }
            Target::Tables { span, .. } => {
                self.problems.push(
                    Problem::error(codes::target::TABLES_SINK, "a sink cannot write to `tables(...)`")
                        .at(*span, "tables to read")
                        .help("write a table set with `sink SET -> CONN.schema(\"name\")`"),
                );
                None
            }
            Target::Schema { span, .. } => {
                self.problems.push(
                    Problem::error(codes::target::SCHEMA_SOURCE, "a source cannot read `schema(...)`")
                        .at(*span, "where a table set is written")
                        .help("read tables with `CONN.tables(\"schema.*\")`"),
                );
                None
            }
            Target::Inline(call) => {
                let resolved = self.connection(call, "")?;
                let backend = resolved.endpoint.backend;
                let relation = match backend.info().kind {
                    BackendKind::Files => Relation::File { path: resolved.endpoint.url.clone() },
                    BackendKind::Generated if use_ == TargetUse::Source => generated_relation(&resolved.endpoint),
                    BackendKind::Generated => {
                        self.problems.push(not_writable(call.span));
                        return None;
                    }
                    BackendKind::Server | BackendKind::FileDatabase => {
                        self.problems.push(
                            Problem::error(
                                codes::target::MISSING_TABLE,
                                format!("a {} target needs a table", backend.name()),
                            )
                            .at(call.span, "which table?")
                            .help("bind the connection with `let db = ...` and write db.table(\"name\")"),
                        );
                        return None;
                    }
                };
                Some((resolved, relation))
            }
        }
    }

    fn transform(
        &mut self,
        t: &ast::Transform,
        names: &HashMap<String, (Span, StageKindName)>,
    ) -> Option<TransformPlan> {
        let input_ok = self.input_of(&t.input, names);
        let renderer = ExprRenderer { literals: &self.literals };
        let mut steps = Vec::new();
        let mut problems = Vec::new();
        for step in &t.steps {
            let lowered = match &step.kind {
                StepKind::Filter(e) => renderer.render(e).map(|predicate| StepPlan::Filter { predicate }),
                StepKind::Derive(items) => items
                    .iter()
                    .map(|(name, e)| renderer.render(e).map(|expr| DerivedColumn { name: name.name.clone(), expr }))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|columns| StepPlan::Derive { columns }),
                StepKind::Select(cols) => Ok(StepPlan::Select { columns: names_of(cols) }),
                StepKind::Drop(cols) => Ok(StepPlan::Drop { columns: names_of(cols) }),
                StepKind::Rename(pairs) => Ok(StepPlan::Rename {
                    columns: pairs
                        .iter()
                        .map(|(a, b)| RenamedColumn { from: a.name.clone(), to: b.name.clone() })
                        .collect(),
                }),
                StepKind::Cast(items) => items
                    .iter()
                    .map(|(c, ty)| sql_type(ty).map(|to| CastColumn { column: c.name.clone(), to }))
                    .collect::<Result<Vec<_>, _>>()
                    .map(|columns| StepPlan::Cast { columns }),
                StepKind::Sql(lit) => self.literals.string(lit, "the sql step").map(|query| StepPlan::Sql { query }),
                StepKind::Unknown(name) => Err(Problem::error(
                    codes::transform::UNKNOWN_STEP,
                    format!("unknown transform step `{}`", name.name),
                )
                .at(name.span, "not a step")
                .help(
                    suggest(&name.name, &["filter", "derive", "select", "drop", "rename", "cast", "sql"])
                        .unwrap_or_else(|| "steps: filter, derive, select, drop, rename, cast, sql".into()),
                )),
            };
            match lowered {
                Ok(s) => steps.push(s),
                Err(p) => problems.push(p),
            }
        }
        let ok = problems.is_empty() && input_ok;
        self.problems.extend(problems);
        let mut opts = StageOpts::default();
        self.options(&t.options, TargetUse::Transform, Backend::Generate, &mut opts);
        ok.then(|| TransformPlan {
            name: t.name.name.clone(),
            input: t.input.name.clone(),
            steps,
            timeout: opts.timeout,
        })
    }
}

fn names_of(idents: &[Ident]) -> Vec<String> {
    idents.iter().map(|i| i.name.clone()).collect()
}

fn generated_relation(endpoint: &Endpoint) -> Relation {
    let num = |k: &str, d: u64| endpoint.option(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    Relation::Generated { rows: num("rows", 100_000), seed: num("seed", 42) }
}

fn short_target(relation: &Relation) -> String {
    match relation {
        Relation::Table { name } => name.table().to_string(),
        Relation::File { path } => {
            std::path::Path::new(path).file_name().map_or(path.clone(), |f| f.to_string_lossy().into_owned())
        }
        Relation::Query { .. } => "query".into(),
        Relation::Generated { .. } => "generate".into(),
    }
}

fn not_writable(span: Span) -> Problem {
    Problem::error(codes::target::NOT_WRITABLE, "the synthetic source cannot be written to")
        .at(span, "read-only")
        .help("write to a database table or a csv/parquet file")
}

/// A SQLite target table whose name begins with `sqlite_`, which SQLite keeps for its own tables
/// ("object name reserved for internal use", SQLite's `CREATE TABLE` documentation): the run
/// would fail only when it publishes.
fn sqlite_reserved(span: Span, table: &str) -> Problem {
    Problem::error(codes::target::BAD_TABLE, format!("SQLite reserves table names beginning with `sqlite_`: `{table}`"))
        .at(span, "reserved name")
        .help(format!("name the target table otherwise, e.g. \"{}\"", &table[7..]))
}

/// Whether the URL of a server connection names a database (a URL that cannot be read was
/// refused with the connection).
pub(super) fn names_database(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|u| super::connections::url_names_database(&u))
}

/// A MySQL/MariaDB table named without its database on a connection whose URL names none:
/// MySQL has no default database, so the run would fail when it reaches the table ("No
/// database selected", error 1046), after other sinks may have published.
fn unqualified_without_database(span: Span, connection: &Ident, table: &str) -> Problem {
    Problem::error(
        codes::target::NO_DATABASE,
        format!("table `{table}` names no database, and the URL of `{}` names none either", connection.name),
    )
    .at(span, "which database?")
    .help(format!(
        "name the database in the URL (mysql://USER@HOST/DATABASE) or before the table: \"DATABASE.{table}\""
    ))
}

/// A SQLite table named with a schema the file does not have (e.g. `public.orders` carried over
/// from PostgreSQL): SQLite would answer `unknown database "public"` only when the run starts.
fn sqlite_schema(span: Span, schema: &str, table: &str) -> Problem {
    Problem::error(codes::target::SQLITE_SCHEMA, format!("a SQLite file has no schema `{schema}`"))
        .at(span, "schema-qualified name")
        .help(format!("a SQLite file is one database: name the table without the schema, e.g. \"{table}\""))
}

/// The problem of a `keep last by` whose key may reach the sink through several partitions:
/// `reason` says why (`plan::upsert::key_split`); `files`: the source is a directory of files,
/// read one partition per file.
pub fn keep_last_split(sink: &str, keep: &crate::plan::KeepLast, reason: &str, span: Span, files: bool) -> Problem {
    let help = if files {
        "read one file per pipeline, or load the files into a database table and read that table"
    } else {
        "split the source by a key column (`partition by id into 8`), or remove its `partition by`"
    };
    Problem::error(
        codes::sink::KEEP_LAST,
        format!("sink `{sink}`: `{keep}` keeps the last row of each key per partition, and {reason}"),
    )
    .at(span, "the rows of one key may be in two partitions")
    .help(help)
}
