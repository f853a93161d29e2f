//! Whole databases with their schema carried over (issue 8): the schema of a database as plain
//! data ([`Catalog`]), which tables to take ([`TableFilter`]), and what source defaults mean.

pub mod defaults;
pub mod model;
pub mod select;

pub use model::{
    Catalog, ColumnDef, ColumnType, DefaultValue, ForeignKeyDef, IndexDef, KeyDef, TableDef, Untranslated,
};
pub use select::{TableFilter, matches};
