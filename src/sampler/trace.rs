//! Trace sampling: composable samplers, the decision at a span's start, and
//! the process-wide configuration behind arc-swap.
//!
//! Each composable sampler returns an *intent*: a rejection threshold (or
//! none: drop) and whether the adjusted count it implies is reliable, as
//! OpenTelemetry's composite samplers do. The final decision compares the
//! trace's randomness with the threshold; a kept span whose threshold is
//! reliable carries it as `th` in its tracestate.
//!
//! Roots are decided without walking the tree where possible: one load of
//! [`FAST`] when the configuration decides every root alike; else each call
//! site's first root works out what the call site fixes ([`SiteRoot`]: rules
//! skipped or selected by name, target and level, always-kept names, a rate
//! limiter's key prefix and field positions) and publishes a word of the
//! same layout as [`FAST`] in the call site's static (`Callsite::roots_word`),
//! so its later roots take one compare; only roots a rate limit or the
//! ceiling must admit, or whose rules read attribute values (by field
//! position), go on to [`decide_site_root`]. Both words carry the
//! configuration's generation: [`update`] clears the call sites' words, and
//! a word published from a replaced configuration never counts.

use std::cell::RefCell;
use std::sync::atomic::{
    AtomicU64,
    Ordering::{Relaxed, SeqCst},
};
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

use arc_swap::ArcSwap;
use arc_swap::cache::Cache;

use super::adaptive::{Adaptive, AdaptiveConfig};
use super::rate_limit::{Ceiling, KeyHasher, KeyedLimiter};
use super::threshold::{DEFAULT_PRECISION, Threshold, randomness, th_consistent};
use crate::callsite::Callsite;
use crate::level::Level;

/// Baggage member that switches the debug override on for one request
/// (`datapunk.debug=1`): every span of the request is kept here and, as the
/// baggage travels, downstream.
pub const DEBUG_BAGGAGE_KEY: &str = "datapunk.debug";
/// Header that switches the debug override on for one request
/// (`x-datapunk-debug: 1`); [`crate::propagation::inject`] passes it on.
pub const DEBUG_HEADER: &str = "x-datapunk-debug";

/// Whether a debug switch value means "on": `1`, `true`, `on`, `yes`
/// (case-insensitive).
pub(crate) fn is_truthy(v: &str) -> bool {
    let v = v.trim();
    ["1", "true", "on", "yes"]
        .iter()
        .any(|t| v.eq_ignore_ascii_case(t))
}

/// A composable sampler. Build one with the constructors; nest them freely.
#[derive(Clone, Debug, PartialEq)]
pub enum Sampler {
    /// Keeps every span. Like the SDK's `AlwaysOn`, it writes no `th`: it
    /// says nothing about a probability (use `probability(1.0)` for `th:0`).
    AlwaysOn,
    /// Keeps no span.
    AlwaysOff,
    /// Consistent probability sampling: keeps a span iff the trace's
    /// randomness R ≥ T = (1 − p)·2^56, and writes `th:<T>`.
    Probability(f64),
    /// Decides by the parent: five delegates (see [`ParentBased`]).
    ParentBased(Box<ParentBased>),
    /// OpenTelemetry's `ParentThreshold`: with a parent, follows its
    /// sampled flag and passes a consistent `th` on; at a root, the delegate.
    ParentThreshold(Box<Sampler>),
    /// The first matching rule decides; no match: not sampled.
    Rules(Vec<Rule>),
    /// Kept when any delegate keeps it (the lowest threshold wins).
    AnyOf(Vec<Sampler>),
    /// Per operation (span name), a probability that moves each interval
    /// toward a target of kept traces per second (Jaeger's adaptive
    /// sampling, locally).
    Adaptive(AdaptiveConfig),
    /// What `inner` keeps, at most `per_second` (burst `burst`) per key: the
    /// span name plus the values of the `key` attributes (a tenant, a user
    /// id). Keys share a fixed table of cells, so memory does not grow with
    /// the number of keys. Spans kept through it carry no `th`.
    RateLimited {
        /// The sampler whose kept spans are limited.
        inner: Box<Sampler>,
        /// Kept spans per second per key.
        per_second: f64,
        /// Spans a fresh key may keep at once.
        burst: u32,
        /// Attributes (known at start) that make up the key with the name.
        key: Vec<String>,
    },
}

/// The five delegates of a parent-based sampler.
#[derive(Clone, Debug, PartialEq)]
pub struct ParentBased {
    /// No parent.
    pub root: Sampler,
    /// A sampled parent from another process (default: keep, passing a
    /// consistent `th` on).
    pub remote_sampled: Sampler,
    /// An unsampled parent from another process (default: drop).
    pub remote_not_sampled: Sampler,
    /// A sampled parent in this process (default: keep).
    pub local_sampled: Sampler,
    /// An unsampled parent in this process (default: drop).
    pub local_not_sampled: Sampler,
}

impl ParentBased {
    /// `root` at roots; the parent's decision everywhere else.
    pub fn new(root: Sampler) -> ParentBased {
        ParentBased {
            root,
            remote_sampled: Sampler::AlwaysOn,
            remote_not_sampled: Sampler::AlwaysOff,
            local_sampled: Sampler::AlwaysOn,
            local_not_sampled: Sampler::AlwaysOff,
        }
    }
}

impl Sampler {
    /// Consistent probability sampling at `p` (clamped to [0, 1]).
    pub fn probability(p: f64) -> Sampler {
        Sampler::Probability(p)
    }
    /// `root` at roots, the parent's decision elsewhere.
    pub fn parent_based(root: Sampler) -> Sampler {
        Sampler::ParentBased(Box::new(ParentBased::new(root)))
    }
    /// A parent-based sampler with all five delegates given.
    pub fn parent_based_with(delegates: ParentBased) -> Sampler {
        Sampler::ParentBased(Box::new(delegates))
    }
    /// OpenTelemetry's `ParentThreshold(root)`.
    pub fn parent_threshold(root: Sampler) -> Sampler {
        Sampler::ParentThreshold(Box::new(root))
    }
    /// First matching rule wins; no match: not sampled.
    pub fn rules(rules: Vec<Rule>) -> Sampler {
        Sampler::Rules(rules)
    }
    /// Kept when any of `samplers` keeps it.
    pub fn any_of(samplers: Vec<Sampler>) -> Sampler {
        Sampler::AnyOf(samplers)
    }
    /// Adaptive per-operation probabilities.
    pub fn adaptive(cfg: AdaptiveConfig) -> Sampler {
        Sampler::Adaptive(cfg)
    }
    /// What `self` keeps, at most `per_second` per key (span name plus the
    /// values of the `key` attributes).
    pub fn rate_limited<K: Into<String>>(
        self,
        per_second: f64,
        burst: u32,
        key: impl IntoIterator<Item = K>,
    ) -> Sampler {
        Sampler::RateLimited {
            inner: Box::new(self),
            per_second,
            burst,
            key: key.into_iter().map(Into::into).collect(),
        }
    }
}

/// A name or target pattern: exact, or a prefix when it ends in `*`.
#[derive(Clone, Debug, PartialEq)]
enum Pat {
    Exact(String),
    Prefix(String),
}

impl Pat {
    fn new(s: &str) -> Pat {
        match s.strip_suffix('*') {
            Some(p) => Pat::Prefix(p.to_owned()),
            None => Pat::Exact(s.to_owned()),
        }
    }
    #[inline]
    fn matches(&self, s: &str) -> bool {
        match self {
            Pat::Exact(e) => e == s,
            Pat::Prefix(p) => s.starts_with(p.as_str()),
        }
    }
}

/// What a rule asks of an attribute.
#[derive(Clone, Debug, PartialEq)]
enum AttrMatch {
    Present,
    /// The value's text (numbers in decimal, `true`/`false`, strings as
    /// they are) equals this.
    Eq(String),
}

impl AttrMatch {
    /// Whether an attribute whose text is `text` passes.
    #[inline(always)]
    fn accepts(&self, text: &[u8]) -> bool {
        match self {
            AttrMatch::Present => true,
            AttrMatch::Eq(v) => v.as_bytes() == text,
        }
    }
}

/// One rule of [`Sampler::Rules`]: predicates on what is known at a span's
/// start (name, target, level, attributes given at start), and the sampler
/// that decides when they all hold. A rule without predicates matches
/// everything (a default at the end).
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    name: Option<Pat>,
    target: Option<Pat>,
    min_level: Option<Level>,
    attrs: Vec<(String, AttrMatch)>,
    sampler: Sampler,
}

impl Rule {
    /// A rule deciding with `sampler`; add predicates with the methods.
    pub fn new(sampler: Sampler) -> Rule {
        Rule {
            name: None,
            target: None,
            min_level: None,
            attrs: Vec::new(),
            sampler,
        }
    }
    /// The span's name is `pattern` (a trailing `*` matches any suffix).
    pub fn name(mut self, pattern: &str) -> Rule {
        self.name = Some(Pat::new(pattern));
        self
    }
    /// The span's target is `pattern` (a trailing `*` matches any suffix).
    pub fn target(mut self, pattern: &str) -> Rule {
        self.target = Some(Pat::new(pattern));
        self
    }
    /// The span's level is at least `level`.
    pub fn min_level(mut self, level: Level) -> Rule {
        self.min_level = Some(level);
        self
    }
    /// The span has attribute `key` at start, with text `value`
    /// (`"true"`, `"42"`, `"gold"`).
    pub fn attribute_eq(mut self, key: &str, value: &str) -> Rule {
        self.attrs
            .push((key.to_owned(), AttrMatch::Eq(value.to_owned())));
        self
    }
    /// The span has attribute `key` at start, whatever its value.
    pub fn attribute_present(mut self, key: &str) -> Rule {
        self.attrs.push((key.to_owned(), AttrMatch::Present));
        self
    }
}

