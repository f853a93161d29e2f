//! CSV values arrive exactly as the file says: codes with leading zeros or a `+` stay text in
//! SQLite, PostgreSQL and Parquet; a spreadsheet export (BOM, CRLF, quoted commas and line breaks,
//! empty fields) loads field for field; the empty string and NULL stay apart through a CSV round
//! trip (`""` against an empty field, or the `null:` marker); an inference error names the
//! column and the file line, and `types:` / `infer:` fix it.

use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use crate::common::{flow_cli, postgres_available, runtime, temp_dir};

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";

async fn pg_exec(sql: &str) {
    let client = flow::connect::postgres::connect(PG).await.unwrap();
    client.batch_execute(sql).await.unwrap();
}

async fn pg_rows(sql: &str) -> Vec<Vec<Option<String>>> {
    let client = flow::connect::postgres::connect(PG).await.unwrap();
    client
        .simple_query(sql)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect()
}

fn sqlite_rows(path: &std::path::Path, sql: &str) -> Vec<Vec<Option<String>>> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        Ok((0..n)
            .map(|i| match r.get_ref(i).unwrap() {
                rusqlite::types::ValueRef::Null => None,
                rusqlite::types::ValueRef::Integer(v) => Some(format!("int {v}")),
                rusqlite::types::ValueRef::Real(v) => Some(format!("real {v}")),
                rusqlite::types::ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                rusqlite::types::ValueRef::Blob(b) => Some(format!("blob {b:?}")),
            })
            .collect())
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Every row of a Parquet file, each value as arrow displays it (NULL as None), and the types.
fn parquet_rows(path: &std::path::Path) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
    let types = reader.schema().fields().iter().map(|f| format!("{} {}", f.name(), f.data_type())).collect();
    let mut rows = Vec::new();
    for batch in reader.build().unwrap() {
        let batch = batch.unwrap();
        let options = FormatOptions::default();
        let formatters: Vec<_> =
            batch.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap()).collect();
        for r in 0..batch.num_rows() {
            rows.push(
                batch
                    .columns()
                    .iter()
                    .zip(&formatters)
                    .map(|(c, f)| (!arrow::array::Array::is_null(c.as_ref(), r)).then(|| f.value(r).to_string()))
                    .collect(),
            );
        }
    }
    (types, rows)
}

fn row(values: &[Option<&str>]) -> Vec<Option<String>> {
    values.iter().map(|v| v.map(str::to_string)).collect()
}

fn run(file: &std::path::Path) -> (i32, String) {
    let (code, out, err) = flow_cli(&["run", "-q", file.to_str().unwrap()]);
    (code, format!("{out}{err}"))
}

/// A spreadsheet export: byte-order mark, CRLF, a quoted comma, a quoted line break, a quoted
/// quote, empty fields, codes with leading zeros and `+`.
const SPREADSHEET: &str = "\u{feff}id,code,zip,phone,name,amount,note\r\n\
    1,01234,0010,+0044 20 7946,\"Smith, J\",12.50,\"line one\r\nline two\"\r\n\
    2,007,02134,+12,\"say \"\"hi\"\"\",3,\r\n\
    3,0,10001,,\"\",-0.25,plain\r\n";

