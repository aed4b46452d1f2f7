//! The SSRF canary: a listener on loopback (IPv4 and, where there is one,
//! IPv6 `::1`) counts every connection it gets, while the server is handed
//! URLs naming it in every form an attacker would try (decimal, hex,
//! octal and short IPv4, IPv6 and mapped forms, NAT64 and 6to4, names
//! resolving to loopback, and redirects to it from a host the server may
//! reach) in every place a user gives the server a URL: execute input
//! hrefs, sync and async, subscriber callbacks, and package hrefs of deploy
//! and replace. The canary must see no connection at all, and every request
//! must get a clean OGC exception that says the address may not be fetched.
//!
//! A plain client is first pointed at a second canary with the same forms,
//! so the test knows which forms really land here: a form that does not
//! reach loopback on this machine would prove nothing.

mod common;

use common::{exception, guests, tenant, wait_final_with, As, Server};
use reqwest::blocking::Response;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Reads one request head from `stream`, returning its path.
fn read_path(stream: &mut std::net::TcpStream) -> String {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let request = String::from_utf8_lossy(&request);
    request.split_whitespace().nth(1).unwrap_or("").to_string()
}

fn respond(stream: &mut std::net::TcpStream, status: &str, headers: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

/// Counts connections on `listener`, answering each with a component, so
/// that a request that got through would succeed.
fn count_connections(listener: TcpListener, hits: Arc<AtomicUsize>) {
    let wasm = std::fs::read(guests().join("hello-world.wasm")).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            hits.fetch_add(1, Ordering::SeqCst);
            read_path(&mut stream);
            respond(
                &mut stream,
                "200 OK",
                "Content-Type: application/wasm\r\n",
                &wasm,
            );
        }
    });
}

/// The listener that must never be reached: one port on 127.0.0.1 and,
/// if this machine has IPv6, the same port on ::1.
struct Canary {
    port: u16,
    v4: Arc<AtomicUsize>,
    v6: Option<Arc<AtomicUsize>>,
}

impl Canary {
    fn start() -> Canary {
        for _ in 0..20 {
            let v4 = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = v4.local_addr().unwrap().port();
            let v6 = match TcpListener::bind(("::1", port)) {
                Ok(l) => Some(l),
                // Taken on ::1 by someone else: try another port.
                Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => continue,
                Err(_) => None,
            };
            let canary = Canary {
                port,
                v4: Arc::default(),
                v6: v6.as_ref().map(|_| Arc::default()),
            };
            count_connections(v4, canary.v4.clone());
            if let (Some(l), Some(hits)) = (v6, &canary.v6) {
                count_connections(l, hits.clone());
            }
            return canary;
        }
        panic!("no port free on both 127.0.0.1 and ::1");
    }

    fn hits(&self) -> usize {
        self.v4.load(Ordering::SeqCst) + self.v6.as_ref().map_or(0, |h| h.load(Ordering::SeqCst))
    }
}

/// The canary in every form that reaches loopback directly; `true` marks
/// the forms a plain client must land with on any Linux machine.
fn direct_forms(port: u16) -> Vec<(String, bool)> {
    let mut forms: Vec<(String, bool)> = [
        ("127.0.0.1", true),
        ("127.0.0.1.", false),
        ("2130706433", true),
        ("0x7f000001", true),
        ("0x7f.0x0.0x0.0x1", false),
        ("0177.0.0.1", true),
        ("017700000001", false),
        ("127.1", true),
        ("127.0.1", false),
        ("0", false),
        ("0.0.0.0", false),
        ("user:secret@127.0.0.1", true),
        ("[::1]", false),
        ("[0:0:0:0:0:0:0:1]", false),
        ("[::]", false),
        ("[::ffff:127.0.0.1]", false),
        ("[::ffff:7f00:1]", false),
        ("[::127.0.0.1]", false),
        ("[64:ff9b::7f00:1]", false),
        ("[2002:7f00:1::]", false),
    ]
    .iter()
    .map(|(host, must)| (format!("http://{host}:{port}/x"), *must))
    .collect();
    forms.push((format!("https://127.0.0.1:{port}/x"), true));
    // Names that resolve to loopback here: localhost, and this machine's
    // own name where /etc/hosts maps it there. (Public names made for it,
    // such as localtest.me, would make the test depend on outside DNS.)
    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    for name in ["localhost", "LOCALHOST", "localhost.", hostname.trim()] {
        let loopback = !name.is_empty()
            && (name, port)
                .to_socket_addrs()
                .is_ok_and(|mut a| a.any(|a: SocketAddr| a.ip().is_loopback()));
        assert!(
            loopback || name != "localhost",
            "localhost does not resolve"
        );
        if loopback {
            forms.push((format!("http://{name}:{port}/x"), name == "localhost"));
        }
    }
    forms
}

