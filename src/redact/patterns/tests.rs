//! The value patterns: a table of secrets each rule finds and near misses
//! it leaves; the pre-filter against its table; each rule against an
//! oracle written with the `regex` crate; card numbers by property.

use proptest::prelude::*;
use regex::bytes::Regex;

use super::{Match, Patterns, luhn};
use crate::redact::{DEFAULT_PATTERN_BITS, DEFAULT_TOKEN_PREFIXES, Rule};

fn prefixes() -> Vec<String> {
    DEFAULT_TOKEN_PREFIXES
        .iter()
        .map(|p| (*p).to_string())
        .collect()
}

fn with(rules: &[Rule]) -> Patterns {
    Patterns::new(rules.iter().fold(0, |m, r| m | 1 << *r as u16), &prefixes())
}

fn defaults() -> Patterns {
    Patterns::new(DEFAULT_PATTERN_BITS, &prefixes())
}

fn all() -> Patterns {
    with(&Rule::ALL)
}

/// Every match, left to right.
fn matches(p: &Patterns, s: &[u8]) -> Vec<Match> {
    let mut v = Vec::new();
    let mut from = 0;
    while let Some(m) = p.find(s, from) {
        assert!(
            m.start >= from && m.end > m.start && m.end <= s.len(),
            "{m:?}"
        );
        v.push(m);
        from = m.end;
    }
    v
}

fn found<'s>(p: &Patterns, s: &'s str) -> Vec<(Rule, &'s str)> {
    matches(p, s.as_bytes())
        .into_iter()
        .map(|m| (m.rule, &s[m.start..m.end]))
        .collect()
}

const JWT: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
const PEM: &str = "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcT\n-----END RSA PRIVATE KEY-----";

#[test]
fn each_rule_finds_its_secrets() {
    let p = all();
    let cases: &[(&str, Rule, &str)] = &[
        (
            "Authorization: Bearer abcDEF123456ghiJKL",
            Rule::Bearer,
            "abcDEF123456ghiJKL",
        ),
        ("bearer mF_9.B5f-4.1JqM", Rule::Bearer, "mF_9.B5f-4.1JqM"),
        (
            "BEARER\tabcdefghijklmnop!",
            Rule::Bearer,
            "abcdefghijklmnop",
        ),
        (
            "Basic dXNlcjpwYXNzd29yZA==",
            Rule::Bearer,
            "dXNlcjpwYXNzd29yZA==",
        ),
        ("auth=basic  dXNlcjpwYXNz;", Rule::Bearer, "dXNlcjpwYXNz"),
        (&format!("token={JWT}&x=1"), Rule::Jwt, JWT),
        (
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
            Rule::Jwt,
            "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.",
        ),
        (
            "key AKIAIOSFODNN7EXAMPLE.",
            Rule::CloudKey,
            "AKIAIOSFODNN7EXAMPLE",
        ),
        (
            "ASIAY34FZKBOKMUTVV7A",
            Rule::CloudKey,
            "ASIAY34FZKBOKMUTVV7A",
        ),
        (
            "k=AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
            Rule::CloudKey,
            "AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
        ),
        (
            "ghp_1234567890abcdefghijABCDEFGHIJ123456",
            Rule::CloudKey,
            "ghp_1234567890abcdefghijABCDEFGHIJ123456",
        ),
        (
            "(github_pat_11ABCDEFG0123456789_abcdefghijklmnop)",
            Rule::CloudKey,
            "github_pat_11ABCDEFG0123456789_abcdefghijklmnop",
        ),
        (
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKl",
            Rule::CloudKey,
            "xoxb-123456789012-1234567890123-AbCdEfGhIjKl",
        ),
        (
            "stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc.",
            Rule::CloudKey,
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        ),
        (
            "glpat-xxxxxxxxxxxxxxxxxxxx",
            Rule::CloudKey,
            "glpat-xxxxxxxxxxxxxxxxxxxx",
        ),
        (
            "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",
            Rule::CloudKey,
            "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",
        ),
        (&format!("key: {PEM} end"), Rule::Pem, PEM),
        (
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
            Rule::Pem,
            "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
        ),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXk\\n-----END OPENSSH PRIVATE KEY-----\\n",
            Rule::Pem,
            "-----BEGIN OPENSSH PRIVATE KEY-----\\nb3BlbnNzaC1rZXk\\n-----END OPENSSH PRIVATE KEY-----",
        ),
        (
            "postgres://app:hunter2@db.internal:5432/orders",
            Rule::UrlCredentials,
            "app:hunter2",
        ),
        (
            "redis://:s3cret@cache:6379",
            Rule::UrlCredentials,
            ":s3cret",
        ),
        (
            "https://user:p@ss@host/x",
            Rule::UrlCredentials,
            "user:p@ss",
        ),
        (
            "card 4111 1111 1111 1111 exp 12/27",
            Rule::Card,
            "4111 1111 1111 1111",
        ),
        ("4111-1111-1111-1111", Rule::Card, "4111-1111-1111-1111"),
        ("pan=4111111111111111;", Rule::Card, "4111111111111111"),
        ("amex 378282246310005", Rule::Card, "378282246310005"),
        ("amex 3782 822463 10005", Rule::Card, "3782 822463 10005"),
        ("mc 5555555555554444", Rule::Card, "5555555555554444"),
        (
            "2024-01-15 4111111111111111",
            Rule::Card,
            "4111111111111111",
        ),
        ("visa13 4222222222222.", Rule::Card, "4222222222222"),
        (
            "mail bob.smith+x@example.co.uk now",
            Rule::Email,
            "bob.smith+x@example.co.uk",
        ),
    ];
    for (s, rule, secret) in cases {
        assert_eq!(found(&p, s), vec![(*rule, *secret)], "{s:?}");
    }
}

