//! Test-only OTLP receiver: an OTLP/gRPC server and an OTLP/HTTP (protobuf)
//! server, both on ephemeral 127.0.0.1 ports, run on their own thread with
//! their own tokio runtime so plain `#[test]` functions can use them.
//!
//! Every accepted export request is stored; `logs()` / `spans()` flatten them.
//! Faults (`Mode`) can be switched at runtime and apply to both servers.
//! Accepted requests are answered with a full success, or with the
//! `Answer`s queued by `answer_with` (partial successes, raw bodies), in
//! arrival order.
//!
//! `Receiver::start_tls` serves both over TLS instead (tonic's
//! `ServerTlsConfig` for gRPC, tokio-rustls in front of the HTTP server),
//! optionally requiring a client certificate (mutual TLS).
//!
//! Self-contained: include with
//! `#[path = "common/otlp_receiver.rs"] mod otlp_receiver;`.
#![allow(dead_code)]

use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_ENCODING, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use tonic::codec::CompressionEncoding;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// How long `stop` / `Drop` waits for the servers to wind down.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// Grace period for open connections once shutdown is signalled.
const GRACE: Duration = Duration::from_millis(500);
const POLL: Duration = Duration::from_millis(5);
/// Bound of one TLS handshake on the HTTP server.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// TLS of both servers.
#[derive(Clone, Debug)]
pub struct TlsOptions {
    /// The server's certificate chain, PEM.
    pub cert_pem: String,
    /// The server's private key, PEM.
    pub key_pem: String,
    /// When set, a client certificate signed by this CA (PEM) is required.
    pub client_ca_pem: Option<String>,
}

/// Fault injection, applied to both servers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// Store and answer success.
    #[default]
    Ok,
    /// Answer an error without storing. HTTP: this status (plus `Retry-After`
    /// when given). gRPC: 429 -> RESOURCE_EXHAUSTED, 502/503/504 ->
    /// UNAVAILABLE (others mapped in `grpc_code`), with a google.rpc.RetryInfo
    /// detail when `retry_after_secs` is given.
    Fail {
        status: u16,
        retry_after_secs: Option<u64>,
    },
    /// Sleep this long, then behave as `Ok`. A client that gives up during
    /// the delay (timeout, reset) usually cancels the handler, so that
    /// request is then not stored.
    Delay(Duration),
}

/// What the receiver answers to a request it accepts (and stores), instead
/// of a full success: see `Receiver::answer_with`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// An `Export…ServiceResponse` whose `partial_success` holds `rejected`
    /// (log records or spans, as the request) and `message`.
    Partial { rejected: i64, message: String },
    /// This body, as is (HTTP; the gRPC server answers a full success).
    Raw(Vec<u8>),
}

/// Which server received a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    Grpc,
    Http,
}

/// Transport and headers (gRPC: metadata) of one stored request.
#[derive(Clone, Debug)]
pub struct RequestMeta {
    pub transport: Transport,
    /// Lower-case names, values lossily decoded as UTF-8, in arrival order.
    pub headers: Vec<(String, String)>,
}

