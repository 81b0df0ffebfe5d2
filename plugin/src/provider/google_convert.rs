//! Google Health API v4 data → the legacy Fitbit shapes Igor's readers know.
//!
//! Google values are SI (grams, millimetres) with int64 fields as JSON
//! strings, times as RFC 3339 and civil times as objects; the legacy API
//! answered in the unit system of `Accept-Language`, with civil
//! `yyyy-MM-dd` / `HH:MM:SS` texts. Everything here is pure.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::dates::Date;
use crate::json::as_f64;

pub const LB_PER_KG: f64 = 2.204_622_62;
pub const KG_PER_STONE: f64 = 6.350_293_18;
pub const KM_PER_MILE: f64 = 1.609_344;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightUnit {
    Kilogram,
    Pound,
    Stone,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DistanceUnit {
    Kilometre,
    Mile,
}

/// The units results are given in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Units {
    pub weight: WeightUnit,
    pub distance: DistanceUnit,
}

impl Units {
    pub const METRIC: Units = Units {
        weight: WeightUnit::Kilogram,
        distance: DistanceUnit::Kilometre,
    };

    /// The legacy `system` setting: `en_US` pounds and miles, `en_GB` stone
    /// and kilometres, anything else metric (as the Fitbit API did).
    pub fn from_system(system: &str) -> Self {
        match system.trim() {
            "en_US" => Units {
                weight: WeightUnit::Pound,
                distance: DistanceUnit::Mile,
            },
            "en_GB" => Units {
                weight: WeightUnit::Stone,
                distance: DistanceUnit::Kilometre,
            },
            _ => Self::METRIC,
        }
    }

    /// The user's display units from `GET /v4/users/me/settings`
    /// (`weightUnit` `WEIGHT_UNIT_POUNDS|STONE|KILOGRAMS`, `distanceUnit`
    /// `DISTANCE_UNIT_MILES|KILOMETERS`).
    pub fn from_settings(settings: &Value) -> Self {
        let text = |k: &str| {
            settings
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_ascii_uppercase()
        };
        let weight = text("weightUnit");
        let distance = text("distanceUnit");
        Units {
            weight: if weight.contains("POUND") {
                WeightUnit::Pound
            } else if weight.contains("STONE") {
                WeightUnit::Stone
            } else {
                WeightUnit::Kilogram
            },
            distance: if distance.contains("MILE") {
                DistanceUnit::Mile
            } else {
                DistanceUnit::Kilometre
            },
        }
    }

    /// For the bookkeeping: `kg/km`, `lb/mi`, `st/km`...
    pub fn label(self) -> String {
        let w = match self.weight {
            WeightUnit::Kilogram => "kg",
            WeightUnit::Pound => "lb",
            WeightUnit::Stone => "st",
        };
        let d = match self.distance {
            DistanceUnit::Kilometre => "km",
            DistanceUnit::Mile => "mi",
        };
        format!("{w}/{d}")
    }

    pub fn from_label(label: &str) -> Option<Self> {
        let (w, d) = label.split_once('/')?;
        Some(Units {
            weight: match w {
                "kg" => WeightUnit::Kilogram,
                "lb" => WeightUnit::Pound,
                "st" => WeightUnit::Stone,
                _ => return None,
            },
            distance: match d {
                "km" => DistanceUnit::Kilometre,
                "mi" => DistanceUnit::Mile,
                _ => return None,
            },
        })
    }

    /// Grams in the weight unit, rounded to 2 decimals.
    pub fn weight(self, grams: f64) -> f64 {
        let kg = grams / 1000.0;
        round2(match self.weight {
            WeightUnit::Kilogram => kg,
            WeightUnit::Pound => kg * LB_PER_KG,
            WeightUnit::Stone => kg / KG_PER_STONE,
        })
    }

    /// Millimetres in the distance unit, rounded to 2 decimals.
    pub fn distance(self, millimeters: f64) -> f64 {
        let km = millimeters / 1_000_000.0;
        round2(match self.distance {
            DistanceUnit::Kilometre => km,
            DistanceUnit::Mile => km / KM_PER_MILE,
        })
    }
}

pub fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// A number as the legacy series' `value` text: at most 2 decimals, no
/// trailing zeros (`"81.2"`, `"8012"`).
pub fn num_string(v: f64) -> String {
    let s = format!("{:.2}", round2(v));
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.to_string() }
}

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

