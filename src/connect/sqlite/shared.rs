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
//!
//! The connection also decides how commits reach the disk ([`Journal`]): a new file that a run
//! writes several tables into (each table is three commits: preparing, its partition, publishing)
//! is written in WAL mode, its staging commits not flushed one by one, and set back to `DELETE`
//! mode when the last handle closes (the README's "SQLite durability" says what this changes).
//!
//! While a [`Group`] is open (a table set preparing or publishing), each session's transaction is
//! a savepoint inside one transaction of the file, committed every [`GROUP_STEPS`] sessions and
//! when the group finishes: a set of many small tables pays a commit (and, publishing, a flush)
//! per group rather than per table. A session's work still commits or rolls back whole: its
//! savepoint is released or rolled back on its own.

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

/// How many sessions' transactions a [`Group`] commits together at most: enough that the commit
/// (a flush of the log, publishing) is a small part of each table's cost, few enough that a run
/// killed while publishing leaves at most this many tables to `--resume`.
pub const GROUP_STEPS: usize = 64;

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
    /// How the connection's commits reach the disk, decided when it opened.
    journal: Journal,
    /// The tables the run holding this handle writes into the file ([`SharedFile::held_by_run`]).
    run: Option<usize>,
    /// The open [`Group`], if any.
    group: Option<GroupState>,
}

/// A [`Group`]'s state: the sessions released into the file's open transaction since it began,
/// and the `synchronous` level its commits take in WAL mode.
#[derive(Debug, Clone, Copy)]
struct GroupState {
    sessions: usize,
    synchronous: &'static str,
}

