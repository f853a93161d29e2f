//! `flow check FILE`: validate, print every problem, exit 0 or 2.

use super::common::{Unanswered, load};
use super::{Exit, FileArgs};
use crate::analyze::Discover;

pub async fn run(args: FileArgs) -> Exit {
    let discover = if args.offline { Discover::Offline } else { Discover::Online };
    match load(&args.file, &args.vars, args.profiles.as_deref(), discover, Unanswered::Warn).await {
        Ok(loaded) => {
            let plans = loaded.analysis.plans();
            let stages: usize = plans.iter().map(|p| p.sources.len() + p.transforms.len() + p.sinks.len()).sum();
            super::say!("{}: ok ({} pipeline(s), {stages} stage(s))\n", args.file.display(), plans.len());
            Exit::Ok
        }
        Err(exit) => exit,
    }
}