impl RequestMeta {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One received log record with its context.
#[derive(Clone, Debug)]
pub struct ReceivedLog {
    pub record: LogRecord,
    /// Resource attributes of the enclosing `ResourceLogs`.
    pub resource: Vec<KeyValue>,
    /// Name of the enclosing `InstrumentationScope` ("" when absent).
    pub scope_name: String,
    pub transport: Transport,
}

/// One received span with its context.
#[derive(Clone, Debug)]
pub struct ReceivedSpan {
    pub span: Span,
    /// Resource attributes of the enclosing `ResourceSpans`.
    pub resource: Vec<KeyValue>,
    /// Name of the enclosing `InstrumentationScope` ("" when absent).
    pub scope_name: String,
    pub transport: Transport,
}

/// Value of attribute `key`, if present and set.
pub fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

/// Lower-case hex of `bytes` (trace / span ids).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

struct Stored<T> {
    meta: RequestMeta,
    request: T,
}

#[derive(Default)]
struct Shared {
    logs: Mutex<Vec<Stored<ExportLogsServiceRequest>>>,
    traces: Mutex<Vec<Stored<ExportTraceServiceRequest>>>,
    mode: Mutex<Mode>,
    failed: AtomicUsize,
    /// TLS handshakes the HTTP server failed or gave up.
    tls_failures: AtomicUsize,
    /// Answers to give to the next accepted requests.
    answers: Mutex<std::collections::VecDeque<Answer>>,
}

/// Locks, ignoring poisoning: server tasks must never panic.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    fn log_count(&self) -> usize {
        lock(&self.logs)
            .iter()
            .flat_map(|s| &s.request.resource_logs)
            .flat_map(|rl| &rl.scope_logs)
            .map(|sl| sl.log_records.len())
            .sum()
    }

    fn span_count(&self) -> usize {
        lock(&self.traces)
            .iter()
            .flat_map(|s| &s.request.resource_spans)
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len())
            .sum()
    }

    /// Applies the current mode: `Err((status, retry_after))` means "fail".
    async fn gate(&self) -> Result<(), (u16, Option<u64>)> {
        let mode = *lock(&self.mode);
        match mode {
            Mode::Ok => Ok(()),
            Mode::Delay(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            Mode::Fail {
                status,
                retry_after_secs,
            } => {
                self.failed.fetch_add(1, Ordering::SeqCst);
                Err((status, retry_after_secs))
            }
        }
    }
}

impl Shared {
    /// The answer to the request just accepted (`None`: a full success).
    fn next_answer(&self) -> Option<Answer> {
        lock(&self.answers).pop_front()
    }
}

fn logs_response(answer: Option<Answer>) -> ExportLogsServiceResponse {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsPartialSuccess;
    match answer {
        Some(Answer::Partial { rejected, message }) => ExportLogsServiceResponse {
            partial_success: Some(ExportLogsPartialSuccess {
                rejected_log_records: rejected,
                error_message: message,
            }),
        },
        _ => ExportLogsServiceResponse::default(),
    }
}

fn traces_response(answer: Option<Answer>) -> ExportTraceServiceResponse {
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTracePartialSuccess;
    match answer {
        Some(Answer::Partial { rejected, message }) => ExportTraceServiceResponse {
            partial_success: Some(ExportTracePartialSuccess {
                rejected_spans: rejected,
                error_message: message,
            }),
        },
        _ => ExportTraceServiceResponse::default(),
    }
}

fn resource_attrs(resource: &Option<Resource>) -> Vec<KeyValue> {
    resource
        .as_ref()
        .map(|r| r.attributes.clone())
        .unwrap_or_default()
}

fn scope_name(scope: &Option<InstrumentationScope>) -> String {
    scope.as_ref().map(|s| s.name.clone()).unwrap_or_default()
}

/// A running receiver. Stops (bounded in time) on `stop` or drop.
pub struct Receiver {
    shared: Arc<Shared>,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    tls: bool,
    shutdown: watch::Sender<bool>,
    done: Option<mpsc::Receiver<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Binds both servers on 127.0.0.1 ephemeral ports and starts them on a
    /// background thread. Panics if binding or thread creation fails.
    pub fn start() -> Receiver {
        Receiver::start_with(None)
    }

    /// As `start`, both servers over TLS. Panics if the TLS material is
    /// unusable.
    pub fn start_tls(tls: TlsOptions) -> Receiver {
        Receiver::start_with(Some(tls))
    }

