//! Calendar dates without a time-zone database: the host tells the offset.

/// A civil date.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: i32,
    pub month: u32,
    pub day: u32,
}

impl Date {
    /// The local date at `epoch_seconds`, `utc_offset` seconds east of UTC.
    pub fn from_epoch(epoch_seconds: f64, utc_offset: i32) -> Self {
        let days = ((epoch_seconds as i64 + utc_offset as i64).div_euclid(86_400)) as i32;
        Self::from_days(days)
    }

    /// Days since 1970-01-01 to a date (Howard Hinnant's algorithm).
    pub fn from_days(days: i32) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i32::from(month <= 2);
        Self { year, month, day }
    }

    /// Days since 1970-01-01.
    pub fn to_days(self) -> i32 {
        let year = self.year - i32::from(self.month <= 2);
        let era = year.div_euclid(400);
        let yoe = year.rem_euclid(400);
        let m = self.month as i32;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + self.day as i32 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Parses `yyyy-MM-dd`, checking the calendar.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split('-');
        let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || y.len() != 4 || m.len() != 2 || d.len() != 2 {
            return None;
        }
        let date = Self {
            year: y.parse().ok()?,
            month: m.parse().ok()?,
            day: d.parse().ok()?,
        };
        (Self::from_days(date.to_days()) == date).then_some(date)
    }

    pub fn add_days(self, days: i32) -> Self {
        Self::from_days(self.to_days() + days)
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// `HH:MM` with a valid hour and minute.
pub fn valid_time(text: &str) -> bool {
    let Some((h, m)) = text.split_once(':') else {
        return false;
    };
    h.len() == 2
        && m.len() == 2
        && h.parse::<u32>().is_ok_and(|h| h < 24)
        && m.parse::<u32>().is_ok_and(|m| m < 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_offsets() {
        let d = Date::parse("2026-11-02").unwrap();
        assert_eq!(d.to_string(), "2026-11-02");
        assert_eq!(Date::from_days(d.to_days()), d);
        assert_eq!(
            Date::parse("2024-02-29").unwrap().add_days(1).to_string(),
            "2024-03-01"
        );
        assert!(Date::parse("2026-02-30").is_none());
        assert!(Date::parse("26-11-02").is_none());
        // 2026-11-25T23:30Z is already the 26th in Amsterdam (UTC+1).
        let t = 1_795_649_400.0;
        assert_eq!(Date::from_epoch(t, 0).to_string(), "2026-11-25");
        assert_eq!(Date::from_epoch(t, 3600).to_string(), "2026-11-26");
        assert_eq!(Date::from_epoch(t, -3600).to_string(), "2026-11-25");
    }

    #[test]
    fn times() {
        assert!(valid_time("07:05"));
        assert!(!valid_time("24:00"));
        assert!(!valid_time("7:05"));
    }
}
