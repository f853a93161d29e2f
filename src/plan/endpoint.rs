//! A resolved connection: which backend, where, with which options. The URL may hold a password;
//! it is only ever shown through [`Endpoint::redacted`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Postgres,
    Mysql,
    Sqlite,
    Csv,
    Parquet,
    Generate,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Self::Postgres => "postgres",
            Self::Mysql => "mysql",
            Self::Sqlite => "sqlite",
            Self::Csv => "csv",
            Self::Parquet => "parquet",
            Self::Generate => "generate",
        }
    }

    pub fn is_database(self) -> bool {
        matches!(self, Self::Postgres | Self::Mysql | Self::Sqlite)
    }

    pub fn is_file(self) -> bool {
        matches!(self, Self::Csv | Self::Parquet)
    }

    /// The backend a URL or path names: `postgres://`, `postgresql://`, `mysql://`, `mariadb://`,
    /// `sqlite://PATH`, `*.db`/`*.sqlite`, `*.csv`, `*.parquet`.
    pub fn from_url(url: &str) -> Option<Self> {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else if lower.starts_with("mysql://") || lower.starts_with("mariadb://") {
            Some(Self::Mysql)
        } else if lower.starts_with("sqlite:") || lower.ends_with(".db") || lower.ends_with(".sqlite") {
            Some(Self::Sqlite)
        } else if lower.ends_with(".csv") {
            Some(Self::Csv)
        } else if lower.ends_with(".parquet") {
            Some(Self::Parquet)
        } else {
            None
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().as_str() {
            "postgres" | "postgresql" => Some(Self::Postgres),
            "mysql" | "mariadb" => Some(Self::Mysql),
            "sqlite" => Some(Self::Sqlite),
            "csv" => Some(Self::Csv),
            "parquet" => Some(Self::Parquet),
            "generate" => Some(Self::Generate),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

/// The byte range of the password in `scheme://user:password@host/...`, if there is one.
pub fn password_span(url: &str) -> Option<std::ops::Range<usize>> {
    let rest_start = url.find("://")? + 3;
    let authority_end = url[rest_start..].find(['/', '?', '#']).map_or(url.len(), |i| rest_start + i);
    let at = url[rest_start..authority_end].rfind('@')?;
    let colon = url[rest_start..rest_start + at].find(':')?;
    Some(rest_start + colon + 1..rest_start + at)
}

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

/// Replaces every occurrence of a URL's password in `text` (e.g. a driver's error message).
pub fn scrub_secret(text: &str, url: &str) -> String {
    let mut out = text.to_string();
    if let Some(password) = password_of(url)
        && !password.is_empty()
    {
        out = out.replace(&password, "***");
        out = out.replace(url, &redact_url(url));
    }
    out
}

fn password_of(url: &str) -> Option<String> {
    let parsed = url::Url::parse(url).ok()?;
    parsed.password().map(|p| {
        // The URL form is percent-encoded; drivers may print either form.
        percent_decode(p)
    })
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
    fn scrubs_decoded_password_from_messages() {
        let url = "postgres://u:p%40ss@h/db";
        assert_eq!(scrub_secret("auth failed for p@ss", url), "auth failed for ***");
    }

    #[test]
    fn backend_from_url() {
        assert_eq!(Backend::from_url("postgresql://x"), Some(Backend::Postgres));
        assert_eq!(Backend::from_url("sqlite://out/a.db"), Some(Backend::Sqlite));
        assert_eq!(Backend::from_url("data/x.parquet"), Some(Backend::Parquet));
        assert_eq!(Backend::from_url("data/x.txt"), None);
    }
}
