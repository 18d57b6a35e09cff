//! `distribution.datapunk_log`: the engine's own node.
//!
//! The schema's `distribution` property is "a standardized location for
//! distribution-specific settings that are not part of the OpenTelemetry
//! configuration model", a mapping of vendor names to mappings; this engine
//! reads its settings from the `datapunk_log` entry. Unlike the
//! OpenTelemetry nodes, an unknown key here is always an error (this is the
//! engine's own schema), and values are checked with the engine's own
//! parsers (directives, log policies, redaction rule names, sizes) so a bad
//! value fails at load with its line and key.

use std::time::Duration;

use super::model::{
    DatapunkLogConfig, DebugBufferConfig, FileCompression, FileSinkConfig, LineFormat,
    LogSamplingConfig, RedactionConfig, ReplacementKind, Retention, RingConfig, RotateEvery,
    Rotation, SinkConfig,
};
use super::read::{
    Ctx, R, describe, index, join, obj, one_of, opt_bool, opt_enum, opt_str_list, opt_string,
    opt_u64, opt_usize, scalar, seq,
};
use super::yaml::{Kind, Node, Value};
use crate::level::{Directives, Level};
use crate::overflow::Overflow;
use crate::sampler::LogPolicy;
use crate::sampler::logs::{parse_duration_ns, parse_sampling_env, parse_size};

pub(crate) fn datapunk_log(ctx: &mut Ctx, node: &Node, path: &str) -> R<DatapunkLogConfig> {
    let mut o = obj(ctx, node, path)?;
    let mut out = DatapunkLogConfig::default();
    let fp = o.at("filter");
    if let Some(f) = opt_string(ctx, o.get("filter"), &fp)? {
        match Directives::parse(&f) {
            Ok(d) => out.filter = Some(d),
            Err(e) => {
                let pos = o.key_pos("filter").unwrap_or(o.pos);
                return Err(ctx.err(pos, &fp, format!("invalid directives: {e}")));
            }
        }
    }
    if let Some(n) = o.get("ring") {
        let mut r = obj(ctx, n, &o.at("ring"))?;
        out.ring = Some(RingConfig {
            capacity: size(ctx, r.get("capacity"), &r.at("capacity"))?,
            max_record_bytes: size(ctx, r.get("max_record_bytes"), &r.at("max_record_bytes"))?,
            overflow: opt_enum(
                ctx,
                r.get("overflow"),
                &r.at("overflow"),
                &[("block", Overflow::Block), ("drop", Overflow::Drop)],
            )?,
        });
        r.finish_strict(ctx)?;
    }
    let sp = o.at("sinks");
    for (i, item) in seq(ctx, o.get("sinks"), &sp)?.iter().enumerate() {
        out.sinks.push(sink(ctx, item, &index(&sp, i))?);
    }
    if let Some(n) = o.get("redaction") {
        out.redaction = Some(redaction(ctx, n, &o.at("redaction"))?);
    }
    if let Some(n) = o.get("log_sampling") {
        out.log_sampling = Some(log_sampling(ctx, n, &o.at("log_sampling"))?);
    }
    o.finish_strict(ctx)?;
    Ok(out)
}

/// A size: a non-negative integer (bytes) or `<integer><unit>` (`100MiB`).
fn size(ctx: &Ctx, node: Option<&Node>, path: &str) -> R<Option<u64>> {
    let Some(node) = node else { return Ok(None) };
    let Some(s) = scalar(ctx, node, path, "a size")? else {
        return Ok(None);
    };
    match &s.value {
        Value::Int(i) if *i >= 0 => Ok(Some(i.unsigned_abs())),
        Value::Str(text) => parse_size(&join_last(path), text)
            .map(Some)
            .map_err(|e| ctx.err(node.pos, path, format!("invalid size: {e}"))),
        _ => Err(ctx.err(
            node.pos,
            path,
            format!(
                "expected a size (bytes, or e.g. \"64KiB\", \"100MiB\"), found {}",
                describe(node)
            ),
        )),
    }
}

