//! SQL text for each dialect: identifier quoting, literals, and the queries a source sends.
//! Every name that comes from a `.flow` file reaches SQL through [`Dialect::ident`] or
//! [`Dialect::table`]; nothing is spliced unquoted.

use serde::{Deserialize, Serialize};

use super::{PartitionRange, Relation, TableName};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Postgres,
    Mysql,
    Sqlite,
    /// DataFusion's own SQL (transform expressions, `sql` steps).
    DataFusion,
}

impl Dialect {
    /// Whether the database takes column names without case: MySQL/MariaDB always (MySQL
    /// manual, "Identifier Case Sensitivity": column names are not case-sensitive), SQLite for
    /// ASCII letters (SQLite docs, "SQLite Keywords"); PostgreSQL's quoted names, as Flow writes
    /// them, are exact.
    pub fn folds_column_case(self) -> bool {
        matches!(self, Dialect::Mysql | Dialect::Sqlite)
    }

    /// A quoted identifier: `"a ""b"""` (standard), `` `a``b` `` (MySQL).
    pub fn ident(self, name: &str) -> String {
        match self {
            Self::Mysql => format!("`{}`", name.replace('`', "``")),
            _ => format!("\"{}\"", name.replace('"', "\"\"")),
        }
    }

    pub fn table(self, name: &TableName) -> String {
        name.parts.iter().map(|p| self.ident(p)).collect::<Vec<_>>().join(".")
    }

    /// A string literal. MySQL also treats backslash as an escape unless NO_BACKSLASH_ESCAPES.
    pub fn string(self, value: &str) -> String {
        match self {
            Self::Mysql => format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''")),
            _ => format!("'{}'", value.replace('\'', "''")),
        }
    }

    /// A boolean literal: `1`/`0` where booleans are integers (SQLite, MySQL's `BOOLEAN` is a
    /// `TINYINT(1)`), `TRUE`/`FALSE` elsewhere.
    pub fn boolean(self, value: bool) -> String {
        match self {
            Self::Sqlite | Self::Mysql => i32::from(value).to_string(),
            _ => value.to_string().to_uppercase(),
        }
    }

    /// `expr` cast to text: `CAST(expr AS CHAR)` in MySQL, which has no `TEXT` cast target,
    /// `CAST(expr AS TEXT)` elsewhere.
    pub fn cast_to_text(self, expr: &str) -> String {
        match self {
            Self::Mysql => format!("CAST({expr} AS CHAR)"),
            _ => format!("CAST({expr} AS TEXT)"),
        }
    }

    /// The query a source sends for a relation, optionally restricted to one partition.
    pub fn select(self, relation: &Relation, columns: Option<&[String]>, where_clause: Option<&str>) -> String {
        self.select_rows(relation, false, columns, where_clause)
    }

    /// [`Self::select`], and with `only` a PostgreSQL table is read without the rows of its
    /// inheritance children: `FROM ONLY "s"."t"` (PostgreSQL docs, "Inheritance": a query on a
    /// parent includes its children's rows unless `ONLY` is written). See `SourcePlan::only`;
    /// other dialects have no table inheritance and ignore it.
    pub fn select_rows(
        self,
        relation: &Relation,
        only: bool,
        columns: Option<&[String]>,
        where_clause: Option<&str>,
    ) -> String {
        let projection = match columns {
            Some(cols) if !cols.is_empty() => cols.iter().map(|c| self.ident(c)).collect::<Vec<_>>().join(", "),
            _ => "*".to_string(),
        };
        let from = match relation {
            Relation::Table { name } if only && self == Self::Postgres => format!("ONLY {}", self.table(name)),
            Relation::Table { name } => self.table(name),
            Relation::Query { sql } => format!("({}) AS {}", self.subquery(sql), self.ident("_flow_src")),
            Relation::File { path } => self.string(path),
            Relation::Generated { .. } => "generate".to_string(),
        };
        match where_clause {
            Some(w) => format!("SELECT {projection} FROM {from} WHERE {w}"),
            None => format!("SELECT {projection} FROM {from}"),
        }
    }

    /// A user's query as the body of a subquery `(...)`: without what follows its last token
    /// (white space, `;`, line comments), and ending in a line break when a line comment may
    /// remain in it, so that nothing of the query can swallow the closing parenthesis.
    fn subquery(self, sql: &str) -> String {
        let body = &sql[..self.statement_end(sql)];
        let comment_marker = body.contains("--") || (self == Self::Mysql && body.contains('#'));
        if comment_marker { format!("{body}\n") } else { body.to_string() }
    }

