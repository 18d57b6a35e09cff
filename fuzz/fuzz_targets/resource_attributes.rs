//! `OTEL_RESOURCE_ATTRIBUTES` comes from whoever deploys the service: building
//! a resource from any value must never panic, every key must be non-empty
//! and unique, and the valid entries must survive re-encoding unchanged.
#![no_main]
use std::collections::HashSet;

use datapunk_log::resource::{
    RESOURCE_ATTRIBUTES_ENV, Resource, SERVICE_NAME_ENV, parse_resource_attributes,
};
use libfuzzer_sys::fuzz_target;

/// Percent-encodes every byte but ASCII letters and digits.
fn encode_all(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // A first line, when there is one, also serves as OTEL_SERVICE_NAME.
    let name = text.split_once('\n').map(|(n, _)| n.to_string());
    let r = Resource::builder().build_with(|var| match var {
        RESOURCE_ATTRIBUTES_ENV => Some(text.to_string()),
        SERVICE_NAME_ENV => name.clone(),
        _ => None,
    });
    assert!(r.iter().all(|(k, _)| !k.is_empty()), "empty key");
    let keys: HashSet<&str> = r.iter().map(|(k, _)| k).collect();
    assert_eq!(keys.len(), r.len(), "duplicate key");
    assert!(!r.service_name().is_empty());

    let (pairs, invalid) = parse_resource_attributes(&text);
    assert!(pairs.len() + invalid <= text.split(',').count());
    assert!(pairs.iter().all(|(k, _)| !k.is_empty()));
    for (k, _) in &pairs {
        if k != "service.name" {
            let last = pairs.iter().rev().find(|(k2, _)| k2 == k).unwrap();
            assert_eq!(r.get(k).and_then(|v| v.as_str()), Some(last.1.as_str()));
        }
    }

    // What was parsed, fully encoded, parses back the same with nothing invalid.
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode_all(k), encode_all(v)))
        .collect();
    let (again, invalid_again) = parse_resource_attributes(&encoded.join(","));
    assert_eq!(invalid_again, 0);
    assert_eq!(again, pairs);
});
