//! Safety: names taken from a `.flow` file never become unquoted SQL, and a password in a URL
//! appears in no output, report, ledger row, reject row or error message.

use crate::common::{flow_cli, mariadb_available, postgres_available, runtime, temp_dir};
use mysql::prelude::Queryable;

const SECRET: &str = "hunter2-s3cret";
const PG_ADMIN: &str = "postgres://postgres@127.0.0.1:5432/flow_test";

async fn pg_exec(sql: &str) {
    let client = flow::connect::postgres::connect(PG_ADMIN).await.unwrap();
    client.batch_execute(sql).await.unwrap();
}

/// Every value of every row of a table, as text.
async fn pg_dump(table: &str) -> String {
    let client = flow::connect::postgres::connect(PG_ADMIN).await.unwrap();
    let mut text = String::new();
    for m in client.simple_query(&format!("SELECT * FROM {table}")).await.unwrap() {
        if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
            for i in 0..r.len() {
                text.push_str(r.get(i).unwrap_or("NULL"));
                text.push('|');
            }
            text.push('\n');
        }
    }
    text
}

#[test]
fn hostile_names_are_quoted_and_the_password_never_shows() {
    if !postgres_available() || !mariadb_available() {
        return;
    }
    let rt = runtime();
    // Trust authentication accepts any password, so the URL can carry one that must never show.
    rt.block_on(pg_exec(
        r#"DROP TABLE IF EXISTS public."src""; DROP TABLE x; --", public."dst'; DROP TABLE y; --", public."rej ""--";
           CREATE TABLE public."src""; DROP TABLE x; --" ("i""d" bigint, "na'me; --" text, "v" text);
           INSERT INTO public."src""; DROP TABLE x; --" SELECT g, 'it''s; DROP TABLE z; -- ' || g, CASE WHEN g = 7 THEN 'xyz' ELSE 'ok' END
             FROM generate_series(1, 50) g;"#,
    ));
    let mut my = mysql::Conn::new(mysql::Opts::from_url("mysql://root@127.0.0.1:3306/flow_test").unwrap()).unwrap();
    for sql in [
        format!("CREATE USER IF NOT EXISTS 'flow_secret'@'%' IDENTIFIED BY '{SECRET}'"),
        format!("CREATE USER IF NOT EXISTS 'flow_secret'@'127.0.0.1' IDENTIFIED BY '{SECRET}'"),
        "GRANT ALL ON flow_test.* TO 'flow_secret'@'%'".to_string(),
        "GRANT ALL ON flow_test.* TO 'flow_secret'@'127.0.0.1'".to_string(),
        "DROP TABLE IF EXISTS `my``dst; --`, `my``rejects`".to_string(),
    ] {
        my.query_drop(sql).unwrap();
    }
    my.query_drop("CREATE TABLE `my``dst; --` (`i\"d` BIGINT, `na'me; --` TEXT, `v` VARCHAR(2))").unwrap();
    let dir = temp_dir();
    let file = dir.path().join("safety.flow");
    let pg_url = format!("postgres://postgres:{SECRET}@127.0.0.1:5432/flow_test");
    let my_url = format!("mysql://flow_secret:{SECRET}@127.0.0.1:3306/flow_test");
    std::fs::write(
        &file,
        format!(
            r#"let pg = postgres("{pg_url}")
let my = mysql("${{MY_URL}}")
pipeline p {{
  source s = pg.table("public.\"src\"\"; DROP TABLE x; --\"") {{ partition by `i"d` into 3 }}
  transform t = s | filter `na'me; --` != 'it''s; DROP'
  sink out = t -> pg.table("public.\"dst'; DROP TABLE y; --\"") {{ mode replace }}
  sink mine = t -> my.table("my`dst; --") {{ mode append; on error reject to my.table("my`rejects") }}
}}
"#
        ),
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let var = format!("MY_URL={my_url}");
    let report = dir.path().join("report.json");

    let mut everything = String::new();
    let (code, out, err) = flow_cli(&["explain", path, "--var", &var]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"src\"\"; DROP TABLE x; --\""), "the name is quoted as one identifier:\n{out}");
    everything += &out;
    everything += &err;
    let (code, out, err) = flow_cli(&["run", path, "--var", &var, "--report", report.to_str().unwrap()]);
    assert_eq!(code, 0, "{out}{err}");
    everything += &out;
    everything += &err;
    everything += &std::fs::read_to_string(&report).unwrap();
    for cmd in ["status", "verify"] {
        let (_, out, err) = flow_cli(&[cmd, path, "--var", &var]);
        everything += &out;
        everything += &err;
    }
    // A failing run's error names the server without the password.
    let (code, out, err) =
        flow_cli(&["run", path, "--var", &format!("MY_URL=mysql://flow_secret:{SECRET}@127.0.0.1:1/flow_test")]);
    assert_eq!(code, 1);
    assert!(err.contains("mysql://flow_secret:***@127.0.0.1:1/flow_test"), "{err}");
    everything += &out;
    everything += &err;

    // The data went where the names say, whole.
    let copied = rt.block_on(pg_dump(r#"public."dst'; DROP TABLE y; --""#));
    assert_eq!(copied.lines().count(), 50, "{copied}");
    assert!(copied.contains("17|it's; DROP TABLE z; -- 17|ok|"), "{copied}");
    let rows: Vec<(i64, String)> = my.query("SELECT `i\"d`, `na'me; --` FROM `my``dst; --` ORDER BY 1").unwrap();
    assert_eq!(rows.len(), 49, "all but the rejected row");
    assert!(rows.contains(&(17, "it's; DROP TABLE z; -- 17".to_string())));
    let rejected: Vec<(String, String)> = my.query("SELECT column_name, value FROM `my``rejects`").unwrap();
    assert_eq!(rejected, [("v".to_string(), "'xyz'".to_string())], "the one value too long for VARCHAR(2)");

    // Ledgers and reject tables hold no password either.
    everything += &rt.block_on(pg_dump("public._flow_ledger"));
    let ledger: Vec<mysql::Row> = my.query("SELECT * FROM _flow_ledger").unwrap();
    everything += &format!("{ledger:?}");
    let rejects: Vec<mysql::Row> = my.query("SELECT * FROM `my``rejects`").unwrap();
    everything += &format!("{rejects:?}");
    assert!(!everything.contains(SECRET), "the password leaked:\n{everything}");
    assert!(everything.contains("***"), "URLs are shown redacted");
}

/// A URL written inline in a `.flow` file holds its password in the text that diagnostics
/// quote; the quoted lines show it masked, whatever the password holds (`/`, `?`, `#`, `@`).
#[test]
fn diagnostics_quote_inline_urls_with_the_password_masked() {
    let dir = tempfile::tempdir().unwrap();
    for password in ["S3cret", "pa/ss", "Xy#9?tq", "p@ss"] {
        let text = format!(
            "let src = postgres(\"postgres://postgres:{password}@127.0.0.1:1/test\")\n\
             let dst = sqlite(\"out.db\", bogus: 1)\n"
        );
        let path = crate::common::write(dir.path(), "inline.flow", &text);
        for args in [vec!["check", path.as_str()], vec!["explain", "--format", "json", path.as_str()]] {
            let (code, out, err) = flow_cli(&args);
            assert_eq!(code, 2, "{args:?}: {err}");
            let masked = format!("postgres://postgres:{}@127.0.0.1:1/test", "*".repeat(password.len()));
            assert!(err.contains(&masked) || out.contains(&masked), "{args:?} with {password}: {err}");
            assert!(!err.contains(password) && !out.contains(password), "{args:?} shows {password}: {err}{out}");
        }
    }
    // `flow copy` writes a pipeline from its URLs; an error about it quotes none of the password.
    let target = dir.path().join("x.db");
    let (code, out, err) = flow_cli(&[
        "copy",
        "postgres://postgres:S3cr/t?x@127.0.0.1:99999/test",
        target.to_str().unwrap(),
        "--table",
        "t",
    ]);
    assert_ne!(code, 0);
    assert!(!err.contains("S3cr/t?x") && !out.contains("S3cr/t?x"), "{err}{out}");
}
