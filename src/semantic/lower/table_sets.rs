//! Lowering of table sets: `source NAME = conn.tables(patterns..., exclude: [...]) { ... }` and
//! `sink SET -> conn.schema("name") { ... }`, with `table NAME [as "NEW"] { ... }` blocks for
//! single tables. Which tables a set holds is only known from the source's catalog, so this
//! checks what can be checked without it; `crate::expand` does the rest.

use std::collections::{BTreeMap, HashMap};

use super::Lowering;
use super::graph::StageKindName;
use super::options::{StageOpts, TargetUse};
use crate::connect::registry;
use crate::diagnostics::{Problem, codes, one_of};
use crate::plan::table_set::{MemberSink, MemberSource, SchemaSinkPlan, TableSetPlan};
use crate::plan::{IncrementalSpec, OnError, PartitionSpec, WriteMode};
use crate::syntax::ast::{self, Ident, Span, StageOption, StageOptionKind, Target};

impl Lowering<'_> {
    pub(super) fn table_set(&mut self, s: &ast::Source) -> Option<TableSetPlan> {
        let Target::Tables { connection, args, span } = &s.target else { return None };
        let resolved = self.endpoint_for(connection)?;
        let backend = resolved.endpoint.backend;
        // Only a backend with a catalog has tables to list and takes a schema.
        if registry::backend(backend).schema.is_none() {
            self.problems.push(
                Problem::error(
                    codes::table_set::TABLES_UNSUPPORTED,
                    format!("a {} connection has no tables to list", backend.name()),
                )
                .at(*span, "not a database")
                .help(format!("table sets read {}; read a file with .table(...)", one_of(&registry::catalog_titles()))),
            );
            return None;
        }
        let mut include = Vec::new();
        let mut exclude = Vec::new();
        for arg in args {
            let into = match arg.name.as_ref().map(|n| n.name.as_str()) {
                None => &mut include,
                Some("exclude") => &mut exclude,
                Some("include") => &mut include,
                Some(other) => {
                    self.problems.push(
                        Problem::error(
                            codes::table_set::UNKNOWN_ARGUMENT,
                            format!("tables() takes no argument `{other}`"),
                        )
                        .at(arg.span, "unknown argument")
                        .help("tables(\"PATTERN\", ..., exclude: [\"PATTERN\", ...])"),
                    );
                    continue;
                }
            };
            for value in &arg.values {
                if let Some(pattern) = self.ok(self.literals.string(value, "a table pattern")) {
                    into.push(pattern);
                }
            }
        }
        let mut defaults = StageOpts::default();
        let (members, set_options) = split_members(&s.options);
        self.options(&set_options, TargetUse::Source, backend, &mut defaults);
        if let Some(option) = set_options.iter().find(|o| matches!(o.kind, StageOptionKind::Partition { .. })) {
            self.problems.push(
                Problem::error(codes::table_set::SHARED_PARTITION, "`partition by` names a column of one table")
                    .at(option.span, "for every table of the set")
                    .help("put it in a block for that table: `table orders { partition by id into 8 }`; large tables with an integer primary key are partitioned automatically"),
            );
        }
        let mut tables = BTreeMap::new();
        for (table, rename, options, span) in members {
            if let Some(rename) = rename {
                self.problems.push(
                    Problem::error(codes::table_set::RENAME_IN_SOURCE, "a table is renamed where it is written")
                        .at(rename.span, "not in a source")
                        .help(format!("move `as ...` to the schema sink: `table {} as \"...\"`", table.name)),
                );
            }
            let mut opts = StageOpts::default();
            self.options(options, TargetUse::Source, backend, &mut opts);
            if tables.insert(table.name.clone(), member_source(opts)).is_some() {
                self.problems.push(duplicate_member(&table, span));
            }
        }
        let batch_default = resolved.default_batch;
        let mut defaults = member_source(defaults);
        defaults.batch_size = defaults.batch_size.or(batch_default);
        defaults.timeout = defaults.timeout.or(resolved.default_timeout);
        Some(TableSetPlan {
            name: s.name.name.clone(),
            endpoint: resolved.endpoint,
            include,
            exclude,
            defaults,
            tables,
            sinks: Vec::new(),
        })
    }

    /// `sink [NAME =] SET -> conn.schema("name")`: checked and attached to its set.
    pub(super) fn schema_sink(
        &mut self,
        s: &ast::Sink,
        names: &HashMap<String, (Span, StageKindName)>,
        sets: &mut [TableSetPlan],
    ) {
        let Target::Schema { connection, schema, span } = &s.target else { return };
        let set_index = sets.iter().position(|set| set.name == s.input.name);
        if set_index.is_none() {
            let what = match names.get(&s.input.name) {
                Some((_, kind)) => format!("`{}` is a {}, not a table set", s.input.name, kind.word()),
                None => format!("no table set `{}` in this pipeline", s.input.name),
            };
            self.problems.push(
                Problem::error(codes::table_set::SCHEMA_SINK_INPUT, format!("a schema sink writes a table set: {what}"))
                    .at(s.input.span, "not a table set")
                    .help("read a set with `source NAME = conn.tables(\"PATTERN\")`, or write one table with conn.table(\"name\")"),
            );
        }
        let Some(resolved) = self.endpoint_for(connection) else { return };
        let backend = resolved.endpoint.backend;
        if registry::backend(backend).schema.is_none() {
            self.problems.push(
                Problem::error(
                    codes::table_set::SCHEMA_UNSUPPORTED,
                    format!("a {} connection has no schemas", backend.name()),
                )
                .at(*span, "not a database")
                .help(format!("write a table set into {}", one_of(&registry::catalog_titles()))),
            );
            return;
        }
        let schema = match schema {
            Some(lit) => self.ok(self.literals.string(lit, "the schema name")).filter(|s| !s.trim().is_empty()),
            None => None,
        };
        if backend == crate::plan::Backend::Mysql
            && schema.is_none()
            && !super::stages::names_database(&resolved.endpoint.url)
        {
            self.problems.push(
                Problem::error(
                    codes::target::NO_DATABASE,
                    format!(
                        "the table set is written into no database: `{}.schema()` names none, and its URL names none \
                         either",
                        connection.name
                    ),
                )
                .at(*span, "which database?")
                .help(format!(
                    "name it: `{}.schema(\"DATABASE\")`, `--schema DATABASE` with `flow copy`, or in the URL \
                     (mysql://USER@HOST/DATABASE)",
                    connection.name
                )),
            );
            return;
        }
        let (members, set_options) = split_members(&s.options);
        let mut opts = StageOpts::default();
        self.options(&set_options, TargetUse::Sink, backend, &mut opts);
        if let Some((option, mode)) = set_options.iter().find_map(|o| match &o.kind {
            StageOptionKind::Mode(ast::ModeAst::Upsert { .. }) => Some((o, "upsert")),
            _ => None,
        }) {
            self.problems.push(
                Problem::error(
                    codes::table_set::SHARED_UPSERT_KEYS,
                    format!("`mode {mode} on (...)` names columns of one table"),
                )
                .at(option.span, "for every table of the set")
                .help("put it in a block for that table: `table orders { mode upsert on (id) }`"),
            );
        }
        let mut tables = BTreeMap::new();
        for (table, rename, options, span) in members {
            if let Some(other) = options.iter().find(|o| {
                !matches!(o.kind, StageOptionKind::Mode(_) | StageOptionKind::Batch(_) | StageOptionKind::Timeout(_))
            }) {
                self.problems.push(
                    Problem::error(
                        codes::table_set::MEMBER_OPTION,
                        "a table of a set may differ only in mode, batch and timeout",
                    )
                    .at(other.span, "applies to the whole set")
                    .help("move it to the schema sink's block, or write this table with a sink of its own"),
                );
            }
            let mut member = StageOpts::default();
            self.options(options, TargetUse::Sink, backend, &mut member);
            let rename = rename.and_then(|r| self.ok(self.literals.string(r, "the new table name")));
            let entry = MemberSink { rename, mode: member.mode, batch_size: member.batch, timeout: member.timeout };
            if tables.insert(table.name.clone(), entry).is_some() {
                self.problems.push(duplicate_member(&table, span));
            }
        }
        let on_error = match opts.on_error.take() {
            None | Some(ast::OnErrorAst::Fail) => OnError::Fail,
            Some(ast::OnErrorAst::Skip) => OnError::Skip,
            Some(ast::OnErrorAst::Reject { span, .. }) => {
                self.problems.push(
                    Problem::error(codes::table_set::SHARED_REJECT_TABLE, "a table set cannot share one reject table")
                        .at(span, "rows of different tables")
                        .help("use `on error skip` for the set, or write that table with its own sink"),
                );
                OnError::Fail
            }
        };
        let name = s.name.as_ref().map_or_else(|| format!("{}->{}", s.input.name, connection.name), |n| n.name.clone());
        let plan = SchemaSinkPlan {
            name,
            endpoint: resolved.endpoint,
            schema,
            mode: opts.mode.unwrap_or(WriteMode::Append),
            create_if_missing: opts.create_if_missing.unwrap_or(true),
            batch_size: opts.batch.or(resolved.default_batch),
            timeout: opts.timeout.or(resolved.default_timeout),
            on_error,
            max_rejects: opts.max_rejects.map(|(n, _)| n),
            tables,
        };
        if let Some(i) = set_index {
            self.check_set_modes(&sets[i], &plan, s.span);
            sets[i].sinks.push(plan);
        }
    }

    /// Replacing or truncating a table with only the rows an incremental read brings would drop
    /// what earlier runs copied.
    fn check_set_modes(&mut self, set: &TableSetPlan, sink: &SchemaSinkPlan, span: Span) {
        let incremental = |table: Option<&str>| {
            table
                .and_then(|t| set.tables.get(t))
                .and_then(|m| m.incremental.clone())
                .or(set.defaults.incremental.clone())
        };
        let mut tables: Vec<Option<&str>> = vec![None];
        tables.extend(set.tables.keys().map(|t| Some(t.as_str())));
        tables.extend(sink.tables.keys().map(|t| Some(t.as_str())));
        for table in tables {
            let mode = table.and_then(|t| sink.tables.get(t)).and_then(|m| m.mode.clone()).unwrap_or(sink.mode.clone());
            if let Some(IncrementalSpec { column }) = incremental(table)
                && matches!(mode, WriteMode::Replace | WriteMode::Truncate)
            {
                let which = table.map_or_else(|| "its tables".to_string(), |t| format!("table `{t}`"));
                self.problems.push(
                    Problem::error(
                        codes::sink::INCREMENTAL_MODE,
                        format!(
                            "sink `{}` receives only the new rows of {which} (incremental on {column}), so mode {mode} \
                             would drop the rows copied by earlier runs",
                            sink.name
                        ),
                    )
                    .at(span, "replaces the target with the new rows only")
                    .help("use `mode append` for rows that are only inserted, or `mode upsert on (KEY)` for rows that change"),
                );
                return;
            }
        }
    }
}

type Member<'o> = (Ident, Option<&'o ast::Literal>, &'o [StageOption], Span);

/// `table NAME ...` blocks apart from the options that apply to the whole set.
fn split_members(options: &[StageOption]) -> (Vec<Member<'_>>, Vec<StageOption>) {
    let mut members = Vec::new();
    let mut rest = Vec::new();
    for option in options {
        match &option.kind {
            StageOptionKind::Member { table, rename, options } => {
                members.push((table.clone(), rename.as_ref(), options.as_slice(), option.span));
            }
            _ => rest.push(option.clone()),
        }
    }
    (members, rest)
}

fn member_source(opts: StageOpts) -> MemberSource {
    MemberSource {
        partition: opts.partition.map(|(column, count)| PartitionSpec { column, count, automatic: false }),
        incremental: opts.incremental.map(|column| IncrementalSpec { column }),
        batch_size: opts.batch,
        timeout: opts.timeout,
    }
}

fn duplicate_member(table: &Ident, span: Span) -> Problem {
    Problem::error(codes::table_set::DUPLICATE_TABLE, format!("table `{}` has two blocks", table.name))
        .at(span, "given again here")
        .help("merge the options into one `table` block")
}
