//! `flow fmt`: one canonical layout for `.flow` text, comments kept where they were.
//!
//! The formatter walks pest's concrete tree (the AST drops keywords' spelling, quotes and
//! comments) and prints every token again with canonical spacing:
//!
//! - two-space indentation; a blank line around each `pipeline`; the author's blank lines
//!   between items kept (at most one);
//! - keywords, booleans, write modes and type names in lower case; `<>` as `!=`;
//! - a transform's steps one per line, `| step` indented under it;
//! - an option block on one line (`{ mode replace; batch 50000 }`) when it fits in
//!   [`WIDTH`] columns and holds no comment and no per-table block, else one option per line;
//!   a connection's arguments likewise (broken: one per line, trailing comma); the lists of
//!   `derive`, `select`, `drop`, `rename` and `cast` broken one per line, aligned under the first;
//! - strings in double quotes, except in expressions where SQL's single quotes are canonical; a
//!   string keeps its quotes when changing them would need an escape;
//! - back-quoted names that need no quotes lose them.
//!
//! Comments are not in pest's tree (the grammar's `COMMENT` is silent): they are found in the
//! gaps between tokens and printed before the next token: as a trailing comment (with the
//! author's spaces before it, which align comments) when the author wrote no line break between
//! it and the previous token, on its own line otherwise.
//!
//! Formatting never changes meaning: a formatted file parses to the same checked plan
//! (tests/it/fmt.rs checks every example and hundreds of mutated files), and formatting is
//! idempotent.

use pest::iterators::Pair;

use super::parser::{Rule, is_infix, is_postfix, parse_tree};
use crate::diagnostics::Problem;
use printer::Printer;

/// The line width the formatter fills before breaking a list or block (columns, in chars).
pub const WIDTH: usize = 100;

/// Extra indentation of a line that continues an expression a comment has broken (columns).
pub(super) const CONTINUATION: usize = 4;

/// Formats a whole `.flow` file.
///
/// Returns the canonical text, ending in exactly one newline (empty for a blank file; a leading
/// byte-order mark is dropped).
///
/// # Errors
/// The file's syntax error (as `flow check` reports it): only text that parses is formatted.
pub fn format(text: &str) -> Result<String, Problem> {
    let file = parse_tree(text)?;
    if text.trim_start_matches('\u{feff}').trim().is_empty() {
        return Ok(String::new());
    }
    let mut leaves = Vec::new();
    collect_leaves(file.clone(), &mut leaves);
    let comments = comments_of(&leaves, text);
    let mut printer = Printer::new(text, comments, leaves.iter().map(|(start, _)| *start).collect());
    printer.file(file);
    Ok(printer.finish())
}

/// A `# ...` comment: its byte range in the source and its text (trailing blanks removed).
#[derive(Debug, Clone, Copy)]
struct Comment<'a> {
    start: usize,
    end: usize,
    text: &'a str,
}

/// Tokens printed verbatim: their inside is not re-spaced, and may hold a `#` that is not a
/// comment (strings, back-quoted names, the rest of an unknown line).
fn is_atom(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::string
            | Rule::variable
            | Rule::quoted_ident
            | Rule::stage_ref
            | Rule::type_name
            | Rule::unknown_item
            | Rule::step_unknown
            | Rule::unknown_option
    )
}

/// Every comment of the file. Between two tokens the text holds only blanks, punctuation and
/// comments, so there a `#` always starts one.
fn comments_of<'a>(leaves: &[(usize, usize)], text: &'a str) -> Vec<Comment<'a>> {
    let mut gaps = Vec::with_capacity(leaves.len() + 1);
    let mut at = 0;
    for &(start, end) in leaves {
        gaps.push((at, start));
        at = at.max(end);
    }
    gaps.push((at, text.len()));
    let mut comments = Vec::new();
    for (from, to) in gaps {
        let mut i = from;
        while i < to {
            match text[i..to].find('#') {
                None => break,
                Some(offset) => {
                    let start = i + offset;
                    let end = text[start..].find('\n').map_or(text.len(), |n| start + n);
                    comments.push(Comment { start, end, text: text[start..end].trim_end() });
                    i = end;
                }
            }
        }
    }
    comments
}

fn collect_leaves(pair: Pair<Rule>, out: &mut Vec<(usize, usize)>) {
    let span = pair.as_span();
    let mut inner = pair.clone().into_inner().peekable();
    // An empty block or list is punctuation, not a token: a comment inside it is in a gap.
    let container = matches!(pair.as_rule(), Rule::options | Rule::value_list);
    if is_atom(pair.as_rule()) || (inner.peek().is_none() && !container) {
        if span.start() < span.end() {
            out.push((span.start(), span.end()));
        }
        return;
    }
    for child in inner {
        collect_leaves(child, out);
    }
}

/// Whitespace owed before the next token.
/// Which quotes a string takes where it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quotes {
    /// Connection arguments, table names, SQL text: `"..."`.
    Double,
    /// Values in expressions, as in SQL: `'...'`.
    Single,
}

/// `raw` (a string token with its quotes) in the preferred quotes, when its text needs no escape
/// in them; otherwise unchanged. Double-quoted text unescapes `\x`, single-quoted text `''`, so
/// text holding `\`, `'` or `"` keeps the quotes it was written in.
fn requote(raw: &str, quotes: Quotes) -> String {
    let inner = &raw[1..raw.len() - 1];
    let plain = !inner.contains(['\\', '\'', '"']);
    match quotes {
        Quotes::Double if plain => format!("\"{inner}\""),
        Quotes::Single if plain => format!("'{inner}'"),
        _ => raw.to_string(),
    }
}

/// `numeric( 12 ,2 )` → `numeric(12, 2)`; type names are case-insensitive (`semantic::expr`).
fn type_name(raw: &str) -> String {
    let compact: String = raw.chars().filter(|c| *c != ' ').collect::<String>().to_ascii_lowercase();
    compact.replace(',', ", ")
}

/// Whether a back-quoted name can be written bare: an identifier that is no keyword of the
/// language (bare keywords would read as syntax).
fn plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    let identifier = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    identifier && !KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(name))
}

/// Every keyword of grammar/flow.pest (the `kw_*` and `reserved` rules, `boolean`, and the
/// connection kinds); a unit test holds this list to the grammar.
const KEYWORDS: &[&str] = &[
    "and",
    "as",
    "batch",
    "between",
    "by",
    "case",
    "cast",
    "create",
    "csv",
    "derive",
    "drop",
    "else",
    "end",
    "error",
    "fail",
    "false",
    "filter",
    "generate",
    "if",
    "in",
    "incremental",
    "into",
    "is",
    "keep",
    "last",
    "let",
    "like",
    "max",
    "missing",
    "mode",
    "mysql",
    "never",
    "not",
    "null",
    "on",
    "or",
    "parallelism",
    "parquet",
    "partition",
    "pipeline",
    "postgres",
    "postgresql",
    "profile",
    "query",
    "reject",
    "rejects",
    "rename",
    "schema",
    "select",
    "sink",
    "skip",
    "source",
    "sql",
    "sqlite",
    "table",
    "tables",
    "then",
    "timeout",
    "to",
    "transform",
    "true",
    "upsert",
    "when",
];

fn only_child(pair: Pair<Rule>) -> Pair<Rule> {
    pair.into_inner().next().expect("grammar: one child")
}

mod layout;
mod printer;

#[cfg(test)]
mod tests;
