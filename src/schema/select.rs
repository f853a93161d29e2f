//! Which tables of a database to carry over: glob patterns over `schema.table` or `table`.
//!
//! `*` matches any run of characters (also none), `?` exactly one; everything else matches
//! itself, case-sensitively, as quoted identifiers do. A pattern with a dot (`sales.*`,
//! `*.orders`) matches the schema and the table name separately; a pattern without one matches
//! the table name in every schema. For MySQL the "schema" is the URL's database; SQLite tables
//! have none, so a dotted pattern never matches them.

use serde::{Deserialize, Serialize};

/// Tables to take: those matching any `include` pattern (every table when `include` is empty)
/// and no `exclude` pattern.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableFilter {
    pub include: Vec<String>,
    pub exclude: Vec<String>,
}

impl TableFilter {
    /// Every table.
    pub fn all() -> Self {
        Self::default()
    }

    /// Whether the set takes `schema.table`. Flow's own tables (the `_flow_ledger`, and the
    /// `_flow_stage_*` / `_flow_old_*` work tables of runs) are never taken, whatever the
    /// patterns say: copying a ledger would overwrite the target's own history.
    pub fn allows(&self, schema: Option<&str>, table: &str) -> bool {
        if table.starts_with(FLOW_TABLE_PREFIX) {
            return false;
        }
        let included = self.include.is_empty() || self.include.iter().any(|p| matches(p, schema, table));
        included && !self.exclude.iter().any(|p| matches(p, schema, table))
    }
}

/// The prefix of every table Flow creates for itself beside a target (`crate::ledger`,
/// `plan::TableName::sibling`).
pub const FLOW_TABLE_PREFIX: &str = "_flow_";

/// Whether `pattern` names the table `table` of `schema`. The pattern is split at its first dot.
pub fn matches(pattern: &str, schema: Option<&str>, table: &str) -> bool {
    match pattern.split_once('.') {
        Some((schema_pattern, table_pattern)) => {
            schema.is_some_and(|s| glob(schema_pattern, s)) && glob(table_pattern, table)
        }
        None => glob(pattern, table),
    }
}

/// `*` and `?` glob over characters, iterative with one backtrack point (linear in practice,
/// no recursion on hostile patterns).
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    // Position after the last `*` seen, and where in the text it started matching.
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi + 1, ti));
                pi += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some((after_star, matched_from)) => {
                    pi = after_star;
                    ti = matched_from + 1;
                    star = Some((after_star, matched_from + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*", ""));
        assert!(glob("*", "orders"));
        assert!(glob("ord*", "orders"));
        assert!(glob("*ers", "orders"));
        assert!(glob("o*r*s", "orders"));
        assert!(glob("order?", "orders"));
        assert!(!glob("order?", "order"));
        assert!(!glob("orders", "Orders"));
        assert!(!glob("ord*x", "orders"));
        assert!(glob("a*b*c", "aXbYbZc"));
        assert!(!glob("a*b*c", "aXbYbZ"));
        assert!(glob("??", "äb"));
    }

    #[test]
    fn dotted_patterns_match_schema_and_table() {
        assert!(matches("public.orders", Some("public"), "orders"));
        assert!(matches("sales.*", Some("sales"), "orders"));
        assert!(!matches("sales.*", Some("public"), "orders"));
        assert!(matches("*.orders", Some("any"), "orders"));
        assert!(!matches("public.orders", None, "orders"));
        assert!(matches("orders", Some("sales"), "orders"));
        assert!(matches("orders", None, "orders"));
        assert!(!matches("orders", None, "orders_old"));
    }

    #[test]
    fn include_then_exclude() {
        let f = TableFilter { include: vec!["order*".into(), "customers".into()], exclude: vec!["*_old".into()] };
        assert!(f.allows(Some("public"), "orders"));
        assert!(f.allows(None, "customers"));
        assert!(!f.allows(None, "orders_old"));
        assert!(!f.allows(None, "products"));
        let all_but = TableFilter { include: vec![], exclude: vec!["tmp_*".into()] };
        assert!(all_but.allows(Some("x"), "products"));
        assert!(!all_but.allows(Some("x"), "tmp_1"));
        assert!(TableFilter::all().allows(None, "anything"));
    }

    #[test]
    fn flow_own_tables_are_never_taken() {
        for table in ["_flow_ledger", "_flow_stage_orders_1a2b3c4d_20261129", "_flow_old_orders_1a2b3c4d_2026"] {
            assert!(!TableFilter::all().allows(Some("public"), table), "{table}");
            let explicit = TableFilter { include: vec![table.into(), "_flow_*".into()], exclude: vec![] };
            assert!(!explicit.allows(None, table), "{table}");
        }
        assert!(TableFilter::all().allows(None, "flow_ledger_copy"));
    }
}
