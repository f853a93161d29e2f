//! Column defaults as each catalog prints them, turned into [`DefaultValue`]s: a literal any
//! dialect accepts, the current timestamp, or the source's text kept for a warning. Sequence
//! defaults are told apart so the readers can mark the column as an identity instead.

use super::model::DefaultValue;

/// What a source's default expression means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParsedDefault {
    /// No default at all (also `NULL`, which is what a column without one gets anyway).
    None,
    /// `nextval(...)`: the column takes its values from a sequence.
    Sequence,
    Value(DefaultValue),
}

/// A PostgreSQL default as `pg_get_expr` prints it: `'abc'::text`, `'-1'::integer`, `0.5`,
/// `true`, `now()`, `CURRENT_TIMESTAMP`, `nextval('t_id_seq'::regclass)`, ...
pub fn postgres(expr: &str) -> ParsedDefault {
    let text = strip_parens(expr.trim());
    let lower = text.to_ascii_lowercase();
    if lower.starts_with("nextval(") {
        return ParsedDefault::Sequence;
    }
    if let Some(common) = common_default(text) {
        return common;
    }
    if let Some((content, rest)) = quoted(text, false)
        && let Some(cast) = casts_only(rest)
    {
        return ParsedDefault::Value(DefaultValue::Literal(typed_literal(&content, cast)));
    }
    ParsedDefault::Value(DefaultValue::Untranslatable(expr.trim().to_string()))
}

/// A MariaDB default as `information_schema.COLUMNS.COLUMN_DEFAULT` holds it (10.2.7+):
/// literals quoted with MySQL escapes, `NULL` as text, `current_timestamp()`, expressions as
/// written. MySQL 8 stores string literals unquoted instead; `quoted_literals` says which.
pub fn mysql(column_default: Option<&str>, quoted_literals: bool, expression: bool) -> ParsedDefault {
    let Some(raw) = column_default else { return ParsedDefault::None };
    let text = raw.trim();
    if !quoted_literals && !expression {
        // MySQL 8: a literal, unquoted; numbers stay numbers.
        return ParsedDefault::Value(DefaultValue::Literal(if is_number(text) {
            normalise_number(text)
        } else {
            quote(text)
        }));
    }
    if let Some(common) = common_default(text) {
        return common;
    }
    if let Some((content, rest)) = quoted(text, true)
        && rest.trim().is_empty()
    {
        return ParsedDefault::Value(DefaultValue::Literal(quote(&content)));
    }
    ParsedDefault::Value(DefaultValue::Untranslatable(text.to_string()))
}

/// A SQLite default as `PRAGMA table_info` shows it: the text of the `DEFAULT` clause.
pub fn sqlite(dflt_value: Option<&str>) -> ParsedDefault {
    let Some(raw) = dflt_value else { return ParsedDefault::None };
    let text = raw.trim();
    if let Some(common) = common_default(text) {
        return common;
    }
    if let Some((content, rest)) = quoted(text, false)
        && rest.trim().is_empty()
    {
        return ParsedDefault::Value(DefaultValue::Literal(quote(&content)));
    }
    ParsedDefault::Value(DefaultValue::Untranslatable(text.to_string()))
}

/// What reads the same in every catalog: `NULL`, numbers, booleans, the current timestamp.
fn common_default(text: &str) -> Option<ParsedDefault> {
    let lower = text.to_ascii_lowercase();
    let bare = lower.split("::").next().unwrap_or("").trim();
    if bare == "null" {
        return Some(ParsedDefault::None);
    }
    if matches!(lower.as_str(), "current_timestamp" | "now()" | "transaction_timestamp()" | "current_timestamp()")
        || (lower.starts_with("current_timestamp(") && lower.ends_with(')') && is_number(&lower[18..lower.len() - 1]))
    {
        return Some(ParsedDefault::Value(DefaultValue::CurrentTimestamp));
    }
    if lower == "true" || lower == "false" {
        return Some(ParsedDefault::Value(DefaultValue::Literal(lower.to_ascii_uppercase())));
    }
    if is_number(text) {
        return Some(ParsedDefault::Value(DefaultValue::Literal(normalise_number(text))));
    }
    None
}

