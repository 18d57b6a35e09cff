//! How the exporter reaches its collectors: the hyper client of the HTTP
//! paths ([`HyperTransport`]), shared by the SDK path and the direct client.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use super::tls::TlsClient;

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
