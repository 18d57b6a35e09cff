//! How each signal reaches its collector: its validated settings
//! ([`Prepared`], made by [`prepare`] from the configuration), the hyper
//! client of the HTTP paths ([`HyperTransport`], which reads at most
//! [`MAX_RESPONSE_BODY`] bytes of a response), how a successful response
//! is read ([`read_answer`]), the `opentelemetry-otlp` exporters of the SDK
//! path built from them (with the configured headers set last on each
//! request, and the collector's answers over HTTP read by their client:
//! [`AnswerSlot`]), and the settings of the direct log client.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig, WithTonicConfig};

use super::client::{WireProtocol, WireSettings};
use super::config::{Compression, OtlpConfig, Protocol, Signal};
use super::error::{OtlpError, cfg_err};
use super::stats::{self, PartialSuccess};
use super::tls::{TlsClient, load_tls};
use super::{json_response, proto_response};

/// One signal's validated transport settings.
#[derive(Clone, Debug)]
pub(super) struct Prepared {
    pub(super) endpoint: String,
    protocol: Protocol,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    timeout: Duration,
    compression: Option<Compression>,
    /// TLS of an `https://` endpoint.
    tls: Option<Arc<TlsClient>>,
}

pub(super) fn prepare(cfg: &OtlpConfig, signal: Signal) -> Result<Prepared, OtlpError> {
    let s = cfg.signal_cfg(signal);
    let (what_endpoint, what_timeout) = match signal {
        Signal::Logs => ("logs endpoint", "logs timeout"),
        Signal::Traces => ("traces endpoint", "traces timeout"),
    };
    let endpoint = cfg.endpoint_for(signal);
    let uri: http::Uri = endpoint
        .parse()
        .map_err(|e| cfg_err(what_endpoint, format!("{endpoint:?} is not a URL: {e}")))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => {
            let or = if s.protocol == Protocol::Grpc {
                " (or be host:port)"
            } else {
                ""
            };
            return Err(cfg_err(
                what_endpoint,
                format!("{endpoint:?} must start with http:// or https://{or}"),
            ));
        }
    };
    if uri.host().is_none_or(str::is_empty) {
        return Err(cfg_err(what_endpoint, format!("{endpoint:?} has no host")));
    }
    if s.timeout.is_zero() {
        return Err(cfg_err(what_timeout, "must be greater than 0"));
    }
    if s.batch.max_export_batch_size == 0 || s.batch.max_queue_size == 0 {
        return Err(cfg_err(
            "batch size",
            "max_export_batch_size and max_queue_size must be at least 1",
        ));
    }
    let mut headers = Vec::with_capacity(s.headers.len());
    for (k, v) in &s.headers {
        let name = http::HeaderName::from_bytes(k.as_bytes())
            .map_err(|_| cfg_err("header name", format!("{k:?} is not a valid header name")))?;
        let value = http::HeaderValue::from_str(v)
            .map_err(|_| cfg_err("header value", format!("the value of {k:?} is not valid")))?;
        headers.push((name, value));
    }
    // Mutual TLS needs both files, whatever the endpoint.
    match (&s.tls.client_certificate, &s.tls.client_key) {
        (Some(_), Some(_)) | (None, None) => {}
        (Some(cert), None) => {
            return Err(cert.origin.error(
                "a client certificate needs a client key (mutual TLS): set both or neither",
            ));
        }
        (None, Some(key)) => {
            return Err(key.origin.error(
                "a client key needs a client certificate (mutual TLS): set both or neither",
            ));
        }
    }
    let tls = if https {
        Some(Arc::new(load_tls(&s.tls, what_endpoint, &endpoint)?))
    } else {
        None
    };
    Ok(Prepared {
        endpoint,
        protocol: s.protocol,
        headers,
        timeout: s.timeout,
        compression: s.compression,
        tls,
    })
}

/// The most bytes of a response body read from a collector (after any
/// decompression, on every path this crate reads itself: the HTTP paths,
/// and the direct log client's gRPC responses). A legitimate
/// `Export…ServiceResponse` is a partial success with a human-readable
/// message: a few hundred bytes. A body over the bound is not read past it
/// and is discarded: the OTLP specification has the client treat it as a
/// non-retryable error ([`read_answer`]).
pub(crate) const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// Marks a response whose body was over [`MAX_RESPONSE_BODY`] (in its
/// extensions): the body given is empty, the rest was never read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BodyOverLimit;

