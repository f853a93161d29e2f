//! The native reader against a live MariaDB: every type and some expressions, value by value
//! against the `mariadb` client (see `super::oracle`), errors naming column and row,
//! streaming and stopping, and shared snapshots. Without a server they skip, unless
//! `FLOW_REQUIRE_DBS=1`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, Decimal256Array, LargeBinaryArray, StringArray, UInt64Array};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Int64Type, TimeUnit};

use super::oracle::assert_same_as_client;
use super::*;
use crate::connect::mysql::convert::{MICROS_PER_DAY, MICROS_PER_SECOND};
use crate::connect::mysql::session::{SnapshotKind, consistent_connections, open_session};
use crate::connect::mysql::types::UTC;

const URL: &str = "mysql://root@127.0.0.1:3306/test";

/// A session on the test MariaDB, or `None` (with the reason printed) when it does not
/// answer and `FLOW_REQUIRE_DBS=1` is not set.
fn server() -> Option<Conn> {
    let required = std::env::var("FLOW_REQUIRE_DBS").is_ok_and(|v| v == "1");
    let answers =
        std::net::TcpStream::connect_timeout(&"127.0.0.1:3306".parse().expect("address"), Duration::from_secs(2));
    if let Err(e) = answers {
        assert!(!required, "MariaDB at 127.0.0.1:3306 does not answer and FLOW_REQUIRE_DBS=1: {e}");
        eprintln!(
            "skipping: MariaDB at 127.0.0.1:3306 does not answer ({e}; set FLOW_REQUIRE_DBS=1 to make this fail)"
        );
        return None;
    }
    Some(open_session(URL).expect("a session on the test MariaDB"))
}

fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A uniquely named InnoDB table, dropped on drop. `{t}` in SQL stands for its name.
struct Table {
    conn: Conn,
    name: String,
}

impl Table {
    fn create(columns: &str, setup: &[&str]) -> Option<Self> {
        let conn = server()?;
        let name = unique_name("mysql_reader_test");
        let mut table = Self { conn, name };
        let create = format!("CREATE TABLE {{t}} ({columns}) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4");
        table.run(&create);
        for sql in setup {
            table.run(sql);
        }
        Some(table)
    }

    fn sql(&self, sql: &str) -> String {
        sql.replace("{t}", &format!("`{}`", self.name))
    }

