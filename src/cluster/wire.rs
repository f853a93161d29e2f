//! A partition's [`Failure`] on its way from an executor to the client.
//!
//! Ballista carries a failed task's error as text only (`FailedJob.error`, built with the
//! error's `Debug` and prefixed by the scheduler and executor), so the code, stage, partition,
//! row and column that Flow's writer knew would be lost. The executor therefore appends the
//! failure as a tag, `[flow-failure:HEX]`, after its readable message: hex-encoded JSON,
//! which survives `Debug` escaping and any prefix. The client finds the last tag in the job's
//! error and gets the failure back exactly; text without a tag (a lost executor, Ballista's own
//! errors) stays Ballista's reason.

use serde::{Deserialize, Serialize};

use crate::diagnostics::{Failure, Remedy, codes};

const OPEN: &str = "[flow-failure:";

/// The failure's fields as they travel (codes as text: the client maps them back to the
/// registry's constants).
#[derive(Serialize, Deserialize)]
struct Wire {
    code: String,
    message: String,
    stage: Option<String>,
    partition: Option<usize>,
    row: Option<u64>,
    column: Option<String>,
    remedy: Option<String>,
}

/// `failure`'s message followed by its tag (see the module docs).
pub fn encode(failure: &Failure) -> String {
    let wire = Wire {
        code: failure.code.to_string(),
        message: failure.message.clone(),
        stage: failure.stage.clone(),
        partition: failure.partition,
        row: failure.row,
        column: failure.column.as_deref().map(str::to_string),
        remedy: failure.remedy.map(|r| {
            match r {
                Remedy::OnError => "on_error",
                Remedy::KeepLast => "keep_last",
            }
            .to_string()
        }),
    };
    let json = serde_json::to_vec(&wire).unwrap_or_default();
    let hex: String = json.iter().map(|b| format!("{b:02x}")).collect();
    format!("{} {OPEN}{hex}]", failure.message)
}

/// The failure tagged last in `text`, if any. A code the registry does not know (another
/// version of Flow on the executors) becomes `flow::run::failed`.
pub fn decode(text: &str) -> Option<Failure> {
    let start = text.rfind(OPEN)? + OPEN.len();
    let hex = &text[start..start + text[start..].find(']')?];
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| hex.get(i..i + 2).and_then(|pair| u8::from_str_radix(pair, 16).ok()))
        .collect::<Option<_>>()?;
    let wire: Wire = serde_json::from_slice(&bytes).ok()?;
    let code = codes::ALL.iter().map(|(code, _)| *code).find(|c| *c == wire.code).unwrap_or(codes::run::FAILED);
    let mut failure = Failure::new(code, wire.message);
    failure.stage = wire.stage;
    failure.partition = wire.partition;
    failure.row = wire.row;
    failure.column = wire.column.map(String::into_boxed_str);
    failure.remedy = match wire.remedy.as_deref() {
        Some("on_error") => Some(Remedy::OnError),
        Some("keep_last") => Some(Remedy::KeepLast),
        _ => None,
    };
    Some(failure)
}

/// Ballista's text of a failed job without the tags and the wrappers around the reason:
/// `Job failed due to stage 2 failed: Task failed due to runtime execution error: X` → `X`.
pub fn ballista_reason(text: &str) -> String {
    let mut reason = text;
    for wrapper in ["Job failed due to stage", "Task failed due to runtime execution error:", "Execution error:"] {
        if let Some(at) = reason.rfind(wrapper) {
            reason = &reason[at + wrapper.len()..];
            if wrapper == "Job failed due to stage" {
                // `N failed: ` follows the stage number.
                reason = reason.split_once("failed:").map_or(reason, |(_, rest)| rest);
            }
        }
    }
    let reason = match reason.find(OPEN) {
        Some(at) => &reason[..at],
        None => reason,
    };
    reason.trim().trim_matches('"').trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_survives_debug_escaping_and_prefixes() {
        let failure = Failure::new(codes::sink::VALUE_REFUSED, "sink `out` partition 3: cannot write row 7 \"x\"")
            .at("out", 3)
            .row(7)
            .column("total")
            .remedy(Remedy::OnError);
        let text = encode(&failure);
        let wrapped = format!("Job failed due to stage 2 failed: Task failed: External({:?})", text);
        let back = decode(&wrapped).expect("the tag is found");
        assert_eq!(back.code, codes::sink::VALUE_REFUSED);
        assert_eq!(back.message, failure.message);
        assert_eq!((back.stage.as_deref(), back.partition, back.row), (Some("out"), Some(3), Some(7)));
        assert_eq!(back.column.as_deref(), Some("total"));
        assert_eq!(back.remedy, Some(Remedy::OnError));
    }

    #[test]
    fn text_without_a_tag_or_with_a_broken_one_gives_none() {
        assert!(decode("Task lost: executor exec-b is gone").is_none());
        assert!(decode("[flow-failure:7b2]").is_none());
        assert!(decode("[flow-failure:zz]").is_none());
        assert!(decode("[flow-failure:7b7d").is_none());
    }

    #[test]
    fn an_unknown_code_becomes_run_failed() {
        let text = format!("x {OPEN}{}]", b"{\"code\":\"flow::nope\",\"message\":\"m\",\"stage\":null,\"partition\":null,\"row\":null,\"column\":null,\"remedy\":null}".iter().map(|b| format!("{b:02x}")).collect::<String>());
        assert_eq!(decode(&text).map(|f| f.code), Some(codes::run::FAILED));
    }

    #[test]
    fn ballista_wrappers_are_taken_off_the_reason() {
        assert_eq!(
            ballista_reason(
                "Job failed due to stage 2 failed: Task failed due to runtime execution error: executor lost"
            ),
            "executor lost"
        );
        assert_eq!(ballista_reason("all executors were lost"), "all executors were lost");
    }
}
