//! A loopback OTLP/gRPC logs receiver that only decodes and counts.
//!
//! The OTLP scenario measures the sender, so the receiver does as little as
//! a receiver can: tonic decodes each `ExportLogsServiceRequest` (protobuf),
//! the handler counts its log records, checks the body of the request's
//! first record, notes the time and answers success. It runs on its own
//! thread with a single-threaded tokio runtime (one core's worth at most),
//! on an ephemeral 127.0.0.1 port, and stores nothing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value;
use tokio::sync::oneshot;

struct Counts {
    base: Instant,
    records: AtomicU64,
    requests: AtomicU64,
    /// Requests whose first record's body is not the expected message.
    unexpected: AtomicU64,
    /// Nanoseconds after `base` when the last request was counted.
    last_ns: AtomicU64,
}

struct Handler {
    counts: Arc<Counts>,
    message: &'static str,
}

#[tonic::async_trait]
impl LogsService for Handler {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        let req = request.get_ref();
        let mut n = 0u64;
        let mut first_ok = None;
        for rl in &req.resource_logs {
            for sl in &rl.scope_logs {
                n += sl.log_records.len() as u64;
                if first_ok.is_none()
                    && let Some(r) = sl.log_records.first()
                {
                    let body = r.body.as_ref().and_then(|b| b.value.as_ref());
                    first_ok = Some(
                        matches!(body, Some(any_value::Value::StringValue(s)) if s == self.message),
                    );
                }
            }
        }
        let c = &self.counts;
        if first_ok == Some(false) {
            c.unexpected.fetch_add(1, Ordering::Relaxed);
        }
        c.last_ns
            .store(c.base.elapsed().as_nanos() as u64, Ordering::Relaxed);
        c.requests.fetch_add(1, Ordering::Relaxed);
        c.records.fetch_add(n, Ordering::Release);
        Ok(tonic::Response::new(ExportLogsServiceResponse {
            partial_success: None,
        }))
    }
}

/// What the receiver has counted so far.
#[derive(Debug, Clone, Copy)]
pub struct Snapshot {
    pub records: u64,
    pub requests: u64,
    pub unexpected: u64,
    /// When the last request was counted.
    pub last: Instant,
}

pub struct Receiver {
    counts: Arc<Counts>,
    endpoint: String,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Binds 127.0.0.1:0 and serves OTLP/gRPC logs on a thread of its own.
    /// Every request whose first record's body is not `message` is counted
    /// as unexpected.
    pub fn start(message: &'static str) -> Result<Receiver, String> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .map_err(|e| format!("receiver: cannot bind: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("receiver: {e}"))?;
        let addr = listener
            .local_addr()
            .map_err(|e| format!("receiver: {e}"))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("receiver: cannot build the tokio runtime: {e}"))?;
        let counts = Arc::new(Counts {
            base: Instant::now(),
            records: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            unexpected: AtomicU64::new(0),
            last_ns: AtomicU64::new(0),
        });
        let handler = Handler {
            counts: counts.clone(),
            message,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready_tx, ready) = std::sync::mpsc::channel::<Result<(), String>>();
        let thread = std::thread::Builder::new()
            .name("otlp-receiver".into())
            .spawn(move || {
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(format!("receiver: {e}")));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    let incoming = tonic::transport::server::TcpIncoming::from(listener)
                        .with_nodelay(Some(true));
                    let _ = tonic::transport::Server::builder()
                        .add_service(
                            LogsServiceServer::new(handler).max_decoding_message_size(64 << 20),
                        )
                        .serve_with_incoming_shutdown(incoming, async {
                            let _ = stopped.await;
                        })
                        .await;
                });
            })
            .map_err(|e| format!("receiver: cannot start its thread: {e}"))?;
        ready
            .recv()
            .map_err(|_| "receiver: its thread ended".to_string())??;
        Ok(Receiver {
            counts,
            endpoint: format!("http://{addr}"),
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn snapshot(&self) -> Snapshot {
        let c = &self.counts;
        let records = c.records.load(Ordering::Acquire);
        Snapshot {
            records,
            requests: c.requests.load(Ordering::Relaxed),
            unexpected: c.unexpected.load(Ordering::Relaxed),
            last: c.base + Duration::from_nanos(c.last_ns.load(Ordering::Relaxed)),
        }
    }

    /// Polls (every 200 µs) until `records` reaches `target`, or nothing
    /// new has arrived for `quiet`, or `limit` has passed; returns the last
    /// snapshot.
    pub fn wait_for(&self, target: u64, quiet: Duration, limit: Duration) -> Snapshot {
        let start = Instant::now();
        let mut last = self.snapshot();
        let mut since = Instant::now();
        loop {
            let s = self.snapshot();
            if s.records >= target || start.elapsed() > limit {
                return s;
            }
            if s.records != last.records {
                since = Instant::now();
                last = s;
            } else if since.elapsed() > quiet {
                return s;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
