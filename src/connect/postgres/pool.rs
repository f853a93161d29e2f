//! Connections to a PostgreSQL target kept for the length of one run, so that the steps of its
//! sinks (reading a ledger, preparing, each partition's transaction, publishing) reuse them
//! instead of connecting for each: a new connection costs the server a process and a cold
//! catalog cache (3-9 ms on a 2-core machine), and a table set of 1,000 tables made four or
//! five of them per table.
//!
//! The runner holds a pool per target URL while it runs (`connect::sink::hold_sessions`); a
//! pool is found by URL and run id, so two runs in one process (the tests, an orchestrator)
//! never share connections, each driven on its own runtime. Without a held pool (`flow
//! status`, an executor of a cluster) every session connects and closes as before.
//!
//! A connection goes back only after a step that ended cleanly: no statement failed, no
//! transaction was rolled back, and nobody asked to cancel its statement (a cancel request sent
//! to a connection that had gone back could stop another step's statement). Each step still
//! begins and commits its own transactions: sharing a connection changes no transaction, and
//! the session settings are those of a new connection (`connect`; a step sets others only with
//! `SET LOCAL`, which ends with its transaction).

use std::ops::Deref;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use tokio_postgres::Client;

/// The run id under which a run's pool of source connections is found: a source's read knows
/// its URL only. Each connection is used by one read at a time, and a read gives its
/// connection back only when it ended cleanly outside any transaction (`copy_out`), so two
/// runs in one process that read one server may share the pool.
pub const SOURCE_READS: &str = "(source reads)";

/// Idle connections a pool keeps at most; the steps that run at once (the run's parallelism,
/// [`crate::connect::sink::LEDGER_READS`] preparing or publishing) need no more, and the
/// server's `max_connections` (100 by default) is shared with everything else.
const MAX_IDLE: usize = 16;

/// The idle connections to one URL for one run.
pub struct SessionPool {
    url: String,
    idle: Mutex<Vec<Client>>,
}

/// A held pool's entry: its URL, a run id it answers to, and the pool (dead, and pruned, once
/// its run has let go).
type Entry = (String, String, Weak<SessionPool>);

/// The pools held now.
static POOLS: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

fn registry() -> std::sync::MutexGuard<'static, Vec<Entry>> {
    POOLS.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl SessionPool {
    /// A new pool of `url`, found under run id `run_id` until its last handle drops (its idle
    /// connections close then).
    pub fn hold(url: &str, run_id: &str) -> Arc<Self> {
        let pool = Arc::new(Self { url: url.to_string(), idle: Mutex::new(Vec::new()) });
        pool.answer_to(run_id);
        pool
    }

    /// Makes the pool found under run id `run_id` too (a resume takes the id of the run it
    /// continues once the ledgers are read).
    pub fn answer_to(self: &Arc<Self>, run_id: &str) {
        let mut pools = registry();
        pools.retain(|(_, _, p)| p.strong_count() > 0);
        pools.push((self.url.clone(), run_id.to_string(), Arc::downgrade(self)));
    }

    /// The pool a run holds for `url`, if any.
    pub fn find(url: &str, run_id: &str) -> Option<Arc<Self>> {
        registry().iter().filter(|(u, r, _)| u == url && r == run_id).find_map(|(_, _, p)| p.upgrade())
    }

    /// An idle connection that is still open, if there is one.
    pub fn take(&self) -> Option<Client> {
        let mut idle = self.idle.lock().ok()?;
        while let Some(client) = idle.pop() {
            if !client.is_closed() {
                return Some(client);
            }
        }
        None
    }

    /// Keeps `client` (idle, outside any transaction) for the next step; closes it when the
    /// pool is full.
    pub fn give_back(&self, client: Client) {
        if client.is_closed() {
            return;
        }
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < MAX_IDLE
        {
            idle.push(client);
        }
    }
}

/// A session's connection: from the run's pool (or new), and given back to it when the session
/// ends cleanly (see the module docs).
pub struct PooledClient {
    /// `Some` until the session ends.
    client: Option<Client>,
    pool: Option<Arc<SessionPool>>,
    /// A statement failed or a transaction was rolled back: the connection is closed at the end.
    spoiled: AtomicBool,
    /// Set, before the request is sent, by whoever cancels this connection's statement.
    cancelled: Arc<AtomicBool>,
}

impl PooledClient {
    pub fn new(client: Client, pool: Option<Arc<SessionPool>>) -> Self {
        Self { client: Some(client), pool, spoiled: AtomicBool::new(false), cancelled: Arc::default() }
    }

    /// The connection goes back to no pool: something failed on it.
    pub fn spoil(&self) {
        self.spoiled.store(true, Ordering::SeqCst);
    }

    /// The flag a canceller sets before it sends its request, so that the connection it stops
    /// never serves another step.
    pub fn cancelled_flag(&self) -> Arc<AtomicBool> {
        self.cancelled.clone()
    }
}

impl Deref for PooledClient {
    type Target = Client;
    fn deref(&self) -> &Client {
        // `None` only inside `drop`.
        self.client.as_ref().unwrap_or_else(|| unreachable!("a pooled client is used after its session ended"))
    }
}

impl Drop for PooledClient {
    fn drop(&mut self) {
        let clean = !self.spoiled.load(Ordering::SeqCst) && !self.cancelled.load(Ordering::SeqCst);
        if let (Some(pool), Some(client)) = (&self.pool, self.client.take())
            && clean
            && !std::thread::panicking()
        {
            pool.give_back(client);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SessionPool;

    #[test]
    fn a_pool_is_found_by_url_and_run_while_held() {
        let held = SessionPool::hold("postgres://h/a", "run1");
        assert!(SessionPool::find("postgres://h/a", "run1").is_some_and(|p| std::sync::Arc::ptr_eq(&p, &held)));
        assert!(SessionPool::find("postgres://h/a", "run2").is_none());
        assert!(SessionPool::find("postgres://h/b", "run1").is_none());
        held.answer_to("run0");
        assert!(SessionPool::find("postgres://h/a", "run0").is_some_and(|p| std::sync::Arc::ptr_eq(&p, &held)));
        drop(held);
        assert!(SessionPool::find("postgres://h/a", "run1").is_none());
        assert!(SessionPool::find("postgres://h/a", "run0").is_none());
    }
}
