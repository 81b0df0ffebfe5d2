//! The user's Google settings as the methods need them: the display units
//! (when no `system` is set) and the time zone, which decides the user's
//! "today", where their days begin and the local times of answers. Read at
//! most once a day (kept in the bookkeeping); without the settings scope
//! the units are metric and the zone is the host's.

use serde_json::{Value, json};

use super::convert::{Units, Zone, parse_duration};
use super::scopes::SCOPE_SETTINGS;
use super::shape::{SETTINGS_FIELDS, Settings};
use super::transport::{Answer, Ctx};
use super::{GoogleHealth, Local, granted};
use crate::json::as_f64;
use crate::provider::RunState;

/// The bookkeeping key of what was read, and how long it is kept.
const KEY: &str = "settings";
pub const KEEP_SECONDS: f64 = 86_400.0;

/// What the methods use of the settings.
#[derive(Debug, Clone, PartialEq)]
struct Remembered {
    units: Units,
    /// The IANA zone, and the offset Google gave with it.
    zone: Option<String>,
    offset: Option<i32>,
}

impl Remembered {
    fn of(settings: &Settings) -> Self {
        Self {
            units: Units::from_settings(settings),
            zone: settings.time_zone.clone().filter(|z| !z.trim().is_empty()),
            offset: settings
                .utc_offset
                .as_deref()
                .and_then(parse_duration)
                .and_then(|s| i32::try_from(s).ok()),
        }
    }

    fn to_json(&self, read_at: f64) -> Value {
        json!({"read_at": read_at, "units": self.units.label(), "zone": self.zone,
               "offset": self.offset})
    }

    /// A record read less than [`KEEP_SECONDS`] before `now`.
    fn from_json(value: &Value, now: f64) -> Option<Self> {
        let read_at = value.get("read_at").and_then(as_f64)?;
        if !(read_at <= now && now - read_at < KEEP_SECONDS) {
            return None;
        }
        Some(Self {
            units: Units::from_label(value.get("units")?.as_str()?)?,
            zone: value
                .get("zone")
                .and_then(Value::as_str)
                .map(str::to_string),
            offset: value
                .get("offset")
                .and_then(Value::as_i64)
                .and_then(|s| i32::try_from(s).ok()),
        })
    }

    fn zone(&self) -> Option<Zone> {
        self.zone
            .as_deref()
            .and_then(Zone::named)
            .or(self.offset.map(Zone::fixed))
    }
}

impl GoogleHealth {
    /// `GET /v4/users/me/settings`, or none when the consent does not
    /// include the settings scope (Google answers 403).
    pub(super) fn settings(&self, cx: &Ctx) -> Answer<Option<Settings>> {
        self.get_if_granted(cx, "settings", "the user's settings", SETTINGS_FIELDS)
    }

    /// The settings the methods use: kept from a read within a day, else
    /// read now; none without the settings scope.
    fn remembered(&self, cx: &Ctx, state: &mut RunState) -> Answer<Option<Remembered>> {
        if !granted(state, SCOPE_SETTINGS) {
            return Ok(None);
        }
        let now = cx.host.now();
        if let Some(kept) = state
            .sync
            .get(KEY)
            .and_then(|v| Remembered::from_json(v, now))
        {
            return Ok(Some(kept));
        }
        // A consent whose settings scope Google no longer honours: metric,
        // the host's zone, as without the scope (kept for the day too).
        let read = self.settings(cx)?.map_or_else(
            || Remembered::of(&Settings::default()),
            |s| Remembered::of(&s),
        );
        state.sync.insert(KEY.into(), read.to_json(now));
        Ok(Some(read))
    }

    /// Learns the user's zone and today for the calls of this run: the
    /// settings' IANA zone, else their offset, else the host's zone.
    pub(super) fn localise(&self, cx: &Ctx, state: &mut RunState) -> Answer<Local> {
        let zone = self
            .remembered(cx, state)?
            .and_then(|r| r.zone())
            .unwrap_or_else(|| Zone::fixed(self.host_offset));
        let local = Local {
            today: zone.date(cx.host.now()),
            zone,
        };
        *self.local.borrow_mut() = local.clone();
        Ok(local)
    }

    /// The units of this run: `system` if set; else the user's Google
    /// settings when that scope was granted; else metric.
    pub(super) fn units(&self, cx: &Ctx, state: &mut RunState) -> Answer<Units> {
        if let Some(system) = cx.system {
            return Ok(Units::from_system(system));
        }
        Ok(self
            .remembered(cx, state)?
            .map_or(Units::METRIC, |r| r.units))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::google::shape::decode;

    #[test]
    fn records_are_kept_a_day() {
        let settings: Settings = decode(&json!({"weightUnit": "WEIGHT_UNIT_STONE",
            "timeZone": "Europe/Amsterdam", "utcOffset": "3600s"}))
        .unwrap();
        let read = Remembered::of(&settings);
        let kept = read.to_json(1000.0);
        assert_eq!(
            Remembered::from_json(&kept, 1000.0 + 3600.0),
            Some(read.clone())
        );
        assert_eq!(Remembered::from_json(&kept, 1000.0 + KEEP_SECONDS), None);
        assert_eq!(Remembered::from_json(&kept, 999.0), None, "from the future");
        assert_eq!(read.zone().unwrap().label(), "Europe/Amsterdam");
        let unknown = Remembered {
            zone: Some("Nowhere/Land".into()),
            ..read
        };
        assert_eq!(unknown.zone().unwrap().label(), "UTC+01:00");
    }
}
