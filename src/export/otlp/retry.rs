//! The OTLP retry rules of the direct log client
//! ([`WireClient::with_retries`]): throttled and unavailable collectors are
//! retried as the OTLP specification says (HTTP 429, 502, 503, 504 and
//! failed connections; gRPC `UNAVAILABLE`, `CANCELLED`, `DEADLINE_EXCEEDED`,
//! `ABORTED`, `OUT_OF_RANGE`, `DATA_LOSS`, and `RESOURCE_EXHAUSTED` when it
//! carries a `RetryInfo`), with exponential backoff from 100 ms to 1.6 s plus
//! up to 100 ms of jitter, waiting at least what `Retry-After` (seconds or
//! HTTP date) or `google.rpc.RetryInfo` asks for (capped at 30 s), at most
//! `max_retries` times and within the timeout.

use std::future::Future;
use std::time::{Duration, Instant, SystemTime};

use super::client::{ExportFailure, WireClient};

/// Delay before the first retry.
const INITIAL_BACKOFF: Duration = Duration::from_millis(100);
/// Longest delay between retries (unless the collector asks for more).
const MAX_BACKOFF: Duration = Duration::from_millis(1600);
/// Most jitter added to a delay.
const MAX_JITTER: Duration = Duration::from_millis(100);
/// Longest delay a collector's `Retry-After` / `RetryInfo` can impose.
const MAX_THROTTLE: Duration = Duration::from_secs(30);

/// How one failed attempt may be retried.
#[derive(Debug)]
pub(super) enum Attempt {
    /// Retry with backoff.
    Retryable(String),
    /// Retry after at least this long.
    Throttled(Duration, String),
    /// Do not retry.
    Fatal(String),
}

impl WireClient {
    /// Runs `attempt` until it succeeds, fails for good, the retries are
    /// spent or the timeout has passed.
    pub(super) async fn with_retries<T, F, Fut>(&self, mut attempt: F) -> Result<T, ExportFailure>
    where
        F: FnMut(Duration) -> Fut,
        Fut: Future<Output = Result<T, Attempt>>,
    {
        let start = Instant::now();
        let mut attempts = 0;
        let mut delay = INITIAL_BACKOFF;
        let mut cap = MAX_BACKOFF;
        loop {
            let remaining = self.timeout.saturating_sub(start.elapsed());
            let fail = |attempts, message| Err(ExportFailure { attempts, message });
            if remaining.is_zero() {
                return fail(attempts, "timed out".into());
            }
            attempts += 1;
            let error = match tokio::time::timeout(remaining, attempt(remaining)).await {
                Ok(Ok(t)) => return Ok(t),
                Ok(Err(e)) => e,
                Err(_) => return fail(attempts, "timed out".into()),
            };
            let (message, wait) = match error {
                Attempt::Fatal(m) => return fail(attempts, m),
                Attempt::Retryable(m) => (m, None),
                Attempt::Throttled(d, m) => (m, Some(d.min(MAX_THROTTLE))),
            };
            if attempts > self.max_retries {
                return fail(attempts, message);
            }
            if let Some(wait) = wait {
                // The collector's delay raises the backoff (and its cap).
                if wait > cap {
                    cap = MAX_THROTTLE;
                }
                delay = delay.max(wait);
            }
            let sleep = delay.saturating_add(jitter(MAX_JITTER)).min(cap);
            if sleep >= self.timeout.saturating_sub(start.elapsed()) {
                return fail(attempts, message);
            }
            tokio::time::sleep(sleep).await;
            delay = delay.saturating_mul(2).min(cap);
        }
    }
}

/// A random delay of at most `max`, in whole milliseconds.
fn jitter(max: Duration) -> Duration {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    h.write_u32(nanos);
    let max_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(h.finish() % max_ms.saturating_add(1).max(1))
}

/// The OTLP retry rules of a gRPC status.
pub(super) fn classify_grpc(status: &tonic::Status) -> Attempt {
    use tonic::Code;
    use tonic_types::StatusExt as _;
    let message = format!("gRPC status {:?}: {}", status.code(), status.message());
    let retry_info = status
        .get_details_retry_info()
        .and_then(|info| info.retry_delay);
    match status.code() {
        Code::ResourceExhausted => match retry_info {
            Some(d) => Attempt::Throttled(d, message),
            None => Attempt::Fatal(message),
        },
        Code::Unavailable => match retry_info.filter(|d| !d.is_zero()) {
            Some(d) => Attempt::Throttled(d, message),
            None => Attempt::Retryable(message),
        },
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::DataLoss => Attempt::Retryable(message),
        _ => Attempt::Fatal(message),
    }
}

/// The OTLP retry rules of an HTTP status.
pub(super) fn classify_http(status: u16, retry_after: Option<&str>) -> Attempt {
    let message = format!("HTTP status {status}");
    match status {
        429 | 503 => match retry_after.and_then(parse_retry_after) {
            Some(d) => Attempt::Throttled(d, message),
            None => Attempt::Retryable(message),
        },
        502 | 504 => Attempt::Retryable(message),
        _ => Attempt::Fatal(message),
    }
}

/// `Retry-After`: delay seconds or an HTTP date.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs.min(600)));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(
        at.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(Duration::from_secs(600)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_classification() {
        assert!(matches!(
            classify_http(503, Some("2")),
            Attempt::Throttled(d, _) if d == Duration::from_secs(2)
        ));
        assert!(matches!(classify_http(429, None), Attempt::Retryable(_)));
        assert!(matches!(
            classify_http(502, Some("9")),
            Attempt::Retryable(_)
        ));
        assert!(matches!(classify_http(504, None), Attempt::Retryable(_)));
        for code in [400, 401, 404, 500, 501] {
            assert!(
                matches!(classify_http(code, None), Attempt::Fatal(_)),
                "{code}"
            );
        }
        let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(20));
        assert!(matches!(
            classify_http(429, Some(&date)),
            Attempt::Throttled(d, _) if d > Duration::from_secs(15) && d <= Duration::from_secs(20)
        ));
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("100000"), Some(Duration::from_secs(600)));
        assert!(matches!(
            classify_grpc(&tonic::Status::unavailable("x")),
            Attempt::Retryable(_)
        ));
        assert!(matches!(
            classify_grpc(&tonic::Status::resource_exhausted("x")),
            Attempt::Fatal(_)
        ));
        assert!(matches!(
            classify_grpc(&tonic::Status::invalid_argument("x")),
            Attempt::Fatal(_)
        ));
        for _ in 0..100 {
            assert!(jitter(MAX_JITTER) <= MAX_JITTER);
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }
}
