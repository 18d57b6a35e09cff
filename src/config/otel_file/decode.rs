//! The OpenTelemetry sections of the file, node by node, into the model.

use super::error::{ConfigFileError, ErrorKind, Position};
use super::model::{
    AttributeValue, BatchProcessor, Compression, Exporter, FileFormat, Limits, LoggerConfig,
    LoggerConfigurator, LoggerMatcher, LoggerProviderConfig, OtelFile, OtlpEncoding, OtlpExporter,
    Processor, Propagator, PropagatorConfig, ResourceConfig, Severity, TlsConfig,
    TracerProviderConfig,
};
use super::read::{
    Ctx, Obj, R, describe, index, join, obj, one_of, opt_bool, opt_enum, opt_millis, opt_positive,
    opt_string, opt_u64, opt_usize, scalar, seq,
};
use super::sampler::sampler;
use super::yaml::{Kind, Node, Value};

/// The newest `file_format` minor version of major 1 this reader knows.
pub(crate) const KNOWN_MINOR: u32 = 1;

/// Top-level properties of the schema the engine does not implement.
const TOP_UNSUPPORTED: &[&str] = &["meter_provider", "instrumentation/development"];

/// The whole document.
pub(crate) fn document(ctx: &mut Ctx, root: &Node) -> R<OtelFile> {
    let mut top = match &root.kind {
        Kind::Map(_) => obj(ctx, root, "")?,
        _ => {
            return Err(ctx.err(
                root.pos,
                "",
                format!("the document must be a mapping, found {}", describe(root)),
            ));
        }
    };
    let file_format = file_format(ctx, &mut top)?;
    let mut out = OtelFile {
        file_format,
        ..OtelFile::default()
    };
    out.disabled = opt_bool(ctx, top.get("disabled"), "disabled")?;
    out.log_level = severity(ctx, top.get("log_level"), "log_level")?;
    if let Some(n) = top.get("attribute_limits") {
        out.attribute_limits = Some(limits(ctx, n, "attribute_limits", LimitSet::Attributes)?);
    }
    if let Some(n) = top.get("resource") {
        out.resource = Some(resource(ctx, n, "resource")?);
    }
    if let Some(n) = top.get("propagator") {
        out.propagator = Some(propagator(ctx, n, "propagator")?);
    }
    if let Some(n) = top.get("tracer_provider") {
        out.tracer_provider = Some(tracer_provider(ctx, n, "tracer_provider")?);
    }
    if let Some(n) = top.get("logger_provider") {
        out.logger_provider = Some(logger_provider(ctx, n, "logger_provider")?);
    }
    if let Some(n) = top.get("distribution") {
        let mut d = obj(ctx, n, "distribution")?;
        if let Some(ours) = d.get("datapunk_log") {
            out.datapunk_log = Some(super::extension::datapunk_log(
                ctx,
                ours,
                "distribution.datapunk_log",
            )?);
        }
        for (k, _) in d.rest() {
            ctx.skip(k.pos, d.at(&k.name), "another distribution's settings");
        }
    }
    // The top level is open (`additionalProperties: true`): never an error.
    for (k, _) in top.rest() {
        let reason = if TOP_UNSUPPORTED.contains(&k.name.as_str()) {
            "not implemented by datapunk-log"
        } else {
            "not a property of the configuration model"
        };
        ctx.skip(k.pos, k.name.clone(), reason);
    }
    Ok(out)
}

