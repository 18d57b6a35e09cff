//! The configuration of the OTLP exporter: [`OtlpConfig`] (per signal, the
//! environment applied, then the builder methods) and the types of its
//! settings, the defaults, and how a signal's endpoint is resolved.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use super::error::{OtlpError, cfg_err, env_err};

/// Default gRPC endpoint.
pub const DEFAULT_GRPC_ENDPOINT: &str = "http://localhost:4317";
/// Default HTTP endpoint (the signal's path is appended).
pub const DEFAULT_HTTP_ENDPOINT: &str = "http://localhost:4318";
/// Default exporter timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default number of records (or spans) per request.
pub const DEFAULT_BATCH_SIZE: usize = 512;
/// Default queue size.
pub const DEFAULT_MAX_QUEUE_SIZE: usize = 2048;
/// Default bound of one batch's export.
pub const DEFAULT_EXPORT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default delay between two sends of log records.
pub const DEFAULT_LOGS_SCHEDULE_DELAY: Duration = Duration::from_millis(1000);
/// Default delay between two sends of spans.
pub const DEFAULT_SPANS_SCHEDULE_DELAY: Duration = Duration::from_millis(5000);
/// Default number of retries of a failed request (throttling, unavailable).
pub const DEFAULT_MAX_RETRIES: usize = 3;

/// The OTLP transport and encoding, named as the specification's
/// `OTEL_EXPORTER_OTLP_PROTOCOL` names them ([`Protocol::as_str`];
/// [`str::parse`] reads those names).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Protocol {
    /// OTLP/gRPC (`grpc`).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (`http/protobuf`).
    HttpProtobuf,
    /// OTLP/HTTP with JSON bodies (`http/json`): the OTLP JSON encoding
    /// (lowerCamelCase names, hex trace and span ids, 64-bit integers as
    /// decimal strings, enums as integers), `Content-Type:
    /// application/json`, on the same `/v1/logs` and `/v1/traces` paths,
    /// endpoints, compression and retries as `http/protobuf`.
    HttpJson,
}

impl Protocol {
    /// The specification's name: `grpc`, `http/protobuf` or `http/json`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
            Protocol::HttpJson => "http/json",
        }
    }

    /// Whether the protocol is OTLP/HTTP (a base endpoint gets the signal's
    /// path; the default endpoint is [`DEFAULT_HTTP_ENDPOINT`]).
    pub(super) const fn is_http(self) -> bool {
        matches!(self, Protocol::HttpProtobuf | Protocol::HttpJson)
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Protocol {
    type Err = OtlpError;

    /// Reads `grpc`, `http/protobuf` or `http/json` (ASCII case and
    /// surrounding spaces ignored); any other text is an
    /// [`OtlpError::InvalidConfig`] for the setting `protocol`.
    fn from_str(s: &str) -> Result<Protocol, OtlpError> {
        let name = s.trim();
        [Protocol::Grpc, Protocol::HttpProtobuf, Protocol::HttpJson]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                cfg_err(
                    "protocol",
                    format!(
                        "unknown protocol {name:?}; expected `grpc`, `http/protobuf` or `http/json`"
                    ),
                )
            })
    }
}

/// Request compression.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Compression {
    /// gzip.
    Gzip,
}

/// How log records are turned into OTLP protobuf requests (see the
/// [module docs](super#log-encoders)). [`Protocol::HttpJson`] has one
/// path, this crate's JSON encoder and client, whichever is chosen here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LogEncoder {
    /// This crate's protobuf encoder and client: no allocation per record.
    #[default]
    Direct,
    /// `opentelemetry-otlp`'s conversion of SDK log records.
    Sdk,
}

/// A signal, for the per-signal getters of [`OtlpConfig`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// Log records.
    Logs,
    /// Spans.
    Traces,
}

impl Signal {
    fn http_path(self) -> &'static str {
        match self {
            Signal::Logs => "/v1/logs",
            Signal::Traces => "/v1/traces",
        }
    }
}

