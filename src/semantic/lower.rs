//! Checked AST → logical plan. Resolves connections (URLs, profiles, variables), stage options and
//! transform steps, collecting every problem instead of stopping at the first.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use super::expr::{ExprRenderer, sql_type};
use super::values::{LiteralResolver, Variables, parse_duration};
use crate::diagnostics::Problem;
use crate::plan::*;
use crate::profiles::Profiles;
use crate::syntax::ast::{self, ConnectionKind, Ident, Span, StageOptionKind, StepKind, Target};

mod table_sets;

/// What checking needs besides the file: variable values and connection profiles.
#[derive(Debug, Clone, Default)]
pub struct CheckContext {
    pub vars: Variables,
    pub profiles: Profiles,
    /// Default parallelism when a pipeline does not set one.
    pub default_parallelism: usize,
}

pub const DEFAULT_BATCH_SIZE: usize = 8192;

/// A connection binding once resolved, plus the per-connection defaults from its profile.
#[derive(Debug, Clone)]
struct Resolved {
    endpoint: Endpoint,
    default_batch: Option<usize>,
    default_timeout: Option<Duration>,
}

pub struct Lowering<'a> {
    ctx: &'a CheckContext,
    literals: LiteralResolver<'a>,
    pub problems: Vec<Problem>,
    connections: HashMap<String, Option<Resolved>>,
}

impl<'a> Lowering<'a> {
    pub fn new(ctx: &'a CheckContext) -> Self {
        Self { ctx, literals: LiteralResolver { vars: &ctx.vars }, problems: Vec::new(), connections: HashMap::new() }
    }

    fn ok<T>(&mut self, r: Result<T, Problem>) -> Option<T> {
        r.map_err(|p| self.problems.push(p)).ok()
    }

    pub fn lower_file(&mut self, file: &ast::File) -> Vec<PipelinePlan> {
        let mut seen: HashMap<&str, Span> = HashMap::new();
        for binding in &file.connections {
            if let Some(first) = seen.insert(&binding.name.name, binding.name.span) {
                self.problems.push(duplicate("connection", &binding.name, first));
                continue;
            }
            let resolved = self.connection(&binding.call, &binding.name.name);
            self.connections.insert(binding.name.name.clone(), resolved);
        }
        let mut pipeline_names: HashMap<&str, Span> = HashMap::new();
        let mut plans = Vec::new();
        for p in &file.pipelines {
            if let Some(first) = pipeline_names.insert(&p.name.name, p.name.span) {
                self.problems.push(duplicate("pipeline", &p.name, first));
            }
            plans.push(self.pipeline(p));
        }
        if file.pipelines.is_empty() {
            self.problems.push(
                Problem::error("flow::no_pipeline", "the file defines no pipeline")
                    .at(Span::new(0, 0), "nothing to run")
                    .help("add `pipeline NAME { source ... sink ... }`"),
            );
        }
        plans
    }

    // ------------------------------------------------------------ connections