/// The future of [`opentelemetry_http::HttpClient::send_bytes`].
pub(crate) type HttpFuture<'a> = Pin<
    Box<
        dyn Future<
                Output = Result<
                    opentelemetry_http::Response<opentelemetry_http::Bytes>,
                    opentelemetry_http::HttpError,
                >,
            > + Send
            + 'a,
    >,
>;

type PlainConnector = hyper_util::client::legacy::connect::HttpConnector;
type HyperClient<C> = hyper_util::client::legacy::Client<C, http_body_util::Full<Bytes>>;

/// The hyper client of the HTTP paths: plain for `http://`, through a
/// rustls connector for `https://`. It reads at most
/// [`MAX_RESPONSE_BODY`] bytes of a response's body, and bounds each
/// request, its response's body included, by its timeout.
#[derive(Debug)]
pub(crate) struct HyperTransport {
    client: Connection,
    timeout: Duration,
}

#[derive(Debug)]
enum Connection {
    /// No TLS.
    Plain(HyperClient<PlainConnector>),
    /// TLS (and clear `http://` too, which it is never given).
    #[cfg(feature = "otlp-tls")]
    Tls(HyperClient<hyper_rustls::HttpsConnector<PlainConnector>>),
}

impl HyperTransport {
    /// A client with the request timeout `timeout`, over TLS when `tls` is
    /// given. Must be used inside a tokio runtime.
    pub(crate) fn new(timeout: Duration, tls: Option<&TlsClient>) -> HyperTransport {
        use hyper_util::client::legacy::Client;
        use hyper_util::rt::TokioExecutor;
        let client = match tls {
            None => Connection::Plain(Client::builder(TokioExecutor::new()).build_http()),
            #[cfg(feature = "otlp-tls")]
            Some(tls) => {
                Connection::Tls(Client::builder(TokioExecutor::new()).build(tls.https_connector()))
            }
            #[cfg(not(feature = "otlp-tls"))]
            Some(tls) => match *tls {},
        };
        HyperTransport { client, timeout }
    }

    /// Sends `request`; the response with at most [`MAX_RESPONSE_BODY`]
    /// bytes of its body (an empty body and [`BodyOverLimit`] in its
    /// extensions when the body is longer).
    pub(crate) async fn send(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, opentelemetry_http::HttpError> {
        use http_body_util::BodyExt as _;
        let request = request.map(http_body_util::Full::new);
        let exchange = async {
            let response = match &self.client {
                Connection::Plain(c) => c.request(request).await?,
                #[cfg(feature = "otlp-tls")]
                Connection::Tls(c) => c.request(request).await?,
            };
            let (mut parts, body) = response.into_parts();
            // `Limited` refuses the frame that would go over the bound,
            // before it is buffered; the rest is never read.
            let body = match http_body_util::Limited::new(body, MAX_RESPONSE_BODY)
                .collect()
                .await
            {
                Ok(collected) => collected.to_bytes(),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                    parts.extensions.insert(BodyOverLimit);
                    Bytes::new()
                }
                Err(e) => return Err(e),
            };
            Ok(http::Response::from_parts(parts, body))
        };
        match tokio::time::timeout(self.timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err("the request timed out".into()),
        }
    }
}

/// What a successful (2xx) response to a request of `signal` says of its
/// batch: its partial success (the body decoded as protobuf, or as JSON
/// for `http/json`). A body that does not decode rejects nothing: it is
/// counted in [`OtlpStats::unreadable_responses`](super::OtlpStats), and
/// the batch counts as delivered, as the status says. A body over
/// [`MAX_RESPONSE_BODY`] was discarded: an error (not retried), counted in
/// [`OtlpStats::discarded_responses`](super::OtlpStats).
pub(crate) fn read_answer(
    response: &http::Response<Bytes>,
    json: bool,
    signal: Signal,
) -> Result<PartialSuccess, String> {
    if response.extensions().get::<BodyOverLimit>().is_some() {
        return Err(discarded());
    }
    let body = response.body();
    Ok(readable(if json {
        json_response::partial_success(body, signal)
    } else {
        proto_response::partial_success(body)
    }))
}

