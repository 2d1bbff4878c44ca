//! UTC timestamps for run directory names, from the standard library only.
//!
//! A run directory is named after the moment it was created, in a form
//! that sorts by time as plain text (`20261122T134501.123Z`). Pulling in a
//! date crate for one conversion is not worth it: the civil date follows
//! from the day count with Howard Hinnant's `civil_from_days` algorithm.

use std::time::{SystemTime, UNIX_EPOCH};

/// A civil (proleptic Gregorian) date: year, month 1 to 12, day 1 to 31.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CivilDate {
    /// The year, e.g. 2026 (may be zero or negative far before the epoch).
    pub year: i64,
    /// The month, 1 (January) to 12 (December).
    pub month: u32,
    /// The day of the month, 1 to 31.
    pub day: u32,
}

/// The civil date `days` days after 1970-01-01 (negative: before it).
///
/// This is Hinnant's algorithm: shift the epoch to 0000-03-01 so that the
/// leap day falls at the end of the (March-based) year, split into 400-year
/// eras of exactly 146 097 days, and read year, month and day off the day
/// of the era.
pub fn civil_from_days(days: i64) -> CivilDate {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of March-based year, [0, 365]
    let mp = (5 * doy + 2) / 153; // March-based month, [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    // The ranges above are guaranteed by the arithmetic, so these
    // conversions cannot fail; the fallbacks only keep the types honest.
    CivilDate {
        year,
        month: u32::try_from(month).unwrap_or(1),
        day: u32::try_from(day).unwrap_or(1),
    }
}

/// `millis` milliseconds since the Unix epoch (negative: before it) as
/// `YYYYMMDDTHHMMSS.mmmZ` in UTC.
pub fn format_utc_millis(millis: i64) -> String {
    let days = millis.div_euclid(86_400_000);
    let ms_of_day = millis.rem_euclid(86_400_000);
    let date = civil_from_days(days);
    let secs_of_day = ms_of_day / 1_000;
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}.{:03}Z",
        date.year,
        date.month,
        date.day,
        secs_of_day / 3_600,
        secs_of_day / 60 % 60,
        secs_of_day % 60,
        ms_of_day % 1_000
    )
}

/// `time` as `YYYYMMDDTHHMMSS.mmmZ` in UTC (see [`format_utc_millis`]).
pub fn format_utc(time: SystemTime) -> String {
    // A clock set before 1970 is wrong, but naming the run after the wrong
    // time is better than refusing to run the test.
    let millis = match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_millis()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_millis()).unwrap_or(i64::MAX),
    };
    format_utc_millis(millis)
}

/// The current time as `YYYYMMDDTHHMMSS.mmmZ` in UTC.
pub fn now_utc() -> String {
    format_utc(SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn date(year: i64, month: u32, day: u32) -> CivilDate {
        CivilDate { year, month, day }
    }

    #[test]
    fn civil_from_days_known_answers() {
        // Day numbers from `date -u -d DATE +%s` divided by 86400.
        let cases = [
            (0, date(1970, 1, 1)),
            (-1, date(1969, 12, 31)),
            (59, date(1970, 3, 1)),
            (11_016, date(2000, 2, 29)),
            (11_017, date(2000, 3, 1)),
            (20_779, date(2026, 11, 22)),
            (-25_508, date(1900, 3, 1)),
            (157_419, date(2400, 12, 31)),
        ];
        for (days, want) in cases {
            assert_eq!(civil_from_days(days), want, "day {days}");
        }
    }

    #[test]
    fn civil_from_days_walks_day_by_day() {
        // Consecutive days must give consecutive dates across four
        // centuries, which exercises every leap-year rule.
        let mut prev = civil_from_days(-80_000);
        for days in -79_999..80_000 {
            let next = civil_from_days(days);
            let same_month =
                next.year == prev.year && next.month == prev.month && next.day == prev.day + 1;
            let new_month = next.day == 1
                && ((next.year == prev.year && next.month == prev.month + 1)
                    || (next.year == prev.year + 1 && next.month == 1 && prev.month == 12));
            assert!(
                same_month || new_month,
                "{prev:?} -> {next:?} at day {days}"
            );
            prev = next;
        }
    }

    #[test]
    fn formats_utc_timestamps() {
        assert_eq!(format_utc_millis(0), "19700101T000000.000Z");
        // 2026-11-22 13:45:01 UTC is 1795355101 s after the epoch.
        assert_eq!(format_utc_millis(1_795_355_101_123), "20261122T134501.123Z");
        assert_eq!(format_utc_millis(-1), "19691231T235959.999Z");
        let t = UNIX_EPOCH + Duration::from_millis(951_782_400_007);
        assert_eq!(format_utc(t), "20000229T000000.007Z");
    }
}
