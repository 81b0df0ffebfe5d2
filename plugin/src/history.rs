//! What the plugin remembers about a user's runs, for the setup page and
//! the owner's notices: the last success, the last error, when the
//! provider ended the user's access, and a bounded history of weight and
//! body fat (the last [`HISTORY_DAYS`] days, one value per day, in kg and
//! %) taken from the results of every successful run.
//!
//! Kept at `identities/U/plugindata/N/history` (see [`Paths::history`]).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::dates::Date;
use crate::json::{as_f64, as_list, as_text, into_object};
use crate::paths::Paths;
use crate::provider::AppSettings;
use crate::provider::google::convert::{KG_PER_STONE, LB_PER_KG, Units, WeightUnit};
use igor_plugin_sdk::{Durability, Host, Level};

/// The units a user's results are in: the installation's `system` when
/// set; else, with Google Health, the user's own display units as the last
/// run read them (kept in the sync bookkeeping); else metric.
pub fn units_of(app: &AppSettings, provider: &str, sync: &Map<String, Value>) -> Units {
    if let Some(system) = &app.system {
        return Units::from_system(system);
    }
    // The user's Google settings as the provider last read them.
    let own = sync
        .get("settings")
        .and_then(|u| u.get("units"))
        .and_then(Value::as_str)
        .and_then(Units::from_label);
    match own {
        Some(units) if provider == "google-health" => units,
        _ => Units::METRIC,
    }
}

/// Days of weight and body fat kept (and charted).
pub const HISTORY_DAYS: i32 = 90;

/// A failed run: when, its status and its message (which says what to do).
#[derive(Debug, Clone, PartialEq)]
pub struct RunError {
    pub at: f64,
    pub status: u16,
    pub message: String,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    pub last_success: Option<f64>,
    pub last_error: Option<RunError>,
    /// When the provider refused the refresh token, and the grant time of
    /// the token it refused (a later authorisation makes this stale).
    pub access_ended: Option<(f64, Option<f64>)>,
    /// Kilograms per day.
    pub weight: BTreeMap<Date, f64>,
    /// Body fat percentage per day.
    pub fat: BTreeMap<Date, f64>,
}