    fn connection(&mut self, call: &ast::ConnectionCall, name: &str) -> Option<Resolved> {
        let mut positional = Vec::new();
        let mut named: BTreeMap<String, &ast::Literal> = BTreeMap::new();
        for arg in &call.args {
            match &arg.name {
                Some(n) => {
                    if named.insert(n.name.clone(), &arg.value).is_some() {
                        self.problems.push(
                            Problem::error("flow::duplicate_argument", format!("argument `{}` is given twice", n.name))
                                .at(n.span, "repeated here")
                                .help("give each argument once"),
                        );
                    }
                }
                None => positional.push(&arg.value),
            }
        }
        if positional.len() > 1 {
            self.problems.push(
                Problem::error(
                    "flow::bad_argument",
                    format!("{}(...) takes one positional argument", call.kind.keyword()),
                )
                .at(positional[1].span, "unexpected argument")
                .help("name the extra arguments, e.g. header: true"),
            );
            return None;
        }
        let kind = call.kind;
        if kind == ConnectionKind::Generate {
            return self.generate_connection(call, &positional, &named, name);
        }
        // A profile: `profile("name")` or `postgres(profile: "name")`.
        let profile_name = match (kind, named.remove("profile")) {
            (ConnectionKind::Profile, _) => {
                Some(self.required_string(call, positional.first().copied(), "a profile name")?)
            }
            (_, Some(lit)) => Some(self.ok(self.literals.string(lit, "profile"))?),
            _ => None,
        };
        let mut options = BTreeMap::new();
        let (url, expected_backend, default_batch, default_timeout) = match profile_name {
            Some(pname) => {
                let Some(profile) = self.ctx.profiles.connections.get(&pname).cloned() else {
                    let known: Vec<&str> = self.ctx.profiles.names().collect();
                    let help = if known.is_empty() {
                        format!(
                            "no profiles were loaded ({}); pass --profiles FILE or add flow.yaml beside the pipeline",
                            self.ctx.profiles.source_name()
                        )
                    } else {
                        format!("profiles in {}: {}", self.ctx.profiles.source_name(), known.join(", "))
                    };
                    self.problems.push(
                        Problem::error("flow::unknown_profile", format!("no connection profile named `{pname}`"))
                            .at(call.span, "unknown profile")
                            .help(help),
                    );
                    return None;
                };
                let url = match self.ctx.vars.expand_text(&profile.url) {
                    Ok(u) => u,
                    Err(msg) => {
                        self.problems.push(
                            Problem::error("flow::unresolved_variable", format!("profile `{pname}`: {msg}"))
                                .at(call.span, "its URL needs a variable")
                                .help("set the variable with --var NAME=VALUE or in the environment"),
                        );
                        return None;
                    }
                };
                let backend = profile.kind.as_deref().and_then(Backend::from_name).or_else(|| Backend::from_url(&url));
                options.extend(profile.options.clone());
                let timeout = profile.timeout.as_deref().and_then(|t| parse_duration(t).ok());
                (url, backend, profile.batch.map(|b| b as usize), timeout)
            }
            None => {
                let url = self.required_string(call, positional.first().copied(), "a URL or path")?;
                (url, None, None, None)
            }
        };
        let backend = match kind {
            ConnectionKind::Postgres => Backend::Postgres,
            ConnectionKind::Mysql => Backend::Mysql,
            ConnectionKind::Sqlite => Backend::Sqlite,
            ConnectionKind::Csv => Backend::Csv,
            ConnectionKind::Parquet => Backend::Parquet,
            ConnectionKind::Generate => Backend::Generate,
            ConnectionKind::Profile => match expected_backend {
                Some(b) => b,
                None => {
                    self.problems.push(
                        Problem::error("flow::unknown_backend", "cannot tell which database the profile's URL names")
                            .at(call.span, "unknown backend")
                            .help(
                                "start the URL with postgres://, mysql:// or sqlite://, or set `kind:` in the profile",
                            ),
                    );
                    return None;
                }
            },
        };
        if let Some(b) = expected_backend
            && b != backend
            && kind != ConnectionKind::Profile
        {
            self.problems.push(
                Problem::error(
                    "flow::backend_mismatch",
                    format!("the profile names a {} connection, not {}", b.name(), backend.name()),
                )
                .at(call.kind_span, "backend differs")
                .help(format!("write `{}(profile: ...)` or `profile(...)`", b.name())),
            );
            return None;
        }
        self.check_url(backend, &url, call)?;
        for (key, lit) in named {
            let allowed: &[&str] = match backend {
                Backend::Csv => &["header", "delimiter", "null", "types", "infer"],
                Backend::Mysql => &[crate::connect::mysql::reader::TINYINT1_OPTION],
                _ => &[],
            };
            if !allowed.contains(&key.as_str()) {
                let span = call
                    .args
                    .iter()
                    .find_map(|a| a.name.as_ref().filter(|n| n.name == key))
                    .map_or(call.span, |n| n.span);
                let help = if allowed.is_empty() {
                    format!("{}(...) takes no named arguments besides `profile`", backend.name())
                } else {
                    format!("{}(...) accepts: {}", backend.name(), allowed.join(", "))
                };
                self.problems.push(
                    Problem::error("flow::unknown_argument", format!("unknown argument `{key}`"))
                        .at(span, "not an argument of this connection")
                        .help(help),
                );
                continue;
            }
            let value = if key == "header" {
                self.ok(self.literals.boolean(lit, "header")).map(|b| b.to_string())
            } else if key == "null" {
                // CSV: the unquoted text that means NULL (see connect::file::csv_text).
                self.ok(self.literals.string(lit, &key))
            } else if key == "types" {
                self.ok(self.literals.string(lit, &key)).and_then(
                    |v| match crate::connect::file::csv_text::parse_types(&v) {
                        Ok(_) => Some(v),
                        Err(why) => {
                            self.problems.push(
                                Problem::error("flow::bad_argument", why)
                                    .at(lit.span, "not a list of column types")
                                    .help("e.g. types: \"code text, amount decimal(12,2)\""),
                            );
                            None
                        }
                    },
                )
            } else if key == "infer" {
                match self.literals.count(lit, &key) {
                    Ok(rows) => Some(rows.to_string()),
                    Err(_) => match self.literals.string(lit, &key) {
                        Ok(all) if all == "all" => Some(all),
                        _ => {
                            self.problems.push(
                                Problem::error("flow::bad_argument", "infer: takes \"all\" or a number of rows")
                                    .at(lit.span, "not \"all\" or a row count")
                                    .help("infer: \"all\" infers column types from every row"),
                            );
                            None
                        }
                    },
                }
            } else if key == crate::connect::mysql::reader::TINYINT1_OPTION {
                self.ok(self.literals.string(lit, &key)).and_then(|v| {
                    match crate::connect::mysql::reader::Tinyint1::parse(&v) {
                        Ok(_) => Some(v),
                        Err(why) => {
                            self.problems.push(
                                Problem::error("flow::bad_argument", why)
                                    .at(lit.span, "not boolean or integer")
                                    .help("tinyint1: \"integer\" reads TINYINT(1) columns as integers"),
                            );
                            None
                        }
                    }
                })
            } else {
                self.ok(self.literals.string(lit, &key)).and_then(|d| {
                    if d.len() == 1 {
                        Some(d)
                    } else {
                        self.problems.push(
                            Problem::error("flow::bad_argument", "the delimiter must be a single character")
                                .at(lit.span, "not one character")
                                .help("e.g. delimiter: \";\""),
                        );
                        None
                    }
                })
            };
            options.extend(value.map(|v| (key, v)));
        }
        let display_name = if name.is_empty() { backend.name().to_string() } else { name.to_string() };
        Some(Resolved {
            endpoint: Endpoint { name: display_name, backend, url, options },
            default_batch,
            default_timeout,
        })
    }