#[test]
fn spreadsheet_csv_arrives_exactly_in_sqlite_postgres_and_parquet() {
    let dir = temp_dir();
    let csv = dir.path().join("export.csv");
    std::fs::write(&csv, SPREADSHEET).unwrap();
    let lite = dir.path().join("out.db");
    let parquet = dir.path().join("out.parquet");
    let with_pg = postgres_available();
    let pg_sink = if with_pg {
        "  sink s -> pg.table(\"public.i14_csv_export\") { mode replace }\n".to_string()
    } else {
        String::new()
    };
    let file = dir.path().join("x.flow");
    std::fs::write(
        &file,
        format!(
            "let lite = sqlite(\"{}\")\nlet pg = postgres(\"{PG}\")\n\
             pipeline p {{\n  source s = csv(\"{}\", header: true)\n  sink s -> lite.table(\"export\") {{ mode replace }}\n{pg_sink}  sink s -> parquet(\"{}\")\n}}\n",
            lite.display(),
            csv.display(),
            parquet.display()
        ),
    )
    .unwrap();
    let (code, out, err) = flow_cli(&["explain", file.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    for line in ["id      Int64", "code    Utf8", "zip     Utf8", "phone   Utf8", "amount  Decimal128(38, 2)"] {
        assert!(out.contains(line), "{line} in:\n{out}");
    }
    let (code, output) = run(&file);
    assert_eq!(code, 0, "{output}");

    let expected_text = vec![
        row(&[
            Some("1"),
            Some("01234"),
            Some("0010"),
            Some("+0044 20 7946"),
            Some("Smith, J"),
            Some("12.50"),
            Some("line one\r\nline two"),
        ]),
        row(&[Some("2"), Some("007"), Some("02134"), Some("+12"), Some("say \"hi\""), Some("3.00"), None]),
        row(&[Some("3"), Some("0"), Some("10001"), None, Some(""), Some("-0.25"), Some("plain")]),
    ];

    let (types, rows) = parquet_rows(&parquet);
    assert_eq!(
        types,
        ["id Int64", "code Utf8", "zip Utf8", "phone Utf8", "name Utf8", "amount Decimal128(38, 2)", "note Utf8"]
    );
    assert_eq!(rows, expected_text);

    let rows = sqlite_rows(&lite, "SELECT id, code, zip, phone, name, amount, note FROM export ORDER BY id");
    let mut sqlite_expected = expected_text.clone();
    for r in &mut sqlite_expected {
        r[0] = r[0].as_ref().map(|v| format!("int {v}"));
    }
    assert_eq!(rows, sqlite_expected);

    if with_pg {
        let rows = runtime().block_on(pg_rows(
            "SELECT id::text, code, zip, phone, name, amount::text, note FROM public.i14_csv_export ORDER BY id",
        ));
        assert_eq!(rows, expected_text);
        runtime().block_on(pg_exec("DROP TABLE IF EXISTS public.i14_csv_export"));
    }
}

#[test]
fn csv_round_trip_keeps_the_empty_string_apart_from_null() {
    if !postgres_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(pg_exec(
        "DROP TABLE IF EXISTS public.i14_csv_rt_src; DROP TABLE IF EXISTS public.i14_csv_rt_back;
         DROP TABLE IF EXISTS public.i14_csv_rt_null;
         CREATE TABLE public.i14_csv_rt_src (id bigint, t text);
         INSERT INTO public.i14_csv_rt_src VALUES (1, ''), (2, NULL), (3, 'NULL'), (4, 'a,b'), (5, '\"');",
    ));
    let dir = temp_dir();
    let plain = dir.path().join("plain.csv");
    let marked = dir.path().join("marked.csv");
    let out_flow = dir.path().join("out.flow");
    std::fs::write(
        &out_flow,
        format!(
            "let pg = postgres(\"{PG}\")\npipeline p {{\n  source s = pg.query(\"SELECT * FROM public.i14_csv_rt_src ORDER BY id\")\n\
             sink s -> csv(\"{}\")\n  sink s -> csv(\"{}\", null: \"NULL\")\n}}\n",
            plain.display(),
            marked.display()
        ),
    )
    .unwrap();
    let (code, output) = run(&out_flow);
    assert_eq!(code, 0, "{output}");
    // PostgreSQL's CSV convention: an empty field is NULL, `""` the empty string.
    assert_eq!(std::fs::read_to_string(&plain).unwrap(), "id,t\n1,\"\"\n2,\n3,NULL\n4,\"a,b\"\n5,\"\"\"\"\n");
    // With a marker, NULL is the marker and a text equal to it is quoted.
    assert_eq!(std::fs::read_to_string(&marked).unwrap(), "id,t\n1,\"\"\n2,NULL\n3,\"NULL\"\n4,\"a,b\"\n5,\"\"\"\"\n");

    let back_flow = dir.path().join("back.flow");
    std::fs::write(
        &back_flow,
        format!(
            "let pg = postgres(\"{PG}\")\n\
             pipeline p {{\n  source a = csv(\"{}\")\n  source b = csv(\"{}\", null: \"NULL\")\n\
             sink a -> pg.table(\"public.i14_csv_rt_back\")\n  sink b -> pg.table(\"public.i14_csv_rt_null\")\n}}\n",
            plain.display(),
            marked.display()
        ),
    )
    .unwrap();
    let (code, output) = run(&back_flow);
    assert_eq!(code, 0, "{output}");
    let expected = vec![
        row(&[Some("1"), Some("")]),
        row(&[Some("2"), None]),
        row(&[Some("3"), Some("NULL")]),
        row(&[Some("4"), Some("a,b")]),
        row(&[Some("5"), Some("\"")]),
    ];
    for table in ["i14_csv_rt_back", "i14_csv_rt_null"] {
        let rows = rt.block_on(pg_rows(&format!("SELECT id::text, t FROM public.{table} ORDER BY id")));
        assert_eq!(rows, expected, "{table}");
    }
    rt.block_on(pg_exec(
        "DROP TABLE public.i14_csv_rt_src; DROP TABLE public.i14_csv_rt_back; DROP TABLE public.i14_csv_rt_null;",
    ));
}

/// 1,500 rows whose `qty` is an integer, then `bad` (file line 1,502 with the header).
fn misleading_csv(bad: &str) -> String {
    let mut text = String::from("id,qty\n");
    for i in 1..=1500 {
        text.push_str(&format!("{i},{}\n", i * 3));
    }
    text.push_str(&format!("1501,{bad}\n1502,4\n"));
    text
}

fn copy_to_parquet(dir: &std::path::Path, csv_args: &str) -> (i32, String, std::path::PathBuf) {
    let out = dir.join("out.parquet");
    let file = dir.join("x.flow");
    std::fs::write(
        &file,
        format!(
            "pipeline p {{\n  source s = csv(\"{}\"{csv_args})\n  sink s -> parquet(\"{}\")\n}}\n",
            dir.join("in.csv").display(),
            out.display()
        ),
    )
    .unwrap();
    let (code, output) = run(&file);
    (code, output, out)
}

#[test]
fn an_inference_error_names_the_column_and_the_file_line() {
    let dir = temp_dir();
    std::fs::write(dir.path().join("in.csv"), misleading_csv("abc")).unwrap();
    let (code, output, _) = copy_to_parquet(dir.path(), "");
    assert_eq!(code, 1, "{output}");
    let expected = format!(
        "cannot read {}: line 1502, column `qty`: value 'abc' is not an integer written without leading zeros or \
         sign (type Int64 was inferred from the first 1000 rows; declare the column's type, e.g. types: \"qty \
         text\", or infer from every row with infer: \"all\")",
        dir.path().join("in.csv").display()
    );
    assert!(output.contains(&expected), "{output}");

    // A later code with leading zeros is refused too, never read as 7.
    std::fs::write(dir.path().join("in.csv"), misleading_csv("007")).unwrap();
    let (code, output, _) = copy_to_parquet(dir.path(), "");
    assert_eq!(code, 1, "{output}");
    assert!(
        output.contains("line 1502, column `qty`: value '007' is not an integer written without leading zeros or sign"),
        "{output}"
    );

    // Declaring the type, or inferring from every row, reads it as text.
    for args in [", types: \"qty text\"", ", infer: \"all\""] {
        let (code, output, out) = copy_to_parquet(dir.path(), args);
        assert_eq!(code, 0, "{args}: {output}");
        let (types, rows) = parquet_rows(&out);
        assert_eq!(types, ["id Int64", "qty Utf8"], "{args}");
        assert_eq!(rows[1500], row(&[Some("1501"), Some("007")]), "{args}");
        assert_eq!(rows[0], row(&[Some("1"), Some("3")]), "{args}");
    }

    // A declared decimal keeps its scale.
    std::fs::write(dir.path().join("in.csv"), "id,amount\n1,1.5\n2,12\n").unwrap();
    let (code, output, out) = copy_to_parquet(dir.path(), ", types: \"amount decimal(12,2), id int\"");
    assert_eq!(code, 0, "{output}");
    let (types, rows) = parquet_rows(&out);
    assert_eq!(types, ["id Int32", "amount Decimal128(12, 2)"]);
    assert_eq!(rows, vec![row(&[Some("1"), Some("1.50")]), row(&[Some("2"), Some("12.00")])]);
}

#[test]
fn bad_csv_options_are_reported_at_check() {
    let dir = temp_dir();
    std::fs::write(dir.path().join("in.csv"), "a\n1\n").unwrap();
    let file = dir.path().join("x.flow");
    std::fs::write(
        &file,
        format!(
            "pipeline p {{\n  source s = csv(\"{}\", types: \"a money\", infer: \"some\")\n  sink s -> parquet(\"{}\")\n}}\n",
            dir.path().join("in.csv").display(),
            dir.path().join("o.parquet").display()
        ),
    )
    .unwrap();
    let (code, out, err) = flow_cli(&["check", file.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    let text = format!("{out}{err}");
    assert!(text.contains("unknown type `money`"), "{text}");
    assert!(text.contains("infer: takes \"all\" or a number of rows"), "{text}");
}
