//! OIDC bearer tokens against the real server: `wades serve` configured with
//! `[auth.oidc]` trusts an identity provider the test runs itself over real
//! HTTP (`common/idp.rs`). Every forged, misdirected or stale token, and
//! every token while the provider's keys cannot be fetched, gets 401 with an
//! OGC exception and `WWW-Authenticate`, never anonymous access.

mod common;
#[path = "common/idp.rs"]
mod idp;

use common::{exception, guests, As, Server};
use idp::*;
use jsonwebtoken::{encode, Algorithm, Header};
use serde_json::{json, Value};

/// A server trusting the identity provider `issuer`, with its JWKS cache
/// off so that every token fetches the keys anew and a provider going down
/// shows at once.
fn server_trusting(dir: &tempfile::TempDir, issuer: &str) -> Server {
    let config = dir.path().join("wades.toml");
    std::fs::write(
        &config,
        format!(
            "[auth.oidc]\nissuer = \"{issuer}\"\naudience = \"{AUDIENCE}\"\njwks_cache_seconds = 0\n"
        ),
    )
    .unwrap();
    Server::start_env(dir, &[("WADES_CONFIG", config.to_str().unwrap())])
}

/// Asserts `token` is refused as a client sees it: 401, an OGC exception
/// that repeats no part of the token, and the bearer challenge.
fn refused(s: &Server, what: &str, token: &str) {
    let r = As::key(s, token).get("/jobs");
    assert_eq!(r.status().as_u16(), 401, "{what}: {:?}", r.text());
    assert_eq!(
        r.headers()
            .get("www-authenticate")
            .map(|v| v.to_str().unwrap()),
        Some("Bearer realm=\"wades\""),
        "{what}"
    );
    let body = exception(r, 401, "unauthorized");
    let detail = body["detail"].as_str().unwrap();
    for part in token.split('.').filter(|p| p.len() > 8) {
        assert!(
            !detail.contains(part),
            "{what}: '{detail}' repeats the token"
        );
    }
}

#[test]
fn forged_misdirected_and_stale_tokens_get_401() {
    let idp = Idp::start(issuer_jwks());
    let dir = tempfile::tempdir().unwrap();
    let s = server_trusting(&dir, &idp.base);
    let iss = idp.base.clone();

    // The provider's genuine tokens work, so the refusals below are the
    // tokens' doing.
    for token in [rs256(&claims(&iss)), es256(&claims(&iss))] {
        let r = As::key(&s, &token).get("/jobs");
        assert_eq!(r.status().as_u16(), 200, "{:?}", r.text());
    }
    let developer = rs256(&with(claims(&iss), "wades_role", json!("developer")));
    let wasm = std::fs::read(guests().join("hello-world.wasm")).unwrap();
    let r = As::key(&s, &developer)
        .req("POST", "/processes?id=oidc-hello")
        .header("Content-Type", "application/wasm")
        .body(wasm)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{:?}", r.text());
    let visibility: Value = As::key(&s, &developer)
        .get("/processes/oidc-hello/visibility")
        .json()
        .unwrap();
    assert_eq!(visibility, json!({"visibility": "private"}));
    assert_eq!(
        As::anonymous(&s)
            .get("/processes/oidc-hello")
            .status()
            .as_u16(),
        404
    );

    let no_kid = {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = None;
        encode(&header, &claims(&iss), &keys().rsa.encoding).unwrap()
    };
    let cases = [
        ("alg none", unsigned("none", &claims(&iss))),
        ("alg None", unsigned("None", &claims(&iss))),
        ("alg NONE", unsigned("NONE", &claims(&iss))),
        (
            "HS256 keyed with the RSA public key",
            hmac_with_public_key("HS256", &claims(&iss)),
        ),
        (
            "an HS256 signature under an RS256 header",
            hmac_with_public_key("RS256", &claims(&iss)),
        ),
        (
            "wrong iss",
            rs256(&with(
                claims(&iss),
                "iss",
                json!("https://evil.example.org"),
            )),
        ),
        ("no iss", rs256(&without(claims(&iss), "iss"))),
        (
            "wrong aud",
            rs256(&with(claims(&iss), "aud", json!("another-service"))),
        ),
        ("no aud", rs256(&without(claims(&iss), "aud"))),
        (
            "expired beyond the leeway",
            rs256(&with(claims(&iss), "exp", json!(now() - 120))),
        ),
        ("no exp", rs256(&without(claims(&iss), "exp"))),
        (
            "nbf in the future",
            rs256(&with(claims(&iss), "nbf", json!(now() + 3600))),
        ),
        (
            "unknown kid",
            sign(
                Algorithm::RS256,
                "rsa-9",
                &claims(&iss),
                &keys().rsa.encoding,
            ),
        ),
        ("no kid", no_kid),
        (
            "a known kid, signed by another key",
            sign(
                Algorithm::RS256,
                "rsa-1",
                &with(claims(&iss), "wades_role", json!("admin")),
                &keys().other_rsa.encoding,
            ),
        ),
        (
            "a genuine signature over a payload raised to admin",
            with_payload(
                &rs256(&claims(&iss)),
                &with(claims(&iss), "wades_role", json!("admin")),
            ),
        ),
        (
            "an unknown role",
            rs256(&with(claims(&iss), "wades_role", json!("superuser"))),
        ),
    ];
    for (what, token) in &cases {
        refused(&s, what, token);
    }

    // Keys that cannot be fetched refuse even a genuine token: the server
    // fails closed rather than trusting what it cannot check.
    let genuine = rs256(&claims(&iss));
    assert_eq!(As::key(&s, &genuine).get("/jobs").status().as_u16(), 200);
    idp.set_down(true);
    refused(&s, "a genuine token while the JWKS is down", &genuine);
    refused(&s, "a developer's token while the JWKS is down", &developer);
    // Anonymous access is unaffected: only credentials that cannot be
    // checked are refused.
    assert_eq!(As::anonymous(&s).get("/jobs").status().as_u16(), 200);
}

#[test]
fn an_unreachable_issuer_refuses_every_token() {
    // A port nobody listens on, as the issuer.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let s = server_trusting(&dir, &closed);
    refused(
        &s,
        "a token of an unreachable issuer",
        &rs256(&claims(&closed)),
    );
    refused(
        &s,
        "an ES256 token of an unreachable issuer",
        &es256(&claims(&closed)),
    );
}
