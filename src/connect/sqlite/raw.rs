//! A prepared statement driven through SQLite's C interface ([`RawStatement`]), for the two hot
//! loops that rusqlite's safe API makes costly: reading a step's values (rusqlite asks SQLite
//! for the column count, the type and then the value, each call through the connection's
//! mutex path) and binding text and blobs (rusqlite binds them `SQLITE_TRANSIENT`, so SQLite
//! allocates and copies every one). Here a value is read from `sqlite3_column_value` with the
//! cheap `sqlite3_value_*` accessors, and text and blobs are bound `SQLITE_STATIC` from buffers
//! that are borrowed for as long as the statement runs with them.
//!
//! This is the only module of Flow with `unsafe` code (the crate denies it elsewhere). Its API
//! is safe: the borrows of [`RawStatement::value`] end at the next [`RawStatement::step`], and a
//! parameter bound by [`Binder`] borrows its data for the whole [`RawStatement::execute`] call.
//! SQLite reads a parameter only when the statement runs, and `execute` runs it only once every
//! parameter has been bound in that same call; a step outside `execute` clears the parameters
//! first. So no parameter that points to data whose borrow has ended is ever read.
//!
//! Source: <https://sqlite.org/c3ref/column_blob.html>, <https://sqlite.org/c3ref/value_blob.html>,
//! <https://sqlite.org/c3ref/bind_blob.html>.

use std::ffi::{CStr, c_int};
use std::marker::PhantomData;
use std::ptr::NonNull;

use rusqlite::types::ValueRef;
use rusqlite::{Connection, ffi};

/// A statement prepared on a connection it borrows. Not `Send` or `Sync` (it holds raw
/// pointers), as the connection it borrows is not `Sync`: only this thread uses the connection
/// while the statement lives, which is what makes the mutex-free accessors safe.
pub struct RawStatement<'c> {
    stmt: NonNull<ffi::sqlite3_stmt>,
    db: *mut ffi::sqlite3,
    columns: usize,
    parameters: usize,
    /// Whether the last step gave a row: only then may its values be read.
    on_row: bool,
    /// Whether parameters bound by an `execute` call (whose data may be gone) are still set.
    bound: bool,
    /// Whether a `step` may have left the statement running (parameters bind only after a reset).
    stepped: bool,
    _conn: PhantomData<&'c Connection>,
}

impl<'c> RawStatement<'c> {
    /// Prepares `sql`, one statement (trailing spaces and semicolons are allowed; a second
    /// statement is an error, as rusqlite's `prepare` makes it).
    pub fn prepare(conn: &'c Connection, sql: &str) -> rusqlite::Result<Self> {
        let len = c_int::try_from(sql.len()).map_err(|_| too_big("the SQL text is too long"))?;
        // SAFETY: `handle` returns the connection's open `sqlite3*`, valid while `conn` is
        // borrowed, which `'c` makes last as long as the statement.
        let db = unsafe { conn.handle() };
        let mut stmt = std::ptr::null_mut();
        let mut tail = std::ptr::null();
        // SAFETY: `sql` is `len` readable bytes (SQLite reads at most `len`, no terminator
        // needed); `stmt` and `tail` are valid out-pointers; `db` is open (above).
        let rc = unsafe { ffi::sqlite3_prepare_v2(db, sql.as_ptr().cast(), len, &mut stmt, &mut tail) };
        if rc != ffi::SQLITE_OK {
            return Err(error(db, rc));
        }
        let Some(stmt) = NonNull::new(stmt) else {
            return Err(rusqlite::Error::SqliteFailure(
                ffi::Error::new(ffi::SQLITE_MISUSE),
                Some("the SQL text holds no statement".into()),
            ));
        };
        // Built at once, so that an error below finalizes the statement on drop.
        let mut prepared = Self {
            stmt,
            db,
            columns: 0,
            parameters: 0,
            on_row: false,
            bound: false,
            stepped: false,
            _conn: PhantomData,
        };
        // SAFETY: `tail` points into `sql` at or after its start, and at most at its end
        // (SQLite's contract for `pzTail`), so the offset is in bounds and non-negative.
        let consumed = unsafe { tail.cast::<u8>().offset_from(sql.as_ptr()) };
        let rest = usize::try_from(consumed).ok().and_then(|at| sql.get(at..)).unwrap_or("");
        if !rest.trim_matches(|c: char| c.is_whitespace() || c == ';').is_empty() {
            return Err(rusqlite::Error::MultipleStatement);
        }
        // SAFETY: `stmt` is a live statement (prepared above, finalized only on drop).
        let (columns, parameters) =
            unsafe { (ffi::sqlite3_column_count(stmt.as_ptr()), ffi::sqlite3_bind_parameter_count(stmt.as_ptr())) };
        prepared.columns = usize::try_from(columns).unwrap_or(0);
        prepared.parameters = usize::try_from(parameters).unwrap_or(0);
        Ok(prepared)
    }

