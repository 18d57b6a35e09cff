//! Secrets found by their shape, in any string value: bearer and basic
//! credentials, JWTs, cloud keys and token prefixes, PEM private keys,
//! passwords in URLs, card numbers, e-mail addresses.
//!
//! One pass over the bytes, no allocation. A pre-filter looks 16 bytes at a
//! time (SSE2 on x86_64, a table elsewhere) for the few bytes a secret must
//! hold at a known place (its *anchor*: `A` of `AKIA…`, `J` of `eyJ`, `:` of
//! `://`, a digit, …), so a string with none of them costs about one extra
//! read of its bytes; each anchor found is then checked by hand.
//!
//! [`Patterns::find`] returns the leftmost match at or after a position;
//! the caller copies what lies between matches and writes a replacement for
//! each (see `Redactor`).

use super::Rule;

/// A secret found in a string: `s[start..end]`, by `rule`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Match {
    /// First byte of the secret.
    pub start: usize,
    /// One past its last byte.
    pub end: usize,
    /// The rule that found it.
    pub rule: Rule,
}

/// What an anchor's check says.
enum Step {
    Found(Match),
    /// Nothing here; look for anchors again from this position (past the
    /// anchor, or past a whole run of digits already examined).
    Next(usize),
}

/// A token prefix (`ghp_`, `xoxb-`) and where its anchor byte is.
#[derive(Clone, Debug)]
struct Prefix {
    text: Box<[u8]>,
    /// Index in `text` of its first `_`, `-` or `.` (the anchor).
    at: usize,
}

/// The token prefixes of one anchor byte, and the bytes found just before
/// it in one of them: an anchor after any other byte is passed over at
/// once (the `.` of `5.0` for `SG.`).
#[derive(Clone, Debug)]
struct PrefixGroup {
    list: Vec<Prefix>,
    before: [bool; 256],
    /// A prefix starts with its anchor: any byte may come before it.
    at_start: bool,
}

/// The anchor bytes of token prefixes, in the order of `Patterns::groups`.
const PREFIX_ANCHORS: [u8; 3] = [b'_', b'-', b'.'];

/// The value-pattern rules in force, compiled.
#[derive(Clone, Debug)]
pub(crate) struct Patterns {
    /// Bit `Rule as u8` set when the rule is on.
    on: u16,
    filter: Filter,
    /// Token prefixes (rule `cloud_key`) by anchor byte: `_`, `-`, `.`.
    groups: [PrefixGroup; 3],
}

/// The pre-filter: which bytes deserve a closer look. Each test is on a
/// byte, the one before it and the one after it, and each is a necessary
/// condition of its rule's match there, so nothing it passes over could
/// be a secret's anchor.
#[derive(Clone, Debug)]
// The flags are read by the portable pre-filter and the tests' reference.
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
struct Filter {
    /// `A` then an upper-case letter (`AKIA…`, `AIza…`).
    cloud: bool,
    /// `J` after `y` (`eyJ`).
    jwt: bool,
    /// `:` then `/` (`://`).
    url: bool,
    /// `@`.
    email: bool,
    /// `b` or `B`, then `e` or `a` in either case (`bearer`, `basic`).
    bearer: bool,
    /// `-` then `-` (`-----BEGIN`).
    pem: bool,
    /// A run of three digits or more starts (a card's first group), and the
    /// 16 bytes from it hold 12 digits or more (a card's first 16 bytes
    /// do: groups of 3 joined by one byte are the sparsest).
    digits: bool,
    /// Token prefixes' anchor bytes, each with the bytes that come before
    /// it in a prefix (any, when a prefix starts with it).
    seps: Vec<Sep>,
    /// For SSE2, the same as vectors of 16 equal bytes, made once: 0xFF for
    /// each test on, in the order cloud, jwt, url, email, bearer, pem.
    on: [[u8; 16]; 6],
    /// The prefixes' anchor bytes (0 for none: a zero byte is only a
    /// candidate, and `seps` refuses it).
    sep_bytes: [[u8; 16]; 3],
    /// The byte that must come before each of `sep_bytes` when only one
    /// can (all ones otherwise: the byte before is checked by table).
    sep_only_after: [[u8; 16]; 3],
    /// Whether `sep_only_after` applies.
    sep_single: [bool; 3],
}