#[test]
fn near_misses_are_left_alone() {
    let p = defaults();
    for s in [
        "order 4111111111111112",             // fails Luhn
        "ts=1732000000000000000",             // a first digit no network uses
        "id x4111111111111111",               // inside a word
        "ratio 0.4111111111111111",           // a decimal
        "4111111111111111.5",                 // a decimal
        "tel +4915112345678",                 // a phone number
        "4111 1111 1111 1111 1111",           // 20 digits: a longer number
        "41111111 11111111",                  // groups too long to join
        "eyJhbGciOiJIUzI1NiJ9",               // one segment
        "eyJhbGciOiJIUzI1NiJ9.payload",       // two segments
        "eyJhb.eyJzdWIiOiIx.sig",             // a first segment too short
        "xeyJhbGciOiJIUzI1NiJ9.eyJzdWIi.sig", // inside a word
        "Bearer",
        "Bearer ",
        "Bearer authentication",
        "bearer token",
        "use the Bearer scheme",
        "Basic auth",
        "Basic realm=\"x\"",
        "Basic authentication",
        "ABearer abcdefgh12345678",
        "AKIAIOSFODNN7EXAMPL",   // 19
        "AKIAIOSFODNN7EXAMPLEX", // 21
        "xAKIAIOSFODNN7EXAMPLE",
        "AKIAiosfodnn7example",
        "AIzaShort",
        "key-AIzaSyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe", // the tail of a longer token
        "ghp_short",
        "myghp_1234567890abcdef",
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        "-----BEGIN PUBLIC KEY-----\nMIIB",
        "https://example.com/path?x=1",
        "https://user@host/",
        "ftp://user:@host",
        "a ://user:pw@host",
        "uuid 550e8400-e29b-41d4-a716-446655440000",
        "2026-11-21T09:36:12.123456789Z",
        "see RFC 7519 section 3, port 8080",
        "bob@example.com",           // e-mail is off by default
        "postgres://u:[REDACTED]@h", // redacted before
        "Bearer hmac-sha256:k1:0123456789abcdef0123456789abcdef",
        "mysql://u:hmac-sha256:k1:0123456789abcdef0123456789abcdef@h",
    ] {
        assert_eq!(found(&p, s), vec![], "{s:?}");
    }
    let p = all();
    for s in [
        "@handle",
        "user@localhost",
        "a@b.c1",
        "x@.com",
        "@example.com",
    ] {
        assert_eq!(found(&p, s), vec![], "{s:?}");
    }
}

