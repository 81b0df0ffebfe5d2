//! python-fitbit's writes: the methods that POST or DELETE, and the read
//! methods that write when given what to write (`body(data=...)`,
//! `water_goal(target=...)`). The plugin answers a GET and only reads, so
//! each is refused, naming it, before anything is sent.

use std::collections::BTreeMap;

use crate::errors::{PluginError, echo};

/// The methods of python-fitbit 0.3.1 that write, and what they do.
pub const WRITE_METHODS: &[(&str, &str)] = &[
    ("user_profile_update", "updates the profile"),
    ("log_activity", "logs an activity"),
    ("log_sleep", "logs a sleep"),
    ("create_food", "creates a food"),
    ("delete_activities", "deletes an activity log"),
    ("delete_foods_log", "deletes a food log"),
    ("delete_foods_log_water", "deletes a water log"),
    ("delete_sleep", "deletes a sleep log"),
    ("delete_heart", "deletes a heart rate log"),
    ("delete_bp", "deletes a blood pressure log"),
    ("add_favorite_activity", "adds a favourite activity"),
    ("delete_favorite_activity", "deletes a favourite activity"),
    ("add_favorite_food", "adds a favourite food"),
    ("delete_favorite_food", "deletes a favourite food"),
    ("add_alarm", "adds an alarm"),
    ("update_alarm", "updates an alarm"),
    ("delete_alarm", "deletes an alarm"),
    ("invite_friend", "invites a friend"),
    ("invite_friend_by_email", "invites a friend"),
    ("invite_friend_by_userid", "invites a friend"),
    ("respond_to_invite", "answers a friend invitation"),
    ("accept_invite", "accepts a friend invitation"),
    ("reject_invite", "rejects a friend invitation"),
    ("subscription", "creates or deletes a subscription"),
];

/// Read methods that write when given these arguments (python-fitbit POSTs
/// then, to the same collection).
const WRITING_ARGUMENTS: &[(&str, &[&str])] = &[
    ("body", &["data"]),
    ("activities", &["data"]),
    ("foods_log", &["data"]),
    ("foods_log_water", &["data"]),
    ("sleep", &["data"]),
    ("heart", &["data"]),
    ("bp", &["data"]),
    ("glucose", &["data"]),
    ("body_fat_goal", &["fat"]),
    (
        "body_weight_goal",
        &["start_date", "start_weight", "weight"],
    ),
    (
        "activities_daily_goal",
        &[
            "calories_out",
            "active_minutes",
            "floors",
            "distance",
            "steps",
        ],
    ),
    ("activities_weekly_goal", &["distance", "floors", "steps"]),
    ("food_goal", &["calories", "intensity", "personalized"]),
    ("water_goal", &["target"]),
];

/// The refusal of `method` called with `args`, when that would write.
pub fn write_refusal(method: &str, args: &BTreeMap<String, String>) -> Option<PluginError> {
    let what = if let Some((_, what)) = WRITE_METHODS.iter().find(|(m, _)| *m == method) {
        format!("{method} {what}")
    } else {
        let (_, writing) = WRITING_ARGUMENTS.iter().find(|(m, _)| *m == method)?;
        let given: Vec<&str> = writing
            .iter()
            .copied()
            .filter(|a| args.contains_key(*a))
            .collect();
        if given.is_empty() {
            return None;
        }
        format!(
            "{method} with '{}' writes what it is given",
            given.join("', '")
        )
    };
    Some(PluginError::bad_request(format!(
        "Fitbitplugin: {} (a write: python-fitbit would POST or DELETE). The plugin only \
         reads, and performs no writes from a GET; call {} without what to write, or make \
         the change in the Fitbit app.",
        echo(&what),
        echo(method)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn writes_are_named_and_reads_pass() {
        let refusal = write_refusal("log_activity", &args(&[])).unwrap();
        assert_eq!(refusal.status, 400);
        assert!(refusal.message.contains("log_activity logs an activity"));
        assert!(refusal.message.contains("a write"));
        let goal = write_refusal("water_goal", &args(&[("target", "2000")])).unwrap();
        assert!(
            goal.message.contains("water_goal with 'target'"),
            "{}",
            goal.message
        );
        assert!(write_refusal("water_goal", &args(&[])).is_none());
        assert!(write_refusal("body", &args(&[("date", "today")])).is_none());
        assert!(write_refusal("body", &args(&[("data", "{}")])).is_some());
    }
}