fn series(value: Option<&Value>, field: &str) -> BTreeMap<Date, f64> {
    value
        .map(as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(|entry| {
            let date = entry.get("date").and_then(as_text)?;
            Some((Date::parse(&date)?, entry.get(field).and_then(as_f64)?))
        })
        .collect()
}

fn series_json(values: &BTreeMap<Date, f64>, field: &str) -> Value {
    Value::Array(
        values
            .iter()
            .map(|(date, v)| json!({"date": date.to_string(), field: v}))
            .collect(),
    )
}

impl History {
    pub fn load(host: &dyn Host, paths: &Paths, user: &str) -> Self {
        let document = host
            .store_get(&paths.history(user))
            .ok()
            .flatten()
            .map(|(value, _)| into_object(value))
            .unwrap_or_default();
        Self::from_json(&document)
    }

    pub fn from_json(document: &Map<String, Value>) -> Self {
        let number = |v: Option<&Value>| v.and_then(as_f64);
        let last_error = document.get("last_error").and_then(|e| {
            Some(RunError {
                at: number(e.get("at"))?,
                status: number(e.get("status")).unwrap_or(0.0) as u16,
                message: e.get("message").and_then(as_text).unwrap_or_default(),
            })
        });
        let access_ended = document
            .get("access_ended")
            .and_then(|e| Some((number(e.get("at"))?, number(e.get("granted_at")))));
        Self {
            last_success: number(document.get("last_success")),
            last_error,
            access_ended,
            weight: series(document.get("weight"), "kg"),
            fat: series(document.get("fat"), "percent"),
        }
    }

    pub fn to_json(&self) -> Value {
        let mut document = Map::new();
        if let Some(at) = self.last_success {
            document.insert("last_success".into(), json!(at));
        }
        if let Some(e) = &self.last_error {
            document.insert(
                "last_error".into(),
                json!({"at": e.at, "status": e.status, "message": e.message}),
            );
        }
        if let Some((at, granted_at)) = self.access_ended {
            let mut ended = json!({ "at": at });
            if let Some(g) = granted_at {
                ended["granted_at"] = json!(g);
            }
            document.insert("access_ended".into(), ended);
        }
        if !self.weight.is_empty() {
            document.insert("weight".into(), series_json(&self.weight, "kg"));
        }
        if !self.fat.is_empty() {
            document.insert("fat".into(), series_json(&self.fat, "percent"));
        }
        Value::Object(document)
    }

    /// Saves the history; a failure only costs the page some detail, so it
    /// is logged, never answered.
    pub fn save(&self, host: &dyn Host, paths: &Paths, user: &str) {
        let (path, history) = (paths.history(user), self.to_json());
        if let Err(err) = host.store_write(&path, &history, None, Durability::Refetchable) {
            host.log(Level::Warn, &format!("history of {user} not saved: {err}"));
        }
    }

    /// A successful run at `now` whose merged `results` are in `units`.
    pub fn record_success(
        &mut self,
        results: &Map<String, Value>,
        units: Units,
        today: Date,
        now: f64,
    ) {
        self.last_success = Some(now);
        self.last_error = None;
        self.access_ended = None;
        let to_kg = |value: f64| match units.weight {
            WeightUnit::Kilogram => value,
            WeightUnit::Pound => value / LB_PER_KG,
            WeightUnit::Stone => value * KG_PER_STONE,
        };
        // Logs (`weight`, `fat`; oldest first, so the day's last measurement
        // wins) and daily series (`{dateTime, value}`, values as text).
        for (key, date_field, value_field, is_weight) in [
            ("weight", "date", "weight", true),
            ("fat", "date", "fat", false),
            ("body-weight", "dateTime", "value", true),
            ("body-fat", "dateTime", "value", false),
        ] {
            for entry in results.get(key).map(as_list).unwrap_or_default() {
                let date = entry.get(date_field).and_then(as_text);
                let date = date.as_deref().and_then(Date::parse);
                let value = entry.get(value_field).and_then(as_f64);
                if let (Some(date), Some(value)) = (date, value) {
                    if is_weight {
                        self.weight.insert(date, to_kg(value));
                    } else {
                        self.fat.insert(date, value);
                    }
                }
            }
        }
        let oldest = today.add_days(1 - HISTORY_DAYS);
        self.weight
            .retain(|date, _| *date >= oldest && *date <= today);
        self.fat.retain(|date, _| *date >= oldest && *date <= today);
    }

    /// A failed run at `now`.
    pub fn record_failure(&mut self, status: u16, message: &str, now: f64) {
        self.last_error = Some(RunError {
            at: now,
            status,
            message: message.trim().to_string(),
        });
    }
}

/// The newest value of each list in `sensors/N/U`, in words, e.g.
/// `weight 79.9 kg (2026-11-25 07:00:00)`.
pub fn latest_values(sensors: &Map<String, Value>, units: Units) -> Vec<String> {
    let unit = units.weight.label();
    sensors
        .iter()
        .filter_map(|(key, value)| {
            let list = as_list(value);
            let last = list.last()?;
            let text = |k: &str| last.get(k).and_then(as_text).unwrap_or_default();
            let when = [text("date"), text("time"), text("dateTime")]
                .into_iter()
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let (name, value, suffix) = match key.as_str() {
                "weight" => ("weight", text("weight"), unit),
                "body-weight" => ("weight", text("value"), unit),
                "fat" => ("body fat", text("fat"), "%"),
                "body-fat" => ("body fat", text("value"), "%"),
                other if !text("value").is_empty() => (other, text("value"), ""),
                other => return Some(format!("{other}: {} entries", list.len())),
            };
            let value = format!("{value} {suffix}");
            Some(format!("{name} {} ({when})", value.trim()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::parse("2026-11-25").unwrap()
    }

    #[test]
    fn latest_values_are_told_in_words() {
        let sensors = json!({
            "weight": [{"date": "2026-11-24", "time": "07:00:00", "weight": 80.0},
                       {"date": "2026-11-25", "time": "07:10:00", "weight": 79.9}],
            "activities-steps": [{"dateTime": "2026-11-25", "value": "8042"}],
            "sleep": [{"a": 1}, {"b": 2}],
        });
        assert_eq!(
            latest_values(sensors.as_object().unwrap(), Units::METRIC),
            vec![
                "activities-steps 8042 (2026-11-25)",
                "sleep: 2 entries",
                "weight 79.9 kg (2026-11-25 07:10:00)",
            ]
        );
    }

    #[test]
    fn keeps_one_value_per_day_for_ninety_days_in_kilograms() {
        let mut history = History::default();
        let results = json!({
            "weight": [
                {"date": "2026-11-24", "time": "07:00:00", "weight": 176.0},
                {"date": "2026-11-24", "time": "21:00:00", "weight": 178.0},
                {"date": "2026-08-01", "time": "07:00:00", "weight": 180.0},
            ],
            "fat": {"date": "2026-11-24", "time": "07:00:00", "fat": 21.5},
        });
        let pounds = Units::from_system("en_US");
        history.record_success(results.as_object().unwrap(), pounds, today(), 10.0);
        let day = Date::parse("2026-11-24").unwrap();
        assert_eq!(history.weight.len(), 1, "older than 90 days is dropped");
        assert!((history.weight[&day] - 178.0 / LB_PER_KG).abs() < 1e-9);
        assert_eq!(history.fat[&day], 21.5);

        let series = json!({"body-weight": [{"dateTime": "2026-11-25", "value": "12.5"}]});
        let stone = Units::from_system("en_GB");
        history.record_success(series.as_object().unwrap(), stone, today(), 20.0);
        let kg = history.weight[&today()];
        assert!((kg - 12.5 * KG_PER_STONE).abs() < 1e-9);
        assert_eq!(history.last_success, Some(20.0));

        // Round trip through the stored shape, Igor's conversions included.
        history.record_failure(502, " Google Health error: x ", 30.0);
        history.access_ended = Some((30.0, Some(1.0)));
        let stored = history.to_json();
        assert_eq!(History::from_json(stored.as_object().unwrap()), history);
        let mut igorish = stored.as_object().unwrap().clone();
        igorish.insert(
            "fat".into(),
            json!({"date": "2026-11-24", "percent": "21.5"}),
        );
        assert_eq!(History::from_json(&igorish).fat, history.fat);
        assert_eq!(
            history.last_error.as_ref().unwrap().message,
            "Google Health error: x"
        );

        history.record_success(&Map::new(), Units::METRIC, today(), 40.0);
        assert!(history.last_error.is_none() && history.access_ended.is_none());
    }
}