    fn run(&mut self, sql: &str) {
        let sql = self.sql(sql);
        self.conn.query_drop(&sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
}

impl Drop for Table {
    fn drop(&mut self) {
        let _ = self.conn.query_drop(format!("DROP TABLE IF EXISTS `{}`", self.name));
    }
}

fn read_all(conn: &mut Conn, sql: &str, batch_size: usize) -> Result<(SchemaRef, Vec<RecordBatch>)> {
    let schema = query_schema(conn, sql, Tinyint1::Boolean)?;
    let mut batches = Vec::new();
    stream_query(conn, sql, &schema, batch_size, &mut |batch| {
        batches.push(batch);
        true
    })?;
    Ok((schema, batches))
}

fn one_batch(schema: &SchemaRef, batches: &[RecordBatch]) -> RecordBatch {
    concat_batches(schema, batches).expect("concat")
}

fn error_text<T: std::fmt::Debug>(result: Result<T>) -> String {
    match result {
        Ok(value) => panic!("expected an error, got {value:?}"),
        Err(e) => e.to_string(),
    }
}

/// The columns a query's schema should have: name, Arrow type, nullable.
type Columns = Vec<(&'static str, DataType, bool)>;

/// Reads `sql` natively in batches of `batch_size` rows and checks its schema against
/// `expected` (name, Arrow type, nullable) and every value against the `mariadb` client's.
fn assert_read_as_client_reads(
    conn: &mut Conn,
    sql: &str,
    batch_size: usize,
    expected: &[(&str, DataType, bool)],
) -> RecordBatch {
    let (schema, batches) = read_all(conn, sql, batch_size).expect("native read");
    let fields: Vec<(&str, DataType, bool)> =
        schema.fields().iter().map(|f| (f.name().as_str(), f.data_type().clone(), f.is_nullable())).collect();
    assert_eq!(fields, expected, "schema of {sql}");
    let batch = one_batch(&schema, &batches);
    assert_same_as_client(&batch, sql);
    batch
}

const TYPES: &str = "
    id INT NOT NULL PRIMARY KEY,
    i8 TINYINT, u8 TINYINT UNSIGNED, i16 SMALLINT, u16 SMALLINT UNSIGNED,
    i24 MEDIUMINT, u24 MEDIUMINT UNSIGNED, i32 INT, u32 INT UNSIGNED,
    i64 BIGINT, u64 BIGINT UNSIGNED, flag BOOLEAN, yr YEAR, bits BIT(12),
    d12 DECIMAL(12,2), d38 DECIMAL(38,10), d65 DECIMAL(65,30), du DECIMAL(5,0) UNSIGNED,
    f FLOAT, dbl DOUBLE,
    vc VARCHAR(100), ch CHAR(4), txt TEXT, vcbin VARCHAR(20) COLLATE utf8mb4_bin, nn VARCHAR(5) NOT NULL DEFAULT 'x',
    bl BLOB, vb VARBINARY(8), bn BINARY(3),
    dt DATE, tm TIME(6), dtm DATETIME(6), ts TIMESTAMP(6) NULL DEFAULT NULL,
    js JSON, en ENUM('small', 'large'), st SET('a', 'b')";

/// The Arrow schema of `SELECT *` on [`TYPES`]. Here and in the expression test below, these are
/// the types connectorx 0.4.6 read (the tests compared the two until it left the build), but for
/// `flag`, `bits` and `tm`, which Flow reads as what they hold.
fn types_schema() -> Columns {
    use DataType::*;
    let micros = TimeUnit::Microsecond;
    vec![
        ("id", Int32, false),
        ("i8", Int8, true),
        ("u8", UInt8, true),
        ("i16", Int16, true),
        ("u16", UInt16, true),
        ("i24", Int32, true),
        ("u24", UInt32, true),
        ("i32", Int32, true),
        ("u32", UInt32, true),
        ("i64", Int64, true),
        ("u64", UInt64, true),
        ("flag", Boolean, true),
        ("yr", Int16, true),
        ("bits", UInt64, true),
        ("d12", Decimal128(12, 2), true),
        ("d38", Decimal128(38, 10), true),
        ("d65", Decimal256(65, 30), true),
        ("du", Decimal128(5, 0), true),
        ("f", Float32, true),
        ("dbl", Float64, true),
        ("vc", Utf8, true),
        ("ch", Utf8, true),
        ("txt", Utf8, true),
        ("vcbin", Utf8, true),
        ("nn", Utf8, false),
        ("bl", LargeBinary, true),
        ("vb", LargeBinary, true),
        ("bn", LargeBinary, true),
        ("dt", Date32, true),
        ("tm", DataType::Duration(micros), true),
        ("dtm", Timestamp(micros, None), true),
        ("ts", Timestamp(micros, Some(UTC.into())), true),
        ("js", Utf8, true),
        ("en", Utf8, true),
        ("st", Utf8, true),
    ]
}

fn types_table() -> Option<Table> {
    let nines = |n: usize| "9".repeat(n);
    let d65_max = format!("{}.{}", nines(35), nines(30));
    let min_row = format!(
        "INSERT INTO {{t}} VALUES (1, -128, 0, -32768, 0, -8388608, 0, -2147483648, 0, \
         -9223372036854775808, 0, FALSE, 1901, b'0', -9999999999.99, \
         -9999999999999999999999999999.9999999999, -{d65_max}, 0, \
         -1.5, -1.7976931348623157e308, '', 'a', '', '', '', '', '', x'000000', \
         '1000-01-01', '00:00:00', '1000-01-01 00:00:00', '1970-01-01 05:00:01', '{{}}', 'small', '')"
    );
    let max_row = format!(
        "INSERT INTO {{t}} VALUES (2, 127, 255, 32767, 65535, 8388607, 16777215, \
         2147483647, 4294967295, 9223372036854775807, 18446744073709551615, TRUE, 2155, \
         b'111111111111', 9999999999.99, 9999999999999999999999999999.9999999999, {d65_max}, 99999, \
         3.5, 2.2250738585072014e-308, 'héllo 🦀 wörld 👩‍👩‍👧', 'abcd', REPEAT('xyz🦀', 3000), 'Bin🦀', 'five5', \
         x'00ff00ff00', x'00ff00', x'000102', '9999-12-31', '23:59:59.999999', '9999-12-31 23:59:59.999999', \
         '2038-01-19 08:14:07.999999', '{{\"b\": [1, 2], \"a\": \"🦀\"}}', 'large', 'a,b')"
    );
    Table::create(
        TYPES,
        &[
            // TIMESTAMP literals are taken in the session time zone: +05:00 while inserting, so
            // the reader must deliver instants five hours earlier.
            "SET time_zone = '+05:00'",
            &min_row,
            &max_row,
            "INSERT INTO {t} (id) VALUES (3)",
            "INSERT INTO {t} VALUES (4, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, TRUE, 2024, b'101', \
             -0.05, 0.0000000001, -0.000000000000000000000000000001, 42, 0.1, 0.1, 'ascii', \
             'ab', 'short', 'b', 'n', x'deadbeef', x'01', 'a', '2024-02-29', '12:34:56.5', \
             '2024-02-29 12:34:56.789012', '2024-02-29 12:34:56.789012', '[1,2,3]', 'small', 'b')",
            "SET time_zone = '+00:00'",
        ],
    )
}

#[test]
fn every_type_reads_exactly_as_the_mariadb_client_reads_it() {
    let Some(table) = types_table() else { return };
    let mut conn = open_session(URL).expect("session");
    let sql = table.sql("SELECT * FROM {t} ORDER BY id");
    // Batches of 3 rows: the 4 rows arrive as 2 batches and are compared whole.
    let batch = assert_read_as_client_reads(&mut conn, &sql, 3, &types_schema());

    let schema = batch.schema();
    let field = |name: &str| schema.field_with_name(name).expect("field").clone();

    // A few values spelled out, beyond agreeing with the client.
    let column = |name: &str| batch.column(schema.index_of(name).expect("column")).clone();
    assert_eq!(column("u64").as_any().downcast_ref::<UInt64Array>().expect("u64").value(1), u64::MAX);
    let d65 = column("d65");
    let d65 = d65.as_any().downcast_ref::<Decimal256Array>().expect("d65");
    assert_eq!(d65.value_as_string(0), format!("-{}.{}", "9".repeat(35), "9".repeat(30)));
    assert_eq!(d65.value_as_string(3), "-0.000000000000000000000000000001");
    assert!(d65.is_null(2));
    assert_eq!(column("d12").as_primitive::<arrow::datatypes::Decimal128Type>().value_as_string(3), "-0.05");
    assert_eq!(column("vc").as_any().downcast_ref::<StringArray>().expect("vc").value(1), "héllo 🦀 wörld 👩‍👩‍👧");
    assert_eq!(column("vcbin").as_string::<i32>().value(1), "Bin🦀");
    assert_eq!(column("txt").as_string::<i32>().value(1).len(), 3000 * "xyz🦀".len());
    let bl = column("bl");
    let bl = bl.as_any().downcast_ref::<LargeBinaryArray>().expect("bl");
    assert_eq!(bl.value(1), [0x00, 0xff, 0x00, 0xff, 0x00]);
    assert_eq!(column("bn").as_binary::<i64>().value(0), [0, 0, 0]);
    let bits = column("bits");
    let bits = bits.as_primitive::<arrow::datatypes::UInt64Type>();
    assert_eq!((bits.value(0), bits.value(1), bits.value(3)), (0, 0x0fff, 0b101));
    let flag = column("flag");
    let flag = flag.as_boolean();
    assert_eq!((flag.value(0), flag.value(1), flag.value(3)), (false, true, true));
    let source_type = |name: &str| field(name).metadata().get(crate::connect::metadata::SOURCE_TYPE).cloned();
    assert_eq!(
        (source_type("flag"), source_type("bits"), source_type("tm")),
        (Some("tinyint(1)".into()), Some("bit(12)".into()), Some("time(6)".into()))
    );
    let ts = column("ts");
    let ts = ts.as_primitive::<arrow::datatypes::TimestampMicrosecondType>();
    assert_eq!(ts.value(0), MICROS_PER_SECOND, "1970-01-01 05:00:01 at +05:00 is 1 s after the epoch");
    assert_eq!(ts.value(3), 1_709_192_096_789_012, "2024-02-29 07:34:56.789012 UTC");
    let tm = column("tm");
    let tm = tm.as_primitive::<arrow::datatypes::DurationMicrosecondType>();
    assert_eq!((tm.value(0), tm.value(1), tm.value(3)), (0, MICROS_PER_DAY - 1, 45_296_500_000));
    assert_eq!(column("dt").as_primitive::<arrow::datatypes::Date32Type>().value(1), 2_932_896);
    assert!(
        (0..batch.num_columns())
            .filter(|&i| i != 0 && schema.field(i).name() != "nn")
            .all(|i| batch.column(i).is_null(2))
    );
}

#[test]
fn expressions_and_projections_read_as_the_mariadb_client_reads_them() {
    let Some(table) = types_table() else { return };
    let mut conn = open_session(URL).expect("session");
    let micros = TimeUnit::Microsecond;
    let queries: [(&str, Columns); 3] = [
        (
            "SELECT id, d12 * 3 AS triple, i32 + 1 AS next, CAST(i64 AS CHAR) AS text_i64, \
             CONCAT(vc, '!') AS shout, COALESCE(dt, DATE '2000-01-01') AS day, u64 DIV 2 AS half \
             FROM {t} ORDER BY id",
            vec![
                ("id", DataType::Int32, false),
                ("triple", DataType::Decimal128(13, 2), true),
                ("next", DataType::Int64, true),
                ("text_i64", DataType::Utf8, true),
                ("shout", DataType::Utf8, true),
                ("day", DataType::Date32, false),
                ("half", DataType::UInt64, true),
            ],
        ),
        (
            "SELECT id, d38, d65, ts FROM {t} WHERE id >= 2 ORDER BY id",
            vec![
                ("id", DataType::Int32, false),
                ("d38", DataType::Decimal128(38, 10), true),
                ("d65", DataType::Decimal256(65, 30), true),
                ("ts", DataType::Timestamp(micros, Some(UTC.into())), true),
            ],
        ),
        ("SELECT id FROM {t} WHERE id > 100", vec![("id", DataType::Int32, false)]),
    ];
    for (sql, schema) in queries {
        assert_read_as_client_reads(&mut conn, &table.sql(sql), 1, &schema);
    }
}

#[test]
fn values_without_an_arrow_value_are_errors_naming_column_and_row() {
    let Some(table) = Table::create(
        "id INT PRIMARY KEY, dt DATE, dtm DATETIME",
        &[
            "SET SESSION sql_mode = ''",
            "INSERT INTO {t} VALUES (1, '2024-01-01', '2024-01-01 00:00:00'), (2, '0000-00-00', NULL), \
             (3, NULL, '0000-00-00 00:00:00'), (4, '2024-00-10', NULL)",
        ],
    ) else {
        return;
    };
    let mut conn = open_session(URL).expect("session");
    let read = |conn: &mut Conn, sql: &str| read_all(conn, &table.sql(sql), 10).map(|(_, b)| b.len());
    let err = error_text(read(&mut conn, "SELECT id, dt FROM {t} ORDER BY id"));
    assert!(err.contains("column `dt`, row 2") && err.contains("zero date"), "{err}");
    let err = error_text(read(&mut conn, "SELECT dtm FROM {t} WHERE id > 1 ORDER BY id"));
    assert!(err.contains("column `dtm`, row 2") && err.contains("zero date"), "{err}");
    let err = error_text(read(&mut conn, "SELECT dt FROM {t} WHERE id = 4"));
    assert!(err.contains("column `dt`, row 1") && err.contains("zero date"), "{err}");
    // The connection stays usable after a failed read.
    assert_eq!(read(&mut conn, "SELECT dt FROM {t} WHERE id = 1").expect("read"), 1);

    // TIME is a span: beyond a day and negative values are read exactly.
    for (sql, micros) in [
        ("SELECT CAST('838:59:59' AS TIME) AS t", 3_020_399 * MICROS_PER_SECOND),
        ("SELECT CAST('-00:00:01.5' AS TIME(6)) AS t", -1_500_000),
        ("SELECT CAST('-838:59:59' AS TIME(6)) AS t", -3_020_399 * MICROS_PER_SECOND),
    ] {
        let (_, batches) = read_all(&mut conn, sql, 10).expect("time");
        let read = batches[0].column(0).as_primitive::<arrow::datatypes::DurationMicrosecondType>().value(0);
        assert_eq!(read, micros, "{sql}");
    }
    // A TINYINT(1) holding something else than 0 or 1 is refused, with the way out.
    let flags = Table::create("id INT PRIMARY KEY, f TINYINT(1)", &["INSERT INTO {t} VALUES (1, 1), (2, 0), (3, 2)"])
        .expect("table");
    let err = read_all(&mut conn, &flags.sql("SELECT f FROM {t} ORDER BY id"), 10).expect_err("refused");
    assert_eq!(
        crate::diagnostics::strip_df_prefix(&err),
        "MySQL: column `f`, row 3: 2 is not a boolean (0 or 1), and a TINYINT(1) column is \
         read as a boolean; read the column as an integer with mysql(\"...\", tinyint1: \"integer\"), or \
         convert it in the query"
    );
    let failure = crate::diagnostics::Failure::find(&err).expect("a typed failure");
    assert_eq!(
        (failure.code, failure.row, failure.column.as_deref()),
        (crate::diagnostics::codes::source::DECODE, Some(3), Some("f"))
    );
    let sql = flags.sql("SELECT f FROM {t} ORDER BY id");
    let schema = query_schema(&mut conn, &sql, Tinyint1::Integer).expect("schema");
    assert_eq!(schema.field(0).data_type(), &DataType::Int8);
    let err = error_text(query_schema(&mut conn, "SELECT ST_GeomFromText('POINT(1 1)') AS g", Tinyint1::Boolean));
    assert!(err.contains("column `g`") && err.contains("cast it in the query"), "{err}");
    let err = error_text(query_schema(&mut conn, "SELECT * FROM mysql_reader_no_such_table", Tinyint1::Boolean));
    assert!(err.contains("doesn't exist"), "{err}");

    // A value that does not fit the planned type fails rather than wrapping or becoming NULL.
    let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int8, true)]));
    let err = error_text(stream_query(&mut conn, "SELECT 1 AS v UNION ALL SELECT 300", &schema, 10, &mut |_| true));
    assert!(err.contains("column `v`, row 2") && err.contains("out of range"), "{err}");
}

