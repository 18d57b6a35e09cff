//! JSON escaping end to end: every control character, quotes, backslashes and
//! non-ASCII text, at every position around the escaper's 16-byte chunks, in
//! static messages, formatted messages, fields, Display/Debug values, targets
//! and thread names. Every line must parse back to the original text.

mod common;

use common::lines_for;
use datapunk_log::MemorySink;

/// The engine all tests of this file share.
fn sink() -> &'static MemorySink {
    common::shared_sink(|b| b)
}

/// Characters that need escaping, and some that must pass through untouched.
fn specials() -> Vec<char> {
    let mut v: Vec<char> = (0u8..0x20).map(char::from).collect();
    v.extend([
        '\u{7f}', '"', '\\', '/', 'é', '€', '😀', '\u{80}', '\u{2028}', '\u{ffff}',
    ]);
    v
}

#[test]
fn every_control_character_alone() {
    sink();
    for c in specials() {
        let s = c.to_string();
        let code = c as u32;
        datapunk_log::info!(target: "e.alone", code, s = s.as_str(), shown = %c, c, "{}", s);
    }
    let lines = lines_for(sink(), "e.alone");
    assert_eq!(lines.len(), specials().len());
    for l in &lines {
        let c = char::from_u32(l.u64("code") as u32).unwrap();
        let s = c.to_string();
        assert_eq!(l.str("s"), s, "field, U+{:04X}", c as u32);
        assert_eq!(l.str("shown"), s, "Display, U+{:04X}", c as u32);
        assert_eq!(l.str("c"), s, "char, U+{:04X}", c as u32);
        assert_eq!(l.message(), s, "message, U+{:04X}", c as u32);
        // Control characters never appear raw in the line.
        assert!(
            !l.raw.bytes().any(|b| b < 0x20),
            "raw control byte in {:?}",
            l.raw
        );
    }
}

#[test]
fn specials_at_every_position_and_length() {
    sink();
    let mut expected = Vec::new();
    for len in 0..=40usize {
        for pos in 0..len {
            for (k, c) in ['\u{0}', '"', '\\', '\n', '\u{7f}', '\u{1f}', 'é']
                .into_iter()
                .enumerate()
            {
                let mut s: String = "abcdefghijklmnopqrstuvwxyz0123456789ABCD"[..len].to_owned();
                s.replace_range(pos..pos + 1, &c.to_string());
                // Also a second special near the end, to cover runs.
                if len > 2 && pos + 2 < len && k % 2 == 0 {
                    let at = s.len() - 1;
                    s.replace_range(at..at + 1, "\t");
                }
                let id = expected.len() as u64;
                datapunk_log::info!(target: "e.pos", id, s = s.as_str(), "{}", s);
                expected.push(s);
            }
        }
    }
    let lines = lines_for(sink(), "e.pos");
    assert_eq!(lines.len(), expected.len());
    for l in &lines {
        let want = &expected[l.u64("id") as usize];
        assert_eq!(l.str("s"), want);
        assert_eq!(l.message(), want);
    }
}

#[test]
fn all_specials_together_in_long_text() {
    sink();
    let all: String = specials().into_iter().collect();
    let long = all.repeat(50);
    let mixed = format!("{{\"json\": [1, \"x\\\\y\"]}}\r\n{all}\u{0}end");
    #[derive(Debug)]
    #[allow(dead_code)] // read through Debug
    struct Holder<'a> {
        s: &'a str,
    }
    let holder = Holder { s: &all };
    datapunk_log::warn!(
        target: "e.long",
        long = long.as_str(),
        mixed = mixed.as_str(),
        dbg = ?holder,
        owned = mixed.clone(),
        "{} | {}",
        all,
        mixed
    );
    let lines = lines_for(sink(), "e.long");
    assert_eq!(lines.len(), 1);
    let l = &lines[0];
    assert_eq!(l.str("long"), long);
    assert_eq!(l.str("mixed"), mixed);
    assert_eq!(l.str("owned"), mixed);
    assert_eq!(l.str("dbg"), format!("{holder:?}"));
    assert_eq!(l.message(), format!("{all} | {mixed}"));
}

#[test]
fn static_messages_targets_and_thread_names() {
    sink();
    datapunk_log::info!(
        target: "e.static",
        "tab\there \"quoted\" back\\slash \u{1} nul\u{0} del\u{7f} é 😀 \u{2028}"
    );
    datapunk_log::info!(target: "e.static\"\n\\", kind = "odd target");
    std::thread::Builder::new()
        .name("thr\"ead\n\\\u{1}é".into())
        .spawn(|| datapunk_log::info!(target: "e.static", kind = "odd thread"))
        .unwrap()
        .join()
        .unwrap();

    let lines = lines_for(sink(), "e.static");
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[0].message(),
        "tab\there \"quoted\" back\\slash \u{1} nul\u{0} del\u{7f} é 😀 \u{2028}"
    );
    let t = lines
        .iter()
        .find(|l| l.value["kind"] == "odd thread")
        .unwrap();
    assert_eq!(t.str("thread"), "thr\"ead\n\\\u{1}é");
    let odd = lines_for(sink(), "e.static\"\n\\");
    assert_eq!(odd.len(), 1);
    assert_eq!(odd[0].str("kind"), "odd target");
}

#[test]
fn unicode_field_names() {
    sink();
    let größe = 3;
    datapunk_log::info!(target: "e.keys", größe, "ok");
    let lines = lines_for(sink(), "e.keys");
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].get("größe"), 3);
}
