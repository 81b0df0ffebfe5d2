//! Legacy log entries (weight, body fat, sleep, resting heart rate) from
//! Google data points, and merging them with stored logs.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::super::shape::{
    DailyRestingHeartRate, DataPoint, DataSource, Measured, ShapeError, Sleep,
};
use super::time::{Civil, civil_at, instant};
use super::units::{Units, round2};
use super::zone::Zone;
use crate::dates::Date;
use crate::json::as_f64;

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
pub fn source_name(source: Option<&DataSource>) -> String {
    source
        .and_then(|s| s.device.as_ref())
        .and_then(|d| d.display_name.as_deref())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .unwrap_or("API")
        .to_string()
}

/// One sample (weight, body fat, height, heart rate) of a list answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// `sampleTime.physicalTime` as sent (for the next incremental filter).
    pub physical: String,
    pub epoch: f64,
    pub civil: Civil,
    pub log_id: u64,
    pub source: String,
}

/// The sample of a data point whose data-type field `field` (`weight`,
/// `bodyFat`, ...) holds `measured`.
pub fn sample(
    point: &DataPoint,
    measured: &Measured,
    field: &str,
    zone: &Zone,
) -> Result<Sample, ShapeError> {
    let time = &measured.sample_time;
    let physical = time.physical_time.as_str();
    let epoch = instant(physical)?;
    let civil = civil_at(
        time.civil_time.as_ref(),
        physical,
        time.utc_offset.as_deref(),
        zone,
    )?;
    let log_id = if point.name.is_empty() {
        log_id(&format!("{field}@{physical}"))
    } else {
        log_id(&point.name)
    };
    Ok(Sample {
        physical: physical.to_string(),
        epoch,
        civil,
        log_id,
        source: source_name(point.data_source.as_ref()),
    })
}

/// A required part of an answer that is not there.
pub fn missing(what: &str) -> ShapeError {
    ShapeError::new(format!("{what} is missing"))
}

/// A required number of a payload, or what is missing.
pub fn required(value: Option<f64>, what: &str) -> Result<f64, ShapeError> {
    value.ok_or_else(|| ShapeError::new(format!("a data point without {what}")))
}

/// A legacy weight log entry; `height_m` gives a BMI.
pub fn weight_entry(sample: &Sample, grams: f64, units: Units, height_m: Option<f64>) -> Value {
    let mut entry = Map::new();
    if let Some(bmi) = bmi(grams, height_m) {
        entry.insert("bmi".into(), json!(bmi));
    }
    entry.insert("date".into(), json!(sample.civil.date.to_string()));
    entry.insert("logId".into(), json!(sample.log_id));
    entry.insert("source".into(), json!(sample.source));
    entry.insert("time".into(), json!(sample.civil.time_text()));
    entry.insert("weight".into(), json!(units.weight(grams)));
    Value::Object(entry)
}

/// kg / m², 2 decimals; none without a height.
pub fn bmi(grams: f64, height_m: Option<f64>) -> Option<f64> {
    let h = height_m.filter(|h| *h > 0.0)?;
    Some(round2(grams / 1000.0 / (h * h)))
}

/// A legacy body-fat log entry.
pub fn fat_entry(sample: &Sample, percentage: f64) -> Value {
    json!({
        "date": sample.civil.date.to_string(),
        "fat": round2(percentage),
        "logId": sample.log_id,
        "source": sample.source,
        "time": sample.civil.time_text(),
    })
}

/// Height in metres (`heightMillimeters`; none when zero or absent).
pub fn height_m(measured: &Measured) -> Option<f64> {
    let mm = measured.height_millimeters?;
    (mm > 0).then_some(mm as f64 / 1000.0)
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

/// A legacy sleep log entry of a `sleep` data point; `efficiency` is not
/// available from Google Health.
pub fn sleep_entry(name: &str, sleep: &Sleep, zone: &Zone) -> Result<Value, ShapeError> {
    let interval = &sleep.interval;
    let (start, end) = (instant(&interval.start_time)?, instant(&interval.end_time)?);
    let civil_start = civil_at(
        interval.civil_start_time.as_ref(),
        &interval.start_time,
        interval.start_utc_offset.as_deref(),
        zone,
    )?;
    let civil_end = civil_at(
        interval.civil_end_time.as_ref(),
        &interval.end_time,
        interval.end_utc_offset.as_deref(),
        zone,
    )?;
    let summary = sleep.summary.clone().unwrap_or_default();
    let period = ((end - start) / 60.0).round() as i64;
    let asleep = summary.minutes_asleep.unwrap_or(period);
    let awake = summary.minutes_awake.unwrap_or(period - asleep);
    let main = sleep.metadata.as_ref().is_some_and(|m| m.main_sleep);
    let kind = sleep
        .kind
        .as_deref()
        .unwrap_or("STAGES")
        .to_ascii_lowercase();
    Ok(json!({
        "dateOfSleep": civil_end.date.to_string(),
        "duration": ((end - start) * 1000.0).round() as i64,
        "endTime": civil_end.legacy_timestamp(),
        "isMainSleep": main,
        "logId": log_id(if name.is_empty() { &interval.start_time } else { name }),
        "minutesAfterWakeup": summary.minutes_after_wake_up.unwrap_or(0),
        "minutesAsleep": asleep,
        "minutesAwake": awake,
        "minutesToFallAsleep": summary.minutes_to_fall_asleep.unwrap_or(0),
        "startTime": civil_start.legacy_timestamp(),
        "timeInBed": summary.minutes_in_sleep_period.unwrap_or(period),
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

/// The day and beats per minute of a `daily-resting-heart-rate` point.
pub fn resting_heart(rate: &DailyRestingHeartRate) -> Result<(Date, i64), ShapeError> {
    Ok((rate.date.date()?, rate.beats_per_minute))
}

#[cfg(test)]
mod tests {
    use super::*;

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
