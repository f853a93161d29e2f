//! MySQL/MariaDB: read through connectorx (see `connect::connectorx_reader`), written with the
//! `mysql` crate — the version connectorx links.

pub mod sink;
