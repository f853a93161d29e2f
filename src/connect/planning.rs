//! Database sessions that planning reuses: while `resolve` describes a pipeline's sources
//! ([`scope`]), a backend may keep the session a schema probe or a small query (bounds, row
//! estimate, row width, primary key) ran on, and run the next one on it instead of connecting
//! again ([`PlanningSessions::take`], [`PlanningSessions::give`]). The sessions close when the
//! scope ends, before anything runs: none is held across a run.
//!
//! A session is kept only between statements that each run on their own (autocommit, no
//! transaction left open, no session setting changed by the statement), so which session runs
//! a statement changes nothing of its answer. A backend whose descriptions need a transaction
//! of their own (PostgreSQL's exported snapshot) does not use it for those.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

tokio::task_local! {
    static SESSIONS: Arc<PlanningSessions>;
}

/// Idle sessions by server URL, each of the backend's own session type.
#[derive(Default)]
pub struct PlanningSessions {
    idle: Mutex<HashMap<String, Vec<Box<dyn Any + Send>>>>,
}

impl std::fmt::Debug for PlanningSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let idle = self.idle.lock().map_or(0, |idle| idle.values().map(Vec::len).sum());
        f.debug_struct("PlanningSessions").field("idle", &idle).finish()
    }
}

impl PlanningSessions {
    /// An idle session of type `T` to the server at `url`, if one was given back.
    pub fn take<T: Any + Send>(&self, url: &str) -> Option<T> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let sessions = idle.get_mut(url)?;
        let at = sessions.iter().position(|s| s.is::<T>())?;
        sessions.swap_remove(at).downcast::<T>().ok().map(|s| *s)
    }

    /// Keeps `session` (to the server at `url`) for the next statement of the scope. Give back
    /// only a session whose last statement succeeded and left nothing open.
    pub fn give<T: Any + Send>(&self, url: &str, session: T) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.entry(url.to_string()).or_default().push(Box::new(session));
    }
}

/// Runs `work` with a set of planning sessions of its own, closed when it ends.
pub async fn scope<F: Future>(work: F) -> F::Output {
    SESSIONS.scope(Arc::new(PlanningSessions::default()), work).await
}

/// The planning sessions of the current [`scope`], if any (none outside `resolve`: each
/// statement then connects on its own).
pub fn current() -> Option<Arc<PlanningSessions>> {
    SESSIONS.try_with(Arc::clone).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_session_given_back_is_taken_again_within_its_scope_only() {
        assert!(current().is_none());
        scope(async {
            let sessions = current().expect("inside a scope");
            assert_eq!(sessions.take::<String>("db://a"), None);
            sessions.give("db://a", "session 1".to_string());
            assert_eq!(sessions.take::<u32>("db://a"), None, "another type");
            assert_eq!(sessions.take::<String>("db://b"), None, "another server");
            assert_eq!(sessions.take::<String>("db://a").as_deref(), Some("session 1"));
            assert_eq!(sessions.take::<String>("db://a"), None, "taken once");
        })
        .await;
        assert!(current().is_none());
    }
}
