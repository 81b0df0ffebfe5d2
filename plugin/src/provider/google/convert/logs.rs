//! Legacy log entries (weight, body fat, sleep, resting heart rate) from
//! Google data points, and merging them with stored logs.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::time::{Civil, civil_at, date_of, parse_rfc3339};
use super::units::{Units, round2};
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
