//! Every pair among {PostgreSQL, MySQL/MariaDB, SQLite, Parquet} as source → sink, on a table
//! holding every mapped type with NULLs in every column, extreme values, empty strings and a
//! 10 KB text. Each target is read back through Flow into Parquet and compared value by value
//! with the original, after normalising what a backend cannot keep by design (MySQL and SQLite
//! store booleans as integers and have no time-zone type; MySQL's TIME is a span of time;
//! JSON is compared as JSON).

use std::collections::BTreeMap;

use crate::common::{mariadb_available, postgres_available, run_flow, runtime};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use flow::exec::RunStatus;

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";
const MY: &str = "mysql://root@127.0.0.1:3306/flow_test";

const SETUP: &str = r#"
DROP TABLE IF EXISTS public.flow_types;
DROP TYPE IF EXISTS flow_mood;
CREATE TYPE flow_mood AS ENUM ('sad', 'ok', 'happy');
CREATE TABLE public.flow_types (
  id bigint, i16 smallint, i32 integer, i64 bigint, b boolean, n numeric(20,6), f8 double precision,
  t text, vc varchar(40), big text, bin bytea, d date, tm time, ts timestamp, tstz timestamptz,
  js jsonb, u uuid, e flow_mood);
INSERT INTO public.flow_types VALUES
 (1, -32768, -2147483648, -9223372036854775808, true, -99999999999999.999999, -1.7976931348623157e308,
  'héllo 😀 "quotes" ''single'' \back', 'tab	here', repeat('x€', 5000), '\x00ff10', '0001-01-01', '00:00:00', '1900-01-01 00:00:00', '1970-01-01 00:00:00+00',
  '{"a": [1, 2, {"b": null}]}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'sad'),
 (2, 32767, 2147483647, 9223372036854775807, false, 99999999999999.999999, 2.2250738585072014e-308,
  '', '', '', '\x', '9999-12-31', '23:59:59.999999', '2262-04-11 23:47:16.854775', '2100-06-15 12:30:45.123456+02',
  '[]', '00000000-0000-0000-0000-000000000000', 'happy'),
 (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (4, 0, 0, 0, false, 0, 0, 'line1
line2', 'x', 'y', '\x20', '2000-02-29', '12:00:00.5', '2000-02-29 00:00:00.000001', '1969-12-31 23:59:59.999999+00',
  '{"k": "v"}', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'ok'),
 (NULL, 1, 1, 1, true, 0.000001, 0.1, 'null id', 'n', 'n', '\x01', '2024-01-01', '01:02:03', '2024-01-01 01:02:03', '2024-01-01 01:02:03+00',
  'null', '11111111-2222-3333-4444-555555555555', 'ok');
"#;

/// How each backend is named in a .flow file, and where its copy of the table lives.
fn source_of(backend: &str, dir: &str) -> (String, String) {
    match backend {
        "pg" => (format!("let pg = postgres(\"{PG}\")"), "pg.table(\"public.flow_types\")".into()),
        "my" => (format!("let my = mysql(\"{MY}\")"), "my.table(\"flow_types\")".into()),
        "lite" => (format!("let lite = sqlite(\"{dir}/types.db\")"), "lite.table(\"flow_types\")".into()),
        _ => (String::new(), format!("parquet(\"{dir}/flow_types.parquet\")")),
    }
}

fn target_of(backend: &str, dir: &str, table: &str) -> (String, String) {
    match backend {
        "pg" => (format!("let pg = postgres(\"{PG}\")"), format!("pg.table(\"public.{table}\")")),
        "my" => (format!("let my = mysql(\"{MY}\")"), format!("my.table(\"{table}\")")),
        "lite" => (format!("let lite = sqlite(\"{dir}/types.db\")"), format!("lite.table(\"{table}\")")),
        _ => (String::new(), format!("parquet(\"{dir}/{table}.parquet\")")),
    }
}

fn copy(from: (String, String), to: (String, String), mode: &str) -> String {
    let lets = if from.0 == to.0 { from.0.clone() } else { format!("{}\n{}", from.0, to.0) };
    let mode = if mode.is_empty() { String::new() } else { format!(" {{ mode {mode} }}") };
    format!("{lets}\npipeline p {{\n  source s = {}\n  sink s -> {}{mode}\n}}\n", from.1, to.1)
}

fn run(text: &str) {
    let report = runtime().block_on(run_flow(text, &[])).remove(0);
    assert_eq!(report.status, RunStatus::Ok, "{text}\n{:?}", report.error);
}

/// The rows of a Parquet file as normalised text per column, keyed by id, sorted.
fn rows(path: &std::path::Path) -> Vec<BTreeMap<String, String>> {
    let file = std::fs::File::open(path).unwrap();
    let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.unwrap();
        let schema = batch.schema();
        let formatters: Vec<_> =
            batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap()).collect();
        for row in 0..batch.num_rows() {
            let mut map = BTreeMap::new();
            for (i, f) in formatters.iter().enumerate() {
                let name = schema.field(i).name().clone();
                map.insert(name.clone(), normalise(&name, &f.value(row).to_string()));
            }
            out.push(map);
        }
    }
    out.sort_by_key(|r| format!("{:>24}", r["id"]));
    out
}

