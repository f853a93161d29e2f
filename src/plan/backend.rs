//! The backends a connection may name, and what planning knows of each: its names, how a URL or
//! path names it, what kind of thing it is and the SQL dialect its queries are written in. This
//! table ([`Backend::info`]) is the planning half of the backend registry; `connect::registry` is
//! the other half (how each backend is read and written, and the named arguments its connection
//! call takes). Adding a backend is one variant here, one [`BackendInfo`] and one folder under
//! `src/connect/` with its `connect::registry` entry.

use serde::{Deserialize, Serialize};

use super::sql::Dialect;

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

/// What kind of thing a backend's connection points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// A database server, named by a URL (`scheme://user@host/db`).
    Server,
    /// A database in one local file (SQLite), named by a path or `scheme://PATH`.
    FileDatabase,
    /// Files of one format (or a directory of them), named by a path.
    Files,
    /// Rows Flow makes up (`generate`): read only.
    Generated,
}

/// What planning knows of one backend.
#[derive(Debug)]
pub struct BackendInfo {
    /// The name Flow prints (`postgres`), which is also the `.flow` keyword.
    pub name: &'static str,
    /// The name in prose (`PostgreSQL`), for messages.
    pub title: &'static str,
    /// A connection call to show in a hint (`sqlite("out/data.db")`).
    pub example: &'static str,
    /// Every name a profile's `kind:` may give (lower case).
    pub aliases: &'static [&'static str],
    pub kind: BackendKind,
    /// URL schemes that name it (`postgres://`), first the one Flow suggests.
    pub schemes: &'static [&'static str],
    /// File name endings that name it (`.db`), lower case.
    pub extensions: &'static [&'static str],
    /// The SQL its queries are written in; DataFusion's own for files and generated rows.
    pub dialect: Dialect,
    /// For a database whose tables live in a fixed set of schemas (SQLite's `main` and `temp`),
    /// those names; `None` where any schema may be named.
    pub fixed_schemas: Option<&'static [&'static str]>,
    /// Whether a table's schema qualifier names the same kind of namespace on any database of
    /// this backend (PostgreSQL's schemas), so a copy between two of them may keep it. A MySQL
    /// "schema" is the database its URL names; SQLite's are fixed.
    pub portable_schemas: bool,
    /// What a table's qualifier names on this backend, as its SQL says it (`schema`: `CREATE
    /// SCHEMA`; MySQL's `database`: `CREATE DATABASE`); empty where tables have none.
    pub namespace: &'static str,
}

static POSTGRES: BackendInfo = BackendInfo {
    name: "postgres",
    example: "postgres(\"postgres://user@127.0.0.1:5432/db\")",
    title: "PostgreSQL",
    aliases: &["postgres", "postgresql"],
    kind: BackendKind::Server,
    schemes: &["postgres", "postgresql"],
    extensions: &[],
    dialect: Dialect::Postgres,
    fixed_schemas: None,
    portable_schemas: true,
    namespace: "schema",
};

static MYSQL: BackendInfo = BackendInfo {
    name: "mysql",
    example: "mysql(\"mysql://root@127.0.0.1:3306/db\")",
    title: "MySQL/MariaDB",
    aliases: &["mysql", "mariadb"],
    kind: BackendKind::Server,
    schemes: &["mysql", "mariadb"],
    extensions: &[],
    dialect: Dialect::Mysql,
    fixed_schemas: None,
    portable_schemas: false,
    namespace: "database",
};

static SQLITE: BackendInfo = BackendInfo {
    name: "sqlite",
    example: "sqlite(\"out/data.db\")",
    title: "SQLite",
    aliases: &["sqlite"],
    kind: BackendKind::FileDatabase,
    schemes: &["sqlite"],
    extensions: &[".db", ".sqlite"],
    dialect: Dialect::Sqlite,
    // The schema names a SQLite connection knows without `ATTACH` (SQLite's "schema-name":
    // <https://sqlite.org/lang_naming.html>); Flow attaches no other database.
    fixed_schemas: Some(&["main", "temp"]),
    portable_schemas: false,
    namespace: "schema",
};

static CSV: BackendInfo = BackendInfo {
    name: "csv",
    example: "csv(\"data/orders.csv\", header: true)",
    title: "CSV",
    aliases: &["csv"],
    kind: BackendKind::Files,
    schemes: &[],
    extensions: &[".csv"],
    dialect: Dialect::DataFusion,
    fixed_schemas: None,
    portable_schemas: false,
    namespace: "",
};

