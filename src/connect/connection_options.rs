//! The named arguments of a backend's connection call (`csv("x.csv", header: false)`,
//! `mysql("...", tinyint1: "integer")`, `generate(rows: 1000)`): each backend declares its own, in
//! its folder, with what a value must be; `connect::registry` lists them per backend, and
//! `semantic` checks every call against them while the file is checked, so a bad value is a
//! problem of the file (`flow::connection::bad_argument`), never a failure of the run.

/// One named argument a backend's connection call takes.
#[derive(Debug)]
pub struct ConnectionOption {
    pub name: &'static str,
    /// Said after the name where the arguments are listed (`rate (rows per second)`).
    pub meaning: Option<&'static str>,
    pub value: OptionValue,
    /// The value an endpoint holds when the call does not give one; `None`: none is stored (the
    /// backend has its own default).
    pub default: Option<&'static str>,
}

/// What an argument's value must be. Numbers and booleans are stored as their text (`1000`,
/// `true`), text as written.
#[derive(Debug)]
pub enum OptionValue {
    /// `true` or `false`.
    Boolean,
    /// A whole number, 0 or more.
    Unsigned,
    /// A whole number, 1 or more.
    Count,
    /// A string the backend checks.
    Text(fn(&str) -> Result<(), BadOption>),
    /// A whole number of 1 or more, or the string `word`; `refused` says why anything else is not.
    CountOr { word: &'static str, refused: fn() -> BadOption },
}

/// Why a backend refuses an argument's value: the problem's message, the label under the value,
/// and what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BadOption {
    pub message: String,
    pub label: &'static str,
    pub help: &'static str,
}

/// A string argument any text is right for (`null: "NA"`).
pub fn any_text(_: &str) -> Result<(), BadOption> {
    Ok(())
}

/// The arguments of a call as its help lists them: `rows, seed, rate (rows per second)`.
pub fn listed(options: &[ConnectionOption]) -> String {
    let shown: Vec<String> = options
        .iter()
        .map(|o| match o.meaning {
            Some(meaning) => format!("{} ({meaning})", o.name),
            None => o.name.to_string(),
        })
        .collect();
    shown.join(", ")
}
