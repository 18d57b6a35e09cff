//! The console format's values: whatever the bytes, the output is valid
//! UTF-8 holding no control or bidi character (no value can start a line or
//! drive the terminal), and valid UTF-8 input unescapes back to itself.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let out = datapunk_log::__fuzz::console_value(data);
    let text = std::str::from_utf8(&out).expect("valid UTF-8");
    assert!(!text.chars().any(datapunk_log::__fuzz::console_unsafe));
    if let Ok(input) = std::str::from_utf8(data) {
        assert_eq!(
            datapunk_log::__fuzz::console_unescape(text).as_deref(),
            Some(input)
        );
    }
});