/// Where the redirector sends the canary: every form a `Location` takes.
fn redirect_targets(port: u16) -> Vec<String> {
    vec![
        format!("http://127.0.0.1:{port}/x"),
        format!("http://[::1]:{port}/x"),
        format!("http://2130706433:{port}/x"),
        format!("http://[::ffff:127.0.0.1]:{port}/x"),
        format!("http://localhost:{port}/x"),
        // Scheme-relative, resolved against the redirector's URL.
        format!("//127.0.0.1:{port}/x"),
        "file:///etc/passwd".into(),
    ]
}

/// An allowed host (127.0.0.2, which the server's allowlist opens) that
/// answers `/to/{i}` with `routes[i]`: a status and a `Location`, and
/// `/ok` with a component.
struct Redirector {
    base: String,
    routes: Arc<Mutex<Vec<(u16, String)>>>,
    hits: Arc<AtomicUsize>,
}

impl Redirector {
    fn start() -> Redirector {
        let listener = TcpListener::bind("127.0.0.2:0").expect("127.0.0.2 is loopback on Linux");
        let r = Redirector {
            base: format!("http://{}", listener.local_addr().unwrap()),
            routes: Arc::default(),
            hits: Arc::default(),
        };
        let (routes, hits) = (r.routes.clone(), r.hits.clone());
        let wasm = std::fs::read(guests().join("hello-world.wasm")).unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                hits.fetch_add(1, Ordering::SeqCst);
                let path = read_path(&mut stream);
                let route = path
                    .strip_prefix("/to/")
                    .and_then(|i| i.parse::<usize>().ok())
                    .and_then(|i| routes.lock().unwrap().get(i).cloned());
                match route {
                    Some((code, location)) => respond(
                        &mut stream,
                        &format!("{code} Redirect"),
                        &format!("Location: {location}\r\n"),
                        b"",
                    ),
                    None if path == "/ok" => respond(
                        &mut stream,
                        "200 OK",
                        "Content-Type: application/wasm\r\n",
                        &wasm,
                    ),
                    None => respond(&mut stream, "404 Not Found", "", b""),
                }
            }
        });
        r
    }

    /// A URL on the redirector answering `code` with `location`.
    fn route(&self, code: u16, location: &str) -> String {
        let mut routes = self.routes.lock().unwrap();
        routes.push((code, location.to_string()));
        format!("{}/to/{}", self.base, routes.len() - 1)
    }

    /// Every redirect code to every target, and a chain that first
    /// redirects to the redirector itself (allowed) and only then to the
    /// canary. Returns each URL with the redirector hits it takes.
    fn attacks(&self, port: u16) -> Vec<(String, usize)> {
        let mut urls = Vec::new();
        for code in [301, 302, 303, 307, 308] {
            for target in redirect_targets(port) {
                urls.push((self.route(code, &target), 1));
            }
        }
        let last = self.route(307, &format!("http://127.0.0.1:{port}/x"));
        urls.push((self.route(302, &last), 2));
        urls
    }
}

/// Asserts the server refused `url` for where it points.
fn refused(r: Response, url: &str) {
    let body = exception(r, 400, "invalid-parameter");
    let detail = body["detail"].as_str().unwrap();
    assert!(
        [
            "may not be fetched",
            "is not http or https",
            "only http and https"
        ]
        .iter()
        .any(|why| detail.contains(why)),
        "{url}: {detail}"
    );
}

impl As<'_> {
    fn execute(&self, body: Value, prefer_async: bool) -> Response {
        let mut r = self.req("POST", "/processes/echo/execution").json(&body);
        if prefer_async {
            r = r.header("Prefer", "respond-async");
        }
        r.send().unwrap()
    }

    /// Deploys (`POST /processes`) or replaces (`PUT /processes/{id}`)
    /// process `id` with a package whose component is at `href`.
    fn package(&self, method: &str, id: &str, href: &str) -> Response {
        let path = match method {
            "POST" => "/processes".to_string(),
            _ => format!("/processes/{id}"),
        };
        let package = json!({
            "processDescription": {"process": {"id": id}},
            "executionUnit": {"href": href, "type": "application/wasm"},
        });
        self.req(method, &path)
            .header("Content-Type", "application/ogcapppkg+json")
            .body(package.to_string())
            .send()
            .unwrap()
    }
}