    fn start_with(tls: Option<TlsOptions>) -> Receiver {
        // Checked here, so that a bad setup fails the test at once.
        let http_tls = tls
            .as_ref()
            .map(|t| http_tls_acceptor(t).unwrap_or_else(|e| panic!("HTTP TLS setup: {e}")));
        if let Some(t) = &tls
            && let Err(e) = tonic::transport::Server::builder().tls_config(grpc_tls_config(t))
        {
            panic!("gRPC TLS setup: {e}");
        }
        let is_tls = tls.is_some();
        let grpc_std = std::net::TcpListener::bind("127.0.0.1:0").expect("bind grpc listener");
        let http_std = std::net::TcpListener::bind("127.0.0.1:0").expect("bind http listener");
        grpc_std.set_nonblocking(true).expect("nonblocking");
        http_std.set_nonblocking(true).expect("nonblocking");
        let grpc_addr = grpc_std.local_addr().expect("grpc addr");
        let http_addr = http_std.local_addr().expect("http addr");

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("otlp-receiver")
            .enable_all()
            .build()
            .expect("tokio runtime");

        let shared = Arc::new(Shared::default());
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (done_tx, done) = mpsc::channel();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("otlp-receiver".into())
            .spawn(move || {
                rt.block_on(run_servers(
                    grpc_std,
                    http_std,
                    thread_shared,
                    shutdown_rx,
                    tls,
                    http_tls,
                ));
                rt.shutdown_timeout(GRACE);
                let _ = done_tx.send(());
            })
            .expect("spawn receiver thread");

        Receiver {
            shared,
            grpc_addr,
            http_addr,
            tls: is_tls,
            shutdown,
            done: Some(done),
            thread: Some(thread),
        }
    }

    fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }

    /// `http://127.0.0.1:PORT` of the gRPC server (`https://` with TLS).
    pub fn grpc_endpoint(&self) -> String {
        format!("{}://{}", self.scheme(), self.grpc_addr)
    }

    /// Base `http://127.0.0.1:PORT` of the HTTP server (serves `/v1/logs`,
    /// `/v1/traces`; `https://` with TLS).
    pub fn http_endpoint(&self) -> String {
        format!("{}://{}", self.scheme(), self.http_addr)
    }

    /// TLS handshakes the HTTP server failed (a client that rejected the
    /// server's certificate, or that the server rejected).
    pub fn tls_handshake_failures(&self) -> usize {
        self.shared.tls_failures.load(Ordering::SeqCst)
    }

    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Port that was free a moment ago and now has no listener (for
    /// "collector down" tests).
    pub fn reserve_closed_port() -> u16 {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("local addr").port()
    }

    /// Queues answers for the next accepted requests (both servers, log
    /// and trace requests alike, in arrival order); then full successes
    /// again.
    pub fn answer_with(&self, answers: impl IntoIterator<Item = Answer>) {
        lock(&self.shared.answers).extend(answers);
    }

    /// Answers queued and not given yet.
    pub fn answers_left(&self) -> usize {
        lock(&self.shared.answers).len()
    }

    pub fn set_mode(&self, mode: Mode) {
        *lock(&self.shared.mode) = mode;
    }

    pub fn mode(&self) -> Mode {
        *lock(&self.shared.mode)
    }

    /// Requests answered with an injected failure (`Mode::Fail`).
    pub fn failed_requests(&self) -> usize {
        self.shared.failed.load(Ordering::SeqCst)
    }

    /// Stored log export requests (both transports).
    pub fn log_requests(&self) -> usize {
        lock(&self.shared.logs).len()
    }

    /// Stored trace export requests (both transports).
    pub fn span_requests(&self) -> usize {
        lock(&self.shared.traces).len()
    }

    /// Transport and headers of each stored log request, in arrival order.
    pub fn log_request_meta(&self) -> Vec<RequestMeta> {
        lock(&self.shared.logs)
            .iter()
            .map(|s| s.meta.clone())
            .collect()
    }

    /// Transport and headers of each stored trace request, in arrival order.
    pub fn span_request_meta(&self) -> Vec<RequestMeta> {
        lock(&self.shared.traces)
            .iter()
            .map(|s| s.meta.clone())
            .collect()
    }

    /// Raw stored log requests, in arrival order.
    pub fn raw_log_requests(&self) -> Vec<ExportLogsServiceRequest> {
        lock(&self.shared.logs)
            .iter()
            .map(|s| s.request.clone())
            .collect()
    }

    /// Raw stored trace requests, in arrival order.
    pub fn raw_span_requests(&self) -> Vec<ExportTraceServiceRequest> {
        lock(&self.shared.traces)
            .iter()
            .map(|s| s.request.clone())
            .collect()
    }

    /// All received log records, flattened, in arrival order.
    pub fn logs(&self) -> Vec<ReceivedLog> {
        let stored = lock(&self.shared.logs);
        let mut out = Vec::new();
        for s in stored.iter() {
            for rl in &s.request.resource_logs {
                let resource = resource_attrs(&rl.resource);
                for sl in &rl.scope_logs {
                    let scope = scope_name(&sl.scope);
                    for record in &sl.log_records {
                        out.push(ReceivedLog {
                            record: record.clone(),
                            resource: resource.clone(),
                            scope_name: scope.clone(),
                            transport: s.meta.transport,
                        });
                    }
                }
            }
        }
        out
    }

    /// All received spans, flattened, in arrival order.
    pub fn spans(&self) -> Vec<ReceivedSpan> {
        let stored = lock(&self.shared.traces);
        let mut out = Vec::new();
        for s in stored.iter() {
            for rs in &s.request.resource_spans {
                let resource = resource_attrs(&rs.resource);
                for ss in &rs.scope_spans {
                    let scope = scope_name(&ss.scope);
                    for span in &ss.spans {
                        out.push(ReceivedSpan {
                            span: span.clone(),
                            resource: resource.clone(),
                            scope_name: scope.clone(),
                            transport: s.meta.transport,
                        });
                    }
                }
            }
        }
        out
    }

    /// Polls until at least `n` log records arrived or `timeout` passed;
    /// returns whatever is there then.
    pub fn wait_for_logs(&self, n: usize, timeout: Duration) -> Vec<ReceivedLog> {
        let deadline = Instant::now() + timeout;
        while self.shared.log_count() < n && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        self.logs()
    }

    /// Polls until at least `n` spans arrived or `timeout` passed; returns
    /// whatever is there then.
    pub fn wait_for_spans(&self, n: usize, timeout: Duration) -> Vec<ReceivedSpan> {
        let deadline = Instant::now() + timeout;
        while self.shared.span_count() < n && Instant::now() < deadline {
            std::thread::sleep(POLL);
        }
        self.spans()
    }

    /// Forgets everything stored and the answers queued, and resets the
    /// failure counter.
    pub fn clear(&self) {
        lock(&self.shared.logs).clear();
        lock(&self.shared.traces).clear();
        lock(&self.shared.answers).clear();
        self.shared.failed.store(0, Ordering::SeqCst);
    }

    /// Shuts both servers down and joins the thread (bounded in time).
    pub fn stop(mut self) {
        self.shutdown_now();
    }

    fn shutdown_now(&mut self) {
        let _ = self.shutdown.send(true);
        let Some(done) = self.done.take() else {
            return;
        };
        let thread = self.thread.take();
        match done.recv_timeout(STOP_TIMEOUT) {
            // Finished (or the thread died): joining cannot block for long.
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                if let Some(t) = thread {
                    let _ = t.join();
                }
            }
            // Still running: detach rather than hang the test.
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shutdown_now();
    }
}

