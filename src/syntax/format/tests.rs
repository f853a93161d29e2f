use super::*;

fn fmt(text: &str) -> String {
    let formatted = format(text).unwrap_or_else(|p| panic!("does not parse: {p:?}\n{text}"));
    let again = format(&formatted).expect("formatted text parses");
    assert_eq!(again, formatted, "not idempotent:\n{formatted}");
    formatted
}

#[test]
fn lays_out_a_pipeline() {
    let text = "let  src=postgres( \"postgres://u@h/db\" ,schema:'app', )\nLET out = sqlite('out.db')\n\
                PIPELINE p{PARALLELISM 2 timeout 10m\nsource o=src.table( 'orders' ){BATCH 100;}\n\
                transform t=o|FILTER status<>'x' AND NOT a IS NULL|derive b = a*2 , c=-b|select a,b\n\
                sink t->out.table(\"t\"){mode REPLACE;create if missing}}";
    assert_eq!(
        fmt(text),
        r#"let src = postgres("postgres://u@h/db", schema: "app")
let out = sqlite("out.db")

pipeline p {
  parallelism 2
  timeout 10m
  source o = src.table("orders") { batch 100 }
  transform t = o
    | filter status != 'x' and not a is null
    | derive b = a * 2, c = -b
    | select a, b
  sink t -> out.table("t") { mode replace; create if missing }
}
"#
    );
}

#[test]
fn keeps_comments_where_they_were() {
    let text = "# header\n\n# about src\nlet src = csv(\"in.csv\") # trailing\n\npipeline p { # after brace\n  \
                source a = src.table(\"x\")\n\n  # before the transform\n  transform t = a\n    | filter x > 1 # on filter\n    \
                | drop y\n  sink t -> src.table(\"y\") {\n    mode append\n    # inside the block\n  }\n}\n# the end\n";
    assert_eq!(
        fmt(text),
        r#"# header

# about src
let src = csv("in.csv") # trailing

pipeline p { # after brace
  source a = src.table("x")

  # before the transform
  transform t = a
    | filter x > 1 # on filter
    | drop y
  sink t -> src.table("y") {
    mode append
    # inside the block
  }
}
# the end
"#
    );
}

#[test]
fn breaks_long_lists_and_blocks() {
    let text = "let pg = postgres(host: \"a-very-long-host-name.example.com\", port: 5432, user: \"reporting_user\", database: \"analytics\")\n\
                pipeline p { source a = pg.table(\"t\") { partition by id into 8; batch 50000; timeout 30m; on error reject to pg.table(\"rejects_of_a\") }\n\
                transform t = a | derive total_cents = cast(total * 100 as BIGINT), order_day = cast(created_at as DATE), label = upper(name) || '-' || code\n\
                sink s = t -> pg.table(\"t\") }";
    assert_eq!(
        fmt(text),
        r#"let pg = postgres(
  host: "a-very-long-host-name.example.com",
  port: 5432,
  user: "reporting_user",
  database: "analytics",
)

pipeline p {
  source a = pg.table("t") {
    partition by id into 8
    batch 50000
    timeout 30m
    on error reject to pg.table("rejects_of_a")
  }
  transform t = a
    | derive total_cents = cast(total * 100 as bigint),
             order_day = cast(created_at as date),
             label = upper(name) || '-' || code
  sink s = t -> pg.table("t")
}
"#
    );
}

#[test]
fn table_sets_and_members() {
    let text = "let a = postgres(\"postgres://h/db\")\nlet b = sqlite(\"b.db\")\npipeline copy {\n\
                source all = a.tables( 'public.*' , exclude:['audit_*',\"tmp_*\" ,] ) { table `orders` {partition by id into 4} }\n\
                sink all -> b.schema() { table orders as 'orders_v2' { mode upsert on ( id,`Order Key` ) } } }";
    assert_eq!(
        fmt(text),
        r#"let a = postgres("postgres://h/db")
let b = sqlite("b.db")

pipeline copy {
  source all = a.tables("public.*", exclude: ["audit_*", "tmp_*"]) {
    table orders { partition by id into 4 }
  }
  sink all -> b.schema() {
    table orders as "orders_v2" { mode upsert on (id, `Order Key`) }
  }
}
"#
    );
}

#[test]
fn expressions_keep_their_meaning() {
    let text = "let g = generate(rows: 10)\npipeline p { source s = g.table(\"t\")\n\
                transform t = s | filter (a + b) * c between -1 and 10 or d not in ( 1,2 ) or e not like \"x%\" \n\
                | derive f = case when a>1 then 'big' else \"sm'all\" end, g = count(*), h = cast(x as numeric( 12 ,2 ))\n\
                | rename a as `select`, `b` as c\n\
                sink t -> g.table(\"u\") }";
    assert_eq!(
        fmt(text),
        r#"let g = generate(rows: 10)

pipeline p {
  source s = g.table("t")
  transform t = s
    | filter (a + b) * c between -1 and 10 or d not in (1, 2) or e not like 'x%'
    | derive f = case when a > 1 then 'big' else "sm'all" end,
             g = count(*),
             h = cast(x as numeric(12, 2))
    | rename a as `select`, b as c
  sink t -> g.table("u")
}
"#
    );
}

