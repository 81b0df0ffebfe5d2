//! Google Health parity, end to end: each legacy method through the real
//! igor-host binary for a Google Health user (the fake Google) and for a
//! legacy user (the fake Fitbit) holding the same data. The answers must
//! have the same keys and JSON types; Google may only lack the fields
//! `docs/google-health.md` lists as gaps. Values are compared where both
//! APIs measure the same thing, per unit system.

use crate::common;

use common::{Client, Host, HostConfig, clouds};
use igor_test_support::fake_fitbit::{self, WeightLog};
use igor_test_support::fake_google::{DEFAULT_HEALTH_USER_ID as GINA_ID, DataPoint};
use igor_test_support::{FakeFitbit, FakeGoogle, consent};
use serde_json::Value;

const GOOGLE_ID: &str = "123-abc.apps.googleusercontent.com";
const GOOGLE_SECRET: &str = "GOCSPX-google-secret";
const FITBIT_ID: &str = "22ABCD";
const FITBIT_SECRET: &str = "fitbit-secret";
/// The legacy user (fake Fitbit) and the Google user.
const FRED: &str = "fred";
const GINA: &str = "gina";
const FRED_ID: &str = fake_fitbit::DEFAULT_USER_ID;
/// The day the data is on; samples at noon UTC stay on it for any host
/// offset between -11 and +11 hours.
const DAY: &str = "2026-11-20";
/// Methods whose scopes Gina grants: all the Google provider asks for.
const GINA_METHODS: &str =
    "user_profile_get,get_devices,activities,heart,body,time_series,foods_log,get_sleep";

fn at(time: &str) -> String {
    format!("{DAY}T{time}Z")
}

struct Parity {
    google: FakeGoogle,
    fitbit: FakeFitbit,
    host: Host,
    http: reqwest::Client,
}

impl Parity {
    /// Both fakes, the host, Fred authorised with the legacy API and Gina
    /// with Google Health, and `system` as the installation's unit system.
    async fn start(system: &str) -> Self {
        let google = FakeGoogle::start().await;
        let fitbit = FakeFitbit::start().await;
        let plugin = clouds::google_plugin(&google, Some(&fitbit));
        let host = Host::start(HostConfig::new().plugin(plugin)).await;
        let auth2 = format!("{}/plugin/fitbit/auth2", host.url);
        google.register_client(GOOGLE_ID, GOOGLE_SECRET, &[&auth2]);
        fitbit.register_client(FITBIT_ID, FITBIT_SECRET, &[&auth2]);
        let http = Client::new(&host).http;
        let p = Parity {
            google,
            fitbit,
            host,
            http,
        };
        p.post(
            "settings",
            &[
                ("client_id", FITBIT_ID),
                ("client_secret", FITBIT_SECRET),
                ("provider", "fitbit"),
                ("system", system),
            ],
        )
        .await;
        p.authorise(FRED, &p.fitbit.authorize_url()).await;
        p.post(
            "settings",
            &[
                ("client_id", GOOGLE_ID),
                ("client_secret", GOOGLE_SECRET),
                ("provider", "google-health"),
                ("system", system),
            ],
        )
        .await;
        p.post("userSettings", &[("user", GINA), ("methods", GINA_METHODS)])
            .await;
        p.authorise(GINA, &p.google.authorize_url()).await;
        p
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) {
        let response = self
            .http
            .post(format!("{}/plugin/fitbit/{path}", self.host.url))
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }

