//! Whole-database schema copies against the real servers: a PostgreSQL schema of related tables
//! is read into a catalog (checked field by field), recreated on PostgreSQL, MariaDB and SQLite,
//! and each target's own catalog is read back and checked; a MariaDB database goes the other
//! way to PostgreSQL. Identities must continue after the loaded rows.

use crate::common::{mariadb_available, postgres_available, runtime};
use flow::connect::catalog::read_catalog;
use flow::connect::mysql::ddl::{MysqlDdl, auto_increment_sql};
use flow::connect::postgres::ddl::PostgresDdl;
use flow::connect::sqlite::ddl::SqliteDdl;
use flow::plan::{Backend, Endpoint};
use flow::schema::ddl::SequenceReset;
use flow::schema::{
    Catalog, ColumnDef, ColumnType, DefaultValue, ForeignKeyDef, IndexDef, KeyDef, SchemaPlan, TableDef, TableFilter,
    Untranslated, plan_schema,
};
use mysql::prelude::Queryable;

const PG: &str = "postgresql://postgres@127.0.0.1:5432/test";
const MY_ROOT: &str = "mysql://root@127.0.0.1:3306/test";

fn endpoint(backend: Backend, url: &str) -> Endpoint {
    Endpoint { name: "db".into(), backend, url: url.into(), options: Default::default() }
}

fn only(pattern: &str) -> TableFilter {
    TableFilter { include: vec![pattern.into()], exclude: vec![] }
}

fn col(name: &str, source_type: &str, column_type: ColumnType, nullable: bool) -> ColumnDef {
    ColumnDef {
        name: name.into(),
        source_type: source_type.into(),
        column_type,
        nullable,
        default: None,
        identity: false,
    }
}

fn with_default(mut c: ColumnDef, default: DefaultValue) -> ColumnDef {
    c.default = Some(default);
    c
}

fn identity(mut c: ColumnDef) -> ColumnDef {
    c.identity = true;
    c
}

fn lit(text: &str) -> DefaultValue {
    DefaultValue::Literal(text.into())
}

fn key(name: Option<&str>, columns: &[&str]) -> KeyDef {
    KeyDef { name: name.map(str::to_string), columns: columns.iter().map(|c| c.to_string()).collect() }
}

fn index(name: &str, columns: &[&str], unique: bool) -> IndexDef {
    IndexDef { name: name.into(), columns: columns.iter().map(|c| c.to_string()).collect(), unique }
}

fn fk(
    name: Option<&str>,
    columns: &[&str],
    ref_schema: Option<&str>,
    ref_table: &str,
    on_delete: &str,
    on_update: &str,
) -> ForeignKeyDef {
    ForeignKeyDef {
        name: name.map(str::to_string),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        ref_schema: ref_schema.map(str::to_string),
        ref_table: ref_table.into(),
        ref_columns: vec!["id".into()],
        on_delete: on_delete.into(),
        on_update: on_update.into(),
    }
}

fn table(schema: Option<&str>, name: &str, columns: Vec<ColumnDef>) -> TableDef {
    TableDef { columns, ..TableDef::named(schema.map(str::to_string), name.into(), 0) }
}

fn untranslated(kind: &str, object: &str, definition: &str) -> Untranslated {
    Untranslated::new(kind, object.into(), definition.into())
}

/// Compares table by table, so a failure shows the one table that differs.
fn assert_catalog(actual: &Catalog, expected: &Catalog) {
    let names = |c: &Catalog| c.tables.iter().map(TableDef::display_name).collect::<Vec<_>>();
    assert_eq!(names(actual), names(expected));
    for (a, e) in actual.tables.iter().zip(&expected.tables) {
        assert_eq!(a, e, "table {}", e.display_name());
    }
}

fn without_estimates(mut c: Catalog) -> Catalog {
    for t in &mut c.tables {
        t.estimated_rows = 0;
    }
    c
}

async fn pg() -> tokio_postgres::Client {
    flow::connect::postgres::connect(PG).await.expect("PostgreSQL connects")
}

async fn pg_batch(client: &tokio_postgres::Client, sql: &str) {
    client.batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e:?}"));
}

fn my(url: &str) -> mysql::Conn {
    mysql::Conn::new(mysql::Opts::from_url(url).expect("url")).expect("MariaDB connects")
}

