//! The writer's record decoder must reject any malformed bytes without
//! panicking, and every record it accepts must encode to valid JSON.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(json) = datapunk_log::__fuzz::decode_values(data) {
        let _: serde_json::Value = serde_json::from_slice(&json).expect("valid JSON");
    }
});
