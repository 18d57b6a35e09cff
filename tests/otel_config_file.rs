//! The OpenTelemetry configuration file (`OTEL_CONFIG_FILE`): OpenTelemetry's
//! own example files, a table of valid files checked value by value, a table
//! of invalid files with the expected line and key path, substitution, and
//! the warning that lists what was skipped.
#![cfg(feature = "config-file")]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use datapunk_log::otel_file::{
    AttributeValue, BatchProcessor, Compression, ConfigFileError, DebugBufferConfig, ErrorKind,
    Exporter, FileCompression, FileFormat, FileSinkConfig, Limits, LineFormat, LoggerConfig,
    LoggerMatcher, OtelFile, OtlpExporter, Processor, Propagator, RedactionConfig, ReplacementKind,
    Retention, RingConfig, RotateEvery, Rotation, Severity, SinkConfig, TlsConfig, Warning,
    config_file_path,
};
use datapunk_log::redact::Rule as RedactRule;
use datapunk_log::sampler::{LogPolicy, ParentBased, Rule, Sampler, Unsampled};
use datapunk_log::{Directives, Level, Overflow};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/otel-config")
        .join(rel)
}

fn no_env(_: &str) -> Option<String> {
    None
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| map.get(name).cloned()
}

fn load(text: &str) -> (OtelFile, Vec<Warning>) {
    OtelFile::from_str(text, "test.yaml", no_env).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn load_err(text: &str) -> ConfigFileError {
    match OtelFile::from_str(text, "test.yaml", no_env) {
        Ok(_) => panic!("expected an error for\n{text}"),
        Err(e) => e,
    }
}

fn skipped_paths(f: &OtelFile) -> Vec<&str> {
    f.skipped.iter().map(|s| s.key_path.as_str()).collect()
}

fn first_batch(p: &[Processor]) -> &BatchProcessor {
    match &p[0] {
        Processor::Batch(b) => b,
        other => panic!("expected a batch processor, got {other:?}"),
    }
}

fn http(e: &Exporter) -> &OtlpExporter {
    match e {
        Exporter::OtlpHttp(h) => h,
        other => panic!("expected otlp_http, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// OpenTelemetry's own files
// ---------------------------------------------------------------------------

#[test]
fn every_opentelemetry_example_and_snippet_loads() {
    let mut n = 0;
    for dir in ["examples", "snippets"] {
        for entry in std::fs::read_dir(data(dir)).unwrap() {
            let path = entry.unwrap().path();
            match OtelFile::from_path(&path, no_env) {
                Ok((file, _)) => assert_eq!(file.file_format.major, 1, "{}", path.display()),
                Err(e) => panic!("{} does not load: {e}", path.display()),
            }
            n += 1;
        }
    }
    assert!(n >= 35, "only {n} files");
}

#[test]
fn sdk_config_example_values() {
    let (f, warnings) = OtelFile::from_path(data("examples/otel-sdk-config.yaml"), no_env).unwrap();
    assert_eq!(
        f.file_format,
        FileFormat {
            major: 1,
            minor: 1,
            pre: None
        }
    );
    assert_eq!(f.disabled, Some(false));
    assert_eq!(f.log_level, Some(Severity(9)));
    assert_eq!(
        f.attribute_limits,
        Some(Limits {
            attribute_value_depth_limit: Some(64),
            attribute_count_limit: Some(128),
            ..Limits::default()
        })
    );
    let r = f.resource.as_ref().unwrap();
    assert_eq!(
        r.attributes,
        vec![(
            "service.name".to_owned(),
            AttributeValue::Str("unknown_service".into())
        )]
    );
    assert_eq!(
        f.propagator.as_ref().unwrap().composite,
        vec![Propagator::TraceContext, Propagator::Baggage]
    );
    let tp = f.tracer_provider.as_ref().unwrap();
    let b = first_batch(&tp.processors);
    assert_eq!(b.schedule_delay, Some(Duration::from_millis(5000)));
    assert_eq!(b.export_timeout, Some(Duration::from_millis(30000)));
    assert_eq!(b.max_queue_size, Some(2048));
    assert_eq!(b.max_export_batch_size, Some(512));
    assert_eq!(
        http(&b.exporter),
        &OtlpExporter {
            endpoint: Some("http://localhost:4318/v1/traces".into()),
            compression: Some(Compression::Gzip),
            timeout: Some(Duration::from_millis(10000)),
            tls: Some(TlsConfig::default()),
            ..OtlpExporter::default()
        }
    );
    assert_eq!(
        tp.limits.as_ref().unwrap().link_attribute_count_limit,
        Some(128)
    );
    assert_eq!(
        tp.sampler,
        Some(Sampler::parent_based_with(ParentBased::new(
            Sampler::AlwaysOn
        )))
    );
    let lp = f.logger_provider.as_ref().unwrap();
    assert_eq!(
        first_batch(&lp.processors).schedule_delay,
        Some(Duration::from_millis(1000))
    );
    assert_eq!(
        http(&first_batch(&lp.processors).exporter)
            .endpoint
            .as_deref(),
        Some("http://localhost:4318/v1/logs")
    );
    // meter_provider: skipped, and the one warning says so.
    assert_eq!(skipped_paths(&f), vec!["meter_provider"]);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].message.contains("meter_provider (line"),
        "{}",
        warnings[0]
    );
}

#[test]
fn migration_example_takes_the_environment() {
    let env = env_of(&[
        ("OTEL_SERVICE_NAME", "checkout"),
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "deployment.environment.name=prod",
        ),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"),
        ("OTEL_BSP_SCHEDULE_DELAY", "250"),
        ("OTEL_PROPAGATORS", "baggage,b3"),
        ("OTEL_SDK_DISABLED", "true"),
        ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "api-key=secret"),
    ]);
    let (f, warnings) =
        OtelFile::from_path(data("examples/otel-sdk-migration-config.yaml"), env).unwrap();
    assert_eq!(f.disabled, Some(true));
    let r = f.resource.as_ref().unwrap();
    assert_eq!(
        r.attributes,
        vec![(
            "service.name".into(),
            AttributeValue::Str("checkout".into())
        )]
    );
    assert_eq!(
        r.attributes_list.as_deref(),
        Some("deployment.environment.name=prod")
    );
    assert_eq!(
        r.merged_attributes(),
        vec![
            (
                "deployment.environment.name".into(),
                AttributeValue::Str("prod".into())
            ),
            (
                "service.name".into(),
                AttributeValue::Str("checkout".into())
            ),
        ]
    );
    // composite_list: baggage kept, b3 skipped.
    assert_eq!(
        f.propagator.as_ref().unwrap().composite,
        vec![Propagator::Baggage]
    );
    let tp = f.tracer_provider.as_ref().unwrap();
    let b = first_batch(&tp.processors);
    assert_eq!(b.schedule_delay, Some(Duration::from_millis(250)));
    let h = http(&b.exporter);
    assert_eq!(
        h.endpoint.as_deref(),
        Some("https://collector:4318/v1/traces")
    );
    assert_eq!(h.headers_list.as_deref(), Some("api-key=secret"));
    // Unset variables without a default: null, the default behaviour.
    assert_eq!(h.tls, Some(TlsConfig::default()));
    assert_eq!(
        tp.limits.as_ref().unwrap().attribute_value_length_limit,
        None
    );
    let skipped = skipped_paths(&f);
    for part in [
        "propagator.composite_list[b3]",
        "meter_provider",
        "instrumentation/development",
    ] {
        assert!(skipped.contains(&part), "{part} not in {skipped:?}");
    }
    assert_eq!(
        warnings
            .iter()
            .filter(|w| w.message.contains("skipped"))
            .count(),
        1
    );
}