    /// The number of result columns (0 for a statement that returns no rows).
    pub fn column_count(&self) -> usize {
        self.columns
    }

    /// Steps to the next row: `Ok(true)` when there is one, `Ok(false)` at the end (a later step
    /// starts the statement again).
    pub fn step(&mut self) -> rusqlite::Result<bool> {
        self.on_row = false;
        if self.bound {
            // SAFETY: `stmt` is live. The parameters an `execute` call left may point to data
            // that is gone; they are NULL again before anything runs.
            unsafe { ffi::sqlite3_clear_bindings(self.stmt.as_ptr()) };
            self.bound = false;
        }
        self.stepped = true;
        // SAFETY: `stmt` is live and no parameter points to released data (above); `&mut self`
        // ends every borrow of the previous row's values.
        let rc = unsafe { ffi::sqlite3_step(self.stmt.as_ptr()) };
        match rc {
            ffi::SQLITE_ROW => {
                self.on_row = true;
                Ok(true)
            }
            ffi::SQLITE_DONE => Ok(false),
            _ => {
                let e = error(self.db, rc);
                // SAFETY: `stmt` is live; the reset makes the next step start over.
                unsafe { ffi::sqlite3_reset(self.stmt.as_ptr()) };
                Err(e)
            }
        }
    }

