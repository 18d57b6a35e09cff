//! The direct log client: [`WireClient`] sends the encoded bytes over
//! OTLP/gRPC (a unary call to
//! `opentelemetry.proto.collector.logs.v1.LogsService/Export` through a tonic
//! [`Channel`] with a codec that passes the bytes through and hands the
//! response's bytes back, gzip when configured) or OTLP/HTTP (a `POST` of
//! `application/x-protobuf`, or of `application/json` for `http/json`,
//! gzip-compressed with `flate2` when configured, through the same hyper
//! client as the SDK path). Throttled and unavailable collectors are retried
//! as [`super::retry`] says. The response's partial success is read on
//! every protocol ([`super::proto_response`], [`super::json_response`]):
//! a body that cannot be read is a full success, as its status says
//! (counted in `unreadable_responses`); a body over
//! [`MAX_RESPONSE_BODY`] (gRPC: a response message over it) is discarded
//! unread past the bound and fails the batch without a retry, as the OTLP
//! specification says.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf as _, BufMut as _, Bytes};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

use super::config::Signal;
use super::proto_response;
use super::retry::{Attempt, classify_grpc, classify_http};
use super::stats::PartialSuccess;
use super::tls::TlsClient;
use super::transport::{HyperTransport, MAX_RESPONSE_BODY, discarded, read_answer, readable};

/// The gRPC method of log exports.
const EXPORT_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// A gRPC codec that sends pre-encoded bytes and hands the response's
/// bytes back (tonic bounds them: `max_decoding_message_size`).
#[derive(Clone, Copy, Debug, Default)]
struct RawCodec;

/// [`RawCodec`]'s encoder: copies the bytes.
#[derive(Clone, Copy, Debug, Default)]
struct RawEncoder;

/// [`RawCodec`]'s decoder: the message's bytes.
#[derive(Clone, Copy, Debug, Default)]
struct RawDecoder;

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;

    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }

    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

impl Encoder for RawEncoder {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.reserve(item.len());
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n)))
    }
}

/// The transport of [`WireClient`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WireProtocol {
    /// OTLP/gRPC (log records only).
    Grpc,
    /// OTLP/HTTP with a protobuf body.
    HttpProtobuf,
    /// OTLP/HTTP with a JSON body.
    HttpJson,
}

/// What a [`WireClient`] is made from.
#[derive(Clone, Debug)]
pub(crate) struct WireSettings {
    /// gRPC: the collector's URL; HTTP: the full URL of the signal's
    /// endpoint.
    pub(crate) endpoint: String,
    pub(crate) protocol: WireProtocol,
    /// What the requests carry (gRPC: log records only).
    pub(crate) signal: Signal,
    /// Headers (gRPC metadata) set on every request, last.
    pub(crate) headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Bound of one export, retries included.
    pub(crate) timeout: Duration,
    pub(crate) gzip: bool,
    pub(crate) max_retries: usize,
    /// TLS of an `https://` endpoint; `None` for `http://`.
    pub(crate) tls: Option<Arc<TlsClient>>,
}

enum Inner {
    Grpc {
        channel: Channel,
        metadata: tonic::metadata::MetadataMap,
    },
    Http {
        /// Boxed: much larger than the gRPC variant.
        client: Box<HyperTransport>,
        uri: http::Uri,
        headers: http::HeaderMap,
        /// `http/json`: JSON bodies (and responses).
        json: bool,
    },
}

/// Sends encoded requests to a collector: `ExportLogsServiceRequest`s
/// (gRPC, HTTP/protobuf, HTTP/JSON) or `ExportTraceServiceRequest`s
/// (HTTP/JSON).
pub(crate) struct WireClient {
    inner: Inner,
    signal: Signal,
    pub(super) timeout: Duration,
    gzip: bool,
    pub(super) max_retries: usize,
}

impl std::fmt::Debug for WireClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let protocol = match self.inner {
            Inner::Grpc { .. } => "grpc",
            Inner::Http { json: false, .. } => "http/protobuf",
            Inner::Http { json: true, .. } => "http/json",
        };
        f.debug_struct("WireClient")
            .field("protocol", &protocol)
            .field("signal", &self.signal)
            .field("timeout", &self.timeout)
            .field("gzip", &self.gzip)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

/// Why an export failed (after its retries).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExportFailure {
    /// Requests made.
    pub(crate) attempts: usize,
    /// The last error.
    pub(crate) message: String,
}

impl std::fmt::Display for ExportFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (after {} attempts)", self.message, self.attempts)
    }
}

impl WireClient {
    /// A client for `settings`. The gRPC channel connects lazily, at the
    /// first export; it must be made inside a tokio runtime's context.
    pub(crate) fn new(settings: &WireSettings) -> Result<WireClient, String> {
        let mut headers = http::HeaderMap::new();
        for (k, v) in &settings.headers {
            headers.insert(k.clone(), v.clone());
        }
        let inner = match settings.protocol {
            WireProtocol::Grpc => {
                let mut endpoint =
                    tonic::transport::Endpoint::from_shared(settings.endpoint.clone())
                        .map_err(|e| format!("invalid endpoint {:?}: {e}", settings.endpoint))?
                        .timeout(settings.timeout);
                if let Some(tls) = &settings.tls {
                    endpoint = tls.grpc_endpoint(endpoint, settings.timeout)?;
                }
                Inner::Grpc {
                    channel: endpoint.connect_lazy(),
                    metadata: tonic::metadata::MetadataMap::from_headers(headers),
                }
            }
            WireProtocol::HttpProtobuf | WireProtocol::HttpJson => Inner::Http {
                client: Box::new(HyperTransport::new(
                    settings.timeout,
                    settings.tls.as_deref(),
                )),
                uri: settings
                    .endpoint
                    .parse()
                    .map_err(|e| format!("invalid endpoint {:?}: {e}", settings.endpoint))?,
                headers,
                json: settings.protocol == WireProtocol::HttpJson,
            },
        };
        Ok(WireClient {
            inner,
            signal: settings.signal,
            timeout: settings.timeout,
            gzip: settings.gzip,
            max_retries: settings.max_retries,
        })
    }

