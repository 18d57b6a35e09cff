//! What a bad file gives ([`ConfigFileError`]) and what a good file that asks
//! for more than the engine does gives ([`Warning`], [`Skipped`]).

use std::fmt;

/// A position in the file: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Position {
    /// Line, from 1.
    pub line: usize,
    /// Column, from 1, counted in characters.
    pub column: usize,
}

/// What kind of failure a [`ConfigFileError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file could not be read (or is too large, or has the wrong
    /// extension).
    Io,
    /// The text is not valid YAML (or holds more than one document, or
    /// nests too deeply).
    Syntax,
    /// An `${...}` reference that does not follow the substitution syntax.
    Substitution,
    /// `file_format` is missing, malformed or of an unsupported major
    /// version.
    Version,
    /// The document does not conform to the schema: a wrong type, a value
    /// out of range, a missing required property, an unknown property.
    Invalid,
}

/// Why a configuration file was rejected: the file, the line and column,
/// the key path (`tracer_provider.sampler.parent_based.root`) and what is
/// wrong.
///
/// Displayed as `FILE:LINE:COLUMN: KEY.PATH: message`; the position and key
/// path are left out where there is none (an unreadable file).
#[derive(Debug)]
pub struct ConfigFileError {
    /// The file's path, or the origin given to [`super::OtelFile::from_str`].
    pub origin: String,
    /// Where in the file, when the error has a place.
    pub position: Option<Position>,
    /// The dotted key path of the offending node (`[i]` for list items);
    /// empty for the document itself.
    pub key_path: String,
    /// What is wrong.
    pub message: String,
    /// The kind of failure.
    pub kind: ErrorKind,
    pub(crate) source: Option<std::io::Error>,
}

impl ConfigFileError {
    pub(crate) fn new(
        kind: ErrorKind,
        origin: &str,
        position: Option<Position>,
        key_path: &str,
        message: impl Into<String>,
    ) -> ConfigFileError {
        ConfigFileError {
            origin: origin.to_owned(),
            position,
            key_path: key_path.to_owned(),
            message: message.into(),
            kind,
            source: None,
        }
    }

    pub(crate) fn io(origin: &str, message: impl Into<String>, e: std::io::Error) -> Self {
        let mut err = ConfigFileError::new(ErrorKind::Io, origin, None, "", message);
        err.source = Some(e);
        err
    }

    /// The line (1-based), if the error has a place.
    pub fn line(&self) -> Option<usize> {
        self.position.map(|p| p.line)
    }

    /// The column (1-based, in characters), if the error has a place.
    pub fn column(&self) -> Option<usize> {
        self.position.map(|p| p.column)
    }
}

fn write_place(
    f: &mut fmt::Formatter<'_>,
    origin: &str,
    position: Option<Position>,
    key_path: &str,
) -> fmt::Result {
    f.write_str(origin)?;
    if let Some(p) = position {
        write!(f, ":{}:{}", p.line, p.column)?;
    }
    f.write_str(": ")?;
    if !key_path.is_empty() {
        write!(f, "{key_path}: ")?;
    }
    Ok(())
}

impl fmt::Display for ConfigFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_place(f, &self.origin, self.position, &self.key_path)?;
        f.write_str(&self.message)?;
        if let Some(e) = &self.source {
            write!(f, ": {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigFileError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Something in a file that loaded, but not exactly as written: a part the
/// engine does not implement (all of them in one warning, see
/// [`Skipped`]), a value that was mapped to the nearest thing the engine
/// does, a newer `file_format` minor version.
///
/// Displayed like an error: `FILE:LINE:COLUMN: KEY.PATH: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The file's path, or the origin given to [`super::OtelFile::from_str`].
    pub origin: String,
    /// Where in the file, when the warning has a place.
    pub position: Option<Position>,
    /// The dotted key path of the node; empty for the whole document.
    pub key_path: String,
    /// What was done instead.
    pub message: String,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_place(f, &self.origin, self.position, &self.key_path)?;
        f.write_str(&self.message)
    }
}

/// A section, property or component of the file that the engine does not
/// implement and left out (never an error: OpenTelemetry's own example
/// files load). [`super::OtelFile::skipped`] lists them; the load's
/// warnings hold one [`Warning`] that names them all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The dotted key path (`meter_provider`,
    /// `tracer_provider.processors[1].batch.exporter.console`).
    pub key_path: String,
    /// Where it starts.
    pub position: Position,
    /// Why (`not implemented by datapunk-log`, `development feature`, ...).
    pub reason: String,
}