static PARQUET: BackendInfo = BackendInfo {
    name: "parquet",
    example: "parquet(\"out/orders.parquet\")",
    title: "Parquet",
    aliases: &["parquet"],
    kind: BackendKind::Files,
    schemes: &[],
    extensions: &[".parquet"],
    dialect: Dialect::DataFusion,
    fixed_schemas: None,
    portable_schemas: false,
    namespace: "",
};

static GENERATE: BackendInfo = BackendInfo {
    name: "generate",
    example: "generate(rows: 1000000, seed: 42)",
    title: "generate",
    aliases: &["generate"],
    kind: BackendKind::Generated,
    schemes: &[],
    extensions: &[],
    dialect: Dialect::DataFusion,
    fixed_schemas: None,
    portable_schemas: false,
    namespace: "",
};

impl Backend {
    /// Every backend, in the order Flow lists them.
    pub const ALL: [Backend; 6] =
        [Backend::Postgres, Backend::Mysql, Backend::Sqlite, Backend::Csv, Backend::Parquet, Backend::Generate];

    /// What planning knows of this backend.
    pub fn info(self) -> &'static BackendInfo {
        match self {
            Self::Postgres => &POSTGRES,
            Self::Mysql => &MYSQL,
            Self::Sqlite => &SQLITE,
            Self::Csv => &CSV,
            Self::Parquet => &PARQUET,
            Self::Generate => &GENERATE,
        }
    }

    pub fn name(self) -> &'static str {
        self.info().name
    }

    /// PostgreSQL, MySQL/MariaDB and SQLite: tables, queries and catalogs.
    pub fn is_database(self) -> bool {
        matches!(self.info().kind, BackendKind::Server | BackendKind::FileDatabase)
    }

    pub fn is_file(self) -> bool {
        self.info().kind == BackendKind::Files
    }

    /// The backend a URL or path names: by its scheme (`postgres://`, `postgresql://`,
    /// `mysql://`, `mariadb://`, `sqlite:PATH`), else by its ending (`*.db`, `*.sqlite`, `*.csv`,
    /// `*.parquet`); `None` for anything else.
    pub fn from_url(url: &str) -> Option<Self> {
        let lower = url.to_ascii_lowercase();
        let by_scheme = |b: &Backend| {
            let info = b.info();
            info.schemes.iter().any(|s| match info.kind {
                // `sqlite:PATH` and `sqlite://PATH` both name a file.
                BackendKind::FileDatabase => lower.starts_with(&format!("{s}:")),
                _ => lower.starts_with(&format!("{s}://")),
            })
        };
        let by_extension = |b: &Backend| b.info().extensions.iter().any(|e| lower.ends_with(e));
        Self::ALL.into_iter().find(by_scheme).or_else(|| Self::ALL.into_iter().find(by_extension))
    }

    /// The backend a profile's `kind:` names (`postgresql`, `mariadb`, ...), in any case.
    pub fn from_name(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        Self::ALL.into_iter().find(|b| b.info().aliases.contains(&lower.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_from_url() {
        assert_eq!(Backend::from_url("postgresql://x"), Some(Backend::Postgres));
        assert_eq!(Backend::from_url("MARIADB://h/db"), Some(Backend::Mysql));
        assert_eq!(Backend::from_url("sqlite://out/a.db"), Some(Backend::Sqlite));
        assert_eq!(Backend::from_url("sqlite:out/a"), Some(Backend::Sqlite));
        assert_eq!(Backend::from_url("out/a.SQLITE"), Some(Backend::Sqlite));
        assert_eq!(Backend::from_url("data/x.parquet"), Some(Backend::Parquet));
        assert_eq!(Backend::from_url("data/x.csv"), Some(Backend::Csv));
        assert_eq!(Backend::from_url("data/x.txt"), None);
        // A scheme decides before an ending does.
        assert_eq!(Backend::from_url("postgres://h/db.csv"), Some(Backend::Postgres));
    }

    #[test]
    fn names_and_aliases_name_one_backend_each() {
        for b in Backend::ALL {
            assert_eq!(Backend::from_name(b.name()), Some(b));
            for alias in b.info().aliases {
                assert_eq!(Backend::from_name(&alias.to_ascii_uppercase()), Some(b));
            }
        }
        assert_eq!(Backend::from_name("oracle"), None);
    }
}