    /// Column `i` (0-based) of the current row, borrowed until the next step. Panics when
    /// `i` is not a column or the last step gave no row (the caller's mistake, never the data's).
    /// `Err` only when SQLite runs out of memory converting a text's encoding.
    pub fn value(&self, i: usize) -> rusqlite::Result<ValueRef<'_>> {
        assert!(self.on_row, "a value read without a current row");
        assert!(i < self.columns, "column {i} of a statement with {} columns", self.columns);
        // `i < columns`, and the column count is a c_int.
        let col = i as c_int;
        // SAFETY: the statement is on a row (`on_row`, cleared by every step that gives none)
        // and `col` is one of its columns, so `sqlite3_column_value` returns a valid value
        // owned by the statement. It is "unprotected" (read without the connection's mutex):
        // that is safe because no other thread can use the connection while `self` borrows it
        // (`Connection` is not `Sync`). The value stays valid until the next step or reset,
        // both of which take `&mut self`, while the result borrows `&self`.
        unsafe {
            let value = ffi::sqlite3_column_value(self.stmt.as_ptr(), col);
            Ok(match ffi::sqlite3_value_type(value) {
                ffi::SQLITE_INTEGER => ValueRef::Integer(ffi::sqlite3_value_int64(value)),
                ffi::SQLITE_FLOAT => ValueRef::Real(ffi::sqlite3_value_double(value)),
                ffi::SQLITE_TEXT => {
                    // SQLite's order: the text first (which may convert its encoding), then its
                    // length in that encoding.
                    let text = ffi::sqlite3_value_text(value);
                    if text.is_null() {
                        return Err(error(self.db, ffi::SQLITE_NOMEM));
                    }
                    let len = usize::try_from(ffi::sqlite3_value_bytes(value)).unwrap_or(0);
                    // `text` points to `len` bytes the value owns (see above for how long).
                    ValueRef::Text(std::slice::from_raw_parts(text, len))
                }
                ffi::SQLITE_BLOB => {
                    let blob = ffi::sqlite3_value_blob(value);
                    let len = usize::try_from(ffi::sqlite3_value_bytes(value)).unwrap_or(0);
                    if blob.is_null() || len == 0 {
                        // SQLite gives a zero-length blob a NULL pointer.
                        ValueRef::Blob(&[])
                    } else {
                        // `blob` points to `len` bytes the value owns (see above for how long).
                        ValueRef::Blob(std::slice::from_raw_parts(blob.cast::<u8>(), len))
                    }
                }
                _ => ValueRef::Null,
            })
        }
    }

    /// Binds every parameter with `bind` (in order: see [`Binder`]), runs the statement to its
    /// end (a statement that returns rows is an error, as rusqlite's `execute` makes it) and
    /// resets it, also when binding or running fails (or panics). The statement runs only when
    /// `bind` succeeded and bound every parameter, so the data a parameter borrows (`'d`) need
    /// only outlive this call: what the parameters point to afterwards is never read.
    pub fn execute<'d, E: From<rusqlite::Error>>(
        &mut self,
        bind: impl FnOnce(&mut Binder<'_, 'd>) -> Result<(), E>,
    ) -> Result<(), E> {
        /// Resets the statement on every way out of `execute`.
        struct Reset(NonNull<ffi::sqlite3_stmt>);
        impl Drop for Reset {
            fn drop(&mut self) {
                // SAFETY: the statement outlives this guard (the guard lives inside `execute`,
                // which borrows the statement).
                unsafe { ffi::sqlite3_reset(self.0.as_ptr()) };
            }
        }
        self.on_row = false;
        self.bound = true;
        if std::mem::take(&mut self.stepped) {
            // SAFETY: `stmt` is live; `&mut self` ends every borrow of a row's values.
            unsafe { ffi::sqlite3_reset(self.stmt.as_ptr()) };
        }
        let _reset = Reset(self.stmt);
        let mut binder =
            Binder { stmt: self.stmt, db: self.db, parameters: self.parameters, next: 1, _data: PhantomData };
        bind(&mut binder)?;
        let bound = binder.next - 1;
        if bound != self.parameters {
            return Err(rusqlite::Error::InvalidParameterCount(bound, self.parameters).into());
        }
        // SAFETY: `stmt` is live; every parameter was bound by this call (checked above) to
        // data valid for `'d`, which outlasts this call.
        let rc = unsafe { ffi::sqlite3_step(self.stmt.as_ptr()) };
        match rc {
            ffi::SQLITE_DONE => Ok(()),
            ffi::SQLITE_ROW => Err(rusqlite::Error::ExecuteReturnedResults.into()),
            _ => Err(error(self.db, rc).into()),
        }
    }
}

impl Drop for RawStatement<'_> {
    fn drop(&mut self) {
        // SAFETY: `stmt` was prepared by `prepare` and is finalized once, here; nothing borrows
        // it any more (`&mut self`).
        unsafe { ffi::sqlite3_finalize(self.stmt.as_ptr()) };
    }
}

/// Binds the parameters of one [`RawStatement::execute`] call, in order: each call binds the
/// next parameter (1, 2, …). Text and blobs are borrowed for `'d` (`SQLITE_STATIC`), not copied.
/// A parameter whose bind fails is not counted, so its statement does not run.
pub struct Binder<'s, 'd> {
    stmt: NonNull<ffi::sqlite3_stmt>,
    db: *mut ffi::sqlite3,
    parameters: usize,
    /// The number of the next parameter to bind.
    next: usize,
    _data: PhantomData<(&'s mut (), &'d [u8])>,
}

