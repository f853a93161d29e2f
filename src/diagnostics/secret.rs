//! Where a password sits in a connection URL, read one way for everything Flow prints: redacted
//! URLs (`plan::endpoint::redact_url`), scrubbed driver messages (`scrub_secret`), the `.flow`
//! text quoted under a diagnostic ([`mask_url_passwords`]) and `flow copy --emit`.

use std::ops::Range;

/// The byte range of the password in `scheme://user:password@host/...`, if there is one.
///
/// A password written without percent-encoding may hold `/`, `?`, `#`, `:` or `@`
/// (`postgres://u:pa/ss@h/db`, `mysql://u:a?b@h/db`, `postgres://u:p@x/y@h/db`), and a host
/// never holds `@`, so the user info ends at the last `@` of the URL, unless that `@` stands in
/// a query parameter's value (`?application_name=a@b`). The password starts after the first `:`
/// of the user info. When a URL has no user info but an `@` in its query, more than a password
/// may be masked; masking too much is the safe side.
pub fn password_span(url: &str) -> Option<Range<usize>> {
    let rest_start = url.find("://")? + 3;
    let rest = &url[rest_start..];
    // An `@` inside a query parameter's value (`?application_name=a@b`) ends no user info.
    let in_query = |at: usize| rest[..at].rfind('?').is_some_and(|q| rest[q..at].contains('='));
    let ats: Vec<usize> = rest.match_indices('@').map(|(i, _)| i).collect();
    let at = *ats.iter().rev().find(|&&at| !in_query(at)).or(ats.last())?;
    let colon = rest[..at].find(':')?;
    Some(rest_start + colon + 1..rest_start + at)
}

/// `text` with the password of every URL in it (`scheme://user:password@...`, up to the next
/// quote, whitespace or bracket) replaced by as many `*` as it has bytes, so byte offsets into
/// the text (diagnostic spans) stay valid. For quoting a `.flow` file's lines under a
/// diagnostic: a URL written inline holds its password in the text itself.
pub fn mask_url_passwords(text: &str) -> String {
    let mut out = text.to_string();
    let mut from = 0;
    while let Some(found) = text[from..].find("://") {
        let scheme_at = from + found;
        let is_end = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '(' | ')' | ',');
        let start = text[..scheme_at].rfind(is_end).map_or(0, |i| i + 1);
        let end = text[scheme_at..].find(is_end).map_or(text.len(), |i| scheme_at + i);
        if let Some(span) = password_span(&text[start..end]) {
            let (a, b) = (start + span.start, start + span.end);
            out.replace_range(a..b, &"*".repeat(b - a));
        }
        from = end.max(scheme_at + 3);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn password(url: &str) -> Option<&str> {
        password_span(url).map(|r| &url[r])
    }

    #[test]
    fn passwords_with_unencoded_separators_are_found_whole() {
        assert_eq!(password("postgres://u:secret@h:5432/db"), Some("secret"));
        assert_eq!(password("postgres://u:pa/ss@h/db"), Some("pa/ss"));
        assert_eq!(password("postgres://u:a?b@h/db"), Some("a?b"));
        assert_eq!(password("postgres://u:Xy#9?tq@h:5432/db?sslmode=disable"), Some("Xy#9?tq"));
        assert_eq!(password("mysql://u:p@ss@h/db?x=1"), Some("p@ss"));
        assert_eq!(password("mysql://u:a:b@h"), Some("a:b"));
        assert_eq!(password("postgres://postgres:Tr0ub4dor@x/Horse@127.0.0.1/test"), Some("Tr0ub4dor@x/Horse"));
        assert_eq!(password("postgres://u:x?a=b@h/db"), Some("x?a=b"));
        assert_eq!(password("postgres://u:p%40ss@h/db?application_name=a@b"), Some("p%40ss"));
        assert_eq!(password("mysql://root@h/db"), None);
        assert_eq!(password("sqlite://out/a@b.db"), None);
        assert_eq!(password("out/x.db"), None);
    }

    #[test]
    fn masks_inline_urls_keeping_offsets() {
        let text = "let a = postgres(\"postgres://u:s3/cr?t@h/db\")\nlet b = mysql(\"mysql://root@h/db\") # x://y";
        let masked = mask_url_passwords(text);
        assert_eq!(masked.len(), text.len());
        assert_eq!(
            masked,
            "let a = postgres(\"postgres://u:*******@h/db\")\nlet b = mysql(\"mysql://root@h/db\") # x://y"
        );
    }
}