#[test]
fn getting_started_example_values() {
    let (f, _) = OtelFile::from_path(data("examples/otel-getting-started.yaml"), no_env).unwrap();
    assert_eq!(f.resource.as_ref().unwrap().attributes_list, None);
    let tp = f.tracer_provider.as_ref().unwrap();
    assert_eq!(
        http(&first_batch(&tp.processors).exporter)
            .endpoint
            .as_deref(),
        Some("http://localhost:4318/v1/traces")
    );
    assert_eq!(tp.sampler, Some(Sampler::parent_based(Sampler::AlwaysOn)));
    assert!(skipped_paths(&f).contains(&"resource.detection/development"));
}

#[test]
fn snippet_values() {
    let get = |name: &str| {
        OtelFile::from_path(data(&format!("snippets/{name}.yaml")), no_env)
            .unwrap()
            .0
    };

    let f = get("Resource_kitchen_sink");
    let r = f.resource.unwrap();
    assert_eq!(
        r.attributes,
        vec![
            (
                "service.name".into(),
                AttributeValue::Str("unknown_service".into())
            ),
            ("string_key".into(), AttributeValue::Str("value".into())),
            ("bool_key".into(), AttributeValue::Bool(true)),
            ("int_key".into(), AttributeValue::Int(1)),
            ("double_key".into(), AttributeValue::Double(1.1)),
            (
                "string_array_key".into(),
                AttributeValue::StrArray(vec!["value1".into(), "value2".into()])
            ),
            (
                "bool_array_key".into(),
                AttributeValue::BoolArray(vec![true, false])
            ),
            ("int_array_key".into(), AttributeValue::IntArray(vec![1, 2])),
            (
                "double_array_key".into(),
                AttributeValue::DoubleArray(vec![1.1, 2.2])
            ),
        ]
    );
    assert_eq!(
        r.attributes_list.as_deref(),
        Some("service.namespace=my-namespace,service.version=1.0.0")
    );
    assert_eq!(
        r.schema_url.as_deref(),
        Some("https://opentelemetry.io/schemas/1.16.0")
    );

    let f = get("Sampler_rule_based_kitchen_sink");
    // Rule 0: two values → two engine rules; rules 1 (excluded patterns) and
    // 2 (parent, span_kinds) cannot be expressed and are left out.
    assert_eq!(
        f.tracer_provider.as_ref().unwrap().sampler,
        Some(Sampler::rules(vec![
            Rule::new(Sampler::AlwaysOff).attribute_eq("http.route", "/healthz"),
            Rule::new(Sampler::AlwaysOff).attribute_eq("http.route", "/livez"),
            Rule::new(Sampler::probability(0.001)),
        ]))
    );
    let rules = "tracer_provider.sampler.composite/development.rule_based.rules";
    assert_eq!(
        skipped_paths(&f)
            .into_iter()
            .filter(|p| p.starts_with(rules))
            .collect::<Vec<_>>(),
        vec![format!("{rules}[1]"), format!("{rules}[2]")]
    );

    let f = get("Sampler_composite_rule_based_drop_redis_ping");
    assert_eq!(
        f.tracer_provider.as_ref().unwrap().sampler,
        Some(Sampler::rules(vec![Rule::new(Sampler::parent_threshold(
            Sampler::probability(1.0)
        ))]))
    );
    assert!(
        f.skipped.iter().any(|s| s.key_path
            == "tracer_provider.sampler.composite/development.rule_based.rules[0]"
            && s.reason.contains("span_kinds")),
        "{:?}",
        f.skipped
    );

    let f = get("Sampler_probability_kitchen_sink");
    assert_eq!(
        f.tracer_provider.unwrap().sampler,
        Some(Sampler::probability(0.001))
    );

    let f = get("Sampler_always_record_typical");
    assert_eq!(
        f.tracer_provider.unwrap().sampler,
        Some(Sampler::parent_based(Sampler::probability(0.01)))
    );

    let f = get("ExperimentalLoggerConfigurator_kitchen_sink");
    let c = f.logger_provider.unwrap().logger_configurator.unwrap();
    assert_eq!(
        c.default_config,
        Some(LoggerConfig {
            enabled: Some(false),
            ..LoggerConfig::default()
        })
    );
    assert_eq!(
        c.loggers,
        vec![LoggerMatcher {
            name: "io.opentelemetry.contrib.*".into(),
            config: LoggerConfig {
                enabled: Some(true),
                minimum_severity: Some(Severity(9)),
                trace_based: Some(true),
            },
        }]
    );

    let f = get("OtlpGrpcExporter_logs_kitchen_sink");
    let lp = f.logger_provider.unwrap();
    let Exporter::OtlpGrpc(g) = &first_batch(&lp.processors).exporter else {
        panic!()
    };
    assert_eq!(
        g,
        &OtlpExporter {
            endpoint: Some("http://localhost:4317".into()),
            tls: Some(TlsConfig {
                ca_file: Some("/app/cert.pem".into()),
                key_file: Some("/app/cert.pem".into()),
                cert_file: Some("/app/cert.pem".into()),
                insecure: Some(false),
            }),
            headers: vec![("api-key".into(), "1234".into())],
            headers_list: Some("api-key=1234".into()),
            compression: Some(Compression::Gzip),
            timeout: Some(Duration::from_millis(10000)),
            max_request_size: Some(67108864),
            max_response_size: Some(4194304),
            encoding: None,
        }
    );

    let f = get("Propagator_kitchen_sink");
    assert_eq!(
        f.propagator.as_ref().unwrap().composite,
        vec![Propagator::TraceContext, Propagator::Baggage]
    );
    let s = skipped_paths(&f);
    assert_eq!(
        s,
        vec![
            "propagator.composite[2].b3",
            "propagator.composite[3].b3multi",
            "propagator.composite_list[xray]"
        ]
    );

    // A console exporter: its processor is left out, the provider stays.
    let f = get("ConsoleExporter_traces_kitchen_sink");
    assert!(f.tracer_provider.as_ref().unwrap().processors.is_empty());
    assert_eq!(
        skipped_paths(&f),
        vec!["tracer_provider.processors[0].simple.exporter.console"]
    );

    let f = get("IdGenerator_custom");
    assert!(skipped_paths(&f).contains(&"tracer_provider.id_generator.my_custom_id_generator"));
}