/// Resolves once shutdown is requested (or the `Receiver` is gone).
async fn shutdown_signal(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

fn grpc_tls_config(tls: &TlsOptions) -> tonic::transport::ServerTlsConfig {
    use tonic::transport::{Certificate, Identity, ServerTlsConfig};
    let c = ServerTlsConfig::new().identity(Identity::from_pem(&tls.cert_pem, &tls.key_pem));
    match &tls.client_ca_pem {
        Some(ca) => c.client_ca_root(Certificate::from_pem(ca)),
        None => c,
    }
}

fn http_tls_acceptor(tls: &TlsOptions) -> Result<TlsAcceptor, String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chain = CertificateDer::pem_slice_iter(tls.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("server certificate: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(tls.key_pem.as_bytes())
        .map_err(|e| format!("server key: {e}"))?;
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match &tls.client_ca_pem {
        None => builder.with_no_client_auth(),
        Some(ca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
                let c = c.map_err(|e| format!("client CA: {e}"))?;
                roots.add(c).map_err(|e| format!("client CA: {e}"))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()
            .map_err(|e| format!("client verifier: {e}"))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| format!("server certificate and key: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

async fn run_servers(
    grpc_std: std::net::TcpListener,
    http_std: std::net::TcpListener,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    tls: Option<TlsOptions>,
    http_tls: Option<TlsAcceptor>,
) {
    let grpc_task = match tokio::net::TcpListener::from_std(grpc_std) {
        Ok(listener) => {
            let mut server = tonic::transport::Server::builder();
            if let Some(t) = &tls {
                // Checked in `start_with`.
                server = match server.tls_config(grpc_tls_config(t)) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("otlp_receiver: grpc tls: {e}");
                        tonic::transport::Server::builder()
                    }
                };
            }
            let router = server
                .add_service(
                    LogsServiceServer::new(GrpcLogs(shared.clone()))
                        .accept_compressed(CompressionEncoding::Gzip),
                )
                .add_service(
                    TraceServiceServer::new(GrpcTraces(shared.clone()))
                        .accept_compressed(CompressionEncoding::Gzip),
                );
            let incoming = tonic::transport::server::TcpIncoming::from(listener);
            let signal = shutdown_signal(shutdown.clone());
            Some(tokio::spawn(async move {
                let _ = router.serve_with_incoming_shutdown(incoming, signal).await;
            }))
        }
        Err(e) => {
            eprintln!("otlp_receiver: grpc listener: {e}");
            None
        }
    };
    let http_task = match tokio::net::TcpListener::from_std(http_std) {
        Ok(listener) => Some(tokio::spawn(serve_http(
            listener,
            shared.clone(),
            shutdown.clone(),
            http_tls,
        ))),
        Err(e) => {
            eprintln!("otlp_receiver: http listener: {e}");
            None
        }
    };

    shutdown_signal(shutdown).await;
    let _ = tokio::time::timeout(GRACE, async {
        if let Some(t) = grpc_task {
            let _ = t.await;
        }
        if let Some(t) = http_task {
            let _ = t.await;
        }
    })
    .await;
}

// ---------------------------------------------------------------- gRPC

struct GrpcLogs(Arc<Shared>);
struct GrpcTraces(Arc<Shared>);

fn grpc_code(status: u16) -> Code {
    match status {
        400 => Code::InvalidArgument,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::NotFound,
        429 => Code::ResourceExhausted,
        501 => Code::Unimplemented,
        502..=504 => Code::Unavailable,
        500 => Code::Internal,
        _ => Code::Unknown,
    }
}

fn grpc_failure(status: u16, retry_after_secs: Option<u64>) -> Status {
    let code = grpc_code(status);
    let message = format!("injected failure (http status {status})");
    match retry_after_secs {
        Some(secs) => Status::with_error_details(
            code,
            message,
            ErrorDetails::with_retry_info(Some(Duration::from_secs(secs))),
        ),
        None => Status::new(code, message),
    }
}

fn grpc_meta(metadata: &tonic::metadata::MetadataMap) -> RequestMeta {
    let headers = metadata
        .clone()
        .into_headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    RequestMeta {
        transport: Transport::Grpc,
        headers,
    }
}

#[tonic::async_trait]
impl LogsService for GrpcLogs {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, Status> {
        if let Err((status, retry)) = self.0.gate().await {
            return Err(grpc_failure(status, retry));
        }
        let meta = grpc_meta(request.metadata());
        lock(&self.0.logs).push(Stored {
            meta,
            request: request.into_inner(),
        });
        Ok(tonic::Response::new(logs_response(self.0.next_answer())))
    }
}

#[tonic::async_trait]
impl TraceService for GrpcTraces {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, Status> {
        if let Err((status, retry)) = self.0.gate().await {
            return Err(grpc_failure(status, retry));
        }
        let meta = grpc_meta(request.metadata());
        lock(&self.0.traces).push(Stored {
            meta,
            request: request.into_inner(),
        });
        Ok(tonic::Response::new(traces_response(self.0.next_answer())))
    }
}

// ---------------------------------------------------------------- HTTP

async fn serve_http(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    tls: Option<TlsAcceptor>,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.wait_for(|stop| *stop) => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => {
                // E.g. EMFILE: back off instead of spinning.
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let shared = shared.clone();
        let conn_shutdown = shutdown.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let Some(acceptor) = tls else {
                serve_http_connection(stream, shared, conn_shutdown).await;
                return;
            };
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(stream)) => serve_http_connection(stream, shared, conn_shutdown).await,
                _ => {
                    shared.tls_failures.fetch_add(1, Ordering::SeqCst);
                }
            }
        });
    }
}

