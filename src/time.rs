//! RFC 3339 timestamps: parsing to an instant, formatting "now", and a sort
//! key that orders by instant whatever form the string was written in.
//!
//! The orchestrator writes timestamps in several RFC 3339 forms
//! (`...123456789+00:00` from Rust, `...123Z` from browsers, other offsets).
//! Comparing them as strings mis-orders them, so every comparison here goes
//! through [`Instant`].

/// A point in time: whole seconds since the Unix epoch (UTC) and the
/// nanoseconds past them. (Two fields rather than one `i128`, whose
/// arithmetic and formatting would add kilobytes to the wasm module.)
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Instant {
    secs: i64,
    nanos: u32,
}

const NANOS_PER_MILLI: u32 = 1_000_000;

impl Instant {
    /// Parses an RFC 3339 `date-time` (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`).
    ///
    /// `t`/`z` in lower case and a space instead of `T` are accepted, as RFC 3339
    /// allows. A leap second (`:60`) is accepted and counted as the next second.
    pub(crate) fn parse(text: &str) -> Option<Instant> {
        let b = text.as_bytes();
        // The form checked once, byte by byte; the fields are then read
        // without checks.
        if !has_form(b, b"0000-00-00T00:00:00") {
            return None;
        }
        let year = value(b, 0, 4);
        let month = value(b, 5, 2);
        let day = value(b, 8, 2);
        let hour = value(b, 11, 2);
        let minute = value(b, 14, 2);
        let second = value(b, 17, 2);
        if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        if hour > 23 || minute > 59 || second > 60 {
            return None;
        }
        let mut pos = 19;
        let mut nanos: u32 = 0;
        if b.get(pos) == Some(&b'.') {
            pos += 1;
            let start = pos;
            while let Some(&c) = b.get(pos).filter(|c| c.is_ascii_digit()) {
                if pos - start < 9 {
                    nanos = nanos * 10 + u32::from(c - b'0');
                }
                pos += 1;
            }
            let count = pos - start;
            if count == 0 {
                return None;
            }
            for _ in count..9 {
                nanos *= 10;
            }
        }
        let rest = b.get(pos..).unwrap_or_default();
        let offset_seconds: i64 = match rest {
            [b'Z' | b'z'] => 0,
            [sign, ..] if rest.len() == 6 && has_form(rest, b"+00:00") => {
                let oh = value(rest, 1, 2);
                let om = value(rest, 4, 2);
                if oh > 23 || om > 59 {
                    return None;
                }
                let total = (oh * 3600 + om * 60) as i64;
                if *sign == b'-' {
                    -total
                } else {
                    total
                }
            }
            _ => return None,
        };
        let days = days_from_civil(year as i64, month, day);
        let local =
            days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second);
        let utc = local - offset_seconds;
        Some(Instant { secs: utc, nanos })
    }

    /// The current time, from the browser clock on wasm32 and the system clock
    /// elsewhere.
    pub(crate) fn now() -> Instant {
        #[cfg(target_arch = "wasm32")]
        {
            let millis = js_sys::Date::now() as i64;
            Instant {
                secs: millis.div_euclid(1000),
                nanos: millis.rem_euclid(1000) as u32 * NANOS_PER_MILLI,
            }
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let since = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            Instant {
                secs: since.as_secs() as i64,
                nanos: since.subsec_nanos(),
            }
        }
    }

    /// Formats as `YYYY-MM-DDTHH:MM:SS.mmmZ`, the form
    /// `Date.prototype.toISOString()` writes (sub-millisecond digits are cut).
    pub(crate) fn to_rfc3339_millis(self) -> String {
        let millis = self.nanos / NANOS_PER_MILLI;
        let days = self.secs.div_euclid(86_400);
        let of_day = self.secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        format!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
            of_day / 3600,
            of_day / 60 % 60,
            of_day % 60
        )
    }

    /// A fixed-width string whose byte order is the order of the instants, for
    /// IndexedDB indexes (which compare strings, and cannot hold an i128).
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    pub(crate) fn sort_key(self) -> String {
        // RFC 3339 years are 0000..=9999, so the instant lies within ±3e11 s
        // of the epoch; shifting by 1e12 s keeps it positive and 13 digits wide.
        format!("{:013}{:09}", self.secs + 1_000_000_000_000, self.nanos)
    }

    /// The earliest whole millisecond that is strictly later than `self` and
    /// not earlier than now (truncated to the millisecond).
    pub(crate) fn next_after(self) -> Instant {
        let floor = |t: Instant| Instant {
            secs: t.secs,
            nanos: t.nanos - t.nanos % NANOS_PER_MILLI,
        };
        let mut next = floor(self);
        next.nanos += NANOS_PER_MILLI;
        if next.nanos >= 1_000_000_000 {
            next.secs += 1;
            next.nanos -= 1_000_000_000;
        }
        floor(Instant::now()).max(next)
    }
}