#[derive(Clone, Debug)]
struct Sep {
    byte: u8,
    any_before: bool,
    before: [bool; 256],
}

impl Sep {
    #[inline]
    fn after(&self, prev: u8) -> bool {
        self.any_before || self.before[usize::from(prev)]
    }
}

/// The one byte that can come before a separator, when there is one.
fn only_after(sep: &Sep) -> Option<u8> {
    if sep.any_before {
        return None;
    }
    let mut before = (0..=255u8).filter(|c| sep.before[usize::from(*c)]);
    match (before.next(), before.next()) {
        (Some(c), None) => Some(c),
        _ => None,
    }
}

/// A chunk's bytes with one before and 17 after: `w[0]` is the byte
/// before the chunk, `w[1..17]` the chunk, then the next 17 (zero past the
/// string's ends).
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
type Window = [u8; 34];

/// The window of a chunk `bytes` with the byte before it and the bytes
/// after it (up to 17 are read).
#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
fn window(bytes: &[u8; 16], before: u8, more: &[u8]) -> Window {
    let mut w = [0; 34];
    w[0] = before;
    w[1..17].copy_from_slice(bytes);
    let n = more.len().min(17);
    w[17..17 + n].copy_from_slice(&more[..n]);
    w
}

#[cfg_attr(all(target_arch = "x86_64", not(test)), allow(dead_code))]
impl Filter {
    /// Whether byte `k` (`k < 16`) of the chunk of window `w` is an anchor:
    /// the reference of [`Filter::bits`], and the pre-filter where SSE2 is
    /// not.
    fn is_anchor(&self, w: &Window, k: usize) -> bool {
        let (prev, cur, next) = (w[k], w[k + 1], w[k + 2]);
        let lower = |c: u8| c | 0x20;
        (self.cloud && cur == b'A' && next.is_ascii_uppercase())
            || (self.jwt && cur == b'J' && prev == b'y')
            || (self.url && cur == b':' && next == b'/')
            || (self.email && cur == b'@')
            || (self.bearer && lower(cur) == b'b' && matches!(lower(next), b'e' | b'a'))
            || (self.pem && cur == b'-' && next == b'-')
            || self
                .seps
                .iter()
                .any(|sep| cur == sep.byte && sep.after(prev))
            || (self.digits
                && !prev.is_ascii_digit()
                && w[k + 1..k + 4].iter().all(u8::is_ascii_digit)
                && w[k + 1..k + 17]
                    .iter()
                    .filter(|c| c.is_ascii_digit())
                    .count()
                    >= 12)
    }

    /// Bit `k` set when byte `k` of the chunk of window `w` is an anchor.
    fn bits_scalar(&self, w: &Window) -> u32 {
        (0..16)
            .filter(|k| self.is_anchor(w, *k))
            .fold(0, |m, k| m | 1 << k)
    }

    /// Bit `k` set when byte `k` of `bytes` is an anchor (`before`: the
    /// byte before them, `more`: the bytes after them).
    #[cfg(not(target_arch = "x86_64"))]
    #[inline(always)]
    fn bits(&self, bytes: &[u8; 16], before: u8, more: &[u8]) -> u32 {
        self.bits_scalar(&window(bytes, before, more))
    }