#[test]
fn matches_start_at_or_after_from_and_come_in_order() {
    let p = all();
    let s = format!("a Bearer abcdefgh12345678 b {JWT} c 4111111111111111 d AKIAIOSFODNN7EXAMPLE");
    let rules: Vec<Rule> = matches(&p, s.as_bytes()).iter().map(|m| m.rule).collect();
    assert_eq!(rules, [Rule::Bearer, Rule::Jwt, Rule::Card, Rule::CloudKey]);
    // From inside a secret, what is left of it is not a match.
    let at = s.find("eyJ").unwrap();
    let m = p.find(s.as_bytes(), at + 1).unwrap();
    assert_eq!(m.rule, Rule::Card);
    // Nothing on: nothing found.
    assert_eq!(with(&[]).find(s.as_bytes(), 0), None);
}

#[test]
fn rules_are_independent() {
    let s = format!(
        "Bearer abcdefgh12345678 {JWT} 4111111111111111 AKIAIOSFODNN7EXAMPLE {PEM} x://u:pw@h bob@example.com"
    );
    for r in Rule::ALL.into_iter().filter(|r| *r != Rule::Key) {
        let got: Vec<Rule> = matches(&with(&[r]), s.as_bytes())
            .iter()
            .map(|m| m.rule)
            .collect();
        assert_eq!(got, vec![r], "{r}");
    }
}

#[test]
fn the_luhn_check() {
    for ok in ["4111111111111111", "79927398713", "0", "18"] {
        assert!(luhn(ok.bytes()), "{ok}");
    }
    for bad in ["4111111111111112", "79927398710", "1"] {
        assert!(!luhn(bad.bytes()), "{bad}");
    }
}

/// Strings made of pieces that come close to every pattern.
fn pieces() -> impl Strategy<Value = String> {
    const PIECES: &[&str] = &[
        "eyJ",
        "hbGciOiJIUzI1NiJ9",
        "eyJzdWIi",
        "ab",
        ".",
        ".",
        "-",
        "_",
        "AKIA",
        "ASIA",
        "IOSFODNN7EXAMPLE",
        "AIza",
        "SyDaGmWKa4JsXZ-HjGw7ISLn_3namBGewQe",
        "ghp_",
        "xoxb-",
        "SG.",
        "sk_live_",
        "Bearer",
        "bearer",
        "BASIC",
        "basic",
        " ",
        " ",
        "\t",
        "://",
        "http",
        "user",
        ":",
        "@",
        "@",
        "x",
        "A",
        "J",
        "9",
        "=",
        "==",
        "/",
        "?",
        "#",
        "é",
        "\n",
        "\"",
        "-----BEGIN ",
        "RSA PRIVATE KEY",
        "PRIVATE KEY",
        "CERTIFICATE",
        "-----",
        "-----END ",
        "4111",
        "1111",
        "4111111111111111",
        "378282246310005",
        "42",
        " ",
        "example.com",
        "co",
        "bob",
        ".uk",
        "[REDACTED]",
        "hmac-sha256:",
        "%",
        "+",
        "~",
        "12345678",
        "abcdefghijklmnop",
        // Whole secrets, so that every rule meets them with all sorts of
        // neighbours.
        "Bearer abcdefgh12345678",
        "basic dXNlcjpwYXNz",
        "mF_9.B5f-4.1JqM",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIx.c2ln",
        "eyJhbGciOiJub25lIn0",
        "-----BEGIN RSA PRIVATE KEY-----",
        "-----END RSA PRIVATE KEY-----",
        "-----BEGIN CERTIFICATE-----",
        "postgres://app:hunter2@db",
        "https://",
        "pw",
        "bob@example.com",
        "ghp_1234567890abcdef",
        "AKIAIOSFODNN7EXAMPLE",
    ];
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(PIECES).prop_map(str::to_string),
            1 => "[ -~]{0,3}",
        ],
        0..16,
    )
    .prop_map(|v| v.concat())
}

/// An oracle of one rule: at anchor position `p` (matches start at or
/// after `from`), the match, if any. Anchor positions are tried left to
/// right from `from`, as the scanner does.
fn oracle(
    s: &[u8],
    mut at: impl FnMut(&[u8], usize, usize) -> Option<(usize, usize)>,
) -> Vec<(usize, usize)> {
    let mut v = Vec::new();
    let mut from = 0;
    let mut p = 0;
    while p < s.len() {
        match at(s, from, p) {
            Some((st, en)) if !redacted(&s[st..]) => {
                v.push((st, en));
                from = en;
                p = en;
            }
            _ => p += 1,
        }
    }
    v
}