/// Counts a response over [`MAX_RESPONSE_BODY`]; the failure that says so.
pub(crate) fn discarded() -> String {
    stats::DISCARDED_RESPONSES.fetch_add(1, Relaxed);
    format!(
        "the collector's response is over {} KiB: discarded, the batch not retried (OTLP: a \
         non-retryable error)",
        MAX_RESPONSE_BODY / 1024
    )
}

/// A decoded answer's partial success; an unreadable one (counted) rejects
/// nothing.
pub(crate) fn readable(answer: Result<PartialSuccess, &'static str>) -> PartialSuccess {
    answer.unwrap_or_else(|_| {
        stats::UNREADABLE_RESPONSES.fetch_add(1, Relaxed);
        PartialSuccess::default()
    })
}

/// Where the HTTP client under an `opentelemetry-otlp` exporter leaves what
/// the collector answered to the last successful request
/// ([`read_answer`]), for the batch's count: `opentelemetry-otlp` reads the
/// partial success only to log it. One batch is exported at a time, and a
/// success ends its retries: [`AnswerSlot::clear`] before the export,
/// [`AnswerSlot::take`] after it.
#[derive(Debug)]
pub(crate) struct AnswerSlot {
    signal: Signal,
    answer: Mutex<Option<Result<PartialSuccess, String>>>,
}

impl AnswerSlot {
    pub(crate) fn new(signal: Signal) -> AnswerSlot {
        AnswerSlot {
            signal,
            answer: Mutex::new(None),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Result<PartialSuccess, String>>> {
        self.answer.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn clear(&self) {
        *self.lock() = None;
    }

    fn set(&self, answer: Result<PartialSuccess, String>) {
        *self.lock() = Some(answer);
    }

    /// The last answer (all accepted when none was read: over gRPC).
    pub(crate) fn take(&self) -> Result<PartialSuccess, String> {
        self.lock().take().unwrap_or(Ok(PartialSuccess::default()))
    }
}

impl opentelemetry_http::HttpClient for HyperTransport {
    fn send_bytes<'life0, 'async_trait>(
        &'life0 self,
        request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> HttpFuture<'async_trait>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(self.send(request))
    }
}

/// Sets the configured gRPC metadata on each request, last, so it wins over
/// what `opentelemetry-otlp` read from the environment.
#[derive(Clone, Debug)]
struct MetadataInterceptor(Arc<tonic::metadata::MetadataMap>);

impl tonic::service::Interceptor for MetadataInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        use tonic::metadata::KeyAndValueRef;
        let md = req.metadata_mut();
        for kv in self.0.iter() {
            match kv {
                KeyAndValueRef::Ascii(k, v) => {
                    md.insert(k.clone(), v.clone());
                }
                KeyAndValueRef::Binary(k, v) => {
                    md.insert_bin(k.clone(), v.clone());
                }
            }
        }
        Ok(req)
    }
}

/// Hyper client under an `opentelemetry-otlp` exporter: sets the
/// configured headers on each request, last, so they win over what
/// `opentelemetry-otlp` read from the environment, and leaves what the
/// collector answered to a successful request in `answers`.
#[derive(Debug)]
struct HeaderClient {
    inner: HyperTransport,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    answers: Arc<AnswerSlot>,
}

impl opentelemetry_http::HttpClient for HeaderClient {
    fn send_bytes<'life0, 'async_trait>(
        &'life0 self,
        mut request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> HttpFuture<'async_trait>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        for (k, v) in &self.headers {
            request.headers_mut().insert(k.clone(), v.clone());
        }
        Box::pin(async move {
            let response = self.inner.send(request).await?;
            if response.status().is_success() {
                let answer = read_answer(&response, false, self.answers.signal);
                self.answers.set(answer);
            }
            Ok(response)
        })
    }
}

