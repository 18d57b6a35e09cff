//! Any bytes written as a JSON string must give one valid JSON string whose
//! value is the lossy UTF-8 decoding of the input.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let out = datapunk_log::__fuzz::escape_lossy(data);
    let v: String = serde_json::from_slice(&out).expect("valid JSON string");
    assert_eq!(v, String::from_utf8_lossy(data));
    if let Ok(s) = std::str::from_utf8(data) {
        let out = datapunk_log::__fuzz::escape(s);
        let v: String = serde_json::from_slice(&out).expect("valid JSON string");
        assert_eq!(v, s);
    }
});
