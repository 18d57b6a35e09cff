//! Civil time for rotated file names and rotation boundaries: UTC computed
//! by hand, the local UTC offset from the C library's `localtime_r`.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::encode::json::civil_from_days;

use super::Rotation;

/// The time every file sink reads instead of the system's, in Unix
/// seconds, once a test has set it ([`set_file_clock`]); `i64::MIN`: none
/// (the system's clock).
static SET_AT: AtomicI64 = AtomicI64::new(i64::MIN);
/// The first time set and the monotonic instant that stands for it: the
/// deadlines of a set clock are counted from there.
static SET_BASE: OnceLock<(Instant, i64)> = OnceLock::new();

/// Makes every file sink of the process read `unix_secs` (seconds since
/// the Unix epoch) as the time, until the next call: a test hook, so that
/// a test of rotation by time crosses an hour's or a day's boundary, to the
/// second, without waiting for it. Not a stable API.
///
/// Set it before the sinks open (before `init()`): the sinks' wall clock
/// (rotated names' stamps, period starts and boundaries) and the clock
/// their deadlines are on both read the time set, so the first batch after
/// a call that sets a time at or past the next boundary rotates, as it
/// would had the time passed, and no batch before it does. Nothing else
/// reads it: line timestamps, and retention by age (which compares files'
/// modification times with the system's clock), keep the real time.
/// Records logged after the call on the thread that made it are written
/// with the time set (the ring carries the ordering to the writer).
#[doc(hidden)]
pub fn set_file_clock(unix_secs: i64) {
    SET_BASE.get_or_init(|| (Instant::now(), unix_secs));
    SET_AT.store(unix_secs, Ordering::Release);
}

/// The time set by a test, if any (one load).
fn set_at() -> Option<i64> {
    match SET_AT.load(Ordering::Acquire) {
        i64::MIN => None,
        t => Some(t),
    }
}

/// Seconds since the Unix epoch, now (0 before 1970), on the file sinks'
/// clock (the system's, unless a test set it: [`set_file_clock`]).
pub(crate) fn unix_now() -> i64 {
    set_at().unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64)
    })
}

/// The monotonic clock the file sinks' deadlines are on: `Instant::now()`,
/// unless a test set the time ([`set_file_clock`]), which then maps to an
/// instant as many seconds from the first time set as it is.
pub(crate) fn mono_now() -> Instant {
    let (Some(t), Some(&(base, base_t))) = (set_at(), SET_BASE.get()) else {
        return Instant::now();
    };
    let d = Duration::from_secs(t.abs_diff(base_t));
    let at = if t >= base_t {
        base.checked_add(d)
    } else {
        base.checked_sub(d)
    };
    at.unwrap_or(base)
}

/// A broken-down time: year, month, day, hour, minute, second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Civil {
    pub y: u32,
    pub mo: u32,
    pub d: u32,
    pub h: u32,
    pub mi: u32,
    pub s: u32,
}

