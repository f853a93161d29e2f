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

/// The modules a line names after `crate::`, including each item of `crate::{a, b::c}`.
fn referenced(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level items of the group: split at commas outside nested braces.
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(std::mem::take(&mut item));
                        continue;
                    }
                    _ => {}
                }
                if depth == 0 {
                    item.push(c);
                }
            }
            out.push(item);
        } else {
            out.push(rest.to_string());
        }
    }
    out.iter()
        .map(|s| s.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>())
        .filter(|s| !s.is_empty() && s != "self")
        .collect()
}

fn module_edges() -> Edges {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut edges = Edges::new();
    for file in &files {
        let Some(from) = module_of(&src, file) else { continue };
        let text = std::fs::read_to_string(file).expect("source file is readable");
        for (number, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for to in referenced(line) {
                if to != from {
                    let place = format!("{}:{}", file.strip_prefix(&src).unwrap_or(file).display(), number + 1);
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

#[test]
fn the_checker_finds_a_cycle_and_reads_grouped_imports() {
    assert_eq!(referenced("use crate::{plan::{A, B}, schema, self};"), ["plan", "schema"]);
    assert_eq!(referenced("let x = crate::ledger::now(); // crate::exec"), ["ledger", "exec"]);
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