/// How one signal is batched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchConfig {
    /// Records (or spans) per request; at least 1.
    pub max_export_batch_size: usize,
    /// A batch is sent at the latest this long after its first record.
    pub schedule_delay: Duration,
    /// Bound of one batch's export, retries included.
    pub export_timeout: Duration,
    /// The OpenTelemetry queue size. This exporter holds at most one batch
    /// (the engine's queue is in front of it), so the value only caps
    /// `max_export_batch_size`.
    pub max_queue_size: usize,
}

impl BatchConfig {
    /// The specification's defaults for log records.
    pub const fn logs_default() -> BatchConfig {
        BatchConfig {
            max_export_batch_size: DEFAULT_BATCH_SIZE,
            schedule_delay: DEFAULT_LOGS_SCHEDULE_DELAY,
            export_timeout: DEFAULT_EXPORT_TIMEOUT,
            max_queue_size: DEFAULT_MAX_QUEUE_SIZE,
        }
    }

    /// The specification's defaults for spans.
    pub const fn spans_default() -> BatchConfig {
        BatchConfig {
            schedule_delay: DEFAULT_SPANS_SCHEDULE_DELAY,
            ..BatchConfig::logs_default()
        }
    }

    /// The batch size in effect: `max_export_batch_size` capped by
    /// `max_queue_size`, at least 1.
    pub fn effective_batch_size(&self) -> usize {
        self.max_export_batch_size.min(self.max_queue_size).max(1)
    }
}

/// Where an endpoint came from in the environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum EnvEndpoint {
    /// No variable: the protocol's default base.
    Default,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`: a base.
    Base(String),
    /// The signal's own variable: used as is.
    Exact(String),
}

/// One signal's settings, the environment applied.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct SignalConfig {
    pub(super) env_endpoint: EnvEndpoint,
    /// Builder's per-signal endpoint, used as is.
    endpoint: Option<String>,
    pub(super) protocol: Protocol,
    pub(super) headers: Vec<(String, String)>,
    pub(super) timeout: Duration,
    pub(super) compression: Option<Compression>,
    pub(super) batch: BatchConfig,
    pub(super) tls: TlsFiles,
}

/// Where a setting came from, for its errors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin {
    /// An environment variable.
    Env(&'static str),
    /// A builder method: the setting's name.
    Builder(&'static str),
}

impl Origin {
    pub(super) fn error(self, reason: impl Into<String>) -> OtlpError {
        match self {
            Origin::Env(var) => env_err(var, reason),
            Origin::Builder(setting) => cfg_err(setting, reason),
        }
    }
}

/// A PEM file's path and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct PemFile {
    pub(super) path: PathBuf,
    pub(super) origin: Origin,
}

/// One signal's TLS settings. The files are read by
/// [`OtlpExporter::new`](super::OtlpExporter::new).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct TlsFiles {
    /// CA certificates; `None`: the system's roots.
    pub(super) certificate: Option<PemFile>,
    pub(super) client_certificate: Option<PemFile>,
    pub(super) client_key: Option<PemFile>,
    /// A gRPC endpoint without a scheme is `http://` (else `https://`).
    pub(super) insecure: bool,
}

/// Configuration of an [`OtlpExporter`](super::OtlpExporter): the
/// environment (see the [module docs](super)), overridden by the builder
/// methods.
#[derive(Clone, Debug, PartialEq)]
pub struct OtlpConfig {
    pub(super) logs: SignalConfig,
    pub(super) traces: SignalConfig,
    /// Builder's generic endpoint (a base).
    endpoint: Option<String>,
    pub(super) logs_enabled: bool,
    pub(super) spans_enabled: bool,
    pub(super) max_retries: usize,
    pub(super) log_encoder: LogEncoder,
}

