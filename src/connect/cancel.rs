//! Bookkeeping for server-side cancellation. When a run is cancelled (a stage timeout, Ctrl-C)
//! its readers are dropped mid-query; each then stops its statement on the server in the
//! background (a PostgreSQL cancel request, a MySQL `KILL QUERY`). That work must finish before
//! the process exits, or the statements keep running on the server. Every piece of it holds a
//! [`Pending`] while it may still have something to stop, and [`settle`] waits until none is
//! left.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static PENDING: AtomicUsize = AtomicUsize::new(0);

/// Held while a reader may have a statement running on a server, and by the work that stops it.
#[derive(Debug)]
pub struct Pending(());

impl Pending {
    pub fn new() -> Self {
        PENDING.fetch_add(1, Ordering::SeqCst);
        Pending(())
    }
}

impl Default for Pending {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        PENDING.fetch_sub(1, Ordering::SeqCst);
    }
}

/// How many readers or cancellations are still in flight.
pub fn pending() -> usize {
    PENDING.load(Ordering::SeqCst)
}

/// Waits (at most `limit`) until every reader has stopped its statements on the server. Call it
/// after a run, before the process exits.
pub async fn settle(limit: Duration) {
    let start = Instant::now();
    while pending() > 0 && start.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