/// The civil time of `secs` seconds since 1970-01-01T00:00:00 (of whatever
/// zone `secs` was shifted to); times before 1970 are taken as 1970.
pub(crate) fn civil(secs: i64) -> Civil {
    let secs = secs.max(0);
    let days = (secs / 86_400).min(u32::MAX as i64 - 719_468) as u32;
    let rem = (secs % 86_400) as u32;
    let (y, mo, d) = civil_from_days(days);
    Civil {
        y,
        mo,
        d,
        h: rem / 3600,
        mi: rem / 60 % 60,
        s: rem % 60,
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's
/// `days_from_civil`), any proleptic Gregorian date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let mp = i64::from((m + 9) % 12); // March = 0
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// Seconds east of UTC in force at `unix` in the process's local time zone
/// (`TZ`, else the system's), 0 where it cannot be told.
#[cfg(unix)]
pub(crate) fn local_offset(unix: i64) -> i32 {
    let t = unix as libc::time_t;
    // SAFETY: an all-zero `tm` is a valid value of this plain C struct (its
    // one pointer field, `tm_zone` where present, may be null).
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: `localtime_r` is the reentrant form: it reads `t` and writes
    // only into `tm`, both valid for the call. It reads the environment
    // (`TZ`) on its first use; this crate never changes the environment.
    let r = unsafe { libc::localtime_r(&t, &mut tm) };
    if r.is_null() {
        return 0;
    }
    // Bounded to a day either way: anything else is garbage.
    let off = tm.tm_gmtoff;
    if off.unsigned_abs() < 86_400 {
        off as i32
    } else {
        0
    }
}

/// Without `localtime_r`, local time is UTC.
#[cfg(not(unix))]
pub(crate) fn local_offset(_unix: i64) -> i32 {
    0
}

/// The offset names and boundaries use at `unix`.
pub(crate) fn offset_at(unix: i64, local: bool) -> i32 {
    if local { local_offset(unix) } else { 0 }
}

fn period_secs(rotation: Rotation) -> Option<i64> {
    match rotation {
        Rotation::Never => None,
        Rotation::Hourly => Some(3600),
        Rotation::Daily => Some(86_400),
    }
}

/// The start of the period holding `unix` (UTC or local hours and days),
/// or `unix` itself when the rotation is not by time.
pub(crate) fn period_start(unix: i64, rotation: Rotation, local: bool) -> i64 {
    period_start_in(unix, rotation, &|t| offset_at(t, local))
}

/// The first period boundary after `unix` (UTC or local hours and days),
/// `None` when the rotation is not by time.
pub(crate) fn next_boundary(unix: i64, rotation: Rotation, local: bool) -> Option<i64> {
    next_boundary_in(unix, rotation, &|t| offset_at(t, local))
}

/// Whether `t` is the start of a period in the zone `off`: its local time
/// is a whole hour or day.
fn on_boundary(t: i64, p: i64, off: &dyn Fn(i64) -> i32) -> bool {
    (t + i64::from(off(t))).rem_euclid(p) == 0
}

/// [`period_start`] in the zone whose UTC offset at `t` is `off(t)`.
///
/// The local start is turned into UTC with the offset in force now and
/// with the offset in force then (they differ across a daylight saving
/// change); of those that are a local boundary, the latest not after
/// `unix`.
fn period_start_in(unix: i64, rotation: Rotation, off: &dyn Fn(i64) -> i32) -> i64 {
    let Some(p) = period_secs(rotation) else {
        return unix;
    };
    let local_start = (unix + i64::from(off(unix))).div_euclid(p) * p;
    let s1 = local_start - i64::from(off(unix));
    let s2 = local_start - i64::from(off(s1));
    [s1, s2]
        .into_iter()
        .filter(|&s| s <= unix && on_boundary(s, p, off))
        .max()
        .unwrap_or(s1.min(unix))
}

/// [`next_boundary`] in the zone whose UTC offset at `t` is `off(t)`.
///
/// As [`period_start_in`]: of the candidates that are a local boundary,
/// the earliest after `unix`; where the local boundary does not exist (the
/// clock jumps over it), the first instant after the jump.
fn next_boundary_in(unix: i64, rotation: Rotation, off: &dyn Fn(i64) -> i32) -> Option<i64> {
    let p = period_secs(rotation)?;
    let local_next = ((unix + i64::from(off(unix))).div_euclid(p) + 1) * p;
    let c1 = local_next - i64::from(off(unix));
    let c2 = local_next - i64::from(off(c1));
    let valid = [c1, c2]
        .into_iter()
        .filter(|&c| c > unix && on_boundary(c, p, off))
        .min();
    Some(valid.unwrap_or(c1.max(unix + 1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_from_civil_inverts_civil_from_days() {
        for days in (0..200_000u32).step_by(37) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(i64::from(y), m, d), i64::from(days));
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
    }

    #[test]
    fn utc_boundaries() {
        // 2026-12-03T13:27:05Z
        let t = days_from_civil(2026, 12, 3) * 86_400 + 13 * 3600 + 27 * 60 + 5;
        let h13 = t - 27 * 60 - 5;
        assert_eq!(period_start(t, Rotation::Hourly, false), h13);
        assert_eq!(next_boundary(t, Rotation::Hourly, false), Some(h13 + 3600));
        let day = days_from_civil(2026, 12, 3) * 86_400;
        assert_eq!(period_start(t, Rotation::Daily, false), day);
        assert_eq!(next_boundary(t, Rotation::Daily, false), Some(day + 86_400));
        assert_eq!(next_boundary(t, Rotation::Never, false), None);
        assert_eq!(period_start(t, Rotation::Never, false), t);
        // On a boundary: the period starts there, the next is one later.
        assert_eq!(period_start(h13, Rotation::Hourly, false), h13);
        assert_eq!(
            next_boundary(h13, Rotation::Hourly, false),
            Some(h13 + 3600)
        );
    }

    #[test]
    fn local_boundaries_are_local_hours() {
        let t = unix_now();
        let b = next_boundary(t, Rotation::Hourly, true).unwrap();
        assert!(b > t && b <= t + 3600 + 3600);
        let off = i64::from(local_offset(b));
        assert_eq!((b + off).rem_euclid(3600), 0);
        let s = period_start(t, Rotation::Daily, true);
        assert!(s <= t);
        assert_eq!((s + i64::from(local_offset(s))).rem_euclid(86_400), 0);
    }

    /// Central European time: +1 h, +2 h from 2026-03-29T01:00Z to
    /// 2026-10-25T01:00Z.
    fn cet(t: i64) -> i32 {
        let spring = days_from_civil(2026, 3, 29) * 86_400 + 3600;
        let autumn = days_from_civil(2026, 10, 25) * 86_400 + 3600;
        if (spring..autumn).contains(&t) {
            7200
        } else {
            3600
        }
    }

    fn utc(y: i64, mo: u32, d: u32, h: i64, mi: i64) -> i64 {
        days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60
    }

    #[test]
    fn boundaries_across_daylight_saving_changes() {
        let (h, d) = (Rotation::Hourly, Rotation::Daily);
        // The day before spring: local midnight is 23:00Z.
        let t = utc(2026, 3, 28, 12, 0);
        assert_eq!(next_boundary_in(t, d, &cet), Some(utc(2026, 3, 28, 23, 0)));
        assert_eq!(period_start_in(t, d, &cet), utc(2026, 3, 27, 23, 0));
        // The spring day: midnight was at +1, the next one is at +2.
        let t = utc(2026, 3, 29, 12, 0);
        assert_eq!(period_start_in(t, d, &cet), utc(2026, 3, 28, 23, 0));
        assert_eq!(next_boundary_in(t, d, &cet), Some(utc(2026, 3, 29, 22, 0)));
        // 01:30 local (+1): the clock jumps from 02:00 to 03:00, at 01:00Z.
        let t = utc(2026, 3, 29, 0, 30);
        assert_eq!(next_boundary_in(t, h, &cet), Some(utc(2026, 3, 29, 1, 0)));
        assert_eq!(period_start_in(t, h, &cet), utc(2026, 3, 29, 0, 0));
        // Autumn: 02:30 local (+2); 02:00 comes again (+1) at 01:00Z, an
        // hour later: every real hour stays a period.
        let t = utc(2026, 10, 25, 0, 30);
        assert_eq!(next_boundary_in(t, h, &cet), Some(utc(2026, 10, 25, 1, 0)));
        assert_eq!(period_start_in(t, h, &cet), utc(2026, 10, 25, 0, 0));
        let t = utc(2026, 10, 25, 1, 30);
        assert_eq!(period_start_in(t, h, &cet), utc(2026, 10, 25, 1, 0));
        assert_eq!(next_boundary_in(t, h, &cet), Some(utc(2026, 10, 25, 2, 0)));
        // The autumn day is 25 hours long.
        let t = utc(2026, 10, 25, 12, 0);
        assert_eq!(period_start_in(t, d, &cet), utc(2026, 10, 24, 22, 0));
        assert_eq!(next_boundary_in(t, d, &cet), Some(utc(2026, 10, 25, 23, 0)));
    }

    /// Zones that change at local midnight: the day starts at the first
    /// instant after a jump over midnight, and at the midnight that exists
    /// after a step back to 23:00.
    #[test]
    fn midnight_changes() {
        let midnight = days_from_civil(2026, 4, 1) * 86_400; // Apr 1, 00:00Z
        // +0 until midnight, then +1: local 00:00 never happens on Apr 1.
        let fwd = |t: i64| if t < midnight { 0 } else { 3600 };
        let t = midnight - 600;
        assert_eq!(next_boundary_in(t, Rotation::Daily, &fwd), Some(midnight));
        // +1 until local midnight (23:00Z), then +0: the clock goes back to
        // 23:00, and midnight comes an hour later, at 00:00Z.
        let change = midnight - 3600;
        let back = |t: i64| if t < change { 3600 } else { 0 };
        let t = change - 1800;
        assert_eq!(next_boundary_in(t, Rotation::Daily, &back), Some(midnight));
        assert_eq!(
            period_start_in(midnight + 60, Rotation::Daily, &back),
            midnight
        );
    }

    #[test]
    fn civil_splits_the_day() {
        let t = days_from_civil(2026, 12, 3) * 86_400 + 13 * 3600 + 2 * 60 + 9;
        assert_eq!(
            civil(t),
            Civil {
                y: 2026,
                mo: 12,
                d: 3,
                h: 13,
                mi: 2,
                s: 9
            }
        );
    }
}