// ---------------------------------------------------------------------------
// Valid files
// ---------------------------------------------------------------------------

type Check = fn(&OtelFile, &[Warning]);

#[test]
fn valid_files() {
    let table: &[(&str, &str, Check)] = &[
        ("minimal", "file_format: \"1.0\"\n", |f, w| {
            assert_eq!(f.file_format.minor, 0);
            assert!(f.tracer_provider.is_none() && w.is_empty());
        }),
        (
            "unquoted version and null sections",
            "file_format: 1.1\ntracer_provider:\n  processors:\n    - simple:\n        exporter:\n          otlp_grpc:\n  sampler:\n",
            |f, _| {
                let tp = f.tracer_provider.as_ref().unwrap();
                assert_eq!(
                    tp.processors,
                    vec![Processor::Simple(Exporter::OtlpGrpc(
                        OtlpExporter::default()
                    ))]
                );
                assert_eq!(tp.sampler, None);
            },
        ),
        (
            "parent based, every delegate",
            r#"file_format: "1.1"
tracer_provider:
  processors: [ { batch: { exporter: { otlp_http: { encoding: json } } } } ]
  sampler:
    parent_based:
      root: { trace_id_ratio_based: { ratio: 0.25 } }
      remote_parent_sampled: { always_off: }
      remote_parent_not_sampled: { always_on: }
      local_parent_sampled: { probability/development: { ratio: 0.5 } }
      local_parent_not_sampled: { trace_id_ratio_based: }
"#,
            |f, _| {
                let tp = f.tracer_provider.as_ref().unwrap();
                assert_eq!(
                    tp.sampler,
                    Some(Sampler::parent_based_with(ParentBased {
                        root: Sampler::probability(0.25),
                        remote_sampled: Sampler::AlwaysOff,
                        remote_not_sampled: Sampler::AlwaysOn,
                        local_sampled: Sampler::probability(0.5),
                        local_not_sampled: Sampler::probability(1.0),
                    }))
                );
                assert_eq!(
                    http(&first_batch(&tp.processors).exporter).encoding,
                    Some(datapunk_log::otel_file::OtlpEncoding::Json)
                );
            },
        ),
        (
            "composite samplers",
            r#"file_format: "1.1"
tracer_provider:
  processors: [ { simple: { exporter: { otlp_grpc: {} } } } ]
  sampler:
    composite/development:
      parent_threshold:
        root:
          rule_based:
            rules:
              - attribute_patterns: { key: tenant, included: ["*"] }
                sampler: { always_on: }
              - attribute_patterns: { key: route, included: [/a, /b] }
                sampler: { always_off: }
              - sampler: { probability: { ratio: 0.1 } }
"#,
            |f, _| {
                assert_eq!(
                    f.tracer_provider.as_ref().unwrap().sampler,
                    Some(Sampler::parent_threshold(Sampler::rules(vec![
                        Rule::new(Sampler::probability(1.0)).attribute_present("tenant"),
                        Rule::new(Sampler::AlwaysOff).attribute_eq("route", "/a"),
                        Rule::new(Sampler::AlwaysOff).attribute_eq("route", "/b"),
                        Rule::new(Sampler::probability(0.1)),
                    ])))
                );
            },
        ),
        (
            "unsupported samplers fall back to the default",
            r#"file_format: "1.1"
tracer_provider:
  processors: [ { simple: { exporter: { otlp_grpc: } } } ]
  sampler:
    parent_based:
      root:
        jaeger_remote/development: { endpoint: "http://x", initial_sampler: { always_on: } }
"#,
            |f, _| {
                assert_eq!(
                    f.tracer_provider.as_ref().unwrap().sampler,
                    Some(Sampler::parent_based(Sampler::AlwaysOn))
                );
                assert_eq!(
                    skipped_paths(f),
                    vec!["tracer_provider.sampler.parent_based.root.jaeger_remote/development"]
                );
            },
        ),
        (
            "newer minor: unknown keys skipped with a warning",
            "file_format: \"1.7\"\nresource:\n  schema_url: s\n  brand_new: 1\n",
            |f, w| {
                assert_eq!(f.file_format.minor, 7);
                assert_eq!(skipped_paths(f), vec!["resource.brand_new"]);
                assert!(w[0].message.contains("newer than 1.1"), "{w:?}");
            },
        ),
        (
            "1.0-rc: pre-1.0 names accepted",
            r#"file_format: "1.0-rc.2"
logger_provider:
  processors:
    - batch:
        exporter:
          otlp_grpc:
            certificate_file: /ca.pem
            client_key_file: /key.pem
            client_certificate_file: /cert.pem
            insecure: true
  logger_configurator/development:
    default_config: { disabled: true }
"#,
            |f, w| {
                assert_eq!(f.file_format.pre.as_deref(), Some("rc.2"));
                let lp = f.logger_provider.as_ref().unwrap();
                let Exporter::OtlpGrpc(g) = &first_batch(&lp.processors).exporter else {
                    panic!()
                };
                assert_eq!(
                    g.tls,
                    Some(TlsConfig {
                        ca_file: Some("/ca.pem".into()),
                        key_file: Some("/key.pem".into()),
                        cert_file: Some("/cert.pem".into()),
                        insecure: Some(true),
                    })
                );
                let c = lp.logger_configurator.as_ref().unwrap();
                assert_eq!(c.default_config.as_ref().unwrap().enabled, Some(false));
                assert!(w[0].message.contains("pre-release"), "{w:?}");
            },
        ),
        (
            "yaml anchors and aliases",
            r#"file_format: "1.1"
tracer_provider:
  processors: [ { batch: { exporter: &exp { otlp_http: { endpoint: "http://c/v1/traces", timeout: 0 } } } } ]
logger_provider:
  processors: [ { batch: { exporter: *exp } } ]
"#,
            |f, _| {
                let t = &f.tracer_provider.as_ref().unwrap().processors;
                let l = &f.logger_provider.as_ref().unwrap().processors;
                assert_eq!(t, l);
                assert_eq!(http(&first_batch(t).exporter).timeout, Some(Duration::ZERO));
            },
        ),
        (
            "attribute value null: entry ignored; numbers as strings",
            "file_format: \"1.1\"\nresource:\n  attributes:\n    - { name: a, value: }\n    - { name: b, value: 42 }\n    - { name: c, value: 3, type: double }\n",
            |f, _| {
                assert_eq!(
                    f.resource.as_ref().unwrap().attributes,
                    vec![
                        ("b".into(), AttributeValue::Str("42".into())),
                        ("c".into(), AttributeValue::Double(3.0)),
                    ]
                );
            },
        ),
    ];
    for (name, text, check) in table {
        let (f, w) =
            OtelFile::from_str(text, "test.yaml", no_env).unwrap_or_else(|e| panic!("{name}: {e}"));
        check(&f, &w);
    }
}

