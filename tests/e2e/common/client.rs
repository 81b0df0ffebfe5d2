//! A client of one host, as a browser without cookies: it sees redirects
//! instead of following them.

use igor_test_support::consent;

use super::Host;

#[derive(Clone)]
pub struct Client {
    pub http: reqwest::Client,
    base: String,
    bearer: Option<String>,
}

impl Client {
    pub fn new(host: &Host) -> Self {
        Self::at(&host.url)
    }

    /// A client of the host at `base` (such as an Igor in front of it).
    pub fn at(base: &str) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            http,
            base: base.trim_end_matches('/').to_string(),
            bearer: None,
        }
    }

    /// The same client sending `Authorization: Bearer <token>`.
    pub fn with_bearer(mut self, token: &str) -> Self {
        self.bearer = Some(token.to_string());
        self
    }

    fn authorised(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.bearer {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// `target` (a path and query) on the host.
    pub fn url(&self, target: &str) -> String {
        format!("{}{target}", self.base)
    }

    /// `GET target`: the status and the body.
    pub async fn get(&self, target: &str) -> (u16, String) {
        self.get_with(target, &[]).await
    }

    /// `GET target` with extra `headers`.
    pub async fn get_with(&self, target: &str, headers: &[(&str, &str)]) -> (u16, String) {
        let mut request = self.authorised(self.http.get(self.url(target)));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        answer(request).await
    }

    /// `POST` of `form` to `target`: the status and the body.
    pub async fn form(&self, target: &str, form: &[(&str, &str)]) -> (u16, String) {
        answer(self.authorised(self.http.post(self.url(target))).form(form)).await
    }

    /// `POST target` without a body.
    pub async fn post(&self, target: &str) -> (u16, String) {
        answer(self.authorised(self.http.post(self.url(target)))).await
    }

    /// The fitbit plugin's settings form, answered 200.
    pub async fn settings(&self, form: &[(&str, &str)]) {
        let (status, body) = self.form("/plugin/fitbit/settings", form).await;
        assert_eq!(status, 200, "{body}");
    }

    /// Deletes `user` on the fitbit plugin's user settings form.
    pub async fn delete_user(&self, user: &str) {
        let form = [("user", user), ("delete", "true")];
        let (status, body) = self.form("/plugin/fitbit/userSettings", &form).await;
        assert_eq!(status, 200, "{body}");
    }

    /// auth1 → the provider's consent page → Allow → auth2. Returns the
    /// provider's authorize URL and the page auth2 answered.
    pub async fn authorise(&self, user: &str, provider_prefix: &str) -> (url::Url, String) {
        let auth1 = self.url(&format!("/plugin/fitbit/auth1?user={user}"));
        let response = self.authorised(self.http.get(auth1)).send().await.unwrap();
        assert_eq!(response.status(), 303);
        let location = response.headers()["location"].to_str().unwrap().to_string();
        assert!(location.starts_with(provider_prefix), "{location}");
        let back = consent(&self.http, &location).await.unwrap();
        let auth2 = self.url("/plugin/fitbit/auth2?");
        assert!(back.starts_with(&auth2), "{back}");
        let (status, page) = answer(self.authorised(self.http.get(&back))).await;
        assert_eq!(status, 200, "{page}");
        assert!(
            page.contains(&format!("access for {user} is set up")),
            "{page}"
        );
        assert!(page.contains("page/setup.html?user="), "{page}");
        (url::Url::parse(&location).unwrap(), page)
    }
}

async fn answer(request: reqwest::RequestBuilder) -> (u16, String) {
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}
