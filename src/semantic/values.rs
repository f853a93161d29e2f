//! Literal → value: resolves `${VAR}` / `${VAR:-default}` (from `--var`, then the environment,
//! then the default) and converts literals to the type a position expects (string, count,
//! duration, boolean), each failure a spanned problem.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::diagnostics::{Problem, codes};
pub use crate::plan::duration::{format_duration, parse_duration};
use crate::syntax::ast::{Literal, LiteralKind, Span, Template, TemplatePart, VariableRef};

/// Why text from a profile cannot be expanded ([`Variables::expand_text`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// `${` without its `}`.
    #[error("unclosed `${{` in `{text}`")]
    Unclosed { text: String },
    /// A variable with no value and no default.
    #[error("variable `{name}` has no value")]
    Unset { name: String },
}

/// Where variable values come from, in priority order: `--var`, then the environment.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    pub cli: BTreeMap<String, String>,
    /// `None` means "do not read the process environment" (tests).
    pub environment: Option<BTreeMap<String, String>>,
}

impl Variables {
    pub fn from_cli_and_env(cli: BTreeMap<String, String>) -> Self {
        Self { cli, environment: Some(std::env::vars().collect()) }
    }

    pub fn lookup(&self, var: &VariableRef) -> Result<String, Problem> {
        if let Some(v) = self.cli.get(&var.name) {
            return Ok(v.clone());
        }
        if let Some(v) = self.environment.as_ref().and_then(|env| env.get(&var.name)) {
            return Ok(v.clone());
        }
        var.default.clone().ok_or_else(|| {
            Problem::error(codes::value::UNRESOLVED_VARIABLE, format!("variable `{}` has no value", var.name))
                .at(var.span, "not set")
                .help(format!(
                    "pass `--var {0}=VALUE`, set the environment variable {0}, or write a default: `${{{0}:-value}}`",
                    var.name
                ))
        })
    }

    /// Expands `${VAR}` parts in text that has no spans (profile files).
    pub fn expand_text(&self, text: &str) -> Result<String, ExpandError> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| ExpandError::Unclosed { text: text.to_string() })?;
            let body = &after[..end];
            let (name, default) = match body.split_once(":-") {
                Some((n, d)) => (n, Some(d.to_string())),
                None => (body, None),
            };
            let var = VariableRef { name: name.to_string(), default, span: Span::default() };
            out.push_str(&self.lookup(&var).map_err(|_| ExpandError::Unset { name: var.name.clone() })?);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

/// Resolves literals against variables. Collects nothing itself: each call returns its problem.
pub struct LiteralResolver<'a> {
    pub vars: &'a Variables,
}

impl LiteralResolver<'_> {
    /// The literal's text after variable expansion, whatever its kind.
    pub fn text(&self, lit: &Literal) -> Result<String, Problem> {
        match &lit.kind {
            LiteralKind::String(t) => self.template(t),
            LiteralKind::Number(n) | LiteralKind::Duration(n) => Ok(n.clone()),
            LiteralKind::Bool(b) => Ok(b.to_string()),
            LiteralKind::Variable(v) => self.vars.lookup(v),
        }
    }

    pub fn template(&self, t: &Template) -> Result<String, Problem> {
        let mut out = String::new();
        for part in &t.parts {
            match part {
                TemplatePart::Text(s) => out.push_str(s),
                TemplatePart::Variable(v) => out.push_str(&self.vars.lookup(v)?),
            }
        }
        Ok(out)
    }

    pub fn string(&self, lit: &Literal, what: &str) -> Result<String, Problem> {
        match &lit.kind {
            LiteralKind::String(_) | LiteralKind::Variable(_) => self.text(lit),
            _ => Err(Problem::error(codes::value::TYPE_MISMATCH, format!("{what} must be a string"))
                .at(lit.span, "not a string")
                .help("put the value in quotes")),
        }
    }

    /// A positive whole number (partition count, batch size, parallelism, rows).
    pub fn count(&self, lit: &Literal, what: &str) -> Result<u64, Problem> {
        let text = self.text(lit)?;
        let bad = || {
            Problem::error(
                codes::value::BAD_NUMBER,
                format!("{what} must be a whole number greater than 0, got `{text}`"),
            )
            .at(lit.span, "not a positive whole number")
            .help(format!("write {what} as digits, e.g. 8"))
        };
        let digits = text.trim().replace('_', "");
        match digits.parse::<u64>() {
            Ok(0) | Err(_) => Err(bad()),
            Ok(n) => Ok(n),
        }
    }

    /// A whole number that may be 0 (seed).
    pub fn unsigned(&self, lit: &Literal, what: &str) -> Result<u64, Problem> {
        let text = self.text(lit)?;
        text.trim().parse::<u64>().map_err(|_| {
            Problem::error(codes::value::BAD_NUMBER, format!("{what} must be a whole number, got `{text}`"))
                .at(lit.span, "not a whole number")
                .help(format!("write {what} as digits, e.g. 42"))
        })
    }

    pub fn boolean(&self, lit: &Literal, what: &str) -> Result<bool, Problem> {
        let text = self.text(lit)?;
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "1" => Ok(true),
            "false" | "no" | "0" => Ok(false),
            _ => {
                Err(Problem::error(codes::value::TYPE_MISMATCH, format!("{what} must be true or false, got `{text}`"))
                    .at(lit.span, "not a boolean")
                    .help("write true or false"))
            }
        }
    }

    pub fn duration(&self, lit: &Literal, what: &str) -> Result<Duration, Problem> {
        let text = self.text(lit)?;
        parse_duration(&text).map_err(|reason| {
            Problem::error(codes::value::BAD_DURATION, format!("{what} `{text}` is not a duration: {reason}"))
                .at(lit.span, "bad duration")
                .help("write a number with a unit: 500ms, 30s, 5m, 2h, or combined like 1h30m")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_prefer_cli_then_env_then_default() {
        let vars = Variables {
            cli: [("A".to_string(), "cli".to_string())].into(),
            environment: Some([("A".to_string(), "env".to_string()), ("B".to_string(), "env".to_string())].into()),
        };
        assert_eq!(vars.expand_text("${A}-${B}-${C:-dflt}").unwrap(), "cli-env-dflt");
        assert_eq!(vars.expand_text("${D}").unwrap_err(), ExpandError::Unset { name: "D".into() });
        assert_eq!(vars.expand_text("${D}").unwrap_err().to_string(), "variable `D` has no value");
        assert_eq!(vars.expand_text("x${D").unwrap_err().to_string(), "unclosed `${` in `x${D`");
    }
}