fn tonic_config<B: WithTonicConfig>(
    b: B,
    p: &Prepared,
    retry: &opentelemetry_otlp::RetryPolicy,
) -> B {
    let mut headers = http::HeaderMap::new();
    for (k, v) in &p.headers {
        headers.insert(k.clone(), v.clone());
    }
    let b = b
        .with_retry_policy(retry.clone())
        .with_interceptor(MetadataInterceptor(Arc::new(
            tonic::metadata::MetadataMap::from_headers(headers),
        )));
    #[cfg(feature = "otlp-tls")]
    let b = match &p.tls {
        Some(tls) => b.with_tls_config(tls.tonic_config(p.timeout)),
        None => b,
    };
    match p.compression {
        Some(Compression::Gzip) => b.with_compression(opentelemetry_otlp::Compression::Gzip),
        None => b,
    }
}

fn http_config<B: WithHttpConfig>(
    b: B,
    p: &Prepared,
    retry: &opentelemetry_otlp::RetryPolicy,
    answers: &Arc<AnswerSlot>,
) -> B {
    let client = HeaderClient {
        inner: HyperTransport::new(p.timeout, p.tls.as_deref()),
        headers: p.headers.clone(),
        answers: answers.clone(),
    };
    let b = b.with_retry_policy(retry.clone()).with_http_client(client);
    match p.compression {
        Some(Compression::Gzip) => b.with_compression(opentelemetry_otlp::Compression::Gzip),
        None => b,
    }
}

fn build_error(e: opentelemetry_otlp::ExporterBuildError) -> OtlpError {
    OtlpError::Setup(e.to_string())
}

/// Builds an opentelemetry-otlp exporter of either signal: their builders
/// are distinct types with the same methods. `http/json` never takes this
/// path (its requests are this crate's: `json.rs`).
macro_rules! build_exporter {
    ($exporter:path, $p:expr, $retry:expr, $answers:expr) => {{
        let (p, retry, answers) = ($p, $retry, $answers);
        let b = <$exporter>::builder();
        match p.protocol {
            Protocol::Grpc => tonic_config(b.with_tonic(), p, retry)
                .with_endpoint(p.endpoint.clone())
                .with_protocol(opentelemetry_otlp::Protocol::Grpc)
                .with_timeout(p.timeout)
                .build(),
            Protocol::HttpProtobuf => http_config(b.with_http(), p, retry, answers)
                .with_endpoint(p.endpoint.clone())
                .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                .with_timeout(p.timeout)
                .build(),
            Protocol::HttpJson => {
                return Err(OtlpError::Setup(
                    "http/json is sent by the JSON client, not opentelemetry-otlp".into(),
                ));
            }
        }
        .map_err(build_error)
    }};
}

/// The `opentelemetry-otlp` log exporter; over HTTP, its client leaves the
/// collector's answers in `answers`.
pub(super) fn build_log_exporter(
    p: &Prepared,
    retry: &opentelemetry_otlp::RetryPolicy,
    answers: &Arc<AnswerSlot>,
) -> Result<opentelemetry_otlp::LogExporter, OtlpError> {
    build_exporter!(opentelemetry_otlp::LogExporter, p, retry, answers)
}

/// The `opentelemetry-otlp` span exporter; over HTTP, its client leaves
/// the collector's answers in `answers`.
pub(super) fn build_span_exporter(
    p: &Prepared,
    retry: &opentelemetry_otlp::RetryPolicy,
    answers: &Arc<AnswerSlot>,
) -> Result<opentelemetry_otlp::SpanExporter, OtlpError> {
    build_exporter!(opentelemetry_otlp::SpanExporter, p, retry, answers)
}

/// Whether a signal's requests are encoded and sent by this crate's JSON
/// encoder and client (`http/json`), whatever the log encoder.
pub(super) fn is_json(p: &Prepared) -> bool {
    p.protocol == Protocol::HttpJson
}

