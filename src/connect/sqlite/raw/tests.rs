use rusqlite::types::ValueRef;
use rusqlite::{Connection, ErrorCode};

use super::RawStatement;

/// A value owned, text kept as its bytes (rusqlite's own `Value` panics on text that is not
/// UTF-8).
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(Vec<u8>),
    Blob(Vec<u8>),
}

impl From<ValueRef<'_>> for Value {
    fn from(v: ValueRef<'_>) -> Self {
        match v {
            ValueRef::Null => Value::Null,
            ValueRef::Integer(i) => Value::Integer(i),
            ValueRef::Real(f) => Value::Real(f),
            ValueRef::Text(t) => Value::Text(t.to_vec()),
            ValueRef::Blob(b) => Value::Blob(b.to_vec()),
        }
    }
}

fn text_value(s: &str) -> Value {
    Value::Text(s.as_bytes().to_vec())
}

/// Every row of `sql`, read through [`RawStatement::value`] and owned.
fn read(conn: &Connection, sql: &str) -> Vec<Vec<Value>> {
    let mut stmt = RawStatement::prepare(conn, sql).unwrap();
    let mut rows = Vec::new();
    while stmt.step().unwrap() {
        rows.push((0..stmt.column_count()).map(|i| Value::from(stmt.value(i).unwrap())).collect());
    }
    rows
}

/// `(typeof(v), v)` of every row of table `t`, in insertion order, read by rusqlite.
fn stored(conn: &Connection) -> Vec<(String, Value)> {
    let mut stmt = conn.prepare("SELECT typeof(v), v FROM t ORDER BY rowid").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, Value::from(r.get_ref(1)?))))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn table() -> Connection {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE TABLE t (v)").unwrap();
    conn
}

#[test]
fn every_storage_class_reads_as_rusqlite_reads_it() {
    let conn = Connection::open_in_memory().unwrap();
    let sql = "SELECT NULL, 0, -9223372036854775808, 9223372036854775807, 1.5, -0.0, 1e999, '', 'é', \
               CAST(x'ff00fe' AS TEXT), x'', x'00ff', zeroblob(3)";
    let ours = read(&conn, sql);
    let theirs: Vec<Value> = conn
        .query_row(sql, [], |r| (0..13).map(|i| r.get_ref(i).map(Value::from)).collect::<rusqlite::Result<_>>())
        .unwrap();
    assert_eq!(ours, vec![theirs.clone()]);
    assert_eq!(theirs[0], Value::Null);
    assert_eq!(theirs[7], text_value(""));
    assert_eq!(theirs[10], Value::Blob(Vec::new()));
    // Not UTF-8: the bytes as stored, for the reader to refuse.
    let mut stmt = RawStatement::prepare(&conn, sql).unwrap();
    assert!(stmt.step().unwrap());
    assert_eq!(stmt.value(9).unwrap(), ValueRef::Text(&[0xff, 0x00, 0xfe]));
    assert_eq!(stmt.value(5).unwrap(), ValueRef::Real(-0.0));
    assert!(matches!(stmt.value(5).unwrap(), ValueRef::Real(f) if f.is_sign_negative()));
    assert_eq!(stmt.value(6).unwrap(), ValueRef::Real(f64::INFINITY));
    assert!(!stmt.step().unwrap());
}

#[test]
fn huge_values_and_many_rows_read_whole() {
    let conn = Connection::open_in_memory().unwrap();
    let rows = read(
        &conn,
        "WITH RECURSIVE n(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM n WHERE value < 3) \
         SELECT printf('%.*c', 5000000, 'x'), randomblob(3000000), value FROM n",
    );
    assert_eq!(rows.len(), 3);
    for (n, row) in rows.iter().enumerate() {
        assert!(matches!(&row[0], Value::Text(t) if t.len() == 5_000_000 && t.iter().all(|&b| b == b'x')));
        assert!(matches!(&row[1], Value::Blob(b) if b.len() == 3_000_000));
        assert_eq!(row[2], Value::Integer(n as i64 + 1));
    }
}

#[test]
fn text_of_a_utf16_database_reads_as_utf8() {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("PRAGMA encoding = 'UTF-16le'; CREATE TABLE u (s); INSERT INTO u VALUES ('añb'), ('')").unwrap();
    assert_eq!(read(&conn, "SELECT s FROM u"), vec![vec![text_value("añb")], vec![text_value("")]]);
}