fn normalise(column: &str, value: &str) -> String {
    if value == "NULL" {
        return value.into();
    }
    match column {
        "b" => match value {
            "1" | "true" => "true".into(),
            "0" | "false" => "false".into(),
            other => other.into(),
        },
        "n" => {
            let v = value.trim_end_matches('0').trim_end_matches('.');
            if v.is_empty() || v == "-" { "0".into() } else { v.into() }
        }
        "f8" => value.parse::<f64>().map(|f| format!("{f:?}")).unwrap_or_else(|_| value.into()),
        "ts" | "tstz" => {
            // Instants in UTC without the zone suffix, microseconds shown in full.
            let v = value.trim_end_matches('Z').replace('T', " ");
            let v = v.split('+').next().unwrap_or(&v).to_string();
            match chrono::NaiveDateTime::parse_from_str(&v, "%Y-%m-%d %H:%M:%S%.f") {
                Ok(t) => t.format("%Y-%m-%d %H:%M:%S%.6f").to_string(),
                Err(_) => v,
            }
        }
        "tm" => match chrono::NaiveTime::parse_from_str(value, "%H:%M:%S%.f") {
            Ok(t) => t.format("%H:%M:%S%.6f").to_string(),
            // After MySQL the column is a TIME, a span of time (Arrow Duration, formatted as ISO
            // 8601: `P0D`, `PT43200.5S`): the same instant of the day when it is within a day.
            Err(_) => iso_seconds(value)
                .filter(|s| (0.0..86_400.0).contains(s))
                .and_then(|s| {
                    let micros = (s * 1e6).round() as i64;
                    let (secs, micros) = (micros / 1_000_000, micros % 1_000_000);
                    chrono::NaiveTime::from_num_seconds_from_midnight_opt(secs as u32, micros as u32 * 1000)
                })
                .map(|t| t.format("%H:%M:%S%.6f").to_string())
                .unwrap_or_else(|| value.into()),
        },
        "js" => {
            serde_json::from_str::<serde_json::Value>(value).map(|j| j.to_string()).unwrap_or_else(|_| value.into())
        }
        "bin" => value.to_ascii_lowercase(),
        _ => value.into(),
    }
}

/// Seconds of an ISO 8601 span as arrow formats a Duration (`P0D`, `PT86399.999999S`).
fn iso_seconds(value: &str) -> Option<f64> {
    if value == "P0D" {
        return Some(0.0);
    }
    value.strip_prefix("PT")?.strip_suffix('S')?.parse().ok()
}

