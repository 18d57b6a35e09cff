//! The OpenTelemetry environment variables of the OTLP exporter (the
//! `OTEL_EXPORTER_OTLP_*`, `OTEL_BLRP_*` and `OTEL_BSP_*` names) and how
//! [`OtlpConfig::from_env`] reads and checks them.

use std::path::PathBuf;
use std::time::Duration;

use super::config::{Compression, EnvEndpoint, Origin, OtlpConfig, PemFile, Protocol, set_header};
use super::error::{OtlpError, env_err};
use crate::resource::percent_decode;

/// Base endpoint of every signal.
pub const OTEL_EXPORTER_OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";
/// Endpoint of logs, used as is.
pub const OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT";
/// Endpoint of traces, used as is.
pub const OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
/// Protocol of every signal.
pub const OTEL_EXPORTER_OTLP_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_PROTOCOL";
/// Protocol of logs.
pub const OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL";
/// Protocol of traces.
pub const OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: &str = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
/// Headers of every signal.
pub const OTEL_EXPORTER_OTLP_HEADERS: &str = "OTEL_EXPORTER_OTLP_HEADERS";
/// Headers of logs.
pub const OTEL_EXPORTER_OTLP_LOGS_HEADERS: &str = "OTEL_EXPORTER_OTLP_LOGS_HEADERS";
/// Headers of traces.
pub const OTEL_EXPORTER_OTLP_TRACES_HEADERS: &str = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
/// Timeout of every signal, milliseconds.
pub const OTEL_EXPORTER_OTLP_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TIMEOUT";
/// Timeout of logs, milliseconds.
pub const OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT";
/// Timeout of traces, milliseconds.
pub const OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: &str = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT";
/// Compression of every signal.
pub const OTEL_EXPORTER_OTLP_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_COMPRESSION";
/// Compression of logs.
pub const OTEL_EXPORTER_OTLP_LOGS_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_LOGS_COMPRESSION";
/// Compression of traces.
pub const OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: &str = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION";
/// PEM file of the CA certificates that verify the collector, every signal.
pub const OTEL_EXPORTER_OTLP_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_CERTIFICATE";
/// PEM file of the CA certificates that verify the logs collector.
pub const OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE";
/// PEM file of the CA certificates that verify the traces collector.
pub const OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE";
/// PEM file of the client's private key (mutual TLS), every signal.
pub const OTEL_EXPORTER_OTLP_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_CLIENT_KEY";
/// PEM file of the client's private key (mutual TLS), logs.
pub const OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY";
/// PEM file of the client's private key (mutual TLS), traces.
pub const OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY: &str = "OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY";
/// PEM file of the client's certificate chain (mutual TLS), every signal.
pub const OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: &str = "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE";
/// PEM file of the client's certificate chain (mutual TLS), logs.
pub const OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE";
/// PEM file of the client's certificate chain (mutual TLS), traces.
pub const OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: &str =
    "OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE";
/// `true`: a gRPC endpoint given without a scheme is `http://`, every signal.
pub const OTEL_EXPORTER_OTLP_INSECURE: &str = "OTEL_EXPORTER_OTLP_INSECURE";
/// `true`: a gRPC endpoint given without a scheme is `http://`, logs.
pub const OTEL_EXPORTER_OTLP_LOGS_INSECURE: &str = "OTEL_EXPORTER_OTLP_LOGS_INSECURE";
/// `true`: a gRPC endpoint given without a scheme is `http://`, traces.
pub const OTEL_EXPORTER_OTLP_TRACES_INSECURE: &str = "OTEL_EXPORTER_OTLP_TRACES_INSECURE";
/// Delay between two sends of log records, milliseconds.
pub const OTEL_BLRP_SCHEDULE_DELAY: &str = "OTEL_BLRP_SCHEDULE_DELAY";
/// Log records per request.
pub const OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE";
/// Bound of one log batch's export, milliseconds.
pub const OTEL_BLRP_EXPORT_TIMEOUT: &str = "OTEL_BLRP_EXPORT_TIMEOUT";
/// Queue size of log records (caps the batch size).
pub const OTEL_BLRP_MAX_QUEUE_SIZE: &str = "OTEL_BLRP_MAX_QUEUE_SIZE";
/// Delay between two sends of spans, milliseconds.
pub const OTEL_BSP_SCHEDULE_DELAY: &str = "OTEL_BSP_SCHEDULE_DELAY";
/// Spans per request.
pub const OTEL_BSP_MAX_EXPORT_BATCH_SIZE: &str = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE";
/// Bound of one span batch's export, milliseconds.
pub const OTEL_BSP_EXPORT_TIMEOUT: &str = "OTEL_BSP_EXPORT_TIMEOUT";
/// Queue size of spans (caps the batch size).
pub const OTEL_BSP_MAX_QUEUE_SIZE: &str = "OTEL_BSP_MAX_QUEUE_SIZE";

