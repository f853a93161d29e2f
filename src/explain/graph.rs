//! `flow explain --format dot|mermaid`: a resolved pipeline as a graph of its stages, for
//! Graphviz (`dot -Tsvg`) and Mermaid (`flowchart LR`). No I/O: it renders what resolving found.
//!
//! The graph is plain data first ([`StageGraph`]: a petgraph graph of stages, the table-set
//! clusters), and DOT and Mermaid are two views of it, so both always show the same nodes and
//! edges. Every stage is a node, every edge of the plan an edge:
//!
//! ```text
//!  ┌ pipeline demo ──────────────────────────────────────────────────────────────┐
//!  │ orders                         clean                       clean->orders     │
//!  │ generate · 200000 rows ──▶ filter | derive | … ──▶ → sqlite · orders      │
//!  │ 2 partitions                                         replace              │
//!  └──────────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Each pipeline is a cluster; inside it each table set (`conn.tables(...)` with its
//! `conn.schema(...)` sinks) is a cluster of its own, holding the set's tables and the sinks
//! that write them. A set that was not expanded (`--offline`: the catalog was not read) is one
//! node for the set and one per schema sink. Labels name the backend and the table or file,
//! never a URL, so no password can show.

use std::collections::HashMap;
use std::fmt::Write as _;

use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;

use crate::connect::{ScanPartition, SourceShape};
use crate::plan::table_set::TableSetPlan;
use crate::plan::{OnError, PipelinePlan, Relation, SinkPlan, SourcePlan, StepPlan, TransformPlan};
use crate::resolve::ResolvedPipeline;

/// One pipeline's stages and the data flowing between them.
#[derive(Debug, Clone)]
pub struct StageGraph {
    /// The pipeline's name.
    pub pipeline: String,
    /// The label of the pipeline's cluster, one entry per line.
    pub label: Vec<String>,
    /// Stages as nodes, data flow as edges (`from → to`), in the plan's order.
    pub graph: DiGraph<Node, ()>,
    /// The pipeline's table sets; [`Node::cluster`] indexes this.
    pub clusters: Vec<Cluster>,
}

/// A stage of the pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The stage's name, as the plan and `flow explain` name it.
    pub stage: String,
    pub kind: NodeKind,
    /// The label, one entry per line; the first is the stage's name.
    pub lines: Vec<String>,
    /// The table set the stage belongs to, an index into [`StageGraph::clusters`].
    pub cluster: Option<usize>,
}

/// What a node reads or writes, which sets its shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    Source,
    Transform,
    Sink,
}

/// A table set: its tables and the sinks of its `.schema(...)` targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// The set's source name.
    pub name: String,
    /// The label, one entry per line.
    pub lines: Vec<String>,
}

/// The graph of one resolved pipeline: sources, transforms and sinks as the plan holds them
/// (table sets expanded when resolving read their catalogs), partitions as resolving split them.
pub fn stage_graph(resolved: &ResolvedPipeline) -> StageGraph {
    let plan = &resolved.plan;
    let mut builder = Builder { graph: DiGraph::new(), by_name: HashMap::new() };
    let clusters = plan.table_sets.iter().map(set_cluster).collect();
    for source in &plan.sources {
        let lines = source_lines(source, resolved.shape(&source.name));
        builder.add(&source.name, NodeKind::Source, lines);
    }
    // Each transform and sink is joined to its input by the node it got, not by its name.
    let mut inputs = Vec::new();
    for transform in &plan.transforms {
        let node = builder.add(&transform.name, NodeKind::Transform, transform_lines(transform));
        inputs.push((transform.input.clone(), node));
    }
    for sink in &plan.sinks {
        let node = builder.add(&sink.name, NodeKind::Sink, sink_lines(sink));
        inputs.push((sink.input.clone(), node));
    }
    // A set not expanded (`--offline`): the set itself, and its schema sinks.
    for set in plan.unexpanded_table_sets() {
        let tables = "tables not listed (the catalog was not read)".to_string();
        builder.add(&set.name, NodeKind::Source, vec![set.name.clone(), tables]);
        for sink in &set.sinks {
            let schema =
                sink.schema.as_deref().map_or("the connection's schema".to_string(), |s| format!("schema {s}"));
            let target = format!("→ {} · {schema}", sink.endpoint.backend.name());
            let node = builder.add(&sink.name, NodeKind::Sink, vec![sink.name.clone(), target, sink.mode.to_string()]);
            inputs.push((set.name.clone(), node));
        }
    }
    for (input, node) in inputs {
        let from = builder.node(&input);
        builder.graph.add_edge(from, node, ());
    }
    let mut graph = builder.graph;
    for node in graph.node_weights_mut() {
        node.cluster = plan.table_sets.iter().position(|set| in_set(plan, set, node));
    }
    let timeout = plan.timeout.map(crate::plan::duration::format_duration).map(|t| format!(", timeout {t}"));
    let label = vec![
        format!("pipeline {}", plan.name),
        format!("parallelism {}{}", plan.parallelism, timeout.unwrap_or_default()),
    ];
    StageGraph { pipeline: plan.name.clone(), label, graph, clusters }
}