/// A duration: an integer (seconds) or `<integer><unit>` with `ns`, `us`,
/// `ms`, `s`, `m`, `h` or `d`.
fn duration(ctx: &Ctx, node: Option<&Node>, path: &str) -> R<Option<Duration>> {
    let Some(node) = node else { return Ok(None) };
    let Some(s) = scalar(ctx, node, path, "a duration")? else {
        return Ok(None);
    };
    let bad = |msg: String| ctx.err(node.pos, path, msg);
    match &s.value {
        Value::Int(i) if *i >= 0 => Ok(Some(Duration::from_secs(i.unsigned_abs()))),
        Value::Str(text) => {
            let t = text.trim();
            if let Some(days) = t.strip_suffix('d') {
                let n: u64 = days
                    .trim()
                    .parse()
                    .map_err(|_| bad(format!("invalid duration {t:?}")))?;
                return n
                    .checked_mul(86_400)
                    .map(|s| Some(Duration::from_secs(s)))
                    .ok_or_else(|| bad(format!("duration {t:?} is too large")));
            }
            parse_duration_ns(&join_last(path), t)
                .map(|ns| Some(Duration::from_nanos(ns)))
                .map_err(|e| bad(format!("invalid duration: {e} (or d for days)")))
        }
        _ => Err(bad(format!(
            "expected a duration (seconds, or e.g. \"500ms\", \"12h\", \"7d\"), found {}",
            describe(node)
        ))),
    }
}

/// The last key of a path (what the engine's parsers call the value).
fn join_last(path: &str) -> String {
    path.rsplit('.').next().unwrap_or(path).to_owned()
}

const FORMATS: &[(&str, LineFormat)] = &[
    ("json", LineFormat::Json),
    ("console", LineFormat::Console),
    ("auto", LineFormat::Auto),
];

fn sink(ctx: &mut Ctx, node: &Node, path: &str) -> R<SinkConfig> {
    let (k, v) = one_of(ctx, node, path)?;
    let kp = join(path, &k.name);
    let mut o = obj(ctx, v, &kp)?;
    let format = opt_enum(ctx, o.get("format"), &o.at("format"), FORMATS)?;
    let out = match k.name.as_str() {
        "stdout" => SinkConfig::Stdout { format },
        "stderr" => SinkConfig::Stderr { format },
        "file" => {
            let pn = o.required(ctx, "path")?;
            let path_s = opt_string(ctx, Some(pn), &o.at("path"))?.unwrap_or_default();
            if path_s.trim().is_empty() {
                return Err(ctx.err(pn.pos, &o.at("path"), "the path is empty"));
            }
            let mut f = FileSinkConfig {
                path: path_s.into(),
                format,
                rotation: None,
                retention: None,
                compress: opt_enum(
                    ctx,
                    o.get("compress"),
                    &o.at("compress"),
                    &[
                        ("none", FileCompression::None),
                        ("gzip", FileCompression::Gzip),
                        ("zstd", FileCompression::Zstd),
                    ],
                )?,
                mode: mode(ctx, o.get("mode"), &o.at("mode"))?,
            };
            if let Some(n) = o.get("rotation") {
                let mut r = obj(ctx, n, &o.at("rotation"))?;
                f.rotation = Some(Rotation {
                    size: size(ctx, r.get("size"), &r.at("size"))?,
                    every: opt_enum(
                        ctx,
                        r.get("every"),
                        &r.at("every"),
                        &[
                            ("hourly", RotateEvery::Hourly),
                            ("daily", RotateEvery::Daily),
                        ],
                    )?,
                    local_time: opt_bool(ctx, r.get("local_time"), &r.at("local_time"))?,
                });
                r.finish_strict(ctx)?;
            }
            if let Some(n) = o.get("retention") {
                let mut r = obj(ctx, n, &o.at("retention"))?;
                f.retention = Some(Retention {
                    keep_files: opt_u64(ctx, r.get("keep_files"), &r.at("keep_files"))?,
                    max_age: duration(ctx, r.get("max_age"), &r.at("max_age"))?,
                    max_total_bytes: size(ctx, r.get("max_total_bytes"), &r.at("max_total_bytes"))?,
                });
                r.finish_strict(ctx)?;
            }
            SinkConfig::File(f)
        }
        other => {
            return Err(ctx.err(
                k.pos,
                &kp,
                format!("unknown sink '{other}' (expected stdout, stderr or file)"),
            ));
        }
    };
    o.finish_strict(ctx)?;
    Ok(out)
}