/// Names of one signal's variables.
struct SignalVars {
    endpoint: &'static str,
    protocol: &'static str,
    headers: &'static str,
    timeout: &'static str,
    compression: &'static str,
    certificate: &'static str,
    client_key: &'static str,
    client_certificate: &'static str,
    insecure: &'static str,
    schedule_delay: &'static str,
    batch_size: &'static str,
    export_timeout: &'static str,
    queue_size: &'static str,
}

const LOGS_VARS: SignalVars = SignalVars {
    endpoint: OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,
    protocol: OTEL_EXPORTER_OTLP_LOGS_PROTOCOL,
    headers: OTEL_EXPORTER_OTLP_LOGS_HEADERS,
    timeout: OTEL_EXPORTER_OTLP_LOGS_TIMEOUT,
    compression: OTEL_EXPORTER_OTLP_LOGS_COMPRESSION,
    certificate: OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE,
    client_key: OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY,
    client_certificate: OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE,
    insecure: OTEL_EXPORTER_OTLP_LOGS_INSECURE,
    schedule_delay: OTEL_BLRP_SCHEDULE_DELAY,
    batch_size: OTEL_BLRP_MAX_EXPORT_BATCH_SIZE,
    export_timeout: OTEL_BLRP_EXPORT_TIMEOUT,
    queue_size: OTEL_BLRP_MAX_QUEUE_SIZE,
};

const TRACES_VARS: SignalVars = SignalVars {
    endpoint: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    protocol: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL,
    headers: OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    timeout: OTEL_EXPORTER_OTLP_TRACES_TIMEOUT,
    compression: OTEL_EXPORTER_OTLP_TRACES_COMPRESSION,
    certificate: OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE,
    client_key: OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY,
    client_certificate: OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE,
    insecure: OTEL_EXPORTER_OTLP_TRACES_INSECURE,
    schedule_delay: OTEL_BSP_SCHEDULE_DELAY,
    batch_size: OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    export_timeout: OTEL_BSP_EXPORT_TIMEOUT,
    queue_size: OTEL_BSP_MAX_QUEUE_SIZE,
};

impl OtlpConfig {
    /// The configuration from the process environment.
    pub fn from_env() -> Result<OtlpConfig, OtlpError> {
        OtlpConfig::from_env_with(|name| std::env::var(name).ok())
    }

    /// The configuration from an environment read through `env` (a
    /// variable's value, or `None` when unset).
    pub fn from_env_with(env: impl Fn(&str) -> Option<String>) -> Result<OtlpConfig, OtlpError> {
        let get = |name: &'static str| env(name).filter(|v| !v.trim().is_empty());
        let mut cfg = OtlpConfig::default();

        let generic_endpoint = get(OTEL_EXPORTER_OTLP_ENDPOINT).map(|v| v.trim().to_string());
        let generic_protocol = match get(OTEL_EXPORTER_OTLP_PROTOCOL) {
            Some(v) => Some(parse_protocol(OTEL_EXPORTER_OTLP_PROTOCOL, &v)?),
            None => None,
        };
        let generic_headers = match get(OTEL_EXPORTER_OTLP_HEADERS) {
            Some(v) => Some(parse_headers(OTEL_EXPORTER_OTLP_HEADERS, &v)?),
            None => None,
        };
        let generic_timeout = match get(OTEL_EXPORTER_OTLP_TIMEOUT) {
            Some(v) => Some(parse_timeout(OTEL_EXPORTER_OTLP_TIMEOUT, &v)?),
            None => None,
        };
        let generic_compression = match get(OTEL_EXPORTER_OTLP_COMPRESSION) {
            Some(v) => Some(parse_compression(OTEL_EXPORTER_OTLP_COMPRESSION, &v)?),
            None => None,
        };
        let pem = |var: &'static str| {
            get(var).map(|v| PemFile {
                path: PathBuf::from(v.trim()),
                origin: Origin::Env(var),
            })
        };
        let generic_certificate = pem(OTEL_EXPORTER_OTLP_CERTIFICATE);
        let generic_client_key = pem(OTEL_EXPORTER_OTLP_CLIENT_KEY);
        let generic_client_certificate = pem(OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE);
        let generic_insecure = match get(OTEL_EXPORTER_OTLP_INSECURE) {
            Some(v) => Some(parse_bool(OTEL_EXPORTER_OTLP_INSECURE, &v)?),
            None => None,
        };