struct Builder {
    graph: DiGraph<Node, ()>,
    by_name: HashMap<String, NodeIndex>,
}

impl Builder {
    fn add(&mut self, stage: &str, kind: NodeKind, lines: Vec<String>) -> NodeIndex {
        let index = self.graph.add_node(Node { stage: stage.to_string(), kind, lines, cluster: None });
        self.by_name.insert(stage.to_string(), index);
        index
    }

    /// The node of stage `name`. A stage the plan reads but does not hold is a table of a set
    /// that was not expanded (`app.orders` read by a transform, offline): it gets a node of its own.
    fn node(&mut self, name: &str) -> NodeIndex {
        match self.by_name.get(name) {
            Some(index) => *index,
            None => self.add(name, NodeKind::Source, vec![name.to_string()]),
        }
    }
}

/// Whether stage `node` belongs to table set `set`: one of its tables, the set itself (not
/// expanded), a sink writing a table of it to a `.schema(...)` target, or a schema sink.
fn in_set(plan: &PipelinePlan, set: &TableSetPlan, node: &Node) -> bool {
    match node.kind {
        NodeKind::Source => node.stage == set.name || set.member_table(&node.stage).is_some(),
        NodeKind::Transform => false,
        NodeKind::Sink => {
            set.sinks.iter().any(|s| s.name == node.stage)
                || plan
                    .sinks
                    .iter()
                    .any(|s| s.name == node.stage && s.carried.is_some() && set.member_table(&s.input).is_some())
        }
    }
}

fn set_cluster(set: &TableSetPlan) -> Cluster {
    let mut tables = if set.include.is_empty() { "every table".to_string() } else { set.include.join(", ") };
    if !set.exclude.is_empty() {
        let _ = write!(tables, ", exclude {}", set.exclude.join(", "));
    }
    Cluster {
        name: set.name.clone(),
        lines: vec![
            format!("table set {}", set.name),
            format!("{} ({}) · {tables}", set.endpoint.name, set.endpoint.backend.name()),
        ],
    }
}

fn source_lines(source: &SourcePlan, shape: Option<&SourceShape>) -> Vec<String> {
    let mut lines =
        vec![source.name.clone(), format!("{} · {}", source.endpoint.backend.name(), relation_short(&source.relation))];
    let mut read = match (shape, &source.partition) {
        (Some(shape), partition) => {
            let count = shape.partitions.len();
            let mut text = format!("{count} partition{}", if count == 1 { "" } else { "s" });
            match partition {
                Some(p) if p.automatic => {
                    let _ = write!(text, " by {} (automatic)", p.column);
                }
                Some(p) => {
                    let _ = write!(text, " by {}", p.column);
                }
                None if count > 1 && shape.partitions.iter().all(|p| matches!(p, ScanPartition::File { .. })) => {
                    text.push_str(", one per file");
                }
                None => {}
            }
            Some(text)
        }
        // Not described (offline, unreachable): what the file asks for.
        (None, Some(p)) => Some(format!("partition by {} into {}", p.column, p.count)),
        (None, None) => None,
    };
    if let Some(incremental) = &source.incremental {
        let text = format!("incremental on {}", incremental.column);
        read = Some(match read {
            Some(r) => format!("{r}, {text}"),
            None => text,
        });
    }
    lines.extend(read);
    lines
}