    fn generate_connection(
        &mut self,
        call: &ast::ConnectionCall,
        positional: &[&ast::Literal],
        named: &BTreeMap<String, &ast::Literal>,
        name: &str,
    ) -> Option<Resolved> {
        if let Some(p) = positional.first() {
            self.problems.push(
                Problem::error("flow::bad_argument", "generate(...) takes named arguments only")
                    .at(p.span, "unexpected positional argument")
                    .help("write generate(rows: 1000000, seed: 42)"),
            );
            return None;
        }
        let mut options = BTreeMap::new();
        for (key, lit) in named {
            let value = match key.as_str() {
                "rows" => self.ok(self.literals.unsigned(lit, "rows")),
                "seed" => self.ok(self.literals.unsigned(lit, "seed")),
                "rate" => self.ok(self.literals.count(lit, "rate")),
                _ => {
                    let span = call
                        .args
                        .iter()
                        .find_map(|a| a.name.as_ref().filter(|n| &n.name == key))
                        .map_or(call.span, |n| n.span);
                    self.problems.push(
                        Problem::error("flow::unknown_argument", format!("unknown argument `{key}`"))
                            .at(span, "not an argument of generate")
                            .help("generate(...) accepts: rows, seed, rate (rows per second)"),
                    );
                    None
                }
            };
            options.extend(value.map(|v| (key.clone(), v.to_string())));
        }
        options.entry("rows".into()).or_insert_with(|| "100000".into());
        options.entry("seed".into()).or_insert_with(|| "42".into());
        let display_name = if name.is_empty() { "generate".to_string() } else { name.to_string() };
        Some(Resolved {
            endpoint: Endpoint { name: display_name, backend: Backend::Generate, url: "generate".into(), options },
            default_batch: None,
            default_timeout: None,
        })
    }