    async fn authorise(&self, user: &str, provider: &str) {
        let url = format!("{}/plugin/fitbit/auth1?user={user}", self.host.url);
        let response = self.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), 303);
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert!(location.starts_with(provider), "{location}");
        let back = consent(&self.http, &location).await.unwrap();
        let response = self.http.get(&back).send().await.unwrap();
        assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    }

    /// `GET /plugin/fitbit?user=U&{query}`, which must succeed.
    async fn call(&self, user: &str, query: &str) -> Value {
        let url = format!("{}/plugin/fitbit?user={user}&{query}", self.host.url);
        let response = self.http.get(url).send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert_eq!(status, 200, "{user} {query}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// `GET /plugin/fitbit?user=U&{query}`: the status and the body.
    async fn status(&self, user: &str, query: &str) -> (u16, String) {
        let url = format!("{}/plugin/fitbit?user={user}&{query}", self.host.url);
        let response = self.http.get(url).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    }

    /// The same call for Fred (legacy) and Gina (Google).
    async fn both(&self, query: &str) -> (Value, Value) {
        (self.call(FRED, query).await, self.call(GINA, query).await)
    }

    /// The same weigh-in, height, body fat and day of activity for both.
    fn add_body_and_activity(&self) {
        self.fitbit
            .add_weight(FRED_ID, WeightLog::new(DAY, "12:00:00", 80.0).fat(20.0));
        self.fitbit
            .set_profile(FRED_ID, serde_json::json!({"height": 180.0}));
        for (resource, value) in [
            ("steps", 8000.0),
            ("distance", 5.0),
            ("floors", 10.0),
            ("elevation", 30.0),
            ("calories", 2300.0),
        ] {
            self.fitbit.set_activity(FRED_ID, resource, DAY, value);
        }
        let (noon, later) = (at("12:00:00"), at("12:30:00"));
        self.google.add_data_points(
            GINA_ID,
            [
                DataPoint::weight(&noon, 80_000.0),
                DataPoint::body_fat(&noon, 20.0),
                DataPoint::height("2026-01-01T12:00:00Z", 1800),
                DataPoint::steps(&noon, &later, 8000),
                DataPoint::distance(&noon, &later, 5_000_000),
                DataPoint::floors(&noon, &later, 10),
                DataPoint::altitude(&noon, &later, 30_000),
                DataPoint::total_calories(&noon, &later, 2300.0),
                DataPoint::active_minutes(&noon, &later, "MODERATE", 20),
            ],
        );
    }

    /// A day of heart data for both: resting rate, zones, samples.
    fn add_heart(&self) {
        self.fitbit.set_resting_heart_rate(FRED_ID, DAY, 58);
        self.fitbit.set_intraday(
            FRED_ID,
            "heart",
            DAY,
            &[("12:00:10", 60.0), ("12:00:40", 71.0)],
        );
        let (noon, later) = (at("12:00:00"), at("12:20:00"));
        self.google.add_data_points(
            GINA_ID,
            [
                DataPoint::daily_resting_heart_rate(DAY, 58),
                DataPoint::daily_heart_rate_zones(
                    DAY,
                    &[
                        ("LIGHT", 30, 94),
                        ("MODERATE", 94, 131),
                        ("VIGOROUS", 131, 159),
                        ("PEAK", 159, 220),
                    ],
                ),
                DataPoint::time_in_heart_rate_zone(&noon, &later, "PEAK"),
                DataPoint::calories_in_heart_rate_zone(&noon, &later, "PEAK", 180.0),
                DataPoint::heart_rate(&at("12:00:10"), 60),
                DataPoint::heart_rate(&at("12:00:40"), 71),
            ],
        );
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "object",
    }
}

/// Walks `google` along `legacy`: every key Google has, the legacy answer
/// has with the same JSON type (list elements against the legacy entry of
/// the same `dateTime`, else the first);
/// the legacy keys Google lacks are collected as paths.
fn missing_keys(path: &str, legacy: &Value, google: &Value, out: &mut Vec<String>) {
    let at = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match (legacy, google) {
        (Value::Object(l), Value::Object(g)) => {
            for (k, gv) in g {
                let lv = l
                    .get(k)
                    .unwrap_or_else(|| panic!("{} is not a legacy key", at(k)));
                missing_keys(&at(k), lv, gv, out);
            }
            out.extend(l.keys().filter(|k| !g.contains_key(*k)).map(|k| at(k)));
        }
        (Value::Array(l), Value::Array(g)) => {
            for gv in g {
                // The legacy entry of the same day, else the first.
                let same_day = l.iter().find(|lv| {
                    lv.get("dateTime").is_some() && lv.get("dateTime") == gv.get("dateTime")
                });
                if let Some(lv) = same_day.or(l.first()) {
                    missing_keys(&format!("{path}[]"), lv, gv, out);
                }
            }
        }
        (l, g) => assert_eq!(kind(l), kind(g), "{path}: legacy {l}, google {g}"),
    }
}

/// The same keys and types, except exactly the documented `gaps`.
fn assert_parity(legacy: &Value, google: &Value, gaps: &[&str]) {
    let mut missing = Vec::new();
    missing_keys("", legacy, google, &mut missing);
    missing.sort();
    missing.dedup();
    let mut gaps: Vec<String> = gaps.iter().map(|g| g.to_string()).collect();
    gaps.sort();
    assert_eq!(missing, gaps, "\nlegacy: {legacy}\ngoogle: {google}");
}

fn non_empty<'a>(answer: &'a Value, pointer: &str) -> &'a Vec<Value> {
    let list = answer.pointer(pointer).and_then(Value::as_array);
    let list = list.unwrap_or_else(|| panic!("no list at {pointer}: {answer}"));
    assert!(!list.is_empty(), "empty {pointer}: {answer}");
    list
}