#[test]
fn no_url_a_user_gives_reaches_loopback() {
    let control = Canary::start();
    let canary = Canary::start();
    let redirector = Redirector::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let key = tenant(&data, "mallory", "developer");
    // The default rules, opened only for the redirector's address.
    let s = Server::start_env(&dir, &[("WADES_FETCH_ALLOW", "127.0.0.2/32")]);
    let mallory = As::key(&s, &key);

    // The forms land when nothing guards them.
    let plain = reqwest::blocking::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(1))
        .timeout(Duration::from_secs(2))
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap();
    let mut landed = Vec::new();
    for (url, must) in direct_forms(control.port) {
        let before = control.hits();
        let _ = plain.get(&url).send();
        let reached = control.hits() > before;
        assert!(reached || !must, "a plain client did not reach {url}");
        if reached {
            landed.push(url);
        }
    }
    let per_code = redirect_targets(0).len();
    for (url, _) in redirector.attacks(control.port).iter().step_by(per_code) {
        let before = control.hits();
        let _ = plain.get(url).send();
        assert!(
            control.hits() > before,
            "{url} does not redirect to loopback"
        );
    }
    eprintln!(
        "{} of the direct forms reach loopback on this machine: {landed:?}",
        landed.len()
    );

    // The redirector is reachable: deploying from it works.
    let r = mallory.package("POST", "fetched", &format!("{}/ok", redirector.base));
    assert_eq!(r.status().as_u16(), 201, "{:?}", r.text());
    let package = mallory.get("/processes/fetched/package").text().unwrap();

    let direct: Vec<String> = direct_forms(canary.port)
        .into_iter()
        .map(|(url, _)| url)
        .chain([
            format!("gopher://127.0.0.1:{}/x", canary.port),
            format!("ftp://127.0.0.1:{}/x", canary.port),
        ])
        .collect();
    let hits_before = redirector.hits.load(Ordering::SeqCst);
    let redirects = redirector.attacks(canary.port);
    let mut urls: Vec<&str> = direct.iter().map(String::as_str).collect();
    urls.extend(redirects.iter().map(|(url, _)| url.as_str()));
    for url in &urls {
        // Sync execution: refused before the job's guest starts.
        refused(
            mallory.execute(json!({"inputs": {"binaryInput": {"href": url}}}), false),
            url,
        );
        refused(
            mallory.execute(
                json!({"inputs": {"stringInput": {"href": url, "type": "text/plain"}}}),
                false,
            ),
            url,
        );
        // Deploy and replace by package href.
        refused(mallory.package("POST", "stolen", url), url);
        refused(mallory.package("PUT", "fetched", url), url);
    }
    let followed = redirector.hits.load(Ordering::SeqCst) - hits_before;
    let per_url: usize = redirects.iter().map(|(_, hits)| hits).sum();
    assert_eq!(
        followed,
        4 * per_url,
        "the server fetched each redirecting URL up to the refused hop"
    );

    // Async execution: the job fails, and says why.
    for url in urls.iter().filter(|url| url.starts_with("http")).step_by(4) {
        let r = mallory.execute(json!({"inputs": {"binaryInput": {"href": url}}}), true);
        assert_eq!(r.status().as_u16(), 201, "{url}");
        let job = r.headers()["location"].to_str().unwrap().to_string();
        let status = wait_final_with(&mallory.client(), &job, Duration::from_secs(30));
        assert_eq!(status["status"], "failed", "{url}: {status}");
        refused(mallory.get(&format!("{}/results", path(&s, &job))), url);
    }

    // Subscriber callbacks are never called, so never to the canary either.
    let callback = format!("http://127.0.0.1:{}/callback", canary.port);
    let subscriber =
        json!({"successUri": callback, "inProgressUri": callback, "failedUri": callback});
    let r = mallory.execute(
        json!({"inputs": {"stringInput": "hi"}, "subscriber": subscriber}),
        true,
    );
    assert_eq!(r.status().as_u16(), 201);
    let job = r.headers()["location"].to_str().unwrap().to_string();
    let status = wait_final_with(&mallory.client(), &job, Duration::from_secs(30));
    assert_eq!(status["status"], "successful", "{status}");

    // Nothing reached the canary, and nothing broke.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(canary.hits(), 0, "the server connected to loopback");
    assert_eq!(
        mallory.get("/processes/fetched/package").text().unwrap(),
        package,
        "the process replaced with refused hrefs is unchanged"
    );
    let ids: Value = mallory.get("/processes").json().unwrap();
    assert!(
        !ids["processes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == "stolen"),
        "nothing was deployed from loopback"
    );
}

/// The path of `url` on `s`.
fn path(s: &Server, url: &str) -> String {
    url.strip_prefix(&s.base).unwrap().to_string()
}
