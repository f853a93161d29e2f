//! `flow verify` compares targets with their sources partition by partition, and names the
//! partition and the key of a changed value, a missing row and a duplicated row.

use std::process::Command;

use crate::common::{postgres_available, runtime, temp_dir};

const PG: &str = "postgres://postgres@127.0.0.1:5432/flow_test";

fn flow(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_flow")).args(args).env("NO_COLOR", "1").output().expect("flow runs")
}

async fn pg_exec(sql: &str) {
    let client = flow::connect::postgres::connect(PG).await.unwrap();
    client.batch_execute(sql).await.unwrap();
}

#[test]
fn verify_finds_a_changed_value_a_missing_row_and_a_duplicate_in_their_partitions() {
    if !postgres_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(pg_exec(
        "DROP TABLE IF EXISTS public.verify_src, public.verify_dst;
         CREATE TABLE public.verify_src AS SELECT g AS id, 'name ' || g AS name, (g * 0.25)::numeric(10,2) AS amount
           FROM generate_series(1, 1000) g;",
    ));
    let dir = temp_dir();
    let file = dir.path().join("v.flow");
    std::fs::write(
        &file,
        format!(
            "let pg = postgres(\"{PG}\")\npipeline v {{\n  parallelism 2\n  \
             source s = pg.table(\"public.verify_src\") {{ partition by id into 4 }}\n  \
             sink out = s -> pg.table(\"public.verify_dst\") {{ mode replace }}\n}}\n"
        ),
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let run = flow(&["run", "-q", "--verify", path]);
    let text = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{text}{}", String::from_utf8_lossy(&run.stderr));
    assert!(
        text.contains("sink out -> postgres://postgres@127.0.0.1:5432/flow_test public.verify_dst (key: id)\n"),
        "{text}"
    );
    assert!(text.contains("  equal: 4 partition(s)\n"), "{text}");

    rt.block_on(pg_exec(
        "UPDATE public.verify_dst SET amount = 99 WHERE id = 100;
         DELETE FROM public.verify_dst WHERE id = 600;
         INSERT INTO public.verify_dst SELECT * FROM public.verify_dst WHERE id = 900;",
    ));
    let out = flow(&["verify", path]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let lines: Vec<&str> = text.lines().collect();
    let expected = [
        "verify pipeline v",
        "sink out -> postgres://postgres@127.0.0.1:5432/flow_test public.verify_dst (key: id)",
        "  partition   0  \"id\" < 251                                   source        250  target        250  DIFFERENT",
        "      changed: id=100",
        "  partition   1  \"id\" >= 251 AND \"id\" < 501                   source        250  target        250  ok",
        "  partition   2  \"id\" >= 501 AND \"id\" < 751                   source        250  target        249  DIFFERENT",
        "      missing in target: id=600",
        "  partition   3  (\"id\" >= 751 OR \"id\" IS NULL)                source        250  target        251  DIFFERENT",
        "      duplicated in target: id=900 (2 times)",
        "  DIFFERENT: 3 of 4 partition(s)",
    ];
    assert_eq!(lines, expected, "{text}");
}

/// A target column wider than the source's (`numeric(14,4)` for `numeric(10,2)`, `bigint` for
/// `integer`) is read back at the pipeline's type for the comparison; a value that the cast would
/// round or overflow is a changed row, not an equal one. PostgreSQL and MariaDB targets.
#[test]
fn verify_finds_a_value_that_differs_beyond_the_sources_scale() {
    if !postgres_available() || !crate::common::mariadb_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(pg_exec(
        "DROP TABLE IF EXISTS public.verify_scale_src, public.verify_scale_dst;
         CREATE TABLE public.verify_scale_src AS
           SELECT g AS id, (g * 0.25)::numeric(10,2) AS amount, g::integer AS n FROM generate_series(1, 100) g;",
    ));
    crate::common::my_exec("DROP TABLE IF EXISTS flow_test.verify_scale_dst");
    let dir = temp_dir();
    for (target, widen, damage) in [
        (
            "pg.table(\"public.verify_scale_dst\")",
            "ALTER TABLE public.verify_scale_dst ALTER amount TYPE numeric(14,4), ALTER n TYPE bigint",
            "UPDATE public.verify_scale_dst SET amount = amount + 0.0031 WHERE id = 10; \
             UPDATE public.verify_scale_dst SET n = 5000000000 WHERE id = 90",
        ),
        (
            "my.table(\"verify_scale_dst\")",
            "ALTER TABLE flow_test.verify_scale_dst MODIFY amount DECIMAL(14,4), MODIFY n BIGINT",
            "UPDATE flow_test.verify_scale_dst SET amount = amount + 0.0031 WHERE id = 10; \
             UPDATE flow_test.verify_scale_dst SET n = 5000000000 WHERE id = 90",
        ),
    ] {
        let file = dir.path().join("scale.flow");
        std::fs::write(
            &file,
            format!(
                "let pg = postgres(\"{PG}\")\nlet my = mysql(\"mysql://root@127.0.0.1:3306/flow_test\")\n\
                 pipeline scale {{\n  source s = pg.table(\"public.verify_scale_src\") {{ partition by id into 2 }}\n  \
                 sink out = s -> {target} {{ mode replace }}\n}}\n"
            ),
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let run = flow(&["run", "-q", path]);
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let on_my = target.starts_with("my.");
        let exec = |sql: &str| if on_my { crate::common::my_exec(sql) } else { rt.block_on(pg_exec(sql)) };
        exec(widen);
        let same = flow(&["verify", path]);
        assert_eq!(same.status.code(), Some(0), "{}", String::from_utf8_lossy(&same.stdout));
        exec(damage);
        let out = flow(&["verify", path]);
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{target}: {text}");
        assert!(text.contains("DIFFERENT\n      changed: id=10\n"), "{target}: {text}");
        assert!(text.contains("DIFFERENT\n      changed: id=90\n"), "{target}: {text}");
        assert!(text.ends_with("  DIFFERENT: 2 of 2 partition(s)\n"), "{target}: {text}");
    }
    rt.block_on(pg_exec("DROP TABLE public.verify_scale_src, public.verify_scale_dst"));
    crate::common::my_exec("DROP TABLE flow_test.verify_scale_dst");
}

/// PostgreSQL's unconstrained `numeric` into MariaDB's `DECIMAL(65,30)`, whose values come back
/// with thirty fractional digits, and a column the target generates (the run leaves the source's
/// values out): a faithful copy verifies equal, saying the generated column is not compared; a
/// value changed past the source's digits is still found.
#[test]
fn unconstrained_numerics_compare_by_number_and_generated_target_columns_are_not_compared() {
    if !postgres_available() || !crate::common::mariadb_available() {
        return;
    }
    let rt = runtime();
    rt.block_on(pg_exec(
        "DROP TABLE IF EXISTS public.verify_num_src;
         CREATE TABLE public.verify_num_src (id int PRIMARY KEY, n numeric, g int);
         INSERT INTO public.verify_num_src VALUES (1, 1.50, 2), (2, 123456789.000123, 3), (3, NULL, 4),
           (4, -0.00001, 5), (5, 0, 6), (6, 42, 7);",
    ));
    crate::common::my_exec(
        "DROP TABLE IF EXISTS verify_num_dst; CREATE TABLE verify_num_dst (id int PRIMARY KEY, n decimal(65,30), \
         g int AS (id * 2) STORED)",
    );
    let dir = temp_dir();
    let file = dir.path().join("num.flow");
    std::fs::write(
        &file,
        format!(
            "let pg = postgres(\"{PG}\")\nlet my = mysql(\"{}\")\npipeline p {{\n  source s = \
             pg.table(\"verify_num_src\")\n  sink out = s -> my.table(\"verify_num_dst\") {{ mode append }}\n}}\n",
            crate::common::MY_TEST_URL
        ),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let run = flow(&["run", "-q", file]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert_eq!(
        crate::common::my_rows("SELECT id, n, g FROM verify_num_dst WHERE id IN (1, 4) ORDER BY id"),
        crate::common::rows(&[
            &["1", "1.500000000000000000000000000000", "2"],
            &["4", "-0.000010000000000000000000000000", "8"]
        ])
    );
    let out = flow(&["verify", file]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("  column `g` is generated by the target: not compared\n"), "{stdout}");
    assert!(stdout.contains("  equal: 1 partition(s)"), "{stdout}");

    crate::common::my_exec("UPDATE verify_num_dst SET n = 1.500000000000000000000000000001 WHERE id = 1");
    let out = flow(&["verify", file]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("      changed: id=1\n"), "{stdout}");
}
