//! A time of day in a time zone (`07:00 Europe/Paris`): when an expectation is due each
//! day, as the wall-clock time of that zone on that day, DST included.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// A wall-clock time of a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    pub at: NaiveTime,
    pub tz: Tz,
}

/// What is wrong with a time or a zone, said with the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("`{0}` is not a time: write it HH:MM on 24 hours, e.g. `07:30` or `18:00`.")]
    Time(String),
    #[error("`{0}` is not a time zone I know: write an IANA name, e.g. `Europe/Paris`, `America/New_York` or `UTC`.")]
    Zone(String),
}

impl Schedule {
    /// `HH:MM` (24 hours) and an IANA zone name (default UTC).
    pub fn parse(time: &str, zone: Option<&str>) -> Result<Schedule, ScheduleError> {
        let shown = || time.chars().take(40).collect::<String>();
        let (h, m) = time.split_once(':').ok_or_else(|| ScheduleError::Time(shown()))?;
        let two_digits = |s: &str| (1..=2).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit());
        if !two_digits(h) || m.len() != 2 || !two_digits(m) {
            return Err(ScheduleError::Time(shown()));
        }
        let at =
            NaiveTime::from_hms_opt(h.parse().unwrap_or(99), m.parse().unwrap_or(99), 0).ok_or_else(|| ScheduleError::Time(shown()))?;
        let tz = match zone {
            None => Tz::UTC,
            Some(name) => name.parse::<Tz>().map_err(|_| ScheduleError::Zone(name.chars().take(60).collect()))?,
        };
        Ok(Schedule { at, tz })
    }

    /// From the store: minutes after midnight and a zone name.
    pub fn stored(at_minute: i32, tz: &str) -> Option<Schedule> {
        let minute = u32::try_from(at_minute).ok()?;
        Some(Schedule { at: NaiveTime::from_hms_opt(minute / 60, minute % 60, 0)?, tz: tz.parse().ok()? })
    }

    pub fn minute(&self) -> i32 {
        (self.at.hour() * 60 + self.at.minute()) as i32
    }

    /// The day it is in the zone at `now`.
    pub fn day_of(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.tz).date_naive()
    }

    /// When it is due on `day`: that day's wall-clock time in the zone. A time the clocks
    /// skip (spring forward) is read with the offset before the change, i.e. as late by
    /// the change; a time they pass twice (fall back) is its first passing.
    pub fn due(&self, day: NaiveDate) -> DateTime<Utc> {
        local(self.tz, day, self.at)
    }

    /// When `day` begins in the zone.
    pub fn day_start(&self, day: NaiveDate) -> DateTime<Utc> {
        local(self.tz, day, NaiveTime::MIN)
    }

    /// The day whose once-a-day post is owed at `now`, if any: today's once its time has
    /// passed; else yesterday's, when its time passed less than [`CATCH_UP`] ago and
    /// neither it nor today's was posted (its time fell just before midnight, or while
    /// the bot was down). A day whose time came before the post was set (`set_at`) is not
    /// owed, nor is any while the last post (`last_posted`) is less than [`POST_GAP`] old:
    /// a time or a zone changed does not bring two posts within hours.
    pub fn owed(
        &self,
        now: DateTime<Utc>,
        set_at: DateTime<Utc>,
        posted: impl Fn(NaiveDate) -> bool,
        last_posted: Option<DateTime<Utc>>,
    ) -> Option<NaiveDate> {
        if last_posted.is_some_and(|last| now - last < POST_GAP) {
            return None;
        }
        let today = self.day_of(now);
        let owed = |day: NaiveDate| self.due(day) <= now && set_at <= self.due(day) && !posted(day);
        if owed(today) {
            return Some(today);
        }
        let yesterday = today.pred_opt()?;
        (owed(yesterday) && !posted(today) && now - self.due(yesterday) < CATCH_UP).then_some(yesterday)
    }
}

/// How long after its time a day's post missed is still made (then the next day's covers it).
pub const CATCH_UP: Duration = Duration::hours(12);
/// The least time between two posts of a once-a-day schedule.
pub const POST_GAP: Duration = Duration::hours(6);

fn local(tz: Tz, day: NaiveDate, at: NaiveTime) -> DateTime<Utc> {
    let wall = day.and_time(at);
    match tz.from_local_datetime(&wall).earliest() {
        Some(t) => t.with_timezone(&Utc),
        None => {
            // In a gap: the offset in force just before it.
            let before = tz.offset_from_utc_datetime(&(wall - Duration::hours(24))).fix();
            Utc.from_utc_datetime(&(wall - Duration::seconds(i64::from(before.local_minus_utc()))))
        }
    }
}