/// The whole trace-sampling configuration: the sampler and what sits on
/// top of it. Set it with [`crate::Builder::sampling`], change it at run
/// time with [`update`].
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingConfig {
    sampler: Sampler,
    debug: bool,
    always_keep: Vec<String>,
    ceiling: Option<(f64, u32)>,
    precision: u8,
}

impl Default for SamplingConfig {
    /// `parent_based(always_on)`: OpenTelemetry's default.
    fn default() -> Self {
        SamplingConfig::new(Sampler::parent_based(Sampler::AlwaysOn))
    }
}

impl SamplingConfig {
    /// `sampler`, with nothing on top.
    pub fn new(sampler: Sampler) -> SamplingConfig {
        SamplingConfig {
            sampler,
            debug: false,
            always_keep: Vec::new(),
            ceiling: None,
            precision: DEFAULT_PRECISION,
        }
    }
    /// The sampler.
    pub fn sampler(&self) -> &Sampler {
        &self.sampler
    }
    /// Keep every span (the debug override, switched by configuration).
    pub fn debug(mut self, on: bool) -> Self {
        self.debug = on;
        self
    }
    /// Spans with these names are always kept when their decision is made
    /// here (a root, or a parent from another process): high-value
    /// operations. Children of a local parent follow the parent.
    pub fn always_keep<S: Into<String>>(mut self, names: impl IntoIterator<Item = S>) -> Self {
        self.always_keep.extend(names.into_iter().map(Into::into));
        self
    }
    /// At most `per_second` root traces kept per second in this process
    /// (burst: one second's worth, at least 1). Roots kept under a ceiling
    /// carry no `th` (their probability is not exact).
    pub fn max_root_traces_per_second(mut self, per_second: f64) -> Self {
        let burst = per_second.clamp(1.0, f64::from(u32::MAX)) as u32;
        self.ceiling = Some((per_second, burst));
        self
    }
    /// Hex digits of precision of the `th` values written (1 to 14,
    /// default 4).
    pub fn precision(mut self, digits: u8) -> Self {
        self.precision = digits.clamp(1, 14);
        self
    }
}

/// Where a span's parent is, and whether it was sampled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParentKind {
    /// No parent: a new trace.
    Root,
    /// A sampled parent in this process.
    LocalSampled,
    /// An unsampled parent in this process.
    LocalNotSampled,
    /// A sampled parent from another process.
    RemoteSampled,
    /// An unsampled parent from another process.
    RemoteNotSampled,
}

impl ParentKind {
    /// The kind of a parent with `flags`, local or remote; `Root` without one.
    pub(crate) fn of(has_parent: bool, remote: bool, flags: u8) -> ParentKind {
        let sampled = flags & 1 != 0;
        match (has_parent, remote, sampled) {
            (false, _, _) => ParentKind::Root,
            (true, false, true) => ParentKind::LocalSampled,
            (true, false, false) => ParentKind::LocalNotSampled,
            (true, true, true) => ParentKind::RemoteSampled,
            (true, true, false) => ParentKind::RemoteNotSampled,
        }
    }
}

/// The attributes a span has at its start, looked up by key.
pub(crate) trait Attrs {
    /// Feeds the text of attribute `key` (numbers in decimal, booleans as
    /// `true`/`false`, strings as they are) to `f`; false when absent.
    fn text(&self, key: &str, f: &mut dyn FnMut(&[u8])) -> bool;
    /// The call site the span comes from: its registry id and field names
    /// (what rules can know once per call site). `None`: no call site.
    fn site(&self) -> Option<(u32, &'static [&'static str])> {
        None
    }
    /// [`Attrs::text`] of the call site's field `index` (its position in
    /// [`Attrs::site`]'s names); false when absent.
    fn text_at(&self, _index: usize, _f: &mut dyn FnMut(&[u8])) -> bool {
        false
    }
}

/// No attributes.
impl Attrs for () {
    fn text(&self, _: &str, _: &mut dyn FnMut(&[u8])) -> bool {
        false
    }
}

/// What the sampler is told at a span's start.
pub(crate) struct SpanParams<'a> {
    pub trace_id: u128,
    /// The `rv` of the incoming `ot` tracestate entry.
    pub rv: Option<u64>,
    pub parent: ParentKind,
    /// The parent's `th`, when it had one.
    pub parent_th: Option<Threshold>,
    /// The debug override came with the request.
    pub debug: bool,
    pub name: &'a str,
    pub target: &'a str,
    pub level: Level,
    pub attrs: &'a dyn Attrs,
}

/// A sampling decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decision {
    /// The span is recorded and its sampled flag set.
    pub sampled: bool,
    /// The `th` the span carries (exact probability), if any.
    pub threshold: Option<Threshold>,
}

impl Decision {
    const DROP: Decision = Decision {
        sampled: false,
        threshold: None,
    };
}

/// A sampler's intent: a threshold (none: drop) and whether the adjusted
/// count it implies is reliable.
#[derive(Clone, Copy, Debug)]
struct Intent {
    threshold: Option<Threshold>,
    reliable: bool,
}

impl Intent {
    const DROP: Intent = Intent {
        threshold: None,
        reliable: false,
    };
    const KEEP_UNRELIABLE: Intent = Intent {
        threshold: Some(Threshold::ALWAYS),
        reliable: false,
    };
    #[inline]
    fn keeps(&self, r: u64) -> bool {
        self.threshold.is_some_and(|t| t.keeps(r))
    }
}

/// A compiled sampler: thresholds computed, limiter tables allocated.
enum Node {
    AlwaysOn,
    AlwaysOff,
    Probability(Threshold),
    /// Delegates indexed by [`ParentKind`] order.
    ParentBased(Box<[Node; 5]>),
    ParentThreshold(Box<Node>),
    Rules(Vec<(Rule, Node)>, SitePlans),
    AnyOf(Vec<Node>),
    Adaptive(Adaptive),
    RateLimited {
        inner: Box<Node>,
        /// Shared with the call sites' [`SiteRoot`]s.
        limiter: Arc<KeyedLimiter>,
        key: Vec<String>,
    },
}

/// Cells of each per-key rate limiter (8 bytes each: 512 KiB).
const LIMITER_CELLS: usize = 1 << 16;
/// Operation slots of each adaptive sampler.
const ADAPTIVE_SLOTS: usize = 1024;

impl Node {
    fn compile(s: &Sampler, precision: u8) -> Node {
        match s {
            Sampler::AlwaysOn => Node::AlwaysOn,
            Sampler::AlwaysOff => Node::AlwaysOff,
            Sampler::Probability(p) => match Threshold::from_probability(*p, precision) {
                Some(t) if t != Threshold::NEVER => Node::Probability(t),
                _ => Node::AlwaysOff,
            },
            Sampler::ParentBased(d) => Node::ParentBased(Box::new([
                Node::compile(&d.root, precision),
                Node::compile(&d.local_sampled, precision),
                Node::compile(&d.local_not_sampled, precision),
                Node::compile(&d.remote_sampled, precision),
                Node::compile(&d.remote_not_sampled, precision),
            ])),
            Sampler::ParentThreshold(root) => {
                Node::ParentThreshold(Box::new(Node::compile(root, precision)))
            }
            Sampler::Rules(rules) => Node::Rules(
                rules
                    .iter()
                    .map(|r| (r.clone(), Node::compile(&r.sampler, precision)))
                    .collect(),
                SitePlans::new(),
            ),
            Sampler::AnyOf(list) => {
                Node::AnyOf(list.iter().map(|s| Node::compile(s, precision)).collect())
            }
            Sampler::Adaptive(cfg) => Node::Adaptive(Adaptive::new(cfg.clone(), ADAPTIVE_SLOTS)),
            Sampler::RateLimited {
                inner,
                per_second,
                burst,
                key,
            } => Node::RateLimited {
                inner: Box::new(Node::compile(inner, precision)),
                limiter: Arc::new(KeyedLimiter::new(*per_second, *burst, LIMITER_CELLS)),
                key: key.clone(),
            },
        }
    }

