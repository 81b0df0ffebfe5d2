//! `projects.subscribers(.subscriptions)` (reference B3): creating a
//! subscriber (which verifies its endpoint before answering), listing and
//! deleting them, and subscribing users to a `MANUAL` subscriber. Every
//! call needs a `cloud-platform` token of the project.
//!
//! *Fake decisions* (not specified publicly):
//! * subscriberIds follow AIP-122: 1-63 of `[a-z0-9-]`, starting with a
//!   letter, not ending with `-`.
//! * `endpointAuthorization.secret` is required; `subscriberConfigs` and
//!   each config's `dataTypes` must not be empty.
//! * A subscription names an existing user and only data types of the
//!   subscriber's `MANUAL` configs; one subscription per user (409 after).
//!   Its optional `?subscriptionId=` becomes the notifications'
//!   `clientProvidedSubscriptionName` (default: the subscriberId).
//! * A subscription is answered as the resource itself, a deletion `{}`.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::State;
use super::api::{
    invalid_argument, not_found_page, scope_insufficient, status_error, unauthenticated,
};
use super::types::type_info;
use super::webhooks::{Config, Subscriber, Subscription, Webhooks};
use crate::util::{RecordedRequest, Shared, json_response, lock, random_token};

pub const CLOUD_PLATFORM_SCOPE: &str = "https://www.googleapis.com/auth/cloud-platform";
const SUBSCRIBER_TYPE: &str = "type.googleapis.com/google.devices.healthapi.v4.Subscriber";

type Reply = Result<Value, Response>;

pub(super) fn is_subscriber_path(path: &str) -> bool {
    path.starts_with("/v4/projects/")
}

pub(super) async fn handle(shared: &Shared<State>, req: RecordedRequest) -> Response {
    let path = req.path.clone();
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let reply = match (req.method.as_str(), &segs[2..]) {
        ("POST", [project, "subscribers"]) => create(shared, &req, project).await,
        ("GET", [project, "subscribers"]) => authed(shared, &req, project, |w, _| list(w, project)),
        ("DELETE", [project, "subscribers", id]) => {
            authed(shared, &req, project, |w, _| delete(w, project, id))
        }
        ("POST", [project, "subscribers", id, "subscriptions"]) => {
            authed(shared, &req, project, |w, st| {
                subscribe(w, st, &req, project, id)
            })
        }
        _ => Err(not_found_page(&req.path)),
    };
    match reply {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(r) => r,
    }
}

/// Runs `f` once the bearer token is a `cloud-platform` token of `project`.
fn authed(
    shared: &Shared<State>,
    req: &RecordedRequest,
    project: &str,
    f: impl FnOnce(&Webhooks, &State) -> Reply,
) -> Reply {
    let st = lock(&shared.state);
    authorize(&st, req, project)?;
    f(&st.webhooks, &st)
}

fn authorize(st: &State, req: &RecordedRequest, project: &str) -> Result<(), Response> {
    let Some(token) = req.bearer() else {
        return Err(unauthenticated(
            "Request is missing required authentication credential.",
            "CREDENTIALS_MISSING",
            false,
        ));
    };
    let token_project = st.webhooks.hooks().cloud_tokens.get(token).cloned();
    match token_project {
        Some(p) if p == project => Ok(()),
        Some(_) => Err(status_error(
            403,
            "PERMISSION_DENIED",
            &format!("Permission denied on resource project {project}."),
            json!([]),
        )),
        // A user's Health API token lacks the cloud-platform scope.
        None if st.access.get(token).is_some_and(|t| !t.revoked) => Err(scope_insufficient()),
        None => Err(unauthenticated(
            "Request had invalid authentication credentials.",
            "ACCESS_TOKEN_TYPE_UNSUPPORTED",
            true,
        )),
    }
}

async fn create(shared: &Shared<State>, req: &RecordedRequest, project: &str) -> Reply {
    let (webhooks, sub) = {
        let st = lock(&shared.state);
        authorize(&st, req, project)?;
        let sub = parse_subscriber(req, project)?;
        if exists(&st.webhooks, project, &sub.id) {
            return Err(already_exists(&sub));
        }
        (st.webhooks.clone(), sub)
    };
    if let Err(why) = webhooks.verify(&sub).await {
        return Err(status_error(400, "FAILED_PRECONDITION", &why, json!([])));
    }
    let mut hooks = webhooks.hooks();
    if hooks
        .subscribers
        .iter()
        .any(|s| s.project == project && s.id == sub.id)
    {
        return Err(already_exists(&sub));
    }
    hooks.subscribers.push(sub.clone());
    let mut response = sub.to_json();
    response["@type"] = json!(SUBSCRIBER_TYPE);
    Ok(json!({
        "name": format!("projects/{project}/operations/{}", random_token("", 24).to_lowercase()),
        "done": true,
        "response": response,
    }))
}

fn exists(webhooks: &Webhooks, project: &str, id: &str) -> bool {
    let hooks = webhooks.hooks();
    hooks
        .subscribers
        .iter()
        .any(|s| s.project == project && s.id == id)
}

fn already_exists(sub: &Subscriber) -> Response {
    status_error(
        409,
        "ALREADY_EXISTS",
        &format!("Subscriber {} already exists.", sub.name()),
        json!([]),
    )
}

