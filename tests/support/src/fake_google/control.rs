//! The fake as tests drive it: start it, register OAuth clients and users,
//! change its rules and clock, inject errors, and read what it was sent.

use super::*;
use delivery::Interval;
use points::LocalTime;

/// A running fake Google. Dropping it stops the server.
pub struct FakeGoogle {
    running: util::Running<State>,
}

impl FakeGoogle {
    crate::control::shared_control! {
        authorize: "/o/oauth2/v2/auth",
        token: "/token",
        revoke: "/revoke",
    }

    // ----- clients, users, consent -----

    /// Registers a Web application client as the Cloud console does; panics
    /// with the console's message on a redirect URI Google refuses (see
    /// [`redirect_uris`]).
    pub fn register_client(&self, client_id: &str, client_secret: &str, redirect_uris: &[&str]) {
        if let Err(refusal) = self.try_register_client(client_id, client_secret, redirect_uris) {
            panic!("{refusal}");
        }
    }

    /// Like [`FakeGoogle::register_client`], answering the console's refusal.
    pub fn try_register_client(
        &self,
        client_id: &str,
        client_secret: &str,
        redirect_uris: &[&str],
    ) -> Result<(), String> {
        for uri in redirect_uris {
            redirect_uris::validate(uri)?;
        }
        self.st().clients.insert(
            client_id.into(),
            GClient {
                secret: client_secret.into(),
                redirect_uris: redirect_uris.iter().map(|s| s.to_string()).collect(),
                name: "Igor Fitbit".into(),
                testing_mode: false,
            },
        );
        Ok(())
    }
    /// "Testing" publishing status: refresh tokens issued from now on expire
    /// after 7 days (use [`FakeGoogle::advance_clock`]).
    pub fn set_testing_mode(&self, client_id: &str, testing: bool) {
        if let Some(c) = self.st().clients.get_mut(client_id) {
            c.testing_mode = testing;
        }
    }
    /// Create (or update) a user with its legacy Fitbit id.
    pub fn add_user(&self, health_user_id: &str, legacy_user_id: &str) {
        self.st().user_mut(health_user_id).legacy_id = legacy_user_id.into();
    }
    /// Mint an access + refresh token directly. `scopes` is space-separated.
    pub fn issue_tokens(
        &self,
        client_id: &str,
        health_user_id: &str,
        scopes: &str,
    ) -> GoogleTokens {
        let scopes: Vec<String> = scopes.split_whitespace().map(String::from).collect();
        let mut st = self.st();
        st.user_mut(health_user_id);
        GoogleTokens {
            access_token: st.new_access(client_id, health_user_id, &scopes),
            refresh_token: st.new_refresh(client_id, health_user_id, &scopes),
        }
    }

    // ----- data -----

    /// Adds a point; subscribers that hear of it are notified (UPSERT).
    pub fn add_data_point(&self, health_user_id: &str, point: DataPoint) {
        self.add_data_points(health_user_id, [point]);
    }
    /// A weigh-in of `grams` up to half an hour ago (by the wall clock), as
    /// a scale that has just synced: see [`FakeGoogle::recent_instant`].
    pub fn add_recent_weight(&self, health_user_id: &str, grams: f64) {
        let at = self.recent_instant(health_user_id, chrono::Duration::minutes(30));
        self.add_data_point(health_user_id, DataPoint::weight(&at, grams));
    }

