//! A pipeline as a graph: stage names share one namespace, every input names a source or
//! transform of the pipeline (or one table of a table set), transforms form no cycle, and a
//! stage nobody reads is a warning.

use std::collections::HashMap;

use super::{Lowering, undefined};
use crate::diagnostics::{Problem, codes};
use crate::syntax::ast::{self, Ident, Span};

impl Lowering<'_> {
    pub(super) fn check_graph(&mut self, p: &ast::Pipeline, names: &HashMap<String, (Span, StageKindName)>) {
        if p.sinks.is_empty() {
            self.problems.push(
                Problem::error(codes::graph::NO_SINK, format!("pipeline `{}` has no sink", p.name.name))
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
                            Problem::error(
                                codes::graph::CYCLE,
                                format!("transforms form a cycle: {}", shown.join(" <- ")),
                            )
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
        if self.ctx.cluster {
            self.check_cluster_fan_out(p);
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
        // In the order the stages are written, so the warnings come out the same every time.
        let mut declared: Vec<_> = names.iter().collect();
        declared.sort_by_key(|(_, (span, _))| span.start);
        for (name, (span, kind)) in declared {
            if *kind != StageKindName::Sink
                && !consumed.contains(name.as_str())
                && !consumed_sets.contains(name.as_str())
            {
                self.problems.push(
                    Problem::warning(codes::graph::UNUSED_STAGE, format!("{} `{name}` has no consumers", kind.word()))
                        .at(*span, "its output goes nowhere")
                        .help("send it to a sink, or remove it"),
                );
            }
        }
    }

    /// On a cluster each sink is its own job, so a stage read by several consumers (run once
    /// and fanned out in one process) cannot be shared: refused at the second consumer. A table
    /// set written whole and one of its tables read elsewhere (`SET.TABLE`) count as two.
    fn check_cluster_fan_out(&mut self, p: &ast::Pipeline) {
        let inputs: Vec<&Ident> =
            p.transforms.iter().map(|t| &t.input).chain(p.sinks.iter().map(|s| &s.input)).collect();
        let mut first: HashMap<&str, &Ident> = HashMap::new();
        for input in &inputs {
            let name = input.name.as_str();
            let earlier = first.get(name).copied().or_else(|| {
                // `SET.TABLE` beside a sink of the whole set, in either order.
                let set = name.split_once('.').map(|(set, _)| set);
                set.and_then(|set| first.get(set).copied()).or_else(|| {
                    first
                        .iter()
                        .find(|(other, _)| other.split_once('.').is_some_and(|(set, _)| set == name))
                        .map(|(_, i)| *i)
                })
            });
            match earlier {
                Some(earlier) => {
                    self.problems.push(
                        Problem::error(
                            codes::cluster::FAN_OUT,
                            format!(
                                "`{}` is read by more than one stage, which a cluster run cannot share (each sink \
                                 runs as its own job)",
                                earlier.name
                            ),
                        )
                        .at(input.span, "a second consumer")
                        .help("split the pipeline so that each stage has one consumer, or run it without --engine"),
                    );
                    return;
                }
                None => {
                    first.insert(name, input);
                }
            }
        }
    }

    pub(super) fn input_of(&mut self, input: &Ident, names: &HashMap<String, (Span, StageKindName)>) -> bool {
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
                        codes::graph::TABLE_SET_INPUT,
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
                    Problem::error(
                        codes::graph::SINK_AS_INPUT,
                        format!("`{}` is a sink; sinks have no output", input.name),
                    )
                    .at(input.span, "cannot read from a sink")
                    .help("read from the sink's input instead"),
                );
                false
            }
            Some(_) => true,
            None => {
                let mut known: Vec<&str> =
                    names.iter().filter(|(_, (_, k))| *k != StageKindName::Sink).map(|(n, _)| n.as_str()).collect();
                known.sort_unstable();
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
}

/// What a name in a pipeline's stage namespace stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StageKindName {
    Source,
    /// A source that reads a set of tables (`conn.tables(...)`).
    TableSet,
    Transform,
    Sink,
}

impl StageKindName {
    pub(super) fn word(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::TableSet => "table set",
            Self::Transform => "transform",
            Self::Sink => "sink",
        }
    }
}
