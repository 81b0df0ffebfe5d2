//! The user's time zone: the IANA zone of their Google settings (with its
//! daylight-saving rules, from the tz database bundled into the plugin), or
//! a fixed offset (Google's `utcOffset`, or the host's when Google gives
//! none). It says which day "today" is and where the user's days begin.

use jiff::Timestamp;
use jiff::civil::{Date as JiffDate, DateTime};
use jiff::tz::{Offset, TimeZone};

use super::time::Civil;
use crate::dates::Date;

#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    tz: TimeZone,
    /// How the zone was given: an IANA name, or `UTC+01:00`.
    label: String,
}

impl Zone {
    /// The IANA zone `name` (`Europe/Amsterdam`); none if the bundled tz
    /// database does not know it.
    pub fn named(name: &str) -> Option<Self> {
        let tz = TimeZone::get(name.trim()).ok()?;
        Some(Self {
            tz,
            label: name.trim().to_string(),
        })
    }

    /// A fixed offset, `seconds` east of UTC.
    pub fn fixed(seconds: i32) -> Self {
        let offset = Offset::from_seconds(seconds.clamp(-93_599, 93_599)).unwrap_or(Offset::UTC);
        Self {
            tz: TimeZone::fixed(offset),
            label: offset_label(seconds),
        }
    }

    /// `Europe/Amsterdam`, or `UTC+01:00` for a fixed offset.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Seconds east of UTC at `epoch`.
    pub fn offset_at(&self, epoch: f64) -> i32 {
        timestamp(epoch).map_or(0, |t| self.tz.to_offset(t).seconds())
    }

    /// The civil time at `epoch`.
    pub fn civil(&self, epoch: f64) -> Civil {
        Civil::from_epoch(epoch.floor() + f64::from(self.offset_at(epoch.floor())))
    }

    /// The user's date at `epoch`.
    pub fn date(&self, epoch: f64) -> Date {
        self.civil(epoch).date
    }

    /// The instant (epoch seconds) of the civil time `date hh:mm` in the
    /// zone. A time skipped by a daylight-saving change is read as after
    /// it, a repeated one as its first occurrence (RFC 5545's choice).
    pub fn instant(&self, date: Date, hours: u32, minutes: u32) -> i64 {
        let civil = JiffDate::new(date.year as i16, date.month as i8, date.day as i8)
            .map(|d| d.at(hours.min(23) as i8, minutes.min(59) as i8, 0, 0));
        let local = i64::from(date.to_days()) * 86_400 + i64::from(hours * 3600 + minutes * 60);
        match civil {
            Ok(civil) => self.resolve(civil).unwrap_or(local),
            Err(_) => local,
        }
    }

    /// The first instant of `date` in the zone.
    pub fn start_of(&self, date: Date) -> i64 {
        self.instant(date, 0, 0)
    }

    fn resolve(&self, civil: DateTime) -> Option<i64> {
        let timestamp = self.tz.to_ambiguous_timestamp(civil).compatible().ok()?;
        Some(timestamp.as_second())
    }
}

fn timestamp(epoch: f64) -> Option<Timestamp> {
    Timestamp::from_second(epoch.floor() as i64).ok()
}

/// `UTC+01:00`, `UTC-05:00`, `UTC`.
fn offset_label(seconds: i32) -> String {
    if seconds == 0 {
        return "UTC".into();
    }
    let sign = if seconds < 0 { '-' } else { '+' };
    let minutes = seconds.unsigned_abs() / 60;
    format!("UTC{sign}{:02}:{:02}", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::google::convert::parse_rfc3339;

    fn at(text: &str) -> f64 {
        parse_rfc3339(text).unwrap()
    }

    #[test]
    fn amsterdam_days_follow_daylight_saving() {
        let zone = Zone::named("Europe/Amsterdam").unwrap();
        // Summer time until 2026-10-25 01:00 UTC, then UTC+1.
        assert_eq!(zone.offset_at(at("2026-10-24T12:00:00Z")), 7200);
        assert_eq!(zone.offset_at(at("2026-10-25T12:00:00Z")), 3600);
        let day = Date::parse("2026-10-25").unwrap();
        assert_eq!(zone.start_of(day), at("2026-10-24T22:00:00Z") as i64);
        // That day has 25 hours.
        assert_eq!(
            zone.start_of(day.add_days(1)) - zone.start_of(day),
            25 * 3600
        );
        // 02:30 happens twice: the first one is meant.
        assert_eq!(zone.instant(day, 2, 30), at("2026-10-25T00:30:00Z") as i64);
        // Spring: 02:30 on 2026-03-29 does not exist; after the gap.
        let spring = Date::parse("2026-03-29").unwrap();
        assert_eq!(
            zone.instant(spring, 2, 30),
            at("2026-03-29T01:30:00Z") as i64
        );
        assert_eq!(
            zone.start_of(spring.add_days(1)) - zone.start_of(spring),
            23 * 3600
        );
        // 23:30 UTC on the 25th of November is the 26th in Amsterdam.
        assert_eq!(
            zone.date(at("2026-11-25T23:30:00Z")).to_string(),
            "2026-11-26"
        );
        assert_eq!(
            zone.civil(at("2026-07-01T06:00:00Z")).time_text(),
            "08:00:00"
        );
        assert_eq!(zone.label(), "Europe/Amsterdam");
        assert!(Zone::named("Mars/Olympus_Mons").is_none());
    }

    #[test]
    fn fixed_offsets_have_no_rules() {
        let zone = Zone::fixed(-5 * 3600);
        assert_eq!(zone.label(), "UTC-05:00");
        assert_eq!(zone.offset_at(at("2026-07-01T00:00:00Z")), -18_000);
        let day = Date::parse("2026-11-25").unwrap();
        assert_eq!(zone.start_of(day), at("2026-11-25T05:00:00Z") as i64);
        assert_eq!(Zone::fixed(0).label(), "UTC");
        assert_eq!(Zone::fixed(19_800).label(), "UTC+05:30");
    }
}