#[test]
fn a_large_result_streams_in_batches_and_stops_when_told() {
    let Some(mut conn) = server() else { return };
    let sql = "SELECT seq FROM seq_1_to_500000";
    let schema = query_schema(&mut conn, sql, Tinyint1::Boolean).expect("schema");
    assert_eq!(schema.field(0).data_type(), &DataType::UInt64);
    let (mut sizes, mut sum) = (Vec::new(), 0_u64);
    stream_query(&mut conn, sql, &schema, 65_536, &mut |batch| {
        sizes.push(batch.num_rows());
        sum += batch.column(0).as_primitive::<arrow::datatypes::UInt64Type>().values().iter().sum::<u64>();
        true
    })
    .expect("stream");
    assert_eq!(sizes, [vec![65_536; 7], vec![500_000 - 7 * 65_536]].concat());
    assert_eq!(sum, 500_000 * 500_001 / 2);

    let mut emitted = 0;
    stream_query(&mut conn, sql, &schema, 1_000, &mut |batch| {
        assert_eq!(batch.num_rows(), 1_000);
        emitted += 1;
        emitted < 2
    })
    .expect("stopped stream");
    assert_eq!(emitted, 2, "no batch after emit said stop");
    let one: Option<i64> = conn.query_first("SELECT 1").expect("the connection is usable after an early stop");
    assert_eq!(one, Some(1));
}