fn redacted(s: &[u8]) -> bool {
    s.starts_with(b"[REDACTED]") || s.starts_with(b"hmac-sha256:")
}

fn spans(p: &Patterns, s: &[u8]) -> Vec<(usize, usize)> {
    matches(p, s).iter().map(|m| (m.start, m.end)).collect()
}

fn word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

fn token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'-'
}

/// `re` (anchored with `^`) at `s[i..]`: the end of its match.
fn at_end(re: &Regex, s: &[u8], i: usize) -> Option<usize> {
    re.find(&s[i..]).map(|m| i + m.end())
}

struct Oracles {
    bearer: Regex,
    basic: Regex,
    jwt: Regex,
    aws: Regex,
    google: Regex,
    prefix: Vec<(usize, Regex)>,
    pem: Regex,
    pem_end: Regex,
    url: Regex,
    email: Regex,
}

fn oracles() -> &'static Oracles {
    static O: std::sync::OnceLock<Oracles> = std::sync::OnceLock::new();
    O.get_or_init(make_oracles)
}

fn make_oracles() -> Oracles {
    let r = |p: &str| Regex::new(p).unwrap();
    Oracles {
        bearer: r(r"^(?i-u:bearer)[ \t]+([A-Za-z0-9\-._~+/]+)(=*)"),
        basic: r(r"^(?i-u:basic)[ \t]+([A-Za-z0-9+/]+)(=*)"),
        jwt: r(r"^eyJ[A-Za-z0-9_-]{7,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*"),
        aws: r(r"^(?:AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|ABIA|ACCA)[A-Z0-9]{16}"),
        google: r(r"^AIza[A-Za-z0-9_-]{35}"),
        prefix: DEFAULT_TOKEN_PREFIXES
            .iter()
            .map(|p| {
                let at = p.find(['_', '-', '.']).unwrap();
                (
                    at,
                    r(&format!(
                        r"^{}([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)",
                        regex::escape(p)
                    )),
                )
            })
            .collect(),
        pem: r(r"^-----BEGIN ([A-Z0-9 ]{0,63})-----"),
        pem_end: r(r"^[A-Z0-9 ]{0,63}-----"),
        url: r(
            r#"(?-u)^[A-Za-z0-9]://([^:/?# "'<>\\\x00-\x1f\x7f]*:([^/?# "'<>\\\x00-\x1f\x7f]+))@[^@/?# "'<>\\\x00-\x1f\x7f]*"#,
        ),
        email: r(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),
    }
}

impl Oracles {
    fn bearer(&self, s: &[u8], _: usize, p: usize) -> Option<(usize, usize)> {
        if p > 0 && word(s[p - 1]) {
            return None;
        }
        if let Some(c) = self.bearer.captures(&s[p..]) {
            let (t, pad) = (c.get(1)?, c.get(2)?);
            let core = t.as_bytes();
            if core.len() >= 8
                && (core.len() >= 16 || core.iter().any(|b| !b.is_ascii_alphabetic()))
            {
                return Some((p + t.start(), p + pad.end()));
            }
            return None;
        }
        let c = self.basic.captures(&s[p..])?;
        let (t, pad) = (c.get(1)?, c.get(2)?);
        let len = pad.end() - t.start();
        (t.len() >= 8 && len % 4 == 0 && pad.len() <= 2).then(|| (p + t.start(), p + pad.end()))
    }

    fn jwt(&self, s: &[u8], from: usize, p: usize) -> Option<(usize, usize)> {
        // Anchored at `e` of `eyJ` (the scanner's anchor is the `J`).
        if p < from || (p > 0 && token(s[p - 1])) {
            return None;
        }
        at_end(&self.jwt, s, p).map(|e| (p, e))
    }

