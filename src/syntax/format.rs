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

use super::parser::{Rule, parse_tree};
use crate::diagnostics::Problem;

/// The line width the formatter fills before breaking a list or block (columns, in chars).
pub const WIDTH: usize = 100;

/// Extra indentation of a line that continues an expression a comment has broken (columns).
const CONTINUATION: usize = 4;

/// Formats a whole `.flow` file.
///
/// Returns the canonical text, ending in exactly one newline.
///
/// # Errors
/// The file's syntax error (as `flow check` reports it): only text that parses is formatted.
pub fn format(text: &str) -> Result<String, Problem> {
    let file = parse_tree(text)?;
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
    if is_atom(pair.as_rule()) || inner.peek().is_none() {
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    Nothing,
    Space,
    /// A line break the layout chose; `blank` says whether a blank line may or must precede.
    Newline(Blank),
    /// A line break a comment forced in the middle of a construct: the next line is indented
    /// [`CONTINUATION`] further.
    Break,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Blank {
    No,
    /// Kept when the author left one.
    Keep,
    Always,
}

struct Printer<'a> {
    src: &'a str,
    comments: Vec<Comment<'a>>,
    /// Where each token of the source starts, in order: punctuation is looked for between the
    /// last token printed and the next.
    leaf_starts: Vec<usize>,
    next_comment: usize,
    out: String,
    /// Indentation of lines the layout starts (columns).
    indent: usize,
    pending: Pending,
    /// Source offset after the last token or comment printed: blank lines and trailing
    /// comments are judged from the source between it and the next one.
    last_end: usize,
}

impl<'a> Printer<'a> {
    fn new(src: &'a str, comments: Vec<Comment<'a>>, leaf_starts: Vec<usize>) -> Self {
        Self {
            src,
            comments,
            leaf_starts,
            next_comment: 0,
            out: String::new(),
            indent: 0,
            pending: Pending::Nothing,
            last_end: 0,
        }
    }

    /// A printer for trying a construct on one line: same source, no comments.
    fn scratch(&self) -> Printer<'a> {
        let mut scratch = Printer::new(self.src, Vec::new(), Vec::new());
        scratch.last_end = self.last_end;
        scratch
    }

    fn finish(mut self) -> String {
        self.newline(Blank::Keep);
        self.flush_comments_before(usize::MAX);
        let trimmed = self.out.trim_end().len();
        self.out.truncate(trimmed);
        self.out.push('\n');
        self.out
    }

    /// The column the next token would start at.
    fn column(&self) -> usize {
        match self.pending {
            Pending::Newline(_) if !self.out.is_empty() => self.indent,
            Pending::Break => self.indent + CONTINUATION,
            _ => {
                let line = self.out.rsplit('\n').next().unwrap_or("");
                line.chars().count() + usize::from(self.pending == Pending::Space && !self.at_line_start())
            }
        }
    }

    fn at_line_start(&self) -> bool {
        self.out.is_empty() || self.out.ends_with('\n')
    }

    fn space(&mut self) {
        if self.pending == Pending::Nothing {
            self.pending = Pending::Space;
        }
    }

    fn newline(&mut self, blank: Blank) {
        self.pending = match self.pending {
            Pending::Newline(old) => Pending::Newline(stronger(old, blank)),
            _ => Pending::Newline(blank),
        };
    }

    /// Writes the owed whitespace before a token starting at `start` in the source (`None` for
    /// punctuation the printer supplies).
    fn settle(&mut self, start: Option<usize>) {
        let pending = std::mem::replace(&mut self.pending, Pending::Nothing);
        match pending {
            Pending::Nothing => {}
            Pending::Space => {
                if !self.at_line_start() {
                    self.out.push(' ');
                }
            }
            Pending::Newline(blank) => {
                if self.out.is_empty() {
                    return;
                }
                let authored = start.is_some_and(|s| self.blank_line_before(s));
                self.line_break();
                if blank == Blank::Always || (blank == Blank::Keep && authored) {
                    self.out.push('\n');
                }
                self.push_indent(self.indent);
            }
            Pending::Break => {
                self.line_break();
                self.push_indent(self.indent + CONTINUATION);
            }
        }
    }

    fn line_break(&mut self) {
        let trimmed = self.out.trim_end_matches(' ').len();
        self.out.truncate(trimmed);
        if !self.at_line_start() {
            self.out.push('\n');
        }
    }

    fn push_indent(&mut self, columns: usize) {
        self.out.extend(std::iter::repeat_n(' ', columns));
    }

    fn blank_line_before(&self, start: usize) -> bool {
        let from = self.last_end.min(start);
        self.src[from..start].matches('\n').count() >= 2
    }

    /// Prints a token of the source (its text given, canonicalised by the caller).
    fn token(&mut self, pair: &Pair<'a, Rule>, text: &str) {
        let span = pair.as_span();
        self.flush_comments_before(span.start());
        self.settle(Some(span.start()));
        self.out.push_str(text);
        self.last_end = span.end();
    }

    /// Prints punctuation the grammar matches without a token of its own. When the source has
    /// it before the next token, comments written before it are printed first, so they stay on
    /// its side (`| filter a  # note` keeps the note on the filter's line, not after the next `|`).
    fn punct(&mut self, text: &str) {
        if let Some(at) = self.find_punct(text) {
            self.flush_comments_before(at);
            self.settle(None);
            self.out.push_str(text);
            self.last_end = at + text.len();
            return;
        }
        self.settle(None);
        self.out.push_str(text);
    }

    /// Where `text` stands in the source between the last token printed and the next, outside
    /// comments.
    fn find_punct(&self, text: &str) -> Option<usize> {
        let next_leaf = self.leaf_starts.partition_point(|&start| start < self.last_end);
        let limit = self.leaf_starts.get(next_leaf).copied().unwrap_or(self.src.len());
        let mut from = self.last_end;
        while from < limit {
            let at = from + self.src.get(from..limit)?.find(text)?;
            match self.comments.iter().find(|c| c.start <= at && at < c.end) {
                Some(comment) => from = comment.end,
                None => return Some(at),
            }
        }
        None
    }

    /// Prints every comment that starts before `pos` and is not yet printed.
    fn flush_comments_before(&mut self, pos: usize) {
        while let Some(comment) = self.comments.get(self.next_comment).copied() {
            if comment.start >= pos {
                break;
            }
            self.next_comment += 1;
            self.comment(comment);
        }
    }

    fn comment(&mut self, comment: Comment<'a>) {
        let from = self.last_end.min(comment.start);
        let trailing = !self.src[from..comment.start].contains('\n') && !self.at_line_start();
        let after = match self.pending {
            Pending::Newline(blank) => Pending::Newline(stronger(blank, Blank::Keep)),
            // The file's first lines: what follows starts a line of its own.
            _ if self.out.is_empty() => Pending::Newline(Blank::Keep),
            _ => Pending::Break,
        };
        if trailing {
            // The author's spacing before a trailing comment is kept: it aligns comments.
            let gap = &self.src[from..comment.start];
            let spaces = if !gap.is_empty() && gap.chars().all(|c| c == ' ') { gap.len() } else { 1 };
            self.out.truncate(self.out.trim_end_matches(' ').len());
            self.push_indent(spaces);
        } else {
            if !matches!(self.pending, Pending::Newline(_)) {
                self.pending = if self.at_line_start() { Pending::Newline(Blank::No) } else { Pending::Break };
            }
            self.settle(Some(comment.start));
        }
        self.out.push_str(comment.text);
        self.last_end = comment.end;
        self.pending = after;
    }

    /// Closes a block at the source offset of its closing bracket: comments inside the block
    /// stay inside, at the block's indentation.
    fn close(&mut self, close_at: usize, inner_indent: usize, bracket: &str) {
        self.indent = inner_indent;
        if self.comments.get(self.next_comment).is_some_and(|c| c.start < close_at) {
            self.newline(Blank::No);
            self.flush_comments_before(close_at);
        }
        self.indent = inner_indent.saturating_sub(2);
        self.newline(Blank::No);
        self.punct(bracket);
    }

    /// Whether the source of `pair` holds a comment: such a construct is never put on one line.
    fn has_comment(&self, pair: &Pair<'a, Rule>) -> bool {
        let span = pair.as_span();
        self.comments[self.next_comment..].iter().any(|c| c.start >= span.start() && c.start < span.end())
    }

    /// `render` on one line, if it fits from the current column with `reserve` columns to spare
    /// and `pair` holds no comment.
    fn try_flat(&self, pair: &Pair<'a, Rule>, reserve: usize, render: impl FnOnce(&mut Printer<'a>)) -> Option<String> {
        if self.has_comment(pair) {
            return None;
        }
        let mut scratch = self.scratch();
        render(&mut scratch);
        let text = scratch.out;
        let fits = !text.contains('\n') && self.column() + text.chars().count() + reserve <= WIDTH;
        fits.then_some(text)
    }

    /// Prints text rendered by [`Self::try_flat`] for `pair`, consuming its source.
    fn flat(&mut self, pair: &Pair<'a, Rule>, text: &str) {
        self.settle(Some(pair.as_span().start()));
        self.out.push_str(text);
        self.last_end = pair.as_span().end();
    }

    // ------------------------------------------------------------ file and connections

    fn file(&mut self, file: Pair<'a, Rule>) {
        let mut previous: Option<Rule> = None;
        for item in file.into_inner() {
            let rule = item.as_rule();
            if rule == Rule::EOI {
                continue;
            }
            if let Some(previous) = previous {
                let blank =
                    if rule == Rule::pipeline || previous == Rule::pipeline { Blank::Always } else { Blank::Keep };
                self.newline(blank);
            }
            match rule {
                Rule::let_binding => self.let_binding(item),
                _ => self.pipeline(item),
            }
            previous = Some(rule);
        }
    }

    fn let_binding(&mut self, pair: Pair<'a, Rule>) {
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::kw_let => self.word(&child),
                Rule::ident => {
                    self.space();
                    self.token(&child, child.as_str());
                }
                _ => {
                    self.space();
                    self.punct("=");
                    self.space();
                    self.connection_call(child);
                }
            }
        }
    }

    fn connection_call(&mut self, pair: Pair<'a, Rule>) {
        let close_at = pair.as_span().end() - 1;
        let mut inner = pair.clone().into_inner();
        let kind = inner.next().expect("grammar: connection kind");
        self.token(&kind, kind.as_str());
        self.punct("(");
        let args: Vec<Pair<'a, Rule>> = inner.collect();
        if args.is_empty() {
            self.flush_comments_before(close_at);
            self.punct(")");
            return;
        }
        let flat = self.try_flat(&pair, 1, |p| p.separated(&args, ", ", |p, arg| p.arg(arg.clone())));
        if let Some(text) = flat {
            self.settle(Some(args[0].as_span().start()));
            self.out.push_str(&text);
            self.last_end = args[args.len() - 1].as_span().end();
            self.flush_comments_before(close_at);
            self.punct(")");
            return;
        }
        let outer = self.indent;
        self.indent = outer + 2;
        for arg in args {
            self.newline(Blank::No);
            self.arg(arg);
            self.punct(",");
        }
        self.close(close_at, outer + 2, ")");
        self.indent = outer;
    }

    fn arg(&mut self, pair: Pair<'a, Rule>) {
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::ident => {
                    self.token(&child, child.as_str());
                    self.punct(":");
                    self.space();
                }
                _ => self.literal(child, Quotes::Double),
            }
        }
    }

    fn separated(
        &mut self,
        items: &[Pair<'a, Rule>],
        separator: &str,
        mut each: impl FnMut(&mut Self, &Pair<'a, Rule>),
    ) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.punct(separator.trim_end());
                if separator.ends_with(' ') {
                    self.space();
                }
            }
            each(self, item);
        }
    }

    // ------------------------------------------------------------ pipelines

    fn pipeline(&mut self, pair: Pair<'a, Rule>) {
        let close_at = pair.as_span().end() - 1;
        let outer = self.indent;
        let mut first_item = true;
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::kw_pipeline => self.word(&child),
                Rule::ident => {
                    self.space();
                    self.token(&child, child.as_str());
                    self.space();
                    self.punct("{");
                    self.indent = outer + 2;
                }
                _ => {
                    self.newline(if first_item { Blank::No } else { Blank::Keep });
                    first_item = false;
                    self.pipeline_item(child);
                }
            }
        }
        self.close(close_at, outer + 2, "}");
        self.indent = outer;
    }

    fn pipeline_item(&mut self, pair: Pair<'a, Rule>) {
        match pair.as_rule() {
            Rule::setting => {
                let setting = pair.into_inner().next().expect("grammar: setting kind");
                self.words(setting);
            }
            Rule::source => self.source(pair),
            Rule::sink => self.sink(pair),
            Rule::transform => self.transform(pair),
            _ => self.token(&pair, pair.as_str().trim_end()),
        }
    }

    fn source(&mut self, pair: Pair<'a, Rule>) {
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::kw_source => self.word(&child),
                Rule::ident => {
                    self.space();
                    self.token(&child, child.as_str());
                    self.space();
                    self.punct("=");
                }
                Rule::target => {
                    self.space();
                    self.target(child);
                }
                _ => self.options(child),
            }
        }
    }

    fn sink(&mut self, pair: Pair<'a, Rule>) {
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::kw_sink => self.word(&child),
                Rule::ident => {
                    self.space();
                    self.token(&child, child.as_str());
                    self.space();
                    self.punct("=");
                }
                Rule::stage_ref => {
                    self.space();
                    self.token(&child, child.as_str());
                    self.space();
                    self.punct("->");
                }
                Rule::target => {
                    self.space();
                    self.target(child);
                }
                _ => self.options(child),
            }
        }
    }

    fn transform(&mut self, pair: Pair<'a, Rule>) {
        let outer = self.indent;
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::kw_transform => self.word(&child),
                Rule::ident => {
                    self.space();
                    self.token(&child, child.as_str());
                    self.space();
                    self.punct("=");
                }
                Rule::stage_ref => {
                    self.space();
                    self.token(&child, child.as_str());
                    self.indent = outer + 2;
                }
                Rule::step => {
                    self.newline(Blank::No);
                    self.punct("|");
                    self.space();
                    self.step(child);
                }
                _ => self.options(child),
            }
        }
        self.indent = outer;
    }

    // ------------------------------------------------------------ targets and options

    fn target(&mut self, pair: Pair<'a, Rule>) {
        let target = pair.into_inner().next().expect("grammar: target kind");
        match target.as_rule() {
            Rule::connection_call => self.connection_call(target),
            _ => self.method_target(target),
        }
    }

    /// `conn.table("x")`, `conn.query("...")`, `conn.schema("x")`, `conn.tables("a.*", exclude: [...])`.
    fn method_target(&mut self, pair: Pair<'a, Rule>) {
        let mut inner = pair.into_inner();
        let conn = inner.next().expect("grammar: target connection");
        self.token(&conn, conn.as_str());
        self.punct(".");
        let method = inner.next().expect("grammar: target method");
        self.token(&method, &method.as_str().to_ascii_lowercase());
        self.punct("(");
        let args: Vec<Pair<'a, Rule>> = inner.collect();
        self.separated(&args, ", ", |p, arg| match arg.as_rule() {
            Rule::tables_arg => p.tables_arg(arg.clone()),
            _ => p.literal(arg.clone(), Quotes::Double),
        });
        self.punct(")");
    }

    fn tables_arg(&mut self, pair: Pair<'a, Rule>) {
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::ident => {
                    self.token(&child, child.as_str());
                    self.punct(":");
                    self.space();
                }
                Rule::value_list => {
                    self.punct("[");
                    let values: Vec<Pair<'a, Rule>> = child.into_inner().collect();
                    self.separated(&values, ", ", |p, v| p.literal(v.clone(), Quotes::Double));
                    self.punct("]");
                }
                _ => self.literal(child, Quotes::Double),
            }
        }
    }

    fn options(&mut self, pair: Pair<'a, Rule>) {
        let close_at = pair.as_span().end() - 1;
        let options: Vec<Pair<'a, Rule>> = pair.clone().into_inner().map(only_child).collect();
        self.space();
        if options.is_empty() && !self.has_comment(&pair) {
            self.punct("{}");
            self.last_end = pair.as_span().end();
            return;
        }
        let has_member = options.iter().any(|o| o.as_rule() == Rule::opt_member);
        if !has_member {
            let flat = self.try_flat(&pair, 0, |p| {
                p.punct("{ ");
                p.separated(&options, "; ", |p, o| p.option(o.clone()));
                p.punct(" }");
            });
            if let Some(text) = flat {
                self.flat(&pair, &text);
                return;
            }
        }
        let outer = self.indent;
        self.punct("{");
        self.indent = outer + 2;
        for (i, option) in options.into_iter().enumerate() {
            self.newline(if i == 0 { Blank::No } else { Blank::Keep });
            self.option(option);
        }
        self.close(close_at, outer + 2, "}");
        self.indent = outer;
    }

    fn option(&mut self, pair: Pair<'a, Rule>) {
        match pair.as_rule() {
            Rule::opt_member => self.member(pair),
            Rule::opt_mode => {
                let mut inner = pair.into_inner();
                self.word(&inner.next().expect("grammar: mode keyword"));
                let mode = inner.next().expect("grammar: mode kind");
                self.space();
                match mode.as_rule() {
                    Rule::mode_upsert => {
                        let mut parts = mode.into_inner();
                        self.word(&parts.next().expect("grammar: upsert"));
                        self.space();
                        self.word(&parts.next().expect("grammar: on"));
                        self.space();
                        self.punct("(");
                        self.column_list(parts.next().expect("grammar: upsert keys"), ", ");
                        self.punct(")");
                    }
                    _ => {
                        let name = mode.as_str();
                        let known = ["append", "replace", "truncate"].iter().any(|m| m.eq_ignore_ascii_case(name));
                        let text = if known { name.to_ascii_lowercase() } else { name.to_string() };
                        self.token(&mode, &text);
                    }
                }
            }
            Rule::opt_on_error => {
                for (i, child) in pair.into_inner().enumerate() {
                    if i > 0 {
                        self.space();
                    }
                    match child.as_rule() {
                        Rule::on_error_reject => {
                            for (j, part) in child.into_inner().enumerate() {
                                if j > 0 {
                                    self.space();
                                }
                                match part.as_rule() {
                                    Rule::target_table => self.method_target(part),
                                    _ => self.word(&part),
                                }
                            }
                        }
                        Rule::on_error_fail | Rule::on_error_skip => self.words(child),
                        _ => self.word(&child),
                    }
                }
            }
            Rule::unknown_option => self.token(&pair, pair.as_str().trim_end()),
            _ => self.words(pair),
        }
    }

    /// `table orders as "orders_v2" { mode upsert on (id) }` in a table set's block.
    fn member(&mut self, pair: Pair<'a, Rule>) {
        for (i, child) in pair.into_inner().enumerate() {
            if i > 0 && child.as_rule() != Rule::options {
                self.space();
            }
            match child.as_rule() {
                Rule::member_name => {
                    let name = only_child(child);
                    match name.as_rule() {
                        Rule::string => self.string(&name, Quotes::Double),
                        _ => self.column_name(name),
                    }
                }
                Rule::literal_value => self.literal(child, Quotes::Double),
                Rule::options => self.options(child),
                _ => self.word(&child),
            }
        }
    }

    // ------------------------------------------------------------ steps

    fn step(&mut self, pair: Pair<'a, Rule>) {
        let step = only_child(pair);
        match step.as_rule() {
            Rule::step_filter => {
                let mut inner = step.into_inner();
                self.word(&inner.next().expect("grammar: filter"));
                self.space();
                self.expr(inner.next().expect("grammar: filter expr"));
            }
            Rule::step_sql => {
                let mut inner = step.into_inner();
                self.word(&inner.next().expect("grammar: sql"));
                self.space();
                self.literal(inner.next().expect("grammar: sql text"), Quotes::Double);
            }
            Rule::step_select | Rule::step_drop => {
                let mut inner = step.into_inner();
                self.word(&inner.next().expect("grammar: step keyword"));
                self.space();
                let list = inner.next().expect("grammar: column list");
                let names: Vec<Pair<'a, Rule>> = list.clone().into_inner().collect();
                self.aligned_list(&list, &names, |p, name| p.column_name(name.clone()));
            }
            Rule::step_derive | Rule::step_rename | Rule::step_cast => {
                let whole = step.clone();
                let mut inner = step.into_inner();
                self.word(&inner.next().expect("grammar: step keyword"));
                self.space();
                let items: Vec<Pair<'a, Rule>> = inner.collect();
                self.aligned_list(&whole, &items, |p, item| p.list_item(item.clone()));
            }
            _ => self.token(&step, step.as_str().trim_end()),
        }
    }

    /// `a = expr` (derive), `a as b` (rename), `a as type` (cast).
    fn list_item(&mut self, pair: Pair<'a, Rule>) {
        let rule = pair.as_rule();
        for (i, child) in pair.into_inner().enumerate() {
            if i > 0 {
                self.space();
            }
            match child.as_rule() {
                Rule::column_name => self.column_name(child),
                Rule::expr => {
                    if rule == Rule::derivation {
                        self.punct("=");
                        self.space();
                    }
                    self.expr(child);
                }
                Rule::type_name => self.token(&child, &type_name(child.as_str())),
                _ => self.word(&child),
            }
        }
    }

    /// Items separated by `, ` on one line when they fit, else one per line aligned under the
    /// first.
    fn aligned_list(
        &mut self,
        whole: &Pair<'a, Rule>,
        items: &[Pair<'a, Rule>],
        mut each: impl FnMut(&mut Self, &Pair<'a, Rule>),
    ) {
        if let Some(text) = self.try_flat(whole, 0, |p| p.separated(items, ", ", &mut each)) {
            let first = items[0].as_span().start();
            self.settle(Some(first));
            self.out.push_str(&text);
            self.last_end = items[items.len() - 1].as_span().end();
            return;
        }
        let outer = self.indent;
        self.indent = self.column();
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.punct(",");
                self.newline(Blank::No);
            }
            each(self, item);
        }
        self.indent = outer;
    }

    fn column_list(&mut self, pair: Pair<'a, Rule>, separator: &str) {
        let names: Vec<Pair<'a, Rule>> = pair.into_inner().collect();
        self.separated(&names, separator, |p, name| p.column_name(name.clone()));
    }

    // ------------------------------------------------------------ expressions

    fn expr(&mut self, pair: Pair<'a, Rule>) {
        let mut after_prefix = true;
        for child in pair.into_inner() {
            let rule = child.as_rule();
            match rule {
                Rule::op_neg => {
                    if !after_prefix {
                        self.space();
                    }
                    self.token(&child, "-");
                    after_prefix = true;
                    continue;
                }
                Rule::op_not => {
                    if !after_prefix {
                        self.space();
                    }
                    self.words(child);
                    self.space();
                    after_prefix = true;
                    continue;
                }
                _ if is_infix(rule) => {
                    self.space();
                    if rule == Rule::op_neq {
                        self.token(&child, "!=");
                    } else if child.clone().into_inner().next().is_some() {
                        self.words(child);
                    } else {
                        self.token(&child, child.as_str());
                    }
                    self.space();
                    after_prefix = true;
                    continue;
                }
                _ if is_postfix(rule) => {
                    self.space();
                    self.postfix(child);
                }
                _ => {
                    if !after_prefix {
                        self.space();
                    }
                    self.primary(child);
                }
            }
            after_prefix = false;
        }
    }

    fn primary(&mut self, pair: Pair<'a, Rule>) {
        match pair.as_rule() {
            Rule::expr => {
                self.punct("(");
                self.expr(pair);
                self.punct(")");
            }
            Rule::literal_value => self.literal(pair, Quotes::Single),
            Rule::kw_null_lit => self.words(pair),
            Rule::column_ref => self.column_name(only_child(pair)),
            Rule::function_call => {
                let mut inner = pair.into_inner();
                let name = inner.next().expect("grammar: function name");
                self.token(&name, name.as_str());
                self.punct("(");
                let args: Vec<Pair<'a, Rule>> = inner.collect();
                self.separated(&args, ", ", |p, arg| match arg.as_rule() {
                    Rule::function_star => p.token(arg, "*"),
                    _ => p.expr(arg.clone()),
                });
                self.punct(")");
            }
            Rule::cast_expr => {
                let mut inner = pair.into_inner();
                self.word(&inner.next().expect("grammar: cast"));
                self.punct("(");
                self.expr(inner.next().expect("grammar: cast operand"));
                self.space();
                self.word(&inner.next().expect("grammar: as"));
                self.space();
                let ty = inner.next().expect("grammar: cast type");
                self.token(&ty, &type_name(ty.as_str()));
                self.punct(")");
            }
            Rule::case_expr => self.case(pair),
            _ => self.token(&pair, pair.as_str()),
        }
    }

    /// `case [operand] when a then b ... [else c] end`: on one line when it fits, else each
    /// `when` and the `else` on a line of its own, aligned under the first `when`.
    fn case(&mut self, pair: Pair<'a, Rule>) {
        let parts: Vec<Pair<'a, Rule>> = pair.clone().into_inner().collect();
        let flat = self.try_flat(&pair, 0, |p| p.case_parts(&parts, false));
        match flat {
            Some(text) => self.flat(&pair, &text),
            None => self.case_parts(&parts, true),
        }
    }

    fn case_parts(&mut self, parts: &[Pair<'a, Rule>], broken: bool) {
        let outer = self.indent;
        let mut aligned = false;
        for (i, child) in parts.iter().cloned().enumerate() {
            let clause = matches!(child.as_rule(), Rule::case_when | Rule::case_else);
            if i > 0 {
                if broken && clause && aligned {
                    self.newline(Blank::No);
                } else {
                    self.space();
                }
            }
            if broken && clause && !aligned {
                self.indent = self.column();
                aligned = true;
            }
            match child.as_rule() {
                Rule::case_operand => self.expr(only_child(child)),
                Rule::case_when | Rule::case_else => {
                    for (j, part) in child.into_inner().enumerate() {
                        if j > 0 {
                            self.space();
                        }
                        match part.as_rule() {
                            Rule::expr => self.expr(part),
                            _ => self.word(&part),
                        }
                    }
                }
                _ => self.word(&child),
            }
        }
        self.indent = outer;
    }

    /// `is null`, `is not null`, `[not] in (a, b)`, `[not] between a and b`.
    fn postfix(&mut self, pair: Pair<'a, Rule>) {
        let rule = pair.as_rule();
        let mut in_list = false;
        let mut first_value = true;
        for (i, child) in pair.into_inner().enumerate() {
            match child.as_rule() {
                Rule::expr => {
                    if !in_list {
                        self.space();
                        self.punct("(");
                        in_list = true;
                    }
                    if !first_value {
                        self.punct(",");
                        self.space();
                    }
                    first_value = false;
                    self.expr(child);
                }
                Rule::between_bound => {
                    self.space();
                    let mut after_prefix = true;
                    for part in child.into_inner() {
                        match part.as_rule() {
                            Rule::op_neg => self.token(&part, "-"),
                            Rule::op_not => {
                                self.words(part);
                                self.space();
                            }
                            _ => {
                                if !after_prefix {
                                    self.space();
                                }
                                self.primary(part);
                                after_prefix = false;
                            }
                        }
                    }
                }
                _ => {
                    if i > 0 {
                        self.space();
                    }
                    self.word(&child);
                }
            }
        }
        if in_list && matches!(rule, Rule::op_in | Rule::op_not_in) {
            self.punct(")");
        }
    }

    // ------------------------------------------------------------ tokens

    /// A keyword (or any token printed in lower case).
    fn word(&mut self, pair: &Pair<'a, Rule>) {
        self.token(pair, &pair.as_str().to_ascii_lowercase());
    }

    /// The keywords and names of a construct, separated by single spaces: `batch 50000`,
    /// `partition by id into 8`, `create if missing`, `max rejects 100`.
    fn words(&mut self, pair: Pair<'a, Rule>) {
        let children: Vec<Pair<'a, Rule>> = pair.clone().into_inner().collect();
        if children.is_empty() {
            self.word(&pair);
            return;
        }
        for (i, child) in children.into_iter().enumerate() {
            if i > 0 {
                self.space();
            }
            match child.as_rule() {
                Rule::literal_value => self.literal(child, Quotes::Double),
                Rule::column_name => self.column_name(child),
                Rule::ident => self.token(&child, child.as_str()),
                _ => self.words(child),
            }
        }
    }

    fn column_name(&mut self, pair: Pair<'a, Rule>) {
        let name = if pair.as_rule() == Rule::column_name { only_child(pair) } else { pair };
        let text = name.as_str();
        match name.as_rule() {
            Rule::quoted_ident if plain_name(&text[1..text.len() - 1]) => self.token(&name, &text[1..text.len() - 1]),
            _ => self.token(&name, text),
        }
    }

    fn literal(&mut self, pair: Pair<'a, Rule>, quotes: Quotes) {
        let value = if pair.as_rule() == Rule::literal_value { only_child(pair) } else { pair };
        match value.as_rule() {
            Rule::string => self.string(&value, quotes),
            Rule::boolean => self.word(&value),
            _ => self.token(&value, value.as_str()),
        }
    }

    fn string(&mut self, pair: &Pair<'a, Rule>, quotes: Quotes) {
        let raw = pair.as_str();
        let text = requote(raw, quotes);
        self.token(pair, &text);
    }
}

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

fn stronger(a: Blank, b: Blank) -> Blank {
    match (a, b) {
        (Blank::Always, _) | (_, Blank::Always) => Blank::Always,
        (Blank::Keep, _) | (_, Blank::Keep) => Blank::Keep,
        _ => Blank::No,
    }
}

fn only_child(pair: Pair<Rule>) -> Pair<Rule> {
    pair.into_inner().next().expect("grammar: one child")
}

fn is_infix(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::op_or
            | Rule::op_and
            | Rule::op_eq
            | Rule::op_neq
            | Rule::op_le
            | Rule::op_ge
            | Rule::op_lt
            | Rule::op_gt
            | Rule::op_concat
            | Rule::op_add
            | Rule::op_sub
            | Rule::op_mul
            | Rule::op_div
            | Rule::op_mod
            | Rule::op_like
            | Rule::op_not_like
    )
}

fn is_postfix(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::op_is_null
            | Rule::op_is_not_null
            | Rule::op_in
            | Rule::op_not_in
            | Rule::op_between
            | Rule::op_not_between
    )
}

#[cfg(test)]
mod tests;