/// The documented way to stop the server's work: kill the tagged statement from another
/// connection, after which the drain that follows `emit` returning false ends at once.
#[test]
fn killing_the_statement_ends_an_early_stop_at_once() {
    let Some(mut conn) = server() else { return };
    let mut killer = open_session(URL).expect("session");
    let tag = unique_name("flow-read-kill-test");
    // About 50 million rows: draining them all would take far longer than the bound below.
    let sql = format!("SELECT /* {tag} */ a.seq * 10000 + b.seq AS n FROM seq_1_to_5000 a, seq_1_to_10000 b");
    let schema = query_schema(&mut conn, &sql, Tinyint1::Boolean).expect("schema");
    let start = Instant::now();
    let mut killed = 0;
    stream_query(&mut conn, &sql, &schema, 10_000, &mut |_| {
        killed = crate::connect::mysql::kill_queries_tagged(&mut killer, &tag).expect("kill");
        false
    })
    .expect("an early stop is no error");
    assert_eq!(killed, 1, "the statement was still running");
    assert!(start.elapsed() < Duration::from_secs(10), "took {:?}", start.elapsed());
    let one: Option<i64> = conn.query_first("SELECT 1").expect("the connection is usable after the kill");
    assert_eq!(one, Some(1));
}

fn count(conn: &mut Conn, table: &Table) -> i64 {
    let sql = table.sql("SELECT COUNT(*) AS n FROM {t}");
    let (_, batches) = read_all(conn, &sql, 10).expect("count");
    batches[0].column(0).as_primitive::<Int64Type>().value(0)
}