/// The README's full example of the extension node.
const EXTENSION_EXAMPLE: &str = r#"file_format: "1.1"
resource:
  attributes:
    - name: service.name
      value: checkout
distribution:
  datapunk_log:
    filter: info,checkout::db=debug
    ring:
      capacity: 1MiB
      max_record_bytes: 16KiB
      overflow: drop
    sinks:
      - stdout:
          format: json
      - file:
          path: /var/log/checkout/app.log
          format: json
          rotation: { size: 100MiB, every: daily, local_time: false }
          retention: { keep_files: 14, max_age: 7d, max_total_bytes: 2GiB }
          compress: zstd
          mode: "0640"
    redaction:
      enabled: true
      keys: [password, api_key]
      patterns: { email: on, card: off }
      token_prefixes: [acme_]
      replacement: mask
    log_sampling:
      below_error: { first: 100, thereafter: 100, period: 1s }
      levels:
        debug: "first=10,thereafter=1000,period=1m"
      unsampled: buffer
      debug_buffer: { records_per_trace: 64, bytes: 8MiB }
"#;

#[test]
fn extension_node() {
    let (f, warnings) = load(EXTENSION_EXAMPLE);
    assert!(warnings.is_empty(), "{warnings:?}");
    let d = f.datapunk_log.unwrap();
    assert_eq!(
        d.filter,
        Some(Directives::parse("info,checkout::db=debug").unwrap())
    );
    assert_eq!(
        d.ring,
        Some(RingConfig {
            capacity: Some(1 << 20),
            max_record_bytes: Some(16 << 10),
            overflow: Some(Overflow::Drop),
        })
    );
    assert_eq!(
        d.sinks,
        vec![
            SinkConfig::Stdout {
                format: Some(LineFormat::Json)
            },
            SinkConfig::File(FileSinkConfig {
                path: "/var/log/checkout/app.log".into(),
                format: Some(LineFormat::Json),
                rotation: Some(Rotation {
                    size: Some(100 << 20),
                    every: Some(RotateEvery::Daily),
                    local_time: Some(false),
                }),
                retention: Some(Retention {
                    keep_files: Some(14),
                    max_age: Some(Duration::from_secs(7 * 86_400)),
                    max_total_bytes: Some(2 << 30),
                }),
                compress: Some(FileCompression::Zstd),
                mode: Some(0o640),
            }),
        ]
    );
    assert_eq!(
        d.redaction,
        Some(RedactionConfig {
            enabled: Some(true),
            keys: Some(vec!["password".into(), "api_key".into()]),
            patterns: vec![(RedactRule::Email, true), (RedactRule::Card, false)],
            token_prefixes: Some(vec!["acme_".into()]),
            replacement: Some(ReplacementKind::Mask),
        })
    );
    let ls = d.log_sampling.unwrap();
    assert_eq!(
        ls.below_error,
        Some(LogPolicy {
            first: 100,
            thereafter: 100,
            period: 1_000_000_000
        })
    );
    assert_eq!(
        ls.levels,
        vec![(
            Level::Debug,
            LogPolicy {
                first: 10,
                thereafter: 1000,
                period: 60_000_000_000
            }
        )]
    );
    assert_eq!(ls.unsampled, Some(Unsampled::Buffer));
    assert_eq!(
        ls.debug_buffer,
        Some(DebugBufferConfig {
            records_per_trace: Some(64),
            bytes: Some(8 << 20)
        })
    );
}

