//! The exporter's own runtime: [`Live`] holds the tokio runtime (one
//! worker thread) and the exporters (or the direct log client) made inside
//! it; [`run`] blocks the export thread on a future there.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use opentelemetry_sdk::logs::LogExporter as _;
use opentelemetry_sdk::trace::SpanExporter as _;

use super::client::WireClient;
use super::config::LogEncoder;
use super::config::Signal;
use super::error::OtlpError;
use super::transport::{
    AnswerSlot, Prepared, build_log_exporter, build_span_exporter, is_json, wire_settings,
};

/// The runtime and the `opentelemetry-otlp` exporters, made on the export
/// thread.
pub(super) struct Live {
    pub(super) rt: Option<tokio::runtime::Runtime>,
    pub(super) logs: Option<opentelemetry_otlp::LogExporter>,
    pub(super) spans: Option<opentelemetry_otlp::SpanExporter>,
    /// The log client of [`LogEncoder::Direct`] and of `http/json` (then
    /// `logs` is `None`).
    pub(super) wire: Option<Arc<WireClient>>,
    /// The span client of `http/json` (then `spans` is `None`).
    pub(super) span_wire: Option<WireClient>,
    /// What the collector answered to `logs`' last successful request
    /// (over HTTP; left empty over gRPC).
    pub(super) log_answers: Arc<AnswerSlot>,
    /// The same, for `spans`.
    pub(super) span_answers: Arc<AnswerSlot>,
}

impl Live {
    pub(super) fn start(
        logs: Option<&Prepared>,
        spans: Option<&Prepared>,
        retries: usize,
        resource: Option<&opentelemetry_sdk::Resource>,
        log_encoder: LogEncoder,
    ) -> Result<Live, OtlpError> {
        // One worker: the direct log path's requests run there while the
        // export thread encodes the next batch (see `InFlight`).
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .thread_name("datapunk-log-otlp")
            .on_thread_start(crate::thread_role::mute_this_thread)
            .build()
            .map_err(|e| OtlpError::Setup(format!("cannot build the tokio runtime: {e}")))?;
        let retry = opentelemetry_otlp::RetryPolicy::recommended().with_max_retries(retries);
        let (sdk_logs, wire_logs) = match log_encoder {
            LogEncoder::Sdk if !logs.is_some_and(is_json) => (logs, None),
            _ => (None, logs),
        };
        let (sdk_spans, wire_spans) = match spans {
            Some(p) if is_json(p) => (None, Some(p)),
            _ => (spans, None),
        };
        let log_answers = Arc::new(AnswerSlot::new(Signal::Logs));
        let span_answers = Arc::new(AnswerSlot::new(Signal::Traces));
        let wire = |p: &Prepared, signal| {
            WireClient::new(&wire_settings(p, signal, retries)).map_err(OtlpError::Setup)
        };
        let built = {
            let _enter = rt.enter();
            sdk_logs
                .map(|p| build_log_exporter(p, &retry, &log_answers))
                .transpose()
                .and_then(|l| {
                    Ok((
                        l,
                        sdk_spans
                            .map(|p| build_span_exporter(p, &retry, &span_answers))
                            .transpose()?,
                        wire_logs
                            .map(|p| wire(p, Signal::Logs).map(Arc::new))
                            .transpose()?,
                        wire_spans.map(|p| wire(p, Signal::Traces)).transpose()?,
                    ))
                })
        };
        let (log_exporter, span_exporter, wire, span_wire) = match built {
            Ok(b) => b,
            Err(e) => {
                rt.shutdown_background();
                return Err(e);
            }
        };
        let mut live = Live {
            rt: Some(rt),
            logs: log_exporter,
            spans: span_exporter,
            wire,
            span_wire,
            log_answers,
            span_answers,
        };
        if let Some(r) = resource {
            live.set_resource(r);
        }
        Ok(live)
    }

    pub(super) fn set_resource(&mut self, r: &opentelemetry_sdk::Resource) {
        if let Some(l) = &mut self.logs {
            l.set_resource(r);
        }
        if let Some(s) = &mut self.spans {
            s.set_resource(r);
        }
    }

    /// Shuts the exporters and the runtime down, giving up at `deadline`.
    pub(super) fn close(&mut self, deadline: Instant) {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if let Some(rt) = self.rt.take() {
            {
                let _enter = rt.enter();
                if let Some(l) = self.logs.take() {
                    let _ = l.shutdown_with_timeout(remaining);
                }
                if let Some(s) = self.spans.take() {
                    let _ = s.shutdown_with_timeout(remaining);
                }
                self.wire = None;
                self.span_wire = None;
            }
            let remaining = deadline.saturating_duration_since(Instant::now());
            if tokio::runtime::Handle::try_current().is_ok() {
                rt.shutdown_background();
            } else {
                rt.shutdown_timeout(remaining);
            }
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // Never blocks, and never panics inside someone else's runtime.
        self.logs = None;
        self.spans = None;
        self.wire = None;
        self.span_wire = None;
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Runs `fut` to completion on `rt`. Inside another runtime, where `block_on`
/// would panic, it runs on a helper thread. `None` when that thread could
/// not run it.
pub(super) fn run<F>(rt: &tokio::runtime::Runtime, fut: F) -> Option<F::Output>
where
    F: Future + Send,
    F::Output: Send,
{
    if tokio::runtime::Handle::try_current().is_err() {
        return Some(rt.block_on(fut));
    }
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .name("datapunk-log-otlp".into())
            .spawn_scoped(s, || {
                crate::thread_role::mute_this_thread();
                rt.block_on(fut)
            })
            .ok()?
            .join()
            .ok()
    })
}
