//! `flow check FILE [--engine ballista://HOST:PORT]`: validate, print every problem, exit 0 or 2.
//! With `--engine` (and not `--offline`), also ask the cluster whether it can take the run.

use super::common::{Unanswered, load};
use super::{CheckArgs, Exit};
use crate::analyze::Discover;

pub async fn run(check: CheckArgs) -> Exit {
    let args = &check.file;
    let discover = if args.offline { Discover::Offline } else { Discover::Online };
    let engine = check.engine.as_deref();
    match load(&args.file, &args.vars, args.profiles.as_deref(), discover, Unanswered::Warn, engine).await {
        Ok(loaded) => {
            // Online, the cluster is contacted as the sources are: one that cannot take the run
            // is a warning, as a source that does not answer is.
            if discover == Discover::Online
                && let Ok(Some(engine)) = super::run::engine_for(engine)
                && let Err(failure) = engine.ready().await
            {
                tracing::warn!(code = failure.code, "{}", failure.message);
            }
            let plans = loaded.analysis.plans();
            let stages: usize = plans.iter().map(|p| p.sources.len() + p.transforms.len() + p.sinks.len()).sum();
            super::say!("{}: ok ({} pipeline(s), {stages} stage(s))\n", args.file.display(), plans.len());
            Exit::Ok
        }
        Err(exit) => exit,
    }
}
