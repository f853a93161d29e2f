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
            Relation::Query { sql } => format!("({}) AS {}", sql.trim().trim_end_matches(';'), self.ident("_flow_src")),
            Relation::File { path } => self.string(path),
            Relation::Generated { .. } => "generate".to_string(),
        };
        match where_clause {
            Some(w) => format!("SELECT {projection} FROM {from} WHERE {w}"),
            None => format!("SELECT {projection} FROM {from}"),
        }
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

    #[test]
    fn strings_escape_quotes() {
        assert_eq!(Dialect::Postgres.string("it's"), "'it''s'");
        assert_eq!(Dialect::Mysql.string("a\\'b"), "'a\\\\''b'");
    }
}
