//! `flow explain FILE [--format text|json|dot|mermaid]`: the plan, without writing anything.

use super::common::{Unanswered, load};
use super::docs::write_stdout;
use super::{Exit, ExplainArgs, Format};
use crate::analyze::{Analysis, Discover};
use crate::explain::{Explained, explain_pipeline, graph, text};
use crate::resolve::ResolvedPipeline;

pub async fn run(args: ExplainArgs) -> Exit {
    let f = &args.file;
    let discover = if f.offline { Discover::Offline } else { Discover::Online };
    let loaded =
        match load(&f.file, &f.vars, f.profiles.as_deref(), discover, Unanswered::Warn, args.engine.as_deref()).await {
            Ok(l) => l,
            Err(exit) => return exit,
        };
    match args.format {
        Format::Text | Format::Json => explain(&loaded.analysis, discover, args.format).await,
        Format::Dot | Format::Mermaid => {
            // The graph needs the resolved plans only, not DataFusion's planning of the transforms.
            let graphs: Vec<graph::StageGraph> = if discover == Discover::Offline {
                loaded
                    .analysis
                    .checked
                    .iter()
                    .map(|plan| graph::stage_graph(&ResolvedPipeline::offline(plan)))
                    .collect()
            } else {
                loaded.analysis.resolved.iter().map(graph::stage_graph).collect()
            };
            let render = if args.format == Format::Dot { graph::to_dot } else { graph::to_mermaid };
            write_stdout(render(&graphs).as_bytes())
        }
    }
}

async fn explain(analysis: &Analysis, discover: Discover, format: Format) -> Exit {
    let mut pipelines = analysis.explained.clone();
    if discover == Discover::Offline {
        // Nothing was discovered: explain from the plan alone.
        for plan in &analysis.checked {
            match explain_pipeline(&ResolvedPipeline::offline(plan), analysis.cluster).await {
                Ok(e) => pipelines.push(e),
                Err((_, message)) => {
                    crate::eprintln_lossy!("error: {message}");
                    return Exit::Usage;
                }
            }
        }
    }
    if format == Format::Json {
        match serde_json::to_string_pretty(&Explained { pipelines }) {
            Ok(json) => super::say!("{json}\n"),
            Err(e) => {
                crate::eprintln_lossy!("error: cannot render JSON: {e}");
                return Exit::Runtime;
            }
        }
    } else {
        let blocks: Vec<String> = pipelines.iter().map(text::render).collect();
        super::say!("{}", blocks.join("\n"));
    }
    Exit::Ok
}