fn transform_lines(transform: &TransformPlan) -> Vec<String> {
    let steps: Vec<&str> = transform
        .steps
        .iter()
        .map(|step| match step {
            StepPlan::Filter { .. } => "filter",
            StepPlan::Derive { .. } => "derive",
            StepPlan::Select { .. } => "select",
            StepPlan::Drop { .. } => "drop",
            StepPlan::Rename { .. } => "rename",
            StepPlan::Cast { .. } => "cast",
            StepPlan::Sql { .. } => "sql",
        })
        .collect();
    let mut lines = vec![transform.name.clone()];
    if !steps.is_empty() {
        lines.push(steps.join(" | "));
    }
    lines
}

fn sink_lines(sink: &SinkPlan) -> Vec<String> {
    let target = format!("→ {} · {}", sink.endpoint.backend.name(), relation_short(&sink.relation));
    let mut mode = sink.mode.to_string();
    if sink.on_error != OnError::Fail {
        let _ = write!(mode, ", on error {}", sink.on_error);
    }
    vec![sink.name.clone(), target, mode]
}

/// What a stage reads or writes, short: a table's name, a file's path, `query` (its SQL is
/// `flow explain`'s to show), the synthetic table's size.
fn relation_short(relation: &Relation) -> String {
    match relation {
        Relation::Table { name } => name.to_string(),
        Relation::Query { .. } => "query".to_string(),
        Relation::File { path } => path.clone(),
        Relation::Generated { rows, seed } => format!("{rows} rows, seed {seed}"),
    }
}

/// The graphs as one Graphviz digraph: a `cluster_pN` subgraph per pipeline, a nested
/// `cluster_pN_setM` per table set, node ids `pN_nM`; edges last, outside every subgraph, so no
/// edge pulls a node into a cluster.
pub fn to_dot(graphs: &[StageGraph]) -> String {
    let mut out = String::from(
        "digraph flow {\n  rankdir=LR;\n  fontname=\"Helvetica\";\n  \
         node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\", fontsize=11];\n  \
         edge [color=\"#555555\"];\n",
    );
    for (p, g) in graphs.iter().enumerate() {
        let _ = writeln!(out, "  subgraph cluster_p{p} {{");
        let _ = writeln!(out, "    label={};", dot_string(&g.label));
        out.push_str("    labeljust=l;\n    style=rounded;\n    color=\"#999999\";\n");
        for index in g.graph.node_indices().filter(|i| g.graph[*i].cluster.is_none()) {
            dot_node(&mut out, "    ", p, index, &g.graph[index]);
        }
        for (c, cluster) in g.clusters.iter().enumerate() {
            let _ = writeln!(out, "    subgraph cluster_p{p}_set{c} {{");
            let _ = writeln!(out, "      label={};", dot_string(&cluster.lines));
            out.push_str("      style=\"rounded,dashed\";\n");
            for index in g.graph.node_indices().filter(|i| g.graph[*i].cluster == Some(c)) {
                dot_node(&mut out, "      ", p, index, &g.graph[index]);
            }
            out.push_str("    }\n");
        }
        out.push_str("  }\n");
    }
    for (p, g) in graphs.iter().enumerate() {
        for edge in g.graph.edge_references() {
            let _ = writeln!(out, "  p{p}_n{} -> p{p}_n{};", edge.source().index(), edge.target().index());
        }
    }
    out.push_str("}\n");
    out
}

fn dot_node(out: &mut String, indent: &str, p: usize, index: NodeIndex, node: &Node) {
    let fill = match node.kind {
        NodeKind::Source => "#dbeafe",
        NodeKind::Transform => "#ffffff",
        NodeKind::Sink => "#dcfce7",
    };
    let _ = writeln!(out, "{indent}p{p}_n{} [label={}, fillcolor=\"{fill}\"];", index.index(), dot_string(&node.lines));
}

/// Lines as one quoted DOT label. Inside quotes DOT reads `\"` as a quote, and a label reads
/// backslash escapes (`\n` a line break, `\N` the node's name, `\\` a backslash), so a backslash
/// is doubled, a quote escaped, and a line break in a name (or between lines) becomes `\n`.
/// Graphviz also decodes `&name;` entities in labels, so `&` is written `&amp;`. `<` and `>`
/// are plain characters in a quoted (not HTML) label.
pub fn dot_string(lines: &[String]) -> String {
    let mut out = String::from("\"");
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push_str("\\n");
        }
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '&' => out.push_str("&amp;"),
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' | '\r' => out.push_str("\\n"),
                c => out.push(c),
            }
        }
    }
    out.push('"');
    out
}

