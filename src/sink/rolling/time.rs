//! Civil time for rotated file names and rotation boundaries: UTC computed
//! by hand, the local UTC offset from the C library's `localtime_r`.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::encode::json::civil_from_days;

use super::Rotation;

/// Seconds since the Unix epoch, now (0 before 1970).
pub(crate) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
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
    let Some(p) = period_secs(rotation) else {
        return unix;
    };
    let off = i64::from(offset_at(unix, local));
    let local_start = (unix + off).div_euclid(p) * p;
    let guess = local_start - off;
    // A change of offset between the start and now (a daylight saving
    // change inside the day) moves the start by the difference.
    let fixed = local_start - i64::from(offset_at(guess, local));
    if fixed <= unix { fixed } else { guess }
}

/// The first period boundary after `unix` (UTC or local hours and days),
/// `None` when the rotation is not by time.
pub(crate) fn next_boundary(unix: i64, rotation: Rotation, local: bool) -> Option<i64> {
    let p = period_secs(rotation)?;
    let off = i64::from(offset_at(unix, local));
    let local_next = ((unix + off).div_euclid(p) + 1) * p;
    let guess = local_next - off;
    // The offset in force at the boundary may differ from now's (daylight
    // saving): take the boundary's own.
    let off2 = i64::from(offset_at(guess, local));
    let b = local_next - off2;
    Some(if b > unix { b } else { guess.max(unix + 1) })
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
