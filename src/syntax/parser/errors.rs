//! Syntax errors: a pest error turned into one [`Problem`] whose label says what would have been
//! accepted where parsing stopped, in the file's words (`expected one of: \`=\`, a name`), and a
//! help chosen from the grammar rules expected there.

use super::{Rule, is_infix, is_postfix};
use crate::diagnostics::{Problem, codes};
use crate::plan::Backend;
use crate::syntax::ast::Span;

/// The connection kinds of the grammar's `connection_kind` rule: every backend's name, and
/// `profile` (a test holds the grammar to the backends).
pub(super) fn connection_kinds() -> Vec<&'static str> {
    Backend::ALL.iter().map(|b| b.name()).chain(["profile"]).collect()
}

pub(super) fn syntax_problem(error: pest::error::Error<Rule>, text: &str) -> Problem {
    let text_len = text.len();
    let (mut start, end) = match error.location {
        pest::error::InputLocation::Pos(p) => (p, p),
        pest::error::InputLocation::Span((s, e)) => (s, e),
    };
    // The grammar rules expected here, for the help; `expected` is what the label lists.
    let mut rules: Vec<Rule> = match &error.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => positives.clone(),
        pest::error::ErrorVariant::CustomError { .. } => Vec::new(),
    };
    let mut expected: Vec<String> = match &error.variant {
        pest::error::ErrorVariant::ParsingError { positives, .. } => {
            positives.iter().map(|r| describe(*r).to_string()).collect()
        }
        pest::error::ErrorVariant::CustomError { message } => vec![message.clone()],
    };
    // pest's parse attempts know the furthest position reached and which literal tokens
    // (`=`, `)`, `->`, keywords) would have been accepted there; that is what a user needs.
    if let Some(attempts) = error.parse_attempts() {
        let tokens: Vec<String> = attempts
            .expected_tokens()
            .into_iter()
            .map(|t| t.to_string().to_lowercase())
            .filter(|t| {
                !t.trim().is_empty() && !t.contains("..") && !matches!(t.as_str(), "#" | "_" | "`" | "builtin_rule")
            })
            .map(|t| format!("`{t}`"))
            .collect();
        if attempts.max_position > start {
            start = attempts.max_position;
            expected = tokens;
            rules.clear();
        } else {
            expected.extend(tokens);
        }
    }
    expected.retain(|e| e != "more input");
    expected.sort();
    expected.dedup();
    let at_end = start >= text_len;
    let label = match expected.as_slice() {
        _ if at_end => "the file ends here, unfinished".to_string(),
        [] => "unexpected input".to_string(),
        [one] => format!("expected {one}"),
        many if many.len() > 10 => format!("expected one of: {}, ...", many[..10].join(", ")),
        many => format!("expected one of: {}", many.join(", ")),
    };
    // A zero-width span at the very end renders no caret: point at the last character instead.
    let (start, end) = if at_end && text_len > 0 { (text_len - 1, text_len) } else { (start, end.max(start)) };
    let help = if at_end || expected.is_empty() {
        "check for an unclosed string, `(` or `{` before this point".to_string()
    } else {
        syntax_help(&expected, &rules)
    };
    // A misspelled connection kind (`sqlit(...)`): one message naming the word, a suggestion
    // when one is close, and the kinds listed once.
    if expected.iter().any(|e| e == "`csv`") {
        let word: String = text[start..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if word.starts_with(|c: char| c.is_ascii_alphabetic()) {
            let kinds = connection_kinds();
            let help = match crate::diagnostics::suggest(&word, &kinds) {
                Some(did_you_mean) => format!("{did_you_mean} connections are {}", kinds.join(", ")),
                None => format!("connections are {}", kinds.join(", ")),
            };
            return Problem::error(codes::parse::SYNTAX, format!("unknown connection kind `{word}`"))
                .at(Span::new(start, start + word.len()), "not a connection kind")
                .help(help);
        }
    }
    Problem::error(codes::parse::SYNTAX, "syntax error").at(Span::new(start, end), label).help(help)
}

