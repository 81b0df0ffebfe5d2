//! `POST /webhook`: Google Health's change notifications (a public route:
//! the subscriber secret and the signature authenticate it, never the
//! owner's credential), and `POST /webhook/sync?user=U`, the host task that
//! syncs a notified user as a run of their methods would.
//!
//! A notification is acknowledged (204) once its work is recorded durably:
//! the user's entry in [`inbox`] and a host task. Syncs of one user are
//! coalesced: one starts [`SETTLE_SECONDS`] after a notification, and at
//! most one per `webhook_min_sync_seconds`, whatever the number of
//! notifications.

pub mod inbox;
pub mod notification;
pub mod signature;

use serde_json::Value;

use crate::errors::{PluginError, Result, echo};
use crate::json::{as_list, as_text, text_field};
use crate::pages::WebhookView;
use crate::paths::{Paths, valid_user};
use crate::provider::AppSettings;
use crate::provider::google::scopes::data_types_of;
use igor_plugin_sdk::{Host, Level, Request, Response, TaskError};
use notification::Notification;

/// The host secret holding the subscriber's `endpointAuthorization`.
pub const WEBHOOK_SECRET: &str = "webhook_secret";
/// `plugindata/N` key: the PEM public keys notifications are signed with.
pub const PUBLIC_KEYS: &str = "webhook_public_keys";
/// The task path that syncs a user.
pub const SYNC_PATH: &str = "/webhook/sync";
/// How long after a notification its sync starts (a weigh-in often comes
/// with a few notifications at once).
pub const SETTLE_SECONDS: f64 = 1.0;
/// The setting of the least time between two syncs of one user, and its
/// default.
pub const MIN_SYNC_SECONDS_KEY: &str = "webhook_min_sync_seconds";
pub const DEFAULT_MIN_SYNC_SECONDS: f64 = 60.0;

/// The Google Health data types a user's methods read.
fn user_data_types(host: &dyn Host, paths: &Paths, user: &str) -> Result<Vec<&'static str>> {
    let (methods, args) = crate::index::user_methods(host, paths, user, None)?;
    Ok(data_types_of(&methods, &args))
}

/// The Google Health data types the methods of `users` read, in all.
fn data_types_of_users(
    host: &dyn Host,
    paths: &Paths,
    users: &[String],
) -> Result<Vec<&'static str>> {
    let mut types = Vec::new();
    for user in users {
        for t in user_data_types(host, paths, user)? {
            if !types.contains(&t) {
                types.push(t);
            }
        }
    }
    if types.is_empty() {
        types = data_types_of(&[], &Default::default());
    }
    Ok(types)
}

/// What the setup page shows about webhooks.
pub fn page_view(
    host: &dyn Host,
    request: &Request,
    paths: &Paths,
    app: &AppSettings,
    users: &[String],
) -> Result<WebhookView> {
    Ok(WebhookView {
        url: format!("{}/webhook", request.plugin_url()),
        api_url: crate::provider::endpoint(request, "google_api_url"),
        secret_is_set: host
            .secret_exists(WEBHOOK_SECRET)
            .map_err(PluginError::store)?,
        keys: public_keys(&app.document),
        data_types: data_types_of_users(host, paths, users)?,
    })
}

fn public_keys(app: &serde_json::Map<String, Value>) -> Vec<String> {
    app.get(PUBLIC_KEYS)
        .map(as_list)
        .unwrap_or_default()
        .iter()
        .filter_map(as_text)
        .collect()
}