impl Default for OtlpConfig {
    /// The defaults, without reading the environment.
    fn default() -> OtlpConfig {
        let signal = |batch| SignalConfig {
            env_endpoint: EnvEndpoint::Default,
            endpoint: None,
            protocol: Protocol::Grpc,
            headers: Vec::new(),
            timeout: DEFAULT_TIMEOUT,
            compression: None,
            batch,
            tls: TlsFiles::default(),
        };
        OtlpConfig {
            logs: signal(BatchConfig::logs_default()),
            traces: signal(BatchConfig::spans_default()),
            endpoint: None,
            logs_enabled: true,
            spans_enabled: true,
            max_retries: DEFAULT_MAX_RETRIES,
            log_encoder: LogEncoder::default(),
        }
    }
}

impl OtlpConfig {
    pub(super) fn signal_cfg(&self, signal: Signal) -> &SignalConfig {
        match signal {
            Signal::Logs => &self.logs,
            Signal::Traces => &self.traces,
        }
    }

    fn both(&mut self, mut f: impl FnMut(&mut SignalConfig)) {
        f(&mut self.logs);
        f(&mut self.traces);
    }

    /// Sets the base endpoint of both signals (HTTP appends `/v1/logs` or
    /// `/v1/traces`); wins over every endpoint variable.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Sets the endpoint of logs, used as is; wins over [`Self::endpoint`].
    pub fn logs_endpoint(mut self, url: impl Into<String>) -> Self {
        self.logs.endpoint = Some(url.into());
        self
    }

    /// Sets the endpoint of traces, used as is; wins over [`Self::endpoint`].
    pub fn traces_endpoint(mut self, url: impl Into<String>) -> Self {
        self.traces.endpoint = Some(url.into());
        self
    }

