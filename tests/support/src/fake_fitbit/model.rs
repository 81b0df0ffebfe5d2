//! Fitbit user data held by the fake, and the records tests add.

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::{Value, json};

/// One weigh-in, as `GET /1/user/-/body/log/weight/...` returns it.
/// Weights are stored in kilograms and converted per `Accept-Language`.
#[derive(Clone, Debug, PartialEq)]
pub struct WeightLog {
    /// `yyyy-MM-dd` (user's local date).
    pub date: String,
    /// `HH:mm:ss` (user's local time).
    pub time: String,
    pub weight_kg: f64,
    /// Body fat %, omitted from the JSON when `None` (as Fitbit does).
    pub fat: Option<f64>,
    /// BMI; when `None` the fake computes it from the profile height.
    pub bmi: Option<f64>,
    /// `API`, `Aria`, `AriaAir` or `Withings`.
    pub source: String,
    /// When `None`: epoch milliseconds of `date`+`time` (Fitbit's logIds look like that).
    pub log_id: Option<u64>,
}

impl WeightLog {
    pub fn new(date: &str, time: &str, weight_kg: f64) -> Self {
        WeightLog {
            date: date.into(),
            time: time.into(),
            weight_kg,
            fat: None,
            bmi: None,
            source: "Aria".into(),
            log_id: None,
        }
    }
    pub fn fat(mut self, fat: f64) -> Self {
        self.fat = Some(fat);
        self
    }
    pub fn bmi(mut self, bmi: f64) -> Self {
        self.bmi = Some(bmi);
        self
    }
    pub fn source(mut self, source: &str) -> Self {
        self.source = source.into();
        self
    }
    pub fn log_id(mut self, id: u64) -> Self {
        self.log_id = Some(id);
        self
    }
    pub(crate) fn id(&self) -> u64 {
        self.log_id
            .unwrap_or_else(|| default_log_id(&self.date, &self.time))
    }
}

/// One body-fat log (`GET /1/user/-/body/log/fat/...`).
#[derive(Clone, Debug, PartialEq)]
pub struct FatLog {
    pub date: String,
    pub time: String,
    pub fat: f64,
    pub source: String,
    pub log_id: Option<u64>,
}

impl FatLog {
    pub fn new(date: &str, time: &str, fat: f64) -> Self {
        FatLog {
            date: date.into(),
            time: time.into(),
            fat,
            source: "Aria".into(),
            log_id: None,
        }
    }
    pub(crate) fn id(&self) -> u64 {
        self.log_id
            .unwrap_or_else(|| default_log_id(&self.date, &self.time))
    }
}

/// One sleep log (`GET /1.2/user/-/sleep/date/...`).
#[derive(Clone, Debug, PartialEq)]
pub struct SleepLog {
    /// The date the sleep is attributed to (the wake-up day).
    pub date_of_sleep: String,
    /// Local start, `yyyy-MM-ddTHH:mm:ss`.
    pub start_time: String,
    pub time_in_bed_minutes: u32,
    pub minutes_asleep: u32,
    /// Minutes in deep / light / REM; when all zero the fake reports
    /// everything asleep as light.
    pub deep: u32,
    pub light: u32,
    pub rem: u32,
    pub is_main_sleep: bool,
    pub log_id: Option<u64>,
}

impl SleepLog {
    pub fn new(
        date_of_sleep: &str,
        start_time: &str,
        time_in_bed_minutes: u32,
        minutes_asleep: u32,
    ) -> Self {
        SleepLog {
            date_of_sleep: date_of_sleep.into(),
            start_time: start_time.into(),
            time_in_bed_minutes,
            minutes_asleep,
            deep: 0,
            light: 0,
            rem: 0,
            is_main_sleep: true,
            log_id: None,
        }
    }
    pub fn stages(mut self, deep: u32, light: u32, rem: u32) -> Self {
        (self.deep, self.light, self.rem) = (deep, light, rem);
        self
    }
    pub fn main_sleep(mut self, main: bool) -> Self {
        self.is_main_sleep = main;
        self
    }
}

fn default_log_id(date: &str, time: &str) -> u64 {
    let t = if time.len() == 5 {
        format!("{time}:00")
    } else {
        time.to_string()
    };
    NaiveDateTime::parse_from_str(&format!("{date}T{t}"), "%Y-%m-%dT%H:%M:%S")
        .map(|dt| dt.and_utc().timestamp_millis() as u64)
        .unwrap_or(1)
}