/// The graphs as one Mermaid `flowchart LR`: a subgraph per pipeline (`pN`), nested subgraphs
/// per table set (`pN_setM`), node ids `pN_nM`, sources and sinks rounded, transforms square;
/// edges last, outside every subgraph (an edge inside a subgraph moves its nodes into it).
pub fn to_mermaid(graphs: &[StageGraph]) -> String {
    let mut out = String::from("flowchart LR\n");
    for (p, g) in graphs.iter().enumerate() {
        let _ = writeln!(out, "  subgraph p{p}[{}]", mermaid_string(&g.label));
        for index in g.graph.node_indices().filter(|i| g.graph[*i].cluster.is_none()) {
            mermaid_node(&mut out, "    ", p, index, &g.graph[index]);
        }
        for (c, cluster) in g.clusters.iter().enumerate() {
            let _ = writeln!(out, "    subgraph p{p}_set{c}[{}]", mermaid_string(&cluster.lines));
            for index in g.graph.node_indices().filter(|i| g.graph[*i].cluster == Some(c)) {
                mermaid_node(&mut out, "      ", p, index, &g.graph[index]);
            }
            out.push_str("    end\n");
        }
        out.push_str("  end\n");
    }
    for (p, g) in graphs.iter().enumerate() {
        for edge in g.graph.edge_references() {
            let _ = writeln!(out, "  p{p}_n{} --> p{p}_n{}", edge.source().index(), edge.target().index());
        }
    }
    out.push_str("  classDef source fill:#dbeafe,stroke:#555555\n");
    out.push_str("  classDef sink fill:#dcfce7,stroke:#555555\n");
    out
}

fn mermaid_node(out: &mut String, indent: &str, p: usize, index: NodeIndex, node: &Node) {
    let label = mermaid_string(&node.lines);
    let i = index.index();
    let _ = match node.kind {
        NodeKind::Source => writeln!(out, "{indent}p{p}_n{i}([{label}]):::source"),
        NodeKind::Transform => writeln!(out, "{indent}p{p}_n{i}[{label}]"),
        NodeKind::Sink => writeln!(out, "{indent}p{p}_n{i}([{label}]):::sink"),
    };
}