    fn cloud_key(&self, s: &[u8], from: usize, p: usize) -> Option<(usize, usize)> {
        if p >= from && !(p > 0 && s[p - 1].is_ascii_alphanumeric()) {
            if let Some(e) = at_end(&self.aws, s, p)
                && !s.get(e).is_some_and(|c| c.is_ascii_alphanumeric())
            {
                return Some((p, e));
            }
            if let Some(e) = at_end(&self.google, s, p)
                && !(p > 0 && token(s[p - 1]))
                && !s.get(e).is_some_and(|c| token(*c))
            {
                return Some((p, e));
            }
        }
        // Token prefixes, by their anchor (`p` is the prefix's `_ - .`).
        for (at, re) in &self.prefix {
            let Some(start) = p.checked_sub(*at) else {
                continue;
            };
            if start < from || (start > 0 && token(s[start - 1])) {
                continue;
            }
            if let Some(c) = re.captures(&s[start..])
                && c.get(1)?.len() >= 8
            {
                return Some((start, start + c.get(0)?.end()));
            }
        }
        None
    }

    fn pem(&self, s: &[u8], _: usize, p: usize) -> Option<(usize, usize)> {
        let c = self.pem.captures(&s[p..])?;
        if !c
            .get(1)?
            .as_bytes()
            .windows(11)
            .any(|w| w == b"PRIVATE KEY")
        {
            return None;
        }
        let body = p + c.get(0)?.end();
        let end = match s[body..].windows(9).position(|w| w == b"-----END ") {
            Some(q) => {
                let after = body + q + 9;
                at_end(&self.pem_end, s, after).unwrap_or(s.len())
            }
            None => s.len(),
        };
        Some((p, end))
    }

    fn url(&self, s: &[u8], _: usize, p: usize) -> Option<(usize, usize)> {
        // Anchored at the scheme's last byte (the scanner's anchor is `:`).
        let c = self.url.captures(&s[p..])?;
        let (info, pw) = (c.get(1)?, c.get(2)?);
        (!redacted(pw.as_bytes())).then(|| (p + info.start(), p + info.end()))
    }

    fn email(&self, s: &[u8], from: usize, p: usize) -> Option<(usize, usize)> {
        if p < from || (p > from && is_local(s[p - 1])) {
            return None;
        }
        let e = at_end(&self.email, s, p)?;
        let at = p + s[p..].iter().position(|c| *c == b'@')?;
        let tld_start = s[at..e].iter().rposition(|c| *c == b'.')? + at + 1;
        let tld = &s[tld_start..e];
        (tld.len() >= 2 && tld.iter().all(u8::is_ascii_alphabetic)).then_some((p, e))
    }
}

fn is_local(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-')
}