    /// Bit `k` set when byte `k` of `bytes` is an anchor (`before`: the
    /// byte before them, `more`: the bytes after them): the tests of
    /// [`Filter::is_anchor`] on 16 bytes at once (one load; the bytes
    /// before and after are the chunk shifted by one, the ends filled in).
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    fn bits(&self, bytes: &[u8; 16], before: u8, more: &[u8]) -> u32 {
        use core::arch::x86_64::{
            __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cvtsi32_si128, _mm_loadu_si128,
            _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8, _mm_slli_si128,
            _mm_srli_si128, _mm_sub_epi8,
        };
        // SAFETY: SSE2 is part of the x86_64 baseline, so these intrinsics
        // are always available; `_mm_loadu_si128` has no alignment
        // requirement and reads the 16 bytes of an array.
        unsafe {
            let load = |b: &[u8; 16]| _mm_loadu_si128(b.as_ptr().cast::<__m128i>());
            let eq = |v: __m128i, c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
            // Unsigned `lo <= v <= lo + n`.
            let within = |v: __m128i, lo: u8, n: u8| {
                let d = _mm_sub_epi8(v, _mm_set1_epi8(lo as i8));
                _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(n as i8)), d)
            };
            let cur = load(bytes);
            let prev = _mm_or_si128(
                _mm_slli_si128::<1>(cur),
                _mm_cvtsi32_si128(i32::from(before)),
            );
            let mut bits = 0;
            // First the bytes themselves: most chunks hold none that could
            // be an anchor (digits apart, below), and skip the rest.
            let case = _mm_set1_epi8(0x20);
            let (is_a, is_j, is_colon, is_at) =
                (eq(cur, b'A'), eq(cur, b'J'), eq(cur, b':'), eq(cur, b'@'));
            let (is_b, is_dash) = (eq(_mm_or_si128(cur, case), b'b'), eq(cur, b'-'));
            // A prefix's anchor byte; where only one byte may come before
            // it (`G` of `SG.`), that byte too (else by table, below).
            let sep = |i: usize| {
                let c = _mm_cmpeq_epi8(cur, load(&self.sep_bytes[i]));
                if self.sep_single[i] {
                    _mm_and_si128(c, _mm_cmpeq_epi8(prev, load(&self.sep_only_after[i])))
                } else {
                    c
                }
            };
            let seps = _mm_or_si128(_mm_or_si128(sep(0), sep(1)), sep(2));
            let any = _mm_or_si128(
                _mm_or_si128(_mm_or_si128(is_a, is_j), _mm_or_si128(is_colon, is_at)),
                _mm_or_si128(_mm_or_si128(is_b, is_dash), seps),
            );
            if _mm_movemask_epi8(any) != 0 {
                let after = more.first().copied().unwrap_or(0);
                let next = _mm_or_si128(
                    _mm_srli_si128::<1>(cur),
                    _mm_slli_si128::<15>(_mm_cvtsi32_si128(i32::from(after))),
                );
                // Each test masked by whether it is on: no branch.
                let on = |i: usize, t: __m128i| _mm_and_si128(t, load(&self.on[i]));
                let n = _mm_or_si128(next, case);
                let m = _mm_or_si128(
                    _mm_or_si128(
                        on(0, _mm_and_si128(is_a, within(next, b'A', 25))),
                        on(1, _mm_and_si128(is_j, eq(prev, b'y'))),
                    ),
                    _mm_or_si128(
                        _mm_or_si128(on(2, _mm_and_si128(is_colon, eq(next, b'/'))), on(3, is_at)),
                        _mm_or_si128(
                            on(
                                4,
                                _mm_and_si128(is_b, _mm_or_si128(eq(n, b'e'), eq(n, b'a'))),
                            ),
                            on(5, _mm_and_si128(is_dash, eq(next, b'-'))),
                        ),
                    ),
                );
                bits = _mm_movemask_epi8(m) as u32;
                // A prefix's anchor byte, then the byte before it by table.
                let mut candidates = _mm_movemask_epi8(seps) as u32;
                while candidates != 0 {
                    let k = candidates.trailing_zeros() as usize;
                    let prev = if k == 0 { before } else { bytes[k - 1] };
                    if self
                        .seps
                        .iter()
                        .any(|sep| sep.byte == bytes[k] && sep.after(prev))
                    {
                        bits |= 1 << k;
                    }
                    candidates &= candidates - 1;
                }
            }
            if self.digits {
                // Where a run of three digits or more starts (a card's first
                // group), then 12 digits in the 16 bytes from there.
                let digits = _mm_movemask_epi8(within(cur, b'0', 9)) as u32;
                let mut starts = digits & !((digits << 1) | u32::from(before.is_ascii_digit()));
                if starts != 0 {
                    let d = |i: usize| u32::from(more.get(i).is_some_and(u8::is_ascii_digit));
                    let two = digits | (d(0) | d(1) << 1) << 16;
                    starts &= (two >> 1) & (two >> 2);
                }
                if starts != 0 {
                    let following = match more.get(..16) {
                        Some(m) => load(m.try_into().expect("16 bytes")),
                        None => {
                            let mut f = [0; 16];
                            f[..more.len()].copy_from_slice(more);
                            load(&f)
                        }
                    };
                    let all = digits | (_mm_movemask_epi8(within(following, b'0', 9)) as u32) << 16;
                    while starts != 0 {
                        let k = starts.trailing_zeros();
                        if ((all >> k) & 0xFFFF).count_ones() >= 12 {
                            bits |= 1 << k;
                        }
                        starts &= starts - 1;
                    }
                }
            }
            bits
        }
    }
}