/// The users with a Google token: their Google Health user id and the data
/// types their methods read. Read once per notification body.
struct Recipients(Vec<(String, String, Vec<&'static str>)>);

impl Recipients {
    fn read(host: &dyn Host, paths: &Paths) -> Result<Self> {
        let names = crate::users::list(host, paths)?;
        let mut found = Vec::new();
        for chunk in names.chunks(igor_plugin_sdk::MAX_GET_MANY) {
            let tokens: Vec<String> = chunk.iter().map(|u| paths.token(u)).collect();
            let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
            let documents = host.store_get_many(&refs).map_err(PluginError::store)?;
            for (name, document) in chunk.iter().zip(documents) {
                if let Some(id) = document.and_then(|(token, _)| text_field(&token, "healthUserId"))
                {
                    found.push((name.clone(), id, user_data_types(host, paths, name)?));
                }
            }
        }
        Ok(Self(found))
    }

    /// The users of `health_user_id`, each with the data types they read.
    fn of(&self, health_user_id: &str) -> impl Iterator<Item = (&str, &[&'static str])> {
        self.0
            .iter()
            .filter(move |(_, id, _)| id == health_user_id)
            .map(|(name, _, types)| (name.as_str(), types.as_slice()))
    }
}

fn count(host: &dyn Host, name: &str, value: u64) {
    if value > 0 {
        let _ = host.counter_add(name, value);
    }
}

fn refused(host: &dyn Host, status: u16, why: &str) -> Response {
    count(host, "webhook_notifications_refused", 1);
    host.log(Level::Warn, &format!("webhook refused: {why}"));
    Response::text(status, format!("Fitbitplugin webhook: {why}"))
}

/// Whether the request carries the subscriber secret as `Authorization`.
fn authorised(host: &dyn Host, request: &Request) -> Result<bool> {
    let Some(given) = request.header("authorization") else {
        return Ok(false);
    };
    host.secret_matches(WEBHOOK_SECRET, given)
        .map_err(PluginError::store)
}

/// `POST /webhook`.
pub fn receive(host: &dyn Host, request: &Request) -> Result<Response> {
    let paths = Paths::new(&request.context.plugin_name);
    // The subscriber verification carries the secret and no signature;
    // it has no effect beyond its answer.
    if notification::is_verification(&request.body) {
        return Ok(if authorised(host, request)? {
            Response::text(201, "verified")
        } else {
            refused(host, 401, "the verification lacks the subscriber secret")
        });
    }
    let keys = public_keys(&AppSettings::load(host, &paths)?.document);
    if let Err(refusal) = signature::verify(request, &keys) {
        return Ok(refused(host, 401, refusal.explain()));
    }
    if !authorised(host, request)? {
        return Ok(refused(
            host,
            401,
            "the subscriber secret is missing or wrong",
        ));
    }
    let notifications = match notification::parse(&request.body) {
        Ok(list) => list,
        Err(why) => return Ok(refused(host, 400, &why)),
    };
    count(
        host,
        "webhook_notifications_received",
        notifications.len() as u64,
    );
    let recipients = Recipients::read(host, &paths)?;
    for n in &notifications {
        if let Some(busy) = take(host, request, &paths, &recipients, n)? {
            return Ok(busy);
        }
    }
    Ok(Response {
        status: 204,
        headers: Vec::new(),
        body: Vec::new(),
    })
}

/// Records one notification and queues its sync; `Some` is the answer
/// when the work could not be kept (Google retries it).
fn take(
    host: &dyn Host,
    request: &Request,
    paths: &Paths,
    recipients: &Recipients,
    n: &Notification,
) -> Result<Option<Response>> {
    let inbox = paths.webhooks();
    let users: Vec<_> = recipients.of(&n.health_user_id).collect();
    if users.is_empty() {
        if inbox::first_mention(host, &inbox, &n.health_user_id)? {
            host.log(
                Level::Warn,
                &format!(
                    "webhook: no user of this plugin has Google Health user {} (acknowledged, \
                     not synced; logged once)",
                    n.health_user_id
                ),
            );
        }
        return Ok(None);
    }
    let now = host.now();
    for (user, data_types) in users {
        if !data_types.contains(&n.data_type.as_str()) {
            let sender = format!("{} {}", n.health_user_id, n.data_type);
            if inbox::first_mention(host, &inbox, &sender)? {
                host.log(
                    Level::Info,
                    &format!(
                        "webhook: {user}'s methods read no {} data (acknowledged, not synced; \
                         logged once)",
                        n.data_type
                    ),
                );
            }
            continue;
        }
        let before = inbox::received(host, &inbox, user, now)?;
        if before.first.is_some() {
            count(host, "webhook_notifications_coalesced", 1);
        }
        let due = before.next_sync(now, SETTLE_SECONDS, min_sync_seconds(request));
        let delay_ms = ((due - now).max(0.0) * 1000.0) as u64;
        match host.run_later(&format!("{SYNC_PATH}?user={user}"), delay_ms) {
            Ok(()) => {}
            // A store that keeps no tasks (Igor's): sync now, before the
            // acknowledgement, which then comes later than Google likes.
            Err(TaskError::Unavailable(why)) => {
                host.log(Level::Info, &format!("webhook: syncing {user} now ({why})"));
                sync_user(host, request, user)?;
            }
            Err(TaskError::LimitExceeded(why)) => {
                let mut busy = Response::text(503, format!("Fitbitplugin webhook: {why}"));
                busy.headers.push(("retry-after".into(), "60".into()));
                return Ok(Some(busy));
            }
            Err(TaskError::InvalidPath(why)) => return Err(PluginError::new(500, why)),
        }
    }
    Ok(None)
}

fn min_sync_seconds(request: &Request) -> f64 {
    request
        .config(MIN_SYNC_SECONDS_KEY)
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(DEFAULT_MIN_SYNC_SECONDS)
}

/// `POST /webhook/sync?user=U`, only as the host's task.
pub fn sync(host: &dyn Host, request: &Request) -> Result<Response> {
    if request.header(igor_plugin_sdk::TASK_HEADER) != Some("1") {
        return Err(PluginError::forbidden(
            "Fitbitplugin: /webhook/sync runs only as the host's task",
        ));
    }
    let user = request.query("user").unwrap_or_default();
    if !valid_user(user) {
        return Err(PluginError::bad_request(format!(
            "Fitbitplugin: {:?} is not a valid user name",
            echo(user)
        )));
    }
    sync_user(host, request, user)
}

/// Runs `user`'s methods as Igor's action does, and settles their inbox.
fn sync_user(host: &dyn Host, request: &Request, user: &str) -> Result<Response> {
    let paths = Paths::new(&request.context.plugin_name);
    let inbox = paths.webhooks();
    let started = host.now();
    let owed = inbox::sync_started(host, &inbox, user, started)?;
    let run = Request {
        method: "GET".into(),
        path: "/".into(),
        query: vec![("user".into(), user.into())],
        headers: Vec::new(),
        body: Vec::new(),
        context: request.context.clone(),
    };
    let response = crate::index::handle(host, &run).unwrap_or_else(PluginError::into_response);
    let retry_after = response
        .headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
        .and_then(|(_, v)| crate::errors::retry_seconds(v));
    match (response.status, retry_after) {
        // Over a quota, or another request refreshing: try again later.
        (429 | 503, Some(seconds)) => {
            let path = format!("{SYNC_PATH}?user={user}");
            host.run_later(&path, seconds.saturating_mul(1000))
                .map_err(|e| PluginError::new(503, format!("{e:?}")))?;
        }
        (status, _) => {
            inbox::sync_ended(host, &inbox, user, started)?;
            if (200..300).contains(&status)
                && let Some(first) = owed.first
            {
                let _ = host.observe_seconds("webhook_lag_seconds", (host.now() - first).max(0.0));
            } else if !(200..300).contains(&status) {
                host.log(
                    Level::Warn,
                    &format!("webhook: the sync of {user} answered {status}; not retried"),
                );
            }
        }
    }
    Ok(response)
}
