//! The call sites of the HTTP spans: one static call site per method for
//! server spans without a route and for client spans, and one interned call
//! site per `{method} {route}` name (bounded) for server spans with one.
//!
//! A call site's message is the span's name, and a call site lives for the
//! process: a name built per request must not make a call site per request.
//! Methods are a fixed set (OpenTelemetry's known methods, the rest named
//! `HTTP`); routes come from the application's route table, and at most
//! [`MAX_ROUTE_NAMES`] of them are interned. A route beyond that (or longer
//! than [`MAX_ROUTE_LEN`]) names its span `{method}` and is only an attribute.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use http::{Method, Version};

use crate::callsite::Callsite;
use crate::level::Level;

/// Target of the server spans (filter directives: `datapunk_log::tower::server=off`).
pub const SERVER_TARGET: &str = "datapunk_log::tower::server";
/// Target of the client spans.
pub const CLIENT_TARGET: &str = "datapunk_log::tower::client";

/// The most `{method} {route}` span names interned (each is a call site kept
/// for the life of the process).
pub const MAX_ROUTE_NAMES: usize = 1024;
/// The longest route (in bytes) that names a span.
pub const MAX_ROUTE_LEN: usize = 256;

/// Fields of a server span without a route name.
const SERVER_FIELDS: &[&str] = &[
    "http.request.method",
    "url.path",
    "network.protocol.version",
];
/// Fields of a server span named after its route.
const ROUTE_FIELDS: &[&str] = &[
    "http.request.method",
    "url.path",
    "network.protocol.version",
    "http.route",
];
/// Fields of a client span.
const CLIENT_FIELDS: &[&str] = &["http.request.method", "server.address", "server.port"];

/// The span names of the methods: OpenTelemetry's known methods, then `HTTP`
/// for any other (whose `http.request.method` is `_OTHER`).
pub(crate) const METHOD_NAMES: [&str; 10] = [
    "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "HTTP",
];
/// Index of `HTTP` (an unknown method) in [`METHOD_NAMES`].
pub(crate) const OTHER: usize = 9;

/// The index of `m` in [`METHOD_NAMES`].
#[inline]
pub(crate) fn method_index(m: &Method) -> usize {
    match m.as_str() {
        "GET" => 0,
        "HEAD" => 1,
        "POST" => 2,
        "PUT" => 3,
        "DELETE" => 4,
        "CONNECT" => 5,
        "OPTIONS" => 6,
        "TRACE" => 7,
        "PATCH" => 8,
        _ => OTHER,
    }
}

/// `http.request.method` of the method at `index`: its name, `_OTHER` for
/// an unknown one.
#[inline]
pub(crate) fn method_attr(index: usize) -> &'static str {
    if index == OTHER {
        "_OTHER"
    } else {
        METHOD_NAMES[index]
    }
}

/// `network.protocol.version`.
#[inline]
pub(crate) fn version_attr(v: Version) -> &'static str {
    match v {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => "",
    }
}

/// One call site per entry of [`METHOD_NAMES`], named after it.
macro_rules! method_sites {
    ($target:expr, $fields:expr) => {
        method_sites!(@ $target, $fields, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
    };
    (@ $target:expr, $fields:expr, [$($i:literal),*]) => {
        [$(
            Callsite::new(
                Level::Info,
                $target,
                module_path!(),
                file!(),
                line!(),
                METHOD_NAMES[$i],
                $fields,
                false,
            ),
        )*]
    };
}

static SERVER_SITES: [Callsite; 10] = method_sites!(SERVER_TARGET, SERVER_FIELDS);
static CLIENT_SITES: [Callsite; 10] = method_sites!(CLIENT_TARGET, CLIENT_FIELDS);

/// The server call site of the method at `index` (fields [`SERVER_FIELDS`]).
#[inline]
pub(crate) fn server_site(index: usize) -> &'static Callsite {
    &SERVER_SITES[index]
}

/// The client call site of the method at `index` (fields [`CLIENT_FIELDS`]).
#[inline]
pub(crate) fn client_site(index: usize) -> &'static Callsite {
    &CLIENT_SITES[index]
}

/// One interned `{method} {route}` call site (fields [`ROUTE_FIELDS`]).
struct RouteSite {
    method: usize,
    route: &'static str,
    cs: Callsite,
}

/// Interned sites by route, one slot per method.
struct Interned {
    by_route: HashMap<&'static str, [Option<&'static RouteSite>; 10]>,
    count: usize,
}

static ROUTES: Mutex<Option<Interned>> = Mutex::new(None);
static OVERFLOWS: AtomicU64 = AtomicU64::new(0);

const CACHE_SLOTS: usize = 64;

thread_local! {
    /// This thread's recent route sites (direct-mapped by a hash of the
    /// route and method): a request finds its site without the lock.
    static CACHE: [Cell<Option<&'static RouteSite>>; CACHE_SLOTS] =
        const { [const { Cell::new(None) }; CACHE_SLOTS] };
}

/// FNV-1a of the route, mixed with the method: the cache slot.
#[inline]
fn slot(method: usize, route: &str) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ method as u64;
    for &b in route.as_bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h ^ (h >> 29)) as usize % CACHE_SLOTS
}