/// Checks a token prefix: 2 to 32 bytes of `[A-Za-z0-9_.-]` holding at
/// least one `_`, `-` or `.` (its anchor).
pub(crate) fn check_prefix(p: &str) -> Result<(), String> {
    let b = p.as_bytes();
    if !(2..=32).contains(&b.len()) {
        return Err(format!("token prefix {p:?}: 2 to 32 bytes"));
    }
    if !b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
    {
        return Err(format!(
            "token prefix {p:?}: only ASCII letters, digits, '_', '-' and '.'"
        ));
    }
    if !b.iter().any(|c| matches!(c, b'_' | b'-' | b'.')) {
        return Err(format!(
            "token prefix {p:?}: needs a '_', '-' or '.' (every well-known prefix has one: ghp_, xoxb-, SG.)"
        ));
    }
    Ok(())
}

impl Patterns {
    /// The rules of `on` (bit `Rule as u8`; `Rule::Key` is ignored) with
    /// these token prefixes (checked with [`check_prefix`] beforehand).
    pub(crate) fn new(on: u16, prefixes: &[String]) -> Patterns {
        let on = on & !(1 << Rule::Key as u16);
        let is = |r: Rule| on & (1 << r as u16) != 0;
        let groups = PREFIX_ANCHORS.map(|c| {
            let mut g = PrefixGroup {
                list: Vec::new(),
                before: [false; 256],
                at_start: false,
            };
            if !is(Rule::CloudKey) {
                return g;
            }
            for p in prefixes {
                let text: Box<[u8]> = p.as_bytes().into();
                let Some(at) = text.iter().position(|c| matches!(c, b'_' | b'-' | b'.')) else {
                    continue;
                };
                if text[at] != c {
                    continue;
                }
                match at.checked_sub(1) {
                    Some(b) => g.before[usize::from(text[b])] = true,
                    None => g.at_start = true,
                }
                g.list.push(Prefix { text, at });
            }
            g
        });
        let seps: Vec<Sep> = PREFIX_ANCHORS
            .iter()
            .zip(&groups)
            .filter(|(_, g)| !g.list.is_empty())
            .map(|(c, g)| Sep {
                byte: *c,
                any_before: g.at_start,
                before: g.before,
            })
            .collect();
        Patterns {
            on,
            filter: Filter {
                cloud: is(Rule::CloudKey),
                jwt: is(Rule::Jwt),
                url: is(Rule::UrlCredentials),
                email: is(Rule::Email),
                bearer: is(Rule::Bearer),
                pem: is(Rule::Pem),
                digits: is(Rule::Card),
                on: [
                    Rule::CloudKey,
                    Rule::Jwt,
                    Rule::UrlCredentials,
                    Rule::Email,
                    Rule::Bearer,
                    Rule::Pem,
                ]
                .map(|r| [if is(r) { 0xFF } else { 0 }; 16]),
                sep_bytes: [0, 1, 2].map(|i| [seps.get(i).map_or(0, |s| s.byte); 16]),
                sep_only_after: [0, 1, 2]
                    .map(|i| [seps.get(i).and_then(only_after).unwrap_or(0); 16]),
                sep_single: [0, 1, 2].map(|i| seps.get(i).and_then(only_after).is_some()),
                seps,
            },
            groups,
        }
    }