    /// An instant (RFC 3339) at most `ago` before now and within the user's
    /// current day (their zone; UTC without one), so that a fetch of "today"
    /// sees it just after midnight too. Close before midnight it first waits
    /// for the new day, which a test's next minute would otherwise cross.
    pub fn recent_instant(&self, health_user_id: &str, ago: chrono::Duration) -> String {
        let zone = self.st().user_mut(health_user_id).zone.clone();
        let tz = zone.map_or(jiff::tz::TimeZone::UTC, |z| {
            jiff::tz::TimeZone::get(&z).expect("a known zone")
        });
        let now = loop {
            let now = jiff::Timestamp::now().to_zoned_datetime(tz.clone());
            let midnight = now
                .tomorrow()
                .and_then(|d| d.start_of_day())
                .expect("a day");
            let left = now.duration_until(&midnight);
            if left > jiff::SignedDuration::from_mins(2) {
                break now;
            }
            std::thread::sleep(left.unsigned_abs() + std::time::Duration::from_secs(1));
        };
        let day_start = now.start_of_day().expect("a day").timestamp();
        let earlier = now.timestamp() - jiff::SignedDuration::from_secs(ago.num_seconds());
        earlier
            .max(day_start)
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    }
    /// The user's time zone (IANA, e.g. `Europe/Amsterdam`): in the
    /// settings, and for the local times of points added from now on.
    pub fn set_time_zone(&self, health_user_id: &str, zone: &str) {
        jiff::tz::TimeZone::get(zone).expect("a zone of the tz database");
        self.st().user_mut(health_user_id).zone = Some(zone.into());
    }
    /// Pages of at most `size` items ("the service may return fewer").
    pub fn set_max_page_size(&self, size: usize) {
        self.st().max_page_size = Some(size);
    }
    /// Adds points as one sync: one notification per data type, with an
    /// interval per point.
    pub fn add_data_points(
        &self,
        health_user_id: &str,
        points: impl IntoIterator<Item = DataPoint>,
    ) {
        let mut st = self.st();
        let changes = points
            .into_iter()
            .map(|p| insert_point(&mut st, health_user_id, p))
            .collect();
        st.webhooks.changed(health_user_id, "UPSERT", changes);
    }
    /// Deletes the data point with id `id` (as a user deleting a weigh-in).
    pub fn delete_data_point(&self, health_user_id: &str, id: &str) {
        self.remove_points(health_user_id, |point_id| point_id == id);
    }
    pub fn clear_data_points(&self, health_user_id: &str) {
        self.remove_points(health_user_id, |_| true);
    }
    /// Removes the points whose id matches; subscribers hear of a DELETE.
    fn remove_points(&self, health_user_id: &str, gone: impl Fn(&str) -> bool) {
        let mut st = self.st();
        let user = st.user_mut(health_user_id);
        let changes = user
            .points
            .iter()
            .filter(|(id, _)| gone(id))
            .map(|(_, p)| (p.data_type(), p.notification_interval()))
            .collect();
        user.points.retain(|(id, _)| !gone(id));
        st.webhooks.changed(health_user_id, "DELETE", changes);
    }
    /// Merge fields into `GET /v4/users/me/settings`.
    pub fn set_settings(&self, health_user_id: &str, fields: Value) {
        if let Value::Object(m) = fields {
            self.st().user_mut(health_user_id).settings.extend(m);
        }
    }
    /// Merge fields into `GET /v4/users/me/profile` (e.g. `age`,
    /// `userConfiguredWalkingStrideLengthMm`; `null` removes a default).
    pub fn set_profile(&self, health_user_id: &str, fields: Value) {
        if let Value::Object(m) = fields {
            self.st().user_mut(health_user_id).profile.extend(m);
        }
    }
    /// Pair a device: `id` becomes `users/{u}/pairedDevices/{id}`, `fields`
    /// the rest of the `PairedDevice` (`deviceVersion`, `batteryLevel`, ...).
    pub fn add_paired_device(&self, health_user_id: &str, id: &str, fields: Value) {
        self.st()
            .user_mut(health_user_id)
            .devices
            .push((id.into(), fields));
    }
    /// When false every API call of the user answers 400 FAILED_PRECONDITION
    /// ACCOUNT_NOT_LINKED.
    pub fn set_account_linked(&self, health_user_id: &str, linked: bool) {
        self.st().user_mut(health_user_id).linked = linked;
    }

    /// When true the user is a legacy Fitbit account that consented
    /// instead of a Google Account: every API call answers 403 "Could not
    /// mint UberMint from GaiaMint".
    pub fn set_legacy_fitbit_account(&self, health_user_id: &str, legacy: bool) {
        self.st().user_mut(health_user_id).legacy_account = legacy;
    }

