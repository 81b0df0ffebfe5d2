//! The user's profile, settings and paired devices.

use serde::Deserialize;

use super::DateParts;

/// Fields of `GET /v4/users/me/profile`.
pub const PROFILE_FIELDS: &[&str] = &[
    "name",
    "age",
    "membershipStartDate",
    "autoRunningStrideLengthMm",
    "autoWalkingStrideLengthMm",
    "userConfiguredRunningStrideLengthMm",
    "userConfiguredWalkingStrideLengthMm",
];

/// `Profile`. Stride lengths come only with the activity scope.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub age: Option<i32>,
    pub membership_start_date: Option<DateParts>,
    pub auto_running_stride_length_mm: Option<i32>,
    pub auto_walking_stride_length_mm: Option<i32>,
    pub user_configured_running_stride_length_mm: Option<i32>,
    pub user_configured_walking_stride_length_mm: Option<i32>,
}

/// Fields of `GET /v4/users/me/settings`.
pub const SETTINGS_FIELDS: &[&str] = &[
    "name",
    "autoStrideEnabled",
    "distanceUnit",
    "foodLanguageCode",
    "glucoseUnit",
    "heightUnit",
    "languageLocale",
    "strideLengthRunningType",
    "strideLengthWalkingType",
    "swimUnit",
    "temperatureUnit",
    "timeZone",
    "utcOffset",
    "waterUnit",
    "weightUnit",
];

/// `Settings`: display units (enum names), time zone, locale, strides.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub auto_stride_enabled: Option<bool>,
    pub distance_unit: Option<String>,
    pub glucose_unit: Option<String>,
    pub height_unit: Option<String>,
    pub language_locale: Option<String>,
    pub stride_length_running_type: Option<String>,
    pub stride_length_walking_type: Option<String>,
    pub swim_unit: Option<String>,
    pub temperature_unit: Option<String>,
    pub time_zone: Option<String>,
    /// A `google.protobuf.Duration` (`"3600s"`).
    pub utc_offset: Option<String>,
    pub water_unit: Option<String>,
    pub weight_unit: Option<String>,
}

/// Fields of `GET /v4/users/me/pairedDevices`.
pub const DEVICE_PAGE_FIELDS: &[&str] = &["pairedDevices", "nextPageToken"];

/// `ListPairedDevicesResponse`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DevicePage {
    #[serde(default)]
    pub paired_devices: Vec<PairedDevice>,
    pub next_page_token: Option<String>,
}

/// `PairedDevice`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PairedDevice {
    /// `users/{user}/pairedDevices/{id}`.
    #[serde(default)]
    pub name: String,
    pub battery_level: Option<i32>,
    pub battery_status: Option<String>,
    pub device_type: Option<String>,
    pub device_version: Option<String>,
    pub features: Option<Vec<String>>,
    pub last_sync_time: Option<String>,
    pub mac_address: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::super::{decode, decode_answer};
    use super::*;
    use serde_json::json;

    #[test]
    fn account_answers_are_typed() {
        let profile: Profile = decode_answer(
            &json!({"name": "users/me/profile", "age": 40, "membershipStartDate": {"year": 2016, "month": 1, "day": 1}}),
            PROFILE_FIELDS,
        )
        .unwrap();
        assert_eq!(profile.age, Some(40));
        assert!(decode::<Profile>(&json!({"age": "forty"})).is_err());
        let page: DevicePage = decode(
            &json!({"pairedDevices": [{"name": "users/me/pairedDevices/7",
            "batteryLevel": 80, "features": ["STEPS"]}]}),
        )
        .unwrap();
        assert_eq!(page.paired_devices[0].battery_level, Some(80));
        assert!(
            decode::<DevicePage>(&json!({"pairedDevices": [{"batteryLevel": "high"}]})).is_err()
        );
        assert!(decode_answer::<Settings>(&json!({"weight": "lots"}), SETTINGS_FIELDS).is_err());
    }
}
