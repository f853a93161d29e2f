//! What describing each table of a table set would ask PostgreSQL, read for all of them at once
//! on the catalog's connection (`connect::catalog::TableRead`): the schema probe's answer, built
//! from the catalog's columns by the probe's own type mapping ([`types::pg_field`]); the
//! inheritance note; the row estimate, the primary key and the row width that
//! `PostgresSource::{row_estimate_sql, auto_partition_sql, row_width_sql}` read table by table.
//! Three statements whatever the number of tables (the descendants, the estimates, the
//! statistics), beside the catalog's own.
//!
//! The probe's result description (RowDescription) reports a domain column as its base type
//! and the domain's type modifier (`printtup.c`, `getBaseTypeAndTypmod`), which is what the
//! catalog's columns hold. Where the catalog cannot be sure of the probe's answer, the table's
//! schema is left unknown and the table is probed on its own, refusing what the probe always
//! refused: a type the mapping does not take (arrays, geometric types, ...), a type that is
//! neither built in, an enum nor a plain base type, a domain over a domain (the catalog reads
//! one level), and a table the user may not read.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use tokio_postgres::types::{Kind, Type};

use super::catalog::{ColumnFacts, Reader, TablesRead, get};
use super::{inheritance, types};
use crate::connect::catalog::{PrimaryKeyFacts, ReadAs, TableRead, TableSetRead};
use crate::connect::catalog_error::CatalogError;
use crate::plan::TableName;

/// Per table (`$1`, oids): the row estimate of the table alone and with every descendant, as
/// `row_estimate_sql` computes each (`reltuples` summed where analysed, -1 being never
/// analysed); the table's own `reltuples` as `auto_partition_sql` reads it; whether it is
/// partitioned (`relkind = 'p'`, for the row width); whether the user may read it.
const ESTIMATES_SQL: &str = "\
WITH RECURSIVE tree(root, oid) AS (
    SELECT c.oid, c.oid FROM pg_class c WHERE c.oid = ANY($1)
  UNION ALL
    SELECT tree.root, i.inhrelid FROM pg_inherits i JOIN tree ON i.inhparent = tree.oid
)
SELECT tree.root,
       (sum(c.reltuples) FILTER (WHERE c.reltuples >= 0 AND c.oid = tree.root))::bigint,
       (sum(c.reltuples) FILTER (WHERE c.reltuples >= 0))::bigint,
       (max(c.reltuples) FILTER (WHERE c.oid = tree.root))::bigint,
       bool_or(c.relkind = 'p' AND c.oid = tree.root),
       has_table_privilege(tree.root, 'SELECT')
FROM tree JOIN pg_class c ON c.oid = tree.oid
GROUP BY tree.root";

/// Per table (`$1`, oids) and statistics set (`inherited` or not): the sum of the columns'
/// average widths, as `row_width_sql` sums one set.
const WIDTHS_SQL: &str = "\
SELECT c.oid, s.inherited, sum(s.avg_width)::bigint FROM pg_stats s
JOIN pg_class c ON c.relname = s.tablename JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = s.schemaname
WHERE c.oid = ANY($1)
GROUP BY c.oid, s.inherited";

/// What one row of [`ESTIMATES_SQL`] says.
struct Estimates {
    own: Option<i64>,
    whole: Option<i64>,
    reltuples: Option<i64>,
    partitioned: bool,
    readable: bool,
}

/// The table set's read: the catalog (sorted), the descendants of every table of the database,
/// and each table's [`TableRead`], on `reader`'s connection.
pub(super) async fn read_table_set(reader: &Reader<'_>, read: TablesRead) -> Result<TableSetRead, CatalogError> {
    let descendants = inheritance::descendants_on(reader.client, reader.url, None)
        .await
        .map_err(|e| CatalogError::backend(e, reader.url))?;
    let mut estimates: HashMap<u32, Estimates> = HashMap::new();
    for row in reader.query_oids(ESTIMATES_SQL, &read.oids).await? {
        let estimate = Estimates {
            own: get(&row, 1)?,
            whole: get(&row, 2)?,
            reltuples: get(&row, 3)?,
            partitioned: get::<Option<bool>>(&row, 4)?.unwrap_or(false),
            readable: get(&row, 5)?,
        };
        estimates.insert(get(&row, 0)?, estimate);
    }
    // (oid, inherited) → summed width.
    let mut widths: HashMap<(u32, bool), Option<i64>> = HashMap::new();
    for row in reader.query_oids(WIDTHS_SQL, &read.oids).await? {
        widths.insert((get(&row, 0)?, get(&row, 1)?), get(&row, 2)?);
    }
    let mut reads = BTreeMap::new();
    for ((table, oid), columns) in read.tables.iter().zip(&read.oids).zip(&read.columns) {
        let Some(estimate) = estimates.get(oid) else { continue };
        let name = TableName { parts: table.schema.iter().chain([&table.name]).cloned().collect() };
        let children = descendants.get(&table.display_name()).cloned().unwrap_or_default();
        // `row_width_sql`: the statistics of the rows read, when analysed; a partitioned table
        // has only the inherited set.
        let width = |only: bool| {
            let inherited = estimate.partitioned || (!only && widths.contains_key(&(*oid, true)));
            widths.get(&(*oid, inherited)).copied().flatten()
        };
        let read_as = |only: bool| ReadAs {
            notes: inheritance::read_note(&name, only, &children).into_iter().collect(),
            rows: if only { estimate.own } else { estimate.whole },
            width: width(only),
        };
        let primary_key = table.primary_key.as_ref().and_then(|key| {
            let column = key.columns.iter().max()?.clone();
            let type_name = table.columns.iter().find(|c| c.name == column)?.source_type.clone();
            Some(PrimaryKeyFacts {
                column,
                columns: key.columns.len(),
                rows: estimate.reltuples.map(|r| r as f64),
                type_name,
            })
        });
        let schema = if estimate.readable { probe_schema(columns) } else { None };
        let read = TableRead { schema, whole: read_as(false), only: read_as(true), primary_key };
        reads.insert(table.display_name(), read);
    }
    Ok(TableSetRead { catalog: read.catalog(), descendants, reads })
}

/// The schema `SELECT * FROM` the table's probe returns, by [`types::pg_field`] over the types
/// the result description would carry; `None` when any column is not sure (see the module
/// docs).
fn probe_schema(columns: &[ColumnFacts]) -> Option<SchemaRef> {
    let mut fields = Vec::with_capacity(columns.len());
    for column in columns {
        let ty = match Type::from_oid(column.type_oid) {
            Some(ty) => ty,
            // tokio-postgres looks up other types in the catalog: an enum's kind is `Enum`, a
            // plain base type's `Simple` (an extension's `citext`); the mapping reads the kind
            // and the name only. Anything else (a domain over a domain, whose first level only
            // the catalog read; a composite, a range) is probed.
            None => {
                let kind = match column.type_kind.as_str() {
                    "e" => Kind::Enum(Vec::new()),
                    "b" => Kind::Simple,
                    _ => return None,
                };
                Type::new(column.type_name.clone(), column.type_oid, kind, String::new())
            }
        };
        fields.push(types::pg_field(&column.name, &ty, column.typmod).ok()?);
    }
    Some(Arc::new(Schema::new(fields)))
}
