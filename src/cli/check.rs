//! `flow check FILE`: validate, print every problem, exit 0 or 2.

use super::common::{Unanswered, load};
use super::{CheckArgs, Exit};
use crate::analyze::Discover;

pub async fn run(check: CheckArgs) -> Exit {
    let args = &check.file;
    let discover = if args.offline { Discover::Offline } else { Discover::Online };
    let engine = check.engine.as_deref();
    match load(&args.file, &args.vars, args.profiles.as_deref(), discover, Unanswered::Warn, engine).await {
        Ok(loaded) => {
            let plans = loaded.analysis.plans();
            let stages: usize = plans.iter().map(|p| p.sources.len() + p.transforms.len() + p.sinks.len()).sum();
            super::say!("{}: ok ({} pipeline(s), {stages} stage(s))\n", args.file.display(), plans.len());
            Exit::Ok
        }
        Err(exit) => exit,
    }
}
