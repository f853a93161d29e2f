//! SQLite: read value by value by the column's declared type (`reader`) and written (`sink`) with
//! rusqlite — the same libsqlite3 that connectorx links, so the build carries one SQLite.

pub mod reader;
pub mod sink;
