//! Upstream failures a fake injects on demand: for the next `times`
//! requests whose path starts with a prefix, the fake fails in one of the
//! ways a real cloud (or the network in front of it) does. Each fake renders
//! error bodies in its own format ([`crate::util::Handler::error`]).

use std::sync::Mutex;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::util::{Handler, RecordedRequest, json_response, lock};

/// One way to fail.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// Handle the request (a token endpoint issues and uses up tokens), then
    /// hold the answer this long: an answer that arrives late.
    SlowAnswer(Duration),
    /// Never answer; the client gives up (its timeout).
    Hang,
    /// Break the connection before the answer is complete.
    Reset,
    /// Answer this status (a 5xx) with the cloud's error body, unhandled.
    Status(u16),
    /// 429 with the cloud's error body and `Retry-After: n` if given.
    TooManyRequests(Option<u64>),
    /// 200 with this JSON body instead of the real answer.
    WrongShape(Value),
    /// 200 with a JSON body of this many bytes.
    HugeBody(usize),
    /// The real answer, one byte every `pause`.
    SlowDrip(Duration),
}

struct Rule {
    prefix: String,
    fault: Fault,
    remaining: usize,
}

/// The faults armed on one fake.
#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<Rule>>,
    injected: Mutex<Vec<(String, Fault)>>,
}

impl Faults {
    /// Arms `fault` for the next `times` requests below `prefix`.
    pub fn inject(&self, prefix: &str, fault: Fault, times: usize) {
        lock(&self.rules).push(Rule {
            prefix: prefix.to_string(),
            fault,
            remaining: times,
        });
    }

    pub fn clear(&self) {
        lock(&self.rules).clear();
    }

    /// `(path, fault)` of every request that got a fault, oldest first.
    pub fn injected(&self) -> Vec<(String, Fault)> {
        lock(&self.injected).clone()
    }

    fn take(&self, path: &str) -> Option<Fault> {
        let mut rules = lock(&self.rules);
        let rule = rules
            .iter_mut()
            .find(|r| r.remaining > 0 && path.starts_with(&r.prefix))?;
        rule.remaining -= 1;
        let fault = rule.fault.clone();
        rules.retain(|r| r.remaining > 0);
        lock(&self.injected).push((path.to_string(), fault.clone()));
        Some(fault)
    }

    /// The answer to `request`: the handler's, or the armed fault's.
    pub(crate) async fn answer<H: Handler>(
        &self,
        handler: &H,
        request: RecordedRequest,
    ) -> Response {
        let Some(fault) = self.take(&request.path) else {
            return handler.respond(request).await;
        };
        match fault {
            Fault::SlowAnswer(delay) => {
                let response = handler.respond(request).await;
                tokio::time::sleep(delay).await;
                response
            }
            Fault::Hang => {
                // Ends when the client hangs up (the connection drops us).
                std::future::pending::<()>().await;
                unreachable!("pending never completes")
            }
            Fault::Reset => {
                let broken = futures_util::stream::once(async {
                    Err::<Bytes, _>(std::io::Error::other("connection reset by the fake"))
                });
                (StatusCode::OK, Body::from_stream(broken)).into_response()
            }
            Fault::Status(status) => handler.error(status, "The service is currently unavailable."),
            Fault::TooManyRequests(retry_after) => {
                let mut response = handler.error(429, "Too Many Requests");
                if let Some(seconds) = retry_after {
                    response
                        .headers_mut()
                        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
                }
                response
            }
            Fault::WrongShape(body) => json_response(StatusCode::OK, &body),
            Fault::HugeBody(bytes) => {
                let body = format!("{{\"pad\":\"{}\"}}", "x".repeat(bytes.saturating_sub(10)));
                (
                    StatusCode::OK,
                    [(header::CONTENT_TYPE, "application/json")],
                    body,
                )
                    .into_response()
            }
            Fault::SlowDrip(pause) => {
                let (parts, body) = handler.respond(request).await.into_parts();
                let bytes = axum::body::to_bytes(body, usize::MAX)
                    .await
                    .unwrap_or_default();
                let drip = futures_util::stream::unfold(0, move |i| {
                    let bytes = bytes.clone();
                    async move {
                        if i >= bytes.len() {
                            return None;
                        }
                        tokio::time::sleep(pause).await;
                        Some((Ok::<_, std::io::Error>(bytes.slice(i..i + 1)), i + 1))
                    }
                });
                let mut parts = parts;
                parts.headers.remove(header::CONTENT_LENGTH);
                Response::from_parts(parts, Body::from_stream(drip))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_fire_for_their_prefix_and_count() {
        let faults = Faults::default();
        faults.inject("/oauth2/token", Fault::Status(503), 2);
        faults.inject("/1/", Fault::Hang, 1);
        assert_eq!(faults.take("/1/user/-/profile.json"), Some(Fault::Hang));
        assert_eq!(faults.take("/1/user/-/profile.json"), None);
        assert_eq!(faults.take("/oauth2/token"), Some(Fault::Status(503)));
        assert_eq!(faults.take("/oauth2/token"), Some(Fault::Status(503)));
        assert_eq!(faults.take("/oauth2/token"), None);
        assert_eq!(faults.injected().len(), 3);
    }
}