    #[inline]
    fn is_on(&self, r: Rule) -> bool {
        self.on & (1 << r as u16) != 0
    }

    /// The leftmost secret in `s` that starts at or after `from` (its
    /// context, the bytes before it included, is read from all of `s`).
    pub(crate) fn find(&self, s: &[u8], from: usize) -> Option<Match> {
        if self.on == 0 {
            return None;
        }
        let mut base = from;
        'chunks: while base < s.len() {
            let mut bits = self.anchor_bits(s, base);
            while bits != 0 {
                let p = base + bits.trailing_zeros() as usize;
                match self.at(s, from, p) {
                    Step::Found(m) => return Some(m),
                    Step::Next(n) => {
                        debug_assert!(n > p);
                        if n >= base + 16 {
                            base = n;
                            continue 'chunks;
                        }
                        bits &= !((1u32 << (n - base)) - 1);
                    }
                }
            }
            base += 16;
        }
        None
    }

    /// Bit `k` set when `s[base + k]` is an anchor (`k < 16`, within `s`).
    #[inline(always)]
    fn anchor_bits(&self, s: &[u8], base: usize) -> u32 {
        let rest = &s[base..];
        if let Some(b) = rest.get(..16) {
            let before = if base > 0 { s[base - 1] } else { 0 };
            return self
                .filter
                .bits(b.try_into().expect("16 bytes"), before, &rest[16..]);
        }
        if s.len() >= 16 {
            // The last, short chunk: the string's last 16 bytes, from where
            // this chunk starts on (no copy; what lies before was seen).
            let start = s.len() - 16;
            let before = if start > 0 { s[start - 1] } else { 0 };
            let bits = self
                .filter
                .bits(s[start..].try_into().expect("16 bytes"), before, &[]);
            return bits >> (base - start);
        }
        // A string shorter than 16 bytes, read whole without a copy
        // through memory; zero bytes are never anchors, and are masked off.
        let b = crate::encode::json::load_short(s);
        (self.filter.bits(&b, 0, &[]) & (u32::MAX >> (32 - s.len()))) >> base
    }

    /// Checks the anchor at `p`.
    fn at(&self, s: &[u8], from: usize, p: usize) -> Step {
        let step = match s[p] {
            b'0'..=b'9' => card(s, p),
            b'b' | b'B' => bearer(s, p),
            b'J' => jwt(s, from, p),
            b'A' => cloud_key(s, p),
            b':' => url_credentials(s, p),
            b'@' => email(s, from, p),
            b'-' => match self.is_on(Rule::Pem).then(|| pem(s, p)).flatten() {
                Some(m) => Step::Found(m),
                None => self.prefix(s, from, p),
            },
            b'_' | b'.' => self.prefix(s, from, p),
            _ => Step::Next(p + 1),
        };
        match step {
            // A value redacted before (by this engine, or upstream) is
            // left as it is, and not counted again.
            Step::Found(m) if already_redacted(&s[m.start..]) => Step::Next(p + 1),
            step => step,
        }
    }

    /// A token prefix whose anchor byte is at `p`, then at least 8 token
    /// bytes.
    fn prefix(&self, s: &[u8], from: usize, p: usize) -> Step {
        let next = Step::Next(p + 1);
        let Some(g) = PREFIX_ANCHORS
            .iter()
            .position(|c| *c == s[p])
            .map(|i| &self.groups[i])
        else {
            return next;
        };
        if !(g.at_start || (p > 0 && g.before[usize::from(s[p - 1])])) {
            return next;
        }
        for pf in &g.list {
            if p < from + pf.at {
                continue;
            }
            let start = p - pf.at;
            if !s[start..].starts_with(&pf.text) || (start > 0 && is_token(s[start - 1])) {
                continue;
            }
            let body = start + pf.text.len();
            let end = token_end(s, body);
            if end - body >= 8 {
                return Step::Found(Match {
                    start,
                    end,
                    rule: Rule::CloudKey,
                });
            }
        }
        next
    }
}

