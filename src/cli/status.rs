//! `flow status FILE`: the runs recorded in each sink's ledger and what each left undone.
//! Exit 0, or 1 when a ledger cannot be read.

use super::common::{Unanswered, load};
use super::{Exit, FileArgs};
use crate::analyze::Discover;
use crate::exec::status::render_status;

pub async fn run(args: FileArgs) -> Exit {
    let loaded =
        match load(&args.file, &args.vars, args.profiles.as_deref(), Discover::Offline, Unanswered::Warn, None).await {
            Ok(l) => l,
            Err(exit) => return exit,
        };
    let mut exit = Exit::Ok;
    let resume = super::common::resume_command(&args.file, &args.vars, args.profiles.as_deref(), None);
    for plan in loaded.analysis.plans() {
        let (text, ok) = render_status(plan, &plan.scrub_secrets(&resume)).await;
        super::say!("{text}");
        if !ok {
            exit = Exit::Runtime;
        }
    }
    exit
}