    /// Sets the protocol of both signals.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.both(|s| s.protocol = protocol);
        self
    }

    /// Adds a header (gRPC metadata) to both signals' requests, replacing one
    /// of the same name (case-insensitive) from the environment.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let (name, value) = (name.into().to_ascii_lowercase(), value.into());
        self.both(|s| set_header(&mut s.headers, name.clone(), value.clone()));
        self
    }

    /// Adds headers, as [`Self::header`] does for each.
    pub fn headers<K, V>(mut self, headers: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        for (k, v) in headers {
            self = self.header(k, v);
        }
        self
    }

    /// Sets the timeout of one request, retries included, for both signals.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.both(|s| s.timeout = timeout);
        self
    }

    /// Sets the compression of both signals (`None`: uncompressed; see the
    /// [module docs](super) for the one case where the environment wins).
    pub fn compression(mut self, compression: Option<Compression>) -> Self {
        self.both(|s| s.compression = compression);
        self
    }

    /// Sets the PEM file of the CA certificates that verify the collector's
    /// certificate, for both signals (default: the system's roots). Read by
    /// [`OtlpExporter::new`](super::OtlpExporter::new), and only for an `https://` endpoint.
    pub fn certificate(mut self, path: impl Into<PathBuf>) -> Self {
        let file = pem_file(path, "certificate");
        self.both(|s| s.tls.certificate = Some(file.clone()));
        self
    }

    /// Sets the PEM file of the client's certificate chain for mutual TLS,
    /// for both signals; needs [`Self::client_key`].
    pub fn client_certificate(mut self, path: impl Into<PathBuf>) -> Self {
        let file = pem_file(path, "client certificate");
        self.both(|s| s.tls.client_certificate = Some(file.clone()));
        self
    }

    /// Sets the PEM file of the client's private key (PKCS#8, PKCS#1 or
    /// SEC1) for mutual TLS, for both signals; needs
    /// [`Self::client_certificate`].
    pub fn client_key(mut self, path: impl Into<PathBuf>) -> Self {
        let file = pem_file(path, "client key");
        self.both(|s| s.tls.client_key = Some(file.clone()));
        self
    }

    /// Sets how a gRPC endpoint given without a scheme (`host:port`) is
    /// reached, for both signals: `false` (the default), over TLS
    /// (`https://`); `true`, in the clear (`http://`). An endpoint with a
    /// scheme, and every OTLP/HTTP endpoint, are not affected.
    pub fn insecure(mut self, insecure: bool) -> Self {
        self.both(|s| s.tls.insecure = insecure);
        self
    }

    /// Whether log records are exported (default true).
    pub fn logs(mut self, enabled: bool) -> Self {
        self.logs_enabled = enabled;
        self
    }

    /// Whether spans are exported (default true).
    pub fn spans(mut self, enabled: bool) -> Self {
        self.spans_enabled = enabled;
        self
    }

    /// Sets the records (and spans) per request of both signals.
    pub fn batch_size(mut self, size: usize) -> Self {
        self.both(|s| s.batch.max_export_batch_size = size);
        self
    }

    /// Sets the longest wait before a batch is sent, for both signals.
    pub fn schedule_delay(mut self, delay: Duration) -> Self {
        self.both(|s| s.batch.schedule_delay = delay);
        self
    }

    /// Sets the queue size of both signals (it caps the batch size).
    pub fn max_queue_size(mut self, size: usize) -> Self {
        self.both(|s| s.batch.max_queue_size = size);
        self
    }

    /// Sets the bound of one batch's export, for both signals.
    pub fn export_timeout(mut self, timeout: Duration) -> Self {
        self.both(|s| s.batch.export_timeout = timeout);
        self
    }

    /// Sets the whole batching of log records.
    pub fn logs_batch(mut self, batch: BatchConfig) -> Self {
        self.logs.batch = batch;
        self
    }

    /// Sets the whole batching of spans.
    pub fn spans_batch(mut self, batch: BatchConfig) -> Self {
        self.traces.batch = batch;
        self
    }

    /// Sets how many times a throttled or failed request is retried, with
    /// exponential backoff from 100 ms up to 1.6 s (or what the collector
    /// asks for), within the timeout. 0 disables retries.
    pub fn max_retries(mut self, retries: usize) -> Self {
        self.max_retries = retries;
        self
    }

    /// Sets how log records are encoded and sent over gRPC and
    /// HTTP/protobuf (default [`LogEncoder::Direct`]); spans take the SDK
    /// path there. Over [`Protocol::HttpJson`] log records and spans both
    /// go through this crate's JSON encoder, whatever is set here.
    pub fn log_encoder(mut self, encoder: LogEncoder) -> Self {
        self.log_encoder = encoder;
        self
    }

    /// The log encoder in effect.
    pub fn log_encoder_in_use(&self) -> LogEncoder {
        self.log_encoder
    }

    /// The endpoint a signal is sent to, all layers applied. A gRPC
    /// endpoint configured without a scheme (`host:port`) comes back with
    /// `https://`, or `http://` when [`Self::insecure_for`] it.
    pub fn endpoint_for(&self, signal: Signal) -> String {
        let s = self.signal_cfg(signal);
        let e = self.configured_endpoint(signal);
        if s.protocol == Protocol::Grpc && !has_scheme(&e) {
            let scheme = if s.tls.insecure { "http" } else { "https" };
            return format!("{scheme}://{e}");
        }
        e
    }

    /// The endpoint as configured (before a scheme is added).
    fn configured_endpoint(&self, signal: Signal) -> String {
        let s = self.signal_cfg(signal);
        let join = |base: &str| {
            if s.protocol.is_http() {
                format!("{}{}", base.trim_end_matches('/'), signal.http_path())
            } else {
                base.to_string()
            }
        };
        if let Some(e) = &s.endpoint {
            return e.clone();
        }
        if let Some(b) = &self.endpoint {
            return join(b);
        }
        match &s.env_endpoint {
            EnvEndpoint::Exact(e) => e.clone(),
            EnvEndpoint::Base(b) => join(b),
            EnvEndpoint::Default => join(if s.protocol.is_http() {
                DEFAULT_HTTP_ENDPOINT
            } else {
                DEFAULT_GRPC_ENDPOINT
            }),
        }
    }

    /// A signal's protocol.
    pub fn protocol_for(&self, signal: Signal) -> Protocol {
        self.signal_cfg(signal).protocol
    }

    /// A signal's headers (names in lower case).
    pub fn headers_for(&self, signal: Signal) -> &[(String, String)] {
        &self.signal_cfg(signal).headers
    }

    /// A signal's request timeout.
    pub fn timeout_for(&self, signal: Signal) -> Duration {
        self.signal_cfg(signal).timeout
    }

    /// A signal's compression.
    pub fn compression_for(&self, signal: Signal) -> Option<Compression> {
        self.signal_cfg(signal).compression
    }

    /// A signal's batching.
    pub fn batch_for(&self, signal: Signal) -> BatchConfig {
        self.signal_cfg(signal).batch
    }

    /// The PEM file of a signal's CA certificates (`None`: the system's
    /// roots).
    pub fn certificate_for(&self, signal: Signal) -> Option<&Path> {
        self.signal_cfg(signal)
            .tls
            .certificate
            .as_ref()
            .map(|f| f.path.as_path())
    }

    /// The PEM file of a signal's client certificate (mutual TLS).
    pub fn client_certificate_for(&self, signal: Signal) -> Option<&Path> {
        self.signal_cfg(signal)
            .tls
            .client_certificate
            .as_ref()
            .map(|f| f.path.as_path())
    }

    /// The PEM file of a signal's client key (mutual TLS).
    pub fn client_key_for(&self, signal: Signal) -> Option<&Path> {
        self.signal_cfg(signal)
            .tls
            .client_key
            .as_ref()
            .map(|f| f.path.as_path())
    }

    /// Whether a signal's gRPC endpoint given without a scheme is reached in
    /// the clear.
    pub fn insecure_for(&self, signal: Signal) -> bool {
        self.signal_cfg(signal).tls.insecure
    }

    /// Whether log records are exported.
    pub fn logs_enabled(&self) -> bool {
        self.logs_enabled
    }

    /// Whether spans are exported.
    pub fn spans_enabled(&self) -> bool {
        self.spans_enabled
    }
}