async fn serve_http_connection<IO>(
    stream: IO,
    shared: Arc<Shared>,
    conn_shutdown: watch::Receiver<bool>,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| handle_http(req, shared.clone()));
    let conn =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        _ = conn.as_mut() => {}
        _ = shutdown_signal(conn_shutdown) => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(GRACE, conn).await;
        }
    }
}

fn http_response(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body)));
    *resp.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        resp.headers_mut().insert(CONTENT_TYPE, v);
    }
    resp
}

fn http_error(status: StatusCode, msg: &str) -> Response<Full<Bytes>> {
    http_response(status, "text/plain", msg.as_bytes().to_vec())
}

async fn handle_http(
    req: Request<Incoming>,
    shared: Arc<Shared>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(handle_http_inner(req, &shared).await)
}

async fn handle_http_inner(req: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    let is_logs = match req.uri().path() {
        "/v1/logs" => true,
        "/v1/traces" => false,
        _ => return http_error(StatusCode::NOT_FOUND, "unknown path"),
    };
    if req.method() != Method::POST {
        return http_error(StatusCode::METHOD_NOT_ALLOWED, "POST only");
    }
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let encoding = req
        .headers()
        .get(CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();

    // Read the whole body first so the connection stays reusable.
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return http_error(StatusCode::BAD_REQUEST, "body read error"),
    };

    if let Err((status, retry)) = shared.gate().await {
        let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut resp = http_error(code, "injected failure");
        if let Some(secs) = retry {
            resp.headers_mut().insert(RETRY_AFTER, secs.into());
        }
        return resp;
    }

    if !content_type.starts_with("application/x-protobuf") {
        return http_error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "expected application/x-protobuf",
        );
    }
    let payload: Vec<u8> = match encoding.as_str() {
        "" | "identity" => body.to_vec(),
        "gzip" => {
            let mut out = Vec::new();
            if flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut out)
                .is_err()
            {
                return http_error(StatusCode::BAD_REQUEST, "bad gzip body");
            }
            out
        }
        _ => {
            return http_error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported content-encoding",
            );
        }
    };
    let meta = RequestMeta {
        transport: Transport::Http,
        headers,
    };

    let response_body = if is_logs {
        match ExportLogsServiceRequest::decode(&payload[..]) {
            Ok(request) => {
                lock(&shared.logs).push(Stored { meta, request });
                match shared.next_answer() {
                    Some(Answer::Raw(body)) => body,
                    answer => logs_response(answer).encode_to_vec(),
                }
            }
            Err(_) => return http_error(StatusCode::BAD_REQUEST, "bad protobuf"),
        }
    } else {
        match ExportTraceServiceRequest::decode(&payload[..]) {
            Ok(request) => {
                lock(&shared.traces).push(Stored { meta, request });
                match shared.next_answer() {
                    Some(Answer::Raw(body)) => body,
                    answer => traces_response(answer).encode_to_vec(),
                }
            }
            Err(_) => return http_error(StatusCode::BAD_REQUEST, "bad protobuf"),
        }
    };
    http_response(StatusCode::OK, "application/x-protobuf", response_body)
}