    fn required_string(
        &mut self,
        call: &ast::ConnectionCall,
        lit: Option<&ast::Literal>,
        what: &str,
    ) -> Option<String> {
        match lit {
            Some(l) => self.ok(self.literals.string(l, what)),
            None => {
                self.problems.push(
                    Problem::error("flow::missing_argument", format!("{}(...) needs {what}", call.kind.keyword()))
                        .at(call.span, "argument missing")
                        .help(format!("e.g. {}", example_call(call.kind))),
                );
                None
            }
        }
    }

    fn check_url(&mut self, backend: Backend, url: &str, call: &ast::ConnectionCall) -> Option<()> {
        let span = call.args.first().map_or(call.span, |a| a.value.span);
        let problem =
            |msg: String, help: &str| Problem::error("flow::bad_url", msg).at(span, "bad URL").help(help.to_string());
        let redacted = endpoint::redact_url(url);
        match backend {
            Backend::Postgres | Backend::Mysql => {
                let schemes: &[&str] =
                    if backend == Backend::Postgres { &["postgres", "postgresql"] } else { &["mysql", "mariadb"] };
                match url::Url::parse(url) {
                    Ok(u) if schemes.contains(&u.scheme()) && u.host_str().is_some_and(|h| !h.is_empty()) => Some(()),
                    Ok(u) if !schemes.contains(&u.scheme()) => {
                        self.problems.push(problem(
                            format!("`{redacted}` is not a {} URL", backend.name()),
                            &format!("start it with {}://", schemes[0]),
                        ));
                        None
                    }
                    _ => {
                        self.problems.push(problem(
                            format!("`{redacted}` is not a valid {} URL", backend.name()),
                            &format!("write {}://USER[:PASSWORD]@HOST[:PORT]/DATABASE", schemes[0]),
                        ));
                        None
                    }
                }
            }
            Backend::Sqlite | Backend::Csv | Backend::Parquet => {
                if url.trim().is_empty() {
                    self.problems.push(problem("the path is empty".into(), "name a file, e.g. out/data.db"));
                    return None;
                }
                if backend == Backend::Sqlite && url.contains("://") && !url.starts_with("sqlite://") {
                    self.problems.push(problem(
                        format!("`{redacted}` is not a SQLite path"),
                        "write a file path or sqlite://PATH",
                    ));
                    return None;
                }
                Some(())
            }
            Backend::Generate => Some(()),
        }
    }

    fn endpoint_for(&mut self, conn: &Ident) -> Option<Resolved> {
        match self.connections.get(&conn.name) {
            Some(resolved) => resolved.clone(),
            None => {
                let known: Vec<&str> = self.connections.keys().map(String::as_str).collect();
                self.problems.push(undefined(
                    "connection",
                    conn,
                    &known,
                    "define it with `let NAME = postgres(\"...\")`",
                ));
                None
            }
        }
    }

    // ------------------------------------------------------------ pipelines

