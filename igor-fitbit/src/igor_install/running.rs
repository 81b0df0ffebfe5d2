//! A running Igor keeps its database in memory and saves it over
//! `database.xml` now and then, so an edit of the file would be lost: its
//! settings go through Igor's REST API (`/data/...`) instead.

use std::time::Duration;

use anyhow::{Context, bail};

pub struct RunningIgor {
    url: String,
    user: String,
    password: String,
    client: reqwest::Client,
}

impl RunningIgor {
    /// The Igor answering at `url`, or `None` when nothing listens there.
    pub async fn find(url: &str, user: &str, password: &str) -> anyhow::Result<Option<Self>> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(2))
            .build()?;
        let igor = RunningIgor {
            url: url.trim_end_matches('/').to_string(),
            user: user.into(),
            password: password.into(),
            client,
        };
        match igor
            .client
            .get(format!("{}/data/services/igor", igor.url))
            .header("accept", "application/json")
            .send()
            .await
        {
            Ok(_) => Ok(Some(igor)),
            Err(err) if err.is_connect() => Ok(None),
            Err(err) => Err(err).with_context(|| format!("asking {url} whether Igor runs there")),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The text at `path` (an Igor XPath below `/data`), `None` if missing.
    pub async fn get(&self, path: &str) -> anyhow::Result<Option<String>> {
        let response = self
            .request(reqwest::Method::GET, path)
            .header("accept", "text/plain")
            .send()
            .await
            .with_context(|| format!("reading {path} from Igor at {}", self.url))?;
        match response.status().as_u16() {
            200 => Ok(Some(response.text().await?.trim().to_string())),
            404 => Ok(None),
            status => bail!(
                "Igor at {} answered {status} to reading {path}: {}",
                self.url,
                refusal(status)
            ),
        }
    }

    pub async fn put(&self, path: &str, value: &str) -> anyhow::Result<()> {
        let response = self
            .request(reqwest::Method::PUT, path)
            .header("content-type", "text/plain")
            .body(value.to_string())
            .send()
            .await
            .with_context(|| format!("setting {path} in Igor at {}", self.url))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            bail!(
                "Igor at {} answered {status} to setting {path}: {}",
                self.url,
                refusal(status)
            );
        }
        Ok(())
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<()> {
        let response = self
            .request(reqwest::Method::DELETE, path)
            .send()
            .await
            .with_context(|| format!("removing {path} from Igor at {}", self.url))?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) && status != 404 {
            bail!(
                "Igor at {} answered {status} to removing {path}: {}",
                self.url,
                refusal(status)
            );
        }
        Ok(())
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}/data/{path}", self.url))
            .basic_auth(&self.user, Some(&self.password))
    }
}

fn refusal(status: u16) -> &'static str {
    match status {
        401 | 403 => "give Igor's admin credentials with --igor-user and --igor-password",
        _ => "see Igor's log",
    }
}
