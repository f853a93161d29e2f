//! A sink that writes the table its own pipeline reads (`flow::sink::writes_its_source`): the
//! same server (or SQLite file) and the same table, or a table set written into the schema it
//! is read from. Reading and writing one table is allowed (every sink stages its rows and
//! publishes them after reading has ended, so the rows read are the table as it was), and
//! rewriting a table through a transform is a real use; but it is seldom what a copy means:
//! `append` doubles the rows, and `replace` makes the table again from the pipeline's columns,
//! dropping its keys, indexes and constraints. So it is a warning, said before anything runs;
//! `flow copy`, which has no transform, refuses it.
//!
//! Places are compared by what their URLs name, without connecting: the host (`localhost` as
//! `127.0.0.1`), the port (the backend's default when none is given), the database and the
//! schema (PostgreSQL: `public` when unqualified; MySQL: a table's database is its qualifier,
//! else the URL's); the user and the options are not part of the comparison. A SQLite file is
//! compared by its canonical path when it exists (symbolic links resolved), else lexically
//! (`./a.db` is `a.db`).

use crate::diagnostics::{Problem, codes};
use crate::plan::{Backend, Endpoint, PipelinePlan, Relation, WriteMode};
use crate::syntax::ast::Span;

/// The warnings for `plan`'s sinks that write a table one of its sources reads. `span_of` gives
/// a sink's target in the file, by sink name.
pub fn check(plan: &PipelinePlan, span_of: impl Fn(&str) -> Span) -> Vec<Problem> {
    let mut out = Vec::new();
    for sink in &plan.sinks {
        let Relation::Table { name } = &sink.relation else { continue };
        let Some(written) = home(&sink.endpoint, name.schema()) else { continue };
        let read = plan.sources.iter().find(|source| match &source.relation {
            Relation::Table { name: read } => {
                read.table() == name.table() && home(&source.endpoint, read.schema()).as_ref() == Some(&written)
            }
            _ => false,
        });
        if let Some(source) = read {
            let what = format!("table {}", name.flow_text());
            out.push(problem(&sink.name, &what, &source.name, &sink.mode, span_of(&sink.name)));
        }
    }
    for set in &plan.table_sets {
        for sink in &set.sinks {
            let Some((server, namespace)) = home(&sink.endpoint, sink.schema.as_deref()) else { continue };
            let patterns = if set.include.is_empty() { &[String::new()][..] } else { &set.include[..] };
            let reads_it = patterns.iter().any(|p| {
                let schema = p.split_once('.').map(|(schema, _)| schema);
                if schema.is_some_and(|s| s.contains(['*', '?'])) {
                    return home(&set.endpoint, None).is_some_and(|(read_server, _)| read_server == server);
                }
                home(&set.endpoint, schema) == Some((server.clone(), namespace.clone()))
            });
            if reads_it {
                let word = sink.endpoint.backend.info().namespace;
                let what = format!("{word} {namespace}");
                out.push(problem(&sink.name, &what, &set.name, &sink.mode, span_of(&sink.name)));
            }
        }
    }
    out
}

fn problem(sink: &str, what: &str, source: &str, mode: &WriteMode, span: Span) -> Problem {
    let effect = match mode {
        WriteMode::Append => "mode append adds the rows it read again",
        WriteMode::Replace => {
            "mode replace makes the table again from the pipeline's columns, without its keys, indexes and constraints"
        }
        WriteMode::Truncate | WriteMode::Upsert { .. } => "the table is rewritten with rows read from itself",
    };
    Problem::warning(
        codes::sink::WRITES_ITS_SOURCE,
        format!("sink `{sink}` writes {what}, which source `{source}` reads on the same server: {effect}"),
    )
    .at(span, "what this pipeline reads")
    .help("write to another table, schema or server, unless rewriting the source is what you mean")
}