/// `file_format`: required, `MAJOR.MINOR[-pre]`, major 1 (see VERSIONING.md
/// of opentelemetry-configuration: another major is an error, a newer
/// minor a warning).
fn file_format(ctx: &mut Ctx, top: &mut Obj<'_>) -> R<FileFormat> {
    let verr = |ctx: &Ctx, pos: Position, msg: String| {
        ConfigFileError::new(
            ErrorKind::Version,
            &ctx.origin,
            Some(pos),
            "file_format",
            msg,
        )
    };
    let Some(node) = top.get("file_format") else {
        return Err(verr(
            ctx,
            top.pos,
            "missing required property 'file_format' (e.g. file_format: \"1.1\")".into(),
        ));
    };
    let Some(s) = scalar(ctx, node, "file_format", "a version string")? else {
        return Err(verr(ctx, node.pos, "file_format is null".into()));
    };
    let text = s.text.trim();
    let (version, pre) = match text.split_once('-') {
        Some((v, p)) => (v, Some(p.to_owned())),
        None => (text, None),
    };
    let mut parts = version.split('.');
    let num = |p: Option<&str>| p.and_then(|p| p.parse::<u32>().ok());
    let (major, minor) = match (num(parts.next()), num(parts.next())) {
        (Some(a), Some(b)) if parts.all(|p| p.parse::<u32>().is_ok()) => (a, b),
        _ => {
            return Err(verr(
                ctx,
                node.pos,
                format!("{text:?} is not a version of the form MAJOR.MINOR (e.g. \"1.1\")"),
            ));
        }
    };
    if major == 0 {
        return Err(verr(
            ctx,
            node.pos,
            format!(
                "file_format {text:?} is a pre-1.0 schema, which datapunk-log does not read: \
                 write the file against file_format 1.0 or 1.1"
            ),
        ));
    }
    if major != 1 {
        return Err(verr(
            ctx,
            node.pos,
            format!("unsupported major version {major} (datapunk-log reads file_format 1.x)"),
        ));
    }
    if pre.is_some() && minor == 0 {
        ctx.legacy = true;
        ctx.strict = false;
        ctx.warn(
            node.pos,
            "file_format",
            format!(
                "pre-release file_format {text:?} is read as 1.0; its pre-1.0 property names \
                 are accepted and unknown properties are skipped"
            ),
        );
    } else if minor > KNOWN_MINOR {
        ctx.strict = false;
        ctx.warn(
            node.pos,
            "file_format",
            format!(
                "file_format {text:?} is newer than 1.{KNOWN_MINOR}, the newest datapunk-log \
                 knows: properties it does not know are skipped instead of rejected"
            ),
        );
    }
    Ok(FileFormat { major, minor, pre })
}

const SEVERITIES: &str = "trace, debug, info, warn, error, fatal (with 2, 3, 4: info2 ...)";

fn severity(ctx: &Ctx, node: Option<&Node>, path: &str) -> R<Option<Severity>> {
    let Some(node) = node else { return Ok(None) };
    let Some(s) = scalar(ctx, node, path, "a severity")? else {
        return Ok(None);
    };
    match Severity::from_name(&s.text) {
        Some(sev) => Ok(Some(sev)),
        None => Err(ctx.err(
            node.pos,
            path,
            format!("unknown severity {:?} (expected {SEVERITIES})", s.text),
        )),
    }
}

#[derive(Clone, Copy, PartialEq)]
enum LimitSet {
    Attributes,
    Spans,
    LogRecords,
}

fn limits(ctx: &mut Ctx, node: &Node, path: &str, set: LimitSet) -> R<Limits> {
    let mut o = obj(ctx, node, path)?;
    let mut l = Limits {
        attribute_value_length_limit: opt_u64(
            ctx,
            o.get("attribute_value_length_limit"),
            &o.at("attribute_value_length_limit"),
        )?,
        attribute_value_depth_limit: opt_positive(
            ctx,
            o.get("attribute_value_depth_limit"),
            &o.at("attribute_value_depth_limit"),
        )?,
        attribute_count_limit: opt_u64(
            ctx,
            o.get("attribute_count_limit"),
            &o.at("attribute_count_limit"),
        )?,
        ..Limits::default()
    };
    if set == LimitSet::Spans {
        l.event_count_limit = opt_u64(ctx, o.get("event_count_limit"), &o.at("event_count_limit"))?;
        l.link_count_limit = opt_u64(ctx, o.get("link_count_limit"), &o.at("link_count_limit"))?;
        l.event_attribute_count_limit = opt_u64(
            ctx,
            o.get("event_attribute_count_limit"),
            &o.at("event_attribute_count_limit"),
        )?;
        l.link_attribute_count_limit = opt_u64(
            ctx,
            o.get("link_attribute_count_limit"),
            &o.at("link_attribute_count_limit"),
        )?;
    }
    o.finish(ctx, &[])?;
    Ok(l)
}

// ---------------------------------------------------------------------------
// resource
// ---------------------------------------------------------------------------

