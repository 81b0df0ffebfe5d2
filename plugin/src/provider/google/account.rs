//! The user's account in the legacy shapes: `user_profile_get`
//! (`{"user": {...}}` from the profile, the settings, the latest height and
//! weight) and `get_devices` (`{"devices": [...]}` from the paired
//! devices). Fields Google does not have are left out.

use serde_json::{Map, Value, json};

use super::convert::{self, Units, Zone, instant, legacy_unit_system, parse_duration};
use super::scopes::{SCOPE_METRICS, SCOPE_PROFILE, SCOPE_SETTINGS};
use super::shape::{
    DEVICE_PAGE_FIELDS, DevicePage, PROFILE_FIELDS, PairedDevice, Profile, Settings, ShapeError,
    next_page,
};
use super::sync::WEIGHT;
use super::transport::{Answer, Ctx, Fields, keyed};
use super::{GoogleHealth, granted};
use crate::json::field;
use crate::provider::RunState;
use igor_plugin_sdk::FetchRequest;

/// Paired devices per page (the API's maximum).
pub const DEVICE_PAGE_SIZE: u32 = 100;

/// Legacy profile unit fields and the settings they come from.
fn unit_fields(settings: &Settings) -> [(&'static str, &Option<String>); 7] {
    [
        ("distanceUnit", &settings.distance_unit),
        ("glucoseUnit", &settings.glucose_unit),
        ("heightUnit", &settings.height_unit),
        ("swimUnit", &settings.swim_unit),
        ("temperatureUnit", &settings.temperature_unit),
        ("waterUnit", &settings.water_unit),
        ("weightUnit", &settings.weight_unit),
    ]
}

/// `STRIDE_LENGTH_TYPE_MANUAL` → `manual`, as the legacy profile wrote it.
fn stride_type(kind: &str) -> Option<String> {
    let short = kind.strip_prefix("STRIDE_LENGTH_TYPE_")?;
    (short != "UNSPECIFIED").then(|| short.to_ascii_lowercase())
}

/// The stride in use: the user's own when they set it, else the automatic
/// one, in millimetres.
fn stride(kind: Option<&str>, configured: Option<i32>, auto: Option<i32>) -> Option<i32> {
    let configured = configured.filter(|mm| *mm > 0);
    let auto = auto.filter(|mm| *mm > 0);
    match kind {
        Some("STRIDE_LENGTH_TYPE_MANUAL") => configured.or(auto),
        _ => auto.or(configured),
    }
}

/// The legacy `user` fields of the settings.
fn settings_fields(user: &mut Map<String, Value>, settings: &Settings) -> Result<(), ShapeError> {
    for (field, unit) in unit_fields(settings) {
        if let Some(system) = unit.as_deref().and_then(legacy_unit_system) {
            user.insert(field.into(), json!(system));
        }
    }
    if let Some(zone) = &settings.time_zone {
        user.insert("timezone".into(), json!(zone));
    }
    if let Some(offset) = &settings.utc_offset {
        let seconds = parse_duration(offset)
            .ok_or_else(|| ShapeError::new(format!("utcOffset {offset:?} is not a duration")))?;
        user.insert("offsetFromUTCMillis".into(), json!(seconds * 1000));
    }
    if let Some(locale) = &settings.language_locale {
        user.insert("locale".into(), json!(locale));
    }
    if let Some(auto) = settings.auto_stride_enabled {
        user.insert("autoStrideEnabled".into(), json!(auto));
    }
    for (field, kind) in [
        (
            "strideLengthRunningType",
            &settings.stride_length_running_type,
        ),
        (
            "strideLengthWalkingType",
            &settings.stride_length_walking_type,
        ),
    ] {
        if let Some(short) = kind.as_deref().and_then(stride_type) {
            user.insert(field.into(), json!(short));
        }
    }
    Ok(())
}

/// The legacy `user` fields of the profile (strides in the height unit).
fn profile_fields(
    user: &mut Map<String, Value>,
    profile: &Profile,
    settings: Option<&Settings>,
    units: Units,
) -> Result<(), ShapeError> {
    if let Some(age) = profile.age {
        user.insert("age".into(), json!(age));
    }
    if let Some(since) = profile.membership_start_date {
        user.insert("memberSince".into(), json!(since.date()?.to_string()));
    }
    let kind = |f: fn(&Settings) -> &Option<String>| settings.and_then(|s| f(s).as_deref());
    let strides = [
        (
            "strideLengthRunning",
            stride(
                kind(|s| &s.stride_length_running_type),
                profile.user_configured_running_stride_length_mm,
                profile.auto_running_stride_length_mm,
            ),
        ),
        (
            "strideLengthWalking",
            stride(
                kind(|s| &s.stride_length_walking_type),
                profile.user_configured_walking_stride_length_mm,
                profile.auto_walking_stride_length_mm,
            ),
        ),
    ];
    for (field, mm) in strides {
        if let Some(mm) = mm {
            user.insert(field.into(), json!(units.height(f64::from(mm))));
        }
    }
    Ok(())
}

/// One paired device in the legacy shape.
fn device_entry(device: &PairedDevice, zone: &Zone) -> Result<Value, ShapeError> {
    let mut entry = Map::new();
    if let Some(status) = &device.battery_status {
        entry.insert("battery".into(), json!(status));
    }
    if let Some(level) = device.battery_level {
        entry.insert("batteryLevel".into(), json!(level));
    }
    if let Some(version) = &device.device_version {
        entry.insert("deviceVersion".into(), json!(version));
    }
    if let Some(features) = &device.features {
        entry.insert("features".into(), json!(features));
    }
    let id = device.name.rsplit('/').next().unwrap_or_default();
    if !id.is_empty() {
        entry.insert("id".into(), json!(id));
    }
    if let Some(time) = &device.last_sync_time {
        let local = zone.civil(instant(time)?);
        entry.insert("lastSyncTime".into(), json!(local.legacy_timestamp()));
    }
    if let Some(mac) = &device.mac_address {
        entry.insert("mac".into(), json!(mac));
    }
    if let Some(kind) = device
        .device_type
        .as_deref()
        .filter(|k| *k != "DEVICE_TYPE_UNSPECIFIED")
    {
        entry.insert("type".into(), json!(kind));
    }
    Ok(Value::Object(entry))
}

impl GoogleHealth {
    /// `user_profile_get`: the profile (profile scope), with the settings,
    /// the latest height and weight where their scopes were granted.
    pub(super) fn user_profile(&self, cx: &Ctx, state: &mut RunState) -> Answer<Fields> {
        let what = "the user's profile";
        let mut answer = Map::new();
        let call = "user_profile_get";
        // Each part needs its own scope: read those granted, note the rest.
        let profile: Profile = if granted(state, SCOPE_PROFILE) {
            self.get(cx, "profile", what, PROFILE_FIELDS)?
        } else {
            let part = "the profile (age, member since, strides)";
            self.left_out(cx, &mut answer, call, part, SCOPE_PROFILE);
            Profile::default()
        };
        let settings = if granted(state, SCOPE_SETTINGS) {
            self.settings(cx)?
        } else {
            let part = "the settings (time zone, locale, units)";
            self.left_out(cx, &mut answer, call, part, SCOPE_SETTINGS);
            None
        };
        let units = match (cx.system, &settings) {
            (Some(system), _) => Units::from_system(system),
            (None, Some(settings)) => Units::from_settings(settings),
            (None, None) => Units::METRIC,
        };
        let mut user = Map::new();
        if let Some(id) = field(&state.token, "legacyUserId") {
            user.insert("encodedId".into(), json!(id));
        }
        profile_fields(&mut user, &profile, settings.as_ref(), units)
            .map_err(|e| Self::bad_shape(cx, what, e))?;
        if let Some(settings) = &settings {
            settings_fields(&mut user, settings)
                .map_err(|e| Self::bad_shape(cx, "the user's settings", e))?;
        }
        if !granted(state, SCOPE_METRICS) {
            let part = "height and weight";
            self.left_out(cx, &mut answer, call, part, SCOPE_METRICS);
        } else {
            if let Some(meters) = self.height(cx, state)? {
                user.insert("height".into(), json!(units.height(meters * 1000.0)));
            }
            let points: Vec<_> = self.latest(cx, "weight", None)?.into_iter().collect();
            if let Some((_, measured)) = self.samples(cx, &WEIGHT, &points)?.first() {
                let grams = convert::required(measured.weight_grams, "weightGrams")
                    .map_err(|e| Self::bad_shape(cx, "the weight list", e))?;
                user.insert("weight".into(), json!(units.weight(grams)));
            }
        }
        answer.insert("user".into(), Value::Object(user));
        Ok(answer)
    }

    /// `get_devices`: the paired trackers and scales, all pages.
    pub(super) fn devices(&self, cx: &Ctx) -> Answer<Fields> {
        let what = "the paired devices";
        let base = format!(
            "{}/v4/users/me/pairedDevices?pageSize={DEVICE_PAGE_SIZE}",
            self.api_url
        );
        let request = |page: Option<&str>| {
            let url = match page {
                Some(page) => format!("{base}&pageToken={}", super::transport::encode(page)),
                None => base.clone(),
            };
            FetchRequest::get(url).bearer(cx.token)
        };
        let pages: Vec<DevicePage> =
            self.pages(cx, what, DEVICE_PAGE_FIELDS, request, |p: &DevicePage| {
                next_page(&p.next_page_token)
            })?;
        let devices = pages
            .iter()
            .flat_map(|p| &p.paired_devices)
            .map(|d| device_entry(d, &self.local().zone))
            .collect::<Result<Vec<Value>, ShapeError>>()
            .map_err(|e| Self::bad_shape(cx, what, e))?;
        Ok(keyed("devices", Value::Array(devices)))
    }
}

#[cfg(test)]
mod tests {
    use super::super::shape::decode;
    use super::*;

    #[test]
    fn devices_keep_the_legacy_fields() {
        let device: PairedDevice = decode(&json!({"name": "users/me/pairedDevices/123",
            "batteryLevel": 90, "batteryStatus": "High", "deviceType": "SCALE",
            "deviceVersion": "Aria Air", "features": [], "lastSyncTime": "2026-11-20T06:12:40Z",
            "macAddress": "AB12CD34EF56"}))
        .unwrap();
        assert_eq!(
            device_entry(&device, &Zone::fixed(3600)).unwrap(),
            json!({"battery": "High", "batteryLevel": 90, "deviceVersion": "Aria Air",
                   "features": [], "id": "123", "lastSyncTime": "2026-11-20T07:12:40.000",
                   "mac": "AB12CD34EF56", "type": "SCALE"})
        );
        let bare: PairedDevice = decode(&json!({"name": "users/me/pairedDevices/9"})).unwrap();
        assert_eq!(
            device_entry(&bare, &Zone::fixed(0)).unwrap(),
            json!({"id": "9"})
        );
    }

    #[test]
    fn strides_prefer_what_the_user_set_when_manual() {
        let manual = Some("STRIDE_LENGTH_TYPE_MANUAL");
        assert_eq!(stride(manual, Some(700), Some(650)), Some(700));
        assert_eq!(stride(None, Some(700), Some(650)), Some(650));
        assert_eq!(stride(None, Some(700), None), Some(700));
        assert_eq!(stride(manual, None, Some(0)), None);
        assert_eq!(
            stride_type("STRIDE_LENGTH_TYPE_AUTO").as_deref(),
            Some("auto")
        );
        assert_eq!(stride_type("STRIDE_LENGTH_TYPE_UNSPECIFIED"), None);
    }
}
