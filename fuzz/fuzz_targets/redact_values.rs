//! Any bytes, as the writer writes a string field with every value pattern
//! on (e-mail too): no panic; one valid JSON string; its text is the input
//! with each secret the scanner reports replaced by the mask (so no
//! reported secret is copied through), the same text the export side
//! writes; and scanning that text again finds nothing but text that
//! touches a replacement (a replacement changes only what is next to it:
//! `AIza` + 35 bytes refused because the token goes on is a key once the
//! rest of the token, a secret of its own, is masked).
#![no_main]
use datapunk_log::__fuzz::{redact_json, redact_matches, redact_raw};
use datapunk_log::redact::MASK;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let out = redact_json(data);
    let text: String = serde_json::from_slice(&out).expect("valid JSON string");
    let matches = redact_matches(data);
    let mut last = 0;
    for m in &matches {
        assert!(last <= m.start && m.start < m.end && m.end <= data.len(), "{m:?}");
        last = m.end;
    }
    let Ok(s) = std::str::from_utf8(data) else {
        // Invalid UTF-8: each valid stretch is scanned on its own (a
        // secret cut by an invalid byte is not one); the JSON above is
        // valid all the same.
        return;
    };
    // The expected text, rebuilt from the matches.
    let mut want = String::new();
    let mut last = 0;
    for m in &matches {
        want.push_str(&s[last..m.start]);
        want.push_str(MASK);
        last = m.end;
    }
    want.push_str(&s[last..]);
    assert_eq!(text, want);
    assert_eq!(redact_raw(data), want.as_bytes(), "the export side differs");
    for m in redact_matches(text.as_bytes()) {
        let touches = text[..m.start].ends_with(MASK)
            || text[m.end..].starts_with(MASK)
            || text[m.start..m.end].contains(MASK);
        assert!(touches, "{text:?}: a second scan finds {m:?}");
    }
});