fn pem_file(path: impl Into<PathBuf>, setting: &'static str) -> PemFile {
    PemFile {
        path: path.into(),
        origin: Origin::Builder(setting),
    }
}

/// One signal's settings from the OpenTelemetry configuration file (the
/// wiring in `config::file`): every field given replaces the default.
#[cfg(feature = "config-file")]
#[derive(Clone, Debug)]
pub(crate) struct FileSignal {
    pub(crate) protocol: Protocol,
    /// Used as is (the file's HTTP endpoints carry the signal's path).
    pub(crate) endpoint: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) compression: Option<Option<Compression>>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) certificate: Option<PathBuf>,
    pub(crate) client_certificate: Option<PathBuf>,
    pub(crate) client_key: Option<PathBuf>,
    pub(crate) insecure: Option<bool>,
    pub(crate) batch: BatchConfig,
}

#[cfg(feature = "config-file")]
impl OtlpConfig {
    /// Applies one signal's settings from the configuration file.
    pub(crate) fn apply_file_signal(&mut self, signal: Signal, f: FileSignal) {
        let s = match signal {
            Signal::Logs => &mut self.logs,
            Signal::Traces => &mut self.traces,
        };
        s.protocol = f.protocol;
        if let Some(e) = f.endpoint {
            s.endpoint = Some(e);
        }
        for (k, v) in f.headers {
            set_header(&mut s.headers, k.to_ascii_lowercase(), v);
        }
        if let Some(c) = f.compression {
            s.compression = c;
        }
        if let Some(t) = f.timeout {
            s.timeout = t;
        }
        if let Some(p) = f.certificate {
            s.tls.certificate = Some(pem_file(p, "tls.ca_file"));
        }
        if let Some(p) = f.client_certificate {
            s.tls.client_certificate = Some(pem_file(p, "tls.cert_file"));
        }
        if let Some(p) = f.client_key {
            s.tls.client_key = Some(pem_file(p, "tls.key_file"));
        }
        if let Some(i) = f.insecure {
            s.tls.insecure = i;
        }
        s.batch = f.batch;
    }
}

