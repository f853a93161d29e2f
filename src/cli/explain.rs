//! `flow explain FILE [--format text|json]`: the plan, without writing anything.

use super::common::load;
use super::{Exit, ExplainArgs, Format};
use crate::analyze::Discover;
use crate::explain::{Explained, explain_pipeline, text};
use crate::resolve::ResolvedPipeline;

pub async fn run(args: ExplainArgs) -> Exit {
    let f = &args.file;
    let discover = if f.offline { Discover::Offline } else { Discover::Online };
    let loaded = match load(&f.file, &f.vars, f.profiles.as_deref(), discover).await {
        Ok(l) => l,
        Err(exit) => return exit,
    };
    let mut pipelines = loaded.analysis.explained.clone();
    if discover == Discover::Offline {
        // Nothing was discovered: explain from the plan alone.
        for plan in &loaded.analysis.checked {
            match explain_pipeline(&ResolvedPipeline::offline(plan)).await {
                Ok(e) => pipelines.push(e),
                Err((_, message)) => {
                    eprintln!("error: {message}");
                    return Exit::Usage;
                }
            }
        }
    }
    match args.format {
        Format::Text => {
            let blocks: Vec<String> = pipelines.iter().map(text::render).collect();
            print!("{}", blocks.join("\n"));
        }
        Format::Json => match serde_json::to_string_pretty(&Explained { pipelines }) {
            Ok(json) => println!("{json}"),
            Err(e) => {
                eprintln!("error: cannot render JSON: {e}");
                return Exit::Runtime;
            }
        },
    }
    Exit::Ok
}