    /// Sends one encoded request (`ExportLogsServiceRequest` or, over
    /// HTTP, `ExportTraceServiceRequest`), retrying as the OTLP
    /// specification says within the timeout (never after a success, a
    /// partial one included); what the collector said of it: its partial
    /// success.
    pub(crate) async fn export(&self, request: Bytes) -> Result<PartialSuccess, ExportFailure> {
        match &self.inner {
            Inner::Grpc { channel, metadata } => {
                let body = request;
                let response = self
                    .with_retries(|remaining| {
                        grpc_attempt(channel, metadata, &body, self.gzip, remaining)
                    })
                    .await?;
                // The status said OK: a message that cannot be read rejects
                // nothing.
                Ok(readable(proto_response::partial_success(&response)))
            }
            Inner::Http {
                client,
                uri,
                headers,
                json,
            } => {
                let body = if self.gzip {
                    gzip(&request).map_err(|e| ExportFailure {
                        attempts: 0,
                        message: format!("gzip: {e}"),
                    })?
                } else {
                    request
                };
                let content_type = if *json {
                    "application/json"
                } else {
                    "application/x-protobuf"
                };
                let request = HttpRequest {
                    uri,
                    headers,
                    body: &body,
                    content_type,
                    gzip: self.gzip,
                    json: *json,
                    signal: self.signal,
                };
                self.with_retries(|_| http_attempt(client, &request)).await
            }
        }
    }
}

fn gzip(data: &[u8]) -> std::io::Result<Bytes> {
    use std::io::Write as _;
    let mut enc = flate2::write::GzEncoder::new(
        Vec::with_capacity(data.len() / 4 + 64),
        flate2::Compression::default(),
    );
    enc.write_all(data)?;
    enc.finish().map(Bytes::from)
}

/// One unary call; the response message's bytes when it succeeds.
async fn grpc_attempt(
    channel: &Channel,
    metadata: &tonic::metadata::MetadataMap,
    body: &Bytes,
    gzip: bool,
    remaining: Duration,
) -> Result<Bytes, Attempt> {
    let mut grpc =
        tonic::client::Grpc::new(channel.clone()).max_decoding_message_size(MAX_RESPONSE_BODY);
    if gzip {
        grpc = grpc.send_compressed(tonic::codec::CompressionEncoding::Gzip);
    }
    grpc.ready()
        .await
        .map_err(|e| Attempt::Retryable(format!("gRPC channel not ready: {e}")))?;
    let mut request =
        tonic::Request::from_parts(metadata.clone(), tonic::Extensions::default(), body.clone());
    request.set_timeout(remaining);
    let path = http::uri::PathAndQuery::from_static(EXPORT_PATH);
    match grpc.unary(request, path, RawCodec).await {
        Ok(response) => Ok(response.into_inner()),
        Err(status) if over_limit(&status) => Err(Attempt::Fatal(discarded())),
        Err(status) => Err(classify_grpc(&status)),
    }
}

/// Whether `status` is tonic's own refusal of a response message over
/// `max_decoding_message_size` (before or after decompression), rather
/// than the collector's status: tonic reads the message's length before
/// the call's status, which comes after the message, and refuses it at
/// once. (tonic says so only in the message's text; the collector sends a
/// message only for a successful call, and `OUT_OF_RANGE` would otherwise
/// be retried.)
fn over_limit(status: &tonic::Status) -> bool {
    use tonic::Code;
    let m = status.message();
    match status.code() {
        Code::OutOfRange => m.starts_with("Error, decoded message length too large"),
        Code::ResourceExhausted => m.starts_with("Error decompressing: size limit"),
        _ => false,
    }
}

/// What an HTTP attempt sends, and how its answer is read.
struct HttpRequest<'a> {
    uri: &'a http::Uri,
    headers: &'a http::HeaderMap,
    body: &'a Bytes,
    content_type: &'static str,
    gzip: bool,
    /// The answer is JSON (`http/json`), else protobuf.
    json: bool,
    signal: Signal,
}

/// One POST; the partial success of its answer when its status is a
/// success (a discarded answer fails it, not to be retried).
async fn http_attempt(
    client: &HyperTransport,
    r: &HttpRequest<'_>,
) -> Result<PartialSuccess, Attempt> {
    let mut request = http::Request::new(r.body.clone());
    *request.method_mut() = http::Method::POST;
    *request.uri_mut() = r.uri.clone();
    let h = request.headers_mut();
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(r.content_type),
    );
    if r.gzip {
        h.insert(
            http::header::CONTENT_ENCODING,
            http::HeaderValue::from_static("gzip"),
        );
    }
    for (k, v) in r.headers {
        h.insert(k.clone(), v.clone());
    }
    match client.send(request).await {
        Err(e) => Err(Attempt::Retryable(format!("HTTP request failed: {e}"))),
        Ok(resp) if resp.status().is_success() => {
            read_answer(&resp, r.json, r.signal).map_err(Attempt::Fatal)
        }
        Ok(resp) => {
            let retry_after = resp
                .headers()
                .get(http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok());
            Err(classify_http(resp.status().as_u16(), retry_after))
        }
    }
}
