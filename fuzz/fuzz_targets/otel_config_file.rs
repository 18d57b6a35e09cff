//! The OpenTelemetry configuration file (`OTEL_CONFIG_FILE`) comes from
//! whoever deploys the service: any bytes give a model or an error, never a
//! panic; an error names its file, and a position when it has one inside
//! the text. The environment is a fixed map, so substitution runs too.
#![no_main]
use datapunk_log::otel_file::OtelFile;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let env = |name: &str| match name {
        "ENDPOINT" => Some("http://collector:4318".to_owned()),
        "RATIO" => Some("0.25".to_owned()),
        "MAP" => Some("a\nb: c".to_owned()),
        "REF" => Some("${ENDPOINT}".to_owned()),
        _ => None,
    };
    match OtelFile::from_str(&text, "fuzz.yaml", env) {
        Ok((file, warnings)) => {
            assert_eq!(file.file_format.major, 1);
            for w in &warnings {
                assert!(w.to_string().starts_with("fuzz.yaml"));
            }
        }
        Err(e) => {
            let shown = e.to_string();
            assert!(shown.starts_with("fuzz.yaml"), "{shown}");
            if let Some(p) = e.position {
                assert!(p.line >= 1 && p.column >= 1, "{shown}");
            }
        }
    }
});
