//! The part of the fakes' control that both clouds share: starting the
//! server, its endpoints' URLs, the OAuth client and consent settings,
//! access tokens, the clock, and what the fake was sent.
//!
//! Each fake's state keeps these under the same names (`clock`, `clients`
//! with a `name`, `consent_user`, `withheld_scopes`, `access` tokens with
//! `user`, `revoked` and `expires_at`, `access_lifetime`, `token_requests`,
//! `user_mut`), so one macro writes these methods into both `FakeFitbit` and
//! `FakeGoogle`.

/// Writes the shared methods into the `impl` of a fake whose struct holds
/// `running: util::Running<State>`; the paths are its OAuth endpoints'.
macro_rules! shared_control {
    (authorize: $authorize:literal,token: $token:literal,revoke: $revoke:literal $(,)?) => {
        /// Binds 127.0.0.1:0 and serves on a tokio task.
        pub async fn start() -> Self {
            Self {
                running: $crate::util::Running::start(State::new()).await,
            }
        }

        fn st(&self) -> std::sync::MutexGuard<'_, State> {
            self.running.state()
        }

        /// The failures to inject (see [`Faults::inject`]).
        pub fn faults(&self) -> &Faults {
            self.running.faults()
        }

        /// `http://127.0.0.1:PORT`, the base of every endpoint.
        pub fn url(&self) -> String {
            self.running.url()
        }
        #[doc = concat!("`{url}", $authorize, "`.")]
        pub fn authorize_url(&self) -> String {
            format!(concat!("{}", $authorize), self.url())
        }
        #[doc = concat!("`{url}", $token, "`.")]
        pub fn token_url(&self) -> String {
            format!(concat!("{}", $token), self.url())
        }
        #[doc = concat!("`{url}", $revoke, "`.")]
        pub fn revoke_url(&self) -> String {
            format!(concat!("{}", $revoke), self.url())
        }

        /// The app name shown on the consent page.
        pub fn set_client_name(&self, client_id: &str, name: &str) {
            if let Some(c) = self.st().clients.get_mut(client_id) {
                c.name = name.into();
            }
        }
        /// The user the consent page signs in as.
        pub fn consent_as(&self, user_id: &str) {
            let mut st = self.st();
            st.consent_user = user_id.into();
            st.user_mut(user_id);
        }
        /// Scopes the user unticks on the consent page.
        pub fn set_withheld_scopes(&self, scopes: &[&str]) {
            self.st().withheld_scopes = scopes.iter().map(|s| s.to_string()).collect();
        }

        pub fn set_access_token_lifetime(&self, lifetime: Duration) {
            self.st().access_lifetime = lifetime;
        }
        /// Server-side expiry: every access token issued so far is expired
        /// from now on.
        pub fn expire_access_tokens(&self) {
            let mut st = self.st();
            let past = st.clock.now() - chrono::Duration::seconds(1);
            for t in st.access.values_mut() {
                t.expires_at = past;
            }
        }
        /// Moves the fake's clock forward (token and code expiry, rate windows).
        pub fn advance_clock(&self, by: Duration) {
            self.st().clock.advance(by);
        }

        /// Every request received, oldest first.
        pub fn requests(&self) -> Vec<$crate::RecordedRequest> {
            self.running.requests()
        }
        pub fn clear_requests(&self) {
            self.running.clear_requests();
        }
        /// Number of requests whose path starts with `path_prefix`.
        pub fn calls(&self, path_prefix: &str) -> usize {
            self.running.calls(path_prefix)
        }
        #[doc = concat!("Number of `POST ", $token, "` requests.")]
        pub fn token_requests(&self) -> usize {
            self.st().token_requests
        }
        /// Access tokens of the user that are neither expired nor revoked.
        pub fn valid_access_tokens(&self, user_id: &str) -> Vec<String> {
            let st = self.st();
            let now = st.clock.now();
            st.access
                .iter()
                .filter(|(_, t)| t.user == user_id && !t.revoked && t.expires_at > now)
                .map(|(k, _)| k.clone())
                .collect()
        }
    };
}

pub(crate) use shared_control;
