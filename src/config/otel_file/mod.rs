//! The OpenTelemetry declarative configuration file (`OTEL_CONFIG_FILE`),
//! read into a validated, typed model (feature `config-file`).
//!
//! ```
//! use datapunk_log::otel_file::{Exporter, OtelFile, Processor};
//!
//! let text = r#"
//! file_format: "1.1"
//! tracer_provider:
//!   processors:
//!     - batch:
//!         exporter:
//!           otlp_http:
//!             endpoint: ${OTEL_EXPORTER_OTLP_ENDPOINT:-http://localhost:4318}/v1/traces
//! "#;
//! let env = |name: &str| (name == "OTEL_EXPORTER_OTLP_ENDPOINT").then(|| "http://collector:4318".to_owned());
//! let (file, warnings) = OtelFile::from_str(text, "inline.yaml", env)?;
//! assert!(warnings.is_empty());
//! let tp = file.tracer_provider.unwrap();
//! let Processor::Batch(batch) = &tp.processors[0] else { unreachable!() };
//! let Exporter::OtlpHttp(http) = &batch.exporter else { unreachable!() };
//! assert_eq!(http.endpoint.as_deref(), Some("http://collector:4318/v1/traces"));
//! # Ok::<(), datapunk_log::otel_file::ConfigFileError>(())
//! ```
//!
//! # What it follows
//!
//! * The configuration data model of the OpenTelemetry specification
//!   (`specification/configuration/data-model.md`): YAML 1.2 with the core
//!   schema, environment substitution in scalar values only (`${VAR}`,
//!   `${env:VAR}`, `${VAR:-default}`, `$$`), types resolved after
//!   substitution, an invalid reference an error and never a partial result.
//! * The schema of `opentelemetry-configuration` (file format 1.0 and 1.1):
//!   types, ranges, required properties; unknown properties of a closed
//!   node are errors for a `file_format` this reader knows (the spec: Parse
//!   SHOULD return an error when the file does not conform to the schema),
//!   skipped with a warning for a newer minor version (VERSIONING.md: a
//!   newer minor is a warning, another major an error).
//! * Everything the engine does not implement (`meter_provider`,
//!   `instrumentation/development`, `*/development` properties, console and
//!   file exporters, b3 propagators, resource detection, ...) is skipped and
//!   listed in **one** warning, never an error, so OpenTelemetry's own
//!   example files load.
//!
//! # The YAML parser
//!
//! [saphyr-parser](https://crates.io/crates/saphyr-parser): a maintained,
//! pure-Rust, YAML 1.2 parser (it passes the YAML test suite), the
//! successor of yaml-rust2 by the same maintainers, with two small
//! dependencies. It yields events with a span (line and column) and the
//! scalar's style and source text, which this reader needs: substitution
//! works on the text and only a *plain* scalar's type is resolved after it
//! (`"${INT}"` is a string, `${INT}` an integer), and every semantic error
//! — not only syntax errors — names its line and column. The serde-based
//! crates (serde_yaml_ng, serde_norway) resolve types before anything can
//! be substituted and carry no positions into semantic errors; the
//! deprecated serde_yaml is out.
//!
//! # Precedence
//!
//! The model keeps `Option`s so the wiring can apply builder > file >
//! environment > defaults. Note that the specification makes the file
//! authoritative: when `OTEL_CONFIG_FILE` is set, every other `OTEL_*`
//! variable MUST be ignored except where the file references it through
//! substitution.

mod decode;
mod error;
mod extension;
mod model;
mod read;
mod sampler;
mod substitute;
mod yaml;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

pub use error::{ConfigFileError, ErrorKind, Position, Skipped, Warning};
pub use model::{
    AttributeValue, BatchProcessor, Compression, DatapunkLogConfig, DebugBufferConfig, Exporter,
    FileCompression, FileFormat, FileSinkConfig, Limits, LineFormat, LogSamplingConfig,
    LoggerConfig, LoggerConfigurator, LoggerMatcher, LoggerProviderConfig, OtelFile, OtlpEncoding,
    OtlpExporter, Processor, Propagator, PropagatorConfig, RedactionConfig, ReplacementKind,
    ResourceConfig, Retention, RingConfig, RotateEvery, Rotation, Severity, SinkConfig, TlsConfig,
    TracerProviderConfig,
};

/// The variable naming the configuration file.
pub const OTEL_CONFIG_FILE: &str = "OTEL_CONFIG_FILE";
/// Its deprecated name, read when [`OTEL_CONFIG_FILE`] is unset.
pub const OTEL_EXPERIMENTAL_CONFIG_FILE: &str = "OTEL_EXPERIMENTAL_CONFIG_FILE";

/// The largest file read: 16 MiB.
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// What a load returns: the model and the warnings (see [`Warning`]).
pub type Loaded = (OtelFile, Vec<Warning>);

impl OtelFile {
    /// Reads, substitutes and validates the file at `path`. `env` gives the
    /// environment variables the file references (`|n| std::env::var(n).ok()`
    /// in production; a closure over a map in tests).
    ///
    /// # Errors
    ///
    /// A [`ConfigFileError`] naming the file, the line and column, the key
    /// path and what is wrong: the file cannot be read, is over
    /// [`MAX_FILE_BYTES`], lacks a `.yaml`/`.yml` extension (the data model
    /// requires one), is not valid YAML, holds an invalid substitution
    /// reference, has an unsupported `file_format`, or does not conform to
    /// the schema.
    pub fn from_path(
        path: impl AsRef<Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Loaded, ConfigFileError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !ext.eq_ignore_ascii_case("yaml") && !ext.eq_ignore_ascii_case("yml") {
            return Err(ConfigFileError::new(
                ErrorKind::Io,
                &origin,
                None,
                "",
                "a configuration file must have the extension .yaml or .yml",
            ));
        }
        let text = read_limited(path).map_err(|(msg, e)| ConfigFileError::io(&origin, msg, e))?;
        let text = String::from_utf8(text).map_err(|e| {
            ConfigFileError::new(
                ErrorKind::Syntax,
                &origin,
                None,
                "",
                format!(
                    "not UTF-8 (invalid byte at offset {})",
                    e.utf8_error().valid_up_to()
                ),
            )
        })?;
        OtelFile::from_str(&text, &origin, env)
    }