/// Lines as one quoted Mermaid label. Mermaid ends a label at `"` and decodes `#name;` and
/// `#NN;` entities, and renders labels as HTML: so `"`, `#`, `&`, `<`, `>` and the backquote
/// (which would open a Markdown label) are written as entities, and lines are joined by `<br>`.
pub fn mermaid_string(lines: &[String]) -> String {
    let mut out = String::from("\"");
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push_str("<br>");
        }
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '"' => out.push_str("#quot;"),
                '#' => out.push_str("#35;"),
                '&' => out.push_str("#amp;"),
                '<' => out.push_str("#lt;"),
                '>' => out.push_str("#gt;"),
                '`' => out.push_str("#96;"),
                '\r' if chars.peek() == Some(&'\n') => {}
                '\n' | '\r' => out.push_str("<br>"),
                c => out.push(c),
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::connect::SourceShape;
    use crate::semantic::CheckContext;

    fn plans(text: &str) -> Vec<PipelinePlan> {
        let ast = crate::syntax::parse(text).expect("parses");
        let (plans, problems) = crate::semantic::lower(&ast, &CheckContext::default());
        assert!(problems.iter().all(|p| p.warning), "{problems:?}");
        plans
    }

    /// `orders` described as resolving would: 8 range partitions.
    fn resolved(plan: &PipelinePlan) -> ResolvedPipeline {
        let shape = SourceShape {
            schema: Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)])),
            bounds: None,
            partitions: (0..8)
                .map(|p| ScanPartition::Query { predicate: Some(format!("id % 8 = {p}")), chunks: vec![] })
                .collect(),
            snapshot: None,
            watermark: None,
            notes: vec![],
            rows: None,
        };
        let mut resolved = ResolvedPipeline::offline(plan);
        resolved.sources.insert("orders".into(), Ok(shape));
        resolved
    }

    const SMALL: &str = "let src = postgres(\"postgres://loader:s3cr3t@db.internal/shop\")\n\
        let dwh = sqlite(\"out/dwh.db\")\n\
        pipeline orders {\n  parallelism 4\n  timeout 1h\n\
          source orders = src.table(\"public.orders\") { partition by id into 8; incremental on id }\n  \
          transform paid = orders | filter status = 'paid' | select id, total\n  \
          sink paid -> dwh.table(\"paid\") { mode upsert on (id); on error skip }\n}\n";

    #[test]
    fn a_small_plan_as_dot() {
        let graphs = [stage_graph(&resolved(&plans(SMALL)[0]))];
        let dot = to_dot(&graphs);
        assert!(!dot.contains("s3cr3t"), "{dot}");
        assert_eq!(
            dot,
            r##"digraph flow {
  rankdir=LR;
  fontname="Helvetica";
  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname="Helvetica", fontsize=11];
  edge [color="#555555"];
  subgraph cluster_p0 {
    label="pipeline orders\nparallelism 4, timeout 1h";
    labeljust=l;
    style=rounded;
    color="#999999";
    p0_n0 [label="orders\npostgres · public.orders\n8 partitions by id, incremental on id", fillcolor="#dbeafe"];
    p0_n1 [label="paid\nfilter | select", fillcolor="#ffffff"];
    p0_n2 [label="paid->paid\n→ sqlite · paid\nupsert on (id), on error skip", fillcolor="#dcfce7"];
  }
  p0_n0 -> p0_n1;
  p0_n1 -> p0_n2;
}
"##
        );
    }

    #[test]
    fn a_small_plan_as_mermaid_offline() {
        let graphs = [stage_graph(&ResolvedPipeline::offline(&plans(SMALL)[0]))];
        assert_eq!(
            to_mermaid(&graphs),
            r##"flowchart LR
  subgraph p0["pipeline orders<br>parallelism 4, timeout 1h"]
    p0_n0(["orders<br>postgres · public.orders<br>partition by id into 8, incremental on id"]):::source
    p0_n1["paid<br>filter | select"]
    p0_n2(["paid-#gt;paid<br>→ sqlite · paid<br>upsert on (id), on error skip"]):::sink
  end
  p0_n0 --> p0_n1
  p0_n1 --> p0_n2
  classDef source fill:#dbeafe,stroke:#555555
  classDef sink fill:#dcfce7,stroke:#555555
"##
        );
    }

    /// Offline, a table set is the set, its schema sinks and the tables other stages read, in a
    /// cluster of its own; the stages outside the set stay outside it.
    #[test]
    fn a_table_set_not_expanded_is_a_cluster_of_the_set_and_its_sinks() {
        let text = "let src = postgres(\"postgres://u:pw@h/shop\")\nlet dwh = postgres(\"postgres://u:pw@h/dwh\")\n\
            pipeline migrate {\n  \
              source app = src.tables(\"public.*\", exclude: [\"tmp_*\"])\n  \
              transform paid = app.orders | filter status = 'paid'\n  \
              sink paid -> dwh.table(\"paid_orders\")\n  \
              sink copy = app -> dwh.schema(\"shop\") { mode replace }\n}\n";
        let graph = stage_graph(&ResolvedPipeline::offline(&plans(text)[0]));
        assert_eq!(
            to_mermaid(&[graph]),
            r##"flowchart LR
  subgraph p0["pipeline migrate<br>parallelism 1"]
    p0_n0["paid<br>filter"]
    p0_n1(["paid-#gt;paid_orders<br>→ postgres · paid_orders<br>append"]):::sink
    subgraph p0_set0["table set app<br>src (postgres) · public.*, exclude tmp_*"]
      p0_n2(["app<br>tables not listed (the catalog was not read)"]):::source
      p0_n3(["copy<br>→ postgres · schema shop<br>replace"]):::sink
      p0_n4(["app.orders"]):::source
    end
  end
  p0_n4 --> p0_n0
  p0_n0 --> p0_n1
  p0_n2 --> p0_n3
  classDef source fill:#dbeafe,stroke:#555555
  classDef sink fill:#dcfce7,stroke:#555555
"##
        );
    }

    #[test]
    fn labels_escape_what_each_format_reads_specially() {
        let lines = ["a \"b\" \\N <c> & #d; `e`".to_string(), "two\r\nthree\nfour".to_string()];
        assert_eq!(dot_string(&lines), r#""a \"b\" \\N <c> &amp; #d; `e`\ntwo\nthree\nfour""#);
        assert_eq!(
            mermaid_string(&lines),
            r#""a #quot;b#quot; \N #lt;c#gt; #amp; #35;d; #96;e#96;<br>two<br>three<br>four""#
        );
    }
}