/// The RFC 3339 timestamp for now.
pub(crate) fn now_rfc3339() -> String {
    Instant::now().to_rfc3339_millis()
}

/// A timestamp strictly later than `previous` (when it parses) and no earlier
/// than now, so `updated_at` always moves forward even within one millisecond.
pub(crate) fn timestamp_after(previous: &str) -> String {
    match Instant::parse(previous) {
        Some(prev) => prev.next_after().to_rfc3339_millis(),
        None => now_rfc3339(),
    }
}

/// Whether `b` starts with `form`: a `0` of it stands for an ASCII digit, a
/// `T` for `T`, `t` or a space, a `+` for `+` or `-`; any other byte for
/// itself.
fn has_form(b: &[u8], form: &[u8]) -> bool {
    if b.len() < form.len() {
        return false;
    }
    let mut i = 0;
    while i < form.len() {
        let (c, f) = (b[i], form[i]);
        let fits = match f {
            b'0' => c.is_ascii_digit(),
            b'T' => matches!(c, b'T' | b't' | b' '),
            b'+' => matches!(c, b'+' | b'-'),
            _ => c == f,
        };
        if !fits {
            return false;
        }
        i += 1;
    }
    true
}

/// The number written in `b[start..start + len]`, digits checked already.
fn value(b: &[u8], start: usize, len: usize) -> u32 {
    let mut value = 0;
    for &c in &b[start..start + len] {
        value = value * 10 + u32::from(c - b'0');
    }
    value
}

/// The days of `month` (1..=12) of `year`.
fn days_in_month(year: u32, month: u32) -> u32 {
    // Bit `m` set: month `m` has 31 days.
    const LONG: u32 = 0b1_0101_1010_1010;
    if month == 2 {
        28 + u32::from((year % 4 == 0 && year % 100 != 0) || year % 400 == 0)
    } else {
        30 + (LONG >> month & 1)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Instant {
        Instant::parse(text).unwrap_or_else(|| panic!("{text} should parse"))
    }

    #[test]
    fn forms_of_the_same_instant_are_equal() {
        let z = at("2026-01-01T00:00:00.123Z");
        assert_eq!(z, at("2026-01-01T00:00:00.123000000+00:00"));
        assert_eq!(z, at("2026-01-01T02:00:00.123+02:00"));
        assert_eq!(z, at("2025-12-31T19:30:00.123-04:30"));
        assert_eq!(at("2026-01-01T00:00:00Z"), at("2026-01-01t00:00:00.000z"));
    }

    #[test]
    fn orders_by_instant_not_text() {
        // As strings "+05:00" sorts after "Z", but it is five hours earlier.
        assert!(at("2026-01-01T03:00:00+05:00") < at("2026-01-01T00:00:00Z"));
        assert!(at("2026-01-01T00:00:00.5Z") > at("2026-01-01T00:00:00.123456789+00:00"));
        let a = at("2026-01-01T03:00:00+05:00").sort_key();
        let b = at("2026-01-01T00:00:00Z").sort_key();
        assert!(a < b, "{a} !< {b}");
        assert!(at("1969-12-31T23:59:59Z").sort_key() < at("1970-01-01T00:00:00Z").sort_key());
    }

    #[test]
    fn rejects_what_is_not_rfc3339() {
        for bad in [
            "",
            "yesterday",
            "2026-01-01",
            "2026-01-01T00:00:00",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00+0100",
            "2026-01-01T00:00:00Z junk",
            "２026-01-01T00:00:00Z",
        ] {
            assert_eq!(Instant::parse(bad), None, "{bad:?} should be rejected");
        }
        assert!(Instant::parse("2024-02-29T00:00:00Z").is_some());
    }

    #[test]
    fn formats_like_to_iso_string_and_round_trips() {
        let text = "2026-03-04T05:06:07.089Z";
        assert_eq!(at(text).to_rfc3339_millis(), text);
        assert_eq!(
            at("1969-12-31T23:59:59.999Z").to_rfc3339_millis(),
            "1969-12-31T23:59:59.999Z"
        );
        let epoch = Instant { secs: 0, nanos: 0 };
        assert_eq!(epoch.to_rfc3339_millis(), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn timestamp_after_is_strictly_later() {
        let far_future = "9000-01-01T00:00:00.123456789+00:00";
        let end_of_second = "9000-01-01T00:00:00.999999999Z";
        assert_eq!(timestamp_after(end_of_second), "9000-01-01T00:00:01.000Z");
        let next = timestamp_after(far_future);
        assert!(at(&next) > at(far_future), "{next}");
        let now = now_rfc3339();
        assert!(at(&timestamp_after(&now)) > at(&now));
    }
}
