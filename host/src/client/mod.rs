//! A client of any OGC API – Processes server (Part 1 and Part 2), for the
//! `wades` command line: list and describe processes, deploy, execute, and
//! follow, read and dismiss jobs. It speaks only the standard, so it works
//! against other servers (pygeoapi, say) as well as wades.

mod results;

pub use results::{extension, media_type_of, save, Saved};

use anyhow::{anyhow, bail, Context, Result};
use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde_json::Value as Json;

/// A server, and the credentials to send it.
#[derive(Debug, Clone)]
pub struct Client {
    base: Url,
    key: Option<String>,
    http: reqwest::Client,
}

/// What an execute request gave back.
#[derive(Debug)]
pub enum Execution {
    /// The server took the job asynchronously: its status document, and
    /// where to follow it.
    Job {
        /// The job's id.
        id: String,
        /// Where the job's status is (`Location`).
        status_url: Url,
    },
    /// The server ran it synchronously.
    Results(Results),
}

/// A job's results as a server gave them.
#[derive(Debug)]
pub enum Results {
    /// A JSON results document: output id → value, qualified value or link.
    Document(Json),
    /// One output, raw, with its media type.
    Raw {
        /// The `Content-Type` it came with.
        media_type: String,
        /// Its bytes.
        bytes: Vec<u8>,
    },
}

