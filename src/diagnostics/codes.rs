//! The registry of diagnostic codes: every code a problem can carry, grouped by concern as
//! `flow::<group>::<name>`, each with the one line that says when it is raised.
//!
//! A code is part of Flow's interface: `flow check` prints it, `--format json` carries it, and
//! scripts and the README refer to it. It therefore lives here, once, as a constant, and each
//! place that raises a problem names the constant (`Problem::error(codes::name::UNDEFINED, ...)`)
//! rather than spelling the text. The groups follow the stages a file goes through: the grammar,
//! the pipeline's items and names, values, connections and what they point at, stage options,
//! sources, sinks, table sets, the stage graph, transforms and their columns, the DataFusion
//! plan, and finally the run. The failures of a run ([`super::Failure`]) carry codes of the
//! same registry: mostly of the `source`, `sink` and `run` groups.
//!
//! [`ALL`] lists every code with its meaning, in the order declared here; the README's
//! "Diagnostic codes" table is that list, and a test below keeps the two equal.

/// Declares the groups as submodules of `pub const` codes, each documented by its meaning, and
/// [`ALL`] from the same text, so a code cannot be declared without being listed. A meaning may
/// wrap over several `///` lines: each starts with a space, so joined they read as one line.
macro_rules! registry {
    ($(
        $(#[doc = $group_doc:literal])*
        pub mod $group:ident {
            $(
                $(#[doc = $meaning:literal])+
                pub const $name:ident = $code:literal;
            )*
        }
    )*) => {
        $(
            $(#[doc = $group_doc])*
            pub mod $group {
                $(
                    $(#[doc = $meaning])+
                    pub const $name: &str = $code;
                )*
            }
        )*

        /// Every code and its meaning (one sentence), in the order they are declared here; the
        /// README's "Diagnostic codes" table lists the same pairs in the same order.
        pub const ALL: &[(&str, &str)] =
            &[$($(($group::$name, concat!($($meaning),+).trim_ascii_start()),)*)*];

        /// Every code with the submodule and constant that declare it, so the tests can hold
        /// each code to its place (`flow::<group>::<name>`).
        #[cfg(test)]
        const DECLARED: &[(&str, &str, &str)] = &[$($((stringify!($group), stringify!($name), $code),)*)*];
    };
}

registry! {
    /// Reading the text: what `grammar/flow.pest` accepts. pest stops at the first such problem.
    pub mod parse {
        /// The text does not follow the grammar, or names a connection kind Flow does not have.
        pub const SYNTAX = "flow::parse::syntax";
        /// Parentheses are nested more than 200 levels deep (refused before parsing).
        pub const TOO_DEEP = "flow::parse::too_deep";
    }

    /// The file's pipelines and the items and settings a pipeline holds.
    pub mod pipeline {
        /// The file defines no pipeline.
        pub const MISSING = "flow::pipeline::missing";
        /// A pipeline holds an item other than `source`, `transform`, `sink`, `parallelism` or
        /// `timeout`.
        pub const UNKNOWN_ITEM = "flow::pipeline::unknown_item";
        /// A pipeline sets `parallelism` or `timeout` twice.
        pub const DUPLICATE_SETTING = "flow::pipeline::duplicate_setting";
    }

    /// Names of connections, pipelines and stages: one namespace each, every use defined.
    pub mod name {
        /// Two connections, two pipelines or two stages of one pipeline have the same name.
        pub const DUPLICATE = "flow::name::duplicate";
        /// A stage's input or a connection is named, but nothing of that name is defined.
        pub const UNDEFINED = "flow::name::undefined";
    }

    /// Literal values and the `${NAME}` variables that stand for them.
    pub mod value {
        /// A `${NAME}` variable has no value (no `--var`, no environment variable, no default).
        pub const UNRESOLVED_VARIABLE = "flow::value::unresolved_variable";
        /// A value is of the wrong kind, e.g. a number where text is wanted, or `maybe` for true or
        /// false.
        pub const TYPE_MISMATCH = "flow::value::type_mismatch";
        /// A count (parallelism, partitions, batch size, rows) is not a whole number, or is 0 where
        /// it must be positive.
        pub const BAD_NUMBER = "flow::value::bad_number";
        /// A `timeout` is not a duration such as `30s` or `1h30m`.
        pub const BAD_DURATION = "flow::value::bad_duration";
    }

    /// Connections: `let NAME = KIND(...)`, inline connection calls and profiles.
    pub mod connection {
        /// A connection call gives the same named argument twice.
        pub const DUPLICATE_ARGUMENT = "flow::connection::duplicate_argument";
        /// A connection argument has a value its backend cannot use (an extra positional argument,
        /// a bad `types:`, `infer:`, `tinyint1:` or `delimiter:`).
        pub const BAD_ARGUMENT = "flow::connection::bad_argument";
        /// A connection call names an argument its backend does not take.
        pub const UNKNOWN_ARGUMENT = "flow::connection::unknown_argument";
        /// A connection call lacks its URL or path.
        pub const MISSING_ARGUMENT = "flow::connection::missing_argument";
        /// `profile("name")` names no profile of the profiles file.
        pub const UNKNOWN_PROFILE = "flow::connection::unknown_profile";
        /// A profile's URL names no backend Flow knows, and the profile sets no `kind:`.
        pub const UNKNOWN_BACKEND = "flow::connection::unknown_backend";
        /// A profile of one backend is used in another backend's call, e.g. a MySQL profile in
        /// `postgres(profile: ...)`.
        pub const BACKEND_MISMATCH = "flow::connection::backend_mismatch";
        /// A URL or path is malformed, empty, or has another backend's scheme.
        pub const BAD_URL = "flow::connection::bad_url";
        /// A warning: a server URL names no database, so the server's default is used
        /// (PostgreSQL: the database named like the user; MySQL: none, and an unqualified table
        /// fails when the run reaches it).
        pub const NO_DATABASE = "flow::connection::no_database";
        /// A server did not answer when the run connected: connection refused or reset, a timeout,
        /// a host name that does not resolve.
        pub const UNREACHABLE = "flow::connection::unreachable";
        /// A server answered and refused the connection of a run, or of `check` to a sink's target
        /// (user, password, database or grants).
        pub const REFUSED = "flow::connection::refused";
    }

    /// Targets: what a source reads or a sink writes (`CONN.table(...)`, `.query(...)`,
    /// `.tables(...)`, `.schema(...)` or a connection call), the grammar's `target`.
    pub mod target {
        /// A table name is empty, or `generate` is asked for a table other than `orders`.
        pub const BAD_TABLE = "flow::target::bad_table";
        /// A database connection is used as a target without naming a table.
        pub const MISSING_TABLE = "flow::target::missing_table";
        /// A `.query(...)` is empty.
        pub const BAD_QUERY = "flow::target::bad_query";
        /// A sink writes to a `.query(...)`.
        pub const QUERY_SINK = "flow::target::query_sink";
        /// A `.query(...)` is asked of a file connection, which runs no SQL.
        pub const QUERY_ON_FILE = "flow::target::query_on_file";
        /// A sink writes to `.tables(...)`, which only sources read.
        pub const TABLES_SINK = "flow::target::tables_sink";
        /// A source reads `.schema(...)`, which only sinks write.
        pub const SCHEMA_SOURCE = "flow::target::schema_source";
        /// A sink writes to `generate(...)`, which is read-only.
        pub const NOT_WRITABLE = "flow::target::not_writable";
        /// A SQLite table is named with a schema other than `main` or `temp`.
        pub const SQLITE_SCHEMA = "flow::target::sqlite_schema";
        /// A MySQL/MariaDB table, or a table set's `schema()` sink, names no database on a
        /// connection whose URL names none (MySQL has no default database).
        pub const NO_DATABASE = "flow::target::no_database";
    }

    /// The options of a stage block, whichever stage it is.
    pub mod option {
        /// A stage block holds an option no source (or no sink) has.
        pub const UNKNOWN = "flow::option::unknown";
        /// A stage block gives the same option twice.
        pub const DUPLICATE = "flow::option::duplicate";
        /// A source's option is given to a sink, or a sink's to a source.
        pub const MISPLACED = "flow::option::misplaced";
        /// A `table NAME { ... }` block is given outside a table set's source or schema sink.
        pub const MISPLACED_TABLE_BLOCK = "flow::option::misplaced_table_block";
    }

    /// Sources: what they may be asked, what they answered when `check` described them, and how
    /// reading them failed during a run.
    pub mod source {
        /// A warning: the source's server does not answer now; its schema and bounds are checked
        /// when it does.
        pub const UNREACHABLE = "flow::source::unreachable";
        /// The source's file does not exist (or its directory holds no file of its format): a
        /// warning from `check`, as an earlier pipeline may write it; an error when a run reads it.
        pub const MISSING = "flow::source::missing";
        /// The source's server refuses the connection (user, password, database or grants).
        pub const REFUSED = "flow::source::refused";
        /// The source answered but cannot be read as written (unknown table, bad query or partition
        /// column, a CSV header without a name or with one twice).
        pub const INVALID = "flow::source::invalid";
        /// `partition by` is given to a file source, which is split one partition per file.
        pub const PARTITION_UNSUPPORTED = "flow::source::partition_unsupported";
        /// `incremental on` is given to a file source, which keeps no high-water mark.
        pub const INCREMENTAL_UNSUPPORTED = "flow::source::incremental_unsupported";
        /// A source column has a type Flow cannot read; the message says which cast reads it.
        pub const UNSUPPORTED_TYPE = "flow::source::unsupported_type";
        /// The source no longer matches what was described before the run: its query returns
        /// another number of columns, or a column is gone.
        pub const CHANGED = "flow::source::changed";
        /// A row read from the source does not fit its columns: a value that does not convert to
        /// its column's type, text that is not UTF-8, a CSV line with another number of fields.
        pub const DECODE = "flow::source::decode";
        /// Reading the source failed: the server refused or lost the query, or the file cannot be
        /// read.
        pub const READ_FAILED = "flow::source::read_failed";
    }

    /// Sinks: write modes, bad-row handling, what the existing target table allows, and how
    /// writing failed during a run.
    pub mod sink {
        /// `mode` names no write mode (append, replace, truncate, upsert on (...)).
        pub const UNKNOWN_MODE = "flow::sink::unknown_mode";
        /// A file sink is given a mode other than `replace`; files are written whole.
        pub const MODE_UNSUPPORTED = "flow::sink::mode_unsupported";
        /// A sink fed by an incremental source uses `replace` or `truncate`, which would drop the
        /// rows of earlier runs.
        pub const INCREMENTAL_MODE = "flow::sink::incremental_mode";
        /// `on error` or `max rejects` is given to a file sink, which takes every value.
        pub const ON_ERROR_UNSUPPORTED = "flow::sink::on_error_unsupported";
        /// A warning: `max rejects` has no effect with `on error fail`.
        pub const MAX_REJECTS_UNUSED = "flow::sink::max_rejects_unused";
        /// `on error reject to` names a table on another connection than the sink's.
        pub const REJECT_ELSEWHERE = "flow::sink::reject_elsewhere";
        /// A warning: the existing target computes a column the source has, so the source's values
        /// are not written.
        pub const GENERATED_COLUMN = "flow::sink::generated_column";
        /// A warning: the sink's target server does not answer now; its schemas and tables are
        /// checked when it does.
        pub const UNREACHABLE = "flow::sink::unreachable";
        /// The sink's table is in a schema (MySQL/MariaDB: a database) that does not exist on the
        /// target server; Flow creates tables, not schemas.
        pub const MISSING_SCHEMA = "flow::sink::missing_schema";
        /// A warning: a sink's table does not exist on its target, but one whose name differs
        /// only in letter case does; the run would create a second table beside it.
        pub const CASE_TWIN = "flow::sink::case_twin";
        /// A warning (an error in `flow copy`): the sink writes a table (or a table set's
        /// schema) that a source of its pipeline reads on the same server; `append` would add
        /// the rows again, `replace` would drop the table's keys and indexes.
        pub const WRITES_ITS_SOURCE = "flow::sink::writes_its_source";
        /// The existing target cannot take the write: it is missing under `create never`, lacks a
        /// column the pipeline writes, would change text into numbers (SQLite affinity), or an upsert is keyed on a
        /// generated column or would update an identity `ALWAYS` column.
        pub const REFUSED = "flow::sink::refused";
        /// A column's type has no column type in the target; cast it first.
        pub const UNSUPPORTED_TYPE = "flow::sink::unsupported_type";
        /// The target refused a row (a value out of range or too long, a NULL, a constraint) under
        /// `on error fail`, or while publishing; row and column say which when known.
        pub const VALUE_REFUSED = "flow::sink::value_refused";
        /// More rows were refused than the sink's `max rejects` allows.
        pub const TOO_MANY_REJECTS = "flow::sink::too_many_rejects";
        /// An upsert's keys match no PRIMARY KEY or UNIQUE constraint of the target table
        /// (PostgreSQL and SQLite, whose `ON CONFLICT` needs one; an existing PostgreSQL target
        /// is checked by `check`, before anything is read).
        pub const NO_UPSERT_KEY = "flow::sink::no_upsert_key";
        /// `keep last by` cannot pick one row per key as written: its column is a key, or the rows
        /// of one key may reach the sink through several partitions.
        pub const KEEP_LAST = "flow::sink::keep_last";
        /// An upsert's rows hold a key more than once and the sink has no `keep last by`; a
        /// sample of the keys is named and nothing was published.
        pub const DUPLICATE_KEYS = "flow::sink::duplicate_keys";
        /// Rows of one key tie on the largest `keep last by` value and differ in another column;
        /// nothing was published.
        pub const KEEP_LAST_TIE = "flow::sink::keep_last_tie";
        /// The target failed a write that no single row caused: a lost connection, a full disk, a
        /// lock, a statement refused.
        pub const WRITE_FAILED = "flow::sink::write_failed";
    }

    /// Table sets: `CONN.tables(...)` sources, `CONN.schema(...)` sinks and their `table` blocks.
    pub mod table_set {
        /// `.tables(...)` is asked of a connection that is not PostgreSQL, MySQL/MariaDB or SQLite.
        pub const TABLES_UNSUPPORTED = "flow::table_set::tables_unsupported";
        /// `.tables(...)` is given a named argument other than `include:` or `exclude:`.
        pub const UNKNOWN_ARGUMENT = "flow::table_set::unknown_argument";
        /// `.schema(...)` is written to a connection that is not PostgreSQL, MySQL/MariaDB or
        /// SQLite.
        pub const SCHEMA_UNSUPPORTED = "flow::table_set::schema_unsupported";
        /// A `.schema(...)` sink's input is not a table set.
        pub const SCHEMA_SINK_INPUT = "flow::table_set::schema_sink_input";
        /// `partition by` is given to a whole table set instead of one table's block.
        pub const SHARED_PARTITION = "flow::table_set::shared_partition";
        /// `mode upsert on (...)` is given to a whole table set instead of one table's block.
        pub const SHARED_UPSERT_KEYS = "flow::table_set::shared_upsert_keys";
        /// A schema sink sends the bad rows of all its tables to one reject table.
        pub const SHARED_REJECT_TABLE = "flow::table_set::shared_reject_table";
        /// A table set source renames a table; tables are renamed where they are written.
        pub const RENAME_IN_SOURCE = "flow::table_set::rename_in_source";
        /// Two `table NAME` blocks of one set name the same table.
        pub const DUPLICATE_TABLE = "flow::table_set::duplicate_table";
        /// A table's block in a schema sink sets something other than mode, batch or timeout.
        pub const MEMBER_OPTION = "flow::table_set::member_option";
        /// The source's tables do not fit the set: they cannot be listed, a `table` block names a
        /// table the set lacks, or two schemas hold a table of one name.
        pub const EXPANSION = "flow::table_set::expansion";
        /// A warning: expanding the set found something not copied (no table matches, an
        /// inheritance child left out, keys or indexes not carried over).
        pub const EXPANSION_WARNING = "flow::table_set::expansion_warning";
    }

    /// The stage graph: which stage reads which, and where rows end up.
    pub mod graph {
        /// A pipeline has no sink.
        pub const NO_SINK = "flow::graph::no_sink";
        /// Transforms read from each other in a cycle.
        pub const CYCLE = "flow::graph::cycle";
        /// A warning: a source or transform has no consumers.
        pub const UNUSED_STAGE = "flow::graph::unused_stage";
        /// A transform or table sink reads a whole table set instead of one of its tables
        /// (`SET.TABLE`).
        pub const TABLE_SET_INPUT = "flow::graph::table_set_input";
        /// A stage reads from a sink, which has no output.
        pub const SINK_AS_INPUT = "flow::graph::sink_as_input";
    }

    /// Transform steps and the expressions in them.
    pub mod transform {
        /// A transform step is not one of filter, derive, select, drop, rename, cast or sql.
        pub const UNKNOWN_STEP = "flow::transform::unknown_step";
        /// A cast names a type Flow does not know, or a decimal's precision or scale is out of
        /// range.
        pub const UNKNOWN_TYPE = "flow::transform::unknown_type";
        /// An expression holds a duration, which only `timeout` takes.
        pub const BAD_LITERAL = "flow::transform::bad_literal";
    }

    /// Columns, checked against the schemas of the sources that answered.
    pub mod column {
        /// A partition, incremental, transform or upsert key column is not among its input's columns.
        pub const UNKNOWN = "flow::column::unknown";
        /// A transform compares or computes with a PostgreSQL `numeric` without precision, carried
        /// as exact text.
        pub const EXACT_TEXT = "flow::column::exact_text";
    }

    /// The DataFusion plan built from a checked pipeline.
    pub mod plan {
        /// DataFusion cannot plan a stage, e.g. an unknown function, mismatched types or bad SQL in
        /// a transform.
        pub const FAILED = "flow::plan::failed";
    }

    /// The run itself: limits, interruptions, the ledgers it resumes from, and what no stage's
    /// code says.
    pub mod run {
        /// A stage's partition or the whole pipeline ran past its `timeout`; nothing was published.
        pub const TIMEOUT = "flow::run::timeout";
        /// The run was stopped with Ctrl-C or SIGTERM; nothing was published.
        pub const INTERRUPTED = "flow::run::interrupted";
        /// A sink's ledger cannot be read, or its runs do not allow this one (`--resume` of a
        /// changed pipeline, the sinks of an incremental source at different marks).
        pub const LEDGER = "flow::run::ledger";
        /// A task of the run panicked or ended unexpectedly: a bug in Flow; the message says where.
        pub const INTERNAL = "flow::run::internal";
        /// A stage failed with an error Flow does not classify (DataFusion's or Arrow's, e.g. a
        /// cast in a transform); the message says why.
        pub const FAILED = "flow::run::failed";
    }

    /// The command line and the environment a command reads, before any file is checked:
    /// `--var`, `--engine`, the profiles file, `FLOW_LOG`, and the options of `flow copy`.
    pub mod usage {
        /// An option's value is not one the command takes: a `--var` without `NAME=`, an unknown
        /// `--mode`, an `--engine` that is not `ballista://HOST:PORT`, a `FLOW_LOG` that names no
        /// level.
        pub const BAD_VALUE = "flow::usage::bad_value";
        /// A command lacks an option it needs: `flow copy` without `--table` or `--query`, or an
        /// upsert without `--keys`.
        pub const MISSING = "flow::usage::missing";
        /// An option does not go with the others, or with the source or target: `--query` or
        /// `--partition-by` of a file, `--keep-last-by` without an upsert, `--all-tables` between
        /// files.
        pub const CONFLICT = "flow::usage::conflict";
        /// `flow copy` cannot tell which backend a URL or path names.
        pub const UNKNOWN_BACKEND = "flow::usage::unknown_backend";
        /// The profiles file cannot be read, or is not a valid file of connection profiles.
        pub const PROFILES = "flow::usage::profiles";
        /// `--engine` is given to a Flow built without the `cluster` feature.
        pub const NO_CLUSTER = "flow::usage::no_cluster";
    }

    /// Running on a Ballista cluster (`--engine ballista://HOST:PORT`).
    pub mod cluster {
        /// The scheduler `--engine` names does not answer, is not a Ballista scheduler, or stopped
        /// answering during the run; nothing was started, or what was committed stays for `--resume`.
        pub const UNREACHABLE = "flow::cluster::unreachable";
        /// The scheduler answers but no executor is registered with it: no task could run.
        pub const NO_EXECUTORS = "flow::cluster::no_executors";
        /// The pipeline reads one stage from several consumers (a fan-out), which runs in one
        /// process and cannot be split over executors; refused before anything runs.
        pub const FAN_OUT = "flow::cluster::fan_out";
        /// An upsert's keys may span partitions, which on a cluster are written by different
        /// executors that cannot see each other's keys; refused before anything runs.
        pub const UPSERT_SPLIT = "flow::cluster::upsert_split";
        /// A cluster job failed for a reason of the cluster's own (a task lost with its executor,
        /// no executor left); the message gives Ballista's reason.
        pub const JOB_FAILED = "flow::cluster::job_failed";
        /// `flow scheduler` or `flow executor` cannot listen on its address (or the executor on its
        /// gRPC port): another process holds it.
        pub const PORT_IN_USE = "flow::cluster::port_in_use";
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::{ALL, DECLARED};

    /// The README section that lists the codes, and the heading that ends it.
    const README_SECTION: &str = "## Diagnostic codes";

    #[test]
    fn every_code_is_flow_group_name_of_its_declaration() {
        for (group, name, code) in DECLARED {
            let expected = format!("flow::{group}::{}", name.to_ascii_lowercase());
            assert_eq!(*code, expected, "`{group}::{name}` must be `{expected}`");
        }
    }

    #[test]
    fn no_two_constants_share_a_code() {
        let mut seen = HashSet::new();
        for (code, _) in ALL {
            assert!(seen.insert(code), "`{code}` is declared twice");
        }
    }

    #[test]
    fn every_code_has_a_one_line_meaning() {
        for (code, meaning) in ALL {
            assert!(!meaning.is_empty(), "`{code}` has no meaning");
            assert!(!meaning.contains(['\n', '|']), "`{code}`: the meaning must fit one README table cell");
        }
    }

    /// The README's table is `| code | raised when |` rows: they must be [`ALL`], in its order.
    #[test]
    fn readme_table_lists_all() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
        let readme = std::fs::read_to_string(path).expect("README.md is readable");
        let section = readme.split_once(&format!("\n{README_SECTION}\n")).map(|(_, rest)| rest);
        let section = section.unwrap_or_else(|| panic!("README.md has no `{README_SECTION}` section"));
        let section = section.split("\n## ").next().unwrap_or_default();
        let rows: Vec<(String, String)> = section
            .lines()
            .filter_map(|line| line.strip_prefix("| `flow::"))
            .map(|row| {
                let (code, meaning) = row.split_once("` | ").unwrap_or_else(|| panic!("malformed row `{row}`"));
                let meaning = meaning.strip_suffix(" |").unwrap_or_else(|| panic!("malformed row `{row}`"));
                (format!("flow::{code}"), meaning.to_string())
            })
            .collect();
        let all: Vec<(String, String)> = ALL.iter().map(|(c, m)| (c.to_string(), m.to_string())).collect();
        if rows != all {
            let expected: String = ALL.iter().map(|(c, m)| format!("| `{c}` | {m} |\n")).collect();
            panic!("README.md's `{README_SECTION}` table differs from codes::ALL; it should read:\n{expected}");
        }
    }
}