fn resource(ctx: &mut Ctx, node: &Node, path: &str) -> R<ResourceConfig> {
    let mut o = obj(ctx, node, path)?;
    let mut r = ResourceConfig::default();
    let attrs_path = o.at("attributes");
    for (i, item) in seq(ctx, o.get("attributes"), &attrs_path)?
        .iter()
        .enumerate()
    {
        let p = index(&attrs_path, i);
        if let Some(kv) = attribute(ctx, item, &p)? {
            r.attributes.push(kv);
        }
    }
    r.attributes_list = opt_string(ctx, o.get("attributes_list"), &o.at("attributes_list"))?;
    if let Some(list) = &r.attributes_list {
        let (_, invalid) = crate::resource::parse_resource_attributes(list);
        if invalid > 0 {
            let pos = o.key_pos("attributes_list").unwrap_or(o.pos);
            ctx.warn(
                pos,
                &o.at("attributes_list"),
                format!("{invalid} entries are not key=value (percent-encoded) and are ignored"),
            );
        }
    }
    r.schema_url = opt_string(ctx, o.get("schema_url"), &o.at("schema_url"))?;
    o.finish(ctx, &[])?;
    Ok(r)
}

const ATTRIBUTE_TYPES: &[(&str, u8)] = &[
    ("string", 0),
    ("bool", 1),
    ("int", 2),
    ("double", 3),
    ("string_array", 4),
    ("bool_array", 5),
    ("int_array", 6),
    ("double_array", 7),
];

fn attribute(ctx: &mut Ctx, node: &Node, path: &str) -> R<Option<(String, AttributeValue)>> {
    let mut o = obj(ctx, node, path)?;
    let name_node = o.required(ctx, "name")?;
    let name = opt_string(ctx, Some(name_node), &o.at("name"))?.unwrap_or_default();
    let ty = opt_enum(ctx, o.get("type"), &o.at("type"), ATTRIBUTE_TYPES)?.unwrap_or(0);
    let value_path = o.at("value");
    let value = match o.get("value") {
        None => {
            return Err(ctx.err(o.pos, path, "missing required property 'value'"));
        }
        Some(v) if v.is_null() => None, // nullBehavior: the entry is ignored
        Some(v) => Some(attr_value(ctx, v, &value_path, ty)?),
    };
    o.finish(ctx, &[])?;
    Ok(value.map(|v| (name, v)))
}