/// The settings of the direct client of `signal` (log records: the direct
/// encoder's protobuf or JSON; spans: JSON only).
pub(super) fn wire_settings(p: &Prepared, signal: Signal, max_retries: usize) -> WireSettings {
    WireSettings {
        endpoint: p.endpoint.clone(),
        protocol: match p.protocol {
            Protocol::Grpc => WireProtocol::Grpc,
            Protocol::HttpProtobuf => WireProtocol::HttpProtobuf,
            Protocol::HttpJson => WireProtocol::HttpJson,
        },
        signal,
        headers: p.headers.clone(),
        timeout: p.timeout,
        gzip: p.compression == Some(Compression::Gzip),
        max_retries,
        tls: p.tls.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::OtlpExporter;
    use super::super::env::{
        OTEL_EXPORTER_OTLP_CLIENT_KEY, OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE,
    };
    use super::super::test_env::cfg;
    use super::*;

    #[test]
    fn new_validates_without_a_runtime() {
        assert!(OtlpExporter::new(OtlpConfig::default()).is_ok());
        for bad in ["ftp://c", "http://", "not a url"] {
            let e = OtlpExporter::new(OtlpConfig::default().endpoint(bad));
            assert!(
                matches!(e, Err(OtlpError::InvalidConfig { .. })),
                "{bad}: {e:?}"
            );
        }
        assert!(OtlpExporter::new(OtlpConfig::default().header("bad name", "v")).is_err());
        assert!(OtlpExporter::new(OtlpConfig::default().header("k", "a\nb")).is_err());
        assert!(OtlpExporter::new(OtlpConfig::default().timeout(Duration::ZERO)).is_err());
        assert!(OtlpExporter::new(OtlpConfig::default().batch_size(0)).is_err());
        // HTTP/protobuf needs a scheme; gRPC without one is `http://` when
        // insecure.
        for protocol in [Protocol::HttpProtobuf, Protocol::HttpJson] {
            let e = OtlpExporter::new(
                OtlpConfig::default()
                    .protocol(protocol)
                    .endpoint("localhost:4318"),
            );
            assert!(matches!(e, Err(OtlpError::InvalidConfig { .. })), "{e:?}");
            assert!(
                OtlpExporter::new(
                    OtlpConfig::default()
                        .protocol(protocol)
                        .endpoint("http://localhost:4318")
                )
                .is_ok()
            );
        }
        assert!(
            OtlpExporter::new(
                OtlpConfig::default()
                    .endpoint("localhost:4317")
                    .insecure(true)
            )
            .is_ok()
        );
        // Without TLS, `https://` (and a scheme-less gRPC endpoint that is
        // not insecure) is refused, saying which feature to enable.
        #[cfg(not(feature = "otlp-tls"))]
        for bad in ["https://c:4317", "localhost:4317"] {
            let e = OtlpExporter::new(OtlpConfig::default().endpoint(bad));
            match &e {
                Err(OtlpError::InvalidConfig { setting, reason }) => {
                    assert_eq!(*setting, "logs endpoint");
                    assert!(reason.contains("otlp-tls"), "{reason}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
        // A disabled signal is not validated.
        assert!(
            OtlpExporter::new(OtlpConfig::default().logs(false).logs_endpoint("https://x")).is_ok()
        );
        // Usable from inside a tokio runtime.
        let rt = tokio::runtime::Builder::new_current_thread().build();
        let Ok(rt) = rt else { return };
        let made = rt.block_on(async { OtlpExporter::new(OtlpConfig::default()).is_ok() });
        assert!(made);
    }

    #[test]
    fn client_key_and_certificate_come_together() {
        // Checked whatever the endpoint (an http:// one here).
        let c = cfg(&[(OTEL_EXPORTER_OTLP_CLIENT_KEY, "/k.pem")]);
        match OtlpExporter::new(c) {
            Err(OtlpError::InvalidEnv { var, reason }) => {
                assert_eq!(var, OTEL_EXPORTER_OTLP_CLIENT_KEY);
                assert!(reason.contains("client certificate"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let c = cfg(&[(OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE, "/c.pem")]);
        match OtlpExporter::new(c) {
            Err(OtlpError::InvalidEnv { var, .. }) => {
                assert_eq!(var, OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE);
            }
            other => panic!("{other:?}"),
        }
        match OtlpExporter::new(OtlpConfig::default().client_certificate("/c.pem")) {
            Err(OtlpError::InvalidConfig { setting, .. }) => {
                assert_eq!(setting, "client certificate");
            }
            other => panic!("{other:?}"),
        }
        // A disabled signal is not checked.
        let c = OtlpConfig::default()
            .client_key("/k.pem")
            .logs(false)
            .spans(false);
        assert!(OtlpExporter::new(c).is_ok());
        // Files of an http:// endpoint are not read.
        let c = OtlpConfig::default()
            .certificate("/does/not/exist.pem")
            .client_key("/nope.key")
            .client_certificate("/nope.pem");
        assert!(OtlpExporter::new(c).is_ok());
    }
}
