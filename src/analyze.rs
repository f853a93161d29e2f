//! The front half shared by `check`, `explain` and `run`: parse, lower (offline checks: a
//! checked plan), then, when sources may be contacted, resolve (`crate::resolve`: all the I/O
//! of planning, once), check columns and plan every stage with DataFusion. Every problem found
//! lands in one [`FileProblems`], errors and warnings apart. `run` resolves each pipeline when
//! its turn comes ([`Discover::InTurn`]), so that each source is described once per run.

use std::collections::HashMap;

use crate::diagnostics::{FileProblems, Problem, codes};
use crate::explain::{self, ExplainedPipeline};
use crate::plan::PipelinePlan;
use crate::resolve::{self, Discovery, ResolvedPipeline, SourceErrorKind};
use crate::semantic::{self, CheckContext, columns::check_columns};
use crate::syntax::{self, ast};

pub struct Analysis {
    pub problems: FileProblems,
    /// The checked plans, one per pipeline, as the file says them (table sets not expanded).
    pub checked: Vec<PipelinePlan>,
    /// The first checked plans, resolved, when sources were consulted and the file checked
    /// cleanly so far: every plan with [`Discover::Online`], the first with
    /// [`Discover::InTurn`] (the others are resolved by [`Analysis::resolve_in_turn`]), none
    /// otherwise.
    pub resolved: Vec<ResolvedPipeline>,
    /// One per resolved plan that typed cleanly.
    pub explained: Vec<ExplainedPipeline>,
    /// The file's pipelines, one per checked plan: what a pipeline resolved later is checked
    /// against.
    pipelines: Vec<ast::Pipeline>,
    /// Whether the plans run on a cluster (`CheckContext::cluster`), which `explain` says where
    /// it changes what a run does.
    pub cluster: bool,
}

impl Analysis {
    pub fn ok(&self) -> bool {
        !self.problems.has_errors()
    }

    /// The plans as far as they were resolved: the resolved plans (table sets expanded) where
    /// sources were consulted, the checked plans for the rest.
    pub fn plans(&self) -> Vec<&PipelinePlan> {
        let resolved = self.resolved.iter().map(|r| &r.plan);
        resolved.chain(self.checked.iter().skip(self.resolved.len())).collect()
    }

    /// Resolves checked plan `index` now and checks what that found, as [`analyze`] does for
    /// the plans it resolves: for a pipeline of a file analysed with [`Discover::InTurn`], when
    /// its turn to run comes. The answer is an analysis of that one pipeline: its problems
    /// (quoting this file), and the resolved pipeline when nothing stopped resolving (table
    /// sets that could not be expanded). `None` when there is no plan `index`.
    pub async fn resolve_in_turn(&self, index: usize) -> Option<Analysis> {
        let checked = vec![self.checked.get(index)?.clone()];
        let pipelines = vec![self.pipelines.get(index)?.clone()];
        let (resolved, explained, mut problems) = resolve_and_check(&pipelines, &checked, self.cluster).await;
        problems.sort_by_key(|p| (p.span.map_or(0, |s| s.start), p.warning));
        let problems = FileProblems { source: self.problems.source.clone(), problems };
        Some(Analysis { problems, checked, resolved, explained, pipelines, cluster: self.cluster })
    }
}

/// Whether `analyze` may connect to sources, and for which pipelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discover {
    /// Every pipeline is resolved and checked (`check`, `explain`, `verify`).
    Online,
    /// Only the offline checks (`--offline`, `status`).
    Offline,
    /// The first pipeline is resolved and checked; each later one when its turn to run comes
    /// ([`Analysis::resolve_in_turn`]), after the pipelines before it ran (`run`). Those may
    /// write its sources, so a description taken earlier would have to be taken again, and a
    /// PostgreSQL snapshot exported for it would stay open across their runs.
    InTurn,
}

