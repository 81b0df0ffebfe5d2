//! Google Health webhooks (reference B3): the subscribers a project
//! registered, who hears of which change, the endpoint verification, and
//! notifications sent in the background with retries.
//!
//! *Fake decisions* (not specified publicly):
//! * Notifications go out when a test changes data: one per data type of
//!   the change (a batch of points gives one notification with an interval
//!   per point), to every subscriber with a config naming the type: under
//!   `AUTOMATIC` for every user, under `MANUAL` for users subscribed to it.
//! * `clientProvidedSubscriptionName` is the subscriberId under
//!   `AUTOMATIC`, and the subscription's name under `MANUAL`.
//! * Every POST carries the signature header, verification probes too; it
//!   is computed at each attempt with the key current then.
//! * A 2xx answer is a delivery; anything else, or no answer, is retried
//!   (`retries` times, the delay doubling from `first_delay`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use p256::ecdsa::SigningKey;
use serde_json::{Value, json};
use tokio::runtime::Handle;

use super::delivery::{self, Delivery, Interval, Notification, NotificationShape};
use crate::util::lock;

pub const DEFAULT_SIGNATURE_HEADER: &str = "X-HEALTHAPI-SIGNATURE";
pub const DEFAULT_DELIVERY_RETRIES: u32 = 3;
pub const DEFAULT_FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);
/// How long the fake waits for an endpoint's answer.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// The webhook side of the fake; clones share it (delivery tasks hold one).
#[derive(Clone)]
pub(crate) struct Webhooks(Arc<Inner>);

struct Inner {
    runtime: Handle,
    http: reqwest::Client,
    hooks: Mutex<Hooks>,
}

pub(crate) struct Hooks {
    pub subscribers: Vec<Subscriber>,
    /// `cloud-platform` access tokens and the project each is for.
    pub cloud_tokens: HashMap<String, String>,
    /// Endpoint authority (`host[:port]`) → local base URL.
    pub routes: HashMap<String, String>,
    pub key: SigningKey,
    pub signature_header: String,
    pub shape: NotificationShape,
    pub retries: u32,
    pub first_delay: Duration,
    pub enabled: bool,
    pub deliveries: Vec<Delivery>,
    pub verifications: Vec<Delivery>,
}

#[derive(Clone, Debug)]
pub(crate) struct Subscriber {
    pub project: String,
    pub id: String,
    pub endpoint: String,
    pub configs: Vec<Config>,
    pub secret: String,
    pub subscriptions: Vec<Subscription>,
}

#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub data_types: Vec<String>,
    pub policy: String,
}

/// A user subscribed to a `MANUAL` subscriber.
#[derive(Clone, Debug)]
pub(crate) struct Subscription {
    pub user: String,
    pub data_types: Vec<String>,
    pub name: String,
}

impl Subscriber {
    pub fn name(&self) -> String {
        format!("projects/{}/subscribers/{}", self.project, self.id)
    }

    /// The resource as the API shows it (never the secret).
    pub fn to_json(&self) -> Value {
        let configs: Vec<Value> = self
            .configs
            .iter()
            .map(|c| json!({"dataTypes": c.data_types, "subscriptionCreatePolicy": c.policy}))
            .collect();
        json!({"name": self.name(), "endpointUri": self.endpoint, "subscriberConfigs": configs})
    }

    /// The `clientProvidedSubscriptionName` of a notification about
    /// `user`'s `data_type`, if this subscriber hears of it.
    fn hears(&self, user: &str, data_type: &str) -> Option<String> {
        let names = |types: &[String]| types.iter().any(|t| t == data_type);
        self.configs
            .iter()
            .filter(|c| names(&c.data_types))
            .find_map(|c| match c.policy.as_str() {
                "AUTOMATIC" => Some(self.id.clone()),
                _ => self
                    .subscriptions
                    .iter()
                    .find(|s| s.user == user && names(&s.data_types))
                    .map(|s| s.name.clone()),
            })
    }
}

impl Webhooks {
    /// Must be called on the runtime the fake serves on.
    pub fn new() -> Self {
        Webhooks(Arc::new(Inner {
            runtime: Handle::current(),
            http: reqwest::Client::builder()
                .timeout(DELIVERY_TIMEOUT)
                .build()
                .expect("an HTTP client"),
            hooks: Mutex::new(Hooks {
                subscribers: Vec::new(),
                cloud_tokens: HashMap::new(),
                routes: HashMap::new(),
                key: delivery::new_key(),
                signature_header: DEFAULT_SIGNATURE_HEADER.into(),
                shape: NotificationShape::default(),
                retries: DEFAULT_DELIVERY_RETRIES,
                first_delay: DEFAULT_FIRST_RETRY_DELAY,
                enabled: true,
                deliveries: Vec::new(),
                verifications: Vec::new(),
            }),
        }))
    }