/// The call site named `{method} {route}`, interned at its first request;
/// `None` when the route is too long or [`MAX_ROUTE_NAMES`] are interned
/// already (counted in [`route_overflows`]).
#[inline]
pub(crate) fn route_site(method: usize, route: &str) -> Option<&'static Callsite> {
    let slot = slot(method, route);
    let cached = CACHE
        .try_with(|c| c[slot].get())
        .ok()
        .flatten()
        .filter(|s| s.method == method && s.route == route);
    if let Some(site) = cached {
        return Some(&site.cs);
    }
    let site = intern(method, route)?;
    let _ = CACHE.try_with(|c| c[slot].set(Some(site)));
    Some(&site.cs)
}

#[cold]
fn intern(method: usize, route: &str) -> Option<&'static RouteSite> {
    if route.len() > MAX_ROUTE_LEN {
        OVERFLOWS.fetch_add(1, Ordering::Relaxed);
        return None;
    }
    let mut g = ROUTES.lock().unwrap_or_else(|e| e.into_inner());
    let interned = g.get_or_insert_with(Interned::new);
    let site = interned.get_or_add(method, route, MAX_ROUTE_NAMES);
    if site.is_none() {
        OVERFLOWS.fetch_add(1, Ordering::Relaxed);
    }
    site
}

impl Interned {
    fn new() -> Interned {
        Interned {
            by_route: HashMap::new(),
            count: 0,
        }
    }

    /// The site of `{method} {route}`, added when fewer than `cap` are held.
    fn get_or_add(&mut self, method: usize, route: &str, cap: usize) -> Option<&'static RouteSite> {
        if let Some(site) = self.by_route.get(route).and_then(|s| s[method]) {
            return Some(site);
        }
        if self.count >= cap {
            return None;
        }
        let name: &'static str =
            Box::leak(format!("{} {route}", METHOD_NAMES[method]).into_boxed_str());
        let route: &'static str = &name[METHOD_NAMES[method].len() + 1..];
        let site: &'static RouteSite = Box::leak(Box::new(RouteSite {
            method,
            route,
            cs: Callsite::new(
                Level::Info,
                SERVER_TARGET,
                module_path!(),
                file!(),
                line!(),
                name,
                ROUTE_FIELDS,
                false,
            ),
        }));
        self.by_route.entry(route).or_insert([None; 10])[method] = Some(site);
        self.count += 1;
        Some(site)
    }
}

/// How many requests named their span `{method}` alone although a route was
/// known, because [`MAX_ROUTE_NAMES`] names were interned already or the
/// route was longer than [`MAX_ROUTE_LEN`] (the route is then still the
/// span's `http.route` attribute).
pub fn route_overflows() -> u64 {
    OVERFLOWS.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_route_is_interned_once_per_method() {
        let a = route_site(0, "/sites-test/{id}").unwrap();
        let b = route_site(0, "/sites-test/{id}").unwrap();
        assert!(std::ptr::eq(a, b));
        assert_eq!(a.metadata().message, "GET /sites-test/{id}");
        assert_eq!(a.metadata().fields, ROUTE_FIELDS);
        let post = route_site(2, "/sites-test/{id}").unwrap();
        assert!(!std::ptr::eq(a, post));
        assert_eq!(post.metadata().message, "POST /sites-test/{id}");
        // Another thread (an empty cache) finds the same site.
        let other = std::thread::spawn(|| {
            route_site(0, "/sites-test/{id}").map(|c| c as *const Callsite as usize)
        })
        .join()
        .unwrap();
        assert_eq!(other, Some(a as *const Callsite as usize));
        assert_eq!(
            route_site(OTHER, "/x").unwrap().metadata().message,
            "HTTP /x"
        );
    }

    #[test]
    fn interning_stops_at_the_cap() {
        let mut t = Interned::new();
        let a = t.get_or_add(0, "/a", 2).unwrap();
        assert!(t.get_or_add(1, "/a", 2).is_some());
        assert!(
            t.get_or_add(0, "/b", 2).is_none(),
            "a third name is refused"
        );
        // Names held already are still found.
        assert!(std::ptr::eq(t.get_or_add(0, "/a", 2).unwrap(), a));
        assert_eq!(t.count, 2);
    }

    #[test]
    fn a_long_route_names_no_span() {
        let before = route_overflows();
        assert!(route_site(0, &"r".repeat(MAX_ROUTE_LEN + 1)).is_none());
        assert!(route_overflows() > before);
    }

    #[test]
    fn methods_map_to_their_names() {
        for (i, name) in METHOD_NAMES.iter().enumerate().take(OTHER) {
            let m = Method::from_bytes(name.as_bytes()).unwrap();
            assert_eq!(method_index(&m), i);
            assert_eq!(method_attr(i), *name);
            assert_eq!(server_site(i).metadata().message, *name);
            assert_eq!(client_site(i).metadata().message, *name);
        }
        let m = Method::from_bytes(b"PURGE").unwrap();
        assert_eq!(method_index(&m), OTHER);
        assert_eq!(method_attr(OTHER), "_OTHER");
        assert_eq!(server_site(OTHER).metadata().message, "HTTP");
    }
}
