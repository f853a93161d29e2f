//! `flow explain --format dot|mermaid`: the real binary's graphs, rendered by Graphviz
//! (`dot -Tsvg`), with a node per stage and an edge per edge of the plan that `--format json`
//! shows. Without Graphviz the rendering tests skip with a printed reason, unless
//! `FLOW_REQUIRE_TOOLS=1` (as in `.ci/run`), where a missing `dot` is a failure.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use crate::common::{flow_cli, temp_dir};

/// Whether Graphviz's `dot` runs here; prints why a test skips when it does not.
fn graphviz() -> bool {
    let found = Command::new("dot").arg("-V").output().is_ok_and(|out| out.status.success());
    if !found {
        assert!(
            std::env::var("FLOW_REQUIRE_TOOLS").as_deref() != Ok("1"),
            "Graphviz's `dot` is not installed (FLOW_REQUIRE_TOOLS=1): apt-get install graphviz"
        );
        println!("skipped: Graphviz's `dot` is not installed (apt-get install graphviz)");
    }
    found
}

/// `dot -Tsvg` of `dot_text`: the SVG, or a panic with Graphviz's complaint. Graphviz warns on
/// stderr about what it had to guess (a bad attribute, an unknown escape): none is accepted.
fn render_svg(dot_text: &str) -> String {
    let mut child = Command::new("dot")
        .arg("-Tsvg")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("dot starts");
    child.stdin.take().expect("stdin").write_all(dot_text.as_bytes()).expect("dot reads");
    let out = child.wait_with_output().expect("dot ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "dot -Tsvg: {stderr}\n{dot_text}");
    String::from_utf8(out.stdout).expect("UTF-8 SVG")
}

/// Nodes, edges and clusters Graphviz drew.
fn svg_counts(svg: &str) -> (usize, usize, usize) {
    (
        svg.matches("class=\"node\"").count(),
        svg.matches("class=\"edge\"").count(),
        svg.matches("class=\"cluster\"").count(),
    )
}

/// Stages and edges of every pipeline, as `flow explain --format json` lists them.
fn plan_counts(args: &[&str]) -> (usize, usize) {
    let (code, json, stderr) = flow_cli(&[&["explain", "--format", "json"], args].concat());
    assert_eq!(code, 0, "{stderr}");
    let explained: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    let pipelines = explained["pipelines"].as_array().expect("pipelines");
    let count = |key: &str| pipelines.iter().map(|p| p[key].as_array().expect(key).len()).sum();
    (count("stages"), count("edges"))
}

fn explain(args: &[&str], format: &str) -> String {
    let (code, out, stderr) = flow_cli(&[&["explain", "--format", format], args].concat());
    assert_eq!(code, 0, "{stderr}");
    out
}

#[test]
fn the_demo_graph_renders_with_a_node_per_stage_and_an_edge_per_edge() {
    if !graphviz() {
        return;
    }
    let (stages, edges) = plan_counts(&["pipelines/demo.flow"]);
    assert_eq!((stages, edges), (4, 3), "orders, clean and two sinks");
    for offline in [false, true] {
        let args: &[&str] = if offline { &["pipelines/demo.flow", "--offline"] } else { &["pipelines/demo.flow"] };
        let dot = explain(args, "dot");
        let svg = render_svg(&dot);
        assert_eq!(svg_counts(&svg), (stages, edges, 1), "offline {offline}:\n{dot}");
        // Labels as Graphviz drew them: the stage, what it reads or writes, the write mode.
        for text in
            ["orders", "generate · 200000 rows, seed 42", "filter | derive | rename | drop", "→ sqlite · orders"]
        {
            assert!(svg.contains(&format!(">{text}</text>")), "offline {offline}: no `{text}` in\n{svg}");
        }
        assert!(svg.contains(">replace</text>"), "{svg}");
        // Resolving split the synthetic table for `parallelism 2`; offline nothing is split.
        assert_eq!(svg.contains(">2 partitions</text>"), !offline, "{svg}");
    }
}

/// A table set read from SQLite (no server needed): its tables and the sinks that write them are
/// a cluster inside the pipeline's; a table that a transform reads is in the set, the transform not.
#[test]
fn a_table_set_is_a_cluster_of_its_tables_and_their_sinks() {
    if !graphviz() {
        return;
    }
    let dir = temp_dir();
    let db = dir.path().join("shop.db");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);
         CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), status TEXT);
         CREATE TABLE items (id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES orders(id));
         INSERT INTO customers VALUES (1, 'a'); INSERT INTO orders VALUES (1, 1, 'paid');",
    )
    .unwrap();
    drop(conn);
    let file = dir.path().join("set.flow");
    std::fs::write(
        &file,
        format!(
            "let src = sqlite(\"{}\")\nlet dst = sqlite(\"{}\")\n\
             pipeline migrate {{\n  \
               source app = src.tables(\"*\")\n  \
               transform paid = app.orders | filter status = 'paid'\n  \
               sink paid -> dst.table(\"paid_orders\")\n  \
               sink copy = app -> dst.schema() {{ mode replace }}\n}}\n",
            db.display(),
            dir.path().join("copy.db").display()
        ),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let (stages, edges) = plan_counts(&[file]);
    // Three tables; `orders` is written by `paid`'s sink, the other two by the schema sink.
    assert_eq!((stages, edges), (3 + 1 + 1 + 2, 1 + 1 + 2));
    let dot = explain(&[file], "dot");
    assert_eq!(svg_counts(&render_svg(&dot)), (stages, edges, 2), "{dot}");
    let set = cluster_body(&dot, "cluster_p0_set0");
    for stage in ["app.customers", "app.orders", "app.items", "copy.customers", "copy.items"] {
        assert!(set.contains(&format!("label=\"{stage}\\n")), "{stage} is not in the set's cluster:\n{dot}");
    }
    for stage in ["paid", "paid->paid_orders"] {
        assert!(!set.contains(&format!("label=\"{stage}\\n")), "{stage} is in the set's cluster:\n{dot}");
        assert!(dot.contains(&format!("label=\"{stage}\\n")), "no {stage}:\n{dot}");
    }
    assert!(set.starts_with("      label=\"table set app\\nsrc (sqlite) · *\";"), "{set}");

    // Offline the catalog is not read: the set is one node, its schema sink another, and the
    // table `paid` reads gets a node in the set.
    let dot = explain(&[file, "--offline"], "dot");
    assert_eq!(plan_counts(&[file, "--offline"]), (5, 3), "the JSON lists the same stages and edges");
    assert_eq!(svg_counts(&render_svg(&dot)), (5, 3, 2), "{dot}");
    let set = cluster_body(&dot, "cluster_p0_set0");
    for stage in ["app", "copy", "app.orders"] {
        assert!(set.contains(&format!("label=\"{stage}")), "{stage} is not in the set's cluster:\n{dot}");
    }
}