fn attr_value(ctx: &Ctx, node: &Node, path: &str, ty: u8) -> R<AttributeValue> {
    if ty >= 4 {
        let Kind::Seq(items) = &node.kind else {
            return Err(ctx.err(
                node.pos,
                path,
                format!(
                    "expected a list for an array type, found {}",
                    describe(node)
                ),
            ));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            out.push(attr_value(ctx, item, &index(path, i), ty - 4)?);
        }
        return Ok(match ty {
            4 => AttributeValue::StrArray(
                out.into_iter()
                    .filter_map(|v| match v {
                        AttributeValue::Str(s) => Some(s),
                        _ => None,
                    })
                    .collect(),
            ),
            5 => AttributeValue::BoolArray(
                out.into_iter()
                    .filter_map(|v| match v {
                        AttributeValue::Bool(b) => Some(b),
                        _ => None,
                    })
                    .collect(),
            ),
            6 => AttributeValue::IntArray(
                out.into_iter()
                    .filter_map(|v| match v {
                        AttributeValue::Int(i) => Some(i),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => AttributeValue::DoubleArray(
                out.into_iter()
                    .filter_map(|v| match v {
                        AttributeValue::Double(d) => Some(d),
                        _ => None,
                    })
                    .collect(),
            ),
        });
    }
    let mismatch = |want: &str| {
        let hint = if matches!(node.kind, Kind::Seq(_)) {
            " (a list needs type string_array, bool_array, int_array or double_array)"
        } else {
            ""
        };
        ctx.err(
            node.pos,
            path,
            format!("expected {want}, found {}{hint}", describe(node)),
        )
    };
    let Kind::Scalar(s) = &node.kind else {
        return Err(mismatch(
            ["a string", "a boolean", "an integer", "a number"][ty as usize],
        ));
    };
    match (ty, &s.value) {
        (0, Value::Str(v)) => Ok(AttributeValue::Str(v.clone())),
        (0, Value::Null) => Err(mismatch("a string")),
        (0, _) => Ok(AttributeValue::Str(s.text.clone())),
        (1, Value::Bool(b)) => Ok(AttributeValue::Bool(*b)),
        (1, _) => Err(mismatch("a boolean")),
        (2, Value::Int(i)) => Ok(AttributeValue::Int(*i)),
        (2, _) => Err(mismatch("an integer")),
        (3, Value::Int(i)) => Ok(AttributeValue::Double(*i as f64)),
        (3, Value::Float(f)) => Ok(AttributeValue::Double(*f)),
        _ => Err(mismatch("a number")),
    }
}

// ---------------------------------------------------------------------------
// propagator
// ---------------------------------------------------------------------------

fn known_propagator(name: &str) -> Option<Propagator> {
    match name {
        "tracecontext" => Some(Propagator::TraceContext),
        "baggage" => Some(Propagator::Baggage),
        _ => None,
    }
}

fn propagator(ctx: &mut Ctx, node: &Node, path: &str) -> R<PropagatorConfig> {
    let mut o = obj(ctx, node, path)?;
    let mut out = PropagatorConfig::default();
    let comp_path = o.at("composite");
    for (i, item) in seq(ctx, o.get("composite"), &comp_path)?.iter().enumerate() {
        let p = index(&comp_path, i);
        let (k, v) = one_of(ctx, item, &p)?;
        let kp = join(&p, &k.name);
        match known_propagator(&k.name) {
            Some(prop) => {
                obj(ctx, v, &kp)?.finish(ctx, &[])?;
                if !out.composite.contains(&prop) {
                    out.composite.push(prop);
                }
            }
            None => ctx.skip(k.pos, kp, "propagator not implemented by datapunk-log"),
        }
    }
    let list_pos = o.key_pos("composite_list").unwrap_or(o.pos);
    let list_path = o.at("composite_list");
    if let Some(list) = opt_string(ctx, o.get("composite_list"), &list_path)? {
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let lower = name.to_ascii_lowercase();
            match known_propagator(&lower) {
                Some(prop) if !out.composite.contains(&prop) => out.composite.push(prop),
                Some(_) => {}
                None if lower == "none" => {}
                None => ctx.skip(
                    list_pos,
                    format!("{list_path}[{name}]"),
                    "propagator not implemented by datapunk-log",
                ),
            }
        }
    }
    o.finish(ctx, &[])?;
    Ok(out)
}

// ---------------------------------------------------------------------------
// tracer_provider / logger_provider
// ---------------------------------------------------------------------------

fn tracer_provider(ctx: &mut Ctx, node: &Node, path: &str) -> R<TracerProviderConfig> {
    let mut o = obj(ctx, node, path)?;
    let mut out = TracerProviderConfig {
        processors: processors(ctx, &mut o)?,
        ..TracerProviderConfig::default()
    };
    if let Some(n) = o.get("limits") {
        out.limits = Some(limits(ctx, n, &o.at("limits"), LimitSet::Spans)?);
    }
    if let Some(n) = o.get("sampler") {
        out.sampler = sampler(ctx, n, &o.at("sampler"))?;
    }
    if let Some(n) = o.get("id_generator")
        && !n.is_null()
    {
        let p = o.at("id_generator");
        let (k, v) = one_of(ctx, n, &p)?;
        if k.name == "random" {
            // What the engine does.
            obj(ctx, v, &join(&p, "random"))?.finish(ctx, &[])?;
        } else {
            ctx.skip(
                k.pos,
                join(&p, &k.name),
                "id generator not implemented by datapunk-log",
            );
        }
    }
    o.finish(ctx, &[])?;
    Ok(out)
}

fn logger_provider(ctx: &mut Ctx, node: &Node, path: &str) -> R<LoggerProviderConfig> {
    let mut o = obj(ctx, node, path)?;
    let mut out = LoggerProviderConfig {
        processors: processors(ctx, &mut o)?,
        ..LoggerProviderConfig::default()
    };
    if let Some(n) = o.get("limits") {
        out.limits = Some(limits(ctx, n, &o.at("limits"), LimitSet::LogRecords)?);
    }
    if let Some(n) = o.get("logger_configurator/development") {
        out.logger_configurator = Some(logger_configurator(
            ctx,
            n,
            &o.at("logger_configurator/development"),
        )?);
    }
    o.finish(ctx, &[])?;
    Ok(out)
}

/// `processors` (required by the schema, at least one).
fn processors(ctx: &mut Ctx, o: &mut Obj<'_>) -> R<Vec<Processor>> {
    let node = o.required(ctx, "processors")?;
    let path = o.at("processors");
    let items = seq(ctx, Some(node), &path)?;
    if items.is_empty() {
        return Err(ctx.err(node.pos, &path, "at least one processor is required"));
    }
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let p = index(&path, i);
        let (k, v) = one_of(ctx, item, &p)?;
        let kp = join(&p, &k.name);
        match k.name.as_str() {
            "batch" => {
                let mut b = obj(ctx, v, &kp)?;
                let schedule_delay =
                    opt_millis(ctx, b.get("schedule_delay"), &b.at("schedule_delay"))?;
                let export_timeout =
                    opt_millis(ctx, b.get("export_timeout"), &b.at("export_timeout"))?;
                let max_queue_size =
                    opt_usize(ctx, b.get("max_queue_size"), &b.at("max_queue_size"), 1)?;
                let max_export_batch_size = opt_usize(
                    ctx,
                    b.get("max_export_batch_size"),
                    &b.at("max_export_batch_size"),
                    1,
                )?;
                let en = b.required(ctx, "exporter")?;
                let exporter = exporter(ctx, en, &b.at("exporter"))?;
                b.finish(ctx, &[])?;
                if let Some(exporter) = exporter {
                    out.push(Processor::Batch(BatchProcessor {
                        schedule_delay,
                        export_timeout,
                        max_queue_size,
                        max_export_batch_size,
                        exporter,
                    }));
                }
            }
            "simple" => {
                let mut s = obj(ctx, v, &kp)?;
                let en = s.required(ctx, "exporter")?;
                let exporter = exporter(ctx, en, &s.at("exporter"))?;
                s.finish(ctx, &[])?;
                if let Some(e) = exporter {
                    out.push(Processor::Simple(e));
                }
            }
            _ => ctx.skip(k.pos, kp, "processor not implemented by datapunk-log"),
        }
    }
    Ok(out)
}

/// An exporter; `None` (skipped) when the engine does not implement it,
/// and so the processor is left out.
fn exporter(ctx: &mut Ctx, node: &Node, path: &str) -> R<Option<Exporter>> {
    let (k, v) = one_of(ctx, node, path)?;
    let kp = join(path, &k.name);
    match k.name.as_str() {
        "otlp_grpc" => Ok(Some(Exporter::OtlpGrpc(otlp(ctx, v, &kp, true)?))),
        "otlp_http" => Ok(Some(Exporter::OtlpHttp(otlp(ctx, v, &kp, false)?))),
        _ => {
            ctx.skip(
                k.pos,
                kp,
                "exporter not implemented by datapunk-log (its processor is left out)",
            );
            Ok(None)
        }
    }
}

/// The pre-1.0 (`1.0-rc.1`, `rc.2`) flat TLS names and where they went.
const LEGACY_TLS: &[(&str, &str)] = &[
    ("certificate_file", "tls.ca_file"),
    ("client_key_file", "tls.key_file"),
    ("client_certificate_file", "tls.cert_file"),
];

fn otlp(ctx: &mut Ctx, node: &Node, path: &str, grpc: bool) -> R<OtlpExporter> {
    let mut o = obj(ctx, node, path)?;
    let mut e = OtlpExporter {
        endpoint: opt_string(ctx, o.get("endpoint"), &o.at("endpoint"))?,
        ..OtlpExporter::default()
    };
    if let Some(t) = o.get("tls") {
        let mut t = obj(ctx, t, &o.at("tls"))?;
        let mut tls = TlsConfig {
            ca_file: opt_string(ctx, t.get("ca_file"), &t.at("ca_file"))?.map(Into::into),
            key_file: opt_string(ctx, t.get("key_file"), &t.at("key_file"))?.map(Into::into),
            cert_file: opt_string(ctx, t.get("cert_file"), &t.at("cert_file"))?.map(Into::into),
            insecure: None,
        };
        if grpc {
            tls.insecure = opt_bool(ctx, t.get("insecure"), &t.at("insecure"))?;
        }
        t.finish(ctx, &[])?;
        e.tls = Some(tls);
    }
    // Pre-1.0 names: accepted in 1.0-rc files, an error with a hint after.
    let mut legacy = LEGACY_TLS.to_vec();
    if grpc {
        legacy.push(("insecure", "tls.insecure"));
    }
    for (old, new) in legacy {
        let Some(pos) = o.key_pos(old) else { continue };
        if !ctx.legacy {
            return Err(ctx.err(
                pos,
                &o.at(old),
                format!("'{old}' was renamed '{new}' in file_format 1.0"),
            ));
        }
        let key: &'static str = old;
        let p = o.at(old);
        let tls = e.tls.get_or_insert_with(TlsConfig::default);
        if key == "insecure" {
            tls.insecure = opt_bool(ctx, o.get(key), &p)?;
        } else {
            let v = opt_string(ctx, o.get(key), &p)?.map(Into::into);
            match key {
                "certificate_file" => tls.ca_file = v,
                "client_key_file" => tls.key_file = v,
                _ => tls.cert_file = v,
            }
        }
    }
    let hp = o.at("headers");
    for (i, item) in seq(ctx, o.get("headers"), &hp)?.iter().enumerate() {
        let p = index(&hp, i);
        let mut h = obj(ctx, item, &p)?;
        let name_node = h.required(ctx, "name")?;
        let name = opt_string(ctx, Some(name_node), &h.at("name"))?.unwrap_or_default();
        let value = match h.get("value") {
            None => return Err(ctx.err(h.pos, &p, "missing required property 'value'")),
            Some(v) => opt_string(ctx, Some(v), &h.at("value"))?,
        };
        h.finish(ctx, &[])?;
        // A null value: the entry is ignored (the schema's nullBehavior).
        if let Some(value) = value {
            e.headers.push((name, value));
        }
    }
    e.headers_list = opt_string(ctx, o.get("headers_list"), &o.at("headers_list"))?;
    if let Some(list) = &e.headers_list {
        let (_, invalid) = crate::resource::parse_resource_attributes(list);
        if invalid > 0 {
            let pos = o.key_pos("headers_list").unwrap_or(o.pos);
            ctx.warn(
                pos,
                &o.at("headers_list"),
                format!("{invalid} entries are not key=value (percent-encoded) and are ignored"),
            );
        }
    }
    e.compression = opt_enum(
        ctx,
        o.get("compression"),
        &o.at("compression"),
        &[("gzip", Compression::Gzip), ("none", Compression::None)],
    )?;
    e.timeout = opt_millis(ctx, o.get("timeout"), &o.at("timeout"))?;
    if !grpc {
        e.encoding = opt_enum(
            ctx,
            o.get("encoding"),
            &o.at("encoding"),
            &[
                ("protobuf", OtlpEncoding::Protobuf),
                ("json", OtlpEncoding::Json),
            ],
        )?;
    }
    e.max_request_size = opt_u64(ctx, o.get("max_request_size"), &o.at("max_request_size"))?;
    e.max_response_size =
        opt_positive(ctx, o.get("max_response_size"), &o.at("max_response_size"))?;
    o.finish(ctx, &[])?;
    Ok(e)
}

fn logger_configurator(ctx: &mut Ctx, node: &Node, path: &str) -> R<LoggerConfigurator> {
    let mut o = obj(ctx, node, path)?;
    let mut out = LoggerConfigurator::default();
    if let Some(n) = o.get("default_config") {
        out.default_config = Some(logger_config(ctx, n, &o.at("default_config"))?);
    }
    let lp = o.at("loggers");
    for (i, item) in seq(ctx, o.get("loggers"), &lp)?.iter().enumerate() {
        let p = index(&lp, i);
        let mut m = obj(ctx, item, &p)?;
        let name_node = m.required(ctx, "name")?;
        let name = opt_string(ctx, Some(name_node), &m.at("name"))?.unwrap_or_default();
        let config_node = m.required(ctx, "config")?;
        let config = logger_config(ctx, config_node, &m.at("config"))?;
        m.finish(ctx, &[])?;
        out.loggers.push(LoggerMatcher { name, config });
    }
    o.finish(ctx, &[])?;
    Ok(out)
}

fn logger_config(ctx: &mut Ctx, node: &Node, path: &str) -> R<LoggerConfig> {
    let mut o = obj(ctx, node, path)?;
    let mut c = LoggerConfig {
        enabled: opt_bool(ctx, o.get("enabled"), &o.at("enabled"))?,
        minimum_severity: severity(ctx, o.get("minimum_severity"), &o.at("minimum_severity"))?,
        trace_based: opt_bool(ctx, o.get("trace_based"), &o.at("trace_based"))?,
    };
    // 1.0-rc.3 had `disabled`; 1.0 turned it into `enabled`.
    if let Some(pos) = o.key_pos("disabled") {
        if !ctx.legacy {
            return Err(ctx.err(
                pos,
                &o.at("disabled"),
                "'disabled' was replaced by 'enabled' (inverted) in file_format 1.0",
            ));
        }
        let p = o.at("disabled");
        if let Some(d) = opt_bool(ctx, o.get("disabled"), &p)? {
            c.enabled = Some(!d);
        }
    }
    o.finish(ctx, &[])?;
    Ok(c)
}