/// `((x))` → `x`, only when the outer parentheses enclose everything.
fn strip_parens(mut text: &str) -> &str {
    while text.starts_with('(') && text.ends_with(')') && encloses_all(text) {
        text = text[1..text.len() - 1].trim();
    }
    text
}

fn encloses_all(text: &str) -> bool {
    let mut depth = 0i32;
    let mut in_string = false;
    for (i, c) in text.char_indices() {
        match c {
            '\'' => in_string = !in_string,
            '(' if !in_string => depth += 1,
            ')' if !in_string => {
                depth -= 1;
                if depth == 0 && i + 1 < text.len() {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// A leading single-quoted string: its content and the text after it. Quotes are doubled
/// inside; with `backslash_escapes` (MySQL) `\x` escapes are read too.
pub fn quoted(text: &str, backslash_escapes: bool) -> Option<(String, &str)> {
    let mut chars = text.char_indices();
    if chars.next()?.1 != '\'' {
        return None;
    }
    let mut content = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\'' => {
                if text[i + 1..].starts_with('\'') {
                    content.push('\'');
                    chars.next();
                } else {
                    return Some((content, &text[i + 1..]));
                }
            }
            '\\' if backslash_escapes => {
                let (_, escaped) = chars.next()?;
                content.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    '0' => '\0',
                    'Z' => '\u{1a}',
                    other => other,
                });
            }
            other => content.push(other),
        }
    }
    None
}

/// After a literal, only `::type` casts (`::character varying`, `::"My Type"`, `::numeric(5,2)`):
/// the last cast's type, lower-cased. `Some("")` when there is nothing at all.
fn casts_only(rest: &str) -> Option<String> {
    let rest = rest.trim();
    if rest.is_empty() {
        return Some(String::new());
    }
    let mut last = None;
    for segment in rest.strip_prefix("::")?.split("::") {
        let ok = !segment.trim().is_empty() && segment.chars().all(|c| c.is_alphanumeric() || " _.\"(),[]".contains(c));
        if !ok {
            return None;
        }
        last = Some(segment.trim().to_ascii_lowercase());
    }
    last
}

/// A string literal cast to a type: numbers and booleans lose their quotes (`'-1'::integer`
/// → `-1`), everything else stays a quoted string.
fn typed_literal(content: &str, cast: String) -> String {
    let numeric = ["smallint", "integer", "bigint", "numeric", "real", "double precision"]
        .iter()
        .any(|t| cast == *t || cast.starts_with(&format!("{t}(")));
    if numeric && is_number(content) {
        return normalise_number(content);
    }
    if cast == "boolean" {
        match content.to_ascii_lowercase().as_str() {
            "t" | "true" => return "TRUE".into(),
            "f" | "false" => return "FALSE".into(),
            _ => {}
        }
    }
    quote(content)
}

/// A portable string literal: single quotes doubled, nothing else escaped.
pub fn quote(content: &str) -> String {
    format!("'{}'", content.replace('\'', "''"))
}

/// A decimal number: optional sign, digits with an optional fraction, optional exponent.
pub fn is_number(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = digits(int) && digits(frac) && !(int.is_empty() && frac.is_empty());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

fn normalise_number(text: &str) -> String {
    text.strip_prefix('+').unwrap_or(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> ParsedDefault {
        ParsedDefault::Value(DefaultValue::Literal(s.into()))
    }
    fn untranslatable(s: &str) -> ParsedDefault {
        ParsedDefault::Value(DefaultValue::Untranslatable(s.into()))
    }
    const NOW: ParsedDefault = ParsedDefault::Value(DefaultValue::CurrentTimestamp);

    #[test]
    fn postgres_defaults() {
        assert_eq!(postgres("nextval('t_id_seq'::regclass)"), ParsedDefault::Sequence);
        assert_eq!(postgres("'new'::text"), lit("'new'"));
        assert_eq!(postgres("'it''s'::character varying"), lit("'it''s'"));
        assert_eq!(postgres("'-1'::integer"), lit("-1"));
        assert_eq!(postgres("0.5"), lit("0.5"));
        assert_eq!(postgres("(-1)"), lit("-1"));
        assert_eq!(postgres("'15000000000'::numeric"), lit("15000000000"));
        assert_eq!(postgres("'2020-01-01'::date"), lit("'2020-01-01'"));
        assert_eq!(postgres("'new'::\"Status\""), lit("'new'"));
        assert_eq!(postgres("'{}'::jsonb"), lit("'{}'"));
        assert_eq!(postgres("'a\\b'::text"), lit("'a\\b'"));
        assert_eq!(postgres("true"), lit("TRUE"));
        assert_eq!(postgres("now()"), NOW);
        assert_eq!(postgres("CURRENT_TIMESTAMP"), NOW);
        assert_eq!(postgres("NULL::text"), ParsedDefault::None);
        assert_eq!(postgres("lower('X'::text)"), untranslatable("lower('X'::text)"));
        assert_eq!(postgres("'a'::text || 'b'::text"), untranslatable("'a'::text || 'b'::text"));
        assert_eq!(postgres("(b * 2)"), untranslatable("(b * 2)"));
        assert_eq!(postgres("('now'::text)::date"), untranslatable("('now'::text)::date"));
    }

    #[test]
    fn mariadb_defaults() {
        assert_eq!(mysql(None, true, true), ParsedDefault::None);
        assert_eq!(mysql(Some("NULL"), true, true), ParsedDefault::None);
        assert_eq!(mysql(Some("'NULL'"), true, true), lit("'NULL'"));
        assert_eq!(mysql(Some("'it''s'"), true, true), lit("'it''s'"));
        assert_eq!(mysql(Some("'a\\\\b'"), true, true), lit("'a\\b'"));
        assert_eq!(mysql(Some("-1"), true, true), lit("-1"));
        assert_eq!(mysql(Some("current_timestamp()"), true, true), NOW);
        assert_eq!(mysql(Some("current_timestamp(3)"), true, true), NOW);
        assert_eq!(mysql(Some("uuid()"), true, true), untranslatable("uuid()"));
        assert_eq!(mysql(Some("b'1'"), true, true), untranslatable("b'1'"));
        assert_eq!(mysql(Some("(1 + 1)"), true, true), untranslatable("(1 + 1)"));
    }

    #[test]
    fn mysql8_defaults() {
        assert_eq!(mysql(Some("abc"), false, false), lit("'abc'"));
        assert_eq!(mysql(Some("1.50"), false, false), lit("1.50"));
        assert_eq!(mysql(Some("CURRENT_TIMESTAMP"), false, true), NOW);
        assert_eq!(mysql(Some("(now() + 1)"), false, true), untranslatable("(now() + 1)"));
    }

    #[test]
    fn sqlite_defaults() {
        assert_eq!(sqlite(Some("'abc'")), lit("'abc'"));
        assert_eq!(sqlite(Some("+3")), lit("3"));
        assert_eq!(sqlite(Some("CURRENT_TIMESTAMP")), NOW);
        assert_eq!(sqlite(Some("NULL")), ParsedDefault::None);
        assert_eq!(sqlite(Some("(datetime('now'))")), untranslatable("(datetime('now'))"));
    }

    #[test]
    fn numbers() {
        for n in ["0", "-1", "1.5", ".5", "1e10", "1.5E-3", "+2"] {
            assert!(is_number(n), "{n}");
        }
        for n in ["", "-", "1e", "e5", "1.2.3", "0x10", "1_000", "."] {
            assert!(!is_number(n), "{n}");
        }
    }
}
