//! Google Health data points: what tests add, and their proto-JSON rendering.

use chrono::{
    DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, SecondsFormat, Timelike, Utc,
};
use serde_json::{Value, json};

/// One data point of a supported type. Build with the constructors, adjust
/// with [`DataPoint::utc_offset`], [`DataPoint::source`], [`DataPoint::id`].
/// Times are RFC 3339 (`"2026-11-20T07:12:33Z"`), dates `yyyy-MM-dd`.
#[derive(Clone, Debug)]
pub struct DataPoint {
    pub(crate) value: PointValue,
    /// The user's local time: a fixed offset the test gave, else the
    /// user's time zone when the point was added (UTC without one).
    pub(crate) local: LocalTime,
    pub(crate) source: Option<Value>,
    pub(crate) id: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) enum PointValue {
    Weight {
        time: DateTime<Utc>,
        grams: f64,
        notes: Option<String>,
    },
    BodyFat {
        time: DateTime<Utc>,
        percentage: f64,
    },
    Height {
        time: DateTime<Utc>,
        mm: i64,
    },
    HeartRate {
        time: DateTime<Utc>,
        bpm: i64,
    },
    Steps {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        count: i64,
    },
    Distance {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        mm: i64,
    },
    Floors {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        count: i64,
    },
    RestingHeartRate {
        date: NaiveDate,
        bpm: i64,
    },
    Sleep {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        minutes_asleep: i64,
    },
    Altitude {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        gain_mm: i64,
    },
    TotalCalories {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        kcal: f64,
    },
    ActiveMinutes {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        level: String,
        minutes: i64,
    },
    TimeInZone {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        zone: String,
    },
    CaloriesInZone {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        zone: String,
        kcal: f64,
    },
    HeartRateZones {
        date: NaiveDate,
        /// (zone type, min bpm, max bpm)
        zones: Vec<(String, i64, i64)>,
    },
    /// A food logged: the `NutritionLog` fields besides the interval.
    Nutrition {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        log: Value,
    },
    Hydration {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        ml: f64,
    },
    Glucose {
        time: DateTime<Utc>,
        mg_dl: f64,
        timing: Option<String>,
    },
    /// An exercise: the `Exercise` fields besides the interval.
    Exercise {
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        exercise: Value,
    },
    /// A daily summary type (`daily-vo2-max`, ...): its field and values.
    Daily {
        data_type: &'static str,
        field: &'static str,
        date: NaiveDate,
        values: Value,
    },
}

/// The daily summary types a test may add, and their data-point fields.
const DAILY_TYPES: &[(&str, &str)] = &[
    ("daily-oxygen-saturation", "dailyOxygenSaturation"),
    ("daily-heart-rate-variability", "dailyHeartRateVariability"),
    ("daily-respiratory-rate", "dailyRespiratoryRate"),
    (
        "daily-sleep-temperature-derivations",
        "dailySleepTemperatureDerivations",
    ),
    ("daily-vo2-max", "dailyVo2Max"),
];

/// How a point's instants map to the user's civil time.
#[derive(Clone, Debug, Default)]
pub(crate) enum LocalTime {
    /// Not set: the user's zone decides when the point is added.
    #[default]
    Unset,
    /// Seconds east of UTC, whatever the instant.
    Fixed(i32),
    /// A time zone with its daylight-saving rules.
    Zone(jiff::tz::TimeZone),
}

impl LocalTime {
    /// Seconds east of UTC at `t`.
    pub(crate) fn offset_at(&self, t: DateTime<Utc>) -> i32 {
        match self {
            LocalTime::Unset => 0,
            LocalTime::Fixed(seconds) => *seconds,
            LocalTime::Zone(zone) => jiff::Timestamp::from_second(t.timestamp())
                .map_or(0, |ts| zone.to_offset(ts).seconds()),
        }
    }
}

fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("RFC 3339 time")
        .with_timezone(&Utc)
}