/// File permission bits: a quoted octal string (`"0640"`) or a YAML 1.2
/// octal integer (`0o640`). A plain `0640` is refused: YAML 1.2 reads it as
/// the decimal 640.
fn mode(ctx: &Ctx, node: Option<&Node>, path: &str) -> R<Option<u32>> {
    let Some(node) = node else { return Ok(None) };
    let Some(s) = scalar(ctx, node, path, "a file mode")? else {
        return Ok(None);
    };
    let digits = match &s.value {
        Value::Str(t) => t.trim().strip_prefix("0o").unwrap_or(t.trim()).to_owned(),
        Value::Int(_) if s.text.starts_with("0o") => s.text[2..].to_owned(),
        _ => {
            return Err(ctx.err(
                node.pos,
                path,
                format!(
                    "write the mode in octal as a string (\"0640\") or as 0o640, found {}",
                    describe(node)
                ),
            ));
        }
    };
    match u32::from_str_radix(&digits, 8) {
        Ok(m) if m <= 0o7777 && !digits.is_empty() => Ok(Some(m)),
        _ => Err(ctx.err(
            node.pos,
            path,
            format!("invalid file mode {:?} (octal, at most 7777)", s.text),
        )),
    }
}

fn redaction(ctx: &mut Ctx, node: &Node, path: &str) -> R<RedactionConfig> {
    let mut o = obj(ctx, node, path)?;
    let mut out = RedactionConfig {
        enabled: opt_bool(ctx, o.get("enabled"), &o.at("enabled"))?,
        keys: opt_str_list(ctx, o.get("keys"), &o.at("keys"))?,
        ..RedactionConfig::default()
    };
    if let Some(n) = o.get("patterns") {
        let pp = o.at("patterns");
        let p = obj(ctx, n, &pp)?;
        let entries: Vec<_> = p.rest().collect();
        for (k, v) in entries {
            let kp = join(&pp, &k.name);
            let Some(rule) = crate::redact::Rule::from_name(&k.name) else {
                let names: Vec<&str> = crate::redact::Rule::ALL[1..]
                    .iter()
                    .map(|r| r.name())
                    .collect();
                return Err(ctx.err(
                    k.pos,
                    &kp,
                    format!(
                        "unknown redaction rule '{}' (expected one of: {})",
                        k.name,
                        names.join(", ")
                    ),
                ));
            };
            if rule == crate::redact::Rule::Key {
                return Err(ctx.err(
                    k.pos,
                    &kp,
                    "'key' is not a value pattern: set redaction.keys instead",
                ));
            }
            let on = match &v.kind {
                Kind::Scalar(s) => match (&s.value, s.text.as_str()) {
                    (Value::Bool(b), _) => Some(*b),
                    (Value::Str(_), "on") => Some(true),
                    (Value::Str(_), "off") => Some(false),
                    _ => None,
                },
                _ => None,
            };
            let Some(on) = on else {
                return Err(ctx.err(
                    v.pos,
                    &kp,
                    format!("expected on, off, true or false, found {}", describe(v)),
                ));
            };
            out.patterns.push((rule, on));
        }
    }
    out.token_prefixes = opt_str_list(ctx, o.get("token_prefixes"), &o.at("token_prefixes"))?;
    if let Some(prefixes) = &out.token_prefixes
        && let Some(i) = prefixes.iter().position(|p| p.trim().is_empty())
    {
        let pos = o.key_pos("token_prefixes").unwrap_or(o.pos);
        return Err(ctx.err(
            pos,
            &index(&o.at("token_prefixes"), i),
            "a token prefix cannot be empty",
        ));
    }
    out.replacement = opt_enum(
        ctx,
        o.get("replacement"),
        &o.at("replacement"),
        &[
            ("mask", ReplacementKind::Mask),
            ("hmac", ReplacementKind::Hmac),
        ],
    )?;
    o.finish_strict(ctx)?;
    Ok(out)
}