    pub fn hooks(&self) -> MutexGuard<'_, Hooks> {
        lock(&self.0.hooks)
    }

    /// `user`'s data changed: each subscriber that hears of it gets one
    /// notification per data type, in the background, with retries.
    pub fn changed(&self, user: &str, operation: &str, changes: Vec<(&str, Interval)>) {
        if !self.hooks().enabled {
            return;
        }
        let mut by_type: Vec<(&str, Vec<Interval>)> = Vec::new();
        for (data_type, interval) in changes {
            match by_type.iter_mut().find(|(t, _)| *t == data_type) {
                Some((_, intervals)) => intervals.push(interval),
                None => by_type.push((data_type, vec![interval])),
            }
        }
        for (data_type, intervals) in by_type {
            for (sub, body) in self.notifications(user, data_type, operation, intervals) {
                self.spawn_with_retries(sub, body);
            }
        }
    }

    /// Sends one notification to each subscriber that hears of it, now
    /// and once; the outcomes, in subscriber order.
    pub async fn notify_now(
        &self,
        user: &str,
        data_type: &str,
        operation: &str,
        interval: Interval,
    ) -> Vec<Result<u16, String>> {
        let mut outcomes = Vec::new();
        for (sub, body) in self.notifications(user, data_type, operation, vec![interval]) {
            let d = self.attempt(&sub, &body, true, 0).await;
            outcomes.push(d.outcome.clone());
            self.hooks().deliveries.push(d);
        }
        outcomes
    }

    /// The bodies of a change's notifications, with their subscribers.
    fn notifications(
        &self,
        user: &str,
        data_type: &str,
        operation: &str,
        intervals: Vec<Interval>,
    ) -> Vec<(Subscriber, Vec<u8>)> {
        let hooks = self.hooks();
        hooks
            .subscribers
            .iter()
            .filter_map(|sub| {
                let name = sub.hears(user, data_type)?;
                let n = Notification {
                    version: "1",
                    client_provided_subscription_name: name,
                    health_user_id: user.into(),
                    operation: operation.into(),
                    data_type: data_type.into(),
                    intervals: intervals.clone(),
                };
                Some((sub.clone(), delivery::body(hooks.shape, &n)))
            })
            .collect()
    }

    fn spawn_with_retries(&self, sub: Subscriber, body: Vec<u8>) {
        let (retries, mut delay) = {
            let hooks = self.hooks();
            (hooks.retries, hooks.first_delay)
        };
        let me = self.clone();
        self.0.runtime.spawn(async move {
            for attempt in 0..=retries {
                let d = me.attempt(&sub, &body, true, attempt).await;
                let delivered = d.status().is_some_and(|s| (200..300).contains(&s));
                me.hooks().deliveries.push(d);
                if delivered {
                    break;
                }
                if attempt < retries {
                    tokio::time::sleep(delay).await;
                    delay *= 2;
                }
            }
        });
    }

    /// One signed POST of `body` to `sub`'s endpoint, with its secret or
    /// without any `Authorization`.
    async fn attempt(&self, sub: &Subscriber, body: &[u8], with_secret: bool, n: u32) -> Delivery {
        let (url, mut headers) = {
            let hooks = self.hooks();
            let signature = delivery::sign(&hooks.key, body);
            let headers = vec![
                ("Content-Type".to_string(), "application/json".to_string()),
                (hooks.signature_header.clone(), signature),
            ];
            (delivery::resolve(&hooks.routes, &sub.endpoint), headers)
        };
        if with_secret {
            headers.insert(1, ("Authorization".into(), sub.secret.clone()));
        }
        let outcome = match &url {
            Ok(url) => delivery::post(&self.0.http, url, &headers, body).await,
            Err(e) => Err(e.clone()),
        };
        Delivery {
            subscriber: sub.name(),
            endpoint: sub.endpoint.clone(),
            headers,
            body: body.to_vec(),
            attempt: n,
            outcome,
            at: Instant::now(),
        }
    }

    /// The creation handshake: `{"type":"verification"}` with the secret
    /// must be answered 201, without it 401 or 403. Why not, if it fails.
    pub async fn verify(&self, sub: &Subscriber) -> Result<(), String> {
        let body = br#"{"type":"verification"}"#;
        let checks: [(bool, &[u16], &str); 2] =
            [(true, &[201], "201"), (false, &[401, 403], "401 or 403")];
        for (with_secret, wanted, expected) in checks {
            let d = self.attempt(sub, body, with_secret, 0).await;
            let outcome = d.outcome.clone();
            self.hooks().verifications.push(d);
            let which = if with_secret {
                "with the endpoint authorization secret"
            } else {
                "without authorization"
            };
            match outcome {
                Ok(s) if wanted.contains(&s) => {}
                Ok(s) => {
                    return Err(format!(
                        "Endpoint verification failed: the verification request {which} was answered {s}, expected {expected}."
                    ));
                }
                Err(e) => {
                    return Err(format!(
                        "Endpoint verification failed: the verification request {which} could not be delivered to {}: {e}",
                        sub.endpoint
                    ));
                }
            }
        }
        Ok(())
    }

    /// POSTs `body` with exactly `headers` to the endpoint of subscriber
    /// `id` (of any project) through its route; not recorded.
    pub async fn post_raw(
        &self,
        id: &str,
        body: &[u8],
        headers: &[(String, String)],
    ) -> Result<u16, String> {
        let url = {
            let hooks = self.hooks();
            let sub = hooks
                .subscribers
                .iter()
                .find(|s| s.id == id)
                .ok_or_else(|| format!("no subscriber {id}"))?;
            delivery::resolve(&hooks.routes, &sub.endpoint)?
        };
        delivery::post(&self.0.http, &url, headers, body).await
    }
}