impl std::fmt::Display for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.at.format("%H:%M"), self.tz.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn times_and_zones_are_read_strictly() {
        assert_eq!(Schedule::parse("07:30", None).unwrap().to_string(), "07:30 UTC");
        assert_eq!(Schedule::parse("7:05", Some("Europe/Paris")).unwrap().to_string(), "07:05 Europe/Paris");
        for bad in ["25:00", "7am", "07:60", "07", "07:5", ":30", "-1:00", "07:30:00", "٠٧:٣٠"] {
            assert!(matches!(Schedule::parse(bad, None), Err(ScheduleError::Time(_))), "{bad}");
        }
        let err = Schedule::parse("07:00", Some("Europe/Pariss")).unwrap_err();
        assert!(err.to_string().contains("Europe/Paris"), "{err}");
        assert_eq!(Schedule::stored(7 * 60 + 30, "Europe/Paris"), Some(Schedule::parse("07:30", Some("Europe/Paris")).unwrap()));
    }

    #[test]
    fn the_time_is_the_wall_clock_time_of_the_zone_that_day_across_dst() {
        let paris = Schedule::parse("07:00", Some("Europe/Paris")).unwrap();
        // Winter UTC+1, summer UTC+2; the clocks change on 2026-03-29 and 2026-10-25.
        assert_eq!(paris.due(day("2026-03-28")).to_rfc3339(), "2026-03-28T06:00:00+00:00");
        assert_eq!(paris.due(day("2026-03-29")).to_rfc3339(), "2026-03-29T05:00:00+00:00");
        assert_eq!(paris.due(day("2026-10-25")).to_rfc3339(), "2026-10-25T06:00:00+00:00");
        // 02:30 does not exist on 2026-03-29 in Paris: read as 03:30 summer time.
        let skipped = Schedule::parse("02:30", Some("Europe/Paris")).unwrap();
        assert_eq!(skipped.due(day("2026-03-29")).to_rfc3339(), "2026-03-29T01:30:00+00:00");
        // 02:30 happens twice on 2026-10-25: the first.
        assert_eq!(skipped.due(day("2026-10-25")).to_rfc3339(), "2026-10-25T00:30:00+00:00");
        assert_eq!(paris.day_start(day("2026-12-06")).to_rfc3339(), "2026-12-05T23:00:00+00:00");
        // East of UTC+6 too: 02:30 does not exist in Sydney on 2026-10-04 (UTC+10 to +11).
        let sydney = Schedule::parse("02:30", Some("Australia/Sydney")).unwrap();
        assert_eq!(sydney.due(day("2026-10-04")).to_rfc3339(), "2026-10-03T16:30:00+00:00", "03:30 summer time");
        assert_eq!(paris.day_of("2026-12-05T23:30:00Z".parse().unwrap()), day("2026-12-06"));
    }

    #[test]
    fn the_day_owed_is_todays_after_its_time_else_a_missed_yesterday_within_half_a_day() {
        let late = Schedule::parse("23:55", None).unwrap();
        let at = |s: &str| -> DateTime<Utc> { s.parse().unwrap() };
        let set = at("2026-12-01T00:00:00Z");
        let none = |_: NaiveDate| false;
        assert_eq!(late.owed(at("2026-12-06T23:50:00Z"), set, none, None), None, "yesterday's is a day old: today's covers it");
        assert_eq!(late.owed(at("2026-12-06T23:50:00Z"), set, |d| d == day("2026-12-05"), None), None, "before today's time");
        assert_eq!(late.owed(at("2026-12-06T23:56:00Z"), set, |d| d == day("2026-12-05"), None), Some(day("2026-12-06")));
        // Its time fell just before midnight and no pass came until after it: still owed.
        assert_eq!(late.owed(at("2026-12-07T00:03:00Z"), set, |d| d < day("2026-12-06"), None), Some(day("2026-12-06")));
        // Down for more than half a day after it: the next day's covers it.
        let morning = Schedule::parse("09:00", None).unwrap();
        assert_eq!(morning.owed(at("2026-12-07T08:00:00Z"), set, |d| d < day("2026-12-06"), None), None);
        assert_eq!(morning.owed(at("2026-12-07T09:00:00Z"), set, |d| d < day("2026-12-06"), None), Some(day("2026-12-07")));
        // Set after today's time: tomorrow's is the first.
        assert_eq!(morning.owed(at("2026-12-07T10:00:00Z"), at("2026-12-07T09:30:00Z"), none, None), None);
        // Posted three hours ago under another time: not again today.
        let posted = Some(at("2026-12-07T07:00:00Z"));
        assert_eq!(morning.owed(at("2026-12-07T10:00:00Z"), set, none, posted), None);
        assert_eq!(morning.owed(at("2026-12-07T13:00:00Z"), set, none, posted), Some(day("2026-12-07")));
    }
}
