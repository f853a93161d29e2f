//! A sink that writes the table its own pipeline reads (`flow::sink::writes_its_source`): the
//! same server (or SQLite file) and the same table, or a table set written into the schema it
//! is read from. Reading and writing one table is allowed (every sink stages its rows and
//! publishes them after reading has ended, so the rows read are the table as it was), and
//! rewriting a table through a transform is a real use; but it is seldom what a copy means:
//! `append` doubles the rows, and `replace` makes the table again from the pipeline's columns,
//! dropping its keys, indexes and constraints. So it is a warning, said before anything runs;
//! `flow copy`, which has no transform, refuses it.
//!
//! Servers are compared by what their URLs name, without connecting: the backend, the host
//! (`localhost` as `127.0.0.1`), the port (the backend's default when none is given) and the
//! database; the user and the options are not part of the comparison. A SQLite file is compared
//! by its path, lexically normalized (`./a.db` is `a.db`).

use crate::diagnostics::{Problem, codes};
use crate::plan::{Backend, Endpoint, PipelinePlan, Relation, TableName, WriteMode};
use crate::syntax::ast::Span;

/// The warnings for `plan`'s sinks that write a table one of its sources reads. `span_of` gives
/// a sink's target in the file, by sink name.
pub fn check(plan: &PipelinePlan, span_of: impl Fn(&str) -> Span) -> Vec<Problem> {
    let mut out = Vec::new();
    for sink in &plan.sinks {
        let Relation::Table { name } = &sink.relation else { continue };
        let read = plan.sources.iter().find(|source| {
            matches!(&source.relation, Relation::Table { name: read } if same_table(sink.endpoint.backend, read, name))
                && same_server(&source.endpoint, &sink.endpoint)
        });
        if let Some(source) = read {
            out.push(problem(
                &sink.name,
                &format!("table {}", name.flow_text()),
                &source.name,
                &sink.mode,
                span_of(&sink.name),
            ));
        }
    }
    for set in &plan.table_sets {
        for sink in set.sinks.iter().filter(|s| same_server(&set.endpoint, &s.endpoint)) {
            let target = sink.schema.as_deref().unwrap_or_else(|| default_schema(sink.endpoint.backend));
            let patterns = if set.include.is_empty() { &[String::new()][..] } else { &set.include[..] };
            let reads_it = patterns.iter().any(|p| match p.split_once('.') {
                Some((schema, _)) => schema == target || schema.contains(['*', '?']),
                None => target == default_schema(set.endpoint.backend),
            });
            if reads_it {
                out.push(problem(&sink.name, &format!("schema {target}"), &set.name, &sink.mode, span_of(&sink.name)));
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
    .at(span, "the table this pipeline reads")
    .help("write to another table, schema or server, unless rewriting the source is what you mean")
}

/// Whether `a` and `b` name the same table of one server: an unqualified name is in the
/// backend's default schema (PostgreSQL `public`; MySQL's the URL's database, which both share).
fn same_table(backend: Backend, a: &TableName, b: &TableName) -> bool {
    let schema = |t: &TableName| t.schema().unwrap_or_else(|| default_schema(backend)).to_string();
    a.table() == b.table() && schema(a) == schema(b)
}

/// The schema an unqualified name is in, as the comparison takes it.
fn default_schema(backend: Backend) -> &'static str {
    if backend == Backend::Postgres { "public" } else { "" }
}

/// Whether two endpoints name the same database: see the module's docs.
fn same_server(a: &Endpoint, b: &Endpoint) -> bool {
    if a.backend != b.backend || !a.backend.is_database() {
        return false;
    }
    if a.backend == Backend::Sqlite {
        return normalized_path(a.file_path()) == normalized_path(b.file_path());
    }
    match (server_of(&a.url), server_of(&b.url)) {
        (Some(a), Some(b)) => a == b,
        _ => a.url == b.url,
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

/// `a/./b//c.db` → `a/b/c.db`: the path with `.` parts and repeated separators left out.
fn normalized_path(path: &str) -> String {
    let absolute = path.starts_with('/');
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    format!("{}{}", if absolute { "/" } else { "" }, parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_are_compared_by_host_port_and_database() {
        let pg = |url: &str| Endpoint {
            name: "x".into(),
            backend: Backend::Postgres,
            url: url.into(),
            options: Default::default(),
        };
        let base = pg("postgres://postgres@127.0.0.1:5432/test");
        assert!(same_server(&base, &pg("postgresql://root:secret@localhost/test")));
        assert!(same_server(&base, &pg("postgres://u@127.0.0.1/test?sslmode=disable")));
        assert!(!same_server(&base, &pg("postgres://postgres@127.0.0.1:5433/test")));
        assert!(!same_server(&base, &pg("postgres://postgres@127.0.0.1:5432/other")));
        let lite = |url: &str| Endpoint { backend: Backend::Sqlite, ..pg(url) };
        assert!(same_server(&lite("sqlite://./out/a.db"), &lite("out//a.db")));
        assert!(!same_server(&lite("out/a.db"), &lite("out/b.db")));
    }

    #[test]
    fn an_unqualified_postgres_table_is_in_public() {
        let t = TableName::parse;
        assert!(same_table(Backend::Postgres, &t("orders"), &t("public.orders")));
        assert!(!same_table(Backend::Postgres, &t("orders"), &t("app.orders")));
        assert!(!same_table(Backend::Mysql, &t("orders"), &t("app.orders")));
        assert!(same_table(Backend::Mysql, &t("orders"), &t("orders")));
    }
}
