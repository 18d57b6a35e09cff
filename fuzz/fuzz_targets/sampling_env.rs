//! `DATAPUNK_LOG_SAMPLING`, `DATAPUNK_LOG_UNSAMPLED` and `DATAPUNK_LOG_BUFFER`
//! come from whoever deploys the service: any value gives a configuration or
//! an error, never a panic; an accepted value means what it says (written
//! back in canonical form, it parses to the same configuration); an error
//! names the part that is wrong.
#![no_main]
use datapunk_log::sampler::logs::{
    LogPolicy, Unsampled, parse_buffer_env, parse_sampling_env, parse_unsampled_env,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // One line per variable: sampling, unsampled, buffer.
    let text = String::from_utf8_lossy(data);
    let mut lines = text.split('\n');
    let (sampling, unsampled, buffer) = (
        lines.next().unwrap_or(""),
        lines.next().unwrap_or(""),
        lines.next().unwrap_or(""),
    );

    match parse_sampling_env(sampling) {
        Ok(p) => {
            let canonical = format!(
                "first={},thereafter={},period={}ns",
                p.first, p.thereafter, p.period
            );
            assert_eq!(parse_sampling_env(&canonical), Ok(p), "{sampling:?}");
            // Keys left out keep the defaults.
            if !sampling.to_ascii_lowercase().contains("first") {
                assert_eq!(p.first, LogPolicy::DEFAULT.first, "{sampling:?}");
            }
        }
        Err(e) => assert!(
            ["first", "thereafter", "period", "key"]
                .iter()
                .any(|part| e.contains(part)),
            "{sampling:?}: {e}"
        ),
    }

    match parse_unsampled_env(unsampled) {
        Ok(u) => {
            let name = match u {
                Unsampled::Drop => "drop",
                Unsampled::Keep => "keep",
                Unsampled::Buffer => "buffer",
            };
            assert!(unsampled.trim().eq_ignore_ascii_case(name), "{unsampled:?}");
        }
        Err(e) => assert!(e.contains("expected drop, keep or buffer"), "{e}"),
    }

    match parse_buffer_env(buffer) {
        Ok((records, bytes)) => {
            let canonical = format!("records={records},bytes={bytes}B");
            assert_eq!(
                parse_buffer_env(&canonical),
                Ok((records, bytes)),
                "{buffer:?}"
            );
        }
        Err(e) => assert!(
            ["records", "bytes", "key"].iter().any(|part| e.contains(part)),
            "{buffer:?}: {e}"
        ),
    }
});