fn my_exec(conn: &mut mysql::Conn, sql: &str) {
    conn.query_drop(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// Every statement of a plan, in the order a copy runs them, with `load` in the middle.
fn statements(plan: &SchemaPlan) -> (Vec<String>, Vec<String>) {
    let before: Vec<String> =
        plan.tables.iter().flat_map(|t| t.create_types.iter().chain(&t.before_load).cloned()).collect();
    let mut after: Vec<String> = plan.tables.iter().flat_map(|t| t.after_load.clone()).collect();
    for t in &plan.tables {
        if let Some(SequenceReset::Sql { sql }) = &t.sequence_reset {
            after.push(sql.clone());
        }
    }
    after.extend(plan.foreign_keys.iter().cloned());
    (before, after)
}

const PG_SOURCE: &str = r#"
DROP SCHEMA IF EXISTS flow_cat_t1 CASCADE;
CREATE SCHEMA flow_cat_t1;
CREATE TYPE flow_cat_t1.order_status AS ENUM ('new', 'paid', 'shipped');
CREATE TABLE flow_cat_t1.customers (
  id serial PRIMARY KEY,
  email varchar(120) NOT NULL,
  name text,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT customers_email_key UNIQUE (email)
);
CREATE INDEX customers_email_lower_idx ON flow_cat_t1.customers (lower(email));
CREATE TABLE flow_cat_t1.orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  customer_id integer NOT NULL REFERENCES flow_cat_t1.customers (id) ON DELETE CASCADE,
  status flow_cat_t1.order_status NOT NULL DEFAULT 'new',
  note text DEFAULT 'new'::text,
  total numeric(12,2) NOT NULL DEFAULT 0,
  CONSTRAINT orders_total_check CHECK (total >= 0)
);
CREATE INDEX orders_customer_status_idx ON flow_cat_t1.orders (customer_id, status);
CREATE TABLE flow_cat_t1.order_lines (
  order_id bigint NOT NULL REFERENCES flow_cat_t1.orders (id),
  line smallint NOT NULL,
  sku char(8) NOT NULL,
  qty integer NOT NULL DEFAULT 1,
  PRIMARY KEY (order_id, line)
);
CREATE UNIQUE INDEX order_lines_sku_idx ON flow_cat_t1.order_lines (order_id, sku);
CREATE TABLE flow_cat_t1.audit_log (
  at timestamp DEFAULT CURRENT_TIMESTAMP,
  message text,
  tag varchar(10) DEFAULT lower('X')
);
CREATE FUNCTION flow_cat_t1.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER orders_touch BEFORE UPDATE ON flow_cat_t1.orders FOR EACH ROW EXECUTE FUNCTION flow_cat_t1.touch();
"#;

/// What the PostgreSQL reader must find in `PG_SOURCE`, in schema `schema`. On a copy (the
/// schema is not the source's), only what is carried over remains.
fn pg_expected(schema: &str, copy: bool) -> Catalog {
    let s = Some(schema);
    let mut audit_log = table(
        s,
        "audit_log",
        vec![
            with_default(
                col("at", "timestamp without time zone", ColumnType::Timestamp, true),
                DefaultValue::CurrentTimestamp,
            ),
            col("message", "text", ColumnType::Text, true),
            col("tag", "character varying(10)", ColumnType::Varchar { length: Some(10) }, true),
        ],
    );
    if !copy {
        audit_log.columns[2].default = Some(DefaultValue::Untranslatable("lower('X'::text)".into()));
    }

    let mut customers = table(
        s,
        "customers",
        vec![
            identity(col("id", "integer", ColumnType::Int, false)),
            col("email", "character varying(120)", ColumnType::Varchar { length: Some(120) }, false),
            col("name", "text", ColumnType::Text, true),
            with_default(
                col("created_at", "timestamp with time zone", ColumnType::TimestampTz, false),
                DefaultValue::CurrentTimestamp,
            ),
        ],
    );
    customers.primary_key = Some(key(Some("customers_pkey"), &["id"]));
    customers.uniques = vec![key(Some("customers_email_key"), &["email"])];
    if !copy {
        customers.untranslated = vec![untranslated(
            "index",
            "customers.customers_email_lower_idx",
            "CREATE INDEX customers_email_lower_idx ON flow_cat_t1.customers USING btree (lower((email)::text))",
        )];
    }

    let mut order_lines = table(
        s,
        "order_lines",
        vec![
            col("order_id", "bigint", ColumnType::BigInt, false),
            col("line", "smallint", ColumnType::SmallInt, false),
            col("sku", "character(8)", ColumnType::Char { length: 8 }, false),
            with_default(col("qty", "integer", ColumnType::Int, false), lit("1")),
        ],
    );
    order_lines.primary_key = Some(key(Some("order_lines_pkey"), &["order_id", "line"]));
    order_lines.indexes = vec![index("order_lines_sku_idx", &["order_id", "sku"], true)];
    order_lines.foreign_keys =
        vec![fk(Some("order_lines_order_id_fkey"), &["order_id"], s, "orders", "NO ACTION", "NO ACTION")];

    let status =
        ColumnType::Enum { name: "order_status".into(), values: vec!["new".into(), "paid".into(), "shipped".into()] };
    let mut orders = table(
        s,
        "orders",
        vec![
            identity(col("id", "bigint", ColumnType::BigInt, false)),
            col("customer_id", "integer", ColumnType::Int, false),
            with_default(col("status", &format!("{schema}.order_status"), status, false), lit("'new'")),
            with_default(col("note", "text", ColumnType::Text, true), lit("'new'")),
            with_default(
                col("total", "numeric(12,2)", ColumnType::Decimal { precision: 12, scale: 2 }, false),
                lit("0"),
            ),
        ],
    );
    orders.primary_key = Some(key(Some("orders_pkey"), &["id"]));
    orders.indexes = vec![index("orders_customer_status_idx", &["customer_id", "status"], false)];
    orders.foreign_keys =
        vec![fk(Some("orders_customer_id_fkey"), &["customer_id"], s, "customers", "CASCADE", "NO ACTION")];
    if !copy {
        orders.untranslated = vec![
            untranslated("check constraint", "orders.orders_total_check", "CHECK ((total >= (0)::numeric))"),
            untranslated(
                "trigger",
                "orders.orders_touch",
                "CREATE TRIGGER orders_touch BEFORE UPDATE ON flow_cat_t1.orders FOR EACH ROW EXECUTE FUNCTION flow_cat_t1.touch()",
            ),
        ];
    }
    Catalog { tables: vec![audit_log, customers, order_lines, orders], ..Default::default() }
}

/// The same rows on every target: explicit identity values with a gap, so "continues after
/// MAX" is told apart from "continues after the row count".
const ROWS: &[&str] = &[
    "INSERT INTO {customers} ({id}, {email}, {created_at}) VALUES (1, 'a@x', '2024-01-01 00:00:00'), (2, 'b@x', '2024-01-01 00:00:00'), (5, 'c@x', '2024-01-01 00:00:00')",
    "INSERT INTO {orders} ({id}, {customer_id}, {total}) VALUES (10, 1, 1.50), (11, 5, 2.00)",
    "INSERT INTO {order_lines} ({order_id}, {line}, {sku}) VALUES (10, 1, 'SKU00001')",
];

fn rows_for(plan: &SchemaPlan, dialect: flow::plan::sql::Dialect) -> Vec<String> {
    ROWS.iter()
        .map(|sql| {
            let mut sql = sql.to_string();
            for t in &plan.tables {
                sql = sql.replace(&format!("{{{}}}", t.source.1), &dialect.table(&t.target));
            }
            for c in ["id", "email", "created_at", "customer_id", "total", "order_id", "line", "sku"] {
                sql = sql.replace(&format!("{{{c}}}"), &dialect.ident(c));
            }
            sql
        })
        .collect()
}

#[test]
fn postgres_schema_is_read_and_recreated_on_every_target() {
    if !postgres_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(async {
        let client = pg().await;
        pg_batch(&client, PG_SOURCE).await;
        let source = endpoint(Backend::Postgres, PG);
        let catalog = read_catalog(&source, &only("flow_cat_t1.*")).await.expect("catalog");
        assert_catalog(&catalog, &pg_expected("flow_cat_t1", false));

        // Filters: a table-name pattern finds the table in any schema; excludes win.
        let filtered = read_catalog(
            &source,
            &TableFilter { include: vec!["flow_cat_t1.order*".into()], exclude: vec!["*_lines".into()] },
        )
        .await
        .expect("filtered catalog");
        assert_eq!(filtered.tables.iter().map(TableDef::display_name).collect::<Vec<_>>(), vec!["flow_cat_t1.orders"]);

        postgres_target(&client, &catalog).await;
        if mariadb_available() {
            mysql_target(&catalog).await;
        }
        sqlite_target(&catalog).await;
    });
}

/// PostgreSQL → PostgreSQL (another schema): the copy's catalog is the source's minus what is
/// reported as not carried over.
async fn postgres_target(client: &tokio_postgres::Client, catalog: &Catalog) {
    pg_batch(client, "DROP SCHEMA IF EXISTS flow_cat_t1_copy CASCADE; CREATE SCHEMA flow_cat_t1_copy").await;
    let plan = plan_schema(catalog, &PostgresDdl, Some("flow_cat_t1_copy"));
    assert_eq!(
        plan.all_warnings(),
        vec![
            "default audit_log.tag is not carried over: lower('X'::text)",
            "index customers.customers_email_lower_idx is not carried over: CREATE INDEX customers_email_lower_idx ON flow_cat_t1.customers USING btree (lower((email)::text))",
            "check constraint orders.orders_total_check is not carried over: CHECK ((total >= (0)::numeric))",
            "trigger orders.orders_touch is not carried over: CREATE TRIGGER orders_touch BEFORE UPDATE ON flow_cat_t1.orders FOR EACH ROW EXECUTE FUNCTION flow_cat_t1.touch()",
        ]
    );
    let (before, after) = statements(&plan);
    for sql in before.iter().chain(&rows_for(&plan, flow::plan::sql::Dialect::Postgres)).chain(&after) {
        pg_batch(client, sql).await;
    }
    let next: i32 = client
        .query_one("INSERT INTO flow_cat_t1_copy.customers (email, created_at) VALUES ('d@x', now()) RETURNING id", &[])
        .await
        .expect("insert")
        .get(0);
    assert_eq!(next, 6, "the serial continues after MAX(id)");
    let next: i64 = client
        .query_one("INSERT INTO flow_cat_t1_copy.orders (customer_id) VALUES (2) RETURNING id", &[])
        .await
        .expect("insert")
        .get(0);
    assert_eq!(next, 12, "the identity continues after MAX(id)");
    let refused = client.execute("INSERT INTO flow_cat_t1_copy.order_lines VALUES (99, 1, 'X', 1)", &[]).await;
    assert!(refused.is_err(), "the foreign key is enforced");

    let copy = read_catalog(&endpoint(Backend::Postgres, PG), &only("flow_cat_t1_copy.*")).await.expect("copy");
    assert_catalog(&without_estimates(copy), &pg_expected("flow_cat_t1_copy", true));
}

/// PostgreSQL → MariaDB: the target's own catalog, read back with the MySQL reader.
async fn mysql_target(catalog: &Catalog) {
    let mut root = my(MY_ROOT);
    my_exec(&mut root, "DROP DATABASE IF EXISTS flow_cat_t1");
    my_exec(&mut root, "CREATE DATABASE flow_cat_t1");
    let url = "mysql://root@127.0.0.1:3306/flow_cat_t1";
    let mut conn = my(url);
    let plan = plan_schema(catalog, &MysqlDdl, None);
    let customers = &plan.tables[1];
    assert_eq!(
        customers.before_load,
        vec![
            "CREATE TABLE `customers` (`id` INT NOT NULL AUTO_INCREMENT, `email` VARCHAR(120) NOT NULL, `name` LONGTEXT, \
         `created_at` DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (`id`)) DEFAULT CHARACTER SET utf8mb4"
        ]
    );
    assert_eq!(
        customers.warnings,
        vec![
            "index customers.customers_email_lower_idx is not carried over: CREATE INDEX customers_email_lower_idx ON flow_cat_t1.customers USING btree (lower((email)::text))",
            "column customers.created_at: a timestamp with time zone becomes DATETIME(6), which keeps no time zone: values are stored in UTC",
        ]
    );
    let (before, after) = statements(&plan);
    for sql in before.iter().chain(&rows_for(&plan, flow::plan::sql::Dialect::Mysql)) {
        my_exec(&mut conn, sql);
    }
    for sql in plan.tables.iter().flat_map(|t| &t.after_load) {
        my_exec(&mut conn, sql);
    }
    for t in &plan.tables {
        if let Some(SequenceReset::NextValue { next_value_sql }) = &t.sequence_reset {
            let next: u64 = conn.query_first(next_value_sql).expect("next value").expect("a row");
            my_exec(&mut conn, &auto_increment_sql(&t.target, next));
        }
    }
    assert!(after.iter().all(|s| !s.starts_with("SELECT setval")));
    for sql in &plan.foreign_keys {
        my_exec(&mut conn, sql);
    }
    my_exec(&mut conn, "INSERT INTO customers (email, created_at) VALUES ('d@x', NOW())");
    assert_eq!(conn.last_insert_id(), 6);
    my_exec(&mut conn, "INSERT INTO orders (customer_id) VALUES (2)");
    assert_eq!(conn.last_insert_id(), 12);
    assert!(conn.query_drop("INSERT INTO order_lines VALUES (99, 1, 'X', 1)").is_err(), "the foreign key is enforced");

    let back = read_catalog(&endpoint(Backend::Mysql, url), &TableFilter::all()).await.expect("MySQL catalog");
    let audit_log = table(
        None,
        "audit_log",
        vec![
            with_default(col("at", "datetime(6)", ColumnType::Timestamp, true), DefaultValue::CurrentTimestamp),
            col("message", "longtext", ColumnType::Text, true),
            col("tag", "varchar(10)", ColumnType::Varchar { length: Some(10) }, true),
        ],
    );
    let mut customers = table(
        None,
        "customers",
        vec![
            identity(col("id", "int(11)", ColumnType::Int, false)),
            col("email", "varchar(120)", ColumnType::Varchar { length: Some(120) }, false),
            col("name", "longtext", ColumnType::Text, true),
            with_default(
                col("created_at", "datetime(6)", ColumnType::Timestamp, false),
                DefaultValue::CurrentTimestamp,
            ),
        ],
    );
    customers.primary_key = Some(key(None, &["id"]));
    customers.uniques = vec![key(Some("customers_email_key"), &["email"])];
    let mut order_lines = table(
        None,
        "order_lines",
        vec![
            col("order_id", "bigint(20)", ColumnType::BigInt, false),
            col("line", "smallint(6)", ColumnType::SmallInt, false),
            col("sku", "char(8)", ColumnType::Char { length: 8 }, false),
            with_default(col("qty", "int(11)", ColumnType::Int, false), lit("1")),
        ],
    );
    order_lines.primary_key = Some(key(None, &["order_id", "line"]));
    // MySQL has no unique index apart from a unique key.
    order_lines.uniques = vec![key(Some("order_lines_sku_idx"), &["order_id", "sku"])];
    order_lines.foreign_keys =
        vec![fk(Some("order_lines_order_id_fkey"), &["order_id"], None, "orders", "NO ACTION", "NO ACTION")];
    let status =
        ColumnType::Enum { name: "orders_status".into(), values: vec!["new".into(), "paid".into(), "shipped".into()] };
    let mut orders = table(
        None,
        "orders",
        vec![
            identity(col("id", "bigint(20)", ColumnType::BigInt, false)),
            col("customer_id", "int(11)", ColumnType::Int, false),
            with_default(col("status", "enum('new','paid','shipped')", status, false), lit("'new'")),
            with_default(col("note", "longtext", ColumnType::Text, true), lit("'new'")),
            with_default(
                col("total", "decimal(12,2)", ColumnType::Decimal { precision: 12, scale: 2 }, false),
                lit("0.00"),
            ),
        ],
    );
    orders.primary_key = Some(key(None, &["id"]));
    orders.indexes = vec![index("orders_customer_status_idx", &["customer_id", "status"], false)];
    orders.foreign_keys =
        vec![fk(Some("orders_customer_id_fkey"), &["customer_id"], None, "customers", "CASCADE", "NO ACTION")];
    assert_catalog(
        &without_estimates(back),
        &Catalog { tables: vec![audit_log, customers, order_lines, orders], ..Default::default() },
    );
}

/// PostgreSQL → SQLite: foreign keys inside `CREATE TABLE`, the rowid as identity.
async fn sqlite_target(catalog: &Catalog) {
    let dir = crate::common::temp_dir();
    let path = dir.path().join("copy.db");
    let path = path.to_str().expect("utf-8 path").to_string();
    let plan = plan_schema(catalog, &SqliteDdl, None);
    assert!(plan.foreign_keys.is_empty(), "SQLite foreign keys live in CREATE TABLE");
    assert_eq!(
        plan.tables[3].before_load,
        vec![
            "CREATE TABLE \"orders\" (\"id\" INTEGER PRIMARY KEY, \"customer_id\" INTEGER NOT NULL, \
         \"status\" TEXT NOT NULL DEFAULT 'new' CHECK (\"status\" IN ('new', 'paid', 'shipped')), \"note\" TEXT DEFAULT 'new', \
         \"total\" TEXT NOT NULL DEFAULT 0, \
         CONSTRAINT \"orders_customer_id_fkey\" FOREIGN KEY (\"customer_id\") REFERENCES \"customers\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION)"
        ]
    );
    {
        let conn = rusqlite::Connection::open(&path).expect("sqlite");
        let (before, after) = statements(&plan);
        for sql in before.iter().chain(&rows_for(&plan, flow::plan::sql::Dialect::Sqlite)).chain(&after) {
            conn.execute_batch(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        }
        conn.execute_batch("PRAGMA foreign_keys = ON").expect("pragma");
        conn.execute("INSERT INTO customers (email, created_at) VALUES ('d@x', '2024-01-02')", []).expect("insert");
        assert_eq!(conn.last_insert_rowid(), 6);
        conn.execute("INSERT INTO orders (customer_id) VALUES (2)", []).expect("insert");
        assert_eq!(conn.last_insert_rowid(), 12);
        assert!(
            conn.execute("INSERT INTO order_lines VALUES (99, 1, 'X', 1)", []).is_err(),
            "the foreign key is enforced"
        );
    }

    let back = read_catalog(&endpoint(Backend::Sqlite, &path), &TableFilter::all()).await.expect("SQLite catalog");
    let audit_log = table(
        None,
        "audit_log",
        vec![
            with_default(col("at", "TIMESTAMP", ColumnType::Timestamp, true), DefaultValue::CurrentTimestamp),
            col("message", "TEXT", ColumnType::Text, true),
            col("tag", "TEXT", ColumnType::Text, true),
        ],
    );
    let mut customers = table(
        None,
        "customers",
        vec![
            identity(col("id", "INTEGER", ColumnType::BigInt, false)),
            col("email", "TEXT", ColumnType::Text, false),
            col("name", "TEXT", ColumnType::Text, true),
            with_default(
                col("created_at", "TIMESTAMPTZ", ColumnType::TimestampTz, false),
                DefaultValue::CurrentTimestamp,
            ),
        ],
    );
    customers.primary_key = Some(key(None, &["id"]));
    // A unique constraint becomes a unique index on SQLite.
    customers.indexes = vec![index("customers_email_key", &["email"], true)];
    customers.estimated_rows = 4;
    let mut order_lines = table(
        None,
        "order_lines",
        vec![
            col("order_id", "INTEGER", ColumnType::BigInt, false),
            col("line", "INTEGER", ColumnType::BigInt, false),
            col("sku", "TEXT", ColumnType::Text, false),
            with_default(col("qty", "INTEGER", ColumnType::BigInt, false), lit("1")),
        ],
    );
    order_lines.primary_key = Some(key(None, &["order_id", "line"]));
    order_lines.indexes = vec![index("order_lines_sku_idx", &["order_id", "sku"], true)];
    order_lines.foreign_keys = vec![fk(None, &["order_id"], None, "orders", "NO ACTION", "NO ACTION")];
    order_lines.estimated_rows = 1;
    let mut orders = table(
        None,
        "orders",
        vec![
            identity(col("id", "INTEGER", ColumnType::BigInt, false)),
            col("customer_id", "INTEGER", ColumnType::BigInt, false),
            with_default(col("status", "TEXT", ColumnType::Text, false), lit("'new'")),
            with_default(col("note", "TEXT", ColumnType::Text, true), lit("'new'")),
            with_default(col("total", "TEXT", ColumnType::Text, false), lit("0")),
        ],
    );
    orders.primary_key = Some(key(None, &["id"]));
    orders.indexes = vec![index("orders_customer_status_idx", &["customer_id", "status"], false)];
    orders.foreign_keys = vec![fk(None, &["customer_id"], None, "customers", "CASCADE", "NO ACTION")];
    orders.untranslated =
        vec![untranslated("check constraint", "orders.check1", "CHECK (\"status\" IN ('new', 'paid', 'shipped'))")];
    orders.estimated_rows = 3;
    assert_catalog(&back, &Catalog { tables: vec![audit_log, customers, order_lines, orders], ..Default::default() });
}

const MY_SOURCE: &[&str] = &[
    "DROP DATABASE IF EXISTS flow_cat_t2",
    "CREATE DATABASE flow_cat_t2",
    "CREATE TABLE flow_cat_t2.authors (id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY, name VARCHAR(80) NOT NULL, \
     country CHAR(2) DEFAULT 'NL', active TINYINT(1) NOT NULL DEFAULT 1, UNIQUE KEY uq_author_name (name)) ENGINE=InnoDB",
    "CREATE TABLE flow_cat_t2.books (id BIGINT AUTO_INCREMENT PRIMARY KEY, author_id INT UNSIGNED NOT NULL, \
     title VARCHAR(200) NOT NULL, genre ENUM('fiction','non-fiction','poetry') NOT NULL DEFAULT 'fiction', \
     price DECIMAL(8,2), meta JSON, published DATETIME DEFAULT CURRENT_TIMESTAMP, \
     updated TIMESTAMP NULL DEFAULT NULL ON UPDATE CURRENT_TIMESTAMP, KEY idx_title (title), \
     CONSTRAINT chk_price CHECK (price >= 0), \
     CONSTRAINT fk_books_author FOREIGN KEY (author_id) REFERENCES flow_cat_t2.authors (id) ON DELETE RESTRICT ON UPDATE CASCADE) ENGINE=InnoDB",
    "CREATE TABLE flow_cat_t2.book_tags (book_id BIGINT NOT NULL, tag VARCHAR(30) NOT NULL, PRIMARY KEY (book_id, tag), \
     CONSTRAINT fk_tags_book FOREIGN KEY (book_id) REFERENCES flow_cat_t2.books (id) ON DELETE CASCADE) ENGINE=InnoDB",
    "CREATE TRIGGER flow_cat_t2.books_bi BEFORE INSERT ON flow_cat_t2.books FOR EACH ROW SET NEW.title = TRIM(NEW.title)",
];

#[test]
fn mysql_schema_is_read_and_recreated_on_postgres() {
    if !mariadb_available() {
        return;
    }
    let mut root = my(MY_ROOT);
    for sql in MY_SOURCE {
        my_exec(&mut root, sql);
    }
    let rt = runtime();
    let source = endpoint(Backend::Mysql, "mysql://root@127.0.0.1:3306/flow_cat_t2");
    let catalog = rt.block_on(read_catalog(&source, &TableFilter::all())).expect("MySQL catalog");

    let mut authors = table(
        None,
        "authors",
        vec![
            identity(col("id", "int(10) unsigned", ColumnType::BigInt, false)),
            col("name", "varchar(80)", ColumnType::Varchar { length: Some(80) }, false),
            with_default(col("country", "char(2)", ColumnType::Char { length: 2 }, true), lit("'NL'")),
            with_default(col("active", "tinyint(1)", ColumnType::Boolean, false), lit("1")),
        ],
    );
    authors.primary_key = Some(key(None, &["id"]));
    authors.uniques = vec![key(Some("uq_author_name"), &["name"])];
    let mut book_tags = table(
        None,
        "book_tags",
        vec![
            col("book_id", "bigint(20)", ColumnType::BigInt, false),
            col("tag", "varchar(30)", ColumnType::Varchar { length: Some(30) }, false),
        ],
    );
    book_tags.primary_key = Some(key(None, &["book_id", "tag"]));
    book_tags.foreign_keys = vec![fk(Some("fk_tags_book"), &["book_id"], None, "books", "CASCADE", "RESTRICT")];
    let genre = ColumnType::Enum {
        name: "books_genre".into(),
        values: vec!["fiction".into(), "non-fiction".into(), "poetry".into()],
    };
    let mut books = table(
        None,
        "books",
        vec![
            identity(col("id", "bigint(20)", ColumnType::BigInt, false)),
            col("author_id", "int(10) unsigned", ColumnType::BigInt, false),
            col("title", "varchar(200)", ColumnType::Varchar { length: Some(200) }, false),
            with_default(
                col("genre", "enum('fiction','non-fiction','poetry')", genre.clone(), false),
                lit("'fiction'"),
            ),
            col("price", "decimal(8,2)", ColumnType::Decimal { precision: 8, scale: 2 }, true),
            col("meta", "longtext", ColumnType::JsonText, true),
            with_default(col("published", "datetime", ColumnType::Timestamp, true), DefaultValue::CurrentTimestamp),
            col("updated", "timestamp", ColumnType::TimestampTz, true),
        ],
    );
    books.primary_key = Some(key(None, &["id"]));
    // InnoDB indexed the foreign key's column under the constraint's name.
    books.indexes = vec![index("fk_books_author", &["author_id"], false), index("idx_title", &["title"], false)];
    books.foreign_keys = vec![fk(Some("fk_books_author"), &["author_id"], None, "authors", "RESTRICT", "CASCADE")];
    books.untranslated = vec![
        untranslated("check constraint", "books.chk_price", "CHECK (`price` >= 0)"),
        untranslated("default", "books.updated", "ON UPDATE CURRENT_TIMESTAMP()"),
        untranslated("trigger", "books.books_bi", "BEFORE INSERT FOR EACH ROW SET NEW.title = TRIM(NEW.title)"),
    ];
    assert_catalog(
        &without_estimates(catalog.clone()),
        &Catalog { tables: vec![authors, book_tags, books], ..Default::default() },
    );

    if !postgres_available() {
        return;
    }
    rt.block_on(async {
        let client = pg().await;
        pg_batch(&client, "DROP SCHEMA IF EXISTS flow_cat_t2 CASCADE; CREATE SCHEMA flow_cat_t2").await;
        let plan = plan_schema(&catalog, &PostgresDdl, Some("flow_cat_t2"));
        assert_eq!(plan.all_warnings(), vec![
            "check constraint books.chk_price is not carried over: CHECK (`price` >= 0)",
            "default books.updated is not carried over: ON UPDATE CURRENT_TIMESTAMP()",
            "trigger books.books_bi is not carried over: BEFORE INSERT FOR EACH ROW SET NEW.title = TRIM(NEW.title)",
        ]);
        assert_eq!(plan.tables[2].create_types[0], "CREATE TYPE \"flow_cat_t2\".\"books_genre\" AS ENUM ('fiction', 'non-fiction', 'poetry')");
        let (before, after) = statements(&plan);
        let rows = [
            "INSERT INTO flow_cat_t2.authors (id, name) VALUES (3, 'Ann'), (7, 'Bob')",
            "INSERT INTO flow_cat_t2.books (id, author_id, title, genre) VALUES (20, 3, 'One', 'poetry'), (21, 7, 'Two', 'fiction')",
            "INSERT INTO flow_cat_t2.book_tags VALUES (20, 'x')",
        ];
        for sql in before.iter().map(String::as_str).chain(rows).chain(after.iter().map(String::as_str)) {
            pg_batch(&client, sql).await;
        }
        let next: i64 = client
            .query_one("INSERT INTO flow_cat_t2.authors (name) VALUES ('Cy') RETURNING id", &[])
            .await
            .expect("insert")
            .get(0);
        assert_eq!(next, 8);
        let row = client
            .query_one("INSERT INTO flow_cat_t2.books (author_id, title) VALUES (8, 'Three') RETURNING id, genre::text, published IS NOT NULL", &[])
            .await
            .expect("insert");
        assert_eq!((row.get::<_, i64>(0), row.get::<_, String>(1), row.get::<_, bool>(2)), (22, "fiction".into(), true));
        let refused = client.execute("INSERT INTO flow_cat_t2.book_tags VALUES (99, 'y')", &[]).await;
        assert!(refused.is_err(), "the foreign key is enforced");

        let back = read_catalog(&endpoint(Backend::Postgres, PG), &only("flow_cat_t2.*")).await.expect("catalog");
        let s = Some("flow_cat_t2");
        let mut authors = table(s, "authors", vec![
            identity(col("id", "bigint", ColumnType::BigInt, false)),
            col("name", "character varying(80)", ColumnType::Varchar { length: Some(80) }, false),
            with_default(col("country", "character(2)", ColumnType::Char { length: 2 }, true), lit("'NL'")),
            with_default(col("active", "boolean", ColumnType::Boolean, false), lit("TRUE")),
        ]);
        authors.primary_key = Some(key(Some("authors_pkey"), &["id"]));
        authors.uniques = vec![key(Some("uq_author_name"), &["name"])];
        let mut book_tags = table(s, "book_tags", vec![
            col("book_id", "bigint", ColumnType::BigInt, false),
            col("tag", "character varying(30)", ColumnType::Varchar { length: Some(30) }, false),
        ]);
        book_tags.primary_key = Some(key(Some("book_tags_pkey"), &["book_id", "tag"]));
        book_tags.foreign_keys = vec![fk(Some("fk_tags_book"), &["book_id"], s, "books", "CASCADE", "RESTRICT")];
        let mut books = table(s, "books", vec![
            identity(col("id", "bigint", ColumnType::BigInt, false)),
            col("author_id", "bigint", ColumnType::BigInt, false),
            col("title", "character varying(200)", ColumnType::Varchar { length: Some(200) }, false),
            with_default(col("genre", "flow_cat_t2.books_genre", genre, false), lit("'fiction'")),
            col("price", "numeric(8,2)", ColumnType::Decimal { precision: 8, scale: 2 }, true),
            col("meta", "json", ColumnType::JsonText, true),
            with_default(col("published", "timestamp without time zone", ColumnType::Timestamp, true), DefaultValue::CurrentTimestamp),
            col("updated", "timestamp with time zone", ColumnType::TimestampTz, true),
        ]);
        books.primary_key = Some(key(Some("books_pkey"), &["id"]));
        books.indexes = vec![index("fk_books_author", &["author_id"], false), index("idx_title", &["title"], false)];
        books.foreign_keys = vec![fk(Some("fk_books_author"), &["author_id"], s, "authors", "RESTRICT", "CASCADE")];
        assert_catalog(&without_estimates(back), &Catalog { tables: vec![authors, book_tags, books], ..Default::default() });
    });
}

#[test]
fn sqlite_schema_is_read_with_checks_triggers_and_foreign_keys() {
    let dir = crate::common::temp_dir();
    let path = dir.path().join("src.db");
    let path = path.to_str().expect("utf-8 path").to_string();
    let conn = rusqlite::Connection::open(&path).expect("sqlite");
    conn.execute_batch(
        "CREATE TABLE parent (id INTEGER PRIMARY KEY AUTOINCREMENT, code VARCHAR(10) NOT NULL UNIQUE, \
           price DECIMAL(8,2) DEFAULT 0 CONSTRAINT positive CHECK (price >= 0), made DATETIME DEFAULT CURRENT_TIMESTAMP, \
           tag TEXT DEFAULT (lower('X')));
         CREATE TABLE child (parent_id INTEGER NOT NULL REFERENCES parent ON DELETE CASCADE, n INT NOT NULL, \
           flag BOOLEAN DEFAULT 1, PRIMARY KEY (parent_id, n));
         CREATE INDEX child_flag ON child (flag);
         CREATE INDEX child_expr ON child (n + 1);
         CREATE TRIGGER child_ai AFTER INSERT ON child BEGIN SELECT 1; END;
         INSERT INTO parent (code) VALUES ('a'), ('b');",
    )
    .expect("fixture");
    drop(conn);
    let catalog = flow::connect::sqlite::catalog::read_catalog(&path, &TableFilter::all()).expect("catalog");

    let mut child = table(
        None,
        "child",
        vec![
            col("parent_id", "INTEGER", ColumnType::BigInt, false),
            col("n", "INT", ColumnType::BigInt, false),
            with_default(col("flag", "BOOLEAN", ColumnType::Boolean, true), lit("1")),
        ],
    );
    child.primary_key = Some(key(None, &["parent_id", "n"]));
    child.indexes = vec![index("child_flag", &["flag"], false)];
    child.foreign_keys = vec![fk(None, &["parent_id"], None, "parent", "CASCADE", "NO ACTION")];
    child.untranslated = vec![
        untranslated("index", "child.child_expr", "CREATE INDEX child_expr ON child (n + 1)"),
        untranslated("trigger", "child.child_ai", "CREATE TRIGGER child_ai AFTER INSERT ON child BEGIN SELECT 1; END"),
    ];
    let mut parent = table(
        None,
        "parent",
        vec![
            identity(col("id", "INTEGER", ColumnType::BigInt, false)),
            col("code", "VARCHAR(10)", ColumnType::Varchar { length: Some(10) }, false),
            with_default(col("price", "DECIMAL(8,2)", ColumnType::Decimal { precision: 8, scale: 2 }, true), lit("0")),
            with_default(col("made", "DATETIME", ColumnType::Timestamp, true), DefaultValue::CurrentTimestamp),
            with_default(col("tag", "TEXT", ColumnType::Text, true), DefaultValue::Untranslatable("lower('X')".into())),
        ],
    );
    parent.primary_key = Some(key(None, &["id"]));
    parent.uniques = vec![key(None, &["code"])];
    parent.untranslated =
        vec![untranslated("check constraint", "parent.check1", "CONSTRAINT positive CHECK (price >= 0)")];
    parent.estimated_rows = 2;
    assert_catalog(&catalog, &Catalog { tables: vec![child, parent], ..Default::default() });

    // To PostgreSQL DDL: booleans' 0/1 defaults become FALSE/TRUE, the rowid an identity.
    let plan = plan_schema(&catalog, &PostgresDdl, None);
    assert_eq!(
        plan.tables[0].before_load,
        vec![
            "CREATE TABLE \"child\" (\"parent_id\" bigint NOT NULL, \"n\" bigint NOT NULL, \"flag\" boolean DEFAULT TRUE, \
         PRIMARY KEY (\"parent_id\", \"n\"))"
        ]
    );
    assert_eq!(
        plan.tables[1].before_load,
        vec![
            "CREATE TABLE \"parent\" (\"id\" bigint NOT NULL GENERATED BY DEFAULT AS IDENTITY, \"code\" varchar(10) NOT NULL, \
         \"price\" numeric(8,2) DEFAULT 0, \"made\" timestamp DEFAULT CURRENT_TIMESTAMP, \"tag\" text, PRIMARY KEY (\"id\"))"
        ]
    );
    assert_eq!(
        plan.foreign_keys,
        vec![
            "ALTER TABLE \"child\" ADD FOREIGN KEY (\"parent_id\") REFERENCES \"parent\" (\"id\") ON DELETE CASCADE ON UPDATE NO ACTION"
        ]
    );
    assert_eq!(flow::schema::load_order(&catalog), vec![1, 0]);
}

#[test]
fn errors_never_show_the_password() {
    let rt = runtime();
    if postgres_available() {
        let url = "postgresql://postgres:s3cr%40t@127.0.0.1:5432/flow_cat_no_such_db";
        let err = rt.block_on(read_catalog(&endpoint(Backend::Postgres, url), &TableFilter::all())).expect_err("no db");
        // The server answered and refused the database: the typed connection error says so.
        assert_eq!(err.code(), "flow::connection::refused");
        let err = err.to_string();
        assert!(err.contains("flow_cat_no_such_db"), "{err}");
        assert!(!err.contains("s3cr") && err.contains("***"), "{err}");
    }
    if mariadb_available() {
        let url = "mysql://root:s3cret@127.0.0.1:3306/test";
        let err = rt
            .block_on(read_catalog(&endpoint(Backend::Mysql, url), &TableFilter::all()))
            .expect_err("denied")
            .to_string();
        assert!(!err.contains("s3cret"), "{err}");
    }
    let err = rt
        .block_on(read_catalog(&endpoint(Backend::Sqlite, "/nonexistent/dir/x.db"), &TableFilter::all()))
        .expect_err("no file");
    assert_eq!(err.code(), "flow::source::read_failed");
    let err = err.to_string();
    assert!(err.contains("/nonexistent/dir/x.db"), "{err}");
    let err = rt.block_on(read_catalog(&endpoint(Backend::Csv, "x.csv"), &TableFilter::all())).expect_err("not a db");
    assert_eq!(err.code(), "flow::table_set::tables_unsupported");
    assert_eq!(err.to_string(), "csv connection `db` is not a database: it has no schema to copy");
}
