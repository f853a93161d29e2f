//! Connecting again after a transient fault. A database that is restarting, briefly refusing
//! connections, or out of connection slots usually answers a moment later, so every backend's
//! connect step runs through [`retry_async`] or [`retry_blocking`]: errors the backend classifies
//! as worth retrying are retried with exponential backoff (200 ms, doubling, at most 5 s between
//! attempts); anything else (a wrong password, an unknown database, a missing table) fails at
//! once. The number of retries is one process-wide setting (`flow run --connect-retries N`).

use std::future::Future;
use std::io::ErrorKind;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Retries after the first attempt unless `--connect-retries` says otherwise.
pub const DEFAULT_CONNECT_RETRIES: u32 = 3;
const FIRST_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(5);

static CONNECT_RETRIES: AtomicU32 = AtomicU32::new(DEFAULT_CONNECT_RETRIES);

/// Sets how many times a failed connection is retried (0: try once).
pub fn set_connect_retries(retries: u32) {
    CONNECT_RETRIES.store(retries, Ordering::Relaxed);
}

pub fn connect_retries() -> u32 {
    CONNECT_RETRIES.load(Ordering::Relaxed)
}

/// The pause before retry number `retry` (1-based): 200 ms, 400 ms, 800 ms, … at most 5 s.
pub fn delay_before(retry: u32) -> Duration {
    let factor = 1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX);
    FIRST_DELAY.checked_mul(factor).map_or(MAX_DELAY, |d| d.min(MAX_DELAY))
}

/// The last error and how many attempts were made in all.
#[derive(Debug)]
pub struct Failed<E> {
    pub error: E,
    pub attempts: u32,
}

impl<E> Failed<E> {
    /// `" after N attempts"` when the error was retried, for the end of "cannot connect to X".
    pub fn attempts_note(&self) -> String {
        if self.attempts > 1 { format!(" after {} attempts", self.attempts) } else { String::new() }
    }
}

/// Runs `attempt` until it succeeds, fails with an error `retryable` rejects, or the retries are
/// used up.
pub async fn retry_async<T, E, F, Fut>(mut attempt: F, retryable: impl Fn(&E) -> bool) -> Result<T, Failed<E>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let retries = connect_retries();
    let mut made = 0;
    loop {
        made += 1;
        match attempt().await {
            Ok(v) => return Ok(v),
            Err(e) if made <= retries && retryable(&e) => tokio::time::sleep(delay_before(made)).await,
            Err(error) => return Err(Failed { error, attempts: made }),
        }
    }
}

/// [`retry_async`] for blocking drivers; sleeps the calling thread between attempts.
pub fn retry_blocking<T, E>(
    mut attempt: impl FnMut() -> Result<T, E>,
    retryable: impl Fn(&E) -> bool,
) -> Result<T, Failed<E>> {
    let retries = connect_retries();
    let mut made = 0;
    loop {
        made += 1;
        match attempt() {
            Ok(v) => return Ok(v),
            Err(e) if made <= retries && retryable(&e) => std::thread::sleep(delay_before(made)),
            Err(error) => return Err(Failed { error, attempts: made }),
        }
    }
}

/// Socket errors of a server that is down, restarting or dropping connections. A timeout is not
/// among them: an unreachable host would cost a full connect timeout per attempt.
pub fn retryable_io(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::NotConnected
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
    )
}

/// The first `std::io::Error` in an error's source chain, if any.
pub fn io_kind(e: &(dyn std::error::Error + 'static)) -> Option<ErrorKind> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        current = err.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_200ms_up_to_5s() {
        let delays: Vec<u64> = (1..=8).map(|r| delay_before(r).as_millis() as u64).collect();
        assert_eq!(delays, [200, 400, 800, 1600, 3200, 5000, 5000, 5000]);
        assert_eq!(delay_before(200), MAX_DELAY);
    }

    #[test]
    fn transient_faults_are_retried_and_others_are_not() {
        for kind in [ErrorKind::ConnectionRefused, ErrorKind::ConnectionReset, ErrorKind::UnexpectedEof] {
            assert!(retryable_io(kind), "{kind:?}");
        }
        for kind in [ErrorKind::TimedOut, ErrorKind::PermissionDenied, ErrorKind::NotFound, ErrorKind::Other] {
            assert!(!retryable_io(kind), "{kind:?}");
        }
    }

    #[test]
    fn io_errors_are_found_in_the_source_chain() {
        #[derive(Debug)]
        struct Wrapper(std::io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "wrapped")
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let e = Wrapper(std::io::Error::from(ErrorKind::ConnectionRefused));
        assert_eq!(io_kind(&e), Some(ErrorKind::ConnectionRefused));
        assert_eq!(io_kind(&std::fmt::Error), None);
    }

    #[test]
    fn retries_stop_at_the_first_error_not_worth_retrying() {
        let calls = AtomicU32::new(0);
        let result: Result<(), Failed<&str>> = retry_blocking(
            || {
                let n = calls.fetch_add(1, Ordering::Relaxed);
                Err(if n == 0 { "refused" } else { "bad password" })
            },
            |e| *e == "refused",
        );
        let failed = result.unwrap_err();
        assert_eq!((failed.error, failed.attempts), ("bad password", 2));
        assert_eq!(failed.attempts_note(), " after 2 attempts");
    }
}