impl Client {
    /// A client of the server at `base` (e.g. `http://127.0.0.1:8080`),
    /// sending `key` as a bearer token when given.
    pub fn new(base: &str, key: Option<String>) -> Result<Self> {
        let mut base = Url::parse(base).with_context(|| format!("'{base}' is not a URL"))?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let http = reqwest::Client::builder()
            .user_agent(concat!("wades-cli/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client { base, key, http })
    }

    /// The URL of `path` (relative to the server's base; may carry a query).
    pub fn url(&self, path: &str) -> Result<Url> {
        Ok(self.base.join(path.trim_start_matches('/'))?)
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let request = self.http.request(method, url);
        match &self.key {
            Some(key) => request.header(AUTHORIZATION, format!("Bearer {key}")),
            None => request,
        }
    }

    /// GETs `url` as JSON.
    pub async fn get_json(&self, url: Url) -> Result<Json> {
        let response = self
            .request(Method::GET, url.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        json(checked(response).await?).await
    }

    /// Every process the server offers (following `next` links).
    pub async fn processes(&self) -> Result<Vec<Json>> {
        let mut url = self.url("processes?limit=100")?;
        let mut all = Vec::new();
        loop {
            let page = self.get_json(url).await?;
            let list = page["processes"]
                .as_array()
                .ok_or_else(|| anyhow!("the process list has no \"processes\" array"))?;
            all.extend(list.iter().cloned());
            match link(&page, "next") {
                Some(next) if !list.is_empty() => url = self.base.join(&next)?,
                _ => return Ok(all),
            }
        }
    }

    /// A process's description.
    pub async fn process(&self, id: &str) -> Result<Json> {
        self.get_json(self.url(&format!("processes/{}", segment(id)))?)
            .await
    }

    /// Deploys (`replace: None`, POST /processes) or replaces (PUT
    /// /processes/{id}) a process from `body` of `media_type`; `query` is
    /// added to the URL (e.g. `w=main` for a packed CWL). Returns where the
    /// process now is.
    pub async fn deploy(
        &self,
        body: Vec<u8>,
        media_type: &str,
        query: &[(&str, &str)],
        replace: Option<&str>,
    ) -> Result<String> {
        let (method, path) = match replace {
            Some(id) => (Method::PUT, format!("processes/{}", segment(id))),
            None => (Method::POST, "processes".to_string()),
        };
        let mut url = self.url(&path)?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let response = self
            .request(method, url.clone())
            .header(CONTENT_TYPE, media_type)
            .header(ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .with_context(|| format!("deploying to {url}"))?;
        let response = checked(response).await?;
        Ok(match response.headers().get(LOCATION) {
            Some(location) => self.base.join(location.to_str()?)?.to_string(),
            None => url.to_string(),
        })
    }

    /// Executes process `id` with the execute request `body`, asking for an
    /// asynchronous job when `prefer_async`; a server may still answer
    /// synchronously.
    pub async fn execute(&self, id: &str, body: &Json, prefer_async: bool) -> Result<Execution> {
        let url = self.url(&format!("processes/{}/execution", segment(id)))?;
        let mut request = self
            .request(Method::POST, url.clone())
            .header(ACCEPT, "application/json")
            .json(body);
        if prefer_async {
            request = request.header("Prefer", "respond-async");
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("POST {url}"))?;
        let response = checked(response).await?;
        if matches!(
            response.status(),
            StatusCode::CREATED | StatusCode::ACCEPTED
        ) {
            let location = response.headers().get(LOCATION).cloned();
            let status = json(response).await.unwrap_or(Json::Null);
            let id = job_id(&status).map(String::from);
            let status_url = match (location, &id) {
                (Some(l), _) => self.base.join(l.to_str()?)?,
                (None, Some(id)) => self.url(&format!("jobs/{}", segment(id)))?,
                (None, None) => {
                    bail!("the server accepted the job but said neither where nor its id")
                }
            };
            let id = match id {
                Some(id) => id,
                None => last_segment(&status_url),
            };
            return Ok(Execution::Job { id, status_url });
        }
        Ok(Execution::Results(read_results(response).await?))
    }

    /// A job's status document.
    pub async fn job(&self, id: &str) -> Result<Json> {
        self.get_json(self.job_url(id)?).await
    }

    /// The URL of job `id`.
    pub fn job_url(&self, id: &str) -> Result<Url> {
        self.url(&format!("jobs/{}", segment(id)))
    }

    /// One page of the job list, filtered by `query` (`status`,
    /// `processID`, `limit`, ...).
    pub async fn jobs(&self, query: &[(&str, String)]) -> Result<Json> {
        let mut url = self.url("jobs")?;
        url.query_pairs_mut().extend_pairs(query);
        self.get_json(url).await
    }

    /// A finished job's results.
    pub async fn results(&self, id: &str) -> Result<Results> {
        let url = self.url(&format!("jobs/{}/results", segment(id)))?;
        let response = self
            .request(Method::GET, url.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        read_results(checked(response).await?).await
    }

    /// Dismisses job `id`; returns its status document.
    pub async fn dismiss(&self, id: &str) -> Result<Json> {
        let url = self.job_url(id)?;
        let response = self
            .request(Method::DELETE, url.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .with_context(|| format!("DELETE {url}"))?;
        json(checked(response).await?).await
    }

    /// Downloads `href` (relative to the server, or absolute): its media
    /// type and bytes. Credentials go only to the server itself.
    pub async fn download(&self, href: &str) -> Result<(String, Vec<u8>)> {
        let url = self.base.join(href)?;
        let request = if url.origin() == self.base.origin() {
            self.request(Method::GET, url.clone())
        } else {
            self.http.get(url.clone())
        };
        let response = request.send().await.with_context(|| format!("GET {url}"))?;
        let response = checked(response).await?;
        let media_type = media_type(response.headers());
        Ok((media_type, response.bytes().await?.to_vec()))
    }
}

/// The id in a status document (`jobID` in 1.0, `id` in 2.0).
pub fn job_id(status: &Json) -> Option<&str> {
    status["jobID"].as_str().or_else(|| status["id"].as_str())
}

/// Whether a job status is final.
pub fn is_final(status: &str) -> bool {
    matches!(status, "successful" | "failed" | "dismissed")
}

/// The `href` of the first link with relation `rel`.
fn link(doc: &Json, rel: &str) -> Option<String> {
    doc["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == rel)
        .and_then(|l| l["href"].as_str())
        .map(String::from)
}

fn segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn last_segment(url: &Url) -> String {
    url.path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or_default()
        .to_string()
}

fn media_type(headers: &HeaderMap) -> String {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string()
}

/// `response` if it is a success; otherwise an error that says what the
/// server said (an OGC exception's title and detail, when it sent one).
async fn checked(response: Response) -> Result<Response> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let url = response.url().clone();
    let text = response.text().await.unwrap_or_default();
    let said = match serde_json::from_str::<Json>(&text) {
        Ok(e) if e.get("type").is_some() || e.get("title").is_some() => {
            let mut said = e["title"].as_str().unwrap_or_default().to_string();
            if let Some(detail) = e["detail"].as_str() {
                said = format!("{said}: {detail}");
            }
            if let Some(kind) = e["type"].as_str() {
                said = format!("{said} ({kind})");
            }
            said
        }
        _ => text.chars().take(500).collect(),
    };
    bail!("{url} answered {status}: {said}")
}

async fn json(response: Response) -> Result<Json> {
    let url = response.url().clone();
    let bytes = response.bytes().await?;
    serde_json::from_slice(&bytes).with_context(|| format!("{url} did not answer JSON"))
}

/// A results response: a JSON document, or one raw output.
async fn read_results(response: Response) -> Result<Results> {
    let media_type = media_type(response.headers());
    let bytes = response.bytes().await?.to_vec();
    let is_json = media_type.starts_with("application/json");
    match serde_json::from_slice::<Json>(&bytes) {
        Ok(doc @ Json::Object(_)) if is_json => Ok(Results::Document(doc)),
        _ => Ok(Results::Raw { media_type, bytes }),
    }
}
