//! Fake environments: the configurations and errors the unit tests of the
//! OTLP module read from a list of variables.

use std::collections::HashMap;

use super::config::OtlpConfig;
use super::error::OtlpError;

/// An environment of `vars` (names and values), for
/// [`OtlpConfig::from_env_with`].
fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

/// The configuration of `vars` (names and values); panics on an error.
pub(super) fn cfg(vars: &[(&str, &str)]) -> OtlpConfig {
    match OtlpConfig::from_env_with(env(vars)) {
        Ok(c) => c,
        Err(e) => panic!("unexpected error for {vars:?}: {e}"),
    }
}

/// The error of `vars`; panics when they make a configuration.
pub(super) fn err(vars: &[(&str, &str)]) -> OtlpError {
    match OtlpConfig::from_env_with(env(vars)) {
        Ok(c) => panic!("expected an error for {vars:?}, got {c:?}"),
        Err(e) => e,
    }
}
