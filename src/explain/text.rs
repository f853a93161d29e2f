//! The text form of `flow explain`: one block per stage, then the edges of the DAG.

use std::fmt::Write as _;

use super::{ExplainedPipeline, ExplainedStage};

pub fn render(p: &ExplainedPipeline) -> String {
    let mut out = String::new();
    let timeout = p.timeout.as_deref().map_or("none".to_string(), str::to_string);
    let _ = writeln!(out, "pipeline {}  (parallelism {}, timeout {timeout})", p.pipeline, p.parallelism);
    for stage in &p.stages {
        out.push('\n');
        render_stage(&mut out, stage);
    }
    out.push_str("\nedges\n");
    for e in &p.edges {
        let _ = writeln!(out, "  {} -> {}", e.from, e.to);
    }
    if !p.foreign_keys.is_empty() {
        out.push_str("\nforeign keys (added after every table is published)\n");
        for fk in &p.foreign_keys {
            let _ = writeln!(out, "  {fk};");
        }
    }
    out
}

fn render_stage(out: &mut String, s: &ExplainedStage) {
    let kind = s.kind.map(|k| k.to_string()).unwrap_or_default();
    let input = s.input.as_deref().map(|i| format!("  <- {i}")).unwrap_or_default();
    let _ = writeln!(out, "{kind} {}{input}", s.name);
    if let Some(c) = &s.connection {
        let _ = writeln!(out, "  connection  {} ({}) {}", c.name, c.backend, c.url);
    }
    if let Some(r) = &s.reads {
        let _ = writeln!(out, "  reads       {r}");
    }
    if let Some(w) = &s.writes {
        let _ = writeln!(out, "  writes      {w}");
    }
    if let Some(m) = &s.mode {
        match s.create_if_missing {
            Some(true) => writeln!(out, "  mode        {m}, create if missing"),
            Some(false) => writeln!(out, "  mode        {m}, create never"),
            None => writeln!(out, "  mode        {m}"),
        }
        .ok();
    }
    if let Some(e) = &s.on_error {
        let _ = writeln!(out, "  on error    {e}");
    }
    if let Some(b) = s.batch_size {
        let automatic = if s.batch_automatic { " (automatic, from the row width)" } else { "" };
        let _ = writeln!(out, "  batch       {b} rows{automatic}");
    }
    let _ = writeln!(out, "  timeout     {}", s.timeout.as_deref().unwrap_or("none"));
    if let Some(p) = &s.partition_by {
        let bounds = s
            .bounds
            .as_ref()
            .map_or_else(|| "bounds unknown".to_string(), |b| format!("bounds {} ..= {}", b.min, b.max));
        let automatic = if p.automatic { ", automatic: a large table's integer primary key" } else { "" };
        let _ = writeln!(out, "  partition   by {} into {} ({bounds}{automatic})", p.column, p.requested);
    }
    if let Some(w) = &s.incremental {
        let _ = writeln!(out, "  incremental on {}: {}", w.column, w.describe());
    }
    if !s.partitions.is_empty() {
        let _ = writeln!(out, "  partitions  {}", s.partitions.len());
        for p in &s.partitions {
            let _ = writeln!(out, "    #{:<3} {}", p.index, p.reads);
        }
    }
    for step in &s.steps {
        let _ = writeln!(out, "  | {step}");
    }
    // A sink's type mapping already lists its columns and types.
    if let Some(schema) = s.schema.as_ref().filter(|_| s.type_mapping.is_empty()) {
        let _ = writeln!(out, "  schema");
        let width = schema.iter().map(|c| c.name.chars().count()).max().unwrap_or(0);
        for c in schema {
            let null = if c.nullable { "" } else { "  not null" };
            let _ = writeln!(out, "    {:<width$}  {}{null}", c.name, c.data_type);
        }
    }
    if !s.type_mapping.is_empty() {
        let _ = writeln!(out, "  type mapping");
        let width = s.type_mapping.iter().map(|m| m.column.chars().count()).max().unwrap_or(0);
        for m in &s.type_mapping {
            let _ = writeln!(out, "    {:<width$}  {} -> {}", m.column, m.arrow_type, m.target_type);
        }
    }
    if !s.ddl.is_empty() {
        let _ = writeln!(out, "  ddl (when the run makes the table)");
        for d in &s.ddl {
            let _ = writeln!(out, "    {d};");
        }
    }
    if let Some(p) = &s.publish {
        let _ = writeln!(out, "  publish     {p}");
    }
    for w in &s.warnings {
        let _ = writeln!(out, "  warning     {w}");
    }
    if let Some(n) = &s.note {
        let _ = writeln!(out, "  note        {n}");
    }
}