// ---------------------------------------------------------------------------
// Invalid files
// ---------------------------------------------------------------------------

#[test]
fn invalid_files() {
    // (text, kind, line, column, key path, a part of the message)
    let table: &[(&str, ErrorKind, usize, usize, &str, &str)] = &[
        (
            "file_format: \"1.1\"\ntracer_provider:\n  processors: [ { simple: { exporter: { otlp_grpc: } } } ]\n  sampler:\n    parent_based:\n      root:\n        trace_id_ratio_based:\n          ratio: 1.5\n",
            ErrorKind::Invalid,
            8,
            18,
            "tracer_provider.sampler.parent_based.root.trace_id_ratio_based.ratio",
            "expected a number in [0, 1], found a number (\"1.5\")",
        ),
        (
            "resource: {}\n",
            ErrorKind::Version,
            1,
            1,
            "file_format",
            "missing required property 'file_format'",
        ),
        (
            "file_format: \"0.3\"\n",
            ErrorKind::Version,
            1,
            14,
            "file_format",
            "pre-1.0 schema",
        ),
        (
            "file_format: \"2.0\"\n",
            ErrorKind::Version,
            1,
            14,
            "file_format",
            "unsupported major version 2",
        ),
        (
            "file_format: one\n",
            ErrorKind::Version,
            1,
            14,
            "file_format",
            "MAJOR.MINOR",
        ),
        (
            "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - batch:\n        schedule_dely: 5\n        exporter: { otlp_grpc: }\n",
            ErrorKind::Invalid,
            5,
            9,
            "tracer_provider.processors[0].batch.schedule_dely",
            "unknown property 'schedule_dely' (expected one of: export_timeout, exporter, max_export_batch_size, max_queue_size, schedule_delay)",
        ),
        (
            "file_format: \"1.1\"\ntracer_provider:\n  sampler: { always_on: }\n",
            ErrorKind::Invalid,
            3,
            3,
            "tracer_provider",
            "missing required property 'processors'",
        ),
        (
            "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - batch: { max_queue_size: 0, exporter: { otlp_grpc: } }\n",
            ErrorKind::Invalid,
            4,
            32,
            "tracer_provider.processors[0].batch.max_queue_size",
            "expected a positive integer",
        ),
        (
            "file_format: \"1.1\"\nlogger_provider:\n  processors:\n    - batch:\n        exporter:\n          otlp_http:\n            timeout: \"10s\"\n",
            ErrorKind::Invalid,
            7,
            22,
            "logger_provider.processors[0].batch.exporter.otlp_http.timeout",
            "expected a non-negative integer, found a string (\"10s\")",
        ),
        (
            "file_format: \"1.1\"\nlogger_provider:\n  processors:\n    - simple:\n        exporter: { otlp_grpc: { compression: zstd } }\n",
            ErrorKind::Invalid,
            5,
            47,
            "logger_provider.processors[0].simple.exporter.otlp_grpc.compression",
            "unknown value \"zstd\" (expected one of: gzip, none)",
        ),
        (
            "file_format: \"1.1\"\ntracer_provider:\n  processors:\n    - simple:\n        exporter: { otlp_grpc: {}, otlp_http: {} }\n",
            ErrorKind::Invalid,
            5,
            36,
            "tracer_provider.processors[0].simple.exporter",
            "expected exactly one entry, found 2",
        ),
        (
            "file_format: \"1.1\"\nlogger_provider:\n  processors:\n    - simple:\n        exporter:\n          otlp_grpc:\n            certificate_file: /x.pem\n",
            ErrorKind::Invalid,
            7,
            13,
            "logger_provider.processors[0].simple.exporter.otlp_grpc.certificate_file",
            "renamed 'tls.ca_file'",
        ),
        (
            "file_format: \"1.1\"\nresource:\n  attributes:\n    - name: n\n      value: abc\n      type: int\n",
            ErrorKind::Invalid,
            5,
            14,
            "resource.attributes[0].value",
            "expected an integer, found a string (\"abc\")",
        ),
        (
            "file_format: \"1.1\"\nlogger_provider:\n  processors: [ { simple: { exporter: { otlp_grpc: } } } ]\n  logger_configurator/development:\n    default_config: { minimum_severity: loud }\n",
            ErrorKind::Invalid,
            5,
            41,
            "logger_provider.logger_configurator/development.default_config.minimum_severity",
            "unknown severity \"loud\"",
        ),
        (
            "file_format: \"1.1\"\nresource:\n  schema_url: ${SCHEMA:?missing}\n",
            ErrorKind::Substitution,
            3,
            15,
            "resource.schema_url",
            "invalid substitution reference '${SCHEMA:?missing}'",
        ),
        (
            "file_format: \"1.1\"\nresource: [a\n",
            ErrorKind::Syntax,
            3,
            1,
            "",
            "",
        ),
        (
            "file_format: \"1.1\"\nresource: {}\nresource: {}\n",
            ErrorKind::Syntax,
            3,
            1,
            "",
            "duplicate key 'resource'",
        ),
        (
            "file_format: \"1.1\"\ndistribution:\n  datapunk_log:\n    filter: \"info,db=loud\"\n",
            ErrorKind::Invalid,
            4,
            5,
            "distribution.datapunk_log.filter",
            "invalid directives",
        ),
        (
            "file_format: \"1.1\"\ndistribution:\n  datapunk_log:\n    ring: { capacity: 12 parsecs }\n",
            ErrorKind::Invalid,
            4,
            23,
            "distribution.datapunk_log.ring.capacity",
            "invalid size: capacity: unknown unit 'parsecs'",
        ),
        (
            "file_format: \"1.1\"\ndistribution:\n  datapunk_log:\n    sinks:\n      - file: { path: /x.log, mode: 0640 }\n",
            ErrorKind::Invalid,
            5,
            37,
            "distribution.datapunk_log.sinks[0].file.mode",
            "write the mode in octal",
        ),
        (
            "file_format: \"1.1\"\ndistribution:\n  datapunk_log:\n    redaction:\n      patterns: { phone: on }\n",
            ErrorKind::Invalid,
            5,
            19,
            "distribution.datapunk_log.redaction.patterns.phone",
            "unknown redaction rule 'phone'",
        ),
        (
            "file_format: \"1.1\"\ndistribution:\n  datapunk_log:\n    log_sampling:\n      levels:\n        debug: \"first=ten\"\n",
            ErrorKind::Invalid,
            6,
            16,
            "distribution.datapunk_log.log_sampling.levels.debug",
            "first: not a number",
        ),
        (
            "file_format: \"1.1\"\ndistribution:\n  datapunk_log:\n    sinks: [ { stdout: { colour: true } } ]\n",
            ErrorKind::Invalid,
            4,
            26,
            "distribution.datapunk_log.sinks[0].stdout.colour",
            "unknown property 'colour'",
        ),
        (
            "file_format: \"1.1\"\ndistribution:\n  datapunk_log:\n    log_sampling: { unsampled: sometimes }\n",
            ErrorKind::Invalid,
            4,
            32,
            "distribution.datapunk_log.log_sampling.unsampled",
            "expected one of: keep, drop, buffer",
        ),
        (
            "- just\n- a list\n",
            ErrorKind::Invalid,
            1,
            1,
            "",
            "the document must be a mapping",
        ),
    ];
    let mut wrong = Vec::new();
    for (text, kind, line, column, key_path, msg) in table {
        let e = load_err(text);
        let shown = e.to_string();
        if e.kind != *kind
            || (e.line(), e.column(), e.key_path.as_str())
                != (Some(*line), Some(*column), *key_path)
            || !e.message.contains(msg)
            || !shown.starts_with(&format!("test.yaml:{line}:{column}: "))
        {
            wrong.push(format!(
                "{shown} ({:?}); expected {line}:{column} {key_path} {msg:?}",
                e.kind
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn error_display_names_file_line_column_and_key() {
    let e = load_err("file_format: \"1.1\"\nresource:\n  schema_url: [1]\n");
    assert_eq!(
        e.to_string(),
        "test.yaml:3:15: resource.schema_url: expected a string, found a list"
    );
}

#[test]
fn file_errors() {
    let e = OtelFile::from_path("/nonexistent/otel.yaml", no_env).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
    assert!(
        e.to_string()
            .starts_with("/nonexistent/otel.yaml: cannot open the file"),
        "{e}"
    );
    assert!(std::error::Error::source(&e).is_some());
    let e = OtelFile::from_path(data("README.md"), no_env).unwrap_err();
    assert!(e.message.contains(".yaml or .yml"), "{e}");
    let e = OtelFile::from_str("", "empty.yaml", no_env).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Version);
}

// ---------------------------------------------------------------------------
// Substitution (data-model.md's table, with types)
// ---------------------------------------------------------------------------

#[test]
fn substitution_types_follow_the_specification() {
    let env = env_of(&[
        ("STRING_VALUE", "value"),
        ("BOOL_VALUE", "true"),
        ("INT_VALUE", "1"),
        ("FLOAT_VALUE", "1.1"),
        ("HEX_VALUE", "0xdeadbeef"),
        ("INVALID_MAP_VALUE", "value\nkey:value"),
    ]);
    let attr = |value: &str, ty: &str| -> Result<Vec<(String, AttributeValue)>, String> {
        let text = format!(
            "file_format: \"1.1\"\nresource:\n  attributes:\n    - name: k\n      value: {value}\n      type: {ty}\n"
        );
        OtelFile::from_str(&text, "t.yaml", &env)
            .map(|(f, _)| f.resource.unwrap().attributes)
            .map_err(|e| e.to_string())
    };
    let one = |v| Ok(vec![("k".to_owned(), v)]);
    assert_eq!(
        attr("${BOOL_VALUE}", "bool"),
        one(AttributeValue::Bool(true))
    );
    assert_eq!(attr("${INT_VALUE}", "int"), one(AttributeValue::Int(1)));
    assert_eq!(
        attr("${FLOAT_VALUE}", "double"),
        one(AttributeValue::Double(1.1))
    );
    assert_eq!(
        attr("${HEX_VALUE}", "int"),
        one(AttributeValue::Int(3_735_928_559))
    );
    assert_eq!(
        attr("${env:STRING_VALUE}", "string"),
        one(AttributeValue::Str("value".into()))
    );
    assert_eq!(
        attr("${INVALID_MAP_VALUE}", "string"),
        one(AttributeValue::Str("value\nkey:value".into()))
    );
    assert_eq!(
        attr("foo ${STRING_VALUE} ${FLOAT_VALUE}", "string"),
        one(AttributeValue::Str("foo value 1.1".into()))
    );
    // Double-quoted: a string, whatever it looks like.
    assert!(
        attr("\"${BOOL_VALUE}\"", "bool")
            .unwrap_err()
            .contains("expected a boolean")
    );
    assert!(
        attr("\"${INT_VALUE}\"", "int")
            .unwrap_err()
            .contains("found a string (\"1\")")
    );
    // Undefined without default: empty, so null, so the entry is ignored.
    assert_eq!(attr("${UNDEFINED_KEY}", "string"), Ok(vec![]));
    assert_eq!(
        attr("\"${UNDEFINED_KEY}\"", "string"),
        one(AttributeValue::Str(String::new()))
    );
    assert_eq!(
        attr("${UNDEFINED_KEY:-fallback}", "string"),
        one(AttributeValue::Str("fallback".into()))
    );
    assert_eq!(
        attr("$${STRING_VALUE}", "string"),
        one(AttributeValue::Str("${STRING_VALUE}".into()))
    );
    assert_eq!(
        attr("${UNDEFINED_KEY:-7}", "int"),
        one(AttributeValue::Int(7))
    );
    // Keys are not substituted.
    let (f, _) = OtelFile::from_str(
        "file_format: \"1.1\"\n${STRING_VALUE}: value\n",
        "t.yaml",
        &env,
    )
    .unwrap();
    assert_eq!(f.skipped[0].key_path, "${STRING_VALUE}");
    // A version from the environment.
    let (f, _) = OtelFile::from_str("file_format: ${V:-1.0}\n", "t.yaml", &env).unwrap();
    assert_eq!(f.file_format.minor, 0);
    // An invalid reference anywhere, even in a skipped section, fails the load.
    let e = OtelFile::from_str(
        "file_format: \"1.1\"\nmeter_provider:\n  readers: [ { pull: { x: \"${1BAD}\" } } ]\n",
        "t.yaml",
        &env,
    )
    .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Substitution);
    assert_eq!(e.key_path, "meter_provider.readers[0].pull.x");
}

// ---------------------------------------------------------------------------
// Warnings
// ---------------------------------------------------------------------------

#[test]
fn one_warning_lists_every_skipped_part() {
    let text = r#"file_format: "1.1"
resource:
  detection/development:
    detectors: [ { host: } ]
propagator:
  composite: [ { tracecontext: }, { b3: } ]
tracer_provider:
  processors:
    - batch: { exporter: { console: } }
    - simple: { exporter: { otlp_file/development: { output_stream: stdout } } }
    - batch: { exporter: { otlp_grpc: } }
  tracer_configurator/development:
    default_config: { enabled: false }
meter_provider:
  readers: []
instrumentation/development:
  general: {}
distribution:
  other_vendor: { x: 1 }
custom_top_level: 1
"#;
    let (f, warnings) = load(text);
    assert_eq!(f.tracer_provider.as_ref().unwrap().processors.len(), 1);
    let want = [
        ("resource.detection/development", 3),
        ("propagator.composite[1].b3", 6),
        ("tracer_provider.processors[0].batch.exporter.console", 9),
        (
            "tracer_provider.processors[1].simple.exporter.otlp_file/development",
            10,
        ),
        ("tracer_provider.tracer_configurator/development", 12),
        ("distribution.other_vendor", 19),
        ("meter_provider", 14),
        ("instrumentation/development", 16),
        ("custom_top_level", 20),
    ];
    let got: Vec<(&str, usize)> = f
        .skipped
        .iter()
        .map(|s| (s.key_path.as_str(), s.position.line))
        .collect();
    assert_eq!(got, want);
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = warnings[0].to_string();
    assert!(
        w.starts_with("test.yaml: 9 part(s) not implemented by datapunk-log were skipped: "),
        "{w}"
    );
    for (path, line) in want {
        assert!(
            w.contains(&format!("{path} (line {line}: ")),
            "{path} missing from {w}"
        );
    }
}

// ---------------------------------------------------------------------------
// OTEL_CONFIG_FILE
// ---------------------------------------------------------------------------

#[test]
fn otel_config_file_variable() {
    assert_eq!(config_file_path(no_env), None);
    assert_eq!(
        config_file_path(env_of(&[("OTEL_CONFIG_FILE", "  ")])),
        None
    );
    let p = data("examples/otel-sdk-config.yaml");
    let ps = p.to_str().unwrap();
    assert_eq!(
        config_file_path(env_of(&[
            ("OTEL_CONFIG_FILE", ps),
            ("OTEL_EXPERIMENTAL_CONFIG_FILE", "/x.yaml")
        ])),
        Some((p.clone(), "OTEL_CONFIG_FILE"))
    );
    let (f, w) = OtelFile::from_env(env_of(&[("OTEL_CONFIG_FILE", ps)]))
        .unwrap()
        .unwrap();
    assert_eq!(f.origin, ps);
    assert_eq!(w.len(), 1);
    let (_, w) = OtelFile::from_env(env_of(&[("OTEL_EXPERIMENTAL_CONFIG_FILE", ps)]))
        .unwrap()
        .unwrap();
    assert!(w[0].message.contains("deprecated"), "{w:?}");
    assert!(OtelFile::from_env(no_env).unwrap().is_none());
    assert!(OtelFile::from_env(env_of(&[("OTEL_CONFIG_FILE", "/missing.yaml")])).is_err());
}

/// The README's full example file loads, with the values it shows.
#[test]
fn readme_example_loads() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let section = readme
        .split("### The OpenTelemetry configuration file")
        .nth(1)
        .unwrap();
    let yaml = section
        .split("A full file:\n\n```yaml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .unwrap();
    let env = env_of(&[("API_KEY", "k-123")]);
    let (f, warnings) =
        OtelFile::from_str(yaml, "README.md", env).unwrap_or_else(|e| panic!("{e}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    let lp = f.logger_provider.unwrap();
    let Exporter::OtlpGrpc(g) = &first_batch(&lp.processors).exporter else {
        panic!()
    };
    assert_eq!(g.endpoint.as_deref(), Some("http://localhost:4317"));
    assert_eq!(g.headers, vec![("api-key".to_owned(), "k-123".to_owned())]);
    let d = f.datapunk_log.unwrap();
    assert_eq!(d.sinks.len(), 2);
    assert_eq!(d.ring.unwrap().overflow, Some(Overflow::Drop));
}
