//! Connections: `let NAME = postgres("...")` bindings, profiles and inline calls such as
//! `csv("data/orders.csv")`, resolved to an [`Endpoint`] with its per-connection defaults.
//! Checks what can be checked offline: the URL's scheme and shape, named arguments per backend,
//! a profile that exists and names the backend the call says.

use std::collections::BTreeMap;

use super::super::values::{ExpandError, parse_duration};
use super::{Lowering, Resolved, undefined};
use crate::connect::connection_options::{self, BadOption, ConnectionOption, OptionValue};
use crate::diagnostics::{Problem, codes, one_of};
use crate::plan::{Backend, BackendKind, Endpoint, endpoint};
use crate::syntax::ast::{self, ConnectionKind, Ident};

/// How a URL names each database backend: `postgres://`, `mysql://`, `sqlite://`.
fn database_schemes() -> Vec<String> {
    Backend::ALL
        .into_iter()
        .filter(|b| b.is_database())
        .filter_map(|b| b.info().schemes.first().map(|s| format!("{s}://")))
        .collect()
}

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
        if let ConnectionKind::Backend(backend) = kind
            && backend.info().kind == BackendKind::Generated
        {
            return self.generated_connection(backend, call, &positional, named, name);
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
                        .help(format!(
                            "start the URL with {}, or set `kind:` in the profile",
                            one_of(&database_schemes())
                        )),
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
        let label = "not an argument of this connection";
        self.connection_options(backend, call, named, label, &mut options);
        let display_name = if name.is_empty() { backend.name().to_string() } else { name.to_string() };
        let url = if self.ctx.cluster { absolute_file_url(backend, url) } else { url };
        Some(Resolved {
            endpoint: Endpoint { name: display_name, backend, url, options },
            default_batch,
            default_timeout,
        })
    }

    /// A connection to rows Flow makes up (`generate(rows: 1000)`): named arguments only, and no
    /// URL (the endpoint's is the backend's name).
    fn generated_connection(
        &mut self,
        backend: Backend,
        call: &ast::ConnectionCall,
        positional: &[&ast::Literal],
        named: BTreeMap<String, &ast::Literal>,
        name: &str,
    ) -> Option<Resolved> {
        let keyword = backend.name();
        if let Some(p) = positional.first() {
            self.problems.push(
                Problem::error(codes::connection::BAD_ARGUMENT, format!("{keyword}(...) takes named arguments only"))
                    .at(p.span, "unexpected positional argument")
                    .help(format!("write {}", backend.info().example)),
            );
            return None;
        }
        let mut options = BTreeMap::new();
        self.connection_options(backend, call, named, &format!("not an argument of {keyword}"), &mut options);
        let display_name = if name.is_empty() { keyword.to_string() } else { name.to_string() };
        Some(Resolved {
            endpoint: Endpoint { name: display_name, backend, url: keyword.into(), options },
            default_batch: None,
            default_timeout: None,
        })
    }

    /// Checks `named` (each argument and its value) against the arguments `backend`'s registry
    /// entry declares (`connect::connection_options`), adding each value's text to `options`
    /// and each declared default the call does not give; every refusal is a problem, `label`
    /// under an unknown argument's name.
    fn connection_options(
        &mut self,
        backend: Backend,
        call: &ast::ConnectionCall,
        named: BTreeMap<String, &ast::Literal>,
        label: &str,
        options: &mut BTreeMap<String, String>,
    ) {
        let declared = crate::connect::registry::backend(backend).options;
        for (key, lit) in named {
            let Some(option) = declared.iter().find(|o| o.name == key) else {
                let span = call
                    .args
                    .iter()
                    .find_map(|a| a.name.as_ref().filter(|n| n.name == key))
                    .map_or(call.span, |n| n.span);
                let help = if declared.is_empty() {
                    format!("{}(...) takes no named arguments besides `profile`", backend.name())
                } else {
                    format!("{}(...) accepts: {}", backend.name(), connection_options::listed(declared))
                };
                self.problems.push(
                    Problem::error(codes::connection::UNKNOWN_ARGUMENT, format!("unknown argument `{key}`"))
                        .at(span, label)
                        .help(help),
                );
                continue;
            };
            options.extend(self.option_value(option, lit).map(|v| (key, v)));
        }
        for option in declared {
            if let Some(default) = option.default {
                options.entry(option.name.to_string()).or_insert_with(|| default.to_string());
            }
        }
    }

    /// The text of `lit` as the value of `option`, or `None` with the problem pushed.
    fn option_value(&mut self, option: &ConnectionOption, lit: &ast::Literal) -> Option<String> {
        let key = option.name;
        let refused = |bad: BadOption| {
            Problem::error(codes::connection::BAD_ARGUMENT, bad.message).at(lit.span, bad.label).help(bad.help)
        };
        match option.value {
            OptionValue::Boolean => self.ok(self.literals.boolean(lit, key)).map(|b| b.to_string()),
            OptionValue::Unsigned => self.ok(self.literals.unsigned(lit, key)).map(|n| n.to_string()),
            OptionValue::Count => self.ok(self.literals.count(lit, key)).map(|n| n.to_string()),
            OptionValue::Text(check) => {
                let text = self.ok(self.literals.string(lit, key))?;
                match check(&text) {
                    Ok(()) => Some(text),
                    Err(bad) => {
                        self.problems.push(refused(bad));
                        None
                    }
                }
            }
            OptionValue::CountOr { word, refused: why } => match self.literals.count(lit, key) {
                Ok(n) => Some(n.to_string()),
                Err(_) => match self.literals.string(lit, key) {
                    Ok(text) if text == word => Some(text),
                    _ => {
                        self.problems.push(refused(why()));
                        None
                    }
                },
            },
        }
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
                            _ => {
                                if !url_names_database(&u) {
                                    self.problems.push(no_database(backend, &u, &redacted, span));
                                }
                                Some(())
                            }
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

/// Whether a server URL names a database: its path (`HOST/DB`), or PostgreSQL's `?dbname=`.
pub(super) fn url_names_database(url: &url::Url) -> bool {
    !url.path().trim_matches('/').is_empty() || url.query_pairs().any(|(key, _)| key == "dbname")
}

/// The warning for a server URL without a database (`flow::connection::no_database`): what the
/// server does without one, PostgreSQL's default being the database named like the user
/// (PostgreSQL docs, "Connection Strings", `dbname`), MySQL's none at all.
fn no_database(backend: Backend, url: &url::Url, redacted: &str, span: ast::Span) -> Problem {
    let schemes = backend.info().schemes;
    let default = match backend {
        Backend::Postgres => {
            let user = if url.username().is_empty() { "the user's" } else { url.username() };
            format!("PostgreSQL connects to the database named like the user (`{user}`)")
        }
        _ => "an unqualified table has no database and fails when the run reaches it (\"No database selected\")"
            .to_string(),
    };
    Problem::warning(codes::connection::NO_DATABASE, format!("`{redacted}` names no database: {default}"))
        .at(span, "no database in the URL")
        .help(format!("name it at the end of the URL: {}://USER@HOST[:PORT]/DATABASE", schemes[0]))
}