#[tokio::test(flavor = "multi_thread")]
async fn get_devices_lists_the_paired_devices() {
    let p = Parity::start("METRIC").await;
    p.google.add_paired_device(
        GINA_ID,
        "1234567890",
        serde_json::json!({
        "batteryStatus": "High", "batteryLevel": 90, "deviceVersion": "Aria Air",
        "deviceType": "SCALE", "features": [], "lastSyncTime": "2026-11-20T07:12:40Z",
        "macAddress": "AB12CD34EF56"}),
    );
    let (legacy, google) = p.both("methods=get_devices").await;
    non_empty(&google, "/devices");
    assert_parity(&legacy, &google, &[]);
}

#[tokio::test(flavor = "multi_thread")]
async fn user_profile_get_has_the_profile_settings_height_and_weight() {
    let p = Parity::start("METRIC").await;
    p.add_body_and_activity();
    let (legacy, google) = p.both("methods=user_profile_get").await;
    assert_parity(
        &legacy,
        &google,
        &[
            "user.avatar",
            "user.dateOfBirth",
            "user.displayName",
            "user.fullName",
            "user.gender",
        ],
    );
    for field in [
        "height",
        "weight",
        "strideLengthWalking",
        "memberSince",
        "encodedId",
    ] {
        assert_eq!(google["user"][field], legacy["user"][field], "{field}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn body_has_the_days_weight_fat_and_bmi() {
    let p = Parity::start("METRIC").await;
    p.add_body_and_activity();
    let (legacy, google) = p.both(&format!("methods=body&date={DAY}")).await;
    assert_parity(&legacy, &google, &[]);
    assert_eq!(google, legacy);
}

#[tokio::test(flavor = "multi_thread")]
async fn activities_has_the_days_summary() {
    let p = Parity::start("METRIC").await;
    p.add_body_and_activity();
    let (legacy, google) = p.both(&format!("methods=activities&date={DAY}")).await;
    assert_parity(
        &legacy,
        &google,
        // The logged activities are there now (Google's exercises).
        &[
            "goals",
            "summary.activityCalories",
            "summary.caloriesBMR",
            "summary.marginalCalories",
            "summary.sedentaryMinutes",
        ],
    );
    for field in ["steps", "floors", "elevation", "caloriesOut", "distances"] {
        assert_eq!(
            google["summary"][field], legacy["summary"][field],
            "{field}"
        );
    }
    assert_eq!(google["summary"]["fairlyActiveMinutes"], 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn intraday_time_series_has_the_windows_with_data() {
    let p = Parity::start("METRIC").await;
    p.fitbit.set_intraday(
        FRED_ID,
        "steps",
        DAY,
        &[("12:00:00", 30.0), ("12:01:00", 20.0)],
    );
    let minute = |m: u32| at(&format!("12:{m:02}:00"));
    p.google.add_data_points(
        GINA_ID,
        [
            DataPoint::steps(&minute(0), &minute(1), 30),
            DataPoint::steps(&minute(1), &minute(2), 20),
        ],
    );
    let query = format!(
        "methods=intraday_time_series&resource=activities/steps&base_date={DAY}\
        &detail_level=1min&start_time=12:00&end_time=12:14"
    );
    let (legacy, google) = p.both(&query).await;
    let dataset = non_empty(&google, "/activities-steps-intraday/dataset");
    assert_parity(&legacy, &google, &[]);
    // Only the minutes with data (the legacy API listed every minute).
    let values: Vec<&Value> = dataset.iter().map(|d| &d["value"]).collect();
    assert_eq!(values, [30, 20], "{google}");

    p.add_heart();
    let query = format!(
        "methods=intraday_time_series&resource=activities/heart&base_date={DAY}\
        &detail_level=1min"
    );
    let (legacy, google) = p.both(&query).await;
    let dataset = non_empty(&google, "/activities-heart-intraday/dataset");
    assert_eq!(
        dataset[0]["value"], 66,
        "the minute's mean, rounded: {google}"
    );
    assert_parity(
        &legacy,
        &google,
        &["activities-heart[].value.customHeartRateZones"],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn heart_has_the_legacy_heart_endpoint_shape() {
    let p = Parity::start("METRIC").await;
    p.add_heart();
    let (legacy, google) = p.both(&format!("methods=heart&date={DAY}")).await;
    non_empty(&google, "/average");
    assert_parity(&legacy, &google, &["heart"]);
    assert_eq!(google["average"], legacy["average"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn heart_time_series_has_resting_rate_and_zones() {
    let p = Parity::start("METRIC").await;
    p.add_heart();
    let query = format!("methods=time_series&resource=activities/heart&base_date={DAY}&period=7d");
    let (legacy, google) = p.both(&query).await;
    let days = non_empty(&google, "/activities-heart");
    assert_parity(
        &legacy,
        &google,
        &["activities-heart[].value.customHeartRateZones"],
    );
    let zones = days[0]["value"]["heartRateZones"].as_array().unwrap();
    let names: Vec<&str> = zones.iter().map(|z| z["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Out of Range", "Fat Burn", "Cardio", "Peak"]);
    assert_eq!(zones[3]["minutes"], 20);
    assert_eq!(zones[3]["caloriesOut"], 180);
}

#[tokio::test(flavor = "multi_thread")]
async fn calories_elevation_and_bmi_series_have_the_legacy_shape() {
    let p = Parity::start("METRIC").await;
    p.add_body_and_activity();
    for (resource, key) in [
        ("activities/calories", "activities-calories"),
        ("activities/elevation", "activities-elevation"),
        ("body/bmi", "body-bmi"),
    ] {
        let query = format!("methods=time_series&resource={resource}&base_date={DAY}&period=1d");
        let (legacy, google) = p.both(&query).await;
        non_empty(&google, &format!("/{key}"));
        assert_parity(&legacy, &google, &[]);
        assert_eq!(google, legacy, "{resource}");
    }
}

/// Weight, BMI, distance, elevation and height of the same data in one unit
/// system: Google's conversions give the legacy API's numbers.
async fn same_numbers_in(system: &str) {
    let p = Parity::start(system).await;
    p.add_body_and_activity();
    for query in [
        format!("methods=body&date={DAY}"),
        format!("methods=time_series&resource=activities/distance&base_date={DAY}&period=1d"),
        format!("methods=time_series&resource=activities/elevation&base_date={DAY}&period=1d"),
        format!("methods=time_series&resource=body/weight&base_date={DAY}&period=1d"),
    ] {
        let (legacy, google) = p.both(&query).await;
        assert_eq!(google, legacy, "{system} {query}");
    }
    let (legacy, google) = p.both("methods=user_profile_get").await;
    for field in [
        "height",
        "weight",
        "strideLengthWalking",
        "strideLengthRunning",
    ] {
        assert_eq!(
            google["user"][field], legacy["user"][field],
            "{system} {field}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn en_us_gives_pounds_miles_feet_and_inches() {
    same_numbers_in("en_US").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn en_gb_gives_stone_kilometres_metres_and_centimetres() {
    same_numbers_in("en_GB").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn metric_gives_kilograms_kilometres_metres_and_centimetres() {
    same_numbers_in("METRIC").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn roll_up_ranges_stay_within_googles_limits() {
    let p = Parity::start("METRIC").await;
    p.add_body_and_activity();
    p.google.clear_requests();
    // 184 days of steps (90-day limit) and a month of calories (14 days); the
    // fake refuses longer ranges, so success means every chunk fits.
    let steps = format!("methods=time_series&resource=activities/steps&base_date={DAY}&period=6m");
    let google = p.call(GINA, &steps).await;
    assert_eq!(google["activities-steps"][0]["value"], "8000");
    let calories =
        format!("methods=time_series&resource=activities/calories&base_date={DAY}&period=1m");
    p.call(GINA, &calories).await;
    let days = |r: &igor_test_support::RecordedRequest| {
        let body: Value = serde_json::from_str(&r.body).unwrap();
        let date = |k: &str| {
            let d = &body["range"][k]["date"];
            chrono::NaiveDate::from_ymd_opt(
                d["year"].as_i64().unwrap() as i32,
                d["month"].as_u64().unwrap() as u32,
                d["day"].as_u64().unwrap() as u32,
            )
            .unwrap()
        };
        (date("end") - date("start")).num_days()
    };
    let ranges = |data_type: &str| -> Vec<i64> {
        let path = format!("/v4/users/me/dataTypes/{data_type}/dataPoints:dailyRollUp");
        p.google
            .requests()
            .iter()
            .filter(|r| r.path == path)
            .map(days)
            .collect()
    };
    assert_eq!(ranges("steps"), [90, 90, 4]);
    assert_eq!(ranges("total-calories"), [14, 14, 3]);
}

/// Every read of python-fitbit 0.3.1 with arguments it needs, and whether
/// Google Health has its data.
const READS: &[(&str, bool)] = &[
    ("foods_log&date=2026-11-20", true),
    ("foods_log_water&date=2026-11-20", true),
    ("glucose&date=2026-11-20", true),
    ("bp&date=2026-11-20", false),
    ("get_sleep&date=2026-11-20", true),
    ("activity_stats", false),
    ("activity_stats&qualifier=recent", true),
    ("recent_activities", true),
    ("favorite_activities", false),
    ("frequent_activities", false),
    ("recent_foods", true),
    ("favorite_foods", false),
    ("frequent_foods", false),
    ("activities_list", false),
    ("activity_detail&activity_id=90013", false),
    ("body_weight_goal", false),
    ("body_fat_goal", false),
    ("activities_daily_goal", false),
    ("activities_weekly_goal", false),
    ("food_goal", false),
    ("water_goal", false),
    ("get_meals", false),
    ("get_alarms&device_id=123", false),
    ("get_badges", false),
    ("get_friends", false),
    ("get_friends_leaderboard&period=7d", false),
    ("food_units", false),
    ("food_detail&food_id=18", false),
    ("search_foods&query=rice", false),
    ("list_subscriptions", false),
];

#[tokio::test(flavor = "multi_thread")]
async fn every_read_answers_for_a_legacy_and_a_google_user() {
    let p = Parity::start("en_GB").await;
    use igor_test_support::fake_fitbit::FoodLog;
    p.fitbit
        .add_food(FRED_ID, FoodLog::new(DAY, "Oatmeal", 150.0, 7).meal(1));
    p.fitbit
        .add_day_log(FRED_ID, "water", DAY, "08:00", &[250.0]);
    p.fitbit
        .add_day_log(FRED_ID, "glucose", DAY, "07:15", &[99.0]);
    p.google.add_data_points(
        GINA_ID,
        [
            DataPoint::nutrition_log(
                &at("07:30:00"),
                &at("07:45:00"),
                serde_json::json!({"foodDisplayName": "Oatmeal", "mealType": "BREAKFAST",
                                   "energy": {"kcal": 150.0}}),
            ),
            DataPoint::hydration_log(&at("08:00:00"), 250.0),
            DataPoint::blood_glucose(&at("07:15:00"), 99.0, None),
            DataPoint::exercise(
                &at("17:00:00"),
                &at("17:30:00"),
                serde_json::json!({"exerciseType": "RUNNING", "displayName": "Running"}),
            ),
        ],
    );
    for (query, google_has_it) in READS {
        let query = format!("methods={query}");
        let (status, body) = p.status(FRED, &query).await;
        assert_eq!(status, 200, "legacy {query}: {body}");
        let (status, body) = p.status(GINA, &query).await;
        if *google_has_it {
            assert_eq!(status, 200, "google {query}: {body}");
        } else {
            assert_eq!(status, 501, "google {query}: {body}");
            assert!(body.contains("Google Health has no equivalent"), "{body}");
        }
    }
    // The same food, water and glucose, in the same legacy shapes and units.
    let (fred, gina) = p
        .both("methods=foods_log,foods_log_water,glucose&date=2026-11-20")
        .await;
    assert_eq!(
        fred["foods"][0]["loggedFood"]["name"],
        gina["foods"][0]["loggedFood"]["name"]
    );
    assert_eq!(fred["summary"]["calories"], gina["summary"]["calories"]);
    assert_eq!(fred["water"][0]["amount"], gina["water"][0]["amount"]);
    assert_eq!(fred["glucose"][0]["glucose"], gina["glucose"][0]["glucose"]);
    assert_eq!(fred["glucose"][0]["time"], gina["glucose"][0]["time"]);
    // Writes are refused for both, before anything is sent.
    for query in ["methods=log_activity", "methods=water_goal&target=2000"] {
        p.google.clear_requests();
        p.fitbit.clear_requests();
        for user in [FRED, GINA] {
            let (status, body) = p.status(user, query).await;
            assert_eq!(status, 400, "{user} {query}: {body}");
            assert!(body.contains("a write"), "{body}");
        }
        assert!(p.google.requests().is_empty() && p.fitbit.requests().is_empty());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn health_metrics_come_as_time_series_for_both() {
    let p = Parity::start("METRIC").await;
    for (resource, legacy, google_type, google) in [
        (
            "spo2",
            serde_json::json!({"avg": 96.5, "min": 94, "max": 99}),
            "daily-oxygen-saturation",
            serde_json::json!({"averagePercentage": 96.5}),
        ),
        (
            "hrv",
            serde_json::json!({"dailyRmssd": 34.9, "deepRmssd": 31.6}),
            "daily-heart-rate-variability",
            serde_json::json!({"averageHeartRateVariabilityMilliseconds": 34.9,
                            "deepSleepRootMeanSquareOfSuccessiveDifferencesMilliseconds": 31.6}),
        ),
        (
            "br",
            serde_json::json!({"breathingRate": 14.8}),
            "daily-respiratory-rate",
            serde_json::json!({"breathsPerMinute": 14.8}),
        ),
        (
            "temp/skin",
            serde_json::json!({"nightlyRelative": -0.5}),
            "daily-sleep-temperature-derivations",
            serde_json::json!({"nightlyTemperatureCelsius": 34.1, "baselineTemperatureCelsius": 34.6}),
        ),
        (
            "cardioscore",
            serde_json::json!({"vo2Max": "46.3"}),
            "daily-vo2-max",
            serde_json::json!({"vo2Max": 46.3}),
        ),
    ] {
        p.fitbit.set_metric(FRED_ID, resource, DAY, legacy);
        p.google
            .add_data_point(GINA_ID, DataPoint::daily(google_type, DAY, google));
        let query =
            format!("methods=time_series&resource={resource}&base_date=2026-11-19&end_date={DAY}");
        let (fred, gina) = p.both(&query).await;
        let key = match resource {
            "temp/skin" => "tempSkin",
            "cardioscore" => "cardioScore",
            other => other,
        };
        let (f, g) = (&fred[key][0], &gina[key][0]);
        assert_eq!(f["dateTime"], g["dateTime"], "{resource}: {fred} {gina}");
        for (field, value) in g["value"].as_object().unwrap() {
            assert_eq!(
                &f["value"][field], value,
                "{resource}.{field}: {fred} {gina}"
            );
        }
    }
}