#[test]
fn consistent_connections_share_one_snapshot() {
    let Some(mut table) = Table::create("id INT PRIMARY KEY", &["INSERT INTO {t} VALUES (1), (2), (3)"]) else {
        return;
    };
    let (mut conns, kind) = consistent_connections(URL, 3).expect("snapshot");
    assert_eq!(kind, SnapshotKind::Shared, "root has RELOAD");
    assert_eq!(conns.len(), 3);
    // Runs at once: the global read lock is gone.
    table.run("INSERT INTO {t} VALUES (4), (5)");
    for conn in &mut conns {
        assert_eq!(count(conn, &table), 3, "a snapshot connection sees the table as it was");
    }
    let mut fresh = open_session(URL).expect("session");
    assert_eq!(count(&mut fresh, &table), 5);
    let zone: Option<String> = conns[0].query_first("SELECT @@session.time_zone").expect("zone");
    assert_eq!(zone.as_deref(), Some("+00:00"));
}

#[test]
fn without_reload_each_connection_gets_its_own_snapshot() {
    let Some(mut table) = Table::create("id INT PRIMARY KEY", &["INSERT INTO {t} VALUES (1), (2)"]) else {
        return;
    };
    let user = unique_name("flow_noreload");
    let password = "pw-secret-123";
    table.run(&format!("CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'"));
    table.run(&format!("GRANT SELECT ON test.* TO '{user}'@'127.0.0.1'"));
    struct DropUser(String);
    impl Drop for DropUser {
        fn drop(&mut self) {
            if let Ok(mut conn) = open_session(URL) {
                let _ = conn.query_drop(format!("DROP USER IF EXISTS '{}'@'127.0.0.1'", self.0));
            }
        }
    }
    let _drop_user = DropUser(user.clone());

    let url = format!("mysql://{user}:{password}@127.0.0.1:3306/test");
    let (mut conns, kind) = consistent_connections(&url, 2).expect("snapshots");
    assert_eq!(kind, SnapshotKind::PerPartition);
    assert!(kind.note().contains("different moments"));
    table.run("INSERT INTO {t} VALUES (3)");
    for conn in &mut conns {
        assert_eq!(count(conn, &table), 2, "each connection still reads its own snapshot");
    }

    let err = error_text(consistent_connections(&format!("mysql://{user}:wrong-{password}@127.0.0.1:3306/test"), 1));
    assert!(err.contains("cannot connect") && !err.contains(password), "{err}");
}