/// The strings the oracle tests draw hold secrets of every rule often
/// enough for the comparison to mean something.
#[test]
fn the_drawn_strings_hold_secrets_of_every_rule() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(Config::default().rng_algorithm),
    );
    let strategy = pieces();
    let mut seen = [0usize; Rule::ALL.len()];
    for _ in 0..2000 {
        let s = strategy.new_tree(&mut runner).unwrap().current();
        for r in Rule::ALL.into_iter().filter(|r| *r != Rule::Key) {
            if !matches(&with(&[r]), s.as_bytes()).is_empty() {
                seen[r as usize] += 1;
            }
        }
    }
    for r in Rule::ALL.into_iter().filter(|r| *r != Rule::Key) {
        assert!(seen[r as usize] >= 50, "{r}: {seen:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_sse2_pre_filter_agrees_with_its_reference(
        window in prop::array::uniform32(prop::sample::select(b"0123456789 -_.:/@AKIJyeEaAbBG\xff\x00".to_vec())),
        extra in any::<[u8; 2]>(),
        rules in 0u16..256,
        at_start in any::<bool>(),
    ) {
        let mut w = [0u8; 34];
        w[..32].copy_from_slice(&window);
        w[32..].copy_from_slice(&extra);
        let mut prefixes = prefixes();
        if at_start {
            prefixes.push("_x_".into());
        }
        let p = Patterns::new(rules << 1, &prefixes);
        // A chunk with the bytes around it, as the scanner sees it.
        let bytes: &[u8; 16] = w[1..17].try_into().unwrap();
        prop_assert_eq!(super::window(bytes, w[0], &w[17..]), w);
        prop_assert_eq!(p.filter.bits(bytes, w[0], &w[17..]), p.filter.bits_scalar(&w));
        // Near the string's end: fewer bytes after the chunk.
        let short = super::window(bytes, w[0], &w[17..20]);
        prop_assert_eq!(p.filter.bits(bytes, w[0], &w[17..20]), p.filter.bits_scalar(&short));
    }

    #[test]
    fn bearer_agrees_with_its_oracle(s in pieces()) {
        let o = oracles();
        prop_assert_eq!(spans(&with(&[Rule::Bearer]), s.as_bytes()), oracle(s.as_bytes(), |s, f, p| o.bearer(s, f, p)));
    }

    #[test]
    fn jwt_agrees_with_its_oracle(s in pieces()) {
        let o = oracles();
        prop_assert_eq!(spans(&with(&[Rule::Jwt]), s.as_bytes()), oracle(s.as_bytes(), |s, f, p| o.jwt(s, f, p)));
    }

    #[test]
    fn cloud_key_agrees_with_its_oracle(s in pieces()) {
        let o = oracles();
        prop_assert_eq!(spans(&with(&[Rule::CloudKey]), s.as_bytes()), oracle(s.as_bytes(), |s, f, p| o.cloud_key(s, f, p)));
    }

    #[test]
    fn pem_agrees_with_its_oracle(s in pieces()) {
        let o = oracles();
        prop_assert_eq!(spans(&with(&[Rule::Pem]), s.as_bytes()), oracle(s.as_bytes(), |s, f, p| o.pem(s, f, p)));
    }

    #[test]
    fn url_credentials_agree_with_their_oracle(s in pieces()) {
        let o = oracles();
        prop_assert_eq!(spans(&with(&[Rule::UrlCredentials]), s.as_bytes()), oracle(s.as_bytes(), |s, f, p| o.url(s, f, p)));
    }

    #[test]
    fn email_agrees_with_its_oracle(s in pieces()) {
        let o = oracles();
        prop_assert_eq!(spans(&with(&[Rule::Email]), s.as_bytes()), oracle(s.as_bytes(), |s, f, p| o.email(s, f, p)));
    }

    /// A valid card number, contiguous or grouped, between any two
    /// non-digit, non-word contexts, is found whole; with its last digit
    /// changed (failing Luhn) it is not.
    #[test]
    fn cards_are_found_and_bad_checksums_are_not(
        first in b'2'..=b'6',
        body in prop::collection::vec(b'0'..=b'9', 11..=17),
        grouping in 0..3usize,
        before in prop::sample::select(vec!["", " ", "card ", "(", "=", "\n", "é "]),
        after in prop::sample::select(vec!["", " ", ")", ";", ". ", "\n", " 12/27"]),
    ) {
        let mut digits = vec![first];
        digits.extend(body);
        // The check digit that makes it Luhn-valid.
        let check = (0..=9u8).find(|d| {
            let mut v = digits.clone();
            v.push(b'0' + d);
            luhn(v.into_iter())
        }).unwrap();
        digits.push(b'0' + check);
        let sep = [None, Some(' '), Some('-')][grouping];
        let text = |d: &[u8]| -> String {
            let s: String = d.iter().map(|c| *c as char).collect();
            match sep {
                None => s,
                Some(c) => s.as_bytes().chunks(4).map(|g| std::str::from_utf8(g).unwrap()).collect::<Vec<_>>().join(&c.to_string()),
            }
        };
        // Groups of 4 leave a last group of 1 or 2 digits for some lengths:
        // not a card's grouping (groups are 3 to 6 digits).
        let grouped_ok = sep.is_none() || digits.len() % 4 == 0 || digits.len() % 4 == 3;
        let card = text(&digits);
        let s = format!("{before}{card}{after}");
        let got = found(&with(&[Rule::Card]), &s);
        if grouped_ok {
            prop_assert_eq!(got, vec![(Rule::Card, card.as_str())]);
        }
        // (A grouping that leaves a short last group stops before it: the
        // groups before it may pass the check by chance, and are masked.)
        if grouped_ok {
            let mut bad = digits.clone();
            let last = bad.len() - 1;
            bad[last] = b'0' + (check + 1) % 10;
            let s = format!("{before}{}{after}", text(&bad));
            prop_assert_eq!(found(&with(&[Rule::Card]), &s), vec![]);
        }
    }

    /// Any bytes: no panic, matches in order and inside the string.
    #[test]
    fn any_bytes_scan_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        matches(&all(), &bytes);
    }
}