    /// The byte offset just after the last token of `sql` that is not white space, `;` or a
    /// line comment (`-- ...`; also `# ...` in MySQL, where `--` starts a comment only before
    /// white space). Strings, quoted names, block comments (nested in PostgreSQL) and
    /// PostgreSQL's dollar-quoted strings are tokens: a `--` or `;` inside them is not seen.
    /// An unterminated one reaches the end of the text.
    fn statement_end(self, sql: &str) -> usize {
        let b = sql.as_bytes();
        let after = |i: usize| b.get(i).copied();
        let ident_byte = |c: u8| c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80;
        let (mut i, mut end) = (0, 0);
        while i < b.len() {
            let c = b[i];
            match c {
                b';' => i += 1,
                _ if c.is_ascii_whitespace() => i += 1,
                b'-' if after(i + 1) == Some(b'-')
                    && (self != Self::Mysql
                        || after(i + 2).is_none_or(|n| n.is_ascii_whitespace() || n.is_ascii_control())) =>
                {
                    i = line_end(b, i)
                }
                b'#' if self == Self::Mysql => i = line_end(b, i),
                _ => {
                    i = match c {
                        b'/' if after(i + 1) == Some(b'*') => block_comment_end(b, i, self == Self::Postgres),
                        b'\'' => {
                            // PostgreSQL's escape strings (`E'it\'s'`) and every MySQL string take backslash escapes.
                            let escape = i > 0 && matches!(b[i - 1], b'e' | b'E') && (i < 2 || !ident_byte(b[i - 2]));
                            quoted_end(b, i, self == Self::Mysql || (self == Self::Postgres && escape))
                        }
                        b'"' => quoted_end(b, i, self == Self::Mysql),
                        b'`' if self != Self::Postgres => quoted_end(b, i, false),
                        b'[' if self == Self::Sqlite => {
                            b[i..].iter().position(|&x| x == b']').map_or(b.len(), |n| i + n + 1)
                        }
                        b'$' if self == Self::Postgres && (i == 0 || !ident_byte(b[i - 1])) => {
                            dollar_quoted_end(sql, i)
                        }
                        _ => i + 1,
                    };
                    end = i;
                }
            }
        }
        end
    }

    /// `CREATE TABLE` for an Arrow schema, each column typed by `column_type` (which sees the
    /// whole field: its metadata may name the source type), with the key constraint (`UNIQUE`,
    /// `PRIMARY KEY`) an upsert needs.
    pub fn create_table<E>(
        self,
        table: &TableName,
        schema: &arrow::datatypes::Schema,
        column_type: impl Fn(&arrow::datatypes::Field) -> Result<String, E>,
        key: Option<(&str, &[String])>,
    ) -> Result<String, E> {
        let mut cols = Vec::new();
        for f in schema.fields() {
            let null = if f.is_nullable() { "" } else { " NOT NULL" };
            cols.push(format!("{} {}{null}", self.ident(f.name()), column_type(f)?));
        }
        if let Some((constraint, keys)) = key {
            cols.push(format!("{constraint} ({})", keys.iter().map(|k| self.ident(k)).collect::<Vec<_>>().join(", ")));
        }
        Ok(format!("CREATE TABLE {} ({})", self.table(table), cols.join(", ")))
    }

    /// The predicate that selects one partition's rows.
    pub fn partition_predicate(self, column: &str, range: &PartitionRange) -> Option<String> {
        let col = self.ident(column);
        let mut parts = Vec::new();
        if let Some(lo) = &range.lower {
            parts.push(format!("{col} >= {}", lo.sql_literal(self)));
        }
        if let Some(hi) = &range.upper {
            parts.push(format!("{col} < {}", hi.sql_literal(self)));
        }
        let bounded = (!parts.is_empty()).then(|| parts.join(" AND "));
        match (bounded, range.includes_nulls) {
            (None, _) => None,
            (Some(b), true) => Some(format!("({b} OR {col} IS NULL)")),
            (Some(b), false) => Some(b),
        }
    }
}

/// The offset of the line break ending the line comment at `start` (or the end of the text).
fn line_end(b: &[u8], start: usize) -> usize {
    b[start..].iter().position(|&c| c == b'\n').map_or(b.len(), |n| start + n)
}

/// Just after the `*/` closing the block comment at `start`; `nested`: `/* /* */ */` is one.
fn block_comment_end(b: &[u8], start: usize, nested: bool) -> usize {
    let (mut i, mut depth) = (start + 2, 1);
    while i < b.len() {
        if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else if nested && b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
            depth += 1;
            i += 2;
        } else {
            i += 1;
        }
    }
    b.len()
}

