//! A resolved connection: which backend, where, with which options. The URL may hold a password;
//! it is only ever shown through [`Endpoint::redacted`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Backend;

/// `Debug` shows the URL redacted ([`Endpoint::redacted`]): plans are printed with `{:?}` by
/// `derive(Debug)` on every type that holds an endpoint, and by libraries (datafusion-proto puts
/// a plan node's `Debug` in its codec errors, which Ballista logs).
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    /// The `let` name, or the backend name for an inline connection.
    pub name: String,
    pub backend: Backend,
    /// Database URL or file path. May contain a password: never print it directly.
    pub url: String,
    /// Backend options (`header`, `delimiter` for CSV, `rows`, `seed` for generate).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.name)
            .field("backend", &self.backend)
            .field("url", &self.redacted())
            .field("options", &RedactedOptions(&self.options))
            .finish()
    }
}

/// Backend options as `Debug` shows them: the value of any key that names a secret is `***`.
struct RedactedOptions<'a>(&'a BTreeMap<String, String>);

impl std::fmt::Debug for RedactedOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret =
            |k: &str| ["password", "pwd", "secret", "token"].iter().any(|s| k.to_ascii_lowercase().contains(s));
        f.debug_map().entries(self.0.iter().map(|(k, v)| (k, if secret(k) { "***" } else { v.as_str() }))).finish()
    }
}

impl Endpoint {
    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact_url(&self.url)
    }

    /// For SQLite: the file path, without a `sqlite://` prefix.
    pub fn file_path(&self) -> &str {
        let url = self.url.as_str();
        url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url)
    }

    pub fn option(&self, key: &str) -> Option<&str> {
        self.options.get(key).map(String::as_str)
    }
}

/// Replaces the password of `scheme://user:password@host` with `***`; also masks `password=...`
/// key-value pairs. Text without either is returned unchanged.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(span) = password_span(url) {
        out.replace_range(span, "***");
    }
    redact_key_values(&out)
}

pub use crate::diagnostics::secret::password_span;

/// Masks `password=secret` (and `pwd=`) in query strings and key-value connection strings.
fn redact_key_values(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let lower = rest.to_ascii_lowercase();
        let hit = ["password=", "pwd="].iter().filter_map(|k| lower.find(k).map(|i| (i, k.len()))).min();
        let Some((at, key_len)) = hit else {
            out.push_str(rest);
            return out;
        };
        let value_start = at + key_len;
        out.push_str(&rest[..value_start]);
        out.push_str("***");
        let value_end = rest[value_start..].find(['&', ' ', ';']).map_or(rest.len(), |i| value_start + i);
        rest = &rest[value_end..];
    }
}

/// Passwords shorter than this (characters) are masked where they stand in a URL, but not
/// searched for in free text: replacing every `e` or `0` of a message would garble it and, by
/// the pattern of the masks, give the password away.
const SHORTEST_SCRUBBED: usize = 5;

/// `text` (e.g. a driver's error message) without `url`'s password: the URL itself redacted,
/// every URL's password in it masked, and the password's occurrences elsewhere replaced by `***`
/// (its percent-encoded and decoded forms) when it is at least [`SHORTEST_SCRUBBED`] long.
pub fn scrub_secret(text: &str, url: &str) -> String {
    let mut out = text.replace(url, &redact_url(url));
    if let Some(span) = password_span(url) {
        let encoded = &url[span];
        let decoded = percent_decode(encoded);
        for password in [decoded.as_str(), encoded] {
            if password.chars().count() >= SHORTEST_SCRUBBED {
                out = out.replace(password, "***");
            }
        }
    }
    crate::diagnostics::secret::mask_url_passwords(&out)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        if bytes[i] == b'%'
            && let Some(Ok(v)) = hex.map(|h| u8::from_str_radix(h, 16))
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(redact_url("postgres://u:secret@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("mysql://root@h/db"), "mysql://root@h/db");
        assert_eq!(redact_url("postgres://u:p%40ss@h/db?sslmode=disable"), "postgres://u:***@h/db?sslmode=disable");
        assert_eq!(redact_url("host=h user=u password=secret dbname=d"), "host=h user=u password=*** dbname=d");
        assert_eq!(redact_url("out/x.db"), "out/x.db");
    }

    #[test]
    fn a_password_with_an_unencoded_slash_or_at_is_redacted_whole() {
        assert_eq!(redact_url("postgres://u:pa/ss@h:5432/db"), "postgres://u:***@h:5432/db");
        assert_eq!(redact_url("mysql://u:p@ss@h/db?x=1"), "mysql://u:***@h/db?x=1");
        let url = "postgres://u:pa/ss@h/db";
        assert_eq!(
            scrub_secret(&format!("cannot connect to {url}: pa/ss rejected"), url),
            format!("cannot connect to {}: *** rejected", redact_url(url))
        );
        // No user info: nothing to redact, even with an `@` in the path.
        assert_eq!(redact_url("sqlite://out/a@b.db"), "sqlite://out/a@b.db");
    }

    #[test]
    fn short_passwords_are_masked_in_urls_but_not_searched_for_in_text() {
        let url = "postgres://postgres:e@127.0.0.1:5999/test";
        let text = format!("source `s`: cannot connect to {url}: Connection refused at 127.0.0.1");
        assert_eq!(
            scrub_secret(&text, url),
            "source `s`: cannot connect to postgres://postgres:***@127.0.0.1:5999/test: Connection refused at 127.0.0.1"
        );
        let other = "postgres://postgres:0@127.0.0.1/test";
        assert_eq!(scrub_secret("at 127.0.0.1 via postgres://u:0@h/db", other), "at 127.0.0.1 via postgres://u:*@h/db");
    }

    #[test]
    fn scrubs_decoded_password_from_messages() {
        let url = "postgres://u:p%40ssw@h/db";
        assert_eq!(scrub_secret("auth failed for p@ssw", url), "auth failed for ***");
    }

    #[test]
    fn debug_shows_the_url_redacted() {
        let e = Endpoint {
            name: "warehouse".into(),
            backend: Backend::Postgres,
            url: "postgres://u:hunter2@h/db?password=hunter2".into(),
            options: [("password".to_string(), "hunter2".to_string()), ("header".to_string(), "true".to_string())]
                .into(),
        };
        let text = format!("{e:?} {e:#?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("postgres://u:***@h/db?password=***"), "{text}");
        assert!(text.contains("\"header\": \"true\""), "{text}");
    }
}
