//! Instants, durations, civil times and the legacy windows of days.

use serde_json::{Value, json};

use super::super::shape::{CivilDateTime, ShapeError};
use super::zone::Zone;
use crate::dates::Date;

/// Seconds since the epoch of an RFC 3339 time (`2026-11-20T07:12:33Z`,
/// `...33.250Z`, `...33+01:00`).
pub fn parse_rfc3339(text: &str) -> Option<f64> {
    let text = text.trim();
    if text.len() < 20 || !text.is_char_boundary(10) || !text.is_char_boundary(19) {
        return None;
    }
    let date = Date::parse(&text[..10])?;
    let sep = text.as_bytes()[10];
    if sep != b'T' && sep != b't' && sep != b' ' {
        return None;
    }
    let clock = &text[11..19];
    let part = |i: usize| clock.get(i..i + 2)?.parse::<u32>().ok();
    let (h, m, s) = (part(0)?, part(3)?, part(6)?);
    if &clock[2..3] != ":" || &clock[5..6] != ":" || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let mut rest = &text[19..];
    let mut fraction = 0.0;
    if let Some(after) = rest.strip_prefix('.') {
        let digits = after.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        fraction = format!("0.{}", &after[..digits]).parse().ok()?;
        rest = &after[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.chars().next()? {
                '+' => 1,
                '-' => -1,
                _ => return None,
            };
            let (oh, om) = rest[1..].split_once(':')?;
            sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60)
        }
    };
    let seconds =
        i64::from(date.to_days()) * 86_400 + i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s)
            - offset;
    Some(seconds as f64 + fraction)
}

/// RFC 3339 UTC text of whole epoch seconds: `2026-11-20T07:12:33Z`.
pub fn format_rfc3339(epoch_seconds: i64) -> String {
    let days = epoch_seconds.div_euclid(86_400);
    let secs = epoch_seconds.rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        Date::from_days(days as i32),
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// A `google.protobuf.Duration` (`"3600s"`, `"-18000s"`) in whole seconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let number: f64 = text.trim().strip_suffix('s')?.parse().ok()?;
    Some(number as i64)
}

/// A civil date-time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Civil {
    pub date: Date,
    pub hours: u32,
    pub minutes: u32,
    pub seconds: u32,
}

impl Civil {
    /// `HH:MM:SS`.
    pub fn time_text(self) -> String {
        format!("{:02}:{:02}:{:02}", self.hours, self.minutes, self.seconds)
    }

    /// The legacy sleep format `yyyy-MM-ddTHH:MM:SS.000`.
    pub fn legacy_timestamp(self) -> String {
        format!("{}T{}.000", self.date, self.time_text())
    }

    /// The civil time of local epoch seconds (UTC plus the offset).
    pub fn from_epoch(epoch: f64) -> Self {
        let whole = epoch.floor() as i64;
        let secs = whole.rem_euclid(86_400);
        Civil {
            date: Date::from_days(whole.div_euclid(86_400) as i32),
            hours: (secs / 3600) as u32,
            minutes: (secs % 3600 / 60) as u32,
            seconds: (secs % 60) as u32,
        }
    }
}

/// A date as `{year, month, day}`.
pub fn date_json(date: Date) -> Value {
    json!({"year": date.year, "month": date.month, "day": date.day})
}

/// Seconds since the epoch of an RFC 3339 time in an answer.
pub fn instant(text: &str) -> Result<f64, ShapeError> {
    parse_rfc3339(text).ok_or_else(|| ShapeError::new(format!("{text:?} is not an RFC 3339 time")))
}

/// A `CivilDateTime` (proto3 JSON omits zero fields, so midnight is
/// `"time": {}`).
pub fn civil_of(civil: &CivilDateTime) -> Result<Civil, ShapeError> {
    let t = civil.time;
    if t.hours > 23 || t.minutes > 59 || t.seconds > 60 {
        return Err(ShapeError::new(format!("{t:?} is not a time of day")));
    }
    Ok(Civil {
        date: civil.date.date()?,
        hours: t.hours,
        minutes: t.minutes,
        seconds: t.seconds,
    })
}