/// One food logged (`GET /1/user/-/foods/log/date/D`): calories and
/// nutrients in grams (sodium in mg), whatever the unit system.
#[derive(Clone, Debug, PartialEq)]
pub struct FoodLog {
    pub date: String,
    pub name: String,
    pub meal_type_id: u32,
    pub amount: f64,
    pub unit: String,
    pub calories: f64,
    pub carbs: f64,
    pub fat: f64,
    pub protein: f64,
    pub log_id: u64,
}

impl FoodLog {
    pub fn new(date: &str, name: &str, calories: f64, log_id: u64) -> Self {
        FoodLog {
            date: date.into(),
            name: name.into(),
            meal_type_id: 7,
            amount: 1.0,
            unit: "serving".into(),
            calories,
            carbs: 0.0,
            fat: 0.0,
            protein: 0.0,
            log_id,
        }
    }
    pub fn meal(mut self, meal_type_id: u32) -> Self {
        self.meal_type_id = meal_type_id;
        self
    }
    pub fn nutrients(mut self, carbs: f64, fat: f64, protein: f64) -> Self {
        (self.carbs, self.fat, self.protein) = (carbs, fat, protein);
        self
    }
}

/// A measurement of a day with a time: water (ml), glucose (mg/dL), blood
/// pressure (systolic/diastolic).
#[derive(Clone, Debug, PartialEq)]
pub struct DayLog {
    pub date: String,
    pub time: String,
    pub values: Vec<f64>,
    pub log_id: u64,
}

#[derive(Default, Debug)]
pub(crate) struct UserData {
    pub foods: Vec<FoodLog>,
    /// "water" (ml), "glucose" (mg/dL), "bp" (systolic, diastolic).
    pub day_logs: BTreeMap<String, Vec<DayLog>>,
    /// (resource: spo2, hrv, br, temp/skin, cardioscore, date) → value.
    pub metrics: BTreeMap<(String, NaiveDate), Value>,
    pub weights: Vec<WeightLog>,
    pub fats: Vec<FatLog>,
    pub sleeps: Vec<SleepLog>,
    /// (resource, date) → value in metric units (distance km, elevation m).
    pub activities: BTreeMap<(String, NaiveDate), f64>,
    pub resting_hr: BTreeMap<NaiveDate, u32>,
    /// (resource, date) → [(seconds since midnight, value)].
    pub intraday: BTreeMap<(String, NaiveDate), Vec<(u32, f64)>>,
    pub profile_overrides: serde_json::Map<String, Value>,
    pub devices: Option<Value>,
}

impl UserData {
    pub fn height_cm(&self) -> f64 {
        self.profile_overrides
            .get("height")
            .and_then(Value::as_f64)
            .unwrap_or(180.0)
    }

    pub fn utc_offset_ms(&self) -> i64 {
        self.profile_overrides
            .get("offsetFromUTCMillis")
            .and_then(Value::as_i64)
            .unwrap_or(0)
    }

    pub fn bmi_of(&self, w: &WeightLog) -> f64 {
        w.bmi.unwrap_or_else(|| {
            let m = self.height_cm() / 100.0;
            crate::util::round2(w.weight_kg / (m * m))
        })
    }

    /// Weight logs sorted by date and time.
    pub fn sorted_weights(&self) -> Vec<&WeightLog> {
        let mut v: Vec<_> = self.weights.iter().collect();
        v.sort_by(|a, b| (&a.date, &a.time).cmp(&(&b.date, &b.time)));
        v
    }

    /// Fat logs: explicit ones plus those implied by weigh-ins with a fat
    /// value (an Aria weigh-in creates both; same logId), sorted.
    pub fn all_fat_logs(&self) -> Vec<FatLog> {
        let mut v = self.fats.clone();
        for w in &self.weights {
            if let Some(fat) = w.fat
                && !v.iter().any(|f| f.id() == w.id())
            {
                v.push(FatLog {
                    date: w.date.clone(),
                    time: w.time.clone(),
                    fat,
                    source: w.source.clone(),
                    log_id: Some(w.id()),
                });
            }
        }
        v.sort_by(|a, b| (&a.date, &a.time).cmp(&(&b.date, &b.time)));
        v
    }

    pub fn default_devices(&self) -> Value {
        json!([{
            "battery": "High",
            "batteryLevel": 90,
            "deviceVersion": "Aria Air",
            "features": [],
            "id": "1234567890",
            "lastSyncTime": "2026-11-20T07:12:40.000",
            "mac": "AB12CD34EF56",
            "type": "SCALE"
        }])
    }
}