/// Whether `endpoint` starts with a scheme (`scheme://`), the rule of
/// `opentelemetry-otlp`.
fn has_scheme(endpoint: &str) -> bool {
    endpoint
        .split_once("://")
        .is_some_and(|(scheme, _)| !scheme.contains(['/', '?', '#']))
}

pub(super) fn set_header(headers: &mut Vec<(String, String)>, name: String, value: String) {
    match headers
        .iter_mut()
        .find(|(k, _)| k.eq_ignore_ascii_case(&name))
    {
        Some(slot) => slot.1 = value,
        None => headers.push((name, value)),
    }
}

#[cfg(test)]
mod tests {
    use super::super::OtlpExporter;
    use super::super::env::{
        OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_INSECURE, OTEL_EXPORTER_OTLP_PROTOCOL,
        OTEL_EXPORTER_OTLP_TRACES_INSECURE,
    };
    use super::super::test_env::cfg;
    use super::*;

    #[test]
    fn defaults() {
        let c = cfg(&[]);
        assert_eq!(c, OtlpConfig::default());
        assert_eq!(c.endpoint_for(Signal::Logs), "http://localhost:4317");
        assert_eq!(c.endpoint_for(Signal::Traces), "http://localhost:4317");
        assert_eq!(c.protocol_for(Signal::Logs), Protocol::Grpc);
        assert_eq!(c.timeout_for(Signal::Logs), Duration::from_secs(10));
        assert_eq!(c.compression_for(Signal::Traces), None);
        assert_eq!(c.batch_for(Signal::Logs), BatchConfig::logs_default());
        assert_eq!(
            c.batch_for(Signal::Logs).schedule_delay,
            Duration::from_millis(1000)
        );
        assert_eq!(
            c.batch_for(Signal::Traces).schedule_delay,
            Duration::from_millis(5000)
        );
        assert_eq!(c.batch_for(Signal::Traces).max_export_batch_size, 512);
        assert!(c.logs_enabled() && c.spans_enabled());
        let http = c.protocol(Protocol::HttpProtobuf);
        assert_eq!(
            http.endpoint_for(Signal::Logs),
            "http://localhost:4318/v1/logs"
        );
        assert_eq!(
            http.endpoint_for(Signal::Traces),
            "http://localhost:4318/v1/traces"
        );
    }

    #[test]
    fn scheme_less_grpc_endpoints() {
        let c = cfg(&[(OTEL_EXPORTER_OTLP_ENDPOINT, "collector:4317")]);
        assert_eq!(c.endpoint_for(Signal::Logs), "https://collector:4317");
        assert!(!c.insecure_for(Signal::Logs));
        let c = cfg(&[
            (OTEL_EXPORTER_OTLP_ENDPOINT, "collector:4317"),
            (OTEL_EXPORTER_OTLP_INSECURE, "true"),
            (OTEL_EXPORTER_OTLP_TRACES_INSECURE, "false"),
        ]);
        assert_eq!(c.endpoint_for(Signal::Logs), "http://collector:4317");
        assert_eq!(c.endpoint_for(Signal::Traces), "https://collector:4317");
        // The builder wins; a scheme is never changed.
        let c = c.insecure(false);
        assert_eq!(c.endpoint_for(Signal::Logs), "https://collector:4317");
        let c = c.insecure(true).logs_endpoint("https://l:1");
        assert_eq!(c.endpoint_for(Signal::Logs), "https://l:1");
        assert_eq!(c.endpoint_for(Signal::Traces), "http://collector:4317");
        // HTTP/protobuf: left as is (and refused by `OtlpExporter::new`).
        let c = cfg(&[
            (OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf"),
            (OTEL_EXPORTER_OTLP_ENDPOINT, "collector:4318"),
            (OTEL_EXPORTER_OTLP_INSECURE, "true"),
        ]);
        assert_eq!(c.endpoint_for(Signal::Logs), "collector:4318/v1/logs");
        assert!(OtlpExporter::new(c).is_err());
    }
}