/// How the file's commits reach the disk (<https://sqlite.org/wal.html>,
/// <https://sqlite.org/pragma.html#pragma_synchronous>), decided when its connection opens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Journal {
    /// The file's rollback journal, each commit at `synchronous = FULL` (a new connection's
    /// setting): a file that existed before the run in a rollback-journal mode.
    #[default]
    Rollback,
    /// Write-ahead log: staging commits at `synchronous = NORMAL` (atomic and in order, not
    /// flushed one by one), publishing at `FULL`, whose flush of the log makes every earlier commit
    /// durable too. `ours`: Flow switched the file to WAL (a new file the run writes several
    /// tables into, or one an earlier run switched and could not set back), and sets it back to
    /// `DELETE` when the connection closes; otherwise the file was in WAL mode already and stays so.
    Wal { ours: bool },
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

    /// Says that a run holds this handle, writing `tables` tables into the file (see
    /// [`Journal`]): a new file that takes more than one is written in WAL mode, and a file an
    /// earlier run left in WAL mode is set back. A handle no run holds (a cluster executor's, or
    /// `flow status`'s) keeps the file's mode. Takes effect when the connection opens.
    pub fn held_by_run(&self, tables: usize) {
        let mut slot = self.slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.run = Some(tables);
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
            // A group dropped unfinished (an interrupted run) left its transaction open: undone.
            Some(conn) if slot.group.is_none() && !conn.is_autocommit() => {
                conn.execute_batch("ROLLBACK").map_err(|e| {
                    let message = format!("SQLite: {}: cannot roll back an unfinished group: {e}", self.path);
                    Failure::new(codes::sink::WRITE_FAILED, message).into_datafusion()
                })?;
                conn
            }
            Some(conn) => conn,
            None => {
                let (conn, foreign_keys, journal) = self.open(slot.run)?;
                slot.foreign_keys = foreign_keys;
                slot.journal = journal;
                conn
            }
        };
        slot.lent = true;
        let grouped = slot.group.is_some();
        Ok(Lent {
            conn: Some(conn),
            home: Some((self.clone(), slot.foreign_keys)),
            journal: slot.journal,
            grouped,
            step_open: false,
        })
    }

    /// Opens a [`Group`]: until it finishes (or drops), each session's transaction on the file
    /// is a savepoint of one transaction, committed every [`GROUP_STEPS`] sessions and by
    /// [`Group::finish`]. `publishing`: its commits flush the log (`synchronous = FULL`) in WAL
    /// mode, as a publish's does; else they are staging commits (`NORMAL`). Sessions lent
    /// before it opened are not part of it.
    pub fn group(self: &Arc<Self>, publishing: bool) -> Group {
        let mut slot = self.slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let synchronous = if publishing { "FULL" } else { "NORMAL" };
        slot.group = Some(GroupState { sessions: 0, synchronous });
        Group { file: Some(self.clone()) }
    }

    /// Counts a session released into the group; `true` when the group's transaction is now to
    /// be committed ([`GROUP_STEPS`]).
    fn group_released(&self) -> bool {
        let mut slot = self.slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        match slot.group.as_mut() {
            Some(group) => {
                group.sessions += 1;
                if group.sessions >= GROUP_STEPS {
                    group.sessions = 0;
                    return true;
                }
                false
            }
            None => false,
        }
    }

    fn group_synchronous(&self) -> Option<&'static str> {
        let slot = self.slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        slot.group.map(|g| g.synchronous)
    }

    /// Opens the connection; `run`: see [`SharedFile::held_by_run`].
    fn open(&self, run: Option<usize>) -> Result<(Connection, i64, Journal)> {
        if let Some(dir) = std::path::Path::new(&self.path).parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                let message = format!("cannot create directory {}: {e}", dir.display());
                Failure::new(codes::sink::WRITE_FAILED, message).into_datafusion()
            })?;
        }
        let failed = |what: &str, e: rusqlite::Error| {
            Failure::new(codes::sink::WRITE_FAILED, format!("SQLite: {what}: {e}")).into_datafusion()
        };
        // A file of no bytes is a database nobody wrote yet.
        let new = std::fs::metadata(&self.path).map_or(true, |m| m.len() == 0);
        let conn = Connection::open(&self.path).map_err(|e| failed(&format!("cannot open {}", self.path), e))?;
        conn.busy_timeout(LEND_TIMEOUT).map_err(|e| failed("busy timeout", e))?;
        let foreign_keys = conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)).map_err(|e| failed("pragma", e))?;
        let journal = self.journal(&conn, new, run).map_err(|e| failed("journal mode", e))?;
        sql_log::record("sqlite", StatementKind::Open, &self.path);
        Ok((conn, foreign_keys, journal))
    }

    /// The marker of a file Flow switched to WAL: it stays while the file is in WAL mode for
    /// Flow's sake, so that a run killed before it could switch the file back has the next run
    /// that opens it do so.
    fn wal_marker(&self) -> String {
        format!("{}.flow-wal", self.path)
    }

    /// Chooses the connection's [`Journal`]: for a run (`run`: the tables it writes here), WAL for
    /// a `new` file that takes more than one table, and Flow's own WAL for a file whose marker
    /// says an earlier run left it so; else the file's own mode. `synchronous = NORMAL` in WAL.
    fn journal(&self, conn: &Connection, new: bool, run: Option<usize>) -> rusqlite::Result<Journal> {
        let mode = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, String>(0)).map(|m| m.to_ascii_lowercase());
        let marked = run.is_some() && std::path::Path::new(&self.wal_marker()).exists();
        let journal = match mode("PRAGMA journal_mode")?.as_str() {
            "wal" => Journal::Wal { ours: marked },
            _ if new && run.is_some_and(|tables| tables > 1) => {
                if mode("PRAGMA journal_mode = WAL")? != "wal" {
                    return Ok(Journal::Rollback);
                }
                // Best effort: without it, a run killed outright leaves the file in WAL mode.
                let _ = std::fs::File::create(self.wal_marker());
                Journal::Wal { ours: true }
            }
            _ => Journal::Rollback,
        };
        if journal != Journal::Rollback {
            conn.execute_batch("PRAGMA synchronous = NORMAL")?;
        }
        Ok(journal)
    }

    /// Takes back a session's connection, undoing what the session left (see the module docs):
    /// its open transaction, or in a group its open savepoint (the group's transaction stays);
    /// a connection that cannot be reset is closed (the next session opens a new one).
    fn give_back(&self, conn: Connection, foreign_keys: i64, grouped: bool, step_open: bool) {
        let reset = (|| {
            if grouped && step_open {
                conn.execute_batch("ROLLBACK TO flow_step; RELEASE flow_step")?;
            } else if !grouped && !conn.is_autocommit() {
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

impl Drop for SharedFile {
    /// Closes the connection; a file Flow switched to WAL is first set back to `DELETE` (which
    /// checkpoints the log into the file, flushed, and removes it), and its marker removed. When
    /// that cannot be done now (another connection, of this process or another, holds the
    /// file), the file stays in WAL mode, as complete and durable, and a warning says so.
    fn drop(&mut self) {
        let slot = self.slot.get_mut().unwrap_or_else(|poisoned| poisoned.into_inner());
        // An unfinished group's transaction is undone (as closing the connection would).
        if let Some(conn) = slot.idle.as_ref().filter(|conn| !conn.is_autocommit()) {
            let _ = conn.execute_batch("ROLLBACK");
        }
        let (Some(conn), Journal::Wal { ours: true }) = (slot.idle.take(), slot.journal) else { return };
        let back = (|| {
            conn.busy_timeout(Duration::ZERO)?;
            conn.execute_batch("PRAGMA synchronous = FULL")?;
            conn.query_row("PRAGMA journal_mode = DELETE", [], |r| r.get::<_, String>(0))
        })();
        match back {
            Ok(mode) if mode.eq_ignore_ascii_case("delete") => {
                let _ = std::fs::remove_file(self.wal_marker());
            }
            outcome => {
                let why = match outcome {
                    Err(e) => e.to_string(),
                    Ok(mode) => format!("the journal mode is still {mode}"),
                };
                eprintln!(
                    "warning: SQLite {}: Flow ran it in WAL journal mode and could not set it back to DELETE ({why}; \
                     another connection may hold the file); the file is complete and durable, and the next Flow run \
                     writing it sets it back",
                    self.path
                );
            }
        }
    }
}

/// A connection lent to one session: the file's shared one, given back when this drops, or one
/// of its own (tests).
pub struct Lent {
    conn: Option<Connection>,
    home: Option<(Arc<SharedFile>, i64)>,
    journal: Journal,
    /// Lent while a [`Group`] was open: its transactions are savepoints of the group's.
    grouped: bool,
    /// A grouped session's savepoint is open.
    step_open: bool,
}

impl Lent {
    /// A connection that belongs to no file handle (an in-memory database in tests).
    pub fn own(conn: Connection) -> Self {
        Self { conn: Some(conn), home: None, journal: Journal::Rollback, grouped: false, step_open: false }
    }

    /// How the connection's commits reach the disk.
    pub fn journal(&self) -> Journal {
        self.journal
    }

    /// Begins the session's transaction: `BEGIN IMMEDIATE` (the write lock at once, so two
    /// writers wait on the busy timeout instead of one failing when it first writes), its
    /// commit at `synchronous` in WAL mode. In a [`Group`], a savepoint of the group's
    /// transaction, which begins (at the group's level) if it has not.
    pub fn begin(&mut self, synchronous: &str) -> rusqlite::Result<()> {
        let group = self.group_level();
        let wal = self.journal != Journal::Rollback;
        let conn = self.conn.as_ref().unwrap_or_else(|| unreachable!("a lent connection is present until it drops"));
        if conn.is_autocommit() {
            if wal {
                conn.execute_batch(&format!("PRAGMA synchronous = {}", group.unwrap_or(synchronous)))?;
            }
            conn.execute_batch("BEGIN IMMEDIATE")?;
        }
        if group.is_some() {
            conn.execute_batch("SAVEPOINT flow_step")?;
            self.step_open = true;
        }
        Ok(())
    }

    /// Commits the session's transaction; in a [`Group`], releases its savepoint into the
    /// group's transaction, which commits every [`GROUP_STEPS`] sessions.
    pub fn commit(&mut self) -> rusqlite::Result<()> {
        if !self.step_open {
            return self.execute_batch("COMMIT");
        }
        self.execute_batch("RELEASE flow_step")?;
        self.step_open = false;
        if self.home.as_ref().is_some_and(|(file, _)| file.group_released()) {
            self.execute_batch("COMMIT")?;
        }
        Ok(())
    }

    /// Rolls back the session's transaction; in a [`Group`], its savepoint only.
    pub fn rollback(&mut self) -> rusqlite::Result<()> {
        if !self.step_open {
            return self.execute_batch("ROLLBACK");
        }
        self.step_open = false;
        self.execute_batch("ROLLBACK TO flow_step; RELEASE flow_step")
    }

    /// The `synchronous` level of the group this session is part of.
    fn group_level(&self) -> Option<&'static str> {
        match &self.home {
            Some((file, _)) if self.grouped => file.group_synchronous(),
            _ => None,
        }
    }
}

/// Sessions of one file committed together (see the module docs), from [`SharedFile::group`]
/// until [`Group::finish`]. Dropped unfinished (the run was interrupted), the group's open
/// transaction is rolled back before the connection is lent again or closed: the sessions
/// released since its last commit are undone together.
pub struct Group {
    file: Option<Arc<SharedFile>>,
}

impl Group {
    /// Commits the group's open transaction (waiting, like a session, for the connection) and
    /// ends the group. Errors when the commit fails: what was released since the last commit is
    /// then rolled back.
    pub fn finish(mut self) -> Result<()> {
        let Some(file) = self.file.take() else { return Ok(()) };
        let conn = file.lend()?;
        file.slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).group = None;
        if conn.is_autocommit() {
            return Ok(());
        }
        // At the level the group's transaction began with (SQLite refuses to change it inside).
        conn.execute_batch("COMMIT").map_err(|e| {
            let message = format!("SQLite: {}: cannot commit the tables of this group: {e}", file.path);
            Failure::new(codes::sink::WRITE_FAILED, message).into_datafusion()
        })
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            file.slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).group = None;
        }
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
            file.give_back(conn, foreign_keys, self.grouped, self.step_open);
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

    fn pragma(conn: &Connection, name: &str) -> String {
        conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get::<_, rusqlite::types::Value>(0))
            .map(|v| match v {
                rusqlite::types::Value::Text(t) => t,
                rusqlite::types::Value::Integer(i) => i.to_string(),
                other => format!("{other:?}"),
            })
            .expect("pragma")
    }

    /// A new file that takes several tables is written in WAL mode, a session's commits at
    /// `synchronous = NORMAL` (1), and is set back to DELETE, its marker and log removed, when
    /// the last handle closes; the file's rows are all there. A file in DELETE mode that exists,
    /// and a new file of one table, keep the rollback journal at `synchronous = FULL` (2).
    #[test]
    fn a_new_file_of_several_tables_is_written_in_wal_and_set_back_to_delete() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("new.db").to_string_lossy().into_owned();
        let beside = |suffix: &str| std::path::Path::new(&format!("{path}{suffix}")).exists();
        {
            let file = SharedFile::of(&path);
            file.held_by_run(2);
            let s = file.lend().expect("lend");
            assert_eq!(s.journal(), Journal::Wal { ours: true });
            assert_eq!((pragma(&s, "journal_mode"), pragma(&s, "synchronous")), ("wal".into(), "1".into()));
            s.execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2)").expect("sql");
            assert!(beside(".flow-wal") && beside("-wal"));
        }
        assert!(!beside(".flow-wal") && !beside("-wal"), "marker and log removed");
        let other = Connection::open(&path).expect("open");
        assert_eq!(pragma(&other, "journal_mode"), "delete");
        assert_eq!(other.query_row("SELECT sum(x) FROM t", [], |r| r.get::<_, i64>(0)).expect("sum"), 3);
        drop(other);
        let file = SharedFile::of(&path);
        file.held_by_run(2);
        let s = file.lend().expect("lend");
        assert_eq!((s.journal(), pragma(&s, "synchronous")), (Journal::Rollback, "2".into()), "an existing file");
        drop((s, file));
        let one = dir.path().join("one.db").to_string_lossy().into_owned();
        let file = SharedFile::of(&one);
        file.held_by_run(1);
        let s = file.lend().expect("lend");
        assert_eq!((s.journal(), pragma(&s, "journal_mode")), (Journal::Rollback, "delete".into()), "one table");
    }

    /// A file the user keeps in WAL mode is written so (staging at NORMAL) and stays in WAL mode.
    /// A file Flow switched to WAL that another connection still holds when Flow closes it stays
    /// in WAL mode, complete, with its marker; a handle no run holds leaves it so, and the next
    /// run's (for one table as much as for several) finds the marker and sets it back.
    #[test]
    fn a_users_wal_file_stays_wal_and_one_left_in_wal_is_set_back_later() {
        let dir = tempfile::tempdir().expect("temp dir");
        let user = dir.path().join("user.db").to_string_lossy().into_owned();
        Connection::open(&user)
            .expect("open")
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE u (x)")
            .expect("wal");
        {
            let file = SharedFile::of(&user);
            file.held_by_run(2);
            let s = file.lend().expect("lend");
            assert_eq!((s.journal(), pragma(&s, "synchronous")), (Journal::Wal { ours: false }, "1".into()));
        }
        assert_eq!(pragma(&Connection::open(&user).expect("open"), "journal_mode"), "wal");

        let path = dir.path().join("held.db").to_string_lossy().into_owned();
        let marker = format!("{path}.flow-wal");
        let file = SharedFile::of(&path);
        file.held_by_run(2);
        file.lend().expect("lend").execute_batch("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (7)").expect("sql");
        let reader = Connection::open(&path).expect("open");
        assert_eq!(reader.query_row("SELECT x FROM t", [], |r| r.get::<_, i64>(0)).expect("read"), 7);
        drop(file);
        assert!(std::path::Path::new(&marker).exists(), "still in WAL for Flow's sake");
        assert_eq!(pragma(&reader, "journal_mode"), "wal");
        drop(reader);
        let s = SharedFile::of(&path).lend().expect("lend");
        assert_eq!(s.journal(), Journal::Wal { ours: false }, "not a run's handle");
        drop(s);
        assert!(std::path::Path::new(&marker).exists());
        let file = SharedFile::of(&path);
        file.held_by_run(1);
        let s = file.lend().expect("lend");
        assert_eq!(s.journal(), Journal::Wal { ours: true });
        drop((s, file));
        assert!(!std::path::Path::new(&marker).exists());
        let after = Connection::open(&path).expect("open");
        assert_eq!(pragma(&after, "journal_mode"), "delete");
        assert_eq!(after.query_row("SELECT x FROM t", [], |r| r.get::<_, i64>(0)).expect("read"), 7);
    }

    /// In a group, each session's transaction is a savepoint of the file's one transaction: what
    /// a session released is invisible to other connections until the group commits (at its
    /// finish, or after `GROUP_STEPS` sessions); a session that fails rolls back its own work
    /// only. A group dropped unfinished (an interrupted run) is rolled back before the
    /// connection is lent again. The level of its commits is the group's (FULL, publishing).
    #[test]
    fn a_group_commits_its_sessions_together_and_a_failed_one_alone_is_undone() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("group.db").to_string_lossy().into_owned();
        let file = SharedFile::of(&path);
        file.held_by_run(3);
        let other = Connection::open(&path).expect("open");
        let tables = |conn: &Connection| -> Vec<String> {
            let mut stmt = conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").unwrap();
            stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
        };
        // `level`: the `synchronous` the session's transaction runs at (the group's, in one).
        let step = |sql: &str, ok: bool, level: &str| {
            let mut s = file.lend().expect("lend");
            s.begin("NORMAL").expect("begin");
            assert_eq!(pragma(&s, "synchronous"), level);
            match s.execute_batch(sql) {
                Ok(()) if ok => s.commit().expect("commit"),
                _ => s.rollback().expect("rollback"),
            }
        };
        let group = file.group(true);
        step("CREATE TABLE a (x INTEGER); INSERT INTO a VALUES (1)", true, "2");
        step("CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1)", false, "2");
        step("CREATE TABLE c (x INTEGER)", true, "2");
        assert!(tables(&other).is_empty(), "nothing visible before the group commits");
        group.finish().expect("finish");
        assert_eq!(tables(&other), ["a", "c"]);

        let group = file.group(false);
        for i in 0..GROUP_STEPS {
            step(&format!("CREATE TABLE g{i:02} (x INTEGER)"), true, "1");
        }
        assert_eq!(tables(&other).len(), 2 + GROUP_STEPS, "committed after GROUP_STEPS sessions");
        step("CREATE TABLE lost (x INTEGER)", true, "1");
        drop(group);
        let s = file.lend().expect("lend");
        assert!(s.is_autocommit(), "the unfinished group was rolled back");
        drop(s);
        assert!(!tables(&other).contains(&"lost".to_string()));
        // Without a group, a session commits on its own, as before.
        step("CREATE TABLE alone (x INTEGER)", true, "1");
        assert!(tables(&other).contains(&"alone".to_string()));
    }
}