#[test]
fn every_source_to_every_sink_keeps_every_value() {
    if !postgres_available() || !mariadb_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(async { flow::connect::postgres::connect(PG).await.unwrap().batch_execute(SETUP).await.unwrap() });
    let dir = crate::common::temp_dir();
    let d = dir.path().to_str().unwrap();
    // The reference: PostgreSQL's table as Parquet.
    run(&copy(source_of("pg", d), target_of("parquet", d, "flow_types"), ""));
    let reference = rows(&dir.path().join("flow_types.parquet"));
    assert_eq!(reference.len(), 5);
    // The reference holds what PostgreSQL holds (spot checks, so the comparison is not vacuous).
    let first = reference.iter().find(|r| r["id"] == "1").expect("row 1");
    assert_eq!(first["u"], "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
    assert_eq!(first["e"], "sad");
    assert_eq!(first["js"], r#"{"a":[1,2,{"b":null}]}"#);
    assert_eq!(first["n"], "-99999999999999.999999");
    assert_eq!(first["i64"], "-9223372036854775808");
    assert_eq!(first["big"].chars().count(), 10_000);
    assert_eq!(first["tstz"], "1970-01-01 00:00:00.000000");
    let second = reference.iter().find(|r| r["id"] == "2").expect("row 2");
    assert_eq!(second["tstz"], "2100-06-15 10:30:45.123456", "timestamptz is kept as the UTC instant");
    assert_eq!(second["t"], "");
    assert!(reference.iter().any(|r| r["id"] == "NULL"), "the row with a NULL key is there");
    // Seed the other sources from the reference.
    run(&copy(source_of("parquet", d), target_of("my", d, "flow_types"), "replace"));
    run(&copy(source_of("parquet", d), target_of("lite", d, "flow_types"), "replace"));
    let backends = ["pg", "my", "lite", "parquet"];
    let mut failures = Vec::new();
    let mut pairs = 0;
    for from in backends {
        for to in backends {
            if from == to {
                continue;
            }
            pairs += 1;
            let table = format!("flow_types_{from}_to_{to}");
            run(&copy(source_of(from, d), target_of(to, d, &table), if to == "parquet" { "" } else { "replace" }));
            // Read the target back into Parquet to compare.
            let back = format!("{table}_back");
            let (decl, target) = target_of(to, d, &table);
            let source = (decl, target);
            run(&copy(source, target_of("parquet", d, &back), ""));
            let got = rows(&dir.path().join(format!("{back}.parquet")));
            if got != reference {
                for (g, r) in got.iter().zip(&reference) {
                    for (k, v) in r {
                        if g.get(k) != Some(v) {
                            failures.push(format!(
                                "{from} -> {to}: id {} column {k}: {:?} != {v:?}",
                                r["id"],
                                g.get(k)
                            ));
                        }
                    }
                }
                if got.len() != reference.len() {
                    failures.push(format!("{from} -> {to}: {} rows, not {}", got.len(), reference.len()));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} differences:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(pairs, 12, "every ordered pair of distinct backends ran");
}

#[test]
fn nan_and_infinities_survive_postgres_and_parquet() {
    if !postgres_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(async {
        flow::connect::postgres::connect(PG)
            .await
            .unwrap()
            .batch_execute(
                "DROP TABLE IF EXISTS public.flow_floats; DROP TABLE IF EXISTS public.flow_floats_back;
                 CREATE TABLE public.flow_floats (id int, f4 real, f8 double precision);
                 INSERT INTO public.flow_floats VALUES (1, 'NaN', 'NaN'), (2, 'Infinity', '-Infinity'), (3, '-Infinity', 'Infinity'), (4, '-0', 1e-320);",
            )
            .await
            .unwrap()
    });
    let dir = crate::common::temp_dir();
    let d = dir.path().to_str().unwrap();
    run(&format!(
        "let pg = postgres(\"{PG}\")\npipeline a {{ source s = pg.table(\"public.flow_floats\") sink s -> parquet(\"{d}/f.parquet\") }}"
    ));
    run(&format!(
        "let pg = postgres(\"{PG}\")\npipeline b {{ source s = parquet(\"{d}/f.parquet\") sink s -> pg.table(\"public.flow_floats_back\") {{ mode replace }} }}"
    ));
    let dump = |table: &str| {
        let sql =
            format!("SELECT string_agg(id || ':' || f4::text || ':' || f8::text, ' ' ORDER BY id) FROM public.{table}");
        rt.block_on(async {
            flow::connect::postgres::connect(PG).await.unwrap().query_one(&sql, &[]).await.unwrap().get::<_, String>(0)
        })
    };
    assert_eq!(dump("flow_floats"), "1:NaN:NaN 2:Infinity:-Infinity 3:-Infinity:Infinity 4:-0:1e-320");
    assert_eq!(dump("flow_floats_back"), dump("flow_floats"));
}