/// Just after the quote closing the string or name opened at `start` (a doubled quote is one
/// character of it; with `backslash`, a backslash escapes the next byte).
fn quoted_end(b: &[u8], start: usize, backslash: bool) -> usize {
    let quote = b[start];
    let mut i = start + 1;
    while i < b.len() {
        match b[i] {
            b'\\' if backslash => i += 2,
            c if c == quote && b.get(i + 1) == Some(&quote) => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// PostgreSQL's `$tag$ ... $tag$` at `start`: just after the closing tag. A `$` that opens no
/// tag (`$1`) is one byte of its own.
fn dollar_quoted_end(sql: &str, start: usize) -> usize {
    let rest = &sql[start + 1..];
    let tag_len = rest.find('$').unwrap_or(usize::MAX);
    let tag = rest.get(..tag_len).unwrap_or("");
    let valid = tag_len != usize::MAX
        && !tag.starts_with(|c: char| c.is_ascii_digit())
        && tag.chars().all(|c| c.is_alphanumeric() || c == '_');
    if !valid {
        return start + 1;
    }
    let delimiter = &sql[start..start + tag.len() + 2];
    let body = start + delimiter.len();
    sql[body..].find(delimiter).map_or(sql.len(), |n| body + n + delimiter.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_hostile_identifiers() {
        assert_eq!(Dialect::Postgres.ident("we\"ird; --"), "\"we\"\"ird; --\"");
        assert_eq!(Dialect::Mysql.ident("a`b"), "`a``b`");
        let t = TableName::parse("public.\"my.table\"");
        assert_eq!(Dialect::Postgres.table(&t), "\"public\".\"my.table\"");
    }

    #[test]
    fn only_reads_a_postgres_parent_without_its_children() {
        let sales = Relation::Table { name: TableName::parse("public.sales") };
        assert_eq!(
            Dialect::Postgres.select_rows(&sales, true, None, Some("\"id\" >= 3")),
            "SELECT * FROM ONLY \"public\".\"sales\" WHERE \"id\" >= 3"
        );
        assert_eq!(Dialect::Postgres.select(&sales, None, None), "SELECT * FROM \"public\".\"sales\"");
        assert_eq!(Dialect::Mysql.select_rows(&sales, true, None, None), "SELECT * FROM `public`.`sales`");
    }

    /// A query's trailing comments and `;` go; a comment that stays inside it ends its line
    /// before the closing parenthesis.
    #[test]
    fn a_query_ends_before_the_closing_parenthesis() {
        let sub = |d: Dialect, sql: &str| d.subquery(sql);
        let pg = Dialect::Postgres;
        assert_eq!(sub(pg, "SELECT 1 -- one"), "SELECT 1");
        assert_eq!(sub(pg, " SELECT 1;  -- one\n-- two\n;\n"), " SELECT 1");
        assert_eq!(sub(pg, "SELECT a, -- x\nb FROM t -- y"), "SELECT a, -- x\nb FROM t\n");
        assert_eq!(sub(pg, "SELECT '--;' ; -- x"), "SELECT '--;'\n");
        assert_eq!(sub(pg, "SELECT \"a--\" FROM t; /* kept */ -- gone"), "SELECT \"a--\" FROM t; /* kept */\n");
        assert_eq!(sub(pg, "SELECT 1 /* /* nested; */ -- */ -- c"), "SELECT 1 /* /* nested; */ -- */\n");
        assert_eq!(sub(pg, "SELECT E'it\\'s -- no', 1 -- yes"), "SELECT E'it\\'s -- no', 1\n");
        assert_eq!(sub(pg, "SELECT 'it''s;' -- c"), "SELECT 'it''s;'");
        assert_eq!(sub(pg, "SELECT $x$ -- ; $x$, $1 -- c"), "SELECT $x$ -- ; $x$, $1\n");
        assert_eq!(sub(pg, "SELECT $$;$$;"), "SELECT $$;$$");
        assert_eq!(sub(pg, "SELECT 'open -- c"), "SELECT 'open -- c\n");
        let my = Dialect::Mysql;
        assert_eq!(sub(my, "SELECT 1 # one"), "SELECT 1");
        assert_eq!(sub(my, "SELECT 1; -- one"), "SELECT 1");
        assert_eq!(sub(my, "SELECT 2--1"), "SELECT 2--1\n");
        assert_eq!(sub(my, "SELECT 'a\\'b -- c' # d"), "SELECT 'a\\'b -- c'\n");
        assert_eq!(sub(my, "SELECT `a#b` FROM t # c"), "SELECT `a#b` FROM t\n");
        assert_eq!(sub(my, "SELECT 1 /*! + 1 */ -- c"), "SELECT 1 /*! + 1 */");
        assert_eq!(sub(Dialect::Sqlite, "SELECT [a--b] FROM t -- c"), "SELECT [a--b] FROM t\n");
        assert_eq!(sub(Dialect::Sqlite, "SELECT 1 # c"), "SELECT 1 # c");
        let query = Relation::Query { sql: "SELECT id FROM t; -- done".into() };
        assert_eq!(
            pg.select(&query, None, Some("id > 1")),
            "SELECT * FROM (SELECT id FROM t) AS \"_flow_src\" WHERE id > 1"
        );
    }

    #[test]
    fn strings_escape_quotes() {
        assert_eq!(Dialect::Postgres.string("it's"), "'it''s'");
        assert_eq!(Dialect::Mysql.string("a\\'b"), "'a\\\\''b'");
    }
}
