//! TLS of the OTLP exporter: one signal's TLS client settings
//! ([`TlsClient`]), made by [`load_tls`] from the configured files when the
//! exporter is made.
//!
//! With the `otlp-tls` feature, an `https://` endpoint is reached over TLS
//! (rustls, the `ring` provider unless the process installed another default
//! rustls `CryptoProvider`). [`TlsClient`] holds what one signal
//! needs, loaded and checked when the exporter is made: the trust anchors
//! (the configured CA file, or the system's roots) and the optional client
//! certificate and key of mutual TLS. The gRPC channel gets them as a tonic
//! `ClientTlsConfig`; the HTTP client
//! ([`HyperTransport`](super::transport::HyperTransport)) as a
//! `hyper-rustls` connector. The SDK path (`opentelemetry-otlp`) is given
//! the same two, so the four paths verify the same way. Without the feature
//! [`TlsClient`] is an empty type and `https://` is refused earlier, when the
//! configuration is validated.

#[cfg(feature = "otlp-tls")]
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "otlp-tls")]
use super::config::PemFile;
use super::config::TlsFiles;
#[cfg(feature = "otlp-tls")]
use super::env::OTEL_EXPORTER_OTLP_CERTIFICATE;
use super::error::{OtlpError, cfg_err};

/// Without the `otlp-tls` feature there is no TLS: this type has no value.
#[cfg(not(feature = "otlp-tls"))]
#[derive(Debug)]
pub(crate) enum TlsClient {}

#[cfg(not(feature = "otlp-tls"))]
impl TlsClient {
    pub(super) fn grpc_endpoint(
        &self,
        _endpoint: tonic::transport::Endpoint,
        _timeout: Duration,
    ) -> Result<tonic::transport::Endpoint, String> {
        match *self {}
    }
}

/// Which TLS input a [`TlsError`] is about.
#[cfg(feature = "otlp-tls")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TlsInput {
    /// The CA certificates (or the system's roots).
    Certificate,
    /// The client certificate (chain).
    ClientCertificate,
    /// The client's private key.
    ClientKey,
}

/// Why TLS material could not be used.
#[cfg(feature = "otlp-tls")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TlsError {
    pub(crate) input: TlsInput,
    pub(crate) reason: String,
}

/// One signal's TLS client settings, checked (see the [module docs](self)).
#[cfg(feature = "otlp-tls")]
pub(crate) struct TlsClient {
    /// The trust anchors, for tonic.
    anchors: Vec<rustls::pki_types::TrustAnchor<'static>>,
    /// The client certificate chain and key, PEM, for tonic.
    identity: Option<(Vec<u8>, Vec<u8>)>,
    /// The same, for the HTTP connector.
    config: Arc<rustls::ClientConfig>,
}

#[cfg(feature = "otlp-tls")]
impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never prints the key.
        f.debug_struct("TlsClient")
            .field("trust_anchors", &self.anchors.len())
            .field("client_auth", &self.identity.is_some())
            .finish_non_exhaustive()
    }
}

/// The system's roots, loaded once per process (or why there are none).
#[cfg(feature = "otlp-tls")]
fn system_roots() -> Result<&'static [rustls::pki_types::TrustAnchor<'static>], String> {
    static ROOTS: std::sync::OnceLock<
        Result<Vec<rustls::pki_types::TrustAnchor<'static>>, String>,
    > = std::sync::OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut store = rustls::RootCertStore::empty();
            store.add_parsable_certificates(found.certs);
            if store.is_empty() {
                let why = match found.errors.first() {
                    Some(e) => format!(": {e}"),
                    None => String::new(),
                };
                return Err(format!(
                    "the system has no usable root certificates{why}; give a CA file"
                ));
            }
            Ok(store.roots)
        })
        .as_deref()
        .map_err(Clone::clone)
}