#[test]
fn values_of_a_finished_statement_start_it_again() {
    let conn = Connection::open_in_memory().unwrap();
    let mut stmt = RawStatement::prepare(&conn, "SELECT 7").unwrap();
    assert!(stmt.step().unwrap());
    assert!(!stmt.step().unwrap());
    assert!(stmt.step().unwrap());
    assert_eq!(stmt.value(0).unwrap(), ValueRef::Integer(7));
}

#[test]
#[should_panic(expected = "without a current row")]
fn a_value_without_a_row_is_a_panic_not_undefined() {
    let conn = Connection::open_in_memory().unwrap();
    let stmt = RawStatement::prepare(&conn, "SELECT 1").unwrap();
    let _ = stmt.value(0);
}

#[test]
#[should_panic(expected = "column 1 of a statement with 1 columns")]
fn a_column_out_of_range_is_a_panic_not_undefined() {
    let conn = Connection::open_in_memory().unwrap();
    let mut stmt = RawStatement::prepare(&conn, "SELECT 1").unwrap();
    assert!(stmt.step().unwrap());
    let _ = stmt.value(1);
}

#[test]
fn prepare_refuses_what_rusqlite_refuses() {
    let conn = Connection::open_in_memory().unwrap();
    assert!(matches!(RawStatement::prepare(&conn, "SELECT 1; SELECT 2"), Err(rusqlite::Error::MultipleStatement)));
    assert!(RawStatement::prepare(&conn, "SELECT 1 ;  ").is_ok());
    assert!(RawStatement::prepare(&conn, "").is_err());
    let e = RawStatement::prepare(&conn, "SELEC 1").err().unwrap();
    assert!(e.to_string().contains("syntax error"), "{e}");
    let e = RawStatement::prepare(&conn, "SELECT * FROM nowhere").err().unwrap();
    assert!(e.to_string().contains("no such table: nowhere"), "{e}");
}

#[test]
fn every_storage_class_binds_as_it_is() {
    let conn = table();
    let text = String::from("é");
    let bytes = vec![0u8, 0xff];
    let not_utf8 = vec![0xffu8, 0xfe];
    let mut insert =
        RawStatement::prepare(&conn, "INSERT INTO t VALUES (?), (?), (?), (?), (?), (?), (?), (?), (?)").unwrap();
    insert
        .execute(|b| {
            b.null()?;
            b.integer(i64::MIN)?;
            b.real(-0.5)?;
            b.text(text.as_bytes())?;
            b.text(b"")?;
            b.blob(&bytes)?;
            b.blob(&[])?;
            b.text(&not_utf8)?;
            b.value(ValueRef::Integer(i64::MAX))
        })
        .map_err(|e: rusqlite::Error| e)
        .unwrap();
    let got = stored(&conn);
    assert_eq!(got[0], ("null".into(), Value::Null));
    assert_eq!(got[1], ("integer".into(), Value::Integer(i64::MIN)));
    assert_eq!(got[2], ("real".into(), Value::Real(-0.5)));
    assert_eq!(got[3], ("text".into(), text_value("é")));
    // Empty text and an empty blob are values, not NULL.
    assert_eq!(got[4], ("text".into(), text_value("")));
    assert_eq!(got[5], ("blob".into(), Value::Blob(vec![0, 0xff])));
    assert_eq!(got[6], ("blob".into(), Value::Blob(Vec::new())));
    // Not UTF-8: stored as text, byte for byte.
    assert_eq!(got[7], ("text".into(), Value::Text(not_utf8.clone())));
    assert_eq!(got[8], ("integer".into(), Value::Integer(i64::MAX)));
}

#[test]
fn huge_values_bind_whole() {
    let conn = table();
    let text = "x".repeat(5_000_000);
    let blob = vec![7u8; 3_000_000];
    let mut insert = RawStatement::prepare(&conn, "INSERT INTO t VALUES (?), (?)").unwrap();
    insert.execute(|b| b.text(text.as_bytes()).and_then(|()| b.blob(&blob))).map_err(|e: rusqlite::Error| e).unwrap();
    drop((text, blob));
    let lengths: Vec<i64> = conn
        .prepare("SELECT length(v) FROM t ORDER BY rowid")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(lengths, [5_000_000, 3_000_000]);
}