/// The text between `subgraph NAME {` and its closing brace.
fn cluster_body<'a>(dot: &'a str, name: &str) -> &'a str {
    let start = dot.find(&format!("subgraph {name} {{\n")).unwrap_or_else(|| panic!("no {name} in\n{dot}"));
    let body = &dot[start..];
    let body = &body[body.find('\n').unwrap() + 1..];
    &body[..body.find("\n    }\n").unwrap_or(body.len())]
}

/// Names with quotes, backslashes, angle brackets and an ampersand reach the drawing as
/// written; a password in a connection URL reaches neither format.
#[test]
fn labels_are_escaped_and_passwords_never_shown() {
    let dir = temp_dir();
    let file = dir.path().join("odd.flow");
    // In a table name `""` is a quote inside a quoted part; in a .flow string `\"` is a quote.
    std::fs::write(
        &file,
        r#"let src = postgres("postgres://loader:s3cr3t-pw@db.internal/shop")
let dst = postgres("postgres://loader:s3cr3t-pw@db.internal/dwh?password=s3cr3t-pw")
pipeline odd {
  source orders = src.table("public.orders") { partition by id into 8 }
  sink out = orders -> dst.table("public.\"my \"\"quoted\"\" \\ <b> & c\"")
}
"#,
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let dot = explain(&[file, "--offline"], "dot");
    let mermaid = explain(&[file, "--offline"], "mermaid");
    for text in [&dot, &mermaid] {
        assert!(!text.contains("s3cr3t"), "{text}");
    }
    assert!(dot.contains(r#"label="out\n→ postgres · public.my \"quoted\" \\ <b> &amp; c\nappend""#), "{dot}");
    assert!(
        mermaid.contains(r#"(["out<br>→ postgres · public.my #quot;quoted#quot; \ #lt;b#gt; #amp; c<br>append"])"#),
        "{mermaid}"
    );
    if !graphviz() {
        return;
    }
    let svg = render_svg(&dot);
    // SVG escapes `"`, `<`, `>` and `&` itself; the backslash is one.
    assert!(svg.contains(">→ postgres · public.my &quot;quoted&quot; \\ &lt;b&gt; &amp; c</text>"), "{svg}");
    assert!(svg.contains(">partition by id into 8</text>"), "{svg}");
}

/// Two pipelines, two clusters; the Mermaid text of a small file, exactly.
#[test]
fn each_pipeline_is_a_cluster_and_the_mermaid_text_is_exact() {
    let dir = temp_dir();
    let file = dir.path().join("two.flow");
    let out = Path::new("out");
    std::fs::write(
        &file,
        format!(
            "let synth = generate(rows: 100, seed: 1)\nlet lake = parquet(\"{}\")\nlet db = sqlite(\"{}\")\n\
             pipeline a {{\n  source orders = synth.table(\"orders\")\n  \
               transform big = orders | filter total > 10 | select id, total\n  \
               sink big -> lake.table(\"big\")\n}}\n\
             pipeline b {{\n  parallelism 1\n  timeout 5m\n  source orders = synth.table(\"orders\")\n  \
               sink orders -> db.table(\"all_orders\") {{ mode append }}\n}}\n",
            out.display(),
            out.join("all.db").display()
        ),
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let mermaid = explain(&[file, "--offline"], "mermaid");
    let parallelism = std::thread::available_parallelism().map_or(2, |n| n.get());
    assert_eq!(
        mermaid,
        format!(
            r#"flowchart LR
  subgraph p0["pipeline a<br>parallelism {parallelism}"]
    p0_n0(["orders<br>generate · 100 rows, seed 1"]):::source
    p0_n1["big<br>filter | select"]
    p0_n2(["big-#gt;big.parquet<br>→ parquet · out/big.parquet<br>replace"]):::sink
  end
  subgraph p1["pipeline b<br>parallelism 1, timeout 5m"]
    p1_n0(["orders<br>generate · 100 rows, seed 1"]):::source
    p1_n1(["orders-#gt;all_orders<br>→ sqlite · all_orders<br>append"]):::sink
  end
  p0_n0 --> p0_n1
  p0_n1 --> p0_n2
  p1_n0 --> p1_n1
  classDef source fill:#dbeafe,stroke:#555555
  classDef sink fill:#dcfce7,stroke:#555555
"#
        )
    );
    if !graphviz() {
        return;
    }
    let (stages, edges) = plan_counts(&[file]);
    assert_eq!((stages, edges), (5, 3));
    assert_eq!(svg_counts(&render_svg(&explain(&[file], "dot"))), (stages, edges, 2));
}