    fn pipeline(&mut self, p: &ast::Pipeline) -> PipelinePlan {
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
                    Problem::error("flow::duplicate_setting", format!("`{key}` is set twice"))
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
                Problem::error("flow::unknown_item", format!("unknown pipeline item `{}`", item.name))
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
                "flow::incremental_mode",
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

    fn check_graph(&mut self, p: &ast::Pipeline, names: &HashMap<String, (Span, StageKindName)>) {
        if p.sinks.is_empty() {
            self.problems.push(
                Problem::error("flow::no_sink", format!("pipeline `{}` has no sink", p.name.name))
                    .at(p.name.span, "nothing is written")
                    .help("add `sink INPUT -> CONN.table(\"name\")`"),
            );
        }
        // Cycles among transforms: follow inputs from each transform.
        let inputs: HashMap<&str, &Ident> = p.transforms.iter().map(|t| (t.name.name.as_str(), &t.input)).collect();
        let mut reported = std::collections::HashSet::new();
        for t in &p.transforms {
            let mut path = vec![t.name.name.as_str()];
            let mut current = t.input.name.as_str();
            while let Some(next) = inputs.get(current) {
                if let Some(pos) = path.iter().position(|n| *n == current) {
                    let mut cycle: Vec<&str> = path[pos..].to_vec();
                    cycle.sort();
                    if reported.insert(cycle.join(",")) {
                        let mut shown: Vec<&str> = path[pos..].to_vec();
                        shown.push(current);
                        self.problems.push(
                            Problem::error("flow::cycle", format!("transforms form a cycle: {}", shown.join(" <- ")))
                                .at(t.input.span, "this input leads back here")
                                .help("every transform must read, eventually, from a source"),
                        );
                    }
                    break;
                }
                path.push(current);
                current = next.name.as_str();
            }
        }
        // Stages nobody reads are warnings: allowed, but probably a mistake.
        let consumed: std::collections::HashSet<&str> = p
            .transforms
            .iter()
            .map(|t| t.input.name.as_str())
            .chain(p.sinks.iter().map(|s| s.input.name.as_str()))
            .collect();
        let consumed_sets: std::collections::HashSet<&str> =
            consumed.iter().filter_map(|c| c.split_once('.').map(|(set, _)| set)).collect();
        for (name, (span, kind)) in names {
            if *kind != StageKindName::Sink
                && !consumed.contains(name.as_str())
                && !consumed_sets.contains(name.as_str())
            {
                self.problems.push(
                    Problem::warning("flow::unused_stage", format!("{} `{name}` has no consumers", kind.word()))
                        .at(*span, "its output goes nowhere")
                        .help("send it to a sink, or remove it"),
                );
            }
        }
    }

    fn input_of(&mut self, input: &Ident, names: &HashMap<String, (Span, StageKindName)>) -> bool {
        // `set.table`: one table of a table set; whether the set holds it is known once its
        // catalog is read.
        if let Some((set, _)) = input.name.split_once('.')
            && let Some((_, StageKindName::TableSet)) = names.get(set)
        {
            return true;
        }
        match names.get(&input.name) {
            Some((_, StageKindName::TableSet)) => {
                self.problems.push(
                    Problem::error(
                        "flow::table_set_input",
                        format!("`{}` is a set of tables; a transform or table sink reads one of them", input.name),
                    )
                    .at(input.span, "a set of tables")
                    .help(format!(
                        "read one table as `{0}.TABLE`, or write the whole set with `sink {0} -> CONN.schema(\"name\")`",
                        input.name
                    )),
                );
                false
            }
            Some((_, StageKindName::Sink)) => {
                self.problems.push(
                    Problem::error("flow::sink_as_input", format!("`{}` is a sink; sinks have no output", input.name))
                        .at(input.span, "cannot read from a sink")
                        .help("read from the sink's input instead"),
                );
                false
            }
            Some(_) => true,
            None => {
                let known: Vec<&str> =
                    names.iter().filter(|(_, (_, k))| *k != StageKindName::Sink).map(|(n, _)| n.as_str()).collect();
                self.problems.push(undefined(
                    "stage",
                    input,
                    &known,
                    "inputs name a source or a transform of this pipeline",
                ));
                false
            }
        }
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
                                "flow::reject_elsewhere",
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
                Problem::warning("flow::max_rejects_unused", "`max rejects` has no effect with `on error fail`")
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
                        Problem::error("flow::bad_table", "the table name is empty")
                            .at(table.span, "empty name")
                            .help("name a table, e.g. \"public.orders\""),
                    );
                    return None;
                }
                let relation = match resolved.endpoint.backend {
                    Backend::Generate => {
                        if name != "orders" {
                            self.problems.push(
                                Problem::error("flow::bad_table", format!("generate has no table `{name}`"))
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
                    Backend::Csv | Backend::Parquet => {
                        let ext = resolved.endpoint.backend.name();
                        let dir = resolved.endpoint.url.trim_end_matches('/');
                        let file = if name.ends_with(&format!(".{ext}")) { name } else { format!("{name}.{ext}") };
                        Relation::File { path: format!("{dir}/{file}") }
                    }
                    Backend::Sqlite => {
                        let parsed = TableName::parse(&name);
                        if let Some(schema) = parsed.schema().filter(|s| !SQLITE_SCHEMAS.contains(s)) {
                            self.problems.push(sqlite_schema(table.span, schema, parsed.table()));
                            return None;
                        }
                        Relation::Table { name: parsed }
                    }
                    _ => Relation::Table { name: TableName::parse(&name) },
                };
                Some((resolved, relation))
            }
            Target::Query { connection, sql, .. } => {
                let resolved = self.endpoint_for(connection)?;
                let text = self.ok(self.literals.string(sql, "the query"))?;
                if use_ == TargetUse::Sink {
                    self.problems.push(
                        Problem::error("flow::query_sink", "a sink cannot write to a query")
                            .at(target.span(), "not a table")
                            .help("write to CONN.table(\"name\")"),
                    );
                    return None;
                }
                if !resolved.endpoint.backend.is_database() {
                    self.problems.push(
                        Problem::error(
                            "flow::query_on_file",
                            format!("`{}` is not a database; it cannot run a query", connection.name),
                        )
                        .at(target.span(), "no SQL here")
                        .help("read the file with .table(...) and use a `sql` transform step"),
                    );
                    return None;
                }
                if text.trim().is_empty() {
                    self.problems.push(
                        Problem::error("flow::bad_query", "the query is empty")
                            .at(sql.span, "empty")
                            .help("write a SELECT"),
                    );
                    return None;
                }
                Some((resolved, Relation::Query { sql: text }))
            }
            Target::Tables { span, .. } => {
                self.problems.push(
                    Problem::error("flow::tables_sink", "a sink cannot write to `tables(...)`")
                        .at(*span, "tables to read")
                        .help("write a table set with `sink SET -> CONN.schema(\"name\")`"),
                );
                None
            }
            Target::Schema { span, .. } => {
                self.problems.push(
                    Problem::error("flow::schema_source", "a source cannot read `schema(...)`")
                        .at(*span, "where a table set is written")
                        .help("read tables with `CONN.tables(\"schema.*\")`"),
                );
                None
            }
            Target::Inline(call) => {
                let resolved = self.connection(call, "")?;
                let relation = match resolved.endpoint.backend {
                    Backend::Csv | Backend::Parquet => Relation::File { path: resolved.endpoint.url.clone() },
                    Backend::Generate if use_ == TargetUse::Source => generated_relation(&resolved.endpoint),
                    Backend::Generate => {
                        self.problems.push(not_writable(call.span));
                        return None;
                    }
                    b => {
                        self.problems.push(
                            Problem::error("flow::missing_table", format!("a {} target needs a table", b.name()))
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

    fn options(&mut self, options: &[ast::StageOption], use_: TargetUse, backend: Backend, out: &mut StageOpts) {
        let mut seen: HashMap<&'static str, Span> = HashMap::new();
        for opt in options {
            let key = match &opt.kind {
                StageOptionKind::Partition { .. } => "partition",
                StageOptionKind::Incremental { .. } => "incremental",
                StageOptionKind::Member { .. } => "table",
                StageOptionKind::Batch(_) => "batch",
                StageOptionKind::Timeout(_) => "timeout",
                StageOptionKind::Mode(_) => "mode",
                StageOptionKind::Create { .. } => "create",
                StageOptionKind::OnError(_) => "on error",
                StageOptionKind::MaxRejects(_) => "max rejects",
                StageOptionKind::Unknown(name) => {
                    let known: &[&str] = match use_ {
                        TargetUse::Source => &["partition", "incremental", "batch", "timeout"],
                        TargetUse::Transform => &["timeout"],
                        TargetUse::Sink => &["mode", "create", "batch", "timeout", "on error", "max rejects"],
                    };
                    self.problems.push(
                        Problem::error("flow::unknown_option", format!("unknown option `{}`", name.name))
                            .at(name.span, "not an option")
                            .help(
                                suggest(&name.name, known)
                                    .unwrap_or_else(|| format!("options here: {}", known.join(", "))),
                            ),
                    );
                    continue;
                }
            };
            if seen.insert(key, opt.span).is_some() {
                self.problems.push(
                    Problem::error("flow::duplicate_option", format!("option `{key}` is given twice"))
                        .at(opt.span, "repeated")
                        .help("give each option once"),
                );
                continue;
            }
            let wrong_place = |key: &str, only: &str| {
                Problem::error("flow::misplaced_option", format!("`{key}` is an option of {only}"))
                    .at(opt.span, "not allowed here")
                    .help(format!("move it to a {only} block, or remove it"))
            };
            match &opt.kind {
                StageOptionKind::Partition { column, count } => {
                    if use_ != TargetUse::Source {
                        self.problems.push(wrong_place("partition", "sources"));
                    } else if !backend.is_database() {
                        self.problems.push(
                            Problem::error(
                                "flow::partition_unsupported",
                                format!("a {} source cannot be partitioned by a column", backend.name()),
                            )
                            .at(opt.span, "only database sources split by column")
                            .help("files are split one partition per file; remove this option"),
                        );
                    } else if let Some(n) = self.ok(self.literals.count(count, "the partition count")) {
                        out.partition = Some((column.name.clone(), n.min(4096) as usize));
                    }
                }
                StageOptionKind::Member { .. } => {
                    self.problems.push(
                        Problem::error("flow::misplaced_table_block", "a `table` block belongs to a table set")
                            .at(opt.span, "not a table set")
                            .help("use it in the block of `source NAME = CONN.tables(...)` or of its schema sink"),
                    );
                }
                StageOptionKind::Incremental { .. } if use_ != TargetUse::Source => {
                    self.problems.push(wrong_place("incremental", "sources"));
                }
                StageOptionKind::Incremental { .. } if !backend.is_database() => {
                    self.problems.push(
                        Problem::error(
                            "flow::incremental_unsupported",
                            format!("a {} source cannot be read incrementally", backend.name()),
                        )
                        .at(opt.span, "only database sources keep a high-water mark")
                        .help("read the whole source (remove this option), or load it into a database first"),
                    );
                }
                StageOptionKind::Incremental { column } => out.incremental = Some(column.name.clone()),
                StageOptionKind::Batch(_) if use_ == TargetUse::Transform => {
                    self.problems.push(wrong_place("batch", "sources and sinks"));
                }
                StageOptionKind::Batch(l) => {
                    out.batch = self.ok(self.literals.count(l, "the batch size")).map(|n| n.min(1 << 24) as usize);
                }
                StageOptionKind::Timeout(l) => out.timeout = self.ok(self.literals.duration(l, "the stage timeout")),
                StageOptionKind::Mode(mode) => {
                    if use_ != TargetUse::Sink {
                        self.problems.push(wrong_place("mode", "sinks"));
                        continue;
                    }
                    let mode = match mode {
                        ast::ModeAst::Upsert { keys } => {
                            WriteMode::Upsert { keys: keys.iter().map(|k| k.name.clone()).collect() }
                        }
                        ast::ModeAst::Named(n) => match n.name.to_ascii_lowercase().as_str() {
                            "append" => WriteMode::Append,
                            "replace" => WriteMode::Replace,
                            "truncate" => WriteMode::Truncate,
                            _ => {
                                self.problems.push(
                                    Problem::error("flow::unknown_mode", format!("unknown write mode `{}`", n.name))
                                        .at(n.span, "not a mode")
                                        .help("modes: append, replace, truncate, upsert on (KEY, ...)"),
                                );
                                continue;
                            }
                        },
                    };
                    if backend.is_file() && mode != WriteMode::Replace {
                        self.problems.push(
                            Problem::error(
                                "flow::mode_unsupported",
                                format!("a {} file can only be written whole (mode replace)", backend.name()),
                            )
                            .at(opt.span, format!("{mode} is not possible for files"))
                            .help("use `mode replace` (the default for files)"),
                        );
                        continue;
                    }
                    out.mode = Some(mode);
                }
                StageOptionKind::Create { if_missing } => {
                    if use_ != TargetUse::Sink {
                        self.problems.push(wrong_place("create", "sinks"));
                    } else {
                        out.create_if_missing = Some(*if_missing);
                    }
                }
                StageOptionKind::OnError(_) | StageOptionKind::MaxRejects(_) if use_ != TargetUse::Sink => {
                    self.problems.push(wrong_place(key, "sinks"));
                }
                StageOptionKind::OnError(_) | StageOptionKind::MaxRejects(_) if !backend.is_database() => {
                    self.problems.push(
                        Problem::error(
                            "flow::on_error_unsupported",
                            format!("a {} file takes every value, so `{key}` does not apply", backend.name()),
                        )
                        .at(opt.span, "only database sinks refuse rows")
                        .help("remove this option"),
                    );
                }
                StageOptionKind::OnError(action) => out.on_error = Some(action.clone()),
                StageOptionKind::MaxRejects(l) => {
                    out.max_rejects = self.ok(self.literals.unsigned(l, "max rejects")).map(|n| (n, opt.span));
                }
                StageOptionKind::Unknown(_) => {}
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
                StepKind::Unknown(name) => {
                    Err(Problem::error("flow::unknown_step", format!("unknown transform step `{}`", name.name))
                        .at(name.span, "not a step")
                        .help(
                            suggest(&name.name, &["filter", "derive", "select", "drop", "rename", "cast", "sql"])
                                .unwrap_or_else(|| "steps: filter, derive, select, drop, rename, cast, sql".into()),
                        ))
                }
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StageKindName {
    Source,
    /// A source that reads a set of tables (`conn.tables(...)`).
    TableSet,
    Transform,
    Sink,
}

impl StageKindName {
    fn word(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::TableSet => "table set",
            Self::Transform => "transform",
            Self::Sink => "sink",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TargetUse {
    Source,
    Transform,
    Sink,
}

#[derive(Default)]
struct StageOpts {
    partition: Option<(String, usize)>,
    incremental: Option<String>,
    batch: Option<usize>,
    timeout: Option<Duration>,
    mode: Option<WriteMode>,
    create_if_missing: Option<bool>,
    on_error: Option<ast::OnErrorAst>,
    max_rejects: Option<(u64, Span)>,
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
    Problem::error("flow::not_writable", "the synthetic source cannot be written to")
        .at(span, "read-only")
        .help("write to a database table or a csv/parquet file")
}

/// The schema names a SQLite connection knows without `ATTACH` (SQLite's "schema-name": `main`,
/// `temp`; <https://sqlite.org/lang_naming.html>). Flow attaches no other database.
const SQLITE_SCHEMAS: [&str; 2] = ["main", "temp"];

/// A SQLite table named with a schema the file does not have (e.g. `public.orders` carried over
/// from PostgreSQL): SQLite would answer `unknown database "public"` only when the run starts.
fn sqlite_schema(span: Span, schema: &str, table: &str) -> Problem {
    Problem::error("flow::sqlite_schema", format!("a SQLite file has no schema `{schema}`"))
        .at(span, "schema-qualified name")
        .help(format!("a SQLite file is one database: name the table without the schema, e.g. \"{table}\""))
}

fn example_call(kind: ConnectionKind) -> &'static str {
    match kind {
        ConnectionKind::Postgres => "postgres(\"postgres://user@127.0.0.1:5432/db\")",
        ConnectionKind::Mysql => "mysql(\"mysql://root@127.0.0.1:3306/db\")",
        ConnectionKind::Sqlite => "sqlite(\"out/data.db\")",
        ConnectionKind::Csv => "csv(\"data/orders.csv\", header: true)",
        ConnectionKind::Parquet => "parquet(\"out/orders.parquet\")",
        ConnectionKind::Generate => "generate(rows: 1000000, seed: 42)",
        ConnectionKind::Profile => "profile(\"warehouse\")",
    }
}

fn duplicate(what: &str, ident: &Ident, _first: Span) -> Problem {
    Problem::error("flow::duplicate_name", format!("{what} `{}` is defined twice", ident.name))
        .at(ident.span, "defined again here")
        .help(format!("{what} names must be unique; rename one of them"))
}

fn undefined(what: &str, ident: &Ident, known: &[&str], fallback: &str) -> Problem {
    let help = suggest(&ident.name, known).unwrap_or_else(|| fallback.to_string());
    Problem::error("flow::undefined_name", format!("no {what} named `{}`", ident.name))
        .at(ident.span, format!("undefined {what}"))
        .help(help)
}

pub use crate::diagnostics::suggest;
