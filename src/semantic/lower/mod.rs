//! Checked AST → logical plan. Resolves connections (URLs, profiles, variables), stage options and
//! transform steps, collecting every problem instead of stopping at the first.
//!
//! One concern per file, all of them methods of [`Lowering`]: `connections` (`let NAME = ...`
//! bindings and inline connection calls → endpoints), `stages` (a pipeline's sources,
//! transforms and sinks → plans), `options` (the options of a stage block), `graph` (one
//! namespace of stage names, inputs, cycles, unused stages) and `table_sets` (`tables(...)`
//! sources and `schema(...)` sinks). Tests are in `tests`.

use std::collections::HashMap;
use std::time::Duration;

use super::values::{LiteralResolver, Variables};
use crate::diagnostics::{Problem, codes};
use crate::plan::{Endpoint, PipelinePlan};
use crate::profiles::Profiles;
use crate::syntax::ast::{self, Ident, Span};

mod connections;
mod graph;
mod options;
mod stages;
mod table_sets;
#[cfg(test)]
mod tests;

/// What checking needs besides the file: variable values and connection profiles.
#[derive(Debug, Clone, Default)]
pub struct CheckContext {
    pub vars: Variables,
    pub profiles: Profiles,
    /// Default parallelism when a pipeline does not set one.
    pub default_parallelism: usize,
    /// The command runs (or checks for) a cluster (`--engine`): what only runs in one process
    /// is refused (`flow::cluster::*`).
    pub cluster: bool,
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
                Problem::error(codes::pipeline::MISSING, "the file defines no pipeline")
                    .at(Span::new(0, 0), "nothing to run")
                    .help("add `pipeline NAME { source ... sink ... }`"),
            );
        }
        plans
    }
}

fn duplicate(what: &str, ident: &Ident, _first: Span) -> Problem {
    Problem::error(codes::name::DUPLICATE, format!("{what} `{}` is defined twice", ident.name))
        .at(ident.span, "defined again here")
        .help(format!("{what} names must be unique; rename one of them"))
}

fn undefined(what: &str, ident: &Ident, known: &[&str], fallback: &str) -> Problem {
    let help = suggest(&ident.name, known).unwrap_or_else(|| fallback.to_string());
    Problem::error(codes::name::UNDEFINED, format!("no {what} named `{}`", ident.name))
        .at(ident.span, format!("undefined {what}"))
        .help(help)
}

pub use crate::diagnostics::suggest;
pub use stages::keep_last_split;