    fn intent(&self, p: &SpanParams<'_>, r: u64) -> Intent {
        match self {
            Node::AlwaysOn => Intent::KEEP_UNRELIABLE,
            Node::AlwaysOff => Intent::DROP,
            Node::Probability(t) => Intent {
                threshold: Some(*t),
                reliable: true,
            },
            Node::ParentBased(d) => {
                let i = p.parent as usize;
                match (p.parent, &d[i]) {
                    // The default delegates of a sampled parent keep the
                    // span and pass a consistent `th` on.
                    (ParentKind::LocalSampled | ParentKind::RemoteSampled, Node::AlwaysOn) => {
                        parent_threshold(p, r)
                    }
                    (_, node) => node.intent(p, r),
                }
            }
            Node::ParentThreshold(root) => match p.parent {
                ParentKind::Root => root.intent(p, r),
                ParentKind::LocalSampled | ParentKind::RemoteSampled => parent_threshold(p, r),
                _ => Intent::DROP,
            },
            Node::Rules(rules, plans) => {
                let from = match plans.plan(rules, p) {
                    Plan::Rule(i) => return rules[i].1.intent(p, r),
                    Plan::None => return Intent::DROP,
                    Plan::From(i) => i,
                };
                rules[from..]
                    .iter()
                    .find(|(rule, _)| rule_matches(rule, p))
                    .map_or(Intent::DROP, |(_, node)| node.intent(p, r))
            }
            Node::AnyOf(list) => {
                let mut best = Intent::DROP;
                for n in list {
                    let i = n.intent(p, r);
                    match (i.threshold, best.threshold) {
                        (Some(_), None) => best = i,
                        (Some(t), Some(b)) if t < b || (t == b && i.reliable) => {
                            best = Intent {
                                threshold: Some(t),
                                reliable: i.reliable || (t == b && best.reliable),
                            }
                        }
                        _ => {}
                    }
                }
                best
            }
            Node::Adaptive(a) => {
                let slot = a.slot(name_hash(p.name));
                let t = a.threshold(slot);
                a.record(slot, r >= t);
                Intent {
                    threshold: Threshold::from_raw(t),
                    reliable: true,
                }
            }
            Node::RateLimited {
                inner,
                limiter,
                key,
            } => {
                // The usual inner samplers are read here, without a call.
                let keeps = match **inner {
                    Node::AlwaysOn => true,
                    Node::Probability(t) => t.keeps(r),
                    ref other => other.intent(p, r).keeps(r),
                };
                if !keeps {
                    return Intent::DROP;
                }
                let mut h = key_prefix(p.name, key);
                for k in key {
                    if !p.attrs.text(k, &mut |b| h.write(b)) {
                        h.write_u64(KEY_ABSENT);
                    }
                }
                admit(limiter, &h)
            }
        }
    }

    fn tick(&self, now: u64) {
        match self {
            Node::Adaptive(a) => {
                a.maybe_update(now);
            }
            Node::ParentBased(d) => d.iter().for_each(|n| n.tick(now)),
            Node::ParentThreshold(n) => n.tick(now),
            Node::Rules(rules, _) => rules.iter().for_each(|(_, n)| n.tick(now)),
            Node::AnyOf(list) => list.iter().for_each(|n| n.tick(now)),
            Node::RateLimited { inner, .. } => inner.tick(now),
            Node::AlwaysOn | Node::AlwaysOff | Node::Probability(_) => {}
        }
    }

    /// The node that decides roots.
    fn root_node(&self) -> &Node {
        match self {
            Node::ParentBased(d) => &d[0],
            Node::ParentThreshold(root) => root,
            other => other,
        }
    }

    /// True when a remote parent's decision is always followed.
    fn follows_remote_parent(&self) -> bool {
        match self {
            Node::ParentBased(d) => {
                matches!(d[3], Node::AlwaysOn) && matches!(d[4], Node::AlwaysOff)
            }
            Node::ParentThreshold(_) => true,
            _ => false,
        }
    }

    /// True when a local parent's decision is always followed (the default
    /// delegates): a child of a local parent then needs no lookup.
    fn follows_local_parent(&self) -> bool {
        match self {
            Node::ParentBased(d) => {
                matches!(d[1], Node::AlwaysOn) && matches!(d[2], Node::AlwaysOff)
            }
            Node::ParentThreshold(_) => true,
            _ => false,
        }
    }
}

/// A rate limiter's key for a span: its name and key attribute names
/// (what a call site fixes, hashed once per call site), then each key
/// attribute's text or [`KEY_ABSENT`].
fn key_prefix(name: &str, key: &[String]) -> KeyHasher {
    let mut h = KeyHasher::new();
    h.write(name.as_bytes());
    for k in key {
        h.write(k.as_bytes());
    }
    h
}

/// Stands for a key attribute a span does not have.
const KEY_ABSENT: u64 = 0xAB5E_47AB_5E47_AB5E;

/// One request of the key hashed into `h`.
#[inline(always)]
fn admit(limiter: &KeyedLimiter, h: &KeyHasher) -> Intent {
    if limiter.admit_leased(h.finish(), now_ns()) {
        Intent::KEEP_UNRELIABLE
    } else {
        COUNTERS.rate_limited.add();
        Intent::DROP
    }
}

fn name_hash(name: &str) -> u64 {
    let mut h = KeyHasher::new();
    h.write(name.as_bytes());
    h.finish()
}

/// A sampled parent: keep, passing its `th` on when consistent with R
/// (an inconsistent one is erased).
#[inline]
fn parent_threshold(p: &SpanParams<'_>, r: u64) -> Intent {
    match p.parent_th {
        Some(t) if th_consistent(t, r) => Intent {
            threshold: Some(t),
            reliable: true,
        },
        _ => Intent::KEEP_UNRELIABLE,
    }
}

/// Whether the predicates on what a call site fixes (name, target, level)
/// hold.
fn static_match(rule: &Rule, p: &SpanParams<'_>) -> bool {
    !(rule.min_level.is_some_and(|l| p.level < l)
        || rule.name.as_ref().is_some_and(|n| !n.matches(p.name))
        || rule.target.as_ref().is_some_and(|t| !t.matches(p.target)))
}

/// Which rule decides the spans of one call site, as far as the call site
/// alone can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    /// This rule, whatever the values.
    Rule(usize),
    /// No rule can match.
    None,
    /// Evaluate from this rule on, with the span's attributes.
    From(usize),
}

/// Per call site (by registry id, up to [`PLAN_SITES`]), the [`Plan`] of a
/// rule list, worked out at the call site's first span: rules whose name,
/// target or level cannot match, and attribute rules whose keys the call
/// site does not have, are skipped for good.
struct SitePlans(Box<[std::sync::atomic::AtomicU32]>);

/// Call sites with a cached plan (4 bytes each); others evaluate each time.
const PLAN_SITES: usize = 4096;
const PLAN_UNKNOWN: u32 = 0;
const PLAN_NONE: u32 = u32::MAX;
const PLAN_FROM: u32 = 1 << 31;

impl SitePlans {
    fn new() -> SitePlans {
        SitePlans(
            (0..PLAN_SITES)
                .map(|_| std::sync::atomic::AtomicU32::new(PLAN_UNKNOWN))
                .collect(),
        )
    }

    #[inline]
    fn plan(&self, rules: &[(Rule, Node)], p: &SpanParams<'_>) -> Plan {
        let Some((id, fields)) = p.attrs.site() else {
            return Plan::From(0);
        };
        let Some(slot) = self.0.get(id as usize) else {
            return Plan::From(0);
        };
        let mut v = slot.load(Relaxed);
        if v == PLAN_UNKNOWN {
            v = Self::work_out(rules, p, fields);
            slot.store(v, Relaxed);
        }
        match v {
            PLAN_NONE => Plan::None,
            v if v & PLAN_FROM != 0 => Plan::From((v & !PLAN_FROM) as usize),
            v => Plan::Rule(v as usize - 1),
        }
    }

    fn work_out(rules: &[(Rule, Node)], p: &SpanParams<'_>, fields: &[&'static str]) -> u32 {
        for (i, (rule, _)) in rules.iter().enumerate() {
            if !static_match(rule, p)
                || rule.attrs.iter().any(|(k, _)| {
                    !fields
                        .iter()
                        .any(|f| crate::callsite::field_key(f) == k.as_str())
                })
            {
                continue;
            }
            return if rule.attrs.is_empty() {
                i as u32 + 1
            } else {
                PLAN_FROM | i as u32
            };
        }
        PLAN_NONE
    }
}

fn rule_matches(rule: &Rule, p: &SpanParams<'_>) -> bool {
    if !static_match(rule, p) {
        return false;
    }
    rule.attrs.iter().all(|(key, m)| {
        let mut ok = false;
        let present = p.attrs.text(key, &mut |b| ok = m.accepts(b));
        present && ok
    })
}

/// How the roots of one call site are decided, worked out at its first
/// root span from what the call site fixes (name, target, level, field
/// names): always-kept names, rules that cannot match and the delegates
/// above the deciding sampler are settled once, and a rate limiter's key
/// prefix and field positions are known. What is left per span is one
/// threshold compare and, for a limiter, its key's values and one cell.
enum SiteRoot {
    /// An always-kept name: kept with p = 1, the ceiling not asked.
    AlwaysKept,
    /// This intent, whatever the span's values.
    Fixed(Intent),
    /// A probability.
    Probability(Threshold),
    /// A rate limit per key over always-on (`None`) or a probability.
    Limited {
        inner: Option<Threshold>,
        limiter: Arc<KeyedLimiter>,
        /// [`key_prefix`] of the name and key attribute names.
        prefix: KeyHasher,
        /// Each key attribute's position among the call site's fields
        /// ([`SiteRoot::ABSENT`]: not one of them).
        fields: [u16; SiteRoot::MAX_KEYS],
        keys: u8,
    },
    /// Rules on attribute values, from the first that can match: the
    /// first whose checks pass (by field position) decides; none: drop.
    Chain(Box<[SiteRule]>),
    /// Anything else (adaptive, any-of, rules inside rules): the compiled
    /// tree, per span.
    General,
}

/// A rule of a [`SiteRoot::Chain`]: its attribute checks, by the field's
/// position at the call site, and what decides when they pass.
struct SiteRule {
    checks: Box<[(u16, AttrMatch)]>,
    then: SiteRoot,
}

impl SiteRule {
    /// Whether every check passes on the span's values.
    #[inline(always)]
    fn passes<A: Attrs + ?Sized>(&self, attrs: &A) -> bool {
        for (i, m) in &self.checks {
            let mut ok = false;
            let present = attrs.text_at(usize::from(*i), &mut |b| ok = m.accepts(b));
            if !(present && ok) {
                return false;
            }
        }
        true
    }
}

