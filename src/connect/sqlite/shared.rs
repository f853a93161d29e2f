//! One connection per SQLite file, shared by every sink of the process that writes it (the
//! tables of a table set, or several sinks of one pipeline), for as long as any of them lives.
//!
//! SQLite has one writer per database: a second connection's write transaction waits for the
//! first one's to end anyway, so sharing loses no concurrency. What it saves is the schema: a
//! connection parses `sqlite_master` whole before its first statement, and again whenever
//! another connection changed the schema (every `CREATE TABLE`, staging or target, changes the
//! schema cookie); with a connection per sink and step, copying N tables parsed a schema of up to
//! N tables about 3N times (<https://sqlite.org/fileformat2.html#schema_cookie>). One connection
//! parses it once and keeps it current through its own DDL.
//!
//! The connection is lent to one session at a time ([`SharedFile::lend`]); the lender waits (up to
//! [`LEND_TIMEOUT`], the sink's busy timeout) while another session of the process holds it. A
//! session holds it from its first to its last statement, so its transactions are its own: the
//! staged protocol's guarantees (a partition's rows and its ledger row in one transaction, a
//! table's publish in one) are those of separate connections. When a session ends, whatever it
//! left is undone before the next one gets the connection: an open transaction is rolled back,
//! and `foreign_keys` and `legacy_alter_table` (which the publish changes outside a transaction)
//! are set back to what a new connection has.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Condvar, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use datafusion::error::Result;
use rusqlite::Connection;

use crate::connect::sql_log::{self, StatementKind};
use crate::diagnostics::{Failure, codes};

/// How long a session waits for the file's connection (as a separate connection would wait on
/// SQLite's busy timeout for the write lock), in seconds.
pub const LEND_TIMEOUT: Duration = Duration::from_secs(300);

/// The connection to one database file, opened on first use and closed with the last
/// [`SharedFile`] handle of its path.
pub struct SharedFile {
    path: String,
    slot: Mutex<Slot>,
    returned: Condvar,
}

#[derive(Default)]
struct Slot {
    /// The idle connection; `None` while it is lent or before it is opened.
    idle: Option<Connection>,
    lent: bool,
    /// `PRAGMA foreign_keys` of a new connection (1 in the bundled SQLite).
    foreign_keys: i64,
}

impl SharedFile {
    /// The handle of `path` that every live sink of the process writing it shares (the path as
    /// spelled: two spellings of one file get a connection each, as before).
    pub fn of(path: &str) -> Arc<SharedFile> {
        static FILES: OnceLock<Mutex<HashMap<String, Weak<SharedFile>>>> = OnceLock::new();
        let files = FILES.get_or_init(Default::default);
        let mut files = files.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(file) = files.get(path).and_then(Weak::upgrade) {
            return file;
        }
        files.retain(|_, file| file.strong_count() > 0);
        let file = Arc::new(SharedFile { path: path.to_string(), slot: Mutex::default(), returned: Condvar::new() });
        files.insert(path.to_string(), Arc::downgrade(&file));
        file
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// The file's connection, for one session: opened (with the directory and the file) on first
    /// use, else waited for while another session holds it. Errors when it cannot be opened or
    /// is held past [`LEND_TIMEOUT`].
    pub fn lend(self: &Arc<Self>) -> Result<Lent> {
        let deadline = Instant::now() + LEND_TIMEOUT;
        let mut slot = self.slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while slot.lent {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let message = format!(
                    "SQLite: {}: another sink of this run held the file's connection for {} s",
                    self.path,
                    LEND_TIMEOUT.as_secs()
                );
                return Err(Failure::new(codes::sink::WRITE_FAILED, message).into_datafusion());
            }
            slot = self.returned.wait_timeout(slot, left).unwrap_or_else(|poisoned| poisoned.into_inner()).0;
        }
        let conn = match slot.idle.take() {
            Some(conn) => conn,
            None => {
                let (conn, foreign_keys) = self.open()?;
                slot.foreign_keys = foreign_keys;
                conn
            }
        };
        slot.lent = true;
        Ok(Lent { conn: Some(conn), home: Some((self.clone(), slot.foreign_keys)) })
    }