#[test]
fn a_value_beyond_sqlites_length_limit_is_its_too_big_error() {
    let conn = table();
    // SQLITE_LIMIT_LENGTH, lowered for the test (the default is 10^9 bytes; rusqlite's `limits`
    // feature is not enabled).
    // SAFETY: `handle` is the open connection `conn` owns, used on this thread only.
    unsafe { rusqlite::ffi::sqlite3_limit(conn.handle(), rusqlite::ffi::SQLITE_LIMIT_LENGTH, 100) };
    let big = vec![1u8; 200];
    let mut insert = RawStatement::prepare(&conn, "INSERT INTO t VALUES (?)").unwrap();
    let e = insert.execute(|b| b.blob(&big)).map_err(|e: rusqlite::Error| e).unwrap_err();
    assert_eq!(e.sqlite_error_code(), Some(ErrorCode::TooBig), "{e}");
    let e = insert.execute(|b| b.text(&big)).map_err(|e: rusqlite::Error| e).unwrap_err();
    assert_eq!(e.sqlite_error_code(), Some(ErrorCode::TooBig), "{e}");
}

#[test]
fn a_statement_runs_only_with_every_parameter_bound_in_the_same_call() {
    let conn = table();
    let mut insert = RawStatement::prepare(&conn, "INSERT INTO t VALUES (?), (?)").unwrap();
    {
        let text = String::from("kept only during the call");
        insert.execute(|b| b.text(text.as_bytes()).and_then(|()| b.null())).map_err(|e: rusqlite::Error| e).unwrap();
    }
    // The parameters left from the call above point to a dropped text: a call that binds fewer
    // than all does not run.
    let e = insert.execute(|b| b.integer(1)).unwrap_err();
    assert!(matches!(e, rusqlite::Error::InvalidParameterCount(1, 2)), "{e:?}");
    let e = insert.execute(|_| Ok::<_, rusqlite::Error>(())).unwrap_err();
    assert!(matches!(e, rusqlite::Error::InvalidParameterCount(0, 2)), "{e:?}");
    let e = insert.execute(|b| (0..3).try_for_each(|_| b.integer(1))).unwrap_err();
    assert!(matches!(e, rusqlite::Error::InvalidParameterCount(3, 2)), "{e:?}");
    // Nor does one whose binding fails half-way, or panics.
    let failed = insert.execute(|b| {
        b.text(b"bound, then the closure fails")?;
        Err(rusqlite::Error::InvalidQuery)
    });
    assert!(matches!(failed, Err(rusqlite::Error::InvalidQuery)));
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let text = String::from("bound, then the closure panics");
        let _ = insert.execute(|b| -> rusqlite::Result<()> {
            b.text(text.as_bytes())?;
            panic!("in the binding")
        });
    }));
    assert!(panicked.is_err());
    // A step outside `execute` runs with the parameters cleared: NULLs, not the dropped texts.
    assert!(!insert.step().unwrap());
    insert.execute(|b| b.integer(2).and_then(|()| b.integer(3))).map_err(|e: rusqlite::Error| e).unwrap();
    let got: Vec<Value> = stored(&conn).into_iter().map(|(_, v)| v).collect();
    let kept = text_value("kept only during the call");
    assert_eq!(got, [kept, Value::Null, Value::Null, Value::Null, Value::Integer(2), Value::Integer(3)]);
}

#[test]
fn errors_are_sqlites_and_the_statement_runs_again() {
    let conn = Connection::open_in_memory().unwrap();
    conn.execute_batch("CREATE TABLE k (id INTEGER PRIMARY KEY, v NOT NULL)").unwrap();
    let mut insert = RawStatement::prepare(&conn, "INSERT INTO k VALUES (?, ?)").unwrap();
    // A constraint: the row's fault, told by SQLite; the statement can run again.
    let e = insert.execute(|b| b.integer(1).and_then(|()| b.null())).unwrap_err();
    assert_eq!(e.sqlite_error_code(), Some(ErrorCode::ConstraintViolation), "{e}");
    assert!(e.to_string().contains("NOT NULL constraint failed: k.v"), "{e}");
    insert.execute(|b| b.integer(1).and_then(|()| b.text(b"v"))).unwrap();
    let e = insert.execute(|b| b.integer(1).and_then(|()| b.text(b"v"))).unwrap_err();
    assert!(e.to_string().contains("UNIQUE constraint failed"), "{e}");
    insert.execute(|b| b.integer(2).and_then(|()| b.blob(b"w"))).unwrap();
    let mut select = RawStatement::prepare(&conn, "SELECT 1").unwrap();
    assert!(matches!(select.execute(|_| Ok::<_, rusqlite::Error>(())), Err(rusqlite::Error::ExecuteReturnedResults)));
}
