//! The `OTEL_EXPORTER_OTLP_*` (TLS ones included), `OTEL_BLRP_*` and `OTEL_BSP_*` variables come
//! from whoever deploys the service: any values must give a configuration or
//! an error naming a variable, never a panic; an accepted configuration must
//! also be accepted by the exporter's validation or refused with an error.
#![no_main]
use datapunk_log::export::otlp::{self as otlp, OtlpConfig, OtlpExporter, Signal};
use libfuzzer_sys::fuzz_target;

const VARS: &[&str] = &[
    otlp::OTEL_EXPORTER_OTLP_ENDPOINT,
    otlp::OTEL_EXPORTER_OTLP_LOGS_ENDPOINT,
    otlp::OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    otlp::OTEL_EXPORTER_OTLP_PROTOCOL,
    otlp::OTEL_EXPORTER_OTLP_LOGS_PROTOCOL,
    otlp::OTEL_EXPORTER_OTLP_HEADERS,
    otlp::OTEL_EXPORTER_OTLP_TRACES_HEADERS,
    otlp::OTEL_EXPORTER_OTLP_TIMEOUT,
    otlp::OTEL_EXPORTER_OTLP_COMPRESSION,
    otlp::OTEL_BLRP_SCHEDULE_DELAY,
    otlp::OTEL_BLRP_MAX_EXPORT_BATCH_SIZE,
    otlp::OTEL_BSP_EXPORT_TIMEOUT,
    otlp::OTEL_BSP_MAX_QUEUE_SIZE,
    otlp::OTEL_EXPORTER_OTLP_INSECURE,
    otlp::OTEL_EXPORTER_OTLP_TRACES_INSECURE,
    otlp::OTEL_EXPORTER_OTLP_CERTIFICATE,
    otlp::OTEL_EXPORTER_OTLP_LOGS_CLIENT_KEY,
    otlp::OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE,
];

fuzz_target!(|data: &[u8]| {
    // One line per variable, in the order above.
    let text = String::from_utf8_lossy(data);
    let values: Vec<&str> = text.split('\n').collect();
    let env = |name: &str| {
        let i = VARS.iter().position(|v| *v == name)?;
        values.get(i).map(|v| v.to_string())
    };
    match OtlpConfig::from_env_with(env) {
        Ok(cfg) => {
            for s in [Signal::Logs, Signal::Traces] {
                let _ = cfg.endpoint_for(s);
                assert!(cfg.batch_for(s).effective_batch_size() > 0);
                assert!(!cfg.timeout_for(s).is_zero());
            }
            let _ = OtlpExporter::new(cfg);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(VARS.iter().any(|v| msg.contains(v)), "error names no variable: {msg}");
        }
    }
});
