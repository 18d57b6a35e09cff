//! A loopback OTLP/gRPC logs receiver that only decodes and counts.
//!
//! The OTLP scenario measures the sender, so the receiver does as little as
//! a receiver can: tonic takes each gRPC request, a small walker counts the
//! log records in the `ExportLogsServiceRequest` bytes (no message is
//! built, nothing allocated per record), checks the body of the request's
//! first record, notes the time and answers success. The content of what
//! the exporter sends is checked elsewhere (tests/otlp_grpc.rs decodes it
//! fully). It runs on its own
//! thread with a single-threaded tokio runtime (one core's worth at most),
//! on an ephemeral 127.0.0.1 port, and stores nothing. Its HTTP/2 windows
//! are large (16 MiB per stream), as a Collector's become.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Context, Poll, Service, http};

struct Counts {
    base: Instant,
    records: AtomicU64,
    requests: AtomicU64,
    /// Requests whose first record's body is not the expected message, or
    /// that are not a well-formed `ExportLogsServiceRequest`.
    unexpected: AtomicU64,
    /// Nanoseconds after `base` when the last request was counted.
    last_ns: AtomicU64,
}

/// What one request holds: its log records, and whether the first one's
/// body is the expected message (`None`: malformed or no record).
struct Counted {
    records: u64,
    first_body_ok: Option<bool>,
}

// --- A protobuf walker: just enough of the wire format to count records. ---

fn varint(b: &[u8], i: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*i)?;
        *i += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Calls `f(field, payload)` for each length-delimited field of message
/// `b`; skips the others. `None` when `b` is malformed.
fn each_len_field<'a>(b: &'a [u8], mut f: impl FnMut(u64, &'a [u8]) -> Option<()>) -> Option<()> {
    let mut i = 0;
    while i < b.len() {
        let key = varint(b, &mut i)?;
        match key & 7 {
            0 => {
                varint(b, &mut i)?;
            }
            1 => i = i.checked_add(8).filter(|&e| e <= b.len())?,
            5 => i = i.checked_add(4).filter(|&e| e <= b.len())?,
            2 => {
                let n = usize::try_from(varint(b, &mut i)?).ok()?;
                let end = i.checked_add(n).filter(|&e| e <= b.len())?;
                f(key >> 3, &b[i..end])?;
                i = end;
            }
            _ => return None,
        }
    }
    Some(())
}

/// Counts the `LogRecord`s of an `ExportLogsServiceRequest` (resource_logs
/// = 1, ResourceLogs.scope_logs = 2, ScopeLogs.log_records = 2) and checks
/// the first record's body (`body` = 5, AnyValue.string_value = 1).
fn count(req: &[u8], message: &str) -> Option<Counted> {
    let mut c = Counted {
        records: 0,
        first_body_ok: None,
    };
    each_len_field(req, |f, rl| {
        if f != 1 {
            return Some(());
        }
        each_len_field(rl, |f, sl| {
            if f != 2 {
                return Some(());
            }
            each_len_field(sl, |f, rec| {
                if f != 2 {
                    return Some(());
                }
                c.records += 1;
                if c.first_body_ok.is_none() {
                    let mut ok = false;
                    each_len_field(rec, |f, body| {
                        if f == 5 {
                            each_len_field(body, |f, s| {
                                if f == 1 {
                                    ok = s == message.as_bytes();
                                }
                                Some(())
                            })?;
                        }
                        Some(())
                    })?;
                    c.first_body_ok = Some(ok);
                }
                Some(())
            })
        })
    })?;
    Some(c)
}

/// The codec: requests are counted from their bytes (no message is built),
/// the response is the empty `ExportLogsServiceResponse` (zero bytes).
#[derive(Clone, Copy)]
struct CountingCodec {
    message: &'static str,
}

struct Empty;
struct Walk {
    message: &'static str,
}

impl Codec for CountingCodec {
    type Encode = ();
    type Decode = Option<Counted>;
    type Encoder = Empty;
    type Decoder = Walk;
    fn encoder(&mut self) -> Empty {
        Empty
    }
    fn decoder(&mut self) -> Walk {
        Walk {
            message: self.message,
        }
    }
}

impl Encoder for Empty {
    type Item = ();
    type Error = tonic::Status;
    fn encode(&mut self, _: (), _: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        Ok(())
    }
}