#[cfg(feature = "otlp-tls")]
impl TlsClient {
    /// Checks and assembles one signal's TLS material: `ca_pem`, the PEM of
    /// the CA certificates that verify the collector (`None`: the system's
    /// roots), and `identity`, the PEM of the client certificate chain and
    /// of its private key (mutual TLS).
    pub(crate) fn new(
        ca_pem: Option<&[u8]>,
        identity: Option<(&[u8], &[u8])>,
    ) -> Result<TlsClient, TlsError> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let err = |input, reason: String| TlsError { input, reason };
        let certs = |input, pem: &[u8]| -> Result<Vec<CertificateDer<'static>>, TlsError> {
            let certs = CertificateDer::pem_slice_iter(pem)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| err(input, format!("not a valid PEM file: {e}")))?;
            if certs.is_empty() {
                return Err(err(input, "holds no PEM CERTIFICATE".into()));
            }
            Ok(certs)
        };

        let anchors = match ca_pem {
            None => system_roots()
                .map_err(|e| err(TlsInput::Certificate, e))?
                .to_vec(),
            Some(pem) => {
                let mut store = rustls::RootCertStore::empty();
                for (i, c) in certs(TlsInput::Certificate, pem)?.into_iter().enumerate() {
                    store.add(c).map_err(|e| {
                        err(
                            TlsInput::Certificate,
                            format!("certificate {} is not a usable CA: {e}", i + 1),
                        )
                    })?;
                }
                store.roots
            }
        };

        let provider = rustls::crypto::CryptoProvider::get_default()
            .cloned()
            .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| err(TlsInput::Certificate, format!("TLS setup: {e}")))?
            .with_root_certificates(rustls::RootCertStore {
                roots: anchors.clone(),
            });
        let (config, identity) = match identity {
            None => (builder.with_no_client_auth(), None),
            Some((cert_pem, key_pem)) => {
                let chain = certs(TlsInput::ClientCertificate, cert_pem)?;
                // Key errors never echo the file's contents.
                let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| {
                    let why = match e {
                        rustls::pki_types::pem::Error::NoItemsFound => "holds no PEM private key",
                        _ => "is not a valid PEM private key",
                    };
                    err(TlsInput::ClientKey, why.into())
                })?;
                let config = builder.with_client_auth_cert(chain, key).map_err(|e| {
                    err(
                        TlsInput::ClientKey,
                        format!("cannot be used with the client certificate: {e}"),
                    )
                })?;
                (config, Some((cert_pem.to_vec(), key_pem.to_vec())))
            }
        };
        Ok(TlsClient {
            anchors,
            identity,
            config: Arc::new(config),
        })
    }

    /// The tonic TLS settings (also given to `opentelemetry-otlp`).
    pub(crate) fn tonic_config(&self, timeout: Duration) -> tonic::transport::ClientTlsConfig {
        let c = tonic::transport::ClientTlsConfig::new()
            .trust_anchors(self.anchors.iter().cloned())
            .timeout(timeout);
        match &self.identity {
            Some((cert, key)) => c.identity(tonic::transport::Identity::from_pem(cert, key)),
            None => c,
        }
    }

    pub(super) fn grpc_endpoint(
        &self,
        endpoint: tonic::transport::Endpoint,
        timeout: Duration,
    ) -> Result<tonic::transport::Endpoint, String> {
        endpoint
            .tls_config(self.tonic_config(timeout))
            .map_err(|e| format!("TLS setup: {e}"))
    }

    /// An HTTPS connector (HTTP/1.1) with these settings.
    pub(crate) fn https_connector(
        &self,
    ) -> hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector> {
        hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config((*self.config).clone())
            .https_or_http()
            .enable_http1()
            .build()
    }
}

