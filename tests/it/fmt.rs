//! `flow fmt` (issue 18): formatting is idempotent and never changes meaning — over every
//! example (pipelines/, the README, the .flow texts of these tests) and over hundreds of
//! mutated-but-equivalent files — and the command rewrites, checks and refuses as documented.

use std::path::Path;

use flow::plan::PipelinePlan;
use flow::syntax::format::format;

use crate::common::{context, flow_cli, temp_dir, write};

/// What a file means: its checked plans and its problems (code and message, not positions).
type Meaning = (Vec<PipelinePlan>, Vec<(String, String)>);

fn meaning(text: &str) -> Option<Meaning> {
    let ast = flow::syntax::parse(text).ok()?;
    let (plans, problems) = flow::semantic::lower(&ast, &context(&[]));
    Some((plans, problems.into_iter().map(|p| (p.code.to_string(), p.message)).collect()))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The example files: pipelines/*.flow and the README's ```flow blocks.
fn examples() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(root().join("pipelines"))
        .expect("pipelines/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "flow"))
        .collect();
    paths.sort();
    for path in paths {
        out.push((path.display().to_string(), std::fs::read_to_string(&path).expect("read")));
    }
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    for (i, block) in readme.split("```flow\n").skip(1).enumerate() {
        let body = block.split("```").next().expect("closed block");
        out.push((format!("README.md block {}", i + 1), body.to_string()));
    }
    out
}

/// Every string literal of tests/it/*.rs that parses as a .flow file: a corpus of a hundred
/// pipelines written by hand for other tests, in every style they were written in.
fn test_texts() -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(root().join("tests/it"))
        .expect("tests/it")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    paths.sort();
    for path in paths {
        let source = std::fs::read_to_string(&path).expect("read");
        for (i, literal) in rust_string_literals(&source).into_iter().enumerate() {
            let literal = if literal.contains("{{") { literal.replace("{{", "{").replace("}}", "}") } else { literal };
            if literal.contains("pipeline") && flow::syntax::parse(&literal).is_ok() {
                out.push((format!("{} literal {i}", path.display()), literal));
            }
        }
    }
    out
}

/// The values of Rust string literals (`"..."` with escapes, `r"..."`, `r#"..."#`) in `source`.
fn rust_string_literals(source: &str) -> Vec<String> {
    let bytes = source.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = source[i..].find('\n').map_or(bytes.len(), |n| i + n);
            }
            b'\'' => {
                // A char literal ('"', '\'') or a lifetime: skip past it.
                let close = source[i + 1..].char_indices().take(4).find(|(_, c)| *c == '\'').map(|(n, _)| i + 1 + n);
                i = close.map_or(i + 1, |c| c + 1);
            }
            b'r' if matches!(bytes.get(i + 1), Some(b'"' | b'#'))
                && (i == 0 || !bytes[i - 1].is_ascii_alphanumeric()) =>
            {
                let hashes = source[i + 1..].chars().take_while(|c| *c == '#').count();
                let open = i + 1 + hashes;
                if bytes.get(open) != Some(&b'"') {
                    i += 1;
                    continue;
                }
                let close = format!("\"{}", "#".repeat(hashes));
                match source[open + 1..].find(&close) {
                    Some(n) => {
                        out.push(source[open + 1..open + 1 + n].to_string());
                        i = open + 1 + n + close.len();
                    }
                    None => break,
                }
            }
            b'"' => {
                let mut value = String::new();
                let mut j = i + 1;
                let mut chars = source[j..].chars();
                while let Some(c) = chars.next() {
                    j += c.len_utf8();
                    match c {
                        '"' => break,
                        '\\' => {
                            let escaped = chars.next().unwrap_or('\\');
                            j += escaped.len_utf8();
                            match escaped {
                                'n' => value.push('\n'),
                                't' => value.push('\t'),
                                '\n' => {
                                    let skipped: usize =
                                        chars.clone().take_while(|c| c.is_whitespace()).map(char::len_utf8).sum();
                                    for _ in 0..source[j..j + skipped].chars().count() {
                                        chars.next();
                                    }
                                    j += skipped;
                                }
                                other => value.push(other),
                            }
                        }
                        other => value.push(other),
                    }
                }
                out.push(value);
                i = j;
            }
            _ => i += 1,
        }
    }
    out
}

/// Formats `text` and checks the three promises: it parses, it means the same, and formatting
/// it again changes nothing.
fn assert_formats(name: &str, text: &str) -> String {
    let formatted = format(text).unwrap_or_else(|p| panic!("{name}: does not format: {}", p.message));
    assert_eq!(
        meaning(&formatted),
        meaning(text),
        "{name}: meaning changed\n--- before\n{text}\n--- after\n{formatted}"
    );
    let again = format(&formatted).expect("formatted text parses");
    assert_eq!(again, formatted, "{name}: not idempotent\n--- once\n{formatted}\n--- twice\n{again}");
    formatted
}

#[test]
fn every_example_is_formatted_already() {
    let examples = examples();
    assert!(examples.len() >= 5, "found {} examples", examples.len());
    for (name, text) in examples {
        let formatted = assert_formats(&name, &text);
        assert_eq!(formatted, text, "{name} is not formatted: run `flow fmt`");
    }
}

#[test]
fn formatting_the_test_corpus_keeps_its_meaning() {
    let corpus = test_texts();
    println!("{} .flow texts found in tests/it", corpus.len());
    assert!(corpus.len() >= 60, "found {} .flow texts in tests/it", corpus.len());
    for (name, text) in corpus {
        assert_formats(&name, &text);
    }
}

/// A small deterministic generator (xorshift), so a failure names a reproducible mutant.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// The kinds of spelling a mutant may change.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mutation {
    /// Blanks and line breaks between tokens added, removed, doubled.
    Spacing,
    /// Comments added at ends of lines.
    Comments,
    /// Keywords in upper or mixed case, strings in the other quotes.
    Spelling,
}

/// Rewrites `text` outside strings, back-quoted names and comments, choosing by `rng`.
fn mutate(text: &str, mutation: Mutation, rng: &mut Rng) -> String {
    const CASE_INSENSITIVE: &[&str] = &[
        "let",
        "pipeline",
        "source",
        "sink",
        "transform",
        "filter",
        "derive",
        "select",
        "drop",
        "rename",
        "and",
        "or",
        "not",
        "null",
        "is",
        "batch",
        "mode",
        "replace",
        "append",
        "partition",
        "by",
        "into",
        "timeout",
        "parallelism",
        "true",
        "false",
        "between",
        "like",
        "case",
        "when",
        "then",
        "else",
        "end",
    ];
    let mut out = String::with_capacity(text.len() * 2);
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    out.push(chars[i]);
                    i += 1;
                }
                if i < chars.len() {
                    out.push('\n');
                    i += 1;
                }
            }
            '"' | '\'' | '`' => {
                let start = i;
                i += 1;
                while i < chars.len() && chars[i] != c {
                    if c == '"' && chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i = (i + 1).min(chars.len());
                let literal: String = chars[start..i].iter().collect();
                let inner = &literal[1..literal.len().saturating_sub(1).max(1)];
                let plain = !inner.contains(['\\', '\'', '"', '`']);
                if mutation == Mutation::Spelling && c != '`' && plain && rng.chance(50) {
                    let q = if c == '"' { '\'' } else { '"' };
                    out.push(q);
                    out.push_str(inner);
                    out.push(q);
                } else {
                    out.push_str(&literal);
                }
            }
            ' ' | '\t' | '\n' | '\r' => {
                let start = i;
                while i < chars.len() && matches!(chars[i], ' ' | '\t' | '\n' | '\r') {
                    i += 1;
                }
                let run: String = chars[start..i].iter().collect();
                let before = out.chars().last();
                let after = chars.get(i).copied();
                let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$');
                let punct = |c: Option<char>| {
                    c.is_some_and(|c| matches!(c, '=' | ',' | '(' | ')' | '{' | '}' | '|' | ';' | ':'))
                };
                match mutation {
                    Mutation::Spacing if rng.chance(40) => {
                        let can_vanish = (punct(before) || punct(after)) && !(word(before) && word(after));
                        let choice = rng.pick(&[" ", "  ", "\n", " \n\t ", "\n\n\n", "\t"]);
                        if can_vanish && rng.chance(50) && !run.contains('\n') {
                            // Nothing: `a = b` → `a=b`.
                        } else {
                            out.push_str(choice);
                        }
                    }
                    Mutation::Comments if run.contains('\n') && rng.chance(30) => {
                        out.push_str(" # mutant note");
                        out.push_str(&run);
                    }
                    _ => out.push_str(&run),
                }
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                let keyword = CASE_INSENSITIVE.contains(&word.as_str());
                if mutation == Mutation::Spelling && keyword && rng.chance(50) {
                    let mixed: String = word
                        .chars()
                        .enumerate()
                        .map(|(n, c)| if n % 2 == 0 { c.to_ascii_uppercase() } else { c })
                        .collect();
                    let upper = word.to_ascii_uppercase();
                    out.push_str(if rng.chance(50) { &mixed } else { &upper });
                } else {
                    out.push_str(&word);
                }
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

#[test]
fn hundreds_of_mutated_files_format_to_the_same_meaning() {
    let mut corpus = examples();
    corpus.extend(test_texts());
    let mut rng = Rng(0x5eed_f10e);
    let (mut checked, mut discarded) = (0, 0);
    for (name, text) in &corpus {
        let Some(original) = meaning(text) else { continue };
        let canonical = format(text).expect("corpus formats");
        for round in 0..4 {
            for mutation in [Mutation::Spacing, Mutation::Comments, Mutation::Spelling] {
                let mutant = mutate(text, mutation, &mut rng);
                // A mutant that does not mean what the original means is the generator's miss
                // (a keyword-looking column name upper-cased, say), not a formatter case.
                if meaning(&mutant).as_ref() != Some(&original) {
                    discarded += 1;
                    continue;
                }
                let label = format!("{name}, {mutation:?} mutant {round}");
                let formatted = assert_formats(&label, &mutant);
                if mutation == Mutation::Spelling {
                    assert_eq!(formatted, canonical, "{label}: spelling changed the canonical text\n{mutant}");
                }
                checked += 1;
            }
        }
    }
    println!("{checked} mutants of {} files formatted to the same meaning; {discarded} discarded", corpus.len());
    assert!(checked >= 300, "only {checked} mutants checked ({discarded} discarded)");
    assert!(discarded * 4 < checked, "{discarded} of {} mutants discarded", checked + discarded);
}

#[test]
fn fmt_rewrites_checks_and_refuses() {
    let dir = temp_dir();
    let messy = "let g = generate(rows: 3)\npipeline p {source s=g.table(\"t\")\nsink s->g.table('u')}\n";
    let tidy =
        "let g = generate(rows: 3)\n\npipeline p {\n  source s = g.table(\"t\")\n  sink s -> g.table(\"u\")\n}\n";
    let messy_path = write(dir.path(), "messy.flow", messy);
    let tidy_path = write(dir.path(), "tidy.flow", tidy);
    std::fs::create_dir(dir.path().join("target")).expect("mkdir");
    write(&dir.path().join("target"), "ignored.flow", "not a flow file at all {");
    let dir_arg = dir.path().to_str().expect("utf-8");

    let (code, stdout, stderr) = flow_cli(&["fmt", "--check", dir_arg]);
    assert_eq!((code, stdout.as_str()), (1, format!("would reformat {messy_path}\n").as_str()), "{stderr}");
    // The command that formats them is the one that checked them, without --check.
    assert_eq!(stderr, format!("1 file(s) would be reformatted; run `flow fmt {dir_arg}` to format them\n"));
    assert_eq!(std::fs::read_to_string(&messy_path).expect("read"), messy, "--check writes nothing");

    let (code, stdout, _) = flow_cli(&["fmt", dir_arg]);
    assert_eq!((code, stdout), (0, format!("formatted {messy_path}\n")));
    assert_eq!(std::fs::read_to_string(&messy_path).expect("read"), tidy);
    assert_eq!(std::fs::read_to_string(&tidy_path).expect("read"), tidy);
    assert_eq!(flow_cli(&["fmt", "--check", &messy_path, &tidy_path]), (0, String::new(), String::new()));

    let broken = write(dir.path(), "broken.flow", "pipeline p { source = }\n");
    let (code, stdout, stderr) = flow_cli(&["fmt", &broken, &messy_path]);
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(stderr.contains("flow::parse::syntax"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&broken).expect("read"), "pipeline p { source = }\n");

    let missing = dir.path().join("missing.flow");
    let (code, _, stderr) = flow_cli(&["fmt", missing.to_str().expect("utf-8")]);
    assert_eq!(code, 2);
    assert!(stderr.starts_with(&format!("error: cannot read {}: ", missing.display())), "{stderr}");
}

#[test]
fn fmt_reads_standard_input() {
    use std::io::Write;
    let mut child = crate::common::flow_command(&["fmt", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("flow fmt -");
    child.stdin.take().expect("stdin").write_all(b"let g=generate(rows:1)").expect("write");
    let out = child.wait_with_output().expect("exit");
    assert_eq!(
        (out.status.code(), String::from_utf8_lossy(&out.stdout).as_ref()),
        (Some(0), "let g = generate(rows: 1)\n")
    );
}

#[test]
#[cfg(unix)]
fn fmt_keeps_links_and_refuses_read_only_files() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
    let dir = temp_dir();
    let messy = "let g = generate(rows: 3)\npipeline p {source s=g.table(\"t\")\nsink s->g.table('u')}\n";
    let tidy = format(messy).expect("formats");
    // A symbolic link: the file it names is formatted, the link stays a link.
    let real = write(dir.path(), "real.flow", messy);
    let link = dir.path().join("link.flow");
    symlink(&real, &link).expect("symlink");
    assert_eq!(flow_cli(&["fmt", link.to_str().expect("utf-8")]).0, 0);
    assert!(std::fs::symlink_metadata(&link).expect("link").file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(&real).expect("read"), tidy);
    // A hard link keeps sharing the formatted text.
    let first = write(dir.path(), "first.flow", messy);
    let second = dir.path().join("second.flow");
    std::fs::hard_link(&first, &second).expect("hard link");
    assert_eq!(flow_cli(&["fmt", &first]).0, 0);
    assert_eq!(std::fs::read_to_string(&second).expect("read"), tidy);
    assert_eq!(std::fs::metadata(&second).expect("meta").nlink(), 2);
    // A read-only file is refused and left alone.
    let locked = write(dir.path(), "locked.flow", messy);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o444)).expect("chmod");
    let (code, _, stderr) = flow_cli(&["fmt", &locked]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("the file is read-only; not formatted"), "{stderr}");
    assert_eq!(std::fs::read_to_string(&locked).expect("read"), messy);
    // A link back up the tree is not followed.
    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).expect("mkdir");
    symlink(dir.path(), sub.join("up")).expect("symlink");
    let (code, stdout, stderr) = flow_cli(&["fmt", "--check", sub.to_str().expect("utf-8")]);
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "", ""));
}
