//! SQLite: read through connectorx (see `connect::connectorx_reader`), written with rusqlite — the
//! same libsqlite3 that connectorx links, so the build carries one SQLite.

pub mod sink;
