//! Field keys come from dependencies (`log`'s key-values) and from code that
//! records attributes at run time: any key is matched without a panic, the
//! same whatever its ASCII case and whether it spells `_` or `-`, and as a
//! plain reference implementation (normalize, split, compare) says.
#![no_main]
use datapunk_log::redact::{DEFAULT_KEYS, is_secret_key};
use libfuzzer_sys::fuzz_target;

fn reference(key: &str) -> bool {
    let key: String = key
        .chars()
        .map(|c| if c == '-' { '_' } else { c.to_ascii_lowercase() })
        .collect();
    key.split('.').map(str::trim).any(|part| {
        DEFAULT_KEYS.iter().any(|k| {
            part == *k
                || part.strip_suffix(k).is_some_and(|r| r.ends_with('_'))
                || part.strip_prefix(k).is_some_and(|r| r.starts_with('_'))
        })
    })
}

fuzz_target!(|data: &[u8]| {
    let key = String::from_utf8_lossy(data);
    let secret = is_secret_key(&key);
    assert_eq!(secret, reference(&key), "{key:?}");
    let shouted: String = key
        .chars()
        .map(|c| if c == '_' { '-' } else { c.to_ascii_uppercase() })
        .collect();
    assert_eq!(is_secret_key(&shouted), secret, "{key:?} / {shouted:?}");
});