/// The UTC bounds of the local days `start..=end` for a host `offset`
/// seconds east of UTC: `[start 00:00 local, (end + 1) 00:00 local)`.
pub fn utc_bounds(start: Date, end: Date, offset: i32) -> (String, String) {
    let at = |d: Date| format_rfc3339(i64::from(d.to_days()) * 86_400 - i64::from(offset));
    (at(start), at(end.add_days(1)))
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

    fn from_epoch(epoch: f64) -> Self {
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

/// A `{year, month, day}` object.
pub fn date_of(value: &Value) -> Option<Date> {
    let n = |k: &str| value.get(k).and_then(as_f64);
    let date = Date {
        year: n("year")? as i32,
        month: n("month")? as u32,
        day: n("day")? as u32,
    };
    Date::parse(&date.to_string())
}

/// A date as `{year, month, day}`.
pub fn date_json(date: Date) -> Value {
    json!({"year": date.year, "month": date.month, "day": date.day})
}

/// A `CivilDateTime` object `{date:{..}, time:{hours?, minutes?, seconds?}}`
/// (proto3 JSON omits zero fields).
pub fn civil_of(value: &Value) -> Option<Civil> {
    let date = date_of(value.get("date")?)?;
    let time = value.get("time");
    let n = |k: &str| {
        time.and_then(|t| t.get(k))
            .and_then(as_f64)
            .map_or(0, |v| v as u32)
    };
    Some(Civil {
        date,
        hours: n("hours"),
        minutes: n("minutes"),
        seconds: n("seconds"),
    })
}

/// The civil time of a physical time: from the given civil object, else
/// from the physical time plus the given offset (`"3600s"`), else plus the
/// host's offset.
pub fn civil_at(
    civil: Option<&Value>,
    physical: Option<&str>,
    utc_offset: Option<&str>,
    host_offset: i32,
) -> Option<Civil> {
    if let Some(civil) = civil.and_then(civil_of) {
        return Some(civil);
    }
    let epoch = parse_rfc3339(physical?)?;
    let offset = utc_offset
        .and_then(parse_duration)
        .unwrap_or(i64::from(host_offset));
    Some(Civil::from_epoch(epoch + offset as f64))
}

/// A number for the legacy `logId`: the data point id (last segment of
/// `name`) when numeric, else a stable 53-bit hash of the name (so it
/// survives JavaScript and Igor's XML round trips).
pub fn log_id(name: &str) -> u64 {
    let id = name.rsplit('/').next().unwrap_or(name);
    if !id.is_empty()
        && id.len() <= 15
        && id.chars().all(|c| c.is_ascii_digit())
        && let Ok(n) = id.parse::<u64>()
    {
        return n;
    }
    let digest = Sha256::digest(name.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes) & ((1 << 53) - 1)
}

/// The legacy `source`: the device's display name, else `API`.
pub fn source_name(point: &Value) -> String {
    point
        .pointer("/dataSource/device/displayName")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .unwrap_or("API")
        .to_string()
}

/// One sample (weight, body fat, height) of a list answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// `sampleTime.physicalTime` as sent (for the next incremental filter).
    pub physical: String,
    pub epoch: f64,
    pub civil: Civil,
    pub log_id: u64,
    pub source: String,
    /// The union field's payload (`weight`, `bodyFat`, `height`).
    pub payload: Value,
}

/// A data point with a `sampleTime` under its union field `field`.
pub fn sample(point: &Value, field: &str, host_offset: i32) -> Option<Sample> {
    let payload = point.get(field)?;
    let time = payload.get("sampleTime")?;
    let physical = time.get("physicalTime").and_then(Value::as_str)?;
    let epoch = parse_rfc3339(physical)?;
    let civil = civil_at(
        time.get("civilTime"),
        Some(physical),
        time.get("utcOffset").and_then(Value::as_str),
        host_offset,
    )?;
    let name = point.get("name").and_then(Value::as_str).unwrap_or("");
    let log_id = if name.is_empty() {
        log_id(&format!("{field}@{physical}"))
    } else {
        log_id(name)
    };
    Some(Sample {
        physical: physical.to_string(),
        epoch,
        civil,
        log_id,
        source: source_name(point),
        payload: payload.clone(),
    })
}

/// A legacy weight log entry; `height_m` gives a BMI.
pub fn weight_entry(sample: &Sample, units: Units, height_m: Option<f64>) -> Option<Value> {
    let grams = sample.payload.get("weightGrams").and_then(as_f64)?;
    let mut entry = Map::new();
    if let Some(h) = height_m.filter(|h| *h > 0.0) {
        entry.insert("bmi".into(), json!(round2(grams / 1000.0 / (h * h))));
    }
    entry.insert("date".into(), json!(sample.civil.date.to_string()));
    entry.insert("logId".into(), json!(sample.log_id));
    entry.insert("source".into(), json!(sample.source));
    entry.insert("time".into(), json!(sample.civil.time_text()));
    entry.insert("weight".into(), json!(units.weight(grams)));
    Some(Value::Object(entry))
}

/// A legacy body-fat log entry.
pub fn fat_entry(sample: &Sample) -> Option<Value> {
    let percentage = sample.payload.get("percentage").and_then(as_f64)?;
    Some(json!({
        "date": sample.civil.date.to_string(),
        "fat": round2(percentage),
        "logId": sample.log_id,
        "source": sample.source,
        "time": sample.civil.time_text(),
    }))
}

/// Height in metres of a `height` sample (`heightMillimeters` is an int64
/// string).
pub fn height_m(sample: &Sample) -> Option<f64> {
    let mm = sample.payload.get("heightMillimeters").and_then(as_f64)?;
    (mm > 0.0).then_some(mm / 1000.0)
}

fn log_key(entry: &Value) -> Option<u64> {
    let id = entry.get("logId")?;
    id.as_u64().or_else(|| as_f64(id).map(|f| f as u64))
}

/// Merges log entries, later ones replacing earlier ones with the same
/// `logId`, sorted oldest first by date, time and logId (the legacy order).
pub fn merge_logs(older: Vec<Value>, newer: Vec<Value>) -> Vec<Value> {
    let mut by_id: Vec<Value> = Vec::new();
    for entry in older.into_iter().chain(newer) {
        let id = log_key(&entry);
        if id.is_some()
            && let Some(slot) = by_id.iter_mut().find(|e| log_key(e) == id)
        {
            *slot = entry;
            continue;
        }
        by_id.push(entry);
    }
    let text = |e: &Value, k: &str| e.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    by_id.sort_by(|a, b| {
        (text(a, "date"), text(a, "time"), log_key(a)).cmp(&(
            text(b, "date"),
            text(b, "time"),
            log_key(b),
        ))
    });
    by_id
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

/// An int64 field (a JSON string, or a number) as an integer.
pub fn int64(value: Option<&Value>) -> Option<i64> {
    let value = value?;
    match value {
        Value::String(s) => s.trim().parse().ok(),
        other => as_f64(other).map(|f| f.round() as i64),
    }
}

/// A legacy sleep log entry of a `sleep` data point; `efficiency` is not
/// available from Google Health.
pub fn sleep_entry(point: &Value, host_offset: i32) -> Option<Value> {
    let sleep = point.get("sleep")?;
    let interval = sleep.get("interval")?;
    let start_text = interval.get("startTime").and_then(Value::as_str)?;
    let end_text = interval.get("endTime").and_then(Value::as_str)?;
    let (start, end) = (parse_rfc3339(start_text)?, parse_rfc3339(end_text)?);
    let offset_of = |k: &str| interval.get(k).and_then(Value::as_str);
    let civil_start = civil_at(
        interval.get("civilStartTime"),
        Some(start_text),
        offset_of("startUtcOffset"),
        host_offset,
    )?;
    let civil_end = civil_at(
        interval.get("civilEndTime"),
        Some(end_text),
        offset_of("endUtcOffset"),
        host_offset,
    )?;
    let summary = sleep.get("summary");
    let minutes = |k: &str| int64(summary.and_then(|s| s.get(k)));
    let period = ((end - start) / 60.0).round() as i64;
    let asleep = minutes("minutesAsleep").unwrap_or(period);
    let awake = minutes("minutesAwake").unwrap_or(period - asleep);
    let name = point.get("name").and_then(Value::as_str).unwrap_or("");
    let main = sleep
        .pointer("/metadata/mainSleep")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let kind = sleep
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or("STAGES")
        .to_ascii_lowercase();
    Some(json!({
        "dateOfSleep": civil_end.date.to_string(),
        "duration": ((end - start) * 1000.0).round() as i64,
        "endTime": civil_end.legacy_timestamp(),
        "isMainSleep": main,
        "logId": log_id(if name.is_empty() { start_text } else { name }),
        "minutesAfterWakeup": minutes("minutesAfterWakeUp").unwrap_or(0),
        "minutesAsleep": asleep,
        "minutesAwake": awake,
        "minutesToFallAsleep": minutes("minutesToFallAsleep").unwrap_or(0),
        "startTime": civil_start.legacy_timestamp(),
        "timeInBed": minutes("minutesInSleepPeriod").unwrap_or(period),
        "type": kind,
    }))
}

/// The legacy sleep answer: sessions oldest first plus the totals.
pub fn sleep_answer(mut entries: Vec<Value>) -> Map<String, Value> {
    let text = |e: &Value| {
        e.get("startTime")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    entries.sort_by_key(text);
    let sum = |k: &str| {
        entries
            .iter()
            .filter_map(|e| e.get(k).and_then(Value::as_i64))
            .sum::<i64>()
    };
    let summary = json!({
        "totalMinutesAsleep": sum("minutesAsleep"),
        "totalSleepRecords": entries.len(),
        "totalTimeInBed": sum("timeInBed"),
    });
    let mut answer = Map::new();
    answer.insert("sleep".into(), Value::Array(entries));
    answer.insert("summary".into(), summary);
    answer
}

/// `{dateTime, value: {restingHeartRate}}` of a `daily-resting-heart-rate`
/// data point.
pub fn resting_heart_entry(point: &Value) -> Option<(Date, Value)> {
    let payload = point.get("dailyRestingHeartRate")?;
    let date = date_of(payload.get("date")?)?;
    let bpm = int64(payload.get("beatsPerMinute"))?;
    Some((
        date,
        json!({"dateTime": date.to_string(), "value": {"restingHeartRate": bpm}}),
    ))
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
        let d = Date::parse("2026-11-25").unwrap();
        assert_eq!(
            utc_bounds(d, d, 3600),
            (
                "2026-11-24T23:00:00Z".to_string(),
                "2026-11-25T23:00:00Z".to_string()
            )
        );
    }

    #[test]
    fn civil_from_object_or_offset() {
        let c =
            civil_of(&json!({"date": {"year": 2026, "month": 11, "day": 20}, "time": {}})).unwrap();
        assert_eq!(c.time_text(), "00:00:00");
        let c = civil_at(None, Some("2026-11-20T23:30:00Z"), Some("3600s"), 0).unwrap();
        assert_eq!(
            (c.date.to_string(), c.time_text()),
            ("2026-11-21".into(), "00:30:00".into())
        );
    }

    #[test]
    fn units_convert_grams() {
        let g = 81_234.5;
        assert_eq!(Units::METRIC.weight(g), 81.23);
        assert_eq!(Units::from_system("en_US").weight(g), 179.09);
        assert_eq!(Units::from_system("en_GB").weight(g), 12.79);
        assert_eq!(Units::from_system("de_DE"), Units::METRIC);
        assert_eq!(Units::from_system("en_US").distance(8_046_720.0), 5.0);
        let pounds = Units::from_settings(
            &json!({"weightUnit": "WEIGHT_UNIT_POUNDS", "distanceUnit": "DISTANCE_UNIT_MILES"}),
        );
        assert_eq!(pounds, Units::from_system("en_US"));
        assert_eq!(Units::from_label(&pounds.label()), Some(pounds));
        assert_eq!(num_string(81.2), "81.2");
        assert_eq!(num_string(8012.0), "8012");
    }

    #[test]
    fn log_ids_are_numbers() {
        assert_eq!(log_id("users/1/dataTypes/weight/dataPoints/12345"), 12345);
        let hashed = log_id("users/1/dataTypes/weight/dataPoints/abc-DEF");
        assert_eq!(
            hashed,
            log_id("users/1/dataTypes/weight/dataPoints/abc-DEF")
        );
        assert!(hashed < 1 << 53);
        assert_ne!(
            hashed,
            log_id("users/1/dataTypes/weight/dataPoints/abc-DEG")
        );
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

    #[test]
    fn merging_dedupes_and_sorts() {
        let e = |id: u64, date: &str, w: f64| json!({"logId": id, "date": date, "time": "07:00:00", "weight": w});
        let merged = merge_logs(
            vec![e(2, "2026-11-21", 80.0), e(1, "2026-11-20", 81.0)],
            vec![e(2, "2026-11-21", 79.5), e(3, "2026-11-22", 79.0)],
        );
        let ids: Vec<_> = merged
            .iter()
            .map(|e| e["logId"].as_u64().unwrap())
            .collect();
        assert_eq!(ids, vec![1, 2, 3]);
        assert_eq!(merged[1]["weight"], 79.5);
    }
}