    fn open(&self) -> Result<(Connection, i64)> {
        if let Some(dir) = std::path::Path::new(&self.path).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                let message = format!("cannot create directory {}: {e}", dir.display());
                Failure::new(codes::sink::WRITE_FAILED, message).into_datafusion()
            })?;
        }
        let failed = |what: &str, e: rusqlite::Error| {
            Failure::new(codes::sink::WRITE_FAILED, format!("SQLite: {what}: {e}")).into_datafusion()
        };
        let conn = Connection::open(&self.path).map_err(|e| failed(&format!("cannot open {}", self.path), e))?;
        conn.busy_timeout(LEND_TIMEOUT).map_err(|e| failed("busy timeout", e))?;
        let foreign_keys = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).map_err(|e| failed("pragma", e))?;
        sql_log::record("sqlite", StatementKind::Open, &self.path);
        Ok((conn, foreign_keys))
    }

    /// Takes back a session's connection, undoing what the session left (see the module docs);
    /// a connection that cannot be reset is closed (the next session opens a new one).
    fn give_back(&self, conn: Connection, foreign_keys: i64) {
        let reset = (|| {
            if !conn.is_autocommit() {
                conn.execute_batch("ROLLBACK")?;
            }
            conn.execute_batch(&format!("PRAGMA foreign_keys = {foreign_keys}; PRAGMA legacy_alter_table = OFF"))
        })();
        let mut slot = self.slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.idle = reset.is_ok().then_some(conn);
        slot.lent = false;
        drop(slot);
        self.returned.notify_one();
    }
}

/// A connection lent to one session: the file's shared one, given back when this drops, or one
/// of its own (tests).
pub struct Lent {
    conn: Option<Connection>,
    home: Option<(Arc<SharedFile>, i64)>,
}

impl Lent {
    /// A connection that belongs to no file handle (an in-memory database in tests).
    pub fn own(conn: Connection) -> Self {
        Self { conn: Some(conn), home: None }
    }
}

impl Deref for Lent {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().unwrap_or_else(|| unreachable!("a lent connection is present until it drops"))
    }
}

impl DerefMut for Lent {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().unwrap_or_else(|| unreachable!("a lent connection is present until it drops"))
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        if let (Some(conn), Some((file, foreign_keys))) = (self.conn.take(), self.home.take()) {
            file.give_back(conn, foreign_keys);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two handles of one path share one connection, lent to one session at a time; what a
    /// session leaves (an open transaction, `foreign_keys = OFF`) is undone when it is given
    /// back; the connection closes with the last handle.
    #[test]
    fn sessions_of_one_file_share_its_connection_one_at_a_time() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sub").join("shared.db").to_string_lossy().into_owned();
        let (a, b) = (SharedFile::of(&path), SharedFile::of(&path));
        assert!(Arc::ptr_eq(&a, &b));
        {
            let s = a.lend().expect("lend");
            // A temporary table lives in its connection only.
            s.execute_batch("CREATE TEMP TABLE mine (x INTEGER)").expect("sql");
            s.execute_batch("CREATE TABLE t (x INTEGER); PRAGMA foreign_keys = OFF; BEGIN; INSERT INTO t VALUES (1)")
                .expect("sql");
            assert!(!s.is_autocommit());
            // Another session waits while this one holds the connection.
            let waiter = std::thread::spawn({
                let b = b.clone();
                move || b.lend().map(|s| s.query_row("SELECT count(*) FROM t", [], |r| r.get::<_, i64>(0)))
            });
            std::thread::sleep(Duration::from_millis(50));
            assert!(!waiter.is_finished());
            drop(s);
            assert_eq!(waiter.join().expect("thread").expect("lend").expect("count"), 0);
        }
        let s = b.lend().expect("lend");
        assert!(s.is_autocommit());
        assert_eq!(s.query_row("PRAGMA foreign_keys", [], |r| r.get::<_, i64>(0)).expect("pragma"), 1);
        assert_eq!(s.query_row("SELECT count(*) FROM temp.mine", [], |r| r.get::<_, i64>(0)).expect("same"), 0);
        drop(s);
        let weak = Arc::downgrade(&a);
        drop((a, b));
        assert!(weak.upgrade().is_none());
        assert!(!Arc::ptr_eq(&SharedFile::of(&path), &SharedFile::of("other.db")));
    }
}
