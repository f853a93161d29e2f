//! The module graph of `src/` has no cycles: data flows one way (file text → AST → checked plan
//! → resolved plan → physical graph → run report) and each top-level module only uses modules
//! below it. A new `crate::x` reference that closes a cycle fails this test, naming the
//! modules and a file and line for every edge of the cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Where one module uses another: the first file and line seen.
type Edges = BTreeMap<(String, String), String>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level module a file belongs to: `src/connect/postgres/sink.rs` → `connect`;
/// `src/lib.rs` and `src/main.rs` belong to none (they name every module).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).ok()?;
    let first = relative.components().next()?.as_os_str().to_str()?;
    let name = first.strip_suffix(".rs").unwrap_or(first);
    (name != "lib" && name != "main").then(|| name.to_string())
}

/// The modules a text names after `crate::`, including each item of `crate::{a, b::c}` (over
/// several lines too). Whitespace around `::` is ignored (`crate :: exec`).
fn referenced(text: &str) -> Vec<String> {
    let text = squeeze_paths(text);
    let mut out = Vec::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        out.extend(heads(rest));
    }
    out
}

/// The first name of the path that `text` starts with, or of each item when it starts with a
/// group (`{a, b::c}` → `a`, `b`); `self` is left out.
fn heads(text: &str) -> Vec<String> {
    let Some(group) = text.strip_prefix('{') else {
        return [first_ident(text)].into_iter().filter(|s| !s.is_empty() && s != "self").collect();
    };
    // Top-level items of the group: split at commas outside nested braces.
    let mut items = Vec::new();
    let (mut depth, mut item) = (0, String::new());
    for c in group.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                items.push(std::mem::take(&mut item));
                continue;
            }
            _ => {}
        }
        if depth == 0 {
            item.push(c);
        }
    }
    items.push(item);
    items.iter().map(|s| first_ident(s)).filter(|s| !s.is_empty() && s != "self").collect()
}

/// The top-level modules a file's `super::` paths reach: from a file whose module path is
/// `module` (`src/plan/mod.rs` → `["plan"]`, `src/plan/sql.rs` → `["plan", "sql"]`), a chain of
/// as many `super::` as the path is deep leaves the top-level module, and what follows names
/// another.
fn reached_through_super(text: &str, module: &[String]) -> Vec<String> {
    let text = squeeze_paths(text);
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find("super::") {
        let start = from + at;
        let inside_word =
            text[..start].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        let mut rest = &text[start..];
        let mut supers = 0;
        while let Some(r) = rest.strip_prefix("super::") {
            rest = r;
            supers += 1;
        }
        from = text.len() - rest.len();
        if !inside_word && !module.is_empty() && supers >= module.len() {
            out.extend(heads(rest));
        }
    }
    out
}

fn first_ident(text: &str) -> String {
    text.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

/// `text` with the whitespace (spaces, tabs, line breaks) around every `::` removed.
fn squeeze_paths(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("::") {
        out.push_str(rest[..at].trim_end());
        out.push_str("::");
        rest = rest[at + 2..].trim_start();
    }
    out.push_str(rest);
    out
}

/// A file's module path: `src/connect/postgres/sink.rs` → `["connect", "postgres", "sink"]`,
/// `src/plan/mod.rs` → `["plan"]`.
fn module_path(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).unwrap_or(file);
    let mut parts: Vec<String> = relative
        .components()
        .filter_map(|c| c.as_os_str().to_str())
        .map(|s| s.trim_end_matches(".rs").to_string())
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
        parts.pop();
    }
    parts
}