impl Decoder for Walk {
    type Item = Option<Counted>;
    type Error = tonic::Status;
    fn decode(
        &mut self,
        src: &mut DecodeBuf<'_>,
    ) -> Result<Option<Option<Counted>>, tonic::Status> {
        use bytes::Buf as _;
        let bytes = src.copy_to_bytes(src.remaining());
        Ok(Some(count(&bytes, self.message)))
    }
}

#[derive(Clone)]
struct Handler {
    counts: Arc<Counts>,
    message: &'static str,
}

struct Export(Arc<Counts>);

impl tonic::server::UnaryService<Option<Counted>> for Export {
    type Response = ();
    type Future = std::future::Ready<Result<tonic::Response<()>, tonic::Status>>;
    fn call(&mut self, req: tonic::Request<Option<Counted>>) -> Self::Future {
        let c = &self.0;
        let (n, ok) = match req.get_ref() {
            Some(counted) => (counted.records, counted.first_body_ok != Some(false)),
            None => (0, false),
        };
        if !ok {
            c.unexpected.fetch_add(1, Ordering::Relaxed);
        }
        c.last_ns
            .store(c.base.elapsed().as_nanos() as u64, Ordering::Relaxed);
        c.requests.fetch_add(1, Ordering::Relaxed);
        c.records.fetch_add(n, Ordering::Release);
        std::future::ready(Ok(tonic::Response::new(())))
    }
}

impl tonic::server::NamedService for Handler {
    const NAME: &'static str = "opentelemetry.proto.collector.logs.v1.LogsService";
}

impl Service<http::Request<tonic::body::Body>> for Handler {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let h = self.clone();
        Box::pin(async move {
            if req.uri().path() != "/opentelemetry.proto.collector.logs.v1.LogsService/Export" {
                return Ok(tonic::Status::unimplemented("only logs Export").into_http());
            }
            let mut grpc = tonic::server::Grpc::new(CountingCodec { message: h.message })
                .max_decoding_message_size(64 << 20);
            Ok(grpc.unary(Export(h.counts), req).await)
        })
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
                    // Large HTTP/2 windows, as the OpenTelemetry Collector's
                    // gRPC server reaches (grpc-go grows them to 16 MiB by
                    // BDP estimation): a 512-record request (~120 KB) does
                    // not wait for window updates.
                    let _ = tonic::transport::Server::builder()
                        .initial_stream_window_size(Some(16 << 20))
                        .initial_connection_window_size(Some(32 << 20))
                        .add_service(handler)
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

#[cfg(test)]
mod tests {
    use super::count;
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use prost::Message as _;

    fn record(body: &str) -> LogRecord {
        LogRecord {
            time_unix_nano: 1,
            severity_number: 9,
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(body.into())),
            }),
            attributes: vec![KeyValue {
                key: "k".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::IntValue(-5)),
                }),
                ..Default::default()
            }],
            trace_id: vec![7; 16],
            ..Default::default()
        }
    }

    fn request(bodies: &[&[&str]]) -> Vec<u8> {
        ExportLogsServiceRequest {
            resource_logs: bodies
                .iter()
                .map(|scope| ResourceLogs {
                    scope_logs: vec![
                        ScopeLogs {
                            log_records: scope.iter().map(|b| record(b)).collect(),
                            ..Default::default()
                        },
                        ScopeLogs::default(),
                    ],
                    ..Default::default()
                })
                .collect(),
        }
        .encode_to_vec()
    }

    #[test]
    fn counts_records_and_checks_the_first_body() {
        let c = count(&request(&[&["m", "x", "y"], &["z"]]), "m").unwrap();
        assert_eq!(c.records, 4);
        assert_eq!(c.first_body_ok, Some(true));
        let c = count(&request(&[&["other"]]), "m").unwrap();
        assert_eq!((c.records, c.first_body_ok), (1, Some(false)));
        let c = count(&request(&[]), "m").unwrap();
        assert_eq!((c.records, c.first_body_ok), (0, None));
        // Truncated bytes are malformed, not miscounted.
        let bytes = request(&[&["m", "x"]]);
        assert!(count(&bytes[..bytes.len() - 3], "m").is_none());
    }
}
