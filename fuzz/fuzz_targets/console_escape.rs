//! The console format's values: whatever the bytes, the output is valid
//! UTF-8 holding no control or bidi character (no value can start a line or
//! drive the terminal), and valid UTF-8 input unescapes back to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;

fn unescape(v: &str) -> String {
    let inner = v
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(v);
    let mut out = String::new();
    let mut it = inner.chars();
    while let Some(c) = it.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match it.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('u') => {
                assert_eq!(it.next(), Some('{'));
                let hex: String = it.by_ref().take_while(|&c| c != '}').collect();
                out.push(char::from_u32(u32::from_str_radix(&hex, 16).unwrap()).unwrap());
            }
            other => panic!("unknown escape {other:?}"),
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let out = datapunk_log::__fuzz::console_value(data);
    let text = std::str::from_utf8(&out).expect("valid UTF-8");
    assert!(!text.chars().any(datapunk_log::__fuzz::console_unsafe));
    if let Ok(input) = std::str::from_utf8(data) {
        assert_eq!(unescape(text), input);
    }
});