pub async fn analyze(file_name: &str, text: &str, ctx: &CheckContext, discover: Discover) -> Analysis {
    let ast = match syntax::parse(text) {
        Ok(ast) => ast,
        Err(problem) => {
            return Analysis {
                problems: FileProblems::new(file_name, text, vec![problem]),
                checked: Vec::new(),
                resolved: Vec::new(),
                explained: Vec::new(),
                pipelines: Vec::new(),
                cluster: ctx.cluster,
            };
        }
    };
    let (checked, mut problems) = semantic::lower(&ast, ctx);
    let pipelines = ast.pipelines;
    for (pipeline, plan) in pipelines.iter().zip(&checked) {
        let span_of = |sink: &str| ast_sink(pipeline, sink).map_or(pipeline.name.span, |s| s.target.span());
        problems.extend(semantic::self_writes::check(plan, span_of));
    }
    let lowered_cleanly = !problems.iter().any(|p| !p.warning);
    let now = match discover {
        _ if !lowered_cleanly => 0,
        Discover::Online => checked.len(),
        Discover::InTurn => checked.len().min(1),
        Discover::Offline => 0,
    };
    let (resolved, explained) = if now > 0 {
        let (resolved, explained, found) = resolve_and_check(&pipelines[..now], &checked[..now], ctx.cluster).await;
        problems.extend(found);
        (resolved, explained)
    } else {
        (Vec::new(), Vec::new())
    };
    problems.sort_by_key(|p| (p.span.map_or(0, |s| s.start), p.warning));
    let problems = FileProblems::new(file_name, text, problems);
    Analysis { problems, checked, resolved, explained, pipelines, cluster: ctx.cluster }
}

/// Resolves `checked` (concurrently; `crate::resolve`: all the I/O of planning, once) and
/// checks what that found against `pipelines` of the file (one per plan): the table sets'
/// expansion, the sources' descriptions, `keep last by` splits, columns, DataFusion's planning
/// of every stage and the existing targets. A table set that cannot be expanded, in any of
/// them, stops the checks that need descriptions. Returns the resolved plans (one per plan),
/// the explained ones (those that planned, for a `cluster` run when it is one) and every
/// problem found.
async fn resolve_and_check(
    pipelines: &[ast::Pipeline],
    checked: &[PipelinePlan],
    cluster: bool,
) -> (Vec<ResolvedPipeline>, Vec<ExplainedPipeline>, Vec<Problem>) {
    let mut problems = Vec::new();
    let mut resolved = Vec::new();
    let mut explained = Vec::new();
    let resolutions = futures::future::join_all(checked.iter().map(resolve::resolve)).await;
    for (resolution, pipeline_ast) in resolutions.into_iter().zip(pipelines) {
        problems.extend(expansion_problems(pipeline_ast, resolution.expansion));
        resolved.push(resolution.pipeline);
    }
    if problems.iter().any(|p| !p.warning) {
        return (resolved, explained, problems);
    }
    for (pipeline, pipeline_ast) in resolved.iter().zip(pipelines) {
        let discovery = &pipeline.sources;
        problems.extend(discovery_problems(pipeline_ast, discovery));
        problems.extend(keep_last_problems(pipeline_ast, pipeline));
        let schemas: HashMap<String, Vec<String>> = discovery
            .iter()
            .filter_map(|(name, shape)| {
                let shape = shape.as_ref().ok()?;
                Some((name.clone(), shape.schema.fields().iter().map(|f| f.name().clone()).collect()))
            })
            .collect();
        let exact_text: HashMap<String, Vec<String>> = discovery
            .iter()
            .filter_map(|(name, shape)| {
                let fields = shape.as_ref().ok()?.schema.fields().iter();
                let text =
                    fields.filter(|f| crate::connect::decimal_text::is_decimal_text(f)).map(|f| f.name().clone());
                Some((name.clone(), text.collect()))
            })
            .collect();
        let column_problems = check_columns(pipeline_ast, &schemas, &exact_text);
        let columns_ok = column_problems.is_empty();
        problems.extend(column_problems);
        if !columns_ok {
            continue;
        }
        match explain::explain_pipeline(pipeline, cluster).await {
            Ok(mut e) => {
                problems.extend(target_problems(pipeline_ast, &pipeline.plan, &mut e).await);
                explained.push(e);
            }
            Err((stage, message)) => problems.push(plan_problem(pipeline_ast, &stage, message)),
        }
    }
    (resolved, explained, problems)
}