impl SiteRoot {
    /// Key attributes a [`SiteRoot::Limited`] holds positions for.
    const MAX_KEYS: usize = 4;
    const ABSENT: u16 = u16::MAX;

    /// What the call site that `p` and `fields` describe fixes of `node`'s
    /// decisions on roots.
    fn resolve(node: &Node, p: &SpanParams<'_>, fields: &[&'static str]) -> SiteRoot {
        match node {
            Node::AlwaysOn => SiteRoot::Fixed(Intent::KEEP_UNRELIABLE),
            Node::AlwaysOff => SiteRoot::Fixed(Intent::DROP),
            Node::Probability(t) => SiteRoot::Probability(*t),
            Node::Rules(rules, _) => match SitePlans::work_out(rules, p, fields) {
                PLAN_NONE => SiteRoot::Fixed(Intent::DROP),
                v if v & PLAN_FROM != 0 => {
                    SiteRoot::chain(&rules[(v & !PLAN_FROM) as usize..], p, fields)
                }
                v => SiteRoot::resolve(&rules[v as usize - 1].1, p, fields),
            },
            Node::RateLimited {
                inner,
                limiter,
                key,
            } if key.len() <= SiteRoot::MAX_KEYS => {
                let inner = match **inner {
                    Node::AlwaysOn => None,
                    Node::Probability(t) => Some(t),
                    _ => return SiteRoot::General,
                };
                let mut at = [SiteRoot::ABSENT; SiteRoot::MAX_KEYS];
                for (slot, k) in at.iter_mut().zip(key) {
                    if let Some(i) = fields
                        .iter()
                        .position(|f| crate::callsite::field_key(f) == k)
                    {
                        *slot = u16::try_from(i).unwrap_or(SiteRoot::ABSENT);
                    }
                }
                SiteRoot::Limited {
                    inner,
                    limiter: Arc::clone(limiter),
                    prefix: key_prefix(p.name, key),
                    fields: at,
                    keys: key.len() as u8,
                }
            }
            _ => SiteRoot::General,
        }
    }

    /// The rules from the first that can match on, for a call site whose
    /// decision reads its values: rules its name, target, level or field
    /// names rule out are left out, attribute keys become field positions,
    /// and the chain ends at the first rule without attribute checks.
    /// [`SiteRoot::General`] when a rule's sampler needs the tree.
    fn chain(rules: &[(Rule, Node)], p: &SpanParams<'_>, fields: &[&'static str]) -> SiteRoot {
        let mut chain = Vec::new();
        for (rule, node) in rules {
            if !static_match(rule, p) {
                continue;
            }
            let checks: Option<Box<[(u16, AttrMatch)]>> = rule
                .attrs
                .iter()
                .map(|(k, m)| {
                    let i = fields
                        .iter()
                        .position(|f| crate::callsite::field_key(f) == k)?;
                    Some((u16::try_from(i).ok()?, m.clone()))
                })
                .collect();
            // A key the call site does not have: the rule never matches.
            let Some(checks) = checks else {
                continue;
            };
            let then = SiteRoot::resolve(node, p, fields);
            if matches!(then, SiteRoot::General | SiteRoot::Chain(_)) {
                return SiteRoot::General;
            }
            let last = checks.is_empty();
            chain.push(SiteRule { checks, then });
            if last {
                break;
            }
        }
        SiteRoot::Chain(chain.into())
    }

    /// This call site's shortcut word ([`root_shortcut`]): `ceiling` says
    /// whether roots kept by a probability or always-on need the
    /// ceiling's admission (then they ask the full decision).
    fn word(&self, ceiling: bool) -> u64 {
        let ask = if ceiling { SITE_ASK } else { 0 };
        match self {
            // p = 1, kept with `th:0`, the ceiling not asked.
            SiteRoot::AlwaysKept => ROOT_PROBABILITY << ROOT_SHIFT,
            SiteRoot::Fixed(i) if i.threshold.is_none() => ROOT_DROP << ROOT_SHIFT,
            SiteRoot::Fixed(_) => (ROOT_KEEP << ROOT_SHIFT) | ask,
            SiteRoot::Probability(t) => (ROOT_PROBABILITY << ROOT_SHIFT) | t.raw() | ask,
            SiteRoot::Limited { inner: None, .. } => (ROOT_KEEP << ROOT_SHIFT) | SITE_ASK,
            SiteRoot::Limited { inner: Some(t), .. } => {
                (ROOT_PROBABILITY << ROOT_SHIFT) | t.raw() | SITE_ASK
            }
            SiteRoot::Chain(_) | SiteRoot::General => SITE_GENERAL,
        }
    }

    /// The intent for a root of the call site with randomness `r`; `None`
    /// for [`SiteRoot::General`] and [`SiteRoot::AlwaysKept`].
    #[inline(always)]
    fn intent<A: Attrs + ?Sized>(&self, attrs: &A, r: u64) -> Option<Intent> {
        if let SiteRoot::Chain(rules) = self {
            for rule in rules {
                if rule.passes(attrs) {
                    return rule.then.leaf_intent(attrs, r);
                }
            }
            return Some(Intent::DROP);
        }
        self.leaf_intent(attrs, r)
    }

    /// [`SiteRoot::intent`] of anything but a chain (what a chain's rules
    /// lead to).
    #[inline(always)]
    fn leaf_intent<A: Attrs + ?Sized>(&self, attrs: &A, r: u64) -> Option<Intent> {
        Some(match self {
            SiteRoot::Fixed(i) => *i,
            SiteRoot::Probability(t) => Intent {
                threshold: Some(*t),
                reliable: true,
            },
            SiteRoot::Limited {
                inner,
                limiter,
                prefix,
                fields,
                keys,
            } => {
                if inner.is_some_and(|t| !t.keeps(r)) {
                    return Some(Intent::DROP);
                }
                let mut h = *prefix;
                for &i in &fields[..usize::from(*keys)] {
                    if i == SiteRoot::ABSENT || !attrs.text_at(usize::from(i), &mut |b| h.write(b))
                    {
                        h.write_u64(KEY_ABSENT);
                    }
                }
                admit(limiter, &h)
            }
            SiteRoot::Chain(_) | SiteRoot::AlwaysKept | SiteRoot::General => return None,
        })
    }
}

/// Per call site (by registry id, up to [`PLAN_SITES`]), its [`SiteRoot`];
/// the table is allocated at the first root that needs it.
type SiteRoots = OnceLock<Box<[OnceLock<SiteRoot>]>>;

/// The configuration in force, compiled.
pub(super) struct Compiled {
    config: SamplingConfig,
    root: Node,
    always_keep: Vec<String>,
    ceiling: Option<Ceiling>,
    site_roots: SiteRoots,
    /// Set by [`update`] ([`CONFIG_GEN`] while this one is in force).
    generation: u64,
}

impl Compiled {
    pub(super) fn new(config: SamplingConfig) -> Compiled {
        let root = Node::compile(&config.sampler, config.precision);
        Compiled {
            always_keep: config.always_keep.clone(),
            ceiling: config.ceiling.map(|(r, b)| Ceiling::new(r, b)),
            root,
            config,
            site_roots: OnceLock::new(),
            generation: 0,
        }
    }

    /// The [`SiteRoot`] of the root span `p`'s call site, if it has one.
    #[inline]
    fn site_root(&self, p: &SpanParams<'_>) -> Option<&SiteRoot> {
        let (id, fields) = p.attrs.site()?;
        let table = self
            .site_roots
            .get_or_init(|| (0..PLAN_SITES).map(|_| OnceLock::new()).collect());
        let slot = table.get(id as usize)?;
        Some(slot.get_or_init(|| {
            if self.always_keep.iter().any(|n| n == p.name) {
                SiteRoot::AlwaysKept
            } else {
                SiteRoot::resolve(self.root.root_node(), p, fields)
            }
        }))
    }

    /// The decision for a root outside any trace at call site `id`, when
    /// this configuration has worked out that call site's [`SiteRoot`] and
    /// it settles the decision; `None`: ask [`Compiled::decide`].
    #[inline(always)]
    fn decide_site_root<A: Attrs>(&self, id: u32, trace_id: u128, attrs: &A) -> Option<Decision> {
        // No table while the debug switch is on: `decide` returns first.
        let site = self.site_roots.get()?.get(id as usize)?.get()?;
        let r = randomness(trace_id, None);
        if let SiteRoot::AlwaysKept = site {
            return Some(Decision {
                sampled: true,
                threshold: Some(Threshold::ALWAYS),
            });
        }
        let intent = site.intent(attrs, r)?;
        Some(self.conclude(intent, r, true))
    }

    /// The decision of `intent` for randomness `r`; a root kept by it also
    /// needs the ceiling's admission.
    #[inline(always)]
    fn conclude(&self, intent: Intent, r: u64, root: bool) -> Decision {
        if !intent.keeps(r) {
            return Decision::DROP;
        }
        let mut d = Decision {
            sampled: true,
            threshold: if intent.reliable {
                intent.threshold
            } else {
                None
            },
        };
        if root && let Some(c) = &self.ceiling {
            if c.admit(now_ns()) {
                d.threshold = None;
            } else {
                COUNTERS.ceiling_rejected.fetch_add(1, Relaxed);
                return Decision::DROP;
            }
        }
        d
    }