        for (signal, vars) in [(&mut cfg.logs, &LOGS_VARS), (&mut cfg.traces, &TRACES_VARS)] {
            signal.env_endpoint = match (get(vars.endpoint), &generic_endpoint) {
                (Some(e), _) => EnvEndpoint::Exact(e.trim().to_string()),
                (None, Some(b)) => EnvEndpoint::Base(b.clone()),
                (None, None) => EnvEndpoint::Default,
            };
            if let Some(p) = match get(vars.protocol) {
                Some(v) => Some(parse_protocol(vars.protocol, &v)?),
                None => generic_protocol,
            } {
                signal.protocol = p;
            }
            if let Some(h) = match get(vars.headers) {
                Some(v) => Some(parse_headers(vars.headers, &v)?),
                None => generic_headers.clone(),
            } {
                signal.headers = h;
            }
            if let Some(t) = match get(vars.timeout) {
                Some(v) => Some(parse_timeout(vars.timeout, &v)?),
                None => generic_timeout,
            } {
                signal.timeout = t;
            }
            if let Some(c) = match get(vars.compression) {
                Some(v) => Some(parse_compression(vars.compression, &v)?),
                None => generic_compression,
            } {
                signal.compression = c;
            }
            if let Some(f) = pem(vars.certificate).or_else(|| generic_certificate.clone()) {
                signal.tls.certificate = Some(f);
            }
            if let Some(f) = pem(vars.client_key).or_else(|| generic_client_key.clone()) {
                signal.tls.client_key = Some(f);
            }
            if let Some(f) =
                pem(vars.client_certificate).or_else(|| generic_client_certificate.clone())
            {
                signal.tls.client_certificate = Some(f);
            }
            if let Some(b) = match get(vars.insecure) {
                Some(v) => Some(parse_bool(vars.insecure, &v)?),
                None => generic_insecure,
            } {
                signal.tls.insecure = b;
            }
            if let Some(v) = get(vars.schedule_delay) {
                signal.batch.schedule_delay = parse_millis(vars.schedule_delay, &v)?;
            }
            if let Some(v) = get(vars.batch_size) {
                signal.batch.max_export_batch_size = parse_count(vars.batch_size, &v)?;
            }
            if let Some(v) = get(vars.export_timeout) {
                signal.batch.export_timeout = parse_millis(vars.export_timeout, &v)?;
            }
            if let Some(v) = get(vars.queue_size) {
                signal.batch.max_queue_size = parse_count(vars.queue_size, &v)?;
            }
        }
        Ok(cfg)
    }
}

fn parse_protocol(var: &'static str, value: &str) -> Result<Protocol, OtlpError> {
    value.parse().map_err(|_| {
        env_err(
            var,
            format!(
                "unknown protocol {:?}; expected `grpc`, `http/protobuf` or `http/json`",
                value.trim()
            ),
        )
    })
}

fn parse_compression(var: &'static str, value: &str) -> Result<Option<Compression>, OtlpError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "gzip" => Ok(Some(Compression::Gzip)),
        "none" => Ok(None),
        _ => Err(env_err(
            var,
            format!(
                "unsupported compression {:?}; expected `gzip` or `none`",
                value.trim()
            ),
        )),
    }
}

fn parse_bool(var: &'static str, value: &str) -> Result<bool, OtlpError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(env_err(
            var,
            format!("expected `true` or `false`, got {:?}", value.trim()),
        )),
    }
}

fn parse_millis(var: &'static str, value: &str) -> Result<Duration, OtlpError> {
    value
        .trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| {
            env_err(
                var,
                format!(
                    "expected milliseconds as a non-negative integer, got {:?}",
                    value.trim()
                ),
            )
        })
}

