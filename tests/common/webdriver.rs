//! A headless Chromium driven over the W3C WebDriver protocol: Debian's
//! `chromium` and `chromium-driver` (installed by `cargo xtask test`),
//! spoken to with plain HTTP, as a user's browser.

use serde_json::{json, Value};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A browser session; the browser and its driver stop when dropped.
pub struct Browser {
    driver: Child,
    url: String,
    http: reqwest::blocking::Client,
}

/// An element of the current page.
pub struct Element<'a> {
    browser: &'a Browser,
    id: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium whose downloads land in
    /// `downloads`.
    pub fn start(downloads: &Path) -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (Debian's chromium-driver; `cargo xtask test` installs it)");
        let http = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let start = Instant::now();
        while http.get(format!("{base}/status")).send().is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1280,860", "--no-proxy-server"],
                "prefs": {"download.default_directory": downloads,
                          "download.prompt_for_download": false}
            }
        }}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_string();
        Browser {
            driver,
            url: format!("{base}/session/{session}"),
            http,
        }
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.url);
        let req = match method {
            "GET" => self.http.get(url),
            "DELETE" => self.http.delete(url),
            _ => self.http.post(url).json(&body.unwrap_or(json!({}))),
        };
        let r: Value = req.send().unwrap().json().unwrap();
        if let Some(e) = r["value"]["error"].as_str() {
            panic!("webdriver {method} {path}: {e}: {}", r["value"]["message"]);
        }
        r["value"].clone()
    }

    /// Opens `url`.
    pub fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url})));
    }

    /// The address of the current page.
    pub fn current_url(&self) -> String {
        self.call("GET", "/url", None).as_str().unwrap().to_string()
    }

    /// The first element matching `css`, waiting up to 10 s for it.
    pub fn find(&self, css: &str) -> Element<'_> {
        let start = Instant::now();
        loop {
            let r: Value = self
                .http
                .post(format!("{}/element", self.url))
                .json(&json!({"using": "css selector", "value": css}))
                .send()
                .unwrap()
                .json()
                .unwrap();
            if let Some(id) = r["value"][ELEMENT].as_str() {
                return Element {
                    browser: self,
                    id: id.to_string(),
                };
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no element {css} on {}",
                self.current_url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs `script` in the page and returns what it returns.
    pub fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// Waits up to `timeout` until `script` returns true.
    pub fn wait_for(&self, script: &str, timeout: Duration) {
        let start = Instant::now();
        while self.script(script) != json!(true) {
            assert!(
                start.elapsed() < timeout,
                "timed out waiting for `{script}` on {}",
                self.current_url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A PNG of the viewport.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let b64 = self.call("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap())
            .unwrap()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.http.delete(&self.url).send();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Element<'_> {
    fn path(&self, rest: &str) -> String {
        format!("/element/{}{rest}", self.id)
    }

    /// Clicks it.
    pub fn click(&self) {
        self.browser.call("POST", &self.path("/click"), None);
    }

    /// Types `text` into it (for a file input: a path to upload).
    pub fn send_keys(&self, text: &str) {
        self.browser
            .call("POST", &self.path("/value"), Some(json!({"text": text})));
    }

    /// Its visible text.
    pub fn text(&self) -> String {
        self.browser
            .call("GET", &self.path("/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The attribute `name`, if set.
    pub fn attribute(&self, name: &str) -> Option<String> {
        self.browser
            .call("GET", &self.path(&format!("/attribute/{name}")), None)
            .as_str()
            .map(str::to_string)
    }
}
