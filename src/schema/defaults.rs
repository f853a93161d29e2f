//! Column defaults as catalogs print them, turned into [`DefaultValue`]s: a literal any
//! dialect accepts, the current timestamp, or the source's text kept for a warning. Sequence
//! defaults are told apart so the readers can mark the column as an identity instead.
//!
//! This module holds what every catalog shares (`NULL`, numbers, booleans, the current
//! timestamp, quoted strings); each backend's catalog reader (`connect::<backend>::catalog`)
//! reads its own spelling on top of it, and the DDL planner re-quotes literals with [`quoted`].

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

/// What reads the same in every catalog: `NULL`, numbers, booleans, the current timestamp.
/// `None` when the text is something else, for the catalog's own rules to read.
pub fn common_default(text: &str) -> Option<ParsedDefault> {
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

/// The rules every catalog ends with, after its own: [`common_default`], then a whole
/// single-quoted string (`backslash_escapes` as in [`quoted`]) as a literal; anything else is
/// kept as untranslatable text (reported, never dropped).
pub fn common_or_literal(text: &str, backslash_escapes: bool) -> ParsedDefault {
    if let Some(common) = common_default(text) {
        return common;
    }
    if let Some((content, rest)) = quoted(text, backslash_escapes)
        && rest.trim().is_empty()
    {
        return ParsedDefault::Value(DefaultValue::Literal(quote(&content)));
    }
    ParsedDefault::Value(DefaultValue::Untranslatable(text.to_string()))
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

/// A number as a portable literal: without a leading `+`.
pub fn normalise_number(text: &str) -> String {
    text.strip_prefix('+').unwrap_or(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

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