fn parse_timeout(var: &'static str, value: &str) -> Result<Duration, OtlpError> {
    let t = parse_millis(var, value)?;
    if t.is_zero() {
        return Err(env_err(var, "the timeout must be greater than 0"));
    }
    Ok(t)
}

fn parse_count(var: &'static str, value: &str) -> Result<usize, OtlpError> {
    match value.trim().parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(env_err(
            var,
            format!("expected a positive integer, got {:?}", value.trim()),
        )),
    }
}

/// `k=v,k2=v2`: entries trimmed, keys and values percent-decoded, empty
/// entries skipped, the last of a repeated key wins. Values are never
/// echoed in errors.
pub(crate) fn parse_headers(
    var: &'static str,
    value: &str,
) -> Result<Vec<(String, String)>, OtlpError> {
    let mut out = Vec::new();
    for (i, entry) in value.split(',').enumerate() {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let n = i + 1;
        let Some((k, v)) = entry.split_once('=') else {
            return Err(env_err(var, format!("entry {n} has no `=`")));
        };
        let key = percent_decode(k.trim())
            .ok_or_else(|| env_err(var, format!("entry {n}: bad percent-encoding in the name")))?;
        if key.is_empty() {
            return Err(env_err(var, format!("entry {n} has an empty name")));
        }
        if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
            return Err(env_err(
                var,
                format!("entry {n}: {key:?} is not a valid header name"),
            ));
        }
        let val = percent_decode(v.trim()).ok_or_else(|| {
            env_err(
                var,
                format!("entry {n} ({key}): bad percent-encoding in the value"),
            )
        })?;
        if http::HeaderValue::from_str(&val).is_err() {
            return Err(env_err(
                var,
                format!("entry {n} ({key}): the value is not a valid header value"),
            ));
        }
        set_header(&mut out, key.to_ascii_lowercase(), val);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::config::{BatchConfig, DEFAULT_EXPORT_TIMEOUT, Signal};
    use super::super::test_env::{cfg, err};
    use super::*;

    #[test]
    fn endpoint_precedence() {
        // (vars, protocol, expected logs, expected traces)
        type Row<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
        let table: &[Row<'_>] = &[
            (
                &[(OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4317")],
                "http://c:4317",
                "http://c:4317",
            ),
            (
                &[
                    (OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4317"),
                    (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, "http://l:1/x"),
                ],
                "http://l:1/x",
                "http://c:4317",
            ),
            (
                &[
                    (OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf"),
                    (OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4318/"),
                    (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, "http://t:2/custom"),
                ],
                "http://c:4318/v1/logs",
                "http://t:2/custom",
            ),
            (
                &[
                    (OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf"),
                    (OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4318/base"),
                ],
                "http://c:4318/base/v1/logs",
                "http://c:4318/base/v1/traces",
            ),
            (
                &[(OTEL_EXPORTER_OTLP_ENDPOINT, "   ")],
                "http://localhost:4317",
                "http://localhost:4317",
            ),
        ];
        for (vars, logs, traces) in table {
            let c = cfg(vars);
            assert_eq!(c.endpoint_for(Signal::Logs), *logs, "{vars:?}");
            assert_eq!(c.endpoint_for(Signal::Traces), *traces, "{vars:?}");
        }
        // Builder: generic beats every variable, per-signal beats generic.
        let c = cfg(&[
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:1"),
            (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, "http://l:1"),
        ])
        .traces_endpoint("http://bt:9/t")
        .endpoint("http://b:2");
        assert_eq!(c.endpoint_for(Signal::Logs), "http://b:2");
        assert_eq!(c.endpoint_for(Signal::Traces), "http://bt:9/t");
        let c = c.protocol(Protocol::HttpProtobuf);
        assert_eq!(c.endpoint_for(Signal::Logs), "http://b:2/v1/logs");
        assert_eq!(c.endpoint_for(Signal::Traces), "http://bt:9/t");
    }

    #[test]
    fn signal_specific_wins_over_generic() {
        let c = cfg(&[
            (OTEL_EXPORTER_OTLP_PROTOCOL, "http/protobuf"),
            (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, "grpc"),
            (OTEL_EXPORTER_OTLP_TIMEOUT, "2000"),
            (OTEL_EXPORTER_OTLP_LOGS_TIMEOUT, "3000"),
            (OTEL_EXPORTER_OTLP_COMPRESSION, "gzip"),
            (OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, "none"),
            (OTEL_EXPORTER_OTLP_HEADERS, "a=1,b=2"),
            (OTEL_EXPORTER_OTLP_LOGS_HEADERS, "c=3"),
        ]);
        assert_eq!(c.protocol_for(Signal::Logs), Protocol::HttpProtobuf);
        assert_eq!(c.protocol_for(Signal::Traces), Protocol::Grpc);
        assert_eq!(c.timeout_for(Signal::Logs), Duration::from_millis(3000));
        assert_eq!(c.timeout_for(Signal::Traces), Duration::from_millis(2000));
        assert_eq!(c.compression_for(Signal::Logs), Some(Compression::Gzip));
        assert_eq!(c.compression_for(Signal::Traces), None);
        // The signal's variable replaces the generic one as a whole.
        assert_eq!(c.headers_for(Signal::Logs), &[("c".into(), "3".into())]);
        assert_eq!(
            c.headers_for(Signal::Traces),
            &[("a".into(), "1".into()), ("b".into(), "2".into())]
        );
        // The builder wins over both.
        let c = c
            .protocol(Protocol::Grpc)
            .timeout(Duration::from_millis(5))
            .compression(None)
            .header("B", "builder");
        assert_eq!(c.protocol_for(Signal::Logs), Protocol::Grpc);
        assert_eq!(c.timeout_for(Signal::Logs), Duration::from_millis(5));
        assert_eq!(c.compression_for(Signal::Logs), None);
        assert_eq!(
            c.headers_for(Signal::Logs),
            &[("c".into(), "3".into()), ("b".into(), "builder".into())]
        );
        assert_eq!(
            c.headers_for(Signal::Traces),
            &[("a".into(), "1".into()), ("b".into(), "builder".into())]
        );
    }

    #[test]
    fn protocol_values() {
        for (v, p) in [
            ("grpc", Protocol::Grpc),
            (" GRPC ", Protocol::Grpc),
            ("http/protobuf", Protocol::HttpProtobuf),
            ("HTTP/Protobuf", Protocol::HttpProtobuf),
            ("http/json", Protocol::HttpJson),
            (" HTTP/JSON\t", Protocol::HttpJson),
        ] {
            assert_eq!(
                cfg(&[(OTEL_EXPORTER_OTLP_PROTOCOL, v)]).protocol_for(Signal::Logs),
                p,
                "{v}"
            );
            // The same names through `FromStr`, and back.
            assert_eq!(v.parse::<Protocol>(), Ok(p), "{v}");
            assert_eq!(p.as_str().parse::<Protocol>(), Ok(p));
            assert_eq!(p.to_string(), p.as_str());
        }
        for v in ["thrift", "http", "json", "http/jsonx", "http/proto"] {
            let e = err(&[(OTEL_EXPORTER_OTLP_LOGS_PROTOCOL, v)]);
            assert!(
                matches!(&e, OtlpError::InvalidEnv { var, .. } if *var == OTEL_EXPORTER_OTLP_LOGS_PROTOCOL),
                "{e}"
            );
            assert!(e.to_string().contains("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"));
            assert!(e.to_string().contains("http/json"), "{e}");
            assert!(matches!(
                v.parse::<Protocol>(),
                Err(OtlpError::InvalidConfig {
                    setting: "protocol",
                    ..
                })
            ));
        }
    }

    #[test]
    fn http_json_from_the_environment() {
        // Generic and per-signal variables, with the HTTP paths and default
        // endpoint of http/protobuf.
        let c = cfg(&[(OTEL_EXPORTER_OTLP_PROTOCOL, "http/json")]);
        assert_eq!(c.protocol_for(Signal::Logs), Protocol::HttpJson);
        assert_eq!(c.protocol_for(Signal::Traces), Protocol::HttpJson);
        assert_eq!(
            c.endpoint_for(Signal::Logs),
            "http://localhost:4318/v1/logs"
        );
        assert_eq!(
            c.endpoint_for(Signal::Traces),
            "http://localhost:4318/v1/traces"
        );
        let c = cfg(&[
            (OTEL_EXPORTER_OTLP_PROTOCOL, "grpc"),
            (OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, "http/json"),
            (OTEL_EXPORTER_OTLP_ENDPOINT, "http://c:4318/base/"),
            (OTEL_EXPORTER_OTLP_TRACES_COMPRESSION, "gzip"),
        ]);
        assert_eq!(c.protocol_for(Signal::Logs), Protocol::Grpc);
        assert_eq!(c.protocol_for(Signal::Traces), Protocol::HttpJson);
        assert_eq!(c.endpoint_for(Signal::Logs), "http://c:4318/base/");
        assert_eq!(
            c.endpoint_for(Signal::Traces),
            "http://c:4318/base/v1/traces"
        );
        assert_eq!(c.compression_for(Signal::Traces), Some(Compression::Gzip));
        let c = cfg(&[
            (OTEL_EXPORTER_OTLP_LOGS_PROTOCOL, "http/json"),
            (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT, "http://l:1/custom"),
        ]);
        assert_eq!(c.protocol_for(Signal::Logs), Protocol::HttpJson);
        assert_eq!(c.protocol_for(Signal::Traces), Protocol::Grpc);
        assert_eq!(c.endpoint_for(Signal::Logs), "http://l:1/custom");
        // The builder wins over the variables.
        let c = c.protocol(Protocol::HttpProtobuf);
        assert_eq!(c.protocol_for(Signal::Logs), Protocol::HttpProtobuf);
    }

    #[test]
    fn bad_values_name_the_variable() {
        let table: &[(&str, &str)] = &[
            (OTEL_EXPORTER_OTLP_TIMEOUT, "10s"),
            (OTEL_EXPORTER_OTLP_TIMEOUT, "-1"),
            (OTEL_EXPORTER_OTLP_TIMEOUT, "0"),
            (OTEL_EXPORTER_OTLP_TRACES_TIMEOUT, "1.5"),
            (OTEL_EXPORTER_OTLP_COMPRESSION, "zstd"),
            (OTEL_EXPORTER_OTLP_LOGS_COMPRESSION, "br"),
            (OTEL_BLRP_SCHEDULE_DELAY, "soon"),
            (OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, "0"),
            (OTEL_BLRP_MAX_QUEUE_SIZE, "-5"),
            (OTEL_BLRP_EXPORT_TIMEOUT, "x"),
            (OTEL_BSP_SCHEDULE_DELAY, "1e3"),
            (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, "many"),
            (OTEL_BSP_MAX_QUEUE_SIZE, "0"),
            (OTEL_BSP_EXPORT_TIMEOUT, "99999999999999999999999"),
            (OTEL_EXPORTER_OTLP_HEADERS, "novalue"),
            (OTEL_EXPORTER_OTLP_TRACES_HEADERS, "a=%zz"),
        ];
        for (var, value) in table {
            let e = err(&[(var, value)]);
            match &e {
                OtlpError::InvalidEnv { var: v, .. } => assert_eq!(v, var, "{e}"),
                other => panic!("{other:?}"),
            }
            assert!(e.to_string().contains(var), "{e}");
        }
    }

    #[test]
    fn batch_values() {
        let c = cfg(&[
            (OTEL_BLRP_SCHEDULE_DELAY, "250"),
            (OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, "100"),
            (OTEL_BLRP_EXPORT_TIMEOUT, "7000"),
            (OTEL_BLRP_MAX_QUEUE_SIZE, "4096"),
            (OTEL_BSP_SCHEDULE_DELAY, "0"),
            (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, "1000"),
            (OTEL_BSP_MAX_QUEUE_SIZE, "64"),
        ]);
        assert_eq!(
            c.batch_for(Signal::Logs),
            BatchConfig {
                max_export_batch_size: 100,
                schedule_delay: Duration::from_millis(250),
                export_timeout: Duration::from_millis(7000),
                max_queue_size: 4096,
            }
        );
        let spans = c.batch_for(Signal::Traces);
        assert_eq!(spans.schedule_delay, Duration::ZERO);
        assert_eq!(spans.export_timeout, DEFAULT_EXPORT_TIMEOUT);
        // The queue size caps the batch size.
        assert_eq!(spans.effective_batch_size(), 64);
        let c = c.batch_size(10).schedule_delay(Duration::from_millis(3));
        assert_eq!(c.batch_for(Signal::Logs).max_export_batch_size, 10);
        assert_eq!(
            c.batch_for(Signal::Traces).schedule_delay,
            Duration::from_millis(3)
        );
    }

    #[test]
    fn headers_parsing() {
        let table: &[(&str, &[(&str, &str)])] = &[
            ("k=v", &[("k", "v")]),
            (" k1 = v1 , k2=v2 ", &[("k1", "v1"), ("k2", "v2")]),
            (
                "Authorization=Basic%20dXNlcjpwYXNz",
                &[("authorization", "Basic dXNlcjpwYXNz")],
            ),
            ("a=b=c", &[("a", "b=c")]),
            ("a=%3D%2C%C3%A9", &[("a", "=,é")]),
            ("a=1,,b=2,", &[("a", "1"), ("b", "2")]),
            ("a=1,A=2", &[("a", "2")]),
            ("a=", &[("a", "")]),
        ];
        for (input, expected) in table {
            let c = cfg(&[(OTEL_EXPORTER_OTLP_HEADERS, input)]);
            let got: Vec<(&str, &str)> = c
                .headers_for(Signal::Logs)
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(&got, expected, "{input}");
        }
        for bad in ["a", "=v", "a b=1", "a=%4", "a=%ff", "a=x%0Ay"] {
            let e = err(&[(OTEL_EXPORTER_OTLP_HEADERS, bad)]);
            assert!(
                e.to_string().contains(OTEL_EXPORTER_OTLP_HEADERS),
                "{bad}: {e}"
            );
        }
        // Values are not echoed.
        let e = err(&[(OTEL_EXPORTER_OTLP_HEADERS, "token=sec%ZZret")]);
        assert!(!e.to_string().contains("sec"), "{e}");
    }

    #[test]
    fn insecure_values() {
        for (v, b) in [
            ("true", true),
            (" TRUE ", true),
            ("false", false),
            ("False", false),
        ] {
            let c = cfg(&[(OTEL_EXPORTER_OTLP_LOGS_INSECURE, v)]);
            assert_eq!(c.insecure_for(Signal::Logs), b, "{v}");
            assert!(!c.insecure_for(Signal::Traces), "{v}");
        }
        for var in [
            OTEL_EXPORTER_OTLP_INSECURE,
            OTEL_EXPORTER_OTLP_LOGS_INSECURE,
            OTEL_EXPORTER_OTLP_TRACES_INSECURE,
        ] {
            for bad in ["1", "yes", "on", "truee", "t"] {
                match err(&[(var, bad)]) {
                    OtlpError::InvalidEnv { var: v, reason } => {
                        assert_eq!(v, var, "{bad}");
                        assert!(reason.contains(bad), "{reason}");
                    }
                    other => panic!("{var}={bad}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn tls_file_precedence() {
        let c = cfg(&[
            (OTEL_EXPORTER_OTLP_CERTIFICATE, " /g/ca.pem "),
            (OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE, "/t/ca.pem"),
            (OTEL_EXPORTER_OTLP_CLIENT_KEY, "/g/client.key"),
            (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, "/g/client.pem"),
            (OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY, "/l/client.key"),
            (OTEL_EXPORTER_OTLP_LOGS_CLIENT_CERTIFICATE, "/l/client.pem"),
        ]);
        let p = |s: &str| Some(PathBuf::from(s));
        let own = |o: Option<&Path>| o.map(Path::to_path_buf);
        assert_eq!(own(c.certificate_for(Signal::Logs)), p("/g/ca.pem"));
        assert_eq!(own(c.certificate_for(Signal::Traces)), p("/t/ca.pem"));
        assert_eq!(own(c.client_key_for(Signal::Logs)), p("/l/client.key"));
        assert_eq!(own(c.client_key_for(Signal::Traces)), p("/g/client.key"));
        assert_eq!(
            own(c.client_certificate_for(Signal::Logs)),
            p("/l/client.pem")
        );
        assert_eq!(
            own(c.client_certificate_for(Signal::Traces)),
            p("/g/client.pem")
        );
        // The builder wins over both.
        let c = c
            .certificate("/b/ca.pem")
            .client_key("/b/k")
            .client_certificate("/b/c");
        for signal in [Signal::Logs, Signal::Traces] {
            assert_eq!(own(c.certificate_for(signal)), p("/b/ca.pem"));
            assert_eq!(own(c.client_key_for(signal)), p("/b/k"));
            assert_eq!(own(c.client_certificate_for(signal)), p("/b/c"));
        }
        // Defaults: no files (the system's roots), not insecure.
        let d = OtlpConfig::default();
        assert_eq!(d.certificate_for(Signal::Logs), None);
        assert_eq!(d.client_key_for(Signal::Traces), None);
        assert!(!d.insecure_for(Signal::Logs));
    }
}