/// A source whose server did not answer, or whose file is not there yet, is a warning at check
/// time (the run will say more); a source that answered but cannot be used as written (refused
/// credentials, unknown database or table, bad partition column) is an error. Decided on the
/// error's kind ([`SourceErrorKind`]), never on its text.
fn discovery_problems(pipeline: &ast::Pipeline, discovery: &Discovery) -> Vec<Problem> {
    let mut out = Vec::new();
    for source in &pipeline.sources {
        // A table set is described as one source per table (`SET.TABLE`), in name order.
        let failed: Vec<(&String, &resolve::SourceError)> = match source.target {
            ast::Target::Tables { .. } => {
                let prefix = format!("{}.", source.name.name);
                let mut members: Vec<_> = discovery
                    .iter()
                    .filter(|(name, _)| name.starts_with(&prefix))
                    .filter_map(|(name, shape)| Some((name, shape.as_ref().err()?)))
                    .collect();
                members.sort_by(|a, b| a.0.cmp(b.0));
                members
            }
            _ => match discovery.get_key_value(&source.name.name) {
                Some((name, Err(error))) => vec![(name, error)],
                _ => continue,
            },
        };
        for (name, error) in failed {
            out.extend(source_problem(source, name, error));
        }
    }
    out
}

/// The problem of source `name` (of the file's `source`, a table set's table or itself) that
/// could not be described; `None` when it was not on purpose (`--offline`).
fn source_problem(source: &ast::Source, name: &str, error: &resolve::SourceError) -> Option<Problem> {
    let problem = match error.kind {
        SourceErrorKind::Unreachable => {
            Problem::warning(codes::source::UNREACHABLE, format!("source `{name}` could not be reached: {error}"))
                .at(source.target.span(), "not reachable now")
                .help("schemas and partition bounds are checked when the source answers")
        }
        SourceErrorKind::Missing => Problem::warning(codes::source::MISSING, format!("source `{name}`: {error}"))
            .at(source.target.span(), "not there yet")
            .help("schemas and partition bounds are checked once the file exists"),
        SourceErrorKind::Offline => return None,
        SourceErrorKind::Refused => Problem::error(codes::source::REFUSED, format!("source `{name}`: {error}"))
            .at(source.target.span(), "the server refused the connection")
            .help("fix the connection URL (user, password, database) or the server's grants"),
        SourceErrorKind::Invalid => {
            let help = match source.target {
                // A table of a set: the set names no query or partition column to fix.
                ast::Target::Tables { .. } => {
                    let table = name.strip_prefix(&format!("{}.", source.name.name)).unwrap_or(name);
                    format!(
                        "leave `{table}` out of the set (`exclude: [\"{table}\"]`, or `--exclude {table}` with `flow \
                         copy --all-tables`), or copy it with a source of its own whose query casts the column"
                    )
                }
                _ => "check the table or query name and the partition column".to_string(),
            };
            Problem::error(codes::source::INVALID, format!("source `{name}`: {error}"))
                .at(source.target.span(), "the source rejects this")
                .help(help)
        }
    };
    Some(problem)
}

/// The help of a table set's expansion warnings: where to see what is carried over.
pub const EXPLAIN_THE_SET: &str = "`flow explain` of this file shows what is carried over to each target table";

