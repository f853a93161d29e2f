//! The layout of each construct of grammar/flow.pest: where `flow fmt` puts spaces and line
//! breaks, and how tokens are spelled (see the module docs of `super`).

use pest::iterators::Pair;

use super::Rule;
use super::printer::{Blank, Printer};
use super::{Quotes, is_infix, is_postfix, only_child, plain_name, requote, type_name};

impl<'a> Printer<'a> {
    // ------------------------------------------------------------ file and connections

    pub(super) fn file(&mut self, file: Pair<'a, Rule>) {
        let mut previous: Option<Rule> = None;
        for item in file.into_inner() {
            let rule = item.as_rule();
            if rule == Rule::EOI {
                continue;
            }
            if let Some(previous) = previous {
                let blank =
                    if rule == Rule::pipeline || previous == Rule::pipeline { Blank::Always } else { Blank::Keep };
                self.newline(blank);
            }
            match rule {
                Rule::let_binding => self.let_binding(item),
                _ => self.pipeline(item),
            }
            previous = Some(rule);
        }
    }

    pub(super) fn let_binding(&mut self, pair: Pair<'a, Rule>) {
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::kw_let => self.word(&child),
                Rule::ident => {
                    self.space();
                    self.token(&child, child.as_str());
                }
                _ => {
                    self.space();
                    self.punct("=");
                    self.space();
                    self.connection_call(child);
                }
            }
        }
    }

    pub(super) fn connection_call(&mut self, pair: Pair<'a, Rule>) {
        let close_at = pair.as_span().end() - 1;
        let mut inner = pair.clone().into_inner();
        let kind = inner.next().expect("grammar: connection kind");
        self.token(&kind, kind.as_str());
        self.punct("(");
        let args: Vec<Pair<'a, Rule>> = inner.collect();
        if args.is_empty() {
            self.flush_comments_before(close_at);
            self.punct(")");
            return;
        }
        let flat = self.try_flat(&pair, 1, |p| p.separated(&args, ", ", |p, arg| p.arg(arg.clone())));
        if let Some(text) = flat {
            self.settle(Some(args[0].as_span().start()));
            self.out.push_str(&text);
            self.last_end = args[args.len() - 1].as_span().end();
            self.flush_comments_before(close_at);
            self.punct(")");
            return;
        }
        let outer = self.indent;
        self.indent = outer + 2;
        for arg in args {
            self.newline(Blank::No);
            self.arg(arg);
            self.punct(",");
        }
        self.close(close_at, outer + 2, ")");
        self.indent = outer;
    }

    /// A connection's argument (`arg`): `[name: ]value`, as [`Self::tables_arg`] lays it out
    /// (an `arg` holds no list).
    pub(super) fn arg(&mut self, pair: Pair<'a, Rule>) {
        self.tables_arg(pair);
    }

    pub(super) fn separated(
        &mut self,
        items: &[Pair<'a, Rule>],
        separator: &str,
        mut each: impl FnMut(&mut Self, &Pair<'a, Rule>),
    ) {
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.punct(separator.trim_end());
                if separator.ends_with(' ') {
                    self.space();
                }
            }
            each(self, item);
        }
    }

    // ------------------------------------------------------------ pipelines

    pub(super) fn pipeline(&mut self, pair: Pair<'a, Rule>) {
        let close_at = pair.as_span().end() - 1;
        let outer = self.indent;
        let mut first_item = true;
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::kw_pipeline => self.word(&child),
                Rule::ident => {
                    self.space();
                    self.token(&child, child.as_str());
                    self.space();
                    self.punct("{");
                    self.indent = outer + 2;
                }
                _ => {
                    self.newline(if first_item { Blank::No } else { Blank::Keep });
                    first_item = false;
                    self.pipeline_item(child);
                }
            }
        }
        self.close(close_at, outer + 2, "}");
        self.indent = outer;
    }

    pub(super) fn pipeline_item(&mut self, pair: Pair<'a, Rule>) {
        match pair.as_rule() {
            Rule::setting => {
                let setting = pair.into_inner().next().expect("grammar: setting kind");
                self.words(setting);
            }
            Rule::source | Rule::sink => self.source_or_sink(pair),
            Rule::transform => self.transform(pair),
            _ => self.token(&pair, pair.as_str().trim_end()),
        }
    }

    /// `source NAME = TARGET {..}` and `sink [NAME =] STAGE -> TARGET {..}`.
    pub(super) fn source_or_sink(&mut self, pair: Pair<'a, Rule>) {
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::kw_source | Rule::kw_sink => self.word(&child),
                Rule::ident => self.name_then(&child, "="),
                Rule::stage_ref => self.name_then(&child, "->"),
                Rule::target => {
                    self.space();
                    self.target(child);
                }
                _ => self.options(child),
            }
        }
    }

    /// ` NAME =` (or ` STAGE ->`) after a keyword.
    fn name_then(&mut self, name: &Pair<'a, Rule>, punct: &str) {
        self.space();
        self.token(name, name.as_str());
        self.space();
        self.punct(punct);
    }

    pub(super) fn transform(&mut self, pair: Pair<'a, Rule>) {
        let outer = self.indent;
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::kw_transform => self.word(&child),
                Rule::ident => self.name_then(&child, "="),
                Rule::stage_ref => {
                    self.space();
                    self.token(&child, child.as_str());
                    self.indent = outer + 2;
                }
                Rule::step => {
                    self.newline(Blank::No);
                    self.punct("|");
                    self.space();
                    self.step(child);
                }
                _ => self.options(child),
            }
        }
        self.indent = outer;
    }

    // ------------------------------------------------------------ targets and options

    pub(super) fn target(&mut self, pair: Pair<'a, Rule>) {
        let target = pair.into_inner().next().expect("grammar: target kind");
        match target.as_rule() {
            Rule::connection_call => self.connection_call(target),
            _ => self.method_target(target),
        }
    }

    /// `conn.table("x")`, `conn.query("...")`, `conn.schema("x")`, `conn.tables("a.*", exclude: [...])`.
    pub(super) fn method_target(&mut self, pair: Pair<'a, Rule>) {
        let mut inner = pair.into_inner();
        let conn = inner.next().expect("grammar: target connection");
        self.token(&conn, conn.as_str());
        self.punct(".");
        let method = inner.next().expect("grammar: target method");
        self.token(&method, &method.as_str().to_ascii_lowercase());
        self.punct("(");
        let args: Vec<Pair<'a, Rule>> = inner.collect();
        self.separated(&args, ", ", |p, arg| match arg.as_rule() {
            Rule::tables_arg => p.tables_arg(arg.clone()),
            _ => p.literal(arg.clone(), Quotes::Double),
        });
        self.punct(")");
    }

    /// A `tables(...)` argument (`tables_arg`), or a connection's (`arg`): `[name: ]value`, the
    /// value a literal or a `[...]` list of them.
    pub(super) fn tables_arg(&mut self, pair: Pair<'a, Rule>) {
        for child in pair.into_inner() {
            match child.as_rule() {
                Rule::ident => {
                    self.token(&child, child.as_str());
                    self.punct(":");
                    self.space();
                }
                Rule::value_list => {
                    self.punct("[");
                    let values: Vec<Pair<'a, Rule>> = child.into_inner().collect();
                    self.separated(&values, ", ", |p, v| p.literal(v.clone(), Quotes::Double));
                    self.punct("]");
                }
                _ => self.literal(child, Quotes::Double),
            }
        }
    }

    pub(super) fn options(&mut self, pair: Pair<'a, Rule>) {
        let close_at = pair.as_span().end() - 1;
        let options: Vec<Pair<'a, Rule>> = pair.clone().into_inner().map(only_child).collect();
        self.space();
        if options.is_empty() && !self.has_comment(&pair) {
            self.punct("{}");
            self.last_end = pair.as_span().end();
            return;
        }
        let has_member = options.iter().any(|o| o.as_rule() == Rule::opt_member);
        if !has_member {
            let flat = self.try_flat(&pair, 0, |p| {
                p.punct("{ ");
                p.separated(&options, "; ", |p, o| p.option(o.clone()));
                p.punct(" }");
            });
            if let Some(text) = flat {
                self.flat(&pair, &text);
                return;
            }
        }
        let outer = self.indent;
        self.punct("{");
        self.indent = outer + 2;
        for (i, option) in options.into_iter().enumerate() {
            self.newline(if i == 0 { Blank::No } else { Blank::Keep });
            self.option(option);
        }
        self.close(close_at, outer + 2, "}");
        self.indent = outer;
    }

    pub(super) fn option(&mut self, pair: Pair<'a, Rule>) {
        match pair.as_rule() {
            Rule::opt_member => self.member(pair),
            Rule::opt_mode => {
                let mut inner = pair.into_inner();
                self.word(&inner.next().expect("grammar: mode keyword"));
                let mode = inner.next().expect("grammar: mode kind");
                self.space();
                match mode.as_rule() {
                    Rule::mode_upsert => {
                        let mut parts = mode.into_inner();
                        self.word(&parts.next().expect("grammar: upsert"));
                        self.space();
                        self.word(&parts.next().expect("grammar: on"));
                        self.space();
                        self.punct("(");
                        self.column_list(parts.next().expect("grammar: upsert keys"), ", ");
                        self.punct(")");
                        // `keep last by COLUMN`
                        if let Some(keep) = parts.next() {
                            self.space();
                            self.words(keep);
                        }
                    }
                    _ => {
                        let name = mode.as_str();
                        let known = ["append", "replace", "truncate"].iter().any(|m| m.eq_ignore_ascii_case(name));
                        let text = if known { name.to_ascii_lowercase() } else { name.to_string() };
                        self.token(&mode, &text);
                    }
                }
            }
            Rule::opt_on_error => {
                for (i, child) in pair.into_inner().enumerate() {
                    if i > 0 {
                        self.space();
                    }
                    match child.as_rule() {
                        Rule::on_error_reject => {
                            for (j, part) in child.into_inner().enumerate() {
                                if j > 0 {
                                    self.space();
                                }
                                match part.as_rule() {
                                    Rule::target_table => self.method_target(part),
                                    _ => self.word(&part),
                                }
                            }
                        }
                        Rule::on_error_fail | Rule::on_error_skip => self.words(child),
                        _ => self.word(&child),
                    }
                }
            }
            Rule::unknown_option => self.token(&pair, pair.as_str().trim_end()),
            _ => self.words(pair),
        }
    }

    /// `table orders as "orders_v2" { mode upsert on (id) }` in a table set's block.
    pub(super) fn member(&mut self, pair: Pair<'a, Rule>) {
        for (i, child) in pair.into_inner().enumerate() {
            if i > 0 && child.as_rule() != Rule::options {
                self.space();
            }
            match child.as_rule() {
                Rule::member_name => {
                    let name = only_child(child);
                    match name.as_rule() {
                        Rule::string => self.string(&name, Quotes::Double),
                        _ => self.column_name(name),
                    }
                }
                Rule::literal_value => self.literal(child, Quotes::Double),
                Rule::options => self.options(child),
                _ => self.word(&child),
            }
        }
    }

    // ------------------------------------------------------------ steps

    pub(super) fn step(&mut self, pair: Pair<'a, Rule>) {
        let step = only_child(pair);
        match step.as_rule() {
            Rule::step_filter => {
                let mut inner = step.into_inner();
                self.word(&inner.next().expect("grammar: filter"));
                self.space();
                self.expr(inner.next().expect("grammar: filter expr"));
            }
            Rule::step_sql => {
                let mut inner = step.into_inner();
                self.word(&inner.next().expect("grammar: sql"));
                self.space();
                self.literal(inner.next().expect("grammar: sql text"), Quotes::Double);
            }
            Rule::step_select | Rule::step_drop => {
                let mut inner = step.into_inner();
                self.word(&inner.next().expect("grammar: step keyword"));
                self.space();
                let list = inner.next().expect("grammar: column list");
                let names: Vec<Pair<'a, Rule>> = list.clone().into_inner().collect();
                self.aligned_list(&list, &names, |p, name| p.column_name(name.clone()));
            }
            Rule::step_derive | Rule::step_rename | Rule::step_cast => {
                let whole = step.clone();
                let mut inner = step.into_inner();
                self.word(&inner.next().expect("grammar: step keyword"));
                self.space();
                let items: Vec<Pair<'a, Rule>> = inner.collect();
                self.aligned_list(&whole, &items, |p, item| p.list_item(item.clone()));
            }
            _ => self.token(&step, step.as_str().trim_end()),
        }
    }

    /// `a = expr` (derive), `a as b` (rename), `a as type` (cast).
    pub(super) fn list_item(&mut self, pair: Pair<'a, Rule>) {
        let rule = pair.as_rule();
        for (i, child) in pair.into_inner().enumerate() {
            if i > 0 {
                self.space();
            }
            match child.as_rule() {
                Rule::column_name => self.column_name(child),
                Rule::expr => {
                    if rule == Rule::derivation {
                        self.punct("=");
                        self.space();
                    }
                    self.expr(child);
                }
                Rule::type_name => self.token(&child, &type_name(child.as_str())),
                _ => self.word(&child),
            }
        }
    }

    /// Items separated by `, ` on one line when they fit, else one per line aligned under the
    /// first.
    pub(super) fn aligned_list(
        &mut self,
        whole: &Pair<'a, Rule>,
        items: &[Pair<'a, Rule>],
        mut each: impl FnMut(&mut Self, &Pair<'a, Rule>),
    ) {
        if let Some(text) = self.try_flat(whole, 0, |p| p.separated(items, ", ", &mut each)) {
            let first = items[0].as_span().start();
            self.settle(Some(first));
            self.out.push_str(&text);
            self.last_end = items[items.len() - 1].as_span().end();
            return;
        }
        let outer = self.indent;
        self.indent = self.column();
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.punct(",");
                self.newline(Blank::No);
            }
            each(self, item);
        }
        self.indent = outer;
    }

    pub(super) fn column_list(&mut self, pair: Pair<'a, Rule>, separator: &str) {
        let names: Vec<Pair<'a, Rule>> = pair.into_inner().collect();
        self.separated(&names, separator, |p, name| p.column_name(name.clone()));
    }

    // ------------------------------------------------------------ expressions

    pub(super) fn expr(&mut self, pair: Pair<'a, Rule>) {
        let mut after_prefix = true;
        for child in pair.into_inner() {
            let rule = child.as_rule();
            match rule {
                Rule::op_neg => {
                    if !after_prefix {
                        self.space();
                    }
                    if self.out.ends_with('-') {
                        self.space(); // `- -x`, not `--x`
                    }
                    self.token(&child, "-");
                    after_prefix = true;
                    continue;
                }
                Rule::op_not => {
                    if !after_prefix {
                        self.space();
                    }
                    self.words(child);
                    self.space();
                    after_prefix = true;
                    continue;
                }
                _ if is_infix(rule) => {
                    self.space();
                    if rule == Rule::op_neq {
                        self.token(&child, "!=");
                    } else if child.clone().into_inner().next().is_some() {
                        self.words(child);
                    } else {
                        self.token(&child, child.as_str());
                    }
                    self.space();
                    after_prefix = true;
                    continue;
                }
                _ if is_postfix(rule) => {
                    self.space();
                    self.postfix(child);
                }
                _ => {
                    if !after_prefix {
                        self.space();
                    }
                    self.primary(child);
                }
            }
            after_prefix = false;
        }
    }

    pub(super) fn primary(&mut self, pair: Pair<'a, Rule>) {
        match pair.as_rule() {
            Rule::expr => {
                self.punct("(");
                self.expr(pair);
                self.punct(")");
            }
            Rule::literal_value => self.literal(pair, Quotes::Single),
            Rule::kw_null_lit => self.words(pair),
            Rule::column_ref => self.column_name(only_child(pair)),
            Rule::function_call => {
                let mut inner = pair.into_inner();
                let name = inner.next().expect("grammar: function name");
                self.token(&name, name.as_str());
                self.punct("(");
                let args: Vec<Pair<'a, Rule>> = inner.collect();
                self.separated(&args, ", ", |p, arg| match arg.as_rule() {
                    Rule::function_star => p.token(arg, "*"),
                    _ => p.expr(arg.clone()),
                });
                self.punct(")");
            }
            Rule::cast_expr => {
                let mut inner = pair.into_inner();
                self.word(&inner.next().expect("grammar: cast"));
                self.punct("(");
                self.expr(inner.next().expect("grammar: cast operand"));
                self.space();
                self.word(&inner.next().expect("grammar: as"));
                self.space();
                let ty = inner.next().expect("grammar: cast type");
                self.token(&ty, &type_name(ty.as_str()));
                self.punct(")");
            }
            Rule::case_expr => self.case(pair),
            _ => self.token(&pair, pair.as_str()),
        }
    }

    /// `case [operand] when a then b ... [else c] end`: on one line when it fits, else each
    /// `when` and the `else` on a line of its own, aligned under the first `when`.
    pub(super) fn case(&mut self, pair: Pair<'a, Rule>) {
        let parts: Vec<Pair<'a, Rule>> = pair.clone().into_inner().collect();
        let flat = self.try_flat(&pair, 0, |p| p.case_parts(&parts, false));
        match flat {
            Some(text) => self.flat(&pair, &text),
            None => self.case_parts(&parts, true),
        }
    }

    pub(super) fn case_parts(&mut self, parts: &[Pair<'a, Rule>], broken: bool) {
        let outer = self.indent;
        let mut aligned = false;
        for (i, child) in parts.iter().cloned().enumerate() {
            let clause = matches!(child.as_rule(), Rule::case_when | Rule::case_else);
            if i > 0 {
                if broken && clause && aligned {
                    self.newline(Blank::No);
                } else {
                    self.space();
                }
            }
            if broken && clause && !aligned {
                self.indent = self.column();
                aligned = true;
            }
            match child.as_rule() {
                Rule::case_operand => self.expr(only_child(child)),
                Rule::case_when | Rule::case_else => {
                    for (j, part) in child.into_inner().enumerate() {
                        if j > 0 {
                            self.space();
                        }
                        match part.as_rule() {
                            Rule::expr => self.expr(part),
                            _ => self.word(&part),
                        }
                    }
                }
                _ => self.word(&child),
            }
        }
        self.indent = outer;
    }

    /// `is null`, `is not null`, `[not] in (a, b)`, `[not] between a and b`.
    pub(super) fn postfix(&mut self, pair: Pair<'a, Rule>) {
        let rule = pair.as_rule();
        let mut in_list = false;
        let mut first_value = true;
        for (i, child) in pair.into_inner().enumerate() {
            match child.as_rule() {
                Rule::expr => {
                    if !in_list {
                        self.space();
                        self.punct("(");
                        in_list = true;
                    }
                    if !first_value {
                        self.punct(",");
                        self.space();
                    }
                    first_value = false;
                    self.expr(child);
                }
                Rule::between_bound => {
                    self.space();
                    let mut after_prefix = true;
                    for part in child.into_inner() {
                        match part.as_rule() {
                            Rule::op_neg => {
                                if self.out.ends_with('-') {
                                    self.space();
                                }
                                self.token(&part, "-");
                            }
                            Rule::op_not => {
                                self.words(part);
                                self.space();
                            }
                            _ => {
                                if !after_prefix {
                                    self.space();
                                }
                                self.primary(part);
                                after_prefix = false;
                            }
                        }
                    }
                }
                _ => {
                    if i > 0 {
                        self.space();
                    }
                    self.word(&child);
                }
            }
        }
        if in_list && matches!(rule, Rule::op_in | Rule::op_not_in) {
            self.punct(")");
        }
    }

    // ------------------------------------------------------------ tokens

    /// A keyword (or any token printed in lower case).
    pub(super) fn word(&mut self, pair: &Pair<'a, Rule>) {
        self.token(pair, &pair.as_str().to_ascii_lowercase());
    }

    /// The keywords and names of a construct, separated by single spaces: `batch 50000`,
    /// `partition by id into 8`, `create if missing`, `max rejects 100`.
    pub(super) fn words(&mut self, pair: Pair<'a, Rule>) {
        let children: Vec<Pair<'a, Rule>> = pair.clone().into_inner().collect();
        if children.is_empty() {
            self.word(&pair);
            return;
        }
        for (i, child) in children.into_iter().enumerate() {
            if i > 0 {
                self.space();
            }
            match child.as_rule() {
                Rule::literal_value => self.literal(child, Quotes::Double),
                Rule::column_name => self.column_name(child),
                Rule::ident => self.token(&child, child.as_str()),
                _ => self.words(child),
            }
        }
    }

    pub(super) fn column_name(&mut self, pair: Pair<'a, Rule>) {
        let name = if pair.as_rule() == Rule::column_name { only_child(pair) } else { pair };
        let text = name.as_str();
        match name.as_rule() {
            Rule::quoted_ident if plain_name(&text[1..text.len() - 1]) => self.token(&name, &text[1..text.len() - 1]),
            _ => self.token(&name, text),
        }
    }

    pub(super) fn literal(&mut self, pair: Pair<'a, Rule>, quotes: Quotes) {
        let value = if pair.as_rule() == Rule::literal_value { only_child(pair) } else { pair };
        match value.as_rule() {
            Rule::string => self.string(&value, quotes),
            Rule::boolean => self.word(&value),
            _ => self.token(&value, value.as_str()),
        }
    }

    pub(super) fn string(&mut self, pair: &Pair<'a, Rule>, quotes: Quotes) {
        let raw = pair.as_str();
        let text = requote(raw, quotes);
        self.token(pair, &text);
    }
}