fn parse_subscriber(req: &RecordedRequest, project: &str) -> Result<Subscriber, Response> {
    let id = req.query_value("subscriberId").unwrap_or_default();
    if !valid_id(id) {
        return Err(invalid_argument(&format!(
            "Invalid subscriberId: \"{id}\"."
        )));
    }
    let body: Value = serde_json::from_str(&req.body)
        .map_err(|e| invalid_argument(&format!("Invalid JSON payload received. {e}")))?;
    let endpoint = body["endpointUri"].as_str().unwrap_or_default();
    match url::Url::parse(endpoint) {
        Ok(u) if u.scheme() == "https" && u.host_str().is_some() => {}
        _ => {
            return Err(invalid_argument(&format!(
                "endpointUri must be an https URL, got \"{endpoint}\"."
            )));
        }
    }
    let secret = body["endpointAuthorization"]["secret"]
        .as_str()
        .unwrap_or_default();
    if secret.is_empty() {
        return Err(invalid_argument(
            "endpointAuthorization.secret is required.",
        ));
    }
    let configs = body["subscriberConfigs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if configs.is_empty() {
        return Err(invalid_argument("subscriberConfigs must not be empty."));
    }
    let configs = configs.iter().map(parse_config).collect::<Result<_, _>>()?;
    Ok(Subscriber {
        project: project.into(),
        id: id.into(),
        endpoint: endpoint.into(),
        configs,
        secret: secret.into(),
        subscriptions: Vec::new(),
    })
}

fn parse_config(c: &Value) -> Result<Config, Response> {
    let policy = c["subscriptionCreatePolicy"].as_str().unwrap_or_default();
    if !matches!(policy, "AUTOMATIC" | "MANUAL") {
        return Err(invalid_argument(&format!(
            "Invalid subscriptionCreatePolicy: \"{policy}\"; expected AUTOMATIC or MANUAL."
        )));
    }
    Ok(Config {
        data_types: data_types(&c["dataTypes"])?,
        policy: policy.into(),
    })
}

/// A non-empty list of data types the fake knows.
fn data_types(v: &Value) -> Result<Vec<String>, Response> {
    let types: Vec<String> = v
        .as_array()
        .map(|a| {
            a.iter()
                .map(|t| t.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default();
    if types.is_empty() {
        return Err(invalid_argument("dataTypes must not be empty."));
    }
    if let Some(t) = types.iter().find(|t| type_info(t).is_none()) {
        return Err(invalid_argument(&format!("Unsupported data type: {t}")));
    }
    Ok(types)
}

fn valid_id(id: &str) -> bool {
    let b = id.as_bytes();
    (1..=63).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && !id.ends_with('-')
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

fn list(webhooks: &Webhooks, project: &str) -> Reply {
    let subs: Vec<Value> = webhooks
        .hooks()
        .subscribers
        .iter()
        .filter(|s| s.project == project)
        .map(Subscriber::to_json)
        .collect();
    // proto3 JSON omits an empty list.
    Ok(if subs.is_empty() {
        json!({})
    } else {
        json!({"subscribers": subs})
    })
}

fn not_found(project: &str, id: &str) -> Response {
    status_error(
        404,
        "NOT_FOUND",
        &format!("Subscriber projects/{project}/subscribers/{id} not found."),
        json!([]),
    )
}

fn delete(webhooks: &Webhooks, project: &str, id: &str) -> Reply {
    let mut hooks = webhooks.hooks();
    let before = hooks.subscribers.len();
    hooks
        .subscribers
        .retain(|s| !(s.project == project && s.id == id));
    if hooks.subscribers.len() == before {
        return Err(not_found(project, id));
    }
    Ok(json!({}))
}

fn subscribe(
    webhooks: &Webhooks,
    st: &State,
    req: &RecordedRequest,
    project: &str,
    id: &str,
) -> Reply {
    let body: Value = serde_json::from_str(&req.body)
        .map_err(|e| invalid_argument(&format!("Invalid JSON payload received. {e}")))?;
    let user_name = body["user"].as_str().unwrap_or_default();
    let Some(user) = user_name.strip_prefix("users/").filter(|u| !u.is_empty()) else {
        return Err(invalid_argument(&format!(
            "Invalid user: \"{user_name}\"; expected users/{{healthUserId}}."
        )));
    };
    if !st.users.contains_key(user) {
        return Err(status_error(
            404,
            "NOT_FOUND",
            &format!("User {user_name} not found."),
            json!([]),
        ));
    }
    let types = data_types(&body["dataTypes"])?;
    let mut hooks = webhooks.hooks();
    let Some(sub) = hooks
        .subscribers
        .iter_mut()
        .find(|s| s.project == project && s.id == id)
    else {
        return Err(not_found(project, id));
    };
    let manual = |t: &String| {
        sub.configs
            .iter()
            .any(|c| c.policy == "MANUAL" && c.data_types.contains(t))
    };
    if let Some(t) = types.iter().find(|t| !manual(t)) {
        return Err(invalid_argument(&format!(
            "Data type {t} is not in a MANUAL config of subscriber {}.",
            sub.name()
        )));
    }
    if sub.subscriptions.iter().any(|s| s.user == user) {
        return Err(status_error(
            409,
            "ALREADY_EXISTS",
            &format!("{user_name} is already subscribed to {}.", sub.name()),
            json!([]),
        ));
    }
    let name = req.query_value("subscriptionId").unwrap_or(id).to_string();
    sub.subscriptions.push(Subscription {
        user: user.into(),
        data_types: types.clone(),
        name: name.clone(),
    });
    Ok(json!({
        "name": format!("{}/subscriptions/{name}", sub.name()),
        "user": user_name,
        "dataTypes": types,
    }))
}