/// The help for a syntax error, from the literal tokens (`expected`, as the label shows them) and
/// the grammar rules (`rules`) that would have been accepted.
fn syntax_help(expected: &[String], rules: &[Rule]) -> String {
    let has = |t: &str| expected.iter().any(|e| e == t);
    let expects = |wanted: fn(Rule) -> bool| rules.iter().any(|r| wanted(*r));
    if has("`csv`") {
        let calls: Vec<String> = connection_kinds().iter().map(|k| format!("{k}(...)")).collect();
        format!("connections are {}", crate::diagnostics::one_of(&calls))
    } else if has("`->`") {
        "a sink is written `sink INPUT -> CONN.table(\"name\")`".into()
    } else if has("`case`") || expects(|r| matches!(r, Rule::expr | Rule::between_bound)) {
        "expressions are SQL-like: columns, literals, + - * / %, = != < <= > >=, and/or/not, case, cast(x as type), f(x)".into()
    } else if has("`=`") {
        "name a stage with `=`: `source NAME = CONN.table(\"t\")`, `transform NAME = INPUT | step`".into()
    } else if expects(is_pipeline_item) {
        "a pipeline holds `source`, `transform`, `sink`, `parallelism` and `timeout` items".into()
    } else if expects(is_step) {
        "chain steps with `|`: filter, derive, select, drop, rename, cast, sql".into()
    } else {
        "see the grammar reference in README.md".into()
    }
}

/// The rules of a pipeline's items.
fn is_pipeline_item(rule: Rule) -> bool {
    matches!(rule, Rule::setting | Rule::source | Rule::transform | Rule::sink | Rule::unknown_item)
}

/// The rules of a transform's steps.
fn is_step(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::step
            | Rule::step_filter
            | Rule::step_derive
            | Rule::step_select
            | Rule::step_drop
            | Rule::step_rename
            | Rule::step_cast
            | Rule::step_sql
            | Rule::step_unknown
    )
}

/// How the label names a connection call: `a connection (postgres, mysql, ..., profile)`.
static CONNECTION: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| format!("a connection ({})", connection_kinds().join(", ")));

fn describe(rule: Rule) -> &'static str {
    match rule {
        Rule::EOI => "end of file",
        Rule::let_binding | Rule::kw_let => "`let`",
        Rule::pipeline | Rule::kw_pipeline => "`pipeline`",
        Rule::ident | Rule::column_name | Rule::column_ref => "a name",
        Rule::connection_call | Rule::connection_kind => CONNECTION.as_str(),
        Rule::arg | Rule::literal_value => "a value",
        Rule::string => "a string",
        Rule::number => "a number",
        Rule::setting | Rule::source | Rule::transform | Rule::sink | Rule::unknown_item => {
            "a pipeline item (source, transform, sink, parallelism, timeout)"
        }
        Rule::target | Rule::target_table | Rule::target_query => {
            "a target: CONN.table(\"name\"), CONN.query(\"sql\") or csv(\"path\")/parquet(\"path\")"
        }
        Rule::options => "`{` options `}`",
        Rule::option | Rule::unknown_option => "an option (partition, batch, timeout, mode, create)",
        Rule::step => "a transform step `| ...`",
        Rule::step_filter
        | Rule::step_derive
        | Rule::step_select
        | Rule::step_drop
        | Rule::step_rename
        | Rule::step_cast
        | Rule::step_sql
        | Rule::step_unknown => "a transform step (filter, derive, select, drop, rename, cast, sql)",
        Rule::expr | Rule::between_bound => "an expression",
        Rule::type_name => "a type name",
        Rule::mode_name | Rule::mode_upsert | Rule::mode_variable => {
            "a mode (append, replace, truncate, upsert on (keys))"
        }
        Rule::kw_by => "`by`",
        Rule::kw_into => "`into`",
        Rule::kw_as => "`as`",
        Rule::kw_on => "`on`",
        Rule::kw_end => "`end`",
        Rule::kw_then => "`then`",
        Rule::kw_when | Rule::case_when => "`when`",
        Rule::kw_table => "`table`",
        Rule::kw_query => "`query`",
        Rule::kw_tables => "`tables`",
        Rule::kw_schema => "`schema`",
        Rule::create_if_missing | Rule::kw_if => "`if missing`",
        Rule::create_never | Rule::kw_never => "`never`",
        Rule::kw_missing => "`missing`",
        Rule::infix_op | Rule::postfix_op => "an operator",
        r if is_infix(r) || is_postfix(r) => "an operator",
        Rule::variable => "a variable `${NAME}`",
        _ => "more input",
    }
}