fn module_edges() -> Edges {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    // Only top-level modules count: a `super::super::Item` from an inline module (`mod tests`)
    // reaches an item of the file's own module, not another module.
    let modules: BTreeSet<String> = files.iter().filter_map(|f| module_of(&src, f)).collect();
    let mut edges = Edges::new();
    for file in &files {
        let Some(from) = module_of(&src, file) else { continue };
        let text = std::fs::read_to_string(file).expect("source file is readable");
        let module = module_path(&src, file);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim_start().starts_with("//")).collect();
        let numbers: Vec<usize> =
            (text.lines().enumerate()).filter(|(_, l)| !l.trim_start().starts_with("//")).map(|(n, _)| n + 1).collect();
        for (i, line) in lines.iter().enumerate() {
            // A path or group may go on over the next lines (`use crate::{` ... `};`).
            let trimmed = line.trim_end();
            let continues = ["{", "::", ",", "crate", "super"].iter().any(|end| trimmed.ends_with(end));
            let text = if continues { lines[i..(i + 20).min(lines.len())].join("\n") } else { line.to_string() };
            let mut names = referenced(&text);
            names.extend(reached_through_super(&text, &module));
            for to in names {
                if to != from && modules.contains(&to) {
                    let place = format!("{}:{}", file.strip_prefix(&src).unwrap_or(file).display(), numbers[i]);
                    edges.entry((from.clone(), to)).or_insert(place);
                }
            }
        }
    }
    edges
}

