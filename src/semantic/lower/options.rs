//! The options of a stage block (`partition`, `incremental`, `batch`, `timeout`, `mode`,
//! `create`, `on error`, `max rejects`): each allowed only where it means something (a source,
//! a transform or a sink, and a backend that supports it), each given at most once.

use std::collections::HashMap;
use std::time::Duration;

use super::Lowering;
use crate::diagnostics::{Problem, codes, suggest};
use crate::plan::{Backend, KeepLast, WriteMode};
use crate::syntax::ast::{self, Span, StageOptionKind};

impl Lowering<'_> {
    pub(super) fn options(
        &mut self,
        options: &[ast::StageOption],
        use_: TargetUse,
        backend: Backend,
        out: &mut StageOpts,
    ) {
        let mut seen: HashMap<&'static str, Span> = HashMap::new();
        for opt in options {
            let key = match &opt.kind {
                StageOptionKind::Partition { .. } => "partition",
                StageOptionKind::Incremental { .. } => "incremental",
                StageOptionKind::Member { .. } => "table",
                StageOptionKind::Batch(_) => "batch",
                StageOptionKind::Timeout(_) => "timeout",
                StageOptionKind::Mode(_) => "mode",
                StageOptionKind::Create { .. } => "create",
                StageOptionKind::OnError(_) => "on error",
                StageOptionKind::MaxRejects(_) => "max rejects",
                StageOptionKind::Unknown(name) if use_ == TargetUse::Sink && name.name.eq_ignore_ascii_case("keep") => {
                    // `keep` that is not `keep last by COLUMN` right after an upsert's keys.
                    self.problems.push(
                        Problem::error(codes::option::UNKNOWN, "`keep` belongs to an upsert mode".to_string())
                            .at(name.span, "not an option")
                            .help("write it after the keys: `mode upsert on (id) keep last by updated_at`"),
                    );
                    continue;
                }
                StageOptionKind::Unknown(name) => {
                    let known: &[&str] = match use_ {
                        TargetUse::Source => &["partition", "incremental", "batch", "timeout"],
                        TargetUse::Transform => &["timeout"],
                        TargetUse::Sink => &["mode", "create", "batch", "timeout", "on error", "max rejects"],
                    };
                    self.problems.push(
                        Problem::error(codes::option::UNKNOWN, format!("unknown option `{}`", name.name))
                            .at(name.span, "not an option")
                            .help(
                                suggest(&name.name, known)
                                    .unwrap_or_else(|| format!("options here: {}", known.join(", "))),
                            ),
                    );
                    continue;
                }
            };
            if seen.insert(key, opt.span).is_some() {
                self.problems.push(
                    Problem::error(codes::option::DUPLICATE, format!("option `{key}` is given twice"))
                        .at(opt.span, "repeated")
                        .help("give each option once"),
                );
                continue;
            }
            let wrong_place = |key: &str, only: &str| {
                Problem::error(codes::option::MISPLACED, format!("`{key}` is an option of {only}"))
                    .at(opt.span, "not allowed here")
                    .help(format!("move it to a {only} block, or remove it"))
            };
            match &opt.kind {
                StageOptionKind::Partition { column, count } => {
                    if use_ != TargetUse::Source {
                        self.problems.push(wrong_place("partition", "sources"));
                    } else if !backend.is_database() {
                        self.problems.push(
                            Problem::error(
                                codes::source::PARTITION_UNSUPPORTED,
                                format!("a {} source cannot be partitioned by a column", backend.name()),
                            )
                            .at(opt.span, "only database sources split by column")
                            .help("files are split one partition per file; remove this option"),
                        );
                    } else if let Some(n) = self.ok(self.literals.count(count, "the partition count")) {
                        out.partition = Some((column.name.clone(), n.min(4096) as usize));
                    }
                }
                StageOptionKind::Member { .. } => {
                    self.problems.push(
                        Problem::error(codes::option::MISPLACED_TABLE_BLOCK, "a `table` block belongs to a table set")
                            .at(opt.span, "not a table set")
                            .help("use it in the block of `source NAME = CONN.tables(...)` or of its schema sink"),
                    );
                }
                StageOptionKind::Incremental { .. } if use_ != TargetUse::Source => {
                    self.problems.push(wrong_place("incremental", "sources"));
                }
                StageOptionKind::Incremental { .. } if !backend.is_database() => {
                    self.problems.push(
                        Problem::error(
                            codes::source::INCREMENTAL_UNSUPPORTED,
                            format!("a {} source cannot be read incrementally", backend.name()),
                        )
                        .at(opt.span, "only database sources keep a high-water mark")
                        .help("read the whole source (remove this option), or load it into a database first"),
                    );
                }
                StageOptionKind::Incremental { column } => out.incremental = Some(column.name.clone()),
                StageOptionKind::Batch(_) if use_ == TargetUse::Transform => {
                    self.problems.push(wrong_place("batch", "sources and sinks"));
                }
                StageOptionKind::Batch(l) => {
                    out.batch = self
                        .ok(self.literals.count(l, "the batch size"))
                        .map(|n| n.min(crate::plan::MAX_BATCH_SIZE as u64) as usize);
                }
                StageOptionKind::Timeout(l) => out.timeout = self.ok(self.literals.duration(l, "the stage timeout")),
                StageOptionKind::Mode(mode) => {
                    if use_ != TargetUse::Sink {
                        self.problems.push(wrong_place("mode", "sinks"));
                        continue;
                    }
                    let mode = match mode {
                        ast::ModeAst::Upsert { keys, keep_last_by } => {
                            let keys: Vec<String> = keys.iter().map(|k| k.name.clone()).collect();
                            let keep = match keep_last_by {
                                Some(by) if keys.contains(&by.name) => {
                                    self.problems.push(
                                        Problem::error(
                                            codes::sink::KEEP_LAST,
                                            format!(
                                                "`keep last by {0}`: `{0}` is a key, so every row of a key has the \
                                                 same value there and none of them is the last",
                                                by.name
                                            ),
                                        )
                                        .at(by.span, "a key column")
                                        .help("name the column that orders the rows of a key, e.g. `keep last by updated_at`"),
                                    );
                                    continue;
                                }
                                Some(by) => Some(KeepLast { by: by.name.clone() }),
                                None => None,
                            };
                            WriteMode::Upsert { keys, keep }
                        }
                        ast::ModeAst::Named(n) => match named_mode(&n.name) {
                            Some(mode) => mode,
                            None => {
                                self.problems.push(
                                    Problem::error(
                                        codes::sink::UNKNOWN_MODE,
                                        format!("unknown write mode `{}`", n.name),
                                    )
                                    .at(n.span, "not a mode")
                                    .help("modes: append, replace, truncate, upsert on (KEY, ...)"),
                                );
                                continue;
                            }
                        },
                        ast::ModeAst::Variable(lit) => {
                            let value = match self.literals.text(lit) {
                                Ok(value) => value,
                                Err(problem) => {
                                    self.problems.push(problem);
                                    continue;
                                }
                            };
                            match named_mode(value.trim()) {
                                Some(mode) => mode,
                                None => {
                                    self.problems.push(
                                        Problem::error(
                                            codes::sink::UNKNOWN_MODE,
                                            format!("unknown write mode `{value}` (from a variable)"),
                                        )
                                        .at(lit.span, "not append, replace or truncate")
                                        .help(
                                            "a variable names append, replace or truncate; write `upsert on (KEY, ...)` \
                                             in the file itself",
                                        ),
                                    );
                                    continue;
                                }
                            }
                        }
                    };
                    if backend.is_file() && mode != WriteMode::Replace {
                        self.problems.push(
                            Problem::error(
                                codes::sink::MODE_UNSUPPORTED,
                                format!("a {} file can only be written whole (mode replace)", backend.name()),
                            )
                            .at(opt.span, format!("{mode} is not possible for files"))
                            .help("use `mode replace` (the default for files)"),
                        );
                        continue;
                    }
                    out.mode = Some(mode);
                }
                StageOptionKind::Create { if_missing } => {
                    if use_ != TargetUse::Sink {
                        self.problems.push(wrong_place("create", "sinks"));
                    } else {
                        out.create_if_missing = Some(*if_missing);
                    }
                }
                StageOptionKind::OnError(_) | StageOptionKind::MaxRejects(_) if use_ != TargetUse::Sink => {
                    self.problems.push(wrong_place(key, "sinks"));
                }
                StageOptionKind::OnError(_) | StageOptionKind::MaxRejects(_) if !backend.is_database() => {
                    self.problems.push(
                        Problem::error(
                            codes::sink::ON_ERROR_UNSUPPORTED,
                            format!("a {} file takes every value, so `{key}` does not apply", backend.name()),
                        )
                        .at(opt.span, "only database sinks refuse rows")
                        .help("remove this option"),
                    );
                }
                StageOptionKind::OnError(action) => out.on_error = Some(action.clone()),
                StageOptionKind::MaxRejects(l) => {
                    out.max_rejects = self.ok(self.literals.unsigned(l, "max rejects")).map(|n| (n, opt.span));
                }
                StageOptionKind::Unknown(_) => {}
            }
        }
    }
}

/// Where a target or an option appears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TargetUse {
    Source,
    Transform,
    Sink,
}

/// The options of one stage block, as lowered.
#[derive(Default)]
pub(super) struct StageOpts {
    pub(super) partition: Option<(String, usize)>,
    pub(super) incremental: Option<String>,
    pub(super) batch: Option<usize>,
    pub(super) timeout: Option<Duration>,
    pub(super) mode: Option<WriteMode>,
    pub(super) create_if_missing: Option<bool>,
    pub(super) on_error: Option<ast::OnErrorAst>,
    pub(super) max_rejects: Option<(u64, Span)>,
}

/// The write mode a name gives (any case): `append`, `replace`, `truncate`; `None` for any other.
fn named_mode(name: &str) -> Option<WriteMode> {
    match name.to_ascii_lowercase().as_str() {
        "append" => Some(WriteMode::Append),
        "replace" => Some(WriteMode::Replace),
        "truncate" => Some(WriteMode::Truncate),
        _ => None,
    }
}