    // ----- webhooks -----

    fn webhooks(&self) -> webhooks::Webhooks {
        self.st().webhooks.clone()
    }
    /// A `cloud-platform` access token for `project` (as an owner's
    /// `gcloud auth print-access-token`): it manages the project's
    /// subscribers, and reads no health data.
    pub fn cloud_platform_token(&self, project: &str) -> String {
        let token = util::random_token("ya29.", 120);
        let hooks = self.webhooks();
        hooks
            .hooks()
            .cloud_tokens
            .insert(token.clone(), project.into());
        token
    }
    /// Deliveries to `https://{authority}/…` go to `{base}/…` (e.g.
    /// `("igor.example.com", "http://127.0.0.1:PORT")`), as through a
    /// TLS-terminating proxy; an endpoint host without a route is unreachable.
    pub fn route_endpoint_host(&self, authority: &str, base: &str) {
        let hooks = self.webhooks();
        hooks.hooks().routes.insert(authority.into(), base.into());
    }
    /// The registered subscribers as the API shows them (no secrets).
    pub fn subscribers(&self) -> Vec<Value> {
        let hooks = self.webhooks();
        let subs = hooks.hooks();
        subs.subscribers.iter().map(|s| s.to_json()).collect()
    }
    /// The public key notifications are signed with, as SPKI PEM.
    pub fn webhook_public_key_pem(&self) -> String {
        delivery::public_pem(&self.webhooks().hooks().key)
    }
    /// Signs with a new key from now on; its PEM.
    pub fn rotate_webhook_key(&self) -> String {
        let key = delivery::new_key();
        let pem = delivery::public_pem(&key);
        self.webhooks().hooks().key = key;
        pem
    }
    /// The signature header value the fake would send with `body`.
    pub fn sign_webhook_body(&self, body: &[u8]) -> String {
        delivery::sign(&self.webhooks().hooks().key, body)
    }
    /// The signature header's name ([`DEFAULT_SIGNATURE_HEADER`], or
    /// `GOOGLE-HEALTH-API-SIGNATURE` as the discovery document has it).
    pub fn set_signature_header(&self, name: &str) {
        self.webhooks().hooks().signature_header = name.into();
    }
    pub fn set_notification_shape(&self, shape: NotificationShape) {
        self.webhooks().hooks().shape = shape;
    }
    /// After a failed attempt, retry `retries` times, waiting `first_delay`
    /// and then twice as long each time.
    pub fn set_delivery_retries(&self, retries: u32, first_delay: Duration) {
        let hooks = self.webhooks();
        let mut hooks = hooks.hooks();
        hooks.retries = retries;
        hooks.first_delay = first_delay;
    }
    /// When false, data changes notify nobody ([`Self::notify`] still sends).
    pub fn set_notifications_enabled(&self, enabled: bool) {
        self.webhooks().hooks().enabled = enabled;
    }
    /// Every notification attempt, oldest first.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.webhooks().hooks().deliveries.clone()
    }
    /// Every verification probe of subscriber creation, oldest first.
    pub fn verifications(&self) -> Vec<Delivery> {
        self.webhooks().hooks().verifications.clone()
    }
    /// [`Self::deliveries`] once there are at least `n`, or at `timeout`.
    pub async fn wait_for_deliveries(&self, n: usize, timeout: Duration) -> Vec<Delivery> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let got = self.deliveries();
            if got.len() >= n || tokio::time::Instant::now() >= deadline {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    /// Sends one notification of `data_type` at the fake's "now" to each
    /// subscriber that hears of the user's changes (once, no retries) and
    /// answers the first one's status; panics if none hears or it got no
    /// answer.
    pub async fn notify(&self, health_user_id: &str, data_type: &str, operation: &str) -> u16 {
        let (hooks, interval) = {
            let mut st = self.st();
            let now = st.clock.now();
            let local = st
                .user_mut(health_user_id)
                .zone
                .as_deref()
                .map_or(LocalTime::Unset, |z| {
                    LocalTime::Zone(jiff::tz::TimeZone::get(z).expect("a known zone"))
                });
            let civil = (now + chrono::Duration::seconds(local.offset_at(now).into())).naive_utc();
            (st.webhooks.clone(), Interval::new(now, now, civil, civil))
        };
        let outcomes = hooks
            .notify_now(health_user_id, data_type, operation, interval)
            .await;
        match outcomes.into_iter().next() {
            Some(Ok(status)) => status,
            Some(Err(e)) => panic!("the notification got no answer: {e}"),
            None => panic!("no subscriber hears of {health_user_id}'s {data_type}"),
        }
    }
    /// POSTs `body` with exactly `headers` (nothing added) to subscriber
    /// `subscriber_id`'s endpoint through its route, unrecorded; its
    /// status. Panics without an answer.
    pub async fn post_to_endpoint(
        &self,
        subscriber_id: &str,
        body: Vec<u8>,
        headers: Vec<(String, String)>,
    ) -> u16 {
        let hooks = self.webhooks();
        match hooks.post_raw(subscriber_id, &body, &headers).await {
            Ok(status) => status,
            Err(e) => panic!("the POST got no answer: {e}"),
        }
    }

    // ----- tokens, time, faults -----

    /// Every refresh token issued so far is expired (as after 7 days in Testing mode).
    pub fn expire_refresh_tokens(&self) {
        let mut st = self.st();
        let past = st.clock.now() - chrono::Duration::seconds(1);
        for t in st.refresh.values_mut() {
            t.expires_at = Some(past);
        }
    }
    /// Revoke every token of the user for the client (as if the user removed
    /// the app's access in their Google account).
    pub fn revoke_grant(&self, health_user_id: &str, client_id: &str) {
        self.st().revoke_grant(health_user_id, client_id);
    }
    /// The next `count` authenticated API calls fail with `error`.
    pub fn inject_errors(&self, error: InjectedError, count: usize) {
        let mut st = self.st();
        st.injected.extend(std::iter::repeat_n(error, count));
    }
    /// The next `count` list responses are empty pages that still carry a
    /// `nextPageToken` continuing where they would have started.
    pub fn insert_empty_pages(&self, count: u32) {
        self.st().empty_pages += count;
    }
    pub fn set_quota_per_minute(&self, quota: u32) {
        self.st().quota_per_minute = quota;
    }

    // ----- inspection -----

    /// Number of API calls answered 429 because their user's quota per
    /// minute ([`Self::set_quota_per_minute`]) was used up.
    pub fn quota_refusals(&self) -> usize {
        self.st().quota_refusals
    }
    /// Query parameters of the last `GET /o/oauth2/v2/auth`.
    pub fn last_authorize_query(&self) -> Option<Vec<(String, String)>> {
        self.st().last_authorize.clone()
    }
    /// The scopes `health_user_id` has granted `client_id` so far.
    pub fn granted_scopes(&self, health_user_id: &str, client_id: &str) -> Vec<String> {
        self.st()
            .grants
            .get(&(health_user_id.to_string(), client_id.to_string()))
            .cloned()
            .unwrap_or_default()
    }
    /// Live (unrevoked, unexpired) refresh tokens of the user.
    pub fn refresh_tokens_of(&self, health_user_id: &str) -> Vec<String> {
        let st = self.st();
        st.refresh
            .iter()
            .filter(|(_, t)| t.user == health_user_id && st.refresh_live(t))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// Stores `point` for the user (its id, and the user's zone unless it has
/// an offset of its own); what a notification says of it.
fn insert_point(
    st: &mut State,
    health_user_id: &str,
    mut point: DataPoint,
) -> (&'static str, Interval) {
    st.next_id += 1;
    let id = point.id.clone().unwrap_or_else(|| st.next_id.to_string());
    let user = st.user_mut(health_user_id);
    if matches!(point.local, LocalTime::Unset)
        && let Some(zone) = user.zone.as_deref()
    {
        point.local = LocalTime::Zone(jiff::tz::TimeZone::get(zone).expect("a known zone"));
    }
    let change = (point.data_type(), point.notification_interval());
    user.points.push((id, point));
    change
}