/// Where a table of `schema` (its qualifier, if any) lives: the server (or SQLite file) and
/// the namespace in it. PostgreSQL: the server's database and the schema (`public` when
/// unqualified); MySQL: the server and the database (the URL's when unqualified); SQLite: the
/// file. `None` for a file format, or a URL that cannot be read.
fn home(endpoint: &Endpoint, schema: Option<&str>) -> Option<(String, String)> {
    match endpoint.backend {
        Backend::Sqlite => Some((normalized_path(endpoint.file_path()), String::new())),
        Backend::Postgres => {
            let (host, port, database) = server_of(&endpoint.url)?;
            Some((format!("{host}:{port:?}/{database}"), schema.unwrap_or("public").to_string()))
        }
        Backend::Mysql => {
            let (host, port, database) = server_of(&endpoint.url)?;
            Some((format!("{host}:{port:?}"), schema.map_or(database, str::to_string)))
        }
        _ => None,
    }
}

/// `(host, port, database)` of a database URL; `None` when it cannot be read.
fn server_of(url: &str) -> Option<(String, Option<u16>, String)> {
    let parsed = url::Url::parse(url).ok()?;
    let host = match parsed.host_str()? {
        "localhost" | "::1" | "[::1]" => "127.0.0.1".to_string(),
        host => host.to_ascii_lowercase(),
    };
    let port = parsed.port().or(match parsed.scheme() {
        "postgres" | "postgresql" => Some(5432),
        "mysql" | "mariadb" => Some(3306),
        _ => None,
    });
    Some((host, port, parsed.path().trim_matches('/').to_string()))
}

/// The file's canonical path when it exists (symbolic links, `.` and `..` resolved, relative
/// to the working directory); else the path with `.` parts and repeated separators left out.
fn normalized_path(path: &str) -> String {
    if let Ok(canonical) = std::fs::canonicalize(path) {
        return canonical.display().to_string();
    }
    let absolute = path.starts_with('/');
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    format!("{}{}", if absolute { "/" } else { "" }, parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(backend: Backend, url: &str) -> Endpoint {
        Endpoint { name: "x".into(), backend, url: url.into(), options: Default::default() }
    }

    #[test]
    fn places_are_compared_by_server_database_and_schema() {
        let pg = |url: &str, schema: Option<&str>| home(&at(Backend::Postgres, url), schema);
        let base = pg("postgres://postgres@127.0.0.1:5432/test", None);
        assert_eq!(base, pg("postgresql://root:secret@localhost/test", Some("public")));
        assert_eq!(base, pg("postgres://u@127.0.0.1/test?sslmode=disable", None));
        assert_ne!(base, pg("postgres://postgres@127.0.0.1:5433/test", None));
        assert_ne!(base, pg("postgres://postgres@127.0.0.1:5432/other", None));
        assert_ne!(base, pg("postgres://postgres@127.0.0.1:5432/test", Some("app")));
        // MySQL: the URL's database, or the qualifier, is the namespace.
        let my = |url: &str, schema: Option<&str>| home(&at(Backend::Mysql, url), schema);
        assert_eq!(my("mysql://root@127.0.0.1/shop", None), my("mysql://root@localhost:3306", Some("shop")));
        assert_eq!(my("mysql://root@127.0.0.1/other", Some("shop")), my("mysql://root@127.0.0.1/shop", None));
        assert_ne!(my("mysql://root@127.0.0.1/shop", None), my("mysql://root@127.0.0.1/other", None));
        let lite = |url: &str| home(&at(Backend::Sqlite, url), None);
        assert_eq!(lite("sqlite://./out/a.db"), lite("out//a.db"));
        assert_ne!(lite("out/a.db"), lite("out/b.db"));
    }

    #[test]
    fn an_existing_sqlite_file_is_the_same_however_its_path_is_spelled() {
        let dir = std::env::temp_dir().join(format!("flow-self-writes-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        let file = dir.join("s.db");
        std::fs::write(&file, b"").unwrap();
        let link = dir.join("link.db");
        let _ = std::os::unix::fs::symlink(&file, &link);
        let lite = |path: String| home(&at(Backend::Sqlite, &path), None);
        let same = lite(file.display().to_string());
        assert_eq!(same, lite(format!("sqlite://{}/sub/../s.db", dir.display())));
        assert_eq!(same, lite(format!("{}/./s.db", dir.display())));
        assert_eq!(same, lite(link.display().to_string()));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
