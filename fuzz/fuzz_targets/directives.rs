//! Filter directives come from the environment and config files: parsing must
//! never panic, and what parses must print back to an equal value.
#![no_main]
use datapunk_log::Directives;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    match Directives::parse(s) {
        Ok(d) => {
            let again = Directives::parse(&d.to_string()).expect("Display output parses");
            assert_eq!(again, d);
            let _ = d.level_for("a::b::c");
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
