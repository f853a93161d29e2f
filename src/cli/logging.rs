//! The log of `flow scheduler` and `flow executor`. Ballista logs through the `log` crate; each
//! record is printed to stderr as one line — RFC 3339 time (UTC), level, target, message — with
//! every password in a URL masked (`diagnostics::secret::mask_url_passwords`): task errors
//! quote connection URLs, and the log is what operators ship.
//!
//! The level comes from `FLOW_LOG` (`error`, `warn`, `info`, `debug`, `trace`, `off`; default
//! `info`) and applies to every target.

use std::io::Write as _;

use crate::diagnostics::secret::mask_url_passwords;

struct ServerLogger;

static LOGGER: ServerLogger = ServerLogger;

impl log::Log for ServerLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!(
            "{} {:<5} {}: {}\n",
            chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            record.level(),
            record.target(),
            mask_url_passwords(&record.args().to_string())
        );
        // A closed stderr must not stop the server; the line is lost.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// A `FLOW_LOG` that names no level (`flow::usage::bad_value`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("FLOW_LOG=`{value}`: expected one of off, error, warn, info, debug, trace")]
pub struct LevelError {
    pub value: String,
}

/// The level `FLOW_LOG` names (default `info`). Errors with the accepted names.
pub fn level_from_env() -> Result<log::LevelFilter, LevelError> {
    match std::env::var("FLOW_LOG") {
        Err(_) => Ok(log::LevelFilter::Info),
        Ok(value) => value.trim().parse().map_err(|_| LevelError { value }),
    }
}

/// Installs the logger (once per process; a second call changes nothing).
pub fn install(level: log::LevelFilter) {
    if log::set_logger(&LOGGER).is_ok() {
        log::set_max_level(level);
    }
}
