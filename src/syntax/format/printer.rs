//! The printer under `flow fmt`: owed whitespace, indentation, blank lines and comments. The
//! layout (`super::layout`) decides where lines break; the printer writes tokens and the comments
//! found between them.

use pest::iterators::Pair;

use super::Rule;
use super::{CONTINUATION, Comment, WIDTH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pending {
    Nothing,
    Space,
    /// A line break the layout chose; `blank` says whether a blank line may or must precede.
    Newline(Blank),
    /// A line break a comment forced in the middle of a construct: the next line is indented
    /// [`CONTINUATION`] further.
    Break,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Blank {
    No,
    /// Kept when the author left one.
    Keep,
    Always,
}

pub(super) struct Printer<'a> {
    pub(super) src: &'a str,
    pub(super) comments: Vec<Comment<'a>>,
    /// Where each token of the source starts, in order: punctuation is looked for between the
    /// last token printed and the next.
    pub(super) leaf_starts: Vec<usize>,
    pub(super) next_comment: usize,
    pub(super) out: String,
    /// Indentation of lines the layout starts (columns).
    pub(super) indent: usize,
    pub(super) pending: Pending,
    /// Source offset after the last token or comment printed: blank lines and trailing
    /// comments are judged from the source between it and the next one.
    pub(super) last_end: usize,
    /// A printer trying a construct on one line: nested constructs go flat at once, without
    /// trying (else nested `case`s would be tried once per level: exponential).
    pub(super) flat_only: bool,
}

impl<'a> Printer<'a> {
    pub(super) fn new(src: &'a str, comments: Vec<Comment<'a>>, leaf_starts: Vec<usize>) -> Self {
        Self {
            src,
            comments,
            leaf_starts,
            next_comment: 0,
            out: String::new(),
            indent: 0,
            pending: Pending::Nothing,
            last_end: 0,
            flat_only: false,
        }
    }

    /// A printer for trying a construct on one line: same source, no comments.
    pub(super) fn scratch(&self) -> Printer<'a> {
        let mut scratch = Printer::new(self.src, Vec::new(), Vec::new());
        scratch.last_end = self.last_end;
        scratch.flat_only = true;
        scratch
    }

    pub(super) fn finish(mut self) -> String {
        self.newline(Blank::Keep);
        self.flush_comments_before(usize::MAX);
        let trimmed = self.out.trim_end().len();
        self.out.truncate(trimmed);
        self.out.push('\n');
        self.out
    }

    /// The column the next token would start at.
    pub(super) fn column(&self) -> usize {
        match self.pending {
            Pending::Newline(_) if !self.out.is_empty() => self.indent,
            Pending::Break => self.indent + CONTINUATION,
            _ => {
                let line = self.out.rsplit('\n').next().unwrap_or("");
                line.chars().count() + usize::from(self.pending == Pending::Space && !self.at_line_start())
            }
        }
    }

    pub(super) fn at_line_start(&self) -> bool {
        self.out.is_empty() || self.out.ends_with('\n')
    }

    pub(super) fn space(&mut self) {
        if self.pending == Pending::Nothing {
            self.pending = Pending::Space;
        }
    }

    pub(super) fn newline(&mut self, blank: Blank) {
        self.pending = match self.pending {
            Pending::Newline(old) => Pending::Newline(stronger(old, blank)),
            _ => Pending::Newline(blank),
        };
    }

    /// Writes the owed whitespace before a token starting at `start` in the source (`None` for
    /// punctuation the printer supplies).
    pub(super) fn settle(&mut self, start: Option<usize>) {
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

    pub(super) fn line_break(&mut self) {
        let trimmed = self.out.trim_end_matches(' ').len();
        self.out.truncate(trimmed);
        if !self.at_line_start() {
            self.out.push('\n');
        }
    }

    pub(super) fn push_indent(&mut self, columns: usize) {
        self.out.extend(std::iter::repeat_n(' ', columns));
    }

    pub(super) fn blank_line_before(&self, start: usize) -> bool {
        let from = self.last_end.min(start);
        self.src[from..start].matches('\n').count() >= 2
    }

    /// Prints a token of the source (its text given, canonicalised by the caller).
    pub(super) fn token(&mut self, pair: &Pair<'a, Rule>, text: &str) {
        let span = pair.as_span();
        self.flush_comments_before(span.start());
        self.settle(Some(span.start()));
        self.out.push_str(text);
        self.last_end = span.end();
    }

    /// Prints punctuation the grammar matches without a token of its own. When the source has
    /// it before the next token, comments written before it are printed first, so they stay on
    /// its side (`| filter a  # note` keeps the note on the filter's line, not after the next `|`).
    pub(super) fn punct(&mut self, text: &str) {
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
    pub(super) fn find_punct(&self, text: &str) -> Option<usize> {
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
    pub(super) fn flush_comments_before(&mut self, pos: usize) {
        while let Some(comment) = self.comments.get(self.next_comment).copied() {
            if comment.start >= pos {
                break;
            }
            self.next_comment += 1;
            self.comment(comment);
        }
    }

    pub(super) fn comment(&mut self, comment: Comment<'a>) {
        let from = self.last_end.min(comment.start);
        let trailing = !self.src[from..comment.start].contains('\n') && !self.at_line_start();
        let after = match self.pending {
            // A comment on its own line before a pipeline belongs to it: the blank line the
            // pipeline takes goes before the comment, not between them.
            Pending::Newline(_) if !trailing => Pending::Newline(Blank::Keep),
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
    pub(super) fn close(&mut self, close_at: usize, inner_indent: usize, bracket: &str) {
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
    pub(super) fn has_comment(&self, pair: &Pair<'a, Rule>) -> bool {
        let span = pair.as_span();
        self.comments[self.next_comment..].iter().any(|c| c.start >= span.start() && c.start < span.end())
    }

    /// `render` on one line, if it fits from the current column with `reserve` columns to spare
    /// and `pair` holds no comment.
    pub(super) fn try_flat(
        &self,
        pair: &Pair<'a, Rule>,
        reserve: usize,
        render: impl FnOnce(&mut Printer<'a>),
    ) -> Option<String> {
        if self.has_comment(pair) {
            return None;
        }
        let mut scratch = self.scratch();
        render(&mut scratch);
        let text = scratch.out;
        if self.flat_only {
            // Inside a one-line attempt: the outer attempt judges the width.
            return Some(text);
        }
        let fits = !text.contains('\n') && self.column() + text.chars().count() + reserve <= WIDTH;
        fits.then_some(text)
    }

    /// Prints text rendered by [`Self::try_flat`] for `pair`, consuming its source.
    pub(super) fn flat(&mut self, pair: &Pair<'a, Rule>, text: &str) {
        self.settle(Some(pair.as_span().start()));
        self.out.push_str(text);
        self.last_end = pair.as_span().end();
    }
}
fn stronger(a: Blank, b: Blank) -> Blank {
    match (a, b) {
        (Blank::Always, _) | (_, Blank::Always) => Blank::Always,
        (Blank::Keep, _) | (_, Blank::Keep) => Blank::Keep,
        _ => Blank::No,
    }
}