/// Reads and checks the TLS files of an `https://` endpoint.
#[cfg(feature = "otlp-tls")]
pub(super) fn load_tls(
    t: &TlsFiles,
    _what: &'static str,
    _endpoint: &str,
) -> Result<TlsClient, OtlpError> {
    use std::io::Read as _;
    // A bound, so a path to a device or a huge file is an error, not a hang:
    // a full system CA bundle is a few hundred KiB.
    const MAX_PEM: u64 = 4 << 20;
    let read = |f: &PemFile| {
        let err = |e: String| {
            f.origin
                .error(format!("cannot read {}: {e}", f.path.display()))
        };
        let file = std::fs::File::open(&f.path).map_err(|e| err(e.to_string()))?;
        let mut bytes = Vec::new();
        file.take(MAX_PEM + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| err(e.to_string()))?;
        if bytes.len() as u64 > MAX_PEM {
            return Err(err(format!("larger than {} MiB", MAX_PEM >> 20)));
        }
        Ok(bytes)
    };
    let ca = t.certificate.as_ref().map(read).transpose()?;
    let identity = match (&t.client_certificate, &t.client_key) {
        (Some(cert), Some(key)) => Some((read(cert)?, read(key)?)),
        _ => None,
    };
    let identity = identity.as_ref().map(|(c, k)| (&c[..], &k[..]));
    TlsClient::new(ca.as_deref(), identity).map_err(|e| {
        let (file, setting) = match e.input {
            TlsInput::Certificate => (&t.certificate, "certificate"),
            TlsInput::ClientCertificate => (&t.client_certificate, "client certificate"),
            TlsInput::ClientKey => (&t.client_key, "client key"),
        };
        match file {
            Some(f) => f
                .origin
                .error(format!("{}: {}", f.path.display(), e.reason)),
            None => cfg_err(
                setting,
                format!(
                    "{} (set {OTEL_EXPORTER_OTLP_CERTIFICATE} or OtlpConfig::certificate)",
                    e.reason
                ),
            ),
        }
    })
}

/// Without the `otlp-tls` feature, `https://` is refused.
#[cfg(not(feature = "otlp-tls"))]
pub(super) fn load_tls(
    _t: &TlsFiles,
    what: &'static str,
    endpoint: &str,
) -> Result<TlsClient, OtlpError> {
    Err(cfg_err(
        what,
        format!(
            "{endpoint:?}: https needs TLS, which this build does not include \
             (enable the otlp-tls feature of datapunk-log)"
        ),
    ))
}

#[cfg(all(test, feature = "otlp-tls"))]
mod tests {
    use std::path::PathBuf;

    use super::super::OtlpExporter;
    use super::super::config::OtlpConfig;
    use super::super::env::{
        OTEL_EXPORTER_OTLP_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
        OTEL_EXPORTER_OTLP_CLIENT_KEY, OTEL_EXPORTER_OTLP_ENDPOINT,
        OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE, OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY,
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    };
    use super::super::error::OtlpError;
    use super::super::test_env::cfg;

    /// A temp directory with a CA, a client certificate and key signed by
    /// it, and bad files; removed on drop.
    struct TlsFixture {
        dir: PathBuf,
    }

    impl TlsFixture {
        fn new(name: &str) -> TlsFixture {
            use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
            let dir = std::env::temp_dir().join(format!(
                "datapunk-log-otlp-unit-{name}-{}",
                std::process::id()
            ));
            std::fs::create_dir_all(&dir).expect("temp dir");
            let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
            ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let ca_key = KeyPair::generate().expect("key");
            let ca_cert = ca.self_signed(&ca_key).expect("CA");
            let issuer = Issuer::new(ca, ca_key);
            let client_key = KeyPair::generate().expect("key");
            let client = CertificateParams::new(vec!["client".to_string()])
                .expect("params")
                .signed_by(&client_key, &issuer)
                .expect("client");
            let other_key = KeyPair::generate().expect("key");
            let files = [
                ("ca.pem", ca_cert.pem()),
                ("client.pem", client.pem()),
                ("client.key", client_key.serialize_pem()),
                ("other.key", other_key.serialize_pem()),
                ("garbage.pem", "not a PEM file at all\n".to_string()),
                (
                    "broken.pem",
                    "-----BEGIN CERTIFICATE-----\nsecret!!\n-----END CERTIFICATE-----\n"
                        .to_string(),
                ),
                (
                    "broken.key",
                    "-----BEGIN PRIVATE KEY-----\nsecret!!\n-----END PRIVATE KEY-----\n"
                        .to_string(),
                ),
            ];
            for (name, text) in files {
                std::fs::write(dir.join(name), text).expect("write");
            }
            TlsFixture { dir }
        }

        fn path(&self, name: &str) -> String {
            self.dir.join(name).to_string_lossy().into_owned()
        }
    }

