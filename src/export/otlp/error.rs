//! The errors of the OTLP configuration and exporter: [`OtlpError`], and the
//! helpers that make its variants.

use std::fmt;

/// Why an OTLP configuration or exporter could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpError {
    /// An environment variable holds a value that cannot be used.
    InvalidEnv {
        /// The variable.
        var: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A configured value cannot be used (after the environment and the
    /// builder are merged).
    InvalidConfig {
        /// The setting (`logs endpoint`, `header name`, ...).
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The exporter could not be set up on the export thread.
    Setup(String),
}

impl fmt::Display for OtlpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OtlpError::InvalidEnv { var, reason } => write!(f, "invalid {var}: {reason}"),
            OtlpError::InvalidConfig { setting, reason } => {
                write!(f, "invalid OTLP {setting}: {reason}")
            }
            OtlpError::Setup(reason) => write!(f, "OTLP exporter setup failed: {reason}"),
        }
    }
}

impl std::error::Error for OtlpError {}

pub(super) fn env_err(var: &'static str, reason: impl Into<String>) -> OtlpError {
    OtlpError::InvalidEnv {
        var,
        reason: reason.into(),
    }
}

pub(super) fn cfg_err(setting: &'static str, reason: impl Into<String>) -> OtlpError {
    OtlpError::InvalidConfig {
        setting,
        reason: reason.into(),
    }
}
