//! What the plugin's fuzz targets share: installations in an in-memory
//! host and a way to cut one fuzz input into several strings.

use fitbit::testing::{MemoryHost, response};
use serde_json::json;

/// The input cut at its 0xFF bytes (never part of UTF-8) into at most `n`
/// strings; missing parts are empty.
pub fn parts(data: &[u8], n: usize) -> Vec<String> {
    let mut parts: Vec<String> = data
        .splitn(n, |b| *b == 0xFF)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    parts.resize(n, String::new());
    parts
}

/// An installation with jack (legacy Fitbit) and jill (Google Health),
/// both with fresh tokens, every upstream answering `body` with `status`.
pub fn installation(status: u16, body: Vec<u8>) -> MemoryHost {
    let host = MemoryHost::default();
    host.put(
        "plugindata/fitbit",
        json!({"client_id": "22ABCD", "provider": "google-health"}),
    );
    host.secrets
        .borrow_mut()
        .insert("client_secret".into(), "s3cret".into());
    let later = host.now.get() + 3600.0;
    host.put(
        "identities/jack/plugindata/fitbit/token",
        json!({"access_token": "A1", "refresh_token": "R1", "expires_at": later,
               "provider": "fitbit", "user_id": "GGNJL9"}),
    );
    host.put(
        "identities/jill/plugindata/fitbit/token",
        json!({"access_token": "ya29.A", "refresh_token": "1//R", "expires_at": later,
               "provider": "google-health", "healthUserId": "1",
               "scope": "https://www.googleapis.com/auth/googlehealth.health_metrics_and_measurements.readonly https://www.googleapis.com/auth/googlehealth.activity_and_fitness.readonly https://www.googleapis.com/auth/googlehealth.sleep.readonly https://www.googleapis.com/auth/googlehealth.settings.readonly"}),
    );
    host.respond(move |_| {
        let mut answer = response(status, json!(null))?;
        answer.body = body.clone();
        Ok(answer)
    });
    host
}