    impl Drop for TlsFixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    #[test]
    fn tls_files_are_read_and_checked_by_new() {
        let f = TlsFixture::new("files");
        let https = |vars: &[(&str, &str)]| {
            let mut v = vec![(OTEL_EXPORTER_OTLP_ENDPOINT, "https://collector:4317")];
            v.extend_from_slice(vars);
            OtlpExporter::new(cfg(&v))
        };
        // Valid: a CA file, with and without a client identity.
        let (ca, client, key) = (f.path("ca.pem"), f.path("client.pem"), f.path("client.key"));
        assert!(https(&[(OTEL_EXPORTER_OTLP_CERTIFICATE, &ca)]).is_ok());
        assert!(
            https(&[
                (OTEL_EXPORTER_OTLP_CERTIFICATE, &ca),
                (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, &client),
                (OTEL_EXPORTER_OTLP_CLIENT_KEY, &key),
            ])
            .is_ok()
        );
        // Scheme-less gRPC: https, so the files are read.
        let missing = f.path("missing.pem");
        let e = OtlpExporter::new(
            OtlpConfig::default()
                .endpoint("collector:4317")
                .certificate(&missing),
        );
        match e {
            Err(OtlpError::InvalidConfig { setting, reason }) => {
                assert_eq!(setting, "certificate");
                assert!(reason.contains(&missing), "{reason}");
            }
            other => panic!("{other:?}"),
        }

        // Each bad file names its variable and its path.
        let garbage = f.path("garbage.pem");
        let broken_cert = f.path("broken.pem");
        let broken_key = f.path("broken.key");
        let other_key = f.path("other.key");
        // (variables, the variable named, the path named)
        type Row<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let table: &[Row<'_>] = &[
            (
                &[(OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE, &missing)],
                OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE,
                &missing,
            ),
            (
                &[(OTEL_EXPORTER_OTLP_CERTIFICATE, &garbage)],
                OTEL_EXPORTER_OTLP_CERTIFICATE,
                &garbage,
            ),
            (
                &[(OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE, &broken_cert)],
                OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
                &broken_cert,
            ),
            (
                // The key file instead of the CA: no certificate in it.
                &[(OTEL_EXPORTER_OTLP_CERTIFICATE, &key)],
                OTEL_EXPORTER_OTLP_CERTIFICATE,
                &key,
            ),
            (
                &[
                    (OTEL_EXPORTER_OTLP_CERTIFICATE, &ca),
                    (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, &missing),
                    (OTEL_EXPORTER_OTLP_CLIENT_KEY, &key),
                ],
                OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
                &missing,
            ),
            (
                &[
                    (OTEL_EXPORTER_OTLP_CERTIFICATE, &ca),
                    (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, &client),
                    (OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY, &broken_key),
                ],
                OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY,
                &broken_key,
            ),
            (
                &[
                    (OTEL_EXPORTER_OTLP_CERTIFICATE, &ca),
                    (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, &client),
                    (OTEL_EXPORTER_OTLP_CLIENT_KEY, &garbage),
                ],
                OTEL_EXPORTER_OTLP_CLIENT_KEY,
                &garbage,
            ),
            (
                // A key that is not the certificate's.
                &[
                    (OTEL_EXPORTER_OTLP_CERTIFICATE, &ca),
                    (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, &client),
                    (OTEL_EXPORTER_OTLP_CLIENT_KEY, &other_key),
                ],
                OTEL_EXPORTER_OTLP_CLIENT_KEY,
                &other_key,
            ),
        ];
        for (vars, var, path) in table {
            match https(vars) {
                Err(OtlpError::InvalidEnv { var: v, reason }) => {
                    assert_eq!(v, *var, "{vars:?}: {reason}");
                    assert!(reason.contains(path), "{vars:?}: {reason}");
                    // The contents are never echoed.
                    assert!(!reason.contains("secret"), "{reason}");
                }
                other => panic!("{vars:?}: {other:?}"),
            }
        }
        // A device that never ends is refused after a bounded read.
        #[cfg(target_os = "linux")]
        match https(&[(OTEL_EXPORTER_OTLP_CERTIFICATE, "/dev/zero")]) {
            Err(OtlpError::InvalidEnv { var, reason }) => {
                assert_eq!(var, OTEL_EXPORTER_OTLP_CERTIFICATE);
                assert!(
                    reason.contains("/dev/zero") && reason.contains("MiB"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        // Only the signals that use TLS read their files.
        let c = cfg(&[
            (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, "http://l:4317"),
            (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "https://t:4317"),
            (OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE, &missing),
            (OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE, &ca),
        ]);
        assert!(OtlpExporter::new(c).is_ok());
    }
}