/// The civil time of a physical time: the given civil time, else the
/// physical time plus its own offset (`"3600s"`), else in the user's zone.
pub fn civil_at(
    civil: Option<&CivilDateTime>,
    physical: &str,
    utc_offset: Option<&str>,
    zone: &Zone,
) -> Result<Civil, ShapeError> {
    if let Some(civil) = civil {
        return civil_of(civil);
    }
    let epoch = instant(physical)?;
    Ok(match utc_offset.and_then(parse_duration) {
        Some(offset) => Civil::from_epoch(epoch + offset as f64),
        None => zone.civil(epoch),
    })
}

/// `date - months + 1 day`, the day clamped to the shorter month (the
/// legacy `1m`/`3m`/`6m`/`1y` windows).
pub fn months_back(date: Date, months: u32) -> Date {
    let total = date.year * 12 + date.month as i32 - 1 - months as i32;
    let (year, month) = (total.div_euclid(12), total.rem_euclid(12) as u32 + 1);
    let mut day = date.day;
    while Date::parse(&format!("{year:04}-{month:02}-{day:02}")).is_none() && day > 28 {
        day -= 1;
    }
    Date { year, month, day }.add_days(1)
}

/// The first day of a legacy `period` ending on `end` (inclusive); `max`
/// reaches back `max_days`.
pub fn period_start(end: Date, period: &str, max_days: i32) -> Date {
    match period {
        "1d" => end,
        "7d" | "1w" => end.add_days(-6),
        "30d" => end.add_days(-29),
        "1m" => months_back(end, 1),
        "3m" => months_back(end, 3),
        "6m" => months_back(end, 6),
        "1y" => months_back(end, 12),
        _ => end.add_days(-(max_days - 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        let t = parse_rfc3339("2026-11-20T07:12:33Z").unwrap();
        assert_eq!(format_rfc3339(t as i64), "2026-11-20T07:12:33Z");
        assert_eq!(
            parse_rfc3339("2026-11-20T08:12:33.5+01:00").unwrap(),
            t + 0.5
        );
        assert!(parse_rfc3339("2026-11-20 07:12").is_none());
        assert_eq!(parse_duration("-18000s"), Some(-18000));
    }

    #[test]
    fn civil_from_object_or_offset() {
        let midnight: CivilDateTime = crate::provider::google::shape::decode(
            &json!({"date": {"year": 2026, "month": 11, "day": 20}, "time": {}}),
        )
        .unwrap();
        assert_eq!(civil_of(&midnight).unwrap().time_text(), "00:00:00");
        let utc = Zone::fixed(0);
        let c = civil_at(None, "2026-11-20T23:30:00Z", Some("3600s"), &utc).unwrap();
        assert_eq!(
            (c.date.to_string(), c.time_text()),
            ("2026-11-21".into(), "00:30:00".into())
        );
        // Without an offset of its own, the user's zone decides.
        let amsterdam = Zone::named("Europe/Amsterdam").unwrap();
        let c = civil_at(None, "2026-07-20T23:30:00Z", None, &amsterdam).unwrap();
        assert_eq!(c.time_text(), "01:30:00");
        assert!(civil_at(None, "yesterday", None, &utc).is_err());
    }

    #[test]
    fn periods_follow_the_legacy_windows() {
        let d = Date::parse("2026-03-31").unwrap();
        assert_eq!(period_start(d, "1m", 1095).to_string(), "2026-03-01");
        assert_eq!(period_start(d, "7d", 1095).to_string(), "2026-03-25");
        assert_eq!(period_start(d, "1y", 1095).to_string(), "2025-04-01");
        assert_eq!(period_start(d, "max", 1095), d.add_days(-1094));
        let d = Date::parse("2026-05-31").unwrap();
        // 2026-04-30 + 1 day, as the legacy API (chrono clamps too).
        assert_eq!(months_back(d, 1).to_string(), "2026-05-01");
    }
}