impl DataPoint {
    fn of(value: PointValue) -> Self {
        DataPoint {
            value,
            local: LocalTime::Unset,
            source: None,
            id: None,
        }
    }
    pub fn weight(time: &str, grams: f64) -> Self {
        Self::of(PointValue::Weight {
            time: ts(time),
            grams,
            notes: None,
        })
    }
    pub fn body_fat(time: &str, percentage: f64) -> Self {
        Self::of(PointValue::BodyFat {
            time: ts(time),
            percentage,
        })
    }
    pub fn height(time: &str, millimeters: i64) -> Self {
        Self::of(PointValue::Height {
            time: ts(time),
            mm: millimeters,
        })
    }
    pub fn heart_rate(time: &str, bpm: i64) -> Self {
        Self::of(PointValue::HeartRate {
            time: ts(time),
            bpm,
        })
    }
    pub fn steps(start: &str, end: &str, count: i64) -> Self {
        Self::of(PointValue::Steps {
            start: ts(start),
            end: ts(end),
            count,
        })
    }
    pub fn distance(start: &str, end: &str, millimeters: i64) -> Self {
        Self::of(PointValue::Distance {
            start: ts(start),
            end: ts(end),
            mm: millimeters,
        })
    }
    pub fn floors(start: &str, end: &str, count: i64) -> Self {
        Self::of(PointValue::Floors {
            start: ts(start),
            end: ts(end),
            count,
        })
    }
    pub fn daily_resting_heart_rate(date: &str, bpm: i64) -> Self {
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date as yyyy-MM-dd");
        Self::of(PointValue::RestingHeartRate { date, bpm })
    }
    /// A sleep session; the rest of the interval after `minutes_asleep` is awake.
    pub fn sleep(start: &str, end: &str, minutes_asleep: i64) -> Self {
        Self::of(PointValue::Sleep {
            start: ts(start),
            end: ts(end),
            minutes_asleep,
        })
    }
    /// Altitude gained over an interval, in millimetres.
    pub fn altitude(start: &str, end: &str, gain_millimeters: i64) -> Self {
        Self::of(PointValue::Altitude {
            start: ts(start),
            end: ts(end),
            gain_mm: gain_millimeters,
        })
    }
    /// Total calories (basal and active) over an interval; roll-ups only.
    pub fn total_calories(start: &str, end: &str, kcal: f64) -> Self {
        Self::of(PointValue::TotalCalories {
            start: ts(start),
            end: ts(end),
            kcal,
        })
    }
    /// Active minutes at an activity level (`LIGHT`, `MODERATE`, `VIGOROUS`).
    pub fn active_minutes(start: &str, end: &str, level: &str, minutes: i64) -> Self {
        Self::of(PointValue::ActiveMinutes {
            start: ts(start),
            end: ts(end),
            level: level.into(),
            minutes,
        })
    }
    /// An interval spent in a heart-rate zone (`LIGHT`, `MODERATE`,
    /// `VIGOROUS`, `PEAK`).
    pub fn time_in_heart_rate_zone(start: &str, end: &str, zone: &str) -> Self {
        Self::of(PointValue::TimeInZone {
            start: ts(start),
            end: ts(end),
            zone: zone.into(),
        })
    }
    /// Calories burned in a heart-rate zone over an interval; roll-ups only.
    pub fn calories_in_heart_rate_zone(start: &str, end: &str, zone: &str, kcal: f64) -> Self {
        Self::of(PointValue::CaloriesInZone {
            start: ts(start),
            end: ts(end),
            zone: zone.into(),
            kcal,
        })
    }
    /// A day's heart-rate zone thresholds: `(zone type, min, max)`;
    /// reconcile only.
    pub fn daily_heart_rate_zones(date: &str, zones: &[(&str, i64, i64)]) -> Self {
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date as yyyy-MM-dd");
        Self::of(PointValue::HeartRateZones {
            date,
            zones: zones
                .iter()
                .map(|(z, min, max)| (z.to_string(), *min, *max))
                .collect(),
        })
    }
    /// A food logged over `[start, end)`; `log` holds the other
    /// `NutritionLog` fields (`foodDisplayName`, `mealType`, `energy`,
    /// `serving`, `nutrients`, ...).
    pub fn nutrition_log(start: &str, end: &str, log: Value) -> Self {
        Self::of(PointValue::Nutrition {
            start: ts(start),
            end: ts(end),
            log,
        })
    }
    /// Water drunk at `time`, in millilitres.
    pub fn hydration_log(time: &str, milliliters: f64) -> Self {
        Self::of(PointValue::Hydration {
            start: ts(time),
            end: ts(time),
            ml: milliliters,
        })
    }
    /// A blood glucose measurement in mg/dL, with its `measurementTiming`.
    pub fn blood_glucose(time: &str, mg_per_dl: f64, timing: Option<&str>) -> Self {
        Self::of(PointValue::Glucose {
            time: ts(time),
            mg_dl: mg_per_dl,
            timing: timing.map(str::to_string),
        })
    }
    /// An exercise over `[start, end)`; `exercise` holds the other
    /// `Exercise` fields (`exerciseType`, `displayName`, `metricsSummary`).
    pub fn exercise(start: &str, end: &str, exercise: Value) -> Self {
        Self::of(PointValue::Exercise {
            start: ts(start),
            end: ts(end),
            exercise,
        })
    }
    /// A day of a daily summary type (`daily-oxygen-saturation`,
    /// `daily-heart-rate-variability`, `daily-respiratory-rate`,
    /// `daily-sleep-temperature-derivations`, `daily-vo2-max`) with its
    /// values besides `date` (e.g. `{"vo2Max": 46.3}`).
    pub fn daily(data_type: &str, date: &str, values: Value) -> Self {
        let (data_type, field) = *DAILY_TYPES
            .iter()
            .find(|(t, _)| *t == data_type)
            .expect("a daily summary type");
        let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("date as yyyy-MM-dd");
        Self::of(PointValue::Daily {
            data_type,
            field,
            date,
            values,
        })
    }
    /// Local UTC offset in seconds, whatever the user's zone; drives civil
    /// times. Without it the user's zone ([`super::FakeGoogle::set_time_zone`])
    /// gives each instant its offset, and without a zone it is 0.
    pub fn utc_offset(mut self, seconds: i32) -> Self {
        self.local = LocalTime::Fixed(seconds);
        self
    }
    /// Weight notes.
    pub fn notes(mut self, notes: &str) -> Self {
        if let PointValue::Weight { notes: n, .. } = &mut self.value {
            *n = Some(notes.into());
        }
        self
    }
    /// Replace the default `dataSource` object.
    pub fn source(mut self, source: Value) -> Self {
        self.source = Some(source);
        self
    }
    /// The `{data_point}` id in `name` (default: a generated number).
    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Kebab-case data type (`weight`, `body-fat`, ...).
    pub fn data_type(&self) -> &'static str {
        match self.value {
            PointValue::Weight { .. } => "weight",
            PointValue::BodyFat { .. } => "body-fat",
            PointValue::Height { .. } => "height",
            PointValue::HeartRate { .. } => "heart-rate",
            PointValue::Steps { .. } => "steps",
            PointValue::Distance { .. } => "distance",
            PointValue::Floors { .. } => "floors",
            PointValue::RestingHeartRate { .. } => "daily-resting-heart-rate",
            PointValue::Sleep { .. } => "sleep",
            PointValue::Altitude { .. } => "altitude",
            PointValue::TotalCalories { .. } => "total-calories",
            PointValue::ActiveMinutes { .. } => "active-minutes",
            PointValue::TimeInZone { .. } => "time-in-heart-rate-zone",
            PointValue::CaloriesInZone { .. } => "calories-in-heart-rate-zone",
            PointValue::HeartRateZones { .. } => "daily-heart-rate-zones",
            PointValue::Nutrition { .. } => "nutrition-log",
            PointValue::Hydration { .. } => "hydration-log",
            PointValue::Glucose { .. } => "blood-glucose",
            PointValue::Exercise { .. } => "exercise",
            PointValue::Daily { data_type, .. } => data_type,
        }
    }

    fn local(&self, t: DateTime<Utc>) -> NaiveDateTime {
        (t + Duration::seconds(i64::from(self.local.offset_at(t)))).naive_utc()
    }

    fn offset_at(&self, t: DateTime<Utc>) -> String {
        offset(self.local.offset_at(t))
    }

    /// Physical time the list is ordered by (interval start, sample time).
    pub(crate) fn sort_key(&self) -> DateTime<Utc> {
        match &self.value {
            PointValue::Weight { time, .. }
            | PointValue::BodyFat { time, .. }
            | PointValue::Height { time, .. }
            | PointValue::HeartRate { time, .. }
            | PointValue::Glucose { time, .. } => *time,
            PointValue::Steps { start, .. }
            | PointValue::Distance { start, .. }
            | PointValue::Floors { start, .. }
            | PointValue::Sleep { start, .. }
            | PointValue::Altitude { start, .. }
            | PointValue::TotalCalories { start, .. }
            | PointValue::ActiveMinutes { start, .. }
            | PointValue::TimeInZone { start, .. }
            | PointValue::CaloriesInZone { start, .. }
            | PointValue::Nutrition { start, .. }
            | PointValue::Hydration { start, .. }
            | PointValue::Exercise { start, .. } => *start,
            PointValue::RestingHeartRate { date, .. }
            | PointValue::HeartRateZones { date, .. }
            | PointValue::Daily { date, .. } => {
                date.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
            }
        }
    }

    /// Civil (local) time rollups bucket by: sample time or interval start.
    pub(crate) fn civil_key(&self) -> NaiveDateTime {
        match &self.value {
            PointValue::RestingHeartRate { date, .. }
            | PointValue::HeartRateZones { date, .. }
            | PointValue::Daily { date, .. } => date.and_hms_opt(0, 0, 0).expect("midnight"),
            _ => self.local(self.sort_key()),
        }
    }

    /// The end of the point's interval (its time for samples and days).
    fn end_time(&self) -> DateTime<Utc> {
        match &self.value {
            PointValue::Steps { end, .. }
            | PointValue::Distance { end, .. }
            | PointValue::Floors { end, .. }
            | PointValue::Sleep { end, .. }
            | PointValue::Altitude { end, .. }
            | PointValue::TotalCalories { end, .. }
            | PointValue::ActiveMinutes { end, .. }
            | PointValue::TimeInZone { end, .. }
            | PointValue::CaloriesInZone { end, .. }
            | PointValue::Nutrition { end, .. }
            | PointValue::Hydration { end, .. }
            | PointValue::Exercise { end, .. } => *end,
            _ => self.sort_key(),
        }
    }

    /// The point's interval as a webhook notification names it: samples
    /// start and end at their time, days span their civil day.
    pub(crate) fn notification_interval(&self) -> super::delivery::Interval {
        use super::delivery::Interval;
        match &self.value {
            PointValue::RestingHeartRate { date, .. }
            | PointValue::HeartRateZones { date, .. }
            | PointValue::Daily { date, .. } => {
                let start = date.and_hms_opt(0, 0, 0).expect("midnight");
                let end = start + Duration::days(1);
                Interval::new(start.and_utc(), end.and_utc(), start, end)
            }
            _ => {
                let (start, end) = (self.sort_key(), self.end_time());
                Interval::new(start, end, self.local(start), self.local(end))
            }
        }
    }

    /// Value of a filter field, physical or civil.
    pub(crate) fn field(&self, f: super::filter::Field) -> super::filter::Bound {
        use super::filter::{Bound, Field};
        let end = self.end_time();
        match f {
            Field::Physical => Bound::Physical(self.sort_key()),
            Field::Civil | Field::Date => Bound::Civil(self.civil_key()),
            Field::EndPhysical => Bound::Physical(end),
            Field::EndCivil => Bound::Civil(self.local(end)),
        }
    }

    /// Proto-JSON `DataPoint`.
    pub(crate) fn to_json(&self, health_user_id: &str, id: &str) -> Value {
        let (field, payload) = match &self.value {
            PointValue::Weight { time, grams, notes } => {
                let mut p = json!({"sampleTime": self.sample_time(*time), "weightGrams": grams});
                if let Some(n) = notes {
                    p["notes"] = json!(n);
                }
                ("weight", p)
            }
            PointValue::BodyFat { time, percentage } => (
                "bodyFat",
                json!({"sampleTime": self.sample_time(*time), "percentage": percentage}),
            ),
            PointValue::Height { time, mm } => (
                "height",
                json!({"sampleTime": self.sample_time(*time), "heightMillimeters": mm.to_string()}),
            ),
            PointValue::HeartRate { time, bpm } => (
                "heartRate",
                json!({"sampleTime": self.sample_time(*time), "beatsPerMinute": bpm.to_string()}),
            ),
            PointValue::Steps { start, end, count } => {
                ("steps", self.counted(*start, *end, "count", *count))
            }
            PointValue::Distance { start, end, mm } => {
                ("distance", self.counted(*start, *end, "millimeters", *mm))
            }
            PointValue::Floors { start, end, count } => {
                ("floors", self.counted(*start, *end, "count", *count))
            }
            PointValue::Altitude {
                start,
                end,
                gain_mm,
            } => (
                "altitude",
                self.counted(*start, *end, "gainMillimeters", *gain_mm),
            ),
            PointValue::ActiveMinutes {
                start,
                end,
                level,
                minutes,
            } => (
                "activeMinutes",
                json!({"interval": self.interval(*start, *end),
                       "activeMinutesByActivityLevel": [{"activityLevel": level, "activeMinutes": minutes.to_string()}]}),
            ),
            PointValue::TimeInZone { start, end, zone } => (
                "timeInHeartRateZone",
                json!({"interval": self.interval(*start, *end), "heartRateZoneType": zone}),
            ),
            PointValue::HeartRateZones { date, zones } => (
                "dailyHeartRateZones",
                json!({"date": date_json(*date), "heartRateZones": zones.iter().map(|(z, min, max)| json!({
                    "heartRateZoneType": z, "minBeatsPerMinute": min.to_string(), "maxBeatsPerMinute": max.to_string()})).collect::<Vec<_>>()}),
            ),
            // Roll-up-only types are never listed (the API refuses to).
            PointValue::TotalCalories { .. } | PointValue::CaloriesInZone { .. } => {
                unreachable!("{} points are only rolled up", self.data_type())
            }
            PointValue::RestingHeartRate { date, bpm } => (
                "dailyRestingHeartRate",
                json!({"date": date_json(*date), "beatsPerMinute": bpm.to_string(),
                       "dailyRestingHeartRateMetadata": {"calculationMethod": "WITH_SLEEP"}}),
            ),
            PointValue::Sleep {
                start,
                end,
                minutes_asleep,
            } => ("sleep", self.sleep_json(*start, *end, *minutes_asleep)),
            PointValue::Nutrition { start, end, log } => {
                ("nutritionLog", self.session(*start, *end, log))
            }
            PointValue::Hydration { start, end, ml } => (
                "hydrationLog",
                json!({"interval": self.interval(*start, *end),
                       "amountConsumed": {"milliliters": ml, "userProvidedUnit": "MILLILITER"}}),
            ),
            PointValue::Glucose {
                time,
                mg_dl,
                timing,
            } => {
                let mut p = json!({"sampleTime": self.sample_time(*time),
                                   "bloodGlucoseMilligramsPerDeciliter": mg_dl,
                                   "measurementSource": "SELF_MONITORING_BLOOD_GLUCOSE"});
                if let Some(timing) = timing {
                    p["measurementTiming"] = json!(timing);
                }
                ("bloodGlucose", p)
            }
            PointValue::Exercise {
                start,
                end,
                exercise,
            } => ("exercise", self.session(*start, *end, exercise)),
            PointValue::Daily {
                field,
                date,
                values,
                ..
            } => {
                let mut p = json!({"date": date_json(*date)});
                if let (Some(o), Some(extra)) = (p.as_object_mut(), values.as_object()) {
                    o.extend(extra.clone());
                }
                (*field, p)
            }
        };
        json!({
            "name": format!("users/{health_user_id}/dataTypes/{}/dataPoints/{id}", self.data_type()),
            "dataSource": self.source.clone().unwrap_or_else(|| self.default_source()),
            field: payload,
        })
    }

    /// An interval payload with an int64 count, omitted when zero: a true
    /// zero ("worn but no activity") keeps its interval but has no count.
    fn counted(&self, start: DateTime<Utc>, end: DateTime<Utc>, field: &str, n: i64) -> Value {
        let mut payload = json!({"interval": self.interval(start, end)});
        if n != 0 {
            payload[field] = json!(n.to_string());
        }
        payload
    }

    /// A session payload: its interval and the other fields given.
    fn session(&self, start: DateTime<Utc>, end: DateTime<Utc>, fields: &Value) -> Value {
        let mut payload = json!({"interval": self.interval(start, end)});
        if let (Some(o), Some(extra)) = (payload.as_object_mut(), fields.as_object()) {
            o.extend(extra.clone());
        }
        payload
    }

    fn sample_time(&self, t: DateTime<Utc>) -> Value {
        json!({"physicalTime": rfc3339(t), "utcOffset": self.offset_at(t), "civilTime": civil(self.local(t))})
    }

    fn interval(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Value {
        json!({
            "startTime": rfc3339(start),
            "startUtcOffset": self.offset_at(start),
            "endTime": rfc3339(end),
            "endUtcOffset": self.offset_at(end),
            "civilStartTime": civil(self.local(start)),
            "civilEndTime": civil(self.local(end)),
        })
    }

    fn sleep_json(&self, start: DateTime<Utc>, end: DateTime<Utc>, asleep: i64) -> Value {
        let period = (end - start).num_minutes();
        let asleep = asleep.min(period);
        let awake = period - asleep;
        let wake_at = start + Duration::minutes(asleep);
        let stage = |a: DateTime<Utc>, b: DateTime<Utc>, t: &str| {
            json!({"startTime": rfc3339(a), "startUtcOffset": self.offset_at(a),
                   "endTime": rfc3339(b), "endUtcOffset": self.offset_at(b), "type": t})
        };
        let mut stages = vec![stage(start, wake_at, "LIGHT")];
        let mut summary =
            vec![json!({"type": "LIGHT", "minutes": asleep.to_string(), "count": "1"})];
        if awake > 0 {
            stages.push(stage(wake_at, end, "AWAKE"));
            summary.push(json!({"type": "AWAKE", "minutes": awake.to_string(), "count": "1"}));
        }
        json!({
            "interval": self.interval(start, end),
            "type": "STAGES",
            "stages": stages,
            "summary": {
                "minutesAsleep": asleep.to_string(),
                "minutesAwake": awake.to_string(),
                "minutesInSleepPeriod": period.to_string(),
                "minutesAfterWakeUp": "0",
                "minutesToFallAsleep": "0",
                "stagesSummary": summary,
            },
            "metadata": {"mainSleep": true, "nap": false, "processed": true, "stagesStatus": "SUCCEEDED"},
        })
    }

    fn default_source(&self) -> Value {
        let device = |form: &str, name: &str| json!({"formFactor": form, "manufacturer": "Fitbit", "displayName": name});
        match self.value {
            PointValue::Weight { .. } | PointValue::BodyFat { .. } => json!({
                "recordingMethod": "ACTIVELY_MEASURED", "platform": "FITBIT", "device": device("SCALE", "Aria Air")}),
            PointValue::Height { .. } => json!({"recordingMethod": "MANUAL", "platform": "FITBIT"}),
            PointValue::RestingHeartRate { .. } => json!({
                "recordingMethod": "DERIVED", "platform": "FITBIT", "device": device("FITNESS_BAND", "Charge 6")}),
            _ => {
                json!({"recordingMethod": "PASSIVELY_MEASURED", "platform": "FITBIT", "device": device("FITNESS_BAND", "Charge 6")})
            }
        }
    }
}

/// RFC 3339 UTC with `Z`, fractional seconds only when non-zero (proto JSON).
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// `google.protobuf.Duration` JSON: `"3600s"`.
pub(crate) fn offset(secs: i32) -> String {
    format!("{secs}s")
}

pub(crate) fn date_json(d: NaiveDate) -> Value {
    json!({"year": d.year(), "month": d.month(), "day": d.day()})
}

/// `CivilDateTime`; proto3 JSON omits zero-valued time fields, so midnight
/// renders as `"time": {}`.
pub(crate) fn civil(t: NaiveDateTime) -> Value {
    let mut time = serde_json::Map::new();
    for (k, v) in [
        ("hours", t.hour()),
        ("minutes", t.minute()),
        ("seconds", t.second()),
        ("nanos", t.nanosecond()),
    ] {
        if v != 0 {
            time.insert(k.into(), json!(v));
        }
    }
    json!({"date": date_json(t.date()), "time": time})
}