// ---------------------------------------------------------------------------
// Helpers for the tests that read what arrived
// ---------------------------------------------------------------------------

pub fn body_of(l: &ReceivedLog) -> Option<&str> {
    match l.record.body.as_ref().and_then(|b| b.value.as_ref()) {
        Some(any_value::Value::StringValue(s)) => Some(s),
        _ => None,
    }
}

/// Waits (bounded by `timeout`) until `n` log records whose body is `body`
/// arrived; returns how many did.
pub fn wait_logs_with_body(rx: &Receiver, body: &str, n: u64, timeout: Duration) -> u64 {
    let deadline = Instant::now() + timeout;
    loop {
        let count = rx
            .logs()
            .iter()
            .filter(|l| body_of(l) == Some(body))
            .count() as u64;
        if count >= n || Instant::now() >= deadline {
            return count;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits (bounded) for the one log record whose body is `body`.
pub fn wait_log(rx: &Receiver, body: &str, timeout: Duration) -> ReceivedLog {
    let deadline = Instant::now() + timeout;
    loop {
        let logs = rx.logs();
        let found: Vec<_> = logs.iter().filter(|l| body_of(l) == Some(body)).collect();
        if found.len() > 1 {
            panic!("{} records with body {body:?}", found.len());
        }
        if let Some(l) = found.first() {
            return (*l).clone();
        }
        if Instant::now() >= deadline {
            let bodies: Vec<_> = logs.iter().filter_map(body_of).collect();
            panic!("no log record {body:?} within {timeout:?}; received: {bodies:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Waits (bounded) for the one span named `name`.
pub fn wait_span(rx: &Receiver, name: &str, timeout: Duration) -> ReceivedSpan {
    let deadline = Instant::now() + timeout;
    loop {
        let spans = rx.spans();
        let found: Vec<_> = spans.iter().filter(|s| s.span.name == name).collect();
        if found.len() > 1 {
            panic!("{} spans named {name:?}", found.len());
        }
        if let Some(s) = found.first() {
            return (*s).clone();
        }
        if Instant::now() >= deadline {
            let names: Vec<_> = spans.iter().map(|s| s.span.name.as_str()).collect();
            panic!("no span {name:?} within {timeout:?}; received: {names:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn str_attr<'a>(attrs: &'a [KeyValue], key: &str) -> &'a str {
    match attr(attrs, key) {
        Some(any_value::Value::StringValue(s)) => s,
        other => panic!("attribute {key:?}: expected a string, got {other:?}"),
    }
}

pub fn int_attr(attrs: &[KeyValue], key: &str) -> i64 {
    match attr(attrs, key) {
        Some(any_value::Value::IntValue(n)) => *n,
        other => panic!("attribute {key:?}: expected an int, got {other:?}"),
    }
}

/// The engine's stats once the JSON writer has written at least `records`
/// records, or after `timeout` (the caller asserts on what it gets).
pub fn stats_once_written(records: u64, timeout: Duration) -> datapunk_log::Stats {
    let deadline = Instant::now() + timeout;
    let mut s = datapunk_log::stats();
    while s.written < records && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        s = datapunk_log::stats();
    }
    s
}