    pub(super) fn decide(&self, p: &SpanParams<'_>) -> Decision {
        let r = randomness(p.trace_id, p.rv);
        let decides_here = !matches!(
            p.parent,
            ParentKind::LocalSampled | ParentKind::LocalNotSampled
        );
        if p.debug || self.config.debug {
            if p.debug {
                COUNTERS.debug_kept.fetch_add(1, Relaxed);
            }
            return Decision {
                sampled: true,
                threshold: None,
            };
        }
        let site = if p.parent == ParentKind::Root {
            self.site_root(p)
        } else {
            None
        };
        let always_kept = match site {
            Some(s) => matches!(s, SiteRoot::AlwaysKept),
            None => {
                decides_here
                    && !self.always_keep.is_empty()
                    && self.always_keep.iter().any(|n| n == p.name)
            }
        };
        if always_kept {
            return Decision {
                sampled: true,
                // p = 1 is exact at a root; a remote parent's trace was
                // sampled upstream with a probability this span does not know.
                threshold: (p.parent == ParentKind::Root).then_some(Threshold::ALWAYS),
            };
        }
        let intent = match site.and_then(|s| s.intent(p.attrs, r)) {
            Some(i) => i,
            None => self.root.intent(p, r),
        };
        self.conclude(intent, r, p.parent == ParentKind::Root)
    }
}

static CONFIG: LazyLock<ArcSwap<Compiled>> =
    LazyLock::new(|| ArcSwap::from_pointee(Compiled::new(SamplingConfig::default())));

/// The shortcuts of the configuration in force, in one word read with one
/// load (so a decision sees one configuration): bits 0..=55 the root
/// threshold (below 2^56: a probability's), then the flags below and the
/// generation ([`GEN_SHIFT`]). A decision that none of them covers takes
/// a call site's word ([`root_shortcut`]) or the compiled configuration.
/// A call site's word has the same layout, with [`SITE_ASK`] at bit 56.
static FAST: AtomicU64 =
    AtomicU64::new(FOLLOW_LOCAL | FOLLOW_REMOTE | (ROOT_KEEP << ROOT_SHIFT) | (1 << GEN_SHIFT));
/// Children of a local parent follow it (the default delegates).
const FOLLOW_LOCAL: u64 = 1 << 57;
/// Children of a remote parent follow it, passing a consistent `th` on.
const FOLLOW_REMOTE: u64 = 1 << 58;
/// Two bits: how roots are decided without the compiled configuration.
const ROOT_SHIFT: u32 = 59;
const ROOT_SLOW: u64 = 0;
const ROOT_DROP: u64 = 1;
const ROOT_KEEP: u64 = 2;
const ROOT_PROBABILITY: u64 = 3;
const ROOT_MASK: u64 = 3;
const T_MASK: u64 = (1 << 56) - 1;
/// In a call site's word: a root its shortcut keeps is decided in full
/// ([`RootShortcut::asks_site`]). Bit 56, above every threshold a
/// shortcut holds (a probability's is below 2^56; [`FAST`] never sets it).
const SITE_ASK: u64 = 1 << 56;
/// In a call site's word: no shortcut (the decision reads the span's
/// values, or the debug switch is on); the word is its generation alone,
/// so nothing more is published.
const SITE_GENERAL: u64 = 0;
/// Bits 61..=63 of [`FAST`] and of a call site's word: the configuration's
/// generation, 1 to 7 (0 in [`FAST`] while an update is under way); a call
/// site's word counts only when its generation is [`FAST`]'s.
const GEN_SHIFT: u32 = 61;

/// The generation bits of configuration `generation`.
fn gen_bits(generation: u64) -> u64 {
    (generation % 7 + 1) << GEN_SHIFT
}

/// The generation of the configuration in force (see [`update`]).
static CONFIG_GEN: AtomicU64 = AtomicU64::new(0);
/// Serializes [`update`]s (generations and call-site words in order).
static UPDATING: Mutex<()> = Mutex::new(());

/// The [`FAST`] word of a configuration.
fn fast_word(c: &Compiled) -> u64 {
    // The debug switch, always-kept names and the ceiling apply to roots and
    // remote parents: those decisions then take the full path.
    let top_clean = !c.config.debug && c.always_keep.is_empty() && c.ceiling.is_none();
    let mut w = 0;
    if !c.config.debug && c.root.follows_local_parent() {
        w |= FOLLOW_LOCAL;
    }
    if top_clean && c.root.follows_remote_parent() {
        w |= FOLLOW_REMOTE;
    }
    if top_clean {
        w |= match c.root.root_node() {
            Node::AlwaysOff => ROOT_DROP << ROOT_SHIFT,
            Node::AlwaysOn => ROOT_KEEP << ROOT_SHIFT,
            Node::Probability(t) => (ROOT_PROBABILITY << ROOT_SHIFT) | t.raw(),
            _ => ROOT_SLOW << ROOT_SHIFT,
        };
    }
    w
}

thread_local! {
    static CACHE: RefCell<Cache<&'static ArcSwap<Compiled>, Arc<Compiled>>> =
        RefCell::new(Cache::new(&*CONFIG));
}

/// Installs `config` as the configuration in force (at `init()`).
pub(crate) fn install(config: SamplingConfig) {
    update(config);
}

/// Replaces the trace-sampling configuration at run time, without a
/// restart and without a lock on the hot path: a span started during the
/// update is decided by the old or the new configuration. Rate-limit
/// budgets and adaptive probabilities start afresh.
pub fn update(config: SamplingConfig) {
    let _serial = UPDATING
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut compiled = Compiled::new(config);
    let generation = CONFIG_GEN.load(Relaxed) + 1;
    compiled.generation = generation;
    let fast = fast_word(&compiled) | gen_bits(generation);
    // Slow path first, so no decision takes the new shortcuts with the old
    // configuration behind them.
    FAST.store(0, Relaxed);
    CONFIG.store(Arc::new(compiled));
    // Then the call sites' words of the old configuration go; a word
    // published from it after this finds the generation moved on and takes
    // itself back (`Callsite::publish_roots_word`).
    CONFIG_GEN.store(generation, SeqCst);
    crate::engine::for_each_callsite(Callsite::clear_roots_word);
    FAST.store(fast, Relaxed);
}

/// The configuration in force.
pub fn current() -> SamplingConfig {
    CONFIG.load().config.clone()
}

/// Decides whether a span starting now is sampled: the common
/// configurations with one load ([`decide_fast`]), the rest through the
/// compiled tree.
#[cfg(test)]
fn decide(p: &SpanParams<'_>) -> Decision {
    match decide_fast(p.trace_id, p.rv, p.parent, p.parent_th, p.debug) {
        Some(d) => d,
        None => decide_slow(p),
    }
}

/// How roots are decided when one load says so.
#[derive(Clone, Copy)]
pub(crate) struct RootShortcut(u64);

impl RootShortcut {
    /// A root this word keeps still needs the call site's full decision
    /// (a rate limit, or the ceiling), made by [`decide_site_root`].
    #[inline(always)]
    pub(crate) fn asks_site(self) -> bool {
        self.0 & SITE_ASK != 0
    }

    /// The decision for a root (no `rv`, no debug switch) whose trace id's
    /// low 64 bits `low` computes, called only when the decision reads
    /// them (a probability does, its low 56 bits; always-on and always-off
    /// do not).
    #[inline(always)]
    pub(crate) fn decide_with(self, low: impl FnOnce() -> u64) -> Decision {
        match (self.0 >> ROOT_SHIFT) & ROOT_MASK {
            ROOT_DROP => Decision::DROP,
            ROOT_KEEP => Decision {
                sampled: true,
                threshold: None,
            },
            _ => {
                let t = self.0 & T_MASK;
                if randomness(u128::from(low()), None) >= t {
                    Decision {
                        sampled: true,
                        threshold: Threshold::from_raw(t),
                    }
                } else {
                    Decision::DROP
                }
            }
        }
    }
}

/// True when call site `cs` has no word of the configuration in force:
/// its next root decided in full publishes one ([`publish_site_root`]).
#[inline]
pub(crate) fn site_word_stale(cs: &Callsite) -> bool {
    (cs.roots_word() ^ FAST.load(Relaxed)) >> GEN_SHIFT != 0
}

/// Publishes for call site `cs` the shortcut word of what the configuration
/// in force worked out for its roots ([`SiteRoot::word`]), once its first
/// root is decided; call sites whose decision reads the span's values get a
/// word that says so, and are not asked again.
#[cold]
pub(crate) fn publish_site_root(cs: &Callsite) {
    let _ = CACHE.try_with(|c| {
        let Ok(mut c) = c.try_borrow_mut() else {
            return;
        };
        let c = c.load();
        // The debug switch, or a call site beyond the table: the full path
        // for every root, and nothing more to work out.
        let word = gen_bits(c.generation)
            | if c.config.debug || cs.id() as usize >= PLAN_SITES {
                SITE_GENERAL
            } else {
                match c
                    .site_roots
                    .get()
                    .and_then(|t| t.get(cs.id() as usize))
                    .and_then(OnceLock::get)
                {
                    Some(site) => site.word(c.ceiling.is_some()),
                    None => return,
                }
            };
        if CONFIG_GEN.load(SeqCst) == c.generation {
            cs.publish_roots_word(word, || CONFIG_GEN.load(SeqCst) == c.generation);
        }
    });
}

/// True when a child of a local parent follows its parent's decision (the
/// default delegates): one load settles an unsampled parent's child.
#[inline(always)]
pub(crate) fn follows_local_parent() -> bool {
    FAST.load(Relaxed) & FOLLOW_LOCAL != 0
}