impl<'d> Binder<'_, 'd> {
    /// The next parameter's number; past the last one is an error.
    fn index(&self) -> rusqlite::Result<c_int> {
        match c_int::try_from(self.next) {
            Ok(i) if self.next <= self.parameters => Ok(i),
            _ => Err(rusqlite::Error::InvalidParameterCount(self.next, self.parameters)),
        }
    }

    /// Counts the parameter bound when SQLite says it is.
    fn check(&mut self, rc: c_int) -> rusqlite::Result<()> {
        if rc != ffi::SQLITE_OK {
            return Err(error(self.db, rc));
        }
        self.next += 1;
        Ok(())
    }

    pub fn null(&mut self) -> rusqlite::Result<()> {
        let i = self.index()?;
        // SAFETY: `stmt` is live and `i` is one of its parameters.
        let rc = unsafe { ffi::sqlite3_bind_null(self.stmt.as_ptr(), i) };
        self.check(rc)
    }

    pub fn integer(&mut self, value: i64) -> rusqlite::Result<()> {
        let i = self.index()?;
        // SAFETY: `stmt` is live and `i` is one of its parameters.
        let rc = unsafe { ffi::sqlite3_bind_int64(self.stmt.as_ptr(), i, value) };
        self.check(rc)
    }

    /// A double; SQLite binds a NaN as NULL, so callers refuse NaN first.
    pub fn real(&mut self, value: f64) -> rusqlite::Result<()> {
        let i = self.index()?;
        // SAFETY: `stmt` is live and `i` is one of its parameters.
        let rc = unsafe { ffi::sqlite3_bind_double(self.stmt.as_ptr(), i, value) };
        self.check(rc)
    }

    /// Text, taken as UTF-8 as SQLite takes it (bytes that are not are stored as they are).
    /// Longer than SQLite's length limit is SQLite's `SQLITE_TOOBIG`.
    pub fn text(&mut self, text: &'d [u8]) -> rusqlite::Result<()> {
        let i = self.index()?;
        // An empty text from a valid (never dangling) pointer.
        let ptr = if text.is_empty() { c"".as_ptr() } else { text.as_ptr().cast() };
        // SAFETY: `stmt` is live, `i` one of its parameters; `ptr` points to `text.len()`
        // readable bytes that stay unchanged for `'d`, which outlives the `execute` call, the
        // only place the statement runs with this parameter (see `execute` and `step`).
        let rc = unsafe {
            ffi::sqlite3_bind_text64(
                self.stmt.as_ptr(),
                i,
                ptr,
                text.len() as ffi::sqlite3_uint64,
                ffi::SQLITE_STATIC(),
                ffi::SQLITE_UTF8 as u8,
            )
        };
        self.check(rc)
    }

    /// A blob; an empty one is a zero-length blob, not NULL (which a null pointer would bind).
    pub fn blob(&mut self, blob: &'d [u8]) -> rusqlite::Result<()> {
        let i = self.index()?;
        let rc = if blob.is_empty() {
            // SAFETY: `stmt` is live and `i` is one of its parameters.
            unsafe { ffi::sqlite3_bind_zeroblob(self.stmt.as_ptr(), i, 0) }
        } else {
            // SAFETY: as for `text`: `blob.len()` bytes, unchanged for `'d`, read only while
            // `execute` runs.
            unsafe {
                ffi::sqlite3_bind_blob64(
                    self.stmt.as_ptr(),
                    i,
                    blob.as_ptr().cast(),
                    blob.len() as ffi::sqlite3_uint64,
                    ffi::SQLITE_STATIC(),
                )
            }
        };
        self.check(rc)
    }

    /// Any value, by its storage class.
    pub fn value(&mut self, value: ValueRef<'d>) -> rusqlite::Result<()> {
        match value {
            ValueRef::Null => self.null(),
            ValueRef::Integer(v) => self.integer(v),
            ValueRef::Real(v) => self.real(v),
            ValueRef::Text(t) => self.text(t),
            ValueRef::Blob(b) => self.blob(b),
        }
    }
}

/// The connection's error for `rc`, with SQLite's message.
fn error(db: *mut ffi::sqlite3, rc: c_int) -> rusqlite::Error {
    // SAFETY: `db` is an open connection (borrowed by the statement that called); the message
    // is a NUL-terminated string SQLite owns until its next call, copied at once.
    let message = unsafe {
        let m = ffi::sqlite3_errmsg(db);
        (!m.is_null()).then(|| CStr::from_ptr(m).to_string_lossy().into_owned())
    };
    rusqlite::Error::SqliteFailure(ffi::Error::new(rc), message)
}

fn too_big(why: &str) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(ffi::Error::new(ffi::SQLITE_TOOBIG), Some(why.into()))
}

#[cfg(test)]
mod tests;