/// A `keep last by` sink whose source was described in more partitions than the file says (the
/// files of a directory) and not by a key: it could not keep one row per key. (The splits the
/// file asks for are checked offline, by `semantic::lower`; Flow does not choose one that
/// would split a key, `resolve`.)
fn keep_last_problems(pipeline: &ast::Pipeline, resolved: &ResolvedPipeline) -> Vec<Problem> {
    let plan = &resolved.plan;
    let mut out = Vec::new();
    for sink in &plan.sinks {
        let crate::plan::WriteMode::Upsert { keep: Some(keep), .. } = &sink.mode else { continue };
        let Some((source, _)) = plan.lineage(&sink.input) else { continue };
        let Some(shape) = resolved.shape(&source.name) else { continue };
        let declared = source.partition.as_ref().filter(|p| !p.automatic).map_or(1, |p| p.count);
        let partitions = shape.partitions.len();
        if partitions <= declared {
            continue;
        }
        let Some(reason) = crate::plan::upsert::key_split(plan, sink, partitions) else { continue };
        let span = ast_sink(pipeline, &sink.name).map_or(pipeline.name.span, |s| {
            s.options.iter().find(|o| matches!(o.kind, ast::StageOptionKind::Mode(_))).map_or(s.span, |o| o.span)
        });
        let files = source.endpoint.backend.is_file();
        out.push(semantic::lower::keep_last_split(&sink.name, keep, &reason, span, files));
    }
    out
}

/// The sink of the file that `name` (a sink of the plan) comes from: the sink of that name, the
/// table set's sink `SINK` of a table's sink `SINK.TABLE`, or an unnamed sink whose default name
/// (`INPUT->TARGET`) starts with its input.
fn ast_sink<'a>(pipeline: &'a ast::Pipeline, name: &str) -> Option<&'a ast::Sink> {
    let named = |s: &&ast::Sink, exact: bool| {
        s.name.as_ref().is_some_and(|n| {
            n.name == name || (!exact && name.strip_prefix(n.name.as_str()).is_some_and(|t| t.starts_with('.')))
        })
    };
    let found =
        pipeline.sinks.iter().find(|s| named(s, true)).or_else(|| pipeline.sinks.iter().find(|s| named(s, false)));
    found.or_else(|| {
        pipeline.sinks.iter().find(|s| s.name.is_none() && name.starts_with(&format!("{}->", s.input.name)))
    })
}

/// What expanding the table sets found, pointed at the first table set of the pipeline (the
/// messages name the set).
fn expansion_problems(pipeline: &ast::Pipeline, expanded: crate::expand::Expanded) -> Vec<Problem> {
    let span = pipeline
        .sources
        .iter()
        .find(|s| matches!(s.target, ast::Target::Tables { .. }))
        .map_or(pipeline.name.span, |s| s.target.span());
    let errors = expanded.errors.into_iter().map(|message| {
        Problem::error(codes::table_set::EXPANSION, message)
            .at(span, "this table set")
            .help("check the patterns and the `table` blocks against the source's tables")
    });
    let warnings = expanded.warnings.into_iter().map(|message| {
        Problem::warning(codes::table_set::EXPANSION_WARNING, message).at(span, "this table set").help(EXPLAIN_THE_SET)
    });
    errors.chain(warnings).collect()
}

