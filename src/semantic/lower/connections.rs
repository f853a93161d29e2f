//! Connections: `let NAME = postgres("...")` bindings, profiles and inline calls such as
//! `csv("data/orders.csv")`, resolved to an [`Endpoint`] with its per-connection defaults.
//! Checks what can be checked offline: the URL's scheme and shape, named arguments per backend,
//! a profile that exists and names the backend the call says.

use std::collections::BTreeMap;

use super::super::values::{ExpandError, parse_duration};
use super::{Lowering, Resolved, undefined};
use crate::diagnostics::{Problem, codes};
use crate::plan::{Backend, BackendKind, Endpoint, endpoint};
use crate::syntax::ast::{self, ConnectionKind, Ident};

impl Lowering<'_> {
    pub(super) fn connection(&mut self, call: &ast::ConnectionCall, name: &str) -> Option<Resolved> {
        let mut positional = Vec::new();
        let mut named: BTreeMap<String, &ast::Literal> = BTreeMap::new();
        for arg in &call.args {
            match &arg.name {
                Some(n) => {
                    if named.insert(n.name.clone(), &arg.value).is_some() {
                        self.problems.push(
                            Problem::error(
                                codes::connection::DUPLICATE_ARGUMENT,
                                format!("argument `{}` is given twice", n.name),
                            )
                            .at(n.span, "repeated here")
                            .help("give each argument once"),
                        );
                    }
                }
                None => positional.push(&arg.value),
            }
        }
        if positional.len() > 1 {
            self.problems.push(
                Problem::error(
                    codes::connection::BAD_ARGUMENT,
                    format!("{}(...) takes one positional argument", call.kind.keyword()),
                )
                .at(positional[1].span, "unexpected argument")
                .help("name the extra arguments, e.g. header: true"),
            );
            return None;
        }
        let kind = call.kind;
        if kind == ConnectionKind::Backend(Backend::Generate) {
            return self.generate_connection(call, &positional, &named, name);
        }
        // A profile: `profile("name")` or `postgres(profile: "name")`.
        let profile_name = match (kind, named.remove("profile")) {
            (ConnectionKind::Profile, _) => {
                Some(self.required_string(call, positional.first().copied(), "a profile name")?)
            }
            (_, Some(lit)) => Some(self.ok(self.literals.string(lit, "profile"))?),
            _ => None,
        };
        let mut options = BTreeMap::new();
        let (url, expected_backend, default_batch, default_timeout) = match profile_name {
            Some(pname) => {
                let Some(profile) = self.ctx.profiles.connections.get(&pname).cloned() else {
                    let known: Vec<&str> = self.ctx.profiles.names().collect();
                    let help = if known.is_empty() {
                        format!(
                            "no profiles were loaded ({}); pass --profiles FILE or add flow.yaml beside the pipeline",
                            self.ctx.profiles.source_name()
                        )
                    } else {
                        format!("profiles in {}: {}", self.ctx.profiles.source_name(), known.join(", "))
                    };
                    self.problems.push(
                        Problem::error(
                            codes::connection::UNKNOWN_PROFILE,
                            format!("no connection profile named `{pname}`"),
                        )
                        .at(call.span, "unknown profile")
                        .help(help),
                    );
                    return None;
                };
                let url = match self.ctx.vars.expand_text(&profile.url) {
                    Ok(u) => u,
                    Err(e @ ExpandError::Unset { .. }) => {
                        self.problems.push(
                            Problem::error(codes::value::UNRESOLVED_VARIABLE, format!("profile `{pname}`: {e}"))
                                .at(call.span, "its URL needs a variable")
                                .help("set the variable with --var NAME=VALUE or in the environment"),
                        );
                        return None;
                    }
                    Err(e @ ExpandError::Unclosed { .. }) => {
                        self.problems.push(
                            Problem::error(codes::connection::BAD_URL, format!("profile `{pname}`: {e}"))
                                .at(call.span, "its URL is not complete")
                                .help("write a variable as ${NAME} or ${NAME:-default}"),
                        );
                        return None;
                    }
                };
                let backend = profile.kind.as_deref().and_then(Backend::from_name).or_else(|| Backend::from_url(&url));
                options.extend(profile.options.clone());
                let timeout = profile.timeout.as_deref().and_then(|t| parse_duration(t).ok());
                (url, backend, profile.batch.map(|b| b as usize), timeout)
            }
            None => {
                let url = self.required_string(call, positional.first().copied(), "a URL or path")?;
                (url, None, None, None)
            }
        };
        // Every keyword but `profile` is a backend's name (grammar/flow.pest, `connection_kind`).
        let backend = match Backend::from_name(kind.keyword()) {
            Some(backend) => backend,
            None => match expected_backend {
                Some(b) => b,
                None => {
                    self.problems.push(
                        Problem::error(
                            codes::connection::UNKNOWN_BACKEND,
                            "cannot tell which database the profile's URL names",
                        )
                        .at(call.span, "unknown backend")
                        .help("start the URL with postgres://, mysql:// or sqlite://, or set `kind:` in the profile"),
                    );
                    return None;
                }
            },
        };
        if let Some(b) = expected_backend
            && b != backend
            && kind != ConnectionKind::Profile
        {
            self.problems.push(
                Problem::error(
                    codes::connection::BACKEND_MISMATCH,
                    format!("the profile names a {} connection, not {}", b.name(), backend.name()),
                )
                .at(call.kind_span, "backend differs")
                .help(format!("write `{}(profile: ...)` or `profile(...)`", b.name())),
            );
            return None;
        }
        self.check_url(backend, &url, call)?;
        for (key, lit) in named {
            let allowed = backend.info().options;
            if !allowed.contains(&key.as_str()) {
                let span = call
                    .args
                    .iter()
                    .find_map(|a| a.name.as_ref().filter(|n| n.name == key))
                    .map_or(call.span, |n| n.span);
                let help = if allowed.is_empty() {
                    format!("{}(...) takes no named arguments besides `profile`", backend.name())
                } else {
                    format!("{}(...) accepts: {}", backend.name(), allowed.join(", "))
                };
                self.problems.push(
                    Problem::error(codes::connection::UNKNOWN_ARGUMENT, format!("unknown argument `{key}`"))
                        .at(span, "not an argument of this connection")
                        .help(help),
                );
                continue;
            }
            let value = if key == "header" {
                self.ok(self.literals.boolean(lit, "header")).map(|b| b.to_string())
            } else if key == "null" {
                // CSV: the unquoted text that means NULL (see connect::file::csv_text).
                self.ok(self.literals.string(lit, &key))
            } else if key == "types" {
                self.ok(self.literals.string(lit, &key)).and_then(
                    |v| match crate::connect::file::csv_text::parse_types(&v) {
                        Ok(_) => Some(v),
                        Err(why) => {
                            self.problems.push(
                                Problem::error(codes::connection::BAD_ARGUMENT, why.to_string())
                                    .at(lit.span, "not a list of column types")
                                    .help("e.g. types: \"code text, amount decimal(12,2)\""),
                            );
                            None
                        }
                    },
                )
            } else if key == "infer" {
                match self.literals.count(lit, &key) {
                    Ok(rows) => Some(rows.to_string()),
                    Err(_) => match self.literals.string(lit, &key) {
                        Ok(all) if all == "all" => Some(all),
                        _ => {
                            self.problems.push(
                                Problem::error(
                                    codes::connection::BAD_ARGUMENT,
                                    "infer: takes \"all\" or a number of rows",
                                )
                                .at(lit.span, "not \"all\" or a row count")
                                .help("infer: \"all\" infers column types from every row"),
                            );
                            None
                        }
                    },
                }
            } else if key == crate::connect::mysql::types::TINYINT1_OPTION {
                self.ok(self.literals.string(lit, &key)).and_then(|v| {
                    match crate::connect::mysql::types::Tinyint1::parse(&v) {
                        Ok(_) => Some(v),
                        Err(why) => {
                            self.problems.push(
                                Problem::error(codes::connection::BAD_ARGUMENT, why)
                                    .at(lit.span, "not boolean or integer")
                                    .help("tinyint1: \"integer\" reads TINYINT(1) columns as integers"),
                            );
                            None
                        }
                    }
                })
            } else {
                self.ok(self.literals.string(lit, &key)).and_then(|d| {
                    if d.len() == 1 {
                        Some(d)
                    } else {
                        self.problems.push(
                            Problem::error(codes::connection::BAD_ARGUMENT, "the delimiter must be a single character")
                                .at(lit.span, "not one character")
                                .help("e.g. delimiter: \";\""),
                        );
                        None
                    }
                })
            };
            options.extend(value.map(|v| (key, v)));
        }
        let display_name = if name.is_empty() { backend.name().to_string() } else { name.to_string() };
        let url = if self.ctx.cluster { absolute_file_url(backend, url) } else { url };
        Some(Resolved {
            endpoint: Endpoint { name: display_name, backend, url, options },
            default_batch,
            default_timeout,
        })
    }

    fn generate_connection(
        &mut self,
        call: &ast::ConnectionCall,
        positional: &[&ast::Literal],
        named: &BTreeMap<String, &ast::Literal>,
        name: &str,
    ) -> Option<Resolved> {
        if let Some(p) = positional.first() {
            self.problems.push(
                Problem::error(codes::connection::BAD_ARGUMENT, "generate(...) takes named arguments only")
                    .at(p.span, "unexpected positional argument")
                    .help("write generate(rows: 1000000, seed: 42)"),
            );
            return None;
        }
        let mut options = BTreeMap::new();
        for (key, lit) in named {
            let value = match key.as_str() {
                "rows" => self.ok(self.literals.unsigned(lit, "rows")),
                "seed" => self.ok(self.literals.unsigned(lit, "seed")),
                "rate" => self.ok(self.literals.count(lit, "rate")),
                _ => {
                    let span = call
                        .args
                        .iter()
                        .find_map(|a| a.name.as_ref().filter(|n| &n.name == key))
                        .map_or(call.span, |n| n.span);
                    self.problems.push(
                        Problem::error(codes::connection::UNKNOWN_ARGUMENT, format!("unknown argument `{key}`"))
                            .at(span, "not an argument of generate")
                            .help("generate(...) accepts: rows, seed, rate (rows per second)"),
                    );
                    None
                }
            };
            options.extend(value.map(|v| (key.clone(), v.to_string())));
        }
        options.entry("rows".into()).or_insert_with(|| "100000".into());
        options.entry("seed".into()).or_insert_with(|| "42".into());
        let display_name = if name.is_empty() { "generate".to_string() } else { name.to_string() };
        Some(Resolved {
            endpoint: Endpoint { name: display_name, backend: Backend::Generate, url: "generate".into(), options },
            default_batch: None,
            default_timeout: None,
        })
    }

    fn required_string(
        &mut self,
        call: &ast::ConnectionCall,
        lit: Option<&ast::Literal>,
        what: &str,
    ) -> Option<String> {
        match lit {
            Some(l) => self.ok(self.literals.string(l, what)),
            None => {
                self.problems.push(
                    Problem::error(
                        codes::connection::MISSING_ARGUMENT,
                        format!("{}(...) needs {what}", call.kind.keyword()),
                    )
                    .at(call.span, "argument missing")
                    .help(format!("e.g. {}", example_call(call.kind))),
                );
                None
            }
        }
    }

    fn check_url(&mut self, backend: Backend, url: &str, call: &ast::ConnectionCall) -> Option<()> {
        let span = call.args.first().map_or(call.span, |a| a.value.span);
        let problem = |msg: String, help: &str| {
            Problem::error(codes::connection::BAD_URL, msg).at(span, "bad URL").help(help.to_string())
        };
        let redacted = endpoint::redact_url(url);
        let info = backend.info();
        match info.kind {
            BackendKind::Server => {
                let schemes = info.schemes;
                match url::Url::parse(url) {
                    Ok(u) if schemes.contains(&u.scheme()) && u.host_str().is_some_and(|h| !h.is_empty()) => {
                        // The driver's own reading of the options: a value it refuses would
                        // otherwise surface as an unreachable server.
                        let driver = crate::connect::registry::backend(backend).source.map(|s| s.check_url(url));
                        match driver {
                            Some(Err(why)) => {
                                self.problems.push(problem(
                                    format!("`{redacted}` is not a usable {} URL: {why}", backend.name()),
                                    "fix the URL's options (after `?`) or its port",
                                ));
                                None
                            }
                            _ => Some(()),
                        }
                    }
                    Ok(u) if !schemes.contains(&u.scheme()) => {
                        self.problems.push(problem(
                            format!("`{redacted}` is not a {} URL", backend.name()),
                            &format!("start it with {}://", schemes[0]),
                        ));
                        None
                    }
                    _ => {
                        self.problems.push(problem(
                            format!("`{redacted}` is not a valid {} URL", backend.name()),
                            &format!("write {}://USER[:PASSWORD]@HOST[:PORT]/DATABASE", schemes[0]),
                        ));
                        None
                    }
                }
            }
            BackendKind::FileDatabase | BackendKind::Files => {
                if url.trim().is_empty() {
                    self.problems.push(problem("the path is empty".into(), "name a file, e.g. out/data.db"));
                    return None;
                }
                let scheme = info.schemes.first().map(|s| format!("{s}://"));
                if let Some(scheme) = scheme.filter(|s| url.contains("://") && !url.starts_with(s.as_str())) {
                    self.problems.push(problem(
                        format!("`{redacted}` is not a {} path", backend.info().title),
                        &format!("write a file path or {scheme}PATH"),
                    ));
                    return None;
                }
                Some(())
            }
            BackendKind::Generated => Some(()),
        }
    }

    pub(super) fn endpoint_for(&mut self, conn: &Ident) -> Option<Resolved> {
        match self.connections.get(&conn.name) {
            Some(resolved) => resolved.clone(),
            None => {
                let known: Vec<&str> = self.connections.keys().map(String::as_str).collect();
                self.problems.push(undefined(
                    "connection",
                    conn,
                    &known,
                    "define it with `let NAME = postgres(\"...\")`",
                ));
                None
            }
        }
    }
}

fn example_call(kind: ConnectionKind) -> &'static str {
    match kind {
        ConnectionKind::Backend(backend) => backend.info().example,
        ConnectionKind::Profile => "profile(\"warehouse\")",
    }
}

/// A file backend's URL with its path made absolute against this process's working directory
/// (for a cluster run: each executor would read a relative path in its own directory, another
/// file or none). A scheme prefix (`sqlite://`) is kept; servers' URLs are returned as given.
fn absolute_file_url(backend: Backend, url: String) -> String {
    if !matches!(backend.info().kind, BackendKind::FileDatabase | BackendKind::Files) {
        return url;
    }
    let prefix = backend
        .info()
        .schemes
        .iter()
        .flat_map(|s| [format!("{s}://"), format!("{s}:")])
        .find(|p| url.starts_with(p.as_str()))
        .unwrap_or_default();
    let path = std::path::Path::new(&url[prefix.len()..]);
    if path.is_absolute() || path.as_os_str().is_empty() {
        return url;
    }
    match std::env::current_dir() {
        Ok(dir) => format!("{prefix}{}", dir.join(path).display()),
        Err(_) => url,
    }
}
