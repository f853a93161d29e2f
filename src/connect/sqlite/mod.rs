//! SQLite: read value by value by the column's declared type (`reader`) and written (`sink`) with
//! rusqlite, whose bundled libsqlite3 is the one SQLite in the build. A whole file's schema is
//! read by `catalog`; `ddl` is SQLite's dialect as the target of a schema copy. The sinks writing
//! one file share its connection (`shared`). The hot loops (reading a step's values, binding a
//! multi-row insert) go through `raw`, a small safe wrapper of SQLite's C interface.

pub mod catalog;
pub mod ddl;
pub mod params;
// The one module with `unsafe` code (the crate denies it elsewhere): see its docs.
#[allow(unsafe_code)]
pub(crate) mod raw;
pub mod reader;
pub mod rename;
pub mod shared;
pub mod sink;
pub mod source;