fn log_sampling(ctx: &mut Ctx, node: &Node, path: &str) -> R<LogSamplingConfig> {
    let mut o = obj(ctx, node, path)?;
    let mut out = LogSamplingConfig {
        below_error: policy(ctx, o.get("below_error"), &o.at("below_error"))?,
        ..LogSamplingConfig::default()
    };
    if let Some(n) = o.get("levels") {
        let lp = o.at("levels");
        let l = obj(ctx, n, &lp)?;
        for (k, v) in l.rest() {
            let kp = join(&lp, &k.name);
            let level: Level = k
                .name
                .parse()
                .map_err(|e| ctx.err(k.pos, &kp, format!("{e}")))?;
            if let Some(p) = policy(ctx, Some(v), &kp)? {
                out.levels.push((level, p));
            }
        }
    }
    out.unsampled = opt_enum(
        ctx,
        o.get("unsampled"),
        &o.at("unsampled"),
        &[
            ("keep", crate::sampler::Unsampled::Keep),
            ("drop", crate::sampler::Unsampled::Drop),
            ("buffer", crate::sampler::Unsampled::Buffer),
        ],
    )?;
    if let Some(n) = o.get("debug_buffer") {
        let mut b = obj(ctx, n, &o.at("debug_buffer"))?;
        let records_per_trace = opt_usize(
            ctx,
            b.get("records_per_trace"),
            &b.at("records_per_trace"),
            0,
        )?;
        let bp = b.at("bytes");
        let bytes = match size(ctx, b.get("bytes"), &bp)? {
            None => None,
            Some(n) => Some(
                usize::try_from(n)
                    .map_err(|_| ctx.err(b.key_pos("bytes").unwrap_or(b.pos), &bp, "too large"))?,
            ),
        };
        b.finish_strict(ctx)?;
        out.debug_buffer = Some(DebugBufferConfig {
            records_per_trace,
            bytes,
        });
    }
    o.finish_strict(ctx)?;
    Ok(out)
}

/// A per-call-site policy: the `DATAPUNK_LOG_SAMPLING` string
/// (`first=100,thereafter=100,period=1s`) or a mapping of the same keys.
fn policy(ctx: &mut Ctx, node: Option<&Node>, path: &str) -> R<Option<LogPolicy>> {
    let Some(node) = node else { return Ok(None) };
    match &node.kind {
        _ if node.is_null() => Ok(None),
        Kind::Scalar(s) => parse_sampling_env(&s.text)
            .map(Some)
            .map_err(|e| ctx.err(node.pos, path, format!("invalid log sampling policy: {e}"))),
        Kind::Map(_) => {
            let mut o = obj(ctx, node, path)?;
            let mut p = LogPolicy::DEFAULT;
            if let Some(v) = opt_u64(ctx, o.get("first"), &o.at("first"))? {
                p.first = v;
            }
            if let Some(v) = opt_u64(ctx, o.get("thereafter"), &o.at("thereafter"))? {
                p.thereafter = v;
            }
            if let Some(d) = duration(ctx, o.get("period"), &o.at("period"))? {
                p.period = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
            }
            o.finish_strict(ctx)?;
            Ok(Some(p))
        }
        Kind::Seq(_) => Err(ctx.err(
            node.pos,
            path,
            "expected a policy string (\"first=100,thereafter=100,period=1s\") or a mapping",
        )),
    }
}