/// Times a 1,000,000-row read of mixed columns through this reader, with the binary and the
/// text protocol. Run with
/// `cargo test --lib mysql::reader::tests::measure -- --ignored --nocapture`.
#[test]
#[ignore]
fn measure_one_million_rows() {
    let Some(table) = Table::create(
        "id BIGINT PRIMARY KEY, customer_id INT NOT NULL, status VARCHAR(16) NOT NULL, total DECIMAL(12,2) NOT NULL, \
         created_at DATETIME(6) NOT NULL, note VARCHAR(64), weight DOUBLE, ship_date DATE",
        &["INSERT INTO {t} SELECT seq, seq % 10007, ELT(1 + seq % 5, 'new', 'paid', 'shipped', 'done', 'cancelled'), \
           (seq % 100000) / 100, TIMESTAMP '2024-01-01 00:00:00' + INTERVAL seq SECOND, \
           IF(seq % 3 = 0, NULL, REPEAT(CHAR(97 + seq % 26), 20 + seq % 40)), seq / 7, \
           IF(seq % 4 = 0, NULL, DATE '2024-01-01' + INTERVAL seq % 365 DAY) FROM seq_1_to_1000000"],
    ) else {
        return;
    };
    let sql = table.sql("SELECT * FROM {t}");
    let mut conn = open_session(URL).expect("session");
    let schema = query_schema(&mut conn, &sql, Tinyint1::Boolean).expect("schema");
    type Reader = fn(&mut Conn, &str, &SchemaRef, usize, &mut dyn FnMut(RecordBatch) -> bool) -> Result<()>;
    for round in 0..2 {
        for (name, read) in [("binary (exec_iter)", stream_query as Reader), ("text (query_iter)", stream_query_text)] {
            let start = Instant::now();
            let mut rows = 0;
            read(&mut conn, &sql, &schema, 8192, &mut |batch| {
                rows += batch.num_rows();
                true
            })
            .expect("read");
            let seconds = start.elapsed().as_secs_f64();
            println!(
                "round {round}: native {name}: {rows} rows in {seconds:.2} s ({:.0} rows/s)",
                rows as f64 / seconds
            );
        }
    }
}