/// The shortcut for roots at call site `cs`: the configuration's own when
/// one load settles every root, else the call site's word once a root of it
/// has been decided in full and its decision found to depend on the call
/// site alone (or, with [`RootShortcut::asks_site`], its rejections: a
/// rate limit's inner probability), when that word is of the configuration
/// in force.
#[inline(always)]
pub(crate) fn root_shortcut(cs: &Callsite) -> Option<RootShortcut> {
    let f = FAST.load(Relaxed);
    if (f >> ROOT_SHIFT) & ROOT_MASK != ROOT_SLOW {
        return Some(RootShortcut(f));
    }
    let w = cs.roots_word();
    ((w ^ f) >> GEN_SHIFT == 0 && (w >> ROOT_SHIFT) & ROOT_MASK != ROOT_SLOW)
        .then_some(RootShortcut(w))
}

/// The decision of the configurations [`FAST`] covers, from what a span
/// knows before its call site is looked at; `None`: ask [`decide_slow`].
#[inline(always)]
pub(crate) fn decide_fast(
    trace_id: u128,
    rv: Option<u64>,
    parent: ParentKind,
    parent_th: Option<Threshold>,
    debug: bool,
) -> Option<Decision> {
    let w = FAST.load(Relaxed);
    match parent {
        ParentKind::LocalSampled if w & FOLLOW_LOCAL != 0 => Some(Decision {
            sampled: true,
            threshold: parent_th.filter(|t| th_consistent(*t, randomness(trace_id, rv))),
        }),
        ParentKind::LocalNotSampled if w & FOLLOW_LOCAL != 0 => Some(Decision::DROP),
        ParentKind::Root if !debug => match (w >> ROOT_SHIFT) & ROOT_MASK {
            ROOT_DROP => Some(Decision::DROP),
            ROOT_KEEP => Some(Decision {
                sampled: true,
                threshold: None,
            }),
            ROOT_PROBABILITY => {
                let t = w & T_MASK;
                Some(if randomness(trace_id, rv) >= t {
                    Decision {
                        sampled: true,
                        threshold: Threshold::from_raw(t),
                    }
                } else {
                    Decision::DROP
                })
            }
            _ => None,
        },
        ParentKind::RemoteSampled if !debug && w & FOLLOW_REMOTE != 0 => {
            let r = randomness(trace_id, rv);
            Some(Decision {
                sampled: true,
                threshold: parent_th.filter(|t| th_consistent(*t, r)),
            })
        }
        ParentKind::RemoteNotSampled if !debug && w & FOLLOW_REMOTE != 0 => Some(Decision::DROP),
        _ => None,
    }
}

/// The decision for a root span outside any trace (no `rv`, no debug
/// switch from a request) at call site `id` whose field values `attrs`
/// holds, from what the configuration in force worked out for that call
/// site at its first root; `None` (not yet worked out, or not settled per
/// call site): ask [`decide_slow`].
#[inline(always)]
pub(crate) fn decide_site_root<A: Attrs>(id: u32, trace_id: u128, attrs: &A) -> Option<Decision> {
    CACHE
        .try_with(|c| match c.try_borrow_mut() {
            Ok(mut c) => c.load().decide_site_root(id, trace_id, attrs),
            Err(_) => None,
        })
        .ok()
        .flatten()
}

#[inline(never)]
pub(crate) fn decide_slow(p: &SpanParams<'_>) -> Decision {
    // The thread's cached `Arc` (one load to check it is current); a
    // decision made inside another (an attribute's Display impl starting a
    // span) takes the shared path.
    let cached = CACHE.try_with(|c| match c.try_borrow_mut() {
        Ok(mut c) => Some(c.load().decide(p)),
        Err(_) => None,
    });
    match cached {
        Ok(Some(d)) => d,
        _ => CONFIG.load().decide(p),
    }
}

/// Moves adaptive probabilities on (called by the writer on every pass).
pub(crate) fn tick() {
    tick_at(now_ns());
}

/// Moves adaptive probabilities on as the writer does on every pass, as if
/// the monotonic clock the sampler reads said `now_ns`: for tests and
/// simulations that drive time themselves. An interval is due when
/// `now_ns` passes the last update by the configured interval; a time
/// earlier than the last update is never due.
#[doc(hidden)]
pub fn tick_at(now_ns: u64) {
    CONFIG.load().root.tick(now_ns);
}

/// Monotonic nanoseconds for rate limits: the writer's coarse clock when
/// an engine runs, else the OS clock.
#[inline]
fn now_ns() -> u64 {
    crate::clock::coarse_mono_ns()
}

/// Process-wide counts of the sampler's rarer outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SamplingCounters {
    /// Root spans a probability or rule kept and the ceiling refused.
    pub ceiling_rejected: u64,
    /// Spans a per-key rate limit refused.
    pub rate_limited: u64,
    /// Spans kept because their request switched the debug override on.
    pub debug_kept: u64,
    /// Incoming `ot` tracestate values with an invalid or repeated `th` or
    /// `rv`, or a malformed sub-key (each dropped alone, the rest kept).
    pub invalid_ot: u64,
}

struct Counters {
    ceiling_rejected: AtomicU64,
    rate_limited: Sharded,
    debug_kept: AtomicU64,
    invalid_ot: AtomicU64,
}

static COUNTERS: Counters = Counters {
    ceiling_rejected: AtomicU64::new(0),
    rate_limited: Sharded::new(),
    debug_kept: AtomicU64::new(0),
    invalid_ot: AtomicU64::new(0),
};

/// A counter threads add to on their own cache line (a hot rate-limit key
/// refuses spans on every core at once); read as the sum.
struct Sharded([crossbeam_utils::CachePadded<AtomicU64>; SHARDS]);

const SHARDS: usize = 8;

impl Sharded {
    const fn new() -> Sharded {
        Sharded([const { crossbeam_utils::CachePadded::new(AtomicU64::new(0)) }; SHARDS])
    }

    #[inline]
    fn add(&self) {
        thread_local! {
            static SHARD: usize = {
                static NEXT: AtomicU64 = AtomicU64::new(0);
                NEXT.fetch_add(1, Relaxed) as usize % SHARDS
            };
        }
        let i = SHARD.try_with(|s| *s).unwrap_or(0);
        self.0[i].fetch_add(1, Relaxed);
    }

    fn sum(&self) -> u64 {
        self.0.iter().map(|c| c.load(Relaxed)).sum()
    }
}

/// Counts an incoming `ot` value that had something to drop.
pub(crate) fn count_invalid_ot() {
    COUNTERS.invalid_ot.fetch_add(1, Relaxed);
}