/// The strongly connected components with more than one module (Tarjan's algorithm).
fn cycles(edges: &Edges) -> Vec<Vec<String>> {
    let nodes: BTreeSet<&String> = edges.keys().flat_map(|(a, b)| [a, b]).collect();
    let nodes: Vec<&String> = nodes.into_iter().collect();
    let index_of = |n: &String| nodes.iter().position(|m| *m == n).expect("node");
    let mut next: Vec<Vec<usize>> = vec![Vec::new(); nodes.len()];
    for (a, b) in edges.keys() {
        next[index_of(a)].push(index_of(b));
    }
    struct State {
        index: Vec<Option<usize>>,
        low: Vec<usize>,
        on_stack: Vec<bool>,
        stack: Vec<usize>,
        counter: usize,
        found: Vec<Vec<usize>>,
    }
    fn visit(v: usize, next: &[Vec<usize>], s: &mut State) {
        s.index[v] = Some(s.counter);
        s.low[v] = s.counter;
        s.counter += 1;
        s.stack.push(v);
        s.on_stack[v] = true;
        for &w in &next[v] {
            match s.index[w] {
                None => {
                    visit(w, next, s);
                    s.low[v] = s.low[v].min(s.low[w]);
                }
                Some(iw) if s.on_stack[w] => s.low[v] = s.low[v].min(iw),
                Some(_) => {}
            }
        }
        if Some(s.low[v]) == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                s.found.push(component);
            }
        }
    }
    let n = nodes.len();
    let mut state = State {
        index: vec![None; n],
        low: vec![0; n],
        on_stack: vec![false; n],
        stack: Vec::new(),
        counter: 0,
        found: Vec::new(),
    };
    for v in 0..n {
        if state.index[v].is_none() {
            visit(v, &next, &mut state);
        }
    }
    let mut out: Vec<Vec<String>> = state
        .found
        .into_iter()
        .map(|c| {
            let mut names: Vec<String> = c.into_iter().map(|i| nodes[i].clone()).collect();
            names.sort();
            names
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_module_graph_has_no_cycles() {
    let edges = module_edges();
    let found = cycles(&edges);
    let mut report = String::new();
    for component in &found {
        report.push_str(&format!("cycle among {}:\n", component.join(", ")));
        for ((from, to), place) in &edges {
            if component.contains(from) && component.contains(to) {
                report.push_str(&format!("  {from} -> {to}  ({place})\n"));
            }
        }
    }
    assert!(found.is_empty(), "modules of src/ that use each other:\n{report}");
}

/// The layers of ARCHITECTURE.md's "Modules, bottom to top" table: each module and its row.
fn documented_layers() -> BTreeMap<String, usize> {
    let doc = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("ARCHITECTURE.md")).unwrap();
    let table =
        doc.split("## Modules, bottom to top").nth(1).expect("the modules table").split("\n## ").next().unwrap();
    let mut layers = BTreeMap::new();
    let rows = table.lines().filter(|l| l.starts_with("| `"));
    for (row, line) in rows.enumerate() {
        let first = line.split('|').nth(1).unwrap_or_default();
        for name in first.split('`').skip(1).step_by(2) {
            layers.insert(name.to_string(), row);
        }
    }
    layers
}

/// Every module is in the table, and uses no module of a row below its own.
#[test]
fn modules_use_only_the_layers_the_architecture_puts_under_them() {
    let layers = documented_layers();
    let mut wrong = Vec::new();
    for ((from, to), place) in module_edges() {
        match (layers.get(&from), layers.get(&to)) {
            (Some(a), Some(b)) if b > a => wrong.push(format!("{from} uses {to}, a later row ({place})")),
            (None, _) => wrong.push(format!("{from} is not in ARCHITECTURE.md's modules table ({place})")),
            (_, None) => wrong.push(format!("{to} is not in ARCHITECTURE.md's modules table ({place})")),
            _ => {}
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "against ARCHITECTURE.md's layers:\n{}", wrong.join("\n"));
}

#[test]
fn the_checker_finds_a_cycle_and_reads_grouped_imports() {
    assert_eq!(referenced("use crate::{plan::{A, B}, schema, self};"), ["plan", "schema"]);
    assert_eq!(referenced("let x = crate::ledger::now(); // crate::exec"), ["ledger", "exec"]);
    assert_eq!(referenced("use crate::{\n    exec::graph,\n    plan::Plan,\n};"), ["exec", "plan"]);
    assert_eq!(referenced("let x = crate :: exec\n    ::graph::build();"), ["exec"]);
    let plan = |path: &[&str]| path.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(reached_through_super("use super::exec::graph;", &plan(&["plan"])), ["exec"]);
    assert_eq!(reached_through_super("use super::sql::Dialect;", &plan(&["plan", "backend"])), Vec::<String>::new());
    assert_eq!(reached_through_super("use super::super::{exec, ledger};", &plan(&["plan", "x"])), ["exec", "ledger"]);
    let edge = |a: &str, b: &str| ((a.to_string(), b.to_string()), String::new());
    let edges: Edges = [edge("a", "b"), edge("b", "c"), edge("c", "a"), edge("c", "d")].into_iter().collect();
    assert_eq!(cycles(&edges), vec![vec!["a".to_string(), "b".to_string(), "c".to_string()]]);
    assert!(cycles(&[edge("a", "b"), edge("b", "c")].into_iter().collect()).is_empty());
}

/// Lines of production code in a source file: up to an inline `#[cfg(test)] mod tests {`.
fn production_lines(text: &str) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let tests_start = lines
        .windows(2)
        .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_start().starts_with("mod ") && w[1].ends_with('{'));
    tests_start.unwrap_or(lines.len())
}

/// Source files stay small enough to read in one sitting; tests live in their own files
/// (`tests.rs`, `*_tests.rs`, a `tests/` folder) and are not counted.
#[test]
fn no_production_source_file_is_over_800_lines() {
    const LIMIT: usize = 800;
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut over: Vec<String> = files
        .iter()
        .filter(|f| {
            let name = f.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let in_tests_folder = f.components().any(|c| c.as_os_str() == "tests");
            name != "tests.rs" && !name.ends_with("_tests.rs") && !in_tests_folder
        })
        .filter_map(|f| {
            let lines = production_lines(&std::fs::read_to_string(f).ok()?);
            (lines > LIMIT).then(|| format!("{} ({lines} lines)", f.strip_prefix(&src).unwrap_or(f).display()))
        })
        .collect();
    over.sort();
    assert!(over.is_empty(), "split these by concern (tests may go to a file of their own):\n{}", over.join("\n"));
}

#[test]
fn test_modules_are_not_counted_as_production_lines() {
    assert_eq!(production_lines("fn a() {}\n\n#[cfg(test)]\nmod tests {\n    fn b() {}\n}\n"), 2);
    assert_eq!(production_lines("fn a() {}\n#[cfg(test)]\nmod tests;\n"), 3);
}
