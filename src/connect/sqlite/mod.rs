//! SQLite: read value by value by the column's declared type (`reader`) and written (`sink`) with
//! rusqlite, whose bundled libsqlite3 is the one SQLite in the build. A whole file's schema is
//! read by `catalog`; `ddl` is SQLite's dialect as the target of a schema copy. The sinks writing
//! one file share its connection (`shared`).

pub mod catalog;
pub mod ddl;
pub mod params;
pub mod reader;
pub mod rename;
pub mod shared;
pub mod sink;
pub mod source;