/// The counters so far.
pub fn counters() -> SamplingCounters {
    SamplingCounters {
        ceiling_rejected: COUNTERS.ceiling_rejected.load(Relaxed),
        rate_limited: COUNTERS.rate_limited.sum(),
        debug_kept: COUNTERS.debug_kept.load(Relaxed),
        invalid_ot: COUNTERS.invalid_ot.load(Relaxed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// splitmix64: reproducible trace ids.
    fn ids(seed: u64) -> impl Iterator<Item = u128> {
        let mut rng = crate::sampler::test_rng::SplitMix(seed);
        std::iter::repeat_with(move || (u128::from(rng.next()) << 64) | u128::from(rng.next()))
    }

    struct Kv<'a>(&'a [(&'a str, &'a str)]);
    impl Attrs for Kv<'_> {
        fn text(&self, key: &str, f: &mut dyn FnMut(&[u8])) -> bool {
            match self.0.iter().find(|(k, _)| *k == key) {
                Some((_, v)) => {
                    f(v.as_bytes());
                    true
                }
                None => false,
            }
        }
    }

    fn params<'a>(trace_id: u128, parent: ParentKind, attrs: &'a dyn Attrs) -> SpanParams<'a> {
        SpanParams {
            trace_id,
            rv: None,
            parent,
            parent_th: None,
            debug: false,
            name: "op",
            target: "svc::api",
            level: Level::Info,
            attrs,
        }
    }

    fn compiled(s: Sampler) -> Compiled {
        Compiled::new(SamplingConfig::new(s))
    }

    #[test]
    fn probability_keeps_its_rate_within_five_sigma_over_a_million_roots() {
        for p in [0.5, 0.1, 0.01] {
            let c = compiled(Sampler::probability(p));
            let n = 1_000_000u32;
            let kept = ids(7)
                .take(n as usize)
                .filter(|&t| c.decide(&params(t, ParentKind::Root, &())).sampled)
                .count() as f64;
            // The threshold is rounded to 4 hex digits: use its exact p.
            let exact = Threshold::from_probability(p, DEFAULT_PRECISION)
                .map(Threshold::probability)
                .unwrap_or(p);
            let n = f64::from(n);
            let sd = (n * exact * (1.0 - exact)).sqrt();
            assert!(
                (kept - n * exact).abs() <= 5.0 * sd,
                "p {p}: kept {kept}, expected {} ± {}",
                n * exact,
                5.0 * sd
            );
        }
    }

    #[test]
    fn kept_spans_carry_th_and_the_decision_is_r_ge_t() {
        let c = compiled(Sampler::probability(0.25));
        let t = Threshold::from_probability(0.25, 4).unwrap();
        assert_eq!(t.raw(), 0xc << 52);
        for id in ids(3).take(10_000) {
            let d = c.decide(&params(id, ParentKind::Root, &()));
            let r = (id as u64) & ((1 << 56) - 1);
            assert_eq!(d.sampled, r >= t.raw(), "{id:032x}");
            assert_eq!(d.threshold, d.sampled.then_some(t));
        }
    }

    #[test]
    fn two_rates_on_the_same_trace_ids_keep_nested_sets() {
        let low = compiled(Sampler::probability(0.1));
        let high = compiled(Sampler::probability(0.5));
        let (mut n_low, mut n_high) = (0, 0);
        for id in ids(11).take(200_000) {
            let a = low.decide(&params(id, ParentKind::Root, &())).sampled;
            let b = high.decide(&params(id, ParentKind::Root, &())).sampled;
            assert!(!a || b, "kept at 0.1 but not at 0.5: {id:032x}");
            n_low += usize::from(a);
            n_high += usize::from(b);
        }
        assert!(n_low > 0 && n_high > n_low);
    }

    #[test]
    fn rv_decides_instead_of_the_trace_id() {
        let c = compiled(Sampler::probability(0.5));
        // A trace id whose low 56 bits alone would be dropped (R = 0)…
        let id = 0xffff_ffff_ffff_ffff_ff00_0000_0000_0000u128;
        assert!(!c.decide(&params(id, ParentKind::Root, &())).sampled);
        // …is kept when rv says R is high, and dropped when rv is low.
        let mut p = params(id, ParentKind::Root, &());
        p.rv = Some(0x80_0000_0000_0000);
        assert!(c.decide(&p).sampled);
        p.rv = Some(0x7f_ffff_ffff_ffff);
        assert!(!c.decide(&p).sampled);
    }

    #[test]
    fn parent_based_follows_each_of_the_five_delegates() {
        let id = 0x1234_5678_9abc_def0_1122_3344_5566_7788;
        let defaults = compiled(Sampler::parent_based(Sampler::AlwaysOff));
        let cases = [
            (ParentKind::Root, false),
            (ParentKind::LocalSampled, true),
            (ParentKind::LocalNotSampled, false),
            (ParentKind::RemoteSampled, true),
            (ParentKind::RemoteNotSampled, false),
        ];
        for (kind, want) in cases {
            assert_eq!(
                defaults.decide(&params(id, kind, &())).sampled,
                want,
                "{kind:?}"
            );
        }
        // Every delegate swapped: each kind now takes the other answer.
        let inverted = compiled(Sampler::parent_based_with(ParentBased {
            root: Sampler::AlwaysOn,
            remote_sampled: Sampler::AlwaysOff,
            remote_not_sampled: Sampler::AlwaysOn,
            local_sampled: Sampler::AlwaysOff,
            local_not_sampled: Sampler::AlwaysOn,
        }));
        for (kind, want) in cases {
            assert_eq!(
                inverted.decide(&params(id, kind, &())).sampled,
                !want,
                "{kind:?}"
            );
        }
        assert!(!inverted.root.follows_local_parent());
        assert!(defaults.root.follows_local_parent());
    }

    #[test]
    fn a_consistent_incoming_th_is_passed_on_and_an_inconsistent_one_erased() {
        let c = compiled(Sampler::parent_based(Sampler::probability(0.5)));
        let th = Threshold::parse("8").unwrap();
        // R >= T: consistent.
        let mut p = params(0x00c0_0000_0000_0000, ParentKind::RemoteSampled, &());
        p.parent_th = Some(th);
        assert_eq!(
            c.decide(&p),
            Decision {
                sampled: true,
                threshold: Some(th)
            }
        );
        // R < T with the sampled flag: kept (the parent decided), th erased.
        p.trace_id = 0x0010_0000_0000_0000;
        assert_eq!(
            c.decide(&p),
            Decision {
                sampled: true,
                threshold: None
            }
        );
        // An unsampled remote parent: dropped whatever its th.
        p.parent = ParentKind::RemoteNotSampled;
        assert_eq!(c.decide(&p), Decision::DROP);
    }

    #[test]
    fn always_on_keeps_without_th_and_probability_one_writes_th_0() {
        let on = compiled(Sampler::AlwaysOn).decide(&params(5, ParentKind::Root, &()));
        assert_eq!(
            on,
            Decision {
                sampled: true,
                threshold: None
            }
        );
        let one = compiled(Sampler::probability(1.0)).decide(&params(5, ParentKind::Root, &()));
        assert_eq!(
            one,
            Decision {
                sampled: true,
                threshold: Some(Threshold::ALWAYS)
            }
        );
        let zero =
            compiled(Sampler::probability(0.0)).decide(&params(u128::MAX, ParentKind::Root, &()));
        assert_eq!(zero, Decision::DROP);
    }

    #[test]
    fn rules_first_match_wins_on_name_target_level_and_attributes() {
        let c = compiled(Sampler::rules(vec![
            Rule::new(Sampler::AlwaysOn).attribute_eq("error", "true"),
            Rule::new(Sampler::AlwaysOn).attribute_present("priority"),
            Rule::new(Sampler::AlwaysOff).name("health*"),
            Rule::new(Sampler::AlwaysOn)
                .target("billing::*")
                .min_level(Level::Warn),
            Rule::new(Sampler::probability(0.0)),
        ]));
        let id = u128::MAX; // R at its highest: only "never" drops it
        let decide = |name: &'static str, target: &'static str, level, kv: &[(&str, &str)]| {
            let attrs = Kv(kv);
            let mut p = params(id, ParentKind::Root, &attrs);
            p.name = name;
            p.target = target;
            p.level = level;
            c.decide(&p).sampled
        };
        assert!(decide(
            "health_check",
            "x",
            Level::Info,
            &[("error", "true")]
        ));
        assert!(!decide(
            "health_check",
            "x",
            Level::Info,
            &[("error", "false")]
        ));
        assert!(decide("op", "x", Level::Info, &[("priority", "1")]));
        assert!(decide("op", "billing::charge", Level::Error, &[]));
        assert!(!decide("op", "billing::charge", Level::Info, &[]));
        assert!(!decide("op", "other", Level::Error, &[]));
    }

    #[test]
    fn any_of_keeps_what_any_delegate_keeps_with_the_lowest_threshold() {
        let c = compiled(Sampler::any_of(vec![
            Sampler::probability(0.25),
            Sampler::probability(0.5),
        ]));
        let half = Threshold::from_probability(0.5, 4).unwrap();
        let d = c.decide(&params(0x00a0_0000_0000_0000, ParentKind::Root, &()));
        assert_eq!(
            d,
            Decision {
                sampled: true,
                threshold: Some(half)
            }
        );
        let none = compiled(Sampler::any_of(vec![Sampler::AlwaysOff]));
        assert_eq!(
            none.decide(&params(1, ParentKind::Root, &())),
            Decision::DROP
        );
    }

    #[test]
    fn the_debug_override_and_high_value_operations_keep_without_exact_th() {
        let off = SamplingConfig::new(Sampler::AlwaysOff);
        let c = Compiled::new(off.clone().debug(true));
        assert_eq!(
            c.decide(&params(1, ParentKind::Root, &())),
            Decision {
                sampled: true,
                threshold: None
            }
        );
        let c = Compiled::new(off.clone());
        let mut p = params(1, ParentKind::Root, &());
        p.debug = true;
        assert_eq!(
            c.decide(&p),
            Decision {
                sampled: true,
                threshold: None
            }
        );
        let c = Compiled::new(off.always_keep(["checkout"]));
        let mut p = params(1, ParentKind::Root, &());
        p.name = "checkout";
        assert_eq!(
            c.decide(&p),
            Decision {
                sampled: true,
                threshold: Some(Threshold::ALWAYS)
            }
        );
        p.parent = ParentKind::RemoteNotSampled;
        assert_eq!(
            c.decide(&p),
            Decision {
                sampled: true,
                threshold: None
            }
        );
        // A child of a local unsampled parent follows it.
        p.parent = ParentKind::LocalNotSampled;
        assert_eq!(c.decide(&p), Decision::DROP);
        p.name = "other";
        p.parent = ParentKind::Root;
        assert_eq!(c.decide(&p), Decision::DROP);
    }

    #[test]
    fn the_ceiling_holds_with_two_threads() {
        // 100 roots a second, burst 100: in the instant of this test (the
        // clock moves by microseconds) at most burst + a few are kept.
        let c =
            Compiled::new(SamplingConfig::new(Sampler::AlwaysOn).max_root_traces_per_second(100.0));
        let start = now_ns();
        let kept = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| {
            for t in 0..2u64 {
                let (c, kept) = (&c, &kept);
                s.spawn(move || {
                    for id in ids(t).take(50_000) {
                        if c.decide(&params(id, ParentKind::Root, &())).sampled {
                            kept.fetch_add(1, Relaxed);
                        }
                    }
                });
            }
        });
        let elapsed_s = (now_ns() - start) as f64 / 1e9;
        let kept = kept.load(Relaxed) as f64;
        let bound = 100.0 + 100.0 * elapsed_s + 1.0;
        assert!(kept <= bound, "kept {kept} > {bound}");
        assert!(kept >= 100.0, "the burst is kept at once: {kept}");
    }

    #[test]
    fn a_rate_limited_hot_key_does_not_starve_a_cold_one() {
        let c = compiled(Sampler::AlwaysOn.rate_limited(10.0, 10, ["tenant"]));
        let hot = Kv(&[("tenant", "hot")]);
        let cold = Kv(&[("tenant", "cold")]);
        let start = now_ns();
        let kept_hot = ids(1)
            .take(100_000)
            .filter(|&id| c.decide(&params(id, ParentKind::Root, &hot)).sampled)
            .count();
        // The burst at once, then 10 a second of the time the loop took
        // (bounded by the clock the limiter reads, not assumed).
        let elapsed_s = (now_ns() - start) as f64 / 1e9;
        let bound = 10.0 + 10.0 * elapsed_s + 1.0;
        assert!(
            kept_hot >= 10 && kept_hot as f64 <= bound,
            "hot key kept {kept_hot}, bound {bound}"
        );
        let kept_cold = ids(2)
            .take(10)
            .filter(|&id| c.decide(&params(id, ParentKind::Root, &cold)).sampled)
            .count();
        assert_eq!(kept_cold, 10);
        let d = c.decide(&params(3, ParentKind::Root, &Kv(&[("tenant", "new")])));
        assert_eq!(
            d,
            Decision {
                sampled: true,
                threshold: None
            }
        );
    }

    /// A call site: its registry id, field names and this span's values
    /// (as the `span!` macro's attributes are).
    struct Site<'a> {
        id: u32,
        fields: &'static [&'static str],
        values: &'a [&'a str],
    }

    impl Attrs for Site<'_> {
        fn text(&self, key: &str, f: &mut dyn FnMut(&[u8])) -> bool {
            match self.fields.iter().position(|k| *k == key) {
                Some(i) => self.text_at(i, f),
                None => false,
            }
        }
        fn site(&self) -> Option<(u32, &'static [&'static str])> {
            Some((self.id, self.fields))
        }
        fn text_at(&self, index: usize, f: &mut dyn FnMut(&[u8])) -> bool {
            match self.values.get(index) {
                Some(v) => {
                    f(v.as_bytes());
                    true
                }
                None => false,
            }
        }
    }

    fn site<'a>(id: u32, fields: &'static [&'static str], values: &'a [&'a str]) -> Site<'a> {
        Site { id, fields, values }
    }

    /// The same values without a call site: the compiled tree, per span.
    struct NoSite<'a>(&'a Site<'a>);

    impl Attrs for NoSite<'_> {
        fn text(&self, key: &str, f: &mut dyn FnMut(&[u8])) -> bool {
            self.0.text(key, f)
        }
    }

    fn root_params<'a>(
        trace_id: u128,
        name: &'a str,
        level: Level,
        attrs: &'a dyn Attrs,
    ) -> SpanParams<'a> {
        SpanParams {
            trace_id,
            rv: None,
            parent: ParentKind::Root,
            parent_th: None,
            debug: false,
            name,
            target: "svc::api",
            level,
            attrs,
        }
    }

    /// What a call site works out for its roots (rules skipped, always-kept
    /// names, probabilities, a limiter's key) decides each root as the
    /// compiled tree does, for call sites that fix the decision and for
    /// those that leave it to the values; before its first root a call site
    /// has nothing worked out and the full path decides.
    #[test]
    fn a_call_sites_worked_out_roots_decide_as_the_compiled_tree() {
        let rules = || {
            Sampler::rules(vec![
                Rule::new(Sampler::AlwaysOn).attribute_eq("error", "true"),
                Rule::new(Sampler::probability(0.01)).name("health*"),
                Rule::new(Sampler::AlwaysOff).min_level(Level::Warn),
                Rule::new(Sampler::probability(0.5).rate_limited(1e9, 1_000_000, ["tenant"])),
            ])
        };
        let configs = [
            SamplingConfig::new(Sampler::parent_based(rules())),
            SamplingConfig::new(rules()),
            SamplingConfig::new(Sampler::parent_based(rules())).always_keep(["checkout"]),
            SamplingConfig::new(Sampler::parent_based(Sampler::rules(vec![
                Rule::new(Sampler::probability(0.25)).name("never*"),
            ]))),
            SamplingConfig::new(Sampler::AlwaysOn.rate_limited(1e9, 1_000_000, ["tenant", "user"])),
            SamplingConfig::new(Sampler::any_of(vec![
                Sampler::probability(0.1),
                Sampler::probability(0.2),
            ])),
            SamplingConfig::new(Sampler::parent_based(Sampler::probability(0.3)))
                .max_root_traces_per_second(1e12),
        ];
        // (call site, name, level): fixed by rules, skipped rules, values
        // read per span, a key attribute the call site lacks.
        let sites = [
            (site(1, &["tenant"], &["acme"]), "checkout", Level::Info),
            (site(2, &["tenant"], &["acme"]), "healthz", Level::Info),
            (
                site(3, &["error", "tenant"], &["true", "a"]),
                "pay",
                Level::Info,
            ),
            (
                site(4, &["error", "tenant"], &["false", "a"]),
                "pay",
                Level::Info,
            ),
            (site(5, &["tenant"], &["acme"]), "checkout", Level::Error),
            (site(6, &[], &[]), "bare", Level::Info),
            (
                site(7, &["user", "tenant"], &["u1", "t1"]),
                "checkout",
                Level::Info,
            ),
        ];
        let mut settled = vec![];
        for (c, config) in configs.into_iter().enumerate() {
            let by_site = Compiled::new(config.clone());
            let by_tree = Compiled::new(config.clone());
            for (site, name, level) in &sites {
                let mut n_settled = 0;
                let ids: Vec<u128> = ids(u64::from(site.id)).take(2_000).collect();
                assert_eq!(
                    by_site.decide_site_root(site.id, ids[0], site),
                    None,
                    "nothing worked out before the first root"
                );
                for (n, &id) in ids.iter().enumerate() {
                    let tree = by_tree.decide(&root_params(id, name, *level, &NoSite(site)));
                    let full = by_site.decide(&root_params(id, name, *level, site));
                    assert_eq!(full, tree, "{config:?} {name} span {n}");
                    if let Some(d) = by_site.decide_site_root(site.id, id, site) {
                        assert_eq!(d, tree, "{config:?} {name} span {n} by its call site");
                        n_settled += 1;
                    }
                }
                settled.push(((c, site.id), n_settled));
            }
        }
        let settled = |c: usize, id: u32| settled.iter().find(|(k, _)| *k == (c, id)).unwrap().1;
        // Rules settled per call site, a limiter's key, always-kept names,
        // the attribute rule read by field position (call sites 3 and 4),
        // a probability under a ceiling (asked after); any-of is left to
        // the tree.
        for (c, id) in [
            (0, 1),
            (0, 2),
            (0, 3),
            (0, 4),
            (0, 5),
            (0, 6),
            (1, 1),
            (1, 3),
            (2, 1),
            (2, 2),
            (3, 1),
            (4, 7),
            (6, 1),
        ] {
            assert_eq!(settled(c, id), 2_000, "config {c}, call site {id}");
        }
        for (c, id) in [(5, 1), (5, 3)] {
            assert_eq!(settled(c, id), 0, "config {c}, call site {id}");
        }
    }

    /// A limiter's key is the same through a call site and through the
    /// tree (an absent key attribute included): both take from one budget.
    #[test]
    fn a_call_site_and_the_tree_share_a_keys_budget() {
        let c = compiled(Sampler::AlwaysOn.rate_limited(1e-9, 2, ["tenant", "user"]));
        let acme = Site {
            id: 9,
            fields: &["tenant"],
            values: &["acme"],
        };
        let other = Site {
            id: 10,
            fields: &["tenant"],
            values: &["other"],
        };
        let mut ids = ids(5);
        let mut by_tree = |site: &Site<'_>| {
            c.decide(&root_params(
                ids.next().unwrap(),
                "op",
                Level::Info,
                &NoSite(site),
            ))
            .sampled
        };
        assert!(by_tree(&acme));
        let first = c.decide(&root_params(1, "op", Level::Info, &acme));
        assert!(first.sampled, "the second of a burst of 2");
        assert_eq!(c.decide_site_root(acme.id, 2, &acme), Some(Decision::DROP));
        assert!(!by_tree(&acme));
        assert!(by_tree(&other), "another key keeps its own budget");
        assert_eq!(
            c.decide_site_root(other.id, 3, &other),
            None,
            "not worked out yet for this call site"
        );
        assert!(c.decide(&root_params(4, "op", Level::Info, &other)).sampled);
        assert!(!c.decide(&root_params(5, "op", Level::Info, &other)).sampled);
    }

    /// The one-load shortcuts decide exactly as the compiled configuration
    /// does, for every parent kind, with and without a parent `th` and `rv`.
    /// (The only test here that installs a configuration.)
    #[test]
    fn the_shortcuts_agree_with_the_compiled_configuration() {
        let configs = [
            SamplingConfig::default(),
            SamplingConfig::new(Sampler::parent_based(Sampler::AlwaysOff)),
            SamplingConfig::new(Sampler::parent_based(Sampler::probability(0.3))),
            SamplingConfig::new(Sampler::parent_threshold(Sampler::probability(0.7))),
            SamplingConfig::new(Sampler::probability(0.5)),
            SamplingConfig::new(Sampler::AlwaysOn),
            SamplingConfig::new(Sampler::parent_based(Sampler::probability(0.3))).debug(true),
            SamplingConfig::new(Sampler::parent_based(Sampler::AlwaysOff)).always_keep(["op"]),
        ];
        let kinds = [
            ParentKind::Root,
            ParentKind::LocalSampled,
            ParentKind::LocalNotSampled,
            ParentKind::RemoteSampled,
            ParentKind::RemoteNotSampled,
        ];
        let ths = [None, Threshold::parse("8"), Threshold::parse("e666")];
        for cfg in configs {
            update(cfg.clone());
            let c = Compiled::new(cfg.clone());
            for id in ids(9).take(2000) {
                for kind in kinds {
                    for th in ths {
                        for rv in [None, Some(id as u64 >> 8)] {
                            let mut p = params(id, kind, &());
                            p.parent_th = th;
                            p.rv = rv;
                            assert_eq!(decide(&p), c.decide(&p), "{cfg:?} {kind:?} {th:?} {rv:?}");
                        }
                    }
                }
            }
        }
        update(SamplingConfig::default());
    }
}
