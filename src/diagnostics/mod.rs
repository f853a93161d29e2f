//! Diagnostics: problems found in a `.flow` file, each with a stable code, the span it is about,
//! a one-line label and a one-line help. They are plain values; rendering (caret, colours, JSON)
//! happens once, at the edge, through miette. Every code is a constant of [`codes`], the one
//! registry of them; the failures of a run carry one too ([`Failure`], with the stage, partition,
//! row and column where it happened).

use std::fmt;

pub mod codes;
pub mod failure;
pub mod secret;

pub use failure::{Failure, Remedy};

use miette::{Diagnostic, LabeledSpan, NamedSource, Severity, SourceCode};
use serde::Serialize;

/// A byte range in the source text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }
}

impl From<Span> for miette::SourceSpan {
    fn from(span: Span) -> Self {
        (span.start, span.end.saturating_sub(span.start)).into()
    }
}

/// One problem in a `.flow` file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// Stable code from the registry [`codes`], e.g. `flow::name::undefined`.
    pub code: &'static str,
    pub message: String,
    pub span: Option<Span>,
    /// Short text under the caret.
    pub label: String,
    pub help: Option<String>,
    pub warning: bool,
}

impl Problem {
    /// An error; `code` is one of the [`codes`] constants, e.g. [`codes::name::UNDEFINED`].
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), span: None, label: String::new(), help: None, warning: false }
    }

    /// A warning: reported, but `check` still passes; `code` as for [`Problem::error`].
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Self { warning: true, ..Self::error(code, message) }
    }

    pub fn at(mut self, span: Span, label: impl Into<String>) -> Self {
        self.span = Some(span);
        self.label = label.into();
        self
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

impl Diagnostic for Problem {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        Some(Box::new(self.code))
    }

    fn severity(&self) -> Option<Severity> {
        Some(if self.warning { Severity::Warning } else { Severity::Error })
    }

    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.help.as_ref().map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let span = self.span?;
        let label = (!self.label.is_empty()).then(|| self.label.clone());
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(label, span))))
    }
}

/// Every problem found in one file, with the file's text so each can be rendered with a caret.
#[derive(Debug)]
pub struct FileProblems {
    pub source: NamedSource<String>,
    pub problems: Vec<Problem>,
}

impl FileProblems {
    /// The problems of `text`, read from `name`. The text kept for quoting has every inline
    /// URL's password masked (`secret::mask_url_passwords`): a diagnostic quotes the lines
    /// around its span, which may hold `postgres://user:password@...`.
    pub fn new(name: &str, text: &str, problems: Vec<Problem>) -> Self {
        Self { source: NamedSource::new(name, secret::mask_url_passwords(text)), problems }
    }

    pub fn has_errors(&self) -> bool {
        self.problems.iter().any(|p| !p.warning)
    }

    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| !p.warning)
    }

    pub fn warnings(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().filter(|p| p.warning)
    }

    /// Renders every problem with the narratable (plain-text, colour-free) renderer:
    /// stable text for tests and for logs that are not terminals.
    pub fn render_plain(&self) -> String {
        self.render_with(&miette::NarratableReportHandler::new())
    }

    /// Renders every problem as a terminal would show it (carets, no colours), `file:line:col` first.
    pub fn render_graphical(&self) -> String {
        let handler = miette::GraphicalReportHandler::new_themed(miette::GraphicalTheme::unicode_nocolor())
            .with_width(100)
            .with_word_separator(textwrap::WordSeparator::AsciiSpace);
        self.render_with(&handler)
    }

    fn render_with(&self, handler: &dyn ReportRenderer) -> String {
        let mut out = String::new();
        for problem in &self.problems {
            let located = Located { problem, source: &self.source };
            handler.render(&mut out, &located);
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        out
    }

    /// `file:line:col` of a span, 1-based, for one-line summaries.
    pub fn location(&self, span: Span) -> String {
        let text = self.source.inner();
        let (line, col) = line_col(text, span.start);
        format!("{}:{}:{}", self.source.name(), line, col)
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..floor_char_boundary(text, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while offset > 0 && !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// A problem paired with its file, as miette wants to see it.
#[derive(Debug)]
struct Located<'a> {
    problem: &'a Problem,
    source: &'a NamedSource<String>,
}

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.problem.fmt(f)
    }
}

impl std::error::Error for Located<'_> {}

impl Diagnostic for Located<'_> {
    fn code<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.problem.code()
    }
    fn severity(&self) -> Option<Severity> {
        self.problem.severity()
    }
    fn help<'a>(&'a self) -> Option<Box<dyn fmt::Display + 'a>> {
        self.problem.help()
    }
    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        self.problem.labels()
    }
    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(self.source)
    }
}

trait ReportRenderer {
    fn render(&self, out: &mut String, diagnostic: &dyn Diagnostic);
}

impl ReportRenderer for miette::NarratableReportHandler {
    fn render(&self, out: &mut String, diagnostic: &dyn Diagnostic) {
        // Writing into a String cannot fail.
        let _ = self.render_report(out, diagnostic);
    }
}

impl ReportRenderer for miette::GraphicalReportHandler {
    fn render(&self, out: &mut String, diagnostic: &dyn Diagnostic) {
        let _ = self.render_report(out, diagnostic);
    }
}

/// "did you mean X?" for a name within edit distance 2 of a known one.
pub fn suggest(name: &str, known: &[&str]) -> Option<String> {
    let mut best: Option<(usize, &str)> = None;
    for k in known {
        let d = edit_distance(&name.to_ascii_lowercase(), &k.to_ascii_lowercase());
        if d <= 2 && best.is_none_or(|(bd, bk)| d < bd || (d == bd && *k < bk)) {
            best = Some((d, k));
        }
    }
    best.map(|(_, k)| format!("did you mean `{k}`?"))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb)).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// DataFusion prefixes messages with the error kind ("Error during planning: ..."); users need
/// only the reason.
/// Items as a message lists alternatives: `a`, `a or b`, `a, b or c`.
pub fn one_of<S: AsRef<str>>(items: &[S]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_string(),
        [init @ .., last] => {
            let init: Vec<&str> = init.iter().map(AsRef::as_ref).collect();
            format!("{} or {}", init.join(", "), last.as_ref())
        }
    }
}

pub fn strip_df_prefix(e: &datafusion::error::DataFusionError) -> String {
    let text = e.to_string();
    for prefix in [
        "Error during planning: ",
        "Schema error: ",
        "Execution error: ",
        "SQL error: ",
        "Arrow error: ",
        "External error: ",
    ] {
        if let Some(rest) = text.strip_prefix(prefix) {
            return rest.to_string();
        }
    }
    text
}