#[test]
fn a_comment_inside_an_expression_breaks_the_line() {
    let text = "let g = generate(rows: 1)\npipeline p { source s = g.table(\"t\")\ntransform t = s | filter a = 1 # why\n and b = 2\nsink t -> g.table(\"u\") }";
    assert_eq!(
        fmt(text),
        r#"let g = generate(rows: 1)

pipeline p {
  source s = g.table("t")
  transform t = s
    | filter a = 1 # why
        and b = 2
  sink t -> g.table("u")
}
"#
    );
}

#[test]
fn strings_keep_quotes_that_would_need_escapes() {
    assert_eq!(requote(r#"'it''s'"#, Quotes::Double), r#"'it''s'"#);
    assert_eq!(requote(r#""a\tb""#, Quotes::Single), r#""a\tb""#);
    assert_eq!(requote(r#"'C:\dir'"#, Quotes::Double), r#"'C:\dir'"#);
    assert_eq!(requote(r#"'${DIR:-out}/x.db'"#, Quotes::Double), r#""${DIR:-out}/x.db""#);
    assert_eq!(requote(r#""x""#, Quotes::Single), "'x'");
}

#[test]
fn syntax_errors_are_not_formatted() {
    let problem = format("pipeline p { source = }").expect_err("syntax error");
    assert_eq!(problem.code, crate::diagnostics::codes::parse::SYNTAX);
}

#[test]
fn keywords_are_the_grammars() {
    let grammar = include_str!("../../../grammar/flow.pest");
    let mut from_grammar: Vec<String> = Vec::new();
    for line in grammar.lines() {
        let line = line.trim();
        let quoted_words = |body: &str| -> Vec<String> {
            body.split('"')
                .skip(1)
                .step_by(2)
                .filter(|w| w.chars().all(|c| c.is_ascii_alphabetic()))
                .map(str::to_string)
                .collect()
        };
        if line.starts_with("kw_")
            || line.starts_with("reserved")
            || line.starts_with("boolean")
            || line.starts_with("connection_kind")
        {
            from_grammar.extend(quoted_words(line));
        }
    }
    from_grammar.sort();
    from_grammar.dedup();
    let mut ours: Vec<String> = KEYWORDS.iter().map(|k| k.to_string()).collect();
    ours.sort();
    assert_eq!(ours, from_grammar);
}

#[test]
fn comments_in_empty_blocks_and_lists_are_kept() {
    let text = "let g = generate(rows: 1)\npipeline p {\n  source o = g.table(\"orders\") {\n    # TODO: add batch 50000\n  }\n  \
                source t = g.tables(\"*\", exclude: [ # none yet\n ])\n  sink o -> g.table(\"x\") { # open\n  }\n}\n";
    assert_eq!(
        fmt(text),
        "let g = generate(rows: 1)\n\npipeline p {\n  source o = g.table(\"orders\") {\n    # TODO: add batch 50000\n  }\n  \
         source t = g.tables(\"*\", exclude: [ # none yet\n      ])\n  sink o -> g.table(\"x\") { # open\n  }\n}\n"
    );
}

#[test]
fn a_comment_before_a_pipeline_stays_with_it() {
    assert_eq!(
        fmt("let a = csv(\"x.csv\")\n# the main job\npipeline p {}\n# the next\npipeline q {}"),
        "let a = csv(\"x.csv\")\n\n# the main job\npipeline p {\n}\n\n# the next\npipeline q {\n}\n"
    );
}

#[test]
fn deeply_nested_cases_format_in_linear_time() {
    // Each level tried flat and then broken would take 2^30 renderings.
    let mut expr = "1".to_string();
    for depth in 0..30 {
        expr = format!("case when a > {depth} then {expr} else 0 end");
    }
    let text = format!(
        "let g = generate(rows: 1)\npipeline p {{ source s = g.table(\"t\")\ntransform t = s | derive x = {expr}\nsink t -> g.table(\"u\") }}"
    );
    let formatted = fmt(&text);
    assert_eq!(formatted.matches("case when").count(), 30);
}

#[test]
fn odd_inputs() {
    assert_eq!(fmt(""), "");
    assert_eq!(fmt("\u{feff}  \n"), "");
    assert_eq!(fmt("\u{feff}# only a comment"), "# only a comment\n");
    let negated = fmt(
        "let g = generate(rows: 1)\npipeline p { source s = g.table(\"t\")\ntransform t = s | derive x = - - id\nsink t -> g.table(\"u\") }",
    );
    assert!(negated.contains("| derive x = - -id\n"), "{negated}");
}

#[test]
fn an_upsert_that_keeps_the_last_row_of_each_key() {
    let text = "let db = sqlite('d.db')\npipeline p { source s = db.table('events')\n\
                sink s -> db.table('latest') { MODE Upsert ON ( id,`Order Key` )   KEEP  Last\n BY `updated_at` ;batch 10}\n\
                sink s -> db.table('last') { mode upsert on (id) keep last by `last` } }";
    assert_eq!(
        fmt(text),
        r#"let db = sqlite("d.db")

pipeline p {
  source s = db.table("events")
  sink s -> db.table("latest") {
    mode upsert on (id, `Order Key`) keep last by updated_at
    batch 10
  }
  sink s -> db.table("last") { mode upsert on (id) keep last by `last` }
}
"#
    );
}