/// Text that is already a replacement: the mask, or a keyed hash.
fn already_redacted(s: &[u8]) -> bool {
    s.starts_with(super::MASK.as_bytes()) || s.starts_with(super::hash::PREFIX.as_bytes())
}

#[inline]
fn is_alnum(c: u8) -> bool {
    c.is_ascii_alphanumeric()
}

/// A byte of a word: letter, digit or `_`.
#[inline]
fn is_word(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// A byte of base64url (and of most tokens): letter, digit, `-`, `_`.
#[inline]
fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-' || c == b'_'
}

/// End of the run of bytes from `i` on that satisfy `f`.
#[inline]
fn run(s: &[u8], mut i: usize, f: impl Fn(u8) -> bool) -> usize {
    while i < s.len() && f(s[i]) {
        i += 1;
    }
    i
}

/// End of a token's body from `i`: token bytes, and `.` between two of them.
fn token_end(s: &[u8], i: usize) -> usize {
    let mut e = run(s, i, is_token);
    while e > i && s.get(e) == Some(&b'.') && s.get(e + 1).is_some_and(|c| is_token(*c)) {
        e = run(s, e + 1, is_token);
    }
    e
}

/// `Bearer <token>` / `Basic <base64>` (the scheme in any case, then spaces
/// or tabs). The match is the credential, not the scheme. A bearer token
/// has at least 8 bytes of `[A-Za-z0-9-._~+/]` (then `=` padding) and holds
/// a byte that is not a letter unless it is 16 long or more (so `Bearer
/// authentication` stays); a basic credential is base64 of at least 8
/// bytes whose length with padding is a multiple of 4.
fn bearer(s: &[u8], p: usize) -> Step {
    let next = Step::Next(p + 1);
    if p > 0 && is_word(s[p - 1]) {
        return next;
    }
    let rest = &s[p..];
    let (scheme, basic) = if rest.len() >= 6 && rest[..6].eq_ignore_ascii_case(b"bearer") {
        (6, false)
    } else if rest.len() >= 5 && rest[..5].eq_ignore_ascii_case(b"basic") {
        (5, true)
    } else {
        return next;
    };
    let start = run(s, p + scheme, |c| c == b' ' || c == b'\t');
    if start == p + scheme {
        return next;
    }
    let core_end = if basic {
        run(s, start, |c| is_alnum(c) || c == b'+' || c == b'/')
    } else {
        run(s, start, |c| {
            is_alnum(c) || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
    };
    let end = run(s, core_end, |c| c == b'=');
    let core = &s[start..core_end];
    let ok = core.len() >= 8
        && if basic {
            (end - start).is_multiple_of(4) && end - core_end <= 2
        } else {
            core.len() >= 16 || core.iter().any(|c| !c.is_ascii_alphabetic())
        };
    if !ok {
        return next;
    }
    Step::Found(Match {
        start,
        end,
        rule: Rule::Bearer,
    })
}

/// A JWT (JWS or JWE): base64url segments joined by `.`, the first starting
/// `eyJ` (`{"`) and at least 10 long, the second at least 2, the third
/// possibly empty (an unsigned token), then any further segments. `p` is
/// the `J`.
fn jwt(s: &[u8], from: usize, p: usize) -> Step {
    let next = Step::Next(p + 1);
    if p < from + 2 || s[p - 2] != b'e' || s[p - 1] != b'y' {
        return next;
    }
    let start = p - 2;
    if start > 0 && is_token(s[start - 1]) {
        return next;
    }
    let seg1 = run(s, start, is_token);
    if seg1 - start < 10 || s.get(seg1) != Some(&b'.') {
        return next;
    }
    let seg2 = run(s, seg1 + 1, is_token);
    if seg2 - (seg1 + 1) < 2 || s.get(seg2) != Some(&b'.') {
        return next;
    }
    let mut end = run(s, seg2 + 1, is_token);
    while s.get(end) == Some(&b'.') && s.get(end + 1).is_some_and(|c| is_token(*c)) {
        end = run(s, end + 1, is_token);
    }
    Step::Found(Match {
        start,
        end,
        rule: Rule::Jwt,
    })
}

/// AWS access key ids (their 4-letter kinds) and the 16 upper-case letters
/// or digits after them.
const AWS_KINDS: [&[u8; 4]; 11] = [
    b"AKIA", b"ASIA", b"AGPA", b"AIDA", b"AROA", b"AIPA", b"ANPA", b"ANVA", b"APKA", b"ABIA",
    b"ACCA",
];

/// An AWS access key id (`AKIA` + 16) or a Google API key (`AIza` + 35 of
/// `[A-Za-z0-9_-]`), not inside a longer word or token. `p` is the `A`.
fn cloud_key(s: &[u8], p: usize) -> Step {
    if p > 0 && is_alnum(s[p - 1]) {
        return Step::Next(p + 1);
    }
    let rest = &s[p..];
    if rest.len() >= 20
        && AWS_KINDS.iter().any(|k| rest[..4] == k[..])
        && rest[4..20]
            .iter()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        && rest.get(20).is_none_or(|c| !is_alnum(*c))
    {
        return Step::Found(Match {
            start: p,
            end: p + 20,
            rule: Rule::CloudKey,
        });
    }
    // Its bytes include `-` and `_`: after one of those it would be the
    // tail of a longer token.
    if rest.len() >= 39
        && (p == 0 || !is_token(s[p - 1]))
        && rest.starts_with(b"AIza")
        && rest[4..39].iter().all(|c| is_token(*c))
        && rest.get(39).is_none_or(|c| !is_token(*c))
    {
        return Step::Found(Match {
            start: p,
            end: p + 39,
            rule: Rule::CloudKey,
        });
    }
    Step::Next(p + 1)
}

/// A PEM private key: `-----BEGIN <label>-----` with `PRIVATE KEY` in the
/// label, through the `-----END …-----` line after it, or to the end of the
/// string when there is none (a key cut short is still a key). `p` is the
/// first `-`.
fn pem(s: &[u8], p: usize) -> Option<Match> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const DASHES: &[u8] = b"-----";
    const END: &[u8] = b"-----END ";
    let rest = &s[p..];
    if !rest.starts_with(BEGIN) {
        return None;
    }
    let label_start = BEGIN.len();
    let label_end = label_start
        + rest[label_start..]
            .iter()
            .take(64)
            .position(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b' '))?;
    let label = &rest[label_start..label_end];
    if !rest[label_end..].starts_with(DASHES) || !contains(label, b"PRIVATE KEY") {
        return None;
    }
    let body = label_end + DASHES.len();
    let end = match find(&rest[body..], END) {
        Some(q) => {
            let after = body + q + END.len();
            match rest[after..]
                .iter()
                .take(64)
                .position(|c| !(c.is_ascii_uppercase() || c.is_ascii_digit() || *c == b' '))
            {
                Some(k) if rest[after + k..].starts_with(DASHES) => after + k + DASHES.len(),
                _ => rest.len(),
            }
        }
        None => rest.len(),
    };
    Some(Match {
        start: p,
        end: p + end,
        rule: Rule::Pem,
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    find(hay, needle).is_some()
}

/// The user info of `scheme://user:password@host`, user name and password
/// together: the authority runs from `//` to the first `/ ? #`, space,
/// quote, `<`, `>`, `\` or control byte; its last `@` ends the user info,
/// which must hold a `:` and a password after it (`user@host` alone is
/// left). The user name goes with the password: it may be personal data,
/// and scanning resumes after the match, so nothing between the anchor and
/// the match is left unscanned. `p` is the `:` of `://`.
fn url_credentials(s: &[u8], p: usize) -> Step {
    let next = Step::Next(p + 1);
    if !s[p..].starts_with(b"://") || p == 0 || !is_alnum(s[p - 1]) {
        return next;
    }
    let a = p + 3;
    let e = run(s, a, |c| {
        !matches!(
            c,
            b'/' | b'?' | b'#' | b' ' | b'"' | b'\'' | b'<' | b'>' | b'\\' | 0..=0x1f | 0x7f
        )
    });
    let Some(at) = s[a..e].iter().rposition(|c| *c == b'@').map(|k| a + k) else {
        return next;
    };
    let Some(colon) = s[a..at].iter().position(|c| *c == b':').map(|k| a + k) else {
        return next;
    };
    // No password, or one redacted before (`Secret<T>` displays the mask).
    if colon + 1 == at || already_redacted(&s[colon + 1..at]) {
        return next;
    }
    Step::Found(Match {
        start: a,
        end: at,
        rule: Rule::UrlCredentials,
    })
}

/// An e-mail address: `[A-Za-z0-9._%+-]+@` then two or more labels of
/// `[A-Za-z0-9-]` joined by `.`, the last of two letters or more. `p` is
/// the `@`.
fn email(s: &[u8], from: usize, p: usize) -> Step {
    let next = Step::Next(p + 1);
    let mut start = p;
    while start > from
        && (is_alnum(s[start - 1]) || matches!(s[start - 1], b'.' | b'_' | b'%' | b'+' | b'-'))
    {
        start -= 1;
    }
    if start == p {
        return next;
    }
    let label = |c: u8| is_alnum(c) || c == b'-';
    let mut end = p + 1;
    let mut labels = 0;
    let mut last = (end, end);
    loop {
        let e = run(s, end, label);
        if e == end {
            break;
        }
        labels += 1;
        last = (end, e);
        end = e;
        if s.get(end) == Some(&b'.') && s.get(end + 1).is_some_and(|c| label(*c)) {
            end += 1;
        } else {
            break;
        }
    }
    let tld = &s[last.0..last.1];
    if labels < 2 || tld.len() < 2 || !tld.iter().all(u8::is_ascii_alphabetic) {
        return next;
    }
    Step::Found(Match {
        start,
        end,
        rule: Rule::Email,
    })
}

/// A card number: 13 to 19 digits, contiguous or in groups of 3 to 6 joined
/// by single spaces or single dashes (one kind), Luhn-valid, the first digit
/// 2 to 6 (the major networks' ranges, which keeps Unix-nanosecond
/// timestamps out); not inside a word or a longer number (`x4111…`,
/// `0.4111…`, `+4111…`, more groups making more than 19 digits). `p` is a
/// digit.
fn card(s: &[u8], p: usize) -> Step {
    let digit = |c: u8| c.is_ascii_digit();
    let g1 = run(s, p, digit);
    if p > 0 && digit(s[p - 1]) {
        // Inside a run looked at from its start.
        return Step::Next(g1);
    }
    let mut end = g1;
    let mut total = g1 - p;
    if (3..=6).contains(&total)
        && let Some(&sep) = s.get(end)
        && (sep == b' ' || sep == b'-')
    {
        while s.get(end) == Some(&sep) && s.get(end + 1).is_some_and(|c| digit(*c)) {
            let e = run(s, end + 1, digit);
            let n = e - end - 1;
            if !(3..=6).contains(&n) {
                break;
            }
            total += n;
            end = e;
        }
    }
    let glued_left = p > 0
        && (is_word(s[p - 1])
            || s[p - 1] == b'+'
            || (matches!(s[p - 1], b'.' | b',') && p > 1 && digit(s[p - 2])));
    let glued_right = s.get(end).is_some_and(|c| {
        is_word(*c) || (matches!(c, b'.' | b',') && s.get(end + 1).is_some_and(|d| digit(*d)))
    });
    // Past the whole run: no card starts inside it.
    let next = Step::Next(end);
    if glued_left
        || glued_right
        || !(13..=19).contains(&total)
        || !(b'2'..=b'6').contains(&s[p])
        || !luhn(s[p..end].iter().copied().filter(|c| digit(*c)))
    {
        return next;
    }
    Step::Found(Match {
        start: p,
        end,
        rule: Rule::Card,
    })
}

/// The Luhn check over these digits (ASCII).
pub(crate) fn luhn(digits: impl DoubleEndedIterator<Item = u8>) -> bool {
    let mut sum = 0u32;
    for (i, c) in digits.rev().enumerate() {
        let mut d = u32::from(c - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests;
