//! The user's account: identity (any read scope), settings (settings scope),
//! profile (profile scope; stride lengths only with the activity scope, as
//! its reference says) and paired devices (settings scope; paged, default 5,
//! at most 100 per page).

use serde_json::{Value, json};

use super::api::{Authed, Reply, scope_insufficient, status_error};
use super::paging::{offset_of, page, page_size, query_page_size};
use super::{SCOPE_ACTIVITY, SCOPE_PREFIX, SCOPE_PROFILE, SCOPE_SETTINGS, State};
use crate::util::RecordedRequest;

/// Profile fields the activity scope unlocks.
const STRIDE_FIELDS: &[&str] = &[
    "autoRunningStrideLengthMm",
    "autoWalkingStrideLengthMm",
    "userConfiguredRunningStrideLengthMm",
    "userConfiguredWalkingStrideLengthMm",
];

pub(super) fn identity(st: &mut State, a: &Authed) -> Reply {
    if !a
        .scopes
        .iter()
        .any(|s| s.starts_with(SCOPE_PREFIX) && s.ends_with(".readonly"))
    {
        return Err(scope_insufficient());
    }
    let u = st.user_mut(&a.user);
    Ok(
        json!({"name": format!("users/{}/identity", a.user), "healthUserId": a.user,
              "legacyUserId": u.legacy_id}),
    )
}

pub(super) fn settings(st: &mut State, a: &Authed) -> Reply {
    if !a.has(SCOPE_SETTINGS) {
        return Err(scope_insufficient());
    }
    let user = &a.user;
    let mut v = json!({
        "name": format!("users/{user}/settings"),
        "autoStrideEnabled": true,
        "distanceUnit": "DISTANCE_UNIT_KILOMETERS",
        "foodLanguageCode": "en-GB",
        "glucoseUnit": "GLUCOSE_UNIT_MMOL_L",
        "heightUnit": "HEIGHT_UNIT_CENTIMETERS",
        "languageLocale": "en_GB",
        "strideLengthRunningType": "STRIDE_LENGTH_TYPE_DEFAULT",
        "strideLengthWalkingType": "STRIDE_LENGTH_TYPE_DEFAULT",
        "swimUnit": "SWIM_UNIT_METERS",
        "temperatureUnit": "TEMPERATURE_UNIT_CELSIUS",
        "timeZone": "Europe/London",
        "utcOffset": "0s",
        "waterUnit": "WATER_UNIT_ML",
        "weightUnit": "WEIGHT_UNIT_KILOGRAMS",
    });
    let obj = v.as_object_mut().expect("object");
    if let Some(zone) = st.user_mut(user).zone.clone() {
        let tz = jiff::tz::TimeZone::get(&zone).expect("a known zone");
        let now = jiff::Timestamp::from_second(st.clock.now().timestamp()).expect("a time");
        obj.insert("timeZone".into(), json!(zone));
        obj.insert(
            "utcOffset".into(),
            json!(format!("{}s", tz.to_offset(now).seconds())),
        );
    }
    obj.extend(st.user_mut(user).settings.clone());
    Ok(v)
}

pub(super) fn profile(st: &mut State, a: &Authed) -> Reply {
    if !a.has(SCOPE_PROFILE) {
        return Err(scope_insufficient());
    }
    let user = &a.user;
    let mut v = json!({
        "name": format!("users/{user}/profile"),
        "age": 40,
        "membershipStartDate": {"year": 2016, "month": 1, "day": 1},
        "autoRunningStrideLengthMm": 1120,
        "autoWalkingStrideLengthMm": 716,
    });
    let obj = v.as_object_mut().expect("object");
    obj.extend(st.user_mut(user).profile.clone());
    obj.retain(|_, v| !v.is_null());
    if !a.has(SCOPE_ACTIVITY) {
        obj.retain(|k, _| !STRIDE_FIELDS.contains(&k.as_str()));
    }
    Ok(v)
}

fn device_json(user: &str, id: &str, fields: &Value) -> Value {
    let mut v = json!({"name": format!("users/{user}/pairedDevices/{id}")});
    if let (Some(o), Some(extra)) = (v.as_object_mut(), fields.as_object()) {
        o.extend(extra.clone());
    }
    v
}

pub(super) fn paired_devices(st: &mut State, req: &RecordedRequest, a: &Authed) -> Reply {
    if !a.has(SCOPE_SETTINGS) {
        return Err(scope_insufficient());
    }
    let size = page_size(query_page_size(req.query_value("pageSize"))?, 5, 100)?;
    let key = format!("devices|{}", a.user);
    let offset = offset_of(req.query_value("pageToken"), &key)?;
    let devices: Vec<Value> = st
        .user_mut(&a.user)
        .devices
        .iter()
        .map(|(id, fields)| device_json(&a.user, id, fields))
        .collect();
    Ok(page(&devices, "pairedDevices", offset, size, &key))
}

pub(super) fn paired_device(st: &mut State, a: &Authed, id: &str) -> Reply {
    if !a.has(SCOPE_SETTINGS) {
        return Err(scope_insufficient());
    }
    let user = a.user.clone();
    match st.user_mut(&user).devices.iter().find(|(d, _)| d == id) {
        Some((id, fields)) => Ok(device_json(&user, id, fields)),
        None => Err(status_error(
            404,
            "NOT_FOUND",
            &format!("Device users/{user}/pairedDevices/{id} was not found."),
            json!([]),
        )),
    }
}