    /// Reads a configuration from text; `origin` names it in errors and
    /// warnings (a path, `"inline"`).
    ///
    /// # Errors
    ///
    /// As [`OtelFile::from_path`], less the file's own errors.
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(
        text: &str,
        origin: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Loaded, ConfigFileError> {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let syntax = |pos: Option<Position>, msg: String| {
            ConfigFileError::new(ErrorKind::Syntax, origin, pos, "", msg)
        };
        let root = yaml::parse(text).map_err(|e| syntax(Some(e.pos), e.message))?;
        let Some(mut root) = root else {
            return Err(ConfigFileError::new(
                ErrorKind::Version,
                origin,
                None,
                "",
                "the file is empty (file_format is required)",
            ));
        };
        substitute_tree(&mut root, "", &env, origin)?;
        let mut ctx = read::Ctx::new(origin);
        let mut file = decode::document(&mut ctx, &root)?;
        file.origin = origin.to_owned();
        file.skipped = std::mem::take(&mut ctx.skipped);
        let mut warnings = ctx.warnings;
        if !file.skipped.is_empty() {
            warnings.push(skipped_warning(origin, &file.skipped));
        }
        Ok((file, warnings))
    }

    /// Loads the file `OTEL_CONFIG_FILE` names (or the deprecated
    /// `OTEL_EXPERIMENTAL_CONFIG_FILE`, with a warning): `Ok(None)` when
    /// neither is set (or both are empty). `env` is used for both the
    /// variable and the file's substitutions.
    ///
    /// # Errors
    ///
    /// As [`OtelFile::from_path`].
    pub fn from_env(
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Loaded>, ConfigFileError> {
        let Some((path, var)) = config_file_path(&env) else {
            return Ok(None);
        };
        let (file, mut warnings) = OtelFile::from_path(&path, &env)?;
        if var == OTEL_EXPERIMENTAL_CONFIG_FILE {
            warnings.insert(
                0,
                Warning {
                    origin: path.display().to_string(),
                    position: None,
                    key_path: String::new(),
                    message: format!(
                        "{OTEL_EXPERIMENTAL_CONFIG_FILE} is deprecated: use {OTEL_CONFIG_FILE}"
                    ),
                },
            );
        }
        Ok(Some((file, warnings)))
    }
}

/// The configuration file's path and the variable that named it:
/// [`OTEL_CONFIG_FILE`], else the deprecated
/// [`OTEL_EXPERIMENTAL_CONFIG_FILE`]; `None` when neither is set to a
/// non-empty value.
pub fn config_file_path(env: impl Fn(&str) -> Option<String>) -> Option<(PathBuf, &'static str)> {
    [OTEL_CONFIG_FILE, OTEL_EXPERIMENTAL_CONFIG_FILE]
        .into_iter()
        .find_map(|var| {
            env(var)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(|v| (PathBuf::from(v), var))
        })
}

fn read_limited(path: &Path) -> Result<Vec<u8>, (String, std::io::Error)> {
    use std::io::Read;
    let f = std::fs::File::open(path).map_err(|e| ("cannot open the file".to_owned(), e))?;
    let mut buf = Vec::new();
    f.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ("cannot read the file".to_owned(), e))?;
    if buf.len() as u64 > MAX_FILE_BYTES {
        return Err((
            format!("the file is larger than {MAX_FILE_BYTES} bytes"),
            std::io::Error::from(std::io::ErrorKind::InvalidData),
        ));
    }
    Ok(buf)
}

/// Substitutes every scalar value (not mapping keys) and resolves its type.
fn substitute_tree(
    node: &mut yaml::Node,
    path: &str,
    env: &dyn Fn(&str) -> Option<String>,
    origin: &str,
) -> Result<(), ConfigFileError> {
    let pos = node.pos;
    match &mut node.kind {
        yaml::Kind::Scalar(s) => {
            let text = substitute::substitute(&s.text, env).map_err(|m| {
                ConfigFileError::new(ErrorKind::Substitution, origin, Some(pos), path, m)
            })?;
            if let std::borrow::Cow::Owned(t) = text {
                s.text = t;
            }
            s.value = yaml::resolve(&s.text, s.plain, s.tag).map_err(|m| {
                ConfigFileError::new(ErrorKind::Invalid, origin, Some(pos), path, m)
            })?;
        }
        yaml::Kind::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                substitute_tree(item, &read::index(path, i), env, origin)?;
            }
        }
        yaml::Kind::Map(entries) => {
            for (k, v) in entries.iter_mut() {
                substitute_tree(v, &read::join(path, &k.name), env, origin)?;
            }
        }
    }
    Ok(())
}

/// The one warning that lists every skipped part.
fn skipped_warning(origin: &str, skipped: &[Skipped]) -> Warning {
    let list: Vec<String> = skipped
        .iter()
        .map(|s| format!("{} (line {}: {})", s.key_path, s.position.line, s.reason))
        .collect();
    Warning {
        origin: origin.to_owned(),
        position: None,
        key_path: String::new(),
        message: format!(
            "{} part(s) not implemented by datapunk-log were skipped: {}",
            skipped.len(),
            list.join("; ")
        ),
    }
}
