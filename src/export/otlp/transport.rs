//! How each signal reaches its collector: its validated settings
//! ([`Prepared`], made by [`prepare`] from the configuration), the hyper
//! client of the HTTP paths ([`HyperTransport`]), the `opentelemetry-otlp`
//! exporters of the SDK path built from them (with the configured headers
//! set last on each request), and the settings of the direct log client.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig, WithTonicConfig};

use super::client::{WireProtocol, WireSettings};
use super::config::{Compression, OtlpConfig, Protocol, Signal};
use super::error::{OtlpError, cfg_err};
use super::tls::{TlsClient, load_tls};

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

/// The hyper client of the HTTP paths: plain for `http://`, through a
/// rustls connector for `https://`.
#[derive(Debug)]
pub(crate) enum HyperTransport {
    /// No TLS.
    Plain(opentelemetry_http::hyper::HyperClient),
    /// TLS (and clear `http://` too, which it is never given).
    #[cfg(feature = "otlp-tls")]
    Tls(
        opentelemetry_http::hyper::HyperClient<
            hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
        >,
    ),
}

impl HyperTransport {
    /// A client with the request timeout `timeout`, over TLS when `tls` is
    /// given. Must be used inside a tokio runtime.
    pub(crate) fn new(timeout: Duration, tls: Option<&TlsClient>) -> HyperTransport {
        match tls {
            None => HyperTransport::Plain(
                opentelemetry_http::hyper::HyperClient::with_default_connector(timeout, None),
            ),
            #[cfg(feature = "otlp-tls")]
            Some(tls) => HyperTransport::Tls(opentelemetry_http::hyper::HyperClient::new(
                tls.https_connector(),
                timeout,
                None,
            )),
            #[cfg(not(feature = "otlp-tls"))]
            Some(tls) => match *tls {},
        }
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
        match self {
            HyperTransport::Plain(c) => c.send_bytes(request),
            #[cfg(feature = "otlp-tls")]
            HyperTransport::Tls(c) => c.send_bytes(request),
        }
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

/// Hyper client that sets the configured headers on each request, last, so
/// they win over what `opentelemetry-otlp` read from the environment.
#[derive(Debug)]
struct HeaderClient {
    inner: HyperTransport,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
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
        self.inner.send_bytes(request)
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
) -> B {
    let client = HeaderClient {
        inner: HyperTransport::new(p.timeout, p.tls.as_deref()),
        headers: p.headers.clone(),
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
    ($exporter:path, $p:expr, $retry:expr) => {{
        let (p, retry) = ($p, $retry);
        let b = <$exporter>::builder();
        match p.protocol {
            Protocol::Grpc => tonic_config(b.with_tonic(), p, retry)
                .with_endpoint(p.endpoint.clone())
                .with_protocol(opentelemetry_otlp::Protocol::Grpc)
                .with_timeout(p.timeout)
                .build(),
            Protocol::HttpProtobuf => http_config(b.with_http(), p, retry)
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

pub(super) fn build_log_exporter(
    p: &Prepared,
    retry: &opentelemetry_otlp::RetryPolicy,
) -> Result<opentelemetry_otlp::LogExporter, OtlpError> {
    build_exporter!(opentelemetry_otlp::LogExporter, p, retry)
}

pub(super) fn build_span_exporter(
    p: &Prepared,
    retry: &opentelemetry_otlp::RetryPolicy,
) -> Result<opentelemetry_otlp::SpanExporter, OtlpError> {
    build_exporter!(opentelemetry_otlp::SpanExporter, p, retry)
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