/// What existing targets do with the columns written (`connect::target_columns`), read before
/// anything runs: a generated column whose source values are left out is a warning, a write the
/// target cannot take an error; both, and identity columns written with `OVERRIDING SYSTEM
/// VALUE`, are said in the sink's `explain` warnings.
async fn target_problems(
    pipeline: &ast::Pipeline,
    plan: &PipelinePlan,
    explained: &mut ExplainedPipeline,
) -> Vec<Problem> {
    use crate::connect::target_columns::{self, TargetFinding};
    let sinks = explained.stages.iter_mut().filter(|s| s.kind == Some(crate::exec::metrics::StageKind::Sink));
    let columns = sinks
        .filter_map(|s| Some((s.name.clone(), s.schema.as_ref()?.iter().map(|c| c.name.clone()).collect())))
        .collect();
    let found = target_columns::discover(plan, &columns).await;
    let mut out: Vec<Problem> = found.servers.iter().map(|f| server_problem(pipeline, f)).collect();
    for stage in &mut explained.stages {
        let Some(finding) = found.sinks.get(&stage.name) else { continue };
        // The sink's own target in the file, or (a table of a table set) the sink that wrote it.
        let sink = ast_sink(pipeline, &stage.name);
        let span = sink.map_or(pipeline.name.span, |s| s.target.span());
        match finding {
            TargetFinding::Writes(write) => {
                stage.warnings.extend(write.notes());
                out.extend(write.skipped.iter().map(|c| {
                    Problem::warning(
                        codes::sink::GENERATED_COLUMN,
                        format!(
                            "sink `{}`: column `{}` is generated by the target ({}); the source's values are not \
                             written",
                            stage.name,
                            c.name,
                            c.definition()
                        ),
                    )
                    .at(span, "the target computes this column")
                    .help(format!("`drop {}` in a transform says so in the file and silences this", c.name))
                }));
            }
            TargetFinding::Refused { code, message } => {
                stage.warnings.push(message.clone());
                out.push(
                    Problem::error(code, format!("sink `{}`: {message}", stage.name))
                        .at(span, "the target cannot take this write")
                        .help("nothing was read or written; change the target or the pipeline as the message says"),
                );
            }
        }
    }
    out
}

/// The problem of a sink's target server found by the planning probe: a server that does not
/// answer is a warning (as a source's, `flow::sink::unreachable`); one that refuses the
/// connection (`flow::connection::refused`, as the run would fail) and a schema that does not
/// exist (`flow::sink::missing_schema`) are errors. Decided on the error's kind, never its text.
fn server_problem(pipeline: &ast::Pipeline, finding: &crate::connect::target_columns::ServerFinding) -> Problem {
    use crate::connect::connect_error::Reach;
    use crate::connect::target_columns::ServerFinding;
    let span = |sink: &str| ast_sink(pipeline, sink).map_or(pipeline.name.span, |s| s.target.span());
    match finding {
        ServerFinding::Connect { sink, error } if error.reach == Reach::NoAnswer => Problem::warning(
            codes::sink::UNREACHABLE,
            format!("the target of sink `{sink}` could not be reached: {error}"),
        )
        .at(span(sink), "not reachable now")
        .help("the target's schemas and tables are checked when it answers"),
        ServerFinding::Connect { sink, error } => {
            Problem::error(codes::connection::REFUSED, format!("sink `{sink}`: {error}"))
                .at(span(sink), "the server refused the connection")
                .help("fix the connection URL (user, password, database) or the server's grants")
        }
        ServerFinding::CaseTwin { sink, table, twin } => {
            let written = table.table();
            let twin_name = match table.schema() {
                Some(schema) => format!("{schema}.{twin}"),
                None => twin.clone(),
            };
            Problem::warning(
                codes::sink::CASE_TWIN,
                format!(
                    "sink `{sink}`: the target has no table `{written}` but has `{twin}`; the run would create \
                     `{written}` beside it"
                ),
            )
            .at(span(sink), "differs from an existing table only in letter case")
            .help(format!(
                "Flow quotes table names as written, and the server tells `{written}` and `{twin}` apart: write \
                 \"{twin_name}\" to write into the existing table"
            ))
        }
        ServerFinding::MissingSchema { sink, schema, backend } => {
            let what = backend.info().namespace;
            let create = format!("CREATE {}", what.to_ascii_uppercase());
            Problem::error(
                codes::sink::MISSING_SCHEMA,
                format!("sink `{sink}`: {what} `{schema}` does not exist on the target server"),
            )
            .at(span(sink), format!("no {what} `{schema}`"))
            .help(format!(
                "Flow creates tables, not {what}s: create it first (`{create} {schema}`) or write to another"
            ))
        }
    }
}

fn plan_problem(pipeline: &ast::Pipeline, stage: &str, message: String) -> Problem {
    let span = pipeline.transforms.iter().find(|t| t.name.name == stage).map_or(pipeline.name.span, |t| t.name.span);
    Problem::error(codes::plan::FAILED, message)
        .at(span, "cannot be planned")
        .help("check the expressions, function names and types in this transform")
}
