//! OIDC bearer-token verification, in process, against a real (loopback)
//! identity provider (`tests/common/idp.rs`, shared with the end-to-end
//! suite `tests/oidc.rs`).

#[path = "../../tests/common/idp.rs"]
mod idp;

use idp::*;
use jsonwebtoken::{encode, Algorithm, Header};
use serde_json::json;
use std::sync::atomic::Ordering;
use std::time::Duration;
use wades::auth::{AuthError, Oidc, OidcConfig};
use wades::config::FetchConfig;
use wades::fetch::Fetcher;
use wades::model::Role;

/// A fetcher allowed to reach loopback, as the test IdP lives there.
fn fetcher() -> Fetcher {
    Fetcher::new(&FetchConfig {
        allow: vec!["127.0.0.0/8".into()],
        timeout_seconds: 5,
        ..FetchConfig::default()
    })
    .unwrap()
}

fn config(issuer: &str) -> OidcConfig {
    OidcConfig {
        issuer: issuer.into(),
        audience: AUDIENCE.into(),
        ..OidcConfig::default()
    }
}

fn verifier(idp: &Idp) -> Oidc {
    Oidc::new(config(&idp.base), fetcher()).unwrap()
}

/// Verifies `token`, expecting refusal, and checks the message shown to
/// clients repeats no part of the token.
async fn refused(oidc: &Oidc, token: &str) -> AuthError {
    let error = oidc
        .verify(token)
        .await
        .expect_err("the token must be refused");
    let message = error.to_string();
    for part in token.split('.').filter(|p| p.len() > 8) {
        assert!(!message.contains(part), "'{message}' repeats the token");
    }
    error
}

#[tokio::test]
async fn valid_rs256_token_gives_prefixed_tenant_and_role() {
    let idp = Idp::start(issuer_jwks());
    let oidc = verifier(&idp);
    let token = rs256(&with(claims(&idp.base), "wades_role", json!("developer")));
    let principal = oidc.verify(&token).await.unwrap();
    assert_eq!(principal.tenant, idp.tenant("alice"));
    assert!(principal.tenant.starts_with(Oidc::TENANT_PREFIX));
    assert_eq!(principal.role, Role::Developer);

    let admin = rs256(&with(claims(&idp.base), "wades_role", json!("admin")));
    assert_eq!(oidc.verify(&admin).await.unwrap().role, Role::Admin);
}

#[tokio::test]
async fn valid_es256_token_without_role_claim_is_a_user() {
    let idp = Idp::start(issuer_jwks());
    let oidc = verifier(&idp);
    let principal = oidc.verify(&es256(&claims(&idp.base))).await.unwrap();
    assert_eq!(principal.tenant, idp.tenant("alice"));
    assert_eq!(principal.role, Role::User);
}

#[tokio::test]
async fn configured_claims_and_jwks_url_are_used() {
    let idp = Idp::start(issuer_jwks());
    let oidc = Oidc::new(
        OidcConfig {
            jwks_url: Some(format!("{}/jwks", idp.base)),
            tenant_claim: "email".into(),
            role_claim: "role".into(),
            ..config(&idp.base)
        },
        fetcher(),
    )
    .unwrap();
    let token = rs256(&with(
        with(claims(&idp.base), "email", json!("alice@example.org")),
        "role",
        json!("admin"),
    ));
    let principal = oidc.verify(&token).await.unwrap();
    assert_eq!(principal.tenant, idp.tenant("alice@example.org"));
    assert_eq!(principal.role, Role::Admin);
    // The discovery document was not needed.
    assert_eq!(idp.discovery_hits.load(Ordering::SeqCst), 0);
    // The default role claim means nothing under this configuration.
    let token = rs256(&with(
        with(claims(&idp.base), "email", json!("bob@example.org")),
        "wades_role",
        json!("admin"),
    ));
    assert_eq!(oidc.verify(&token).await.unwrap().role, Role::User);
}

#[tokio::test]
async fn audience_may_be_a_list_containing_ours() {
    let idp = Idp::start(issuer_jwks());
    let oidc = verifier(&idp);
    let token = rs256(&with(claims(&idp.base), "aud", json!(["other", AUDIENCE])));
    oidc.verify(&token).await.unwrap();
    let token = rs256(&with(claims(&idp.base), "aud", json!(["other", "another"])));
    assert_eq!(refused(&oidc, &token).await, AuthError::Audience);
}

#[tokio::test]
async fn unsigned_alg_none_is_refused() {
    let idp = Idp::start(issuer_jwks());
    let oidc = verifier(&idp);
    for alg in ["none", "None", "NONE"] {
        let token = unsigned(alg, &claims(&idp.base));
        assert_eq!(refused(&oidc, &token).await, AuthError::Algorithm);
    }
    // Nothing was fetched for it: the algorithm is checked first.
    assert_eq!(idp.jwks_hits(), 0);
}

#[tokio::test]
async fn hs256_signed_with_the_public_key_is_refused() {
    let idp = Idp::start(issuer_jwks());
    let oidc = verifier(&idp);
    let token = hmac_with_public_key("HS256", &claims(&idp.base));
    assert_eq!(refused(&oidc, &token).await, AuthError::Algorithm);
    // The same HMAC signature under a header claiming RS256 does not verify.
    let forged = hmac_with_public_key("RS256", &claims(&idp.base));
    assert_eq!(refused(&oidc, &forged).await, AuthError::Signature);
}

#[tokio::test]
async fn wrong_issuer_is_refused() {
    let idp = Idp::start(issuer_jwks());
    let oidc = verifier(&idp);
    let token = rs256(&with(
        claims(&idp.base),
        "iss",
        json!("https://evil.example.org"),
    ));
    assert_eq!(refused(&oidc, &token).await, AuthError::Issuer);
    let token = rs256(&with(claims(&idp.base), "iss", json!([idp.base.clone()])));
    assert_eq!(refused(&oidc, &token).await, AuthError::Issuer);
    let token = rs256(&without(claims(&idp.base), "iss"));
    assert_eq!(
        refused(&oidc, &token).await,
        AuthError::MissingClaim("iss".into())
    );
}

#[tokio::test]
async fn wrong_audience_is_refused() {
    let idp = Idp::start(issuer_jwks());
    let oidc = verifier(&idp);
    let token = rs256(&with(claims(&idp.base), "aud", json!("another-service")));
    assert_eq!(refused(&oidc, &token).await, AuthError::Audience);
    let token = rs256(&without(claims(&idp.base), "aud"));
    assert_eq!(
        refused(&oidc, &token).await,
        AuthError::MissingClaim("aud".into())
    );
}

#[tokio::test]
async fn expired_token_is_refused_beyond_the_leeway() {
    let idp = Idp::start(issuer_jwks());
    let oidc = verifier(&idp);
    let token = rs256(&with(claims(&idp.base), "exp", json!(now() - 120)));
    assert_eq!(refused(&oidc, &token).await, AuthError::Expired);
    // Within the 30 s leeway it still counts.
    let token = rs256(&with(claims(&idp.base), "exp", json!(now() - 5)));
    oidc.verify(&token).await.unwrap();
    let token = rs256(&without(claims(&idp.base), "exp"));
    assert_eq!(
        refused(&oidc, &token).await,
        AuthError::MissingClaim("exp".into())
    );
}

#[tokio::test]
async fn token_not_yet_valid_is_refused() {
    let idp = Idp::start(issuer_jwks());
    let oidc = verifier(&idp);
    let token = rs256(&with(claims(&idp.base), "nbf", json!(now() + 3600)));
    assert_eq!(refused(&oidc, &token).await, AuthError::NotYetValid);
    let token = rs256(&with(claims(&idp.base), "nbf", json!(now() + 5)));
    oidc.verify(&token).await.unwrap();
}

#[tokio::test]
async fn unknown_kid_is_refused() {
    let idp = Idp::start(issuer_jwks());
    let oidc = verifier(&idp);
    let token = sign(
        Algorithm::RS256,
        "rsa-9",
        &claims(&idp.base),
        &keys().rsa.encoding,
    );
    assert_eq!(refused(&oidc, &token).await, AuthError::UnknownKey);
    // The JWKS fetched for this very token is not fetched again for it.
    assert_eq!(idp.jwks_hits(), 1);
    let mut header = Header::new(Algorithm::RS256);
    header.kid = None;
    let token = encode(&header, &claims(&idp.base), &keys().rsa.encoding).unwrap();
    assert_eq!(refused(&oidc, &token).await, AuthError::NoKeyId);
}

#[tokio::test]
async fn unknown_kid_refetches_once_then_not_again() {
    let idp = Idp::start(issuer_jwks());
    let oidc = verifier(&idp);
    oidc.verify(&rs256(&claims(&idp.base))).await.unwrap();
    assert_eq!(idp.jwks_hits(), 1);
    let token = sign(
        Algorithm::RS256,
        "rsa-9",
        &claims(&idp.base),
        &keys().rsa.encoding,
    );
    assert_eq!(refused(&oidc, &token).await, AuthError::UnknownKey);
    assert_eq!(idp.jwks_hits(), 2, "an unknown kid refetches the JWKS");
    for kid in ["rsa-9", "rsa-10", "made-up"] {
        let token = sign(
            Algorithm::RS256,
            kid,
            &claims(&idp.base),
            &keys().rsa.encoding,
        );
        assert_eq!(refused(&oidc, &token).await, AuthError::UnknownKey);
    }
    assert_eq!(
        idp.jwks_hits(),
        2,
        "further unknown kids within 10 s do not refetch"
    );
    // Known keys are still served from the cache.
    oidc.verify(&es256(&claims(&idp.base))).await.unwrap();
    assert_eq!(idp.jwks_hits(), 2);
}

#[tokio::test]
async fn a_rotated_in_key_is_found_by_the_refetch() {
    let idp = Idp::start(json!({"keys": [rsa_jwk(&keys().rsa, "rsa-1")]}));
    let oidc = verifier(&idp);
    oidc.verify(&rs256(&claims(&idp.base))).await.unwrap();
    idp.set_jwks(issuer_jwks());
    let principal = oidc.verify(&es256(&claims(&idp.base))).await.unwrap();
    assert_eq!(principal.tenant, idp.tenant("alice"));
    assert_eq!(idp.jwks_hits(), 2);
}

#[tokio::test]
async fn second_verify_within_cache_time_does_not_refetch() {
    let idp = Idp::start(issuer_jwks());
    let oidc = verifier(&idp);
    for _ in 0..3 {
        oidc.verify(&rs256(&claims(&idp.base))).await.unwrap();
        oidc.verify(&es256(&claims(&idp.base))).await.unwrap();
    }
    // Clones share the cache.
    oidc.clone()
        .verify(&rs256(&claims(&idp.base)))
        .await
        .unwrap();
    assert_eq!(idp.jwks_hits(), 1);
    assert_eq!(idp.discovery_hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn expired_cache_is_refetched() {
    let idp = Idp::start(issuer_jwks());
    let oidc = Oidc::new(
        OidcConfig {
            jwks_cache_seconds: 0,
            ..config(&idp.base)
        },
        fetcher(),
    )
    .unwrap();
    oidc.verify(&rs256(&claims(&idp.base))).await.unwrap();
    oidc.verify(&rs256(&claims(&idp.base))).await.unwrap();
    assert_eq!(idp.jwks_hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_make_one_fetch() {
    let idp = Idp::start_slow(issuer_jwks(), Duration::from_millis(300));
    let oidc = verifier(&idp);
    let token = rs256(&claims(&idp.base));
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let (oidc, token) = (oidc.clone(), token.clone());
            tokio::spawn(async move { oidc.verify(&token).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(idp.jwks_hits(), 1);
}

#[tokio::test]
async fn jwks_server_down_refuses() {
    // A port nobody listens on.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let oidc = Oidc::new(config(&closed), fetcher()).unwrap();
    let token = rs256(&claims(&closed));
    assert_eq!(refused(&oidc, &token).await, AuthError::KeysUnavailable);
    assert_eq!(refused(&oidc, &token).await, AuthError::KeysUnavailable);
    assert_eq!(
        AuthError::KeysUnavailable.to_string(),
        "the token issuer's keys could not be fetched"
    );

    // Discovery works but the JWKS does not.
    let idp = Idp::start(issuer_jwks());
    let oidc = Oidc::new(
        OidcConfig {
            jwks_url: Some(format!("{closed}/jwks")),
            ..config(&idp.base)
        },
        fetcher(),
    )
    .unwrap();
    let token = rs256(&claims(&idp.base));
    assert_eq!(refused(&oidc, &token).await, AuthError::KeysUnavailable);
}

#[tokio::test]
async fn unusable_key_sets_refuse() {
    // A JWKS of a 404, of garbage, and of only a symmetric key.
    let idp = Idp::start(json!({"keys": [{"kty": "oct", "kid": "rsa-1", "k": "c2VjcmV0"}]}));
    let oidc = verifier(&idp);
    let token = rs256(&claims(&idp.base));
    assert_eq!(refused(&oidc, &token).await, AuthError::KeysUnavailable);

    let idp = Idp::start(json!("not a key set"));
    let oidc = verifier(&idp);
    assert_eq!(
        refused(&oidc, &rs256(&claims(&idp.base))).await,
        AuthError::KeysUnavailable
    );

    let idp = Idp::start(issuer_jwks());
    let oidc = Oidc::new(
        OidcConfig {
            jwks_url: Some(format!("{}/elsewhere", idp.base)),
            ..config(&idp.base)
        },
        fetcher(),
    )
    .unwrap();
    assert_eq!(
        refused(&oidc, &rs256(&claims(&idp.base))).await,
        AuthError::KeysUnavailable
    );
}

#[tokio::test]
async fn discovery_naming_another_issuer_is_not_used() {
    let idp = Idp::start(issuer_jwks());
    *idp.discovery_issuer.lock().unwrap() = Some("https://other.example.org".into());
    let oidc = verifier(&idp);
    assert_eq!(
        refused(&oidc, &rs256(&claims(&idp.base))).await,
        AuthError::KeysUnavailable
    );
    assert_eq!(idp.jwks_hits(), 0);
}

#[tokio::test]
async fn the_fetcher_rules_apply_to_key_fetches() {
    let idp = Idp::start(issuer_jwks());
    // Loopback is not allowed by a default fetcher.
    let strict = Fetcher::new(&FetchConfig::default()).unwrap();
    let oidc = Oidc::new(config(&idp.base), strict).unwrap();
    assert_eq!(
        refused(&oidc, &rs256(&claims(&idp.base))).await,
        AuthError::KeysUnavailable
    );
    assert_eq!(idp.discovery_hits.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn token_signed_by_another_key_with_a_known_kid_is_refused() {
    let idp = Idp::start(issuer_jwks());
    let oidc = verifier(&idp);
    let token = sign(
        Algorithm::RS256,
        "rsa-1",
        &claims(&idp.base),
        &keys().other_rsa.encoding,
    );
    assert_eq!(refused(&oidc, &token).await, AuthError::Signature);
    // Refused for its signature even though its claims are also wrong:
    // claims of a token that is not the issuer's are not judged.
    let token = sign(
        Algorithm::RS256,
        "rsa-1",
        &with(claims(&idp.base), "exp", json!(now() - 3600)),
        &keys().other_rsa.encoding,
    );
    assert_eq!(refused(&oidc, &token).await, AuthError::Signature);
    // A tampered payload under a genuine signature.
    let tampered = with_payload(
        &rs256(&claims(&idp.base)),
        &with(claims(&idp.base), "wades_role", json!("admin")),
    );
    assert_eq!(refused(&oidc, &tampered).await, AuthError::Signature);
}

#[tokio::test]
async fn algorithm_must_fit_the_key_type() {
    let idp = Idp::start(issuer_jwks());
    let oidc = verifier(&idp);
    // An ES256 token naming the RSA key, and the reverse.
    let token = sign(
        Algorithm::ES256,
        "rsa-1",
        &claims(&idp.base),
        &keys().ec.encoding,
    );
    assert_eq!(refused(&oidc, &token).await, AuthError::KeyMismatch);
    let token = sign(
        Algorithm::RS256,
        "ec-1",
        &claims(&idp.base),
        &keys().rsa.encoding,
    );
    assert_eq!(refused(&oidc, &token).await, AuthError::KeyMismatch);
    // An RSA key published for RS256 only does not verify PS256.
    let oidc = Oidc::new(
        OidcConfig {
            algorithms: vec!["RS256".into(), "PS256".into(), "ES256".into()],
            ..config(&idp.base)
        },
        fetcher(),
    )
    .unwrap();
    let token = sign(
        Algorithm::PS256,
        "rsa-1",
        &claims(&idp.base),
        &keys().rsa.encoding,
    );
    assert_eq!(refused(&oidc, &token).await, AuthError::KeyMismatch);
    // An algorithm left out of the allow-list is refused even with a fitting key.
    let oidc = Oidc::new(
        OidcConfig {
            algorithms: vec!["ES256".into()],
            ..config(&idp.base)
        },
        fetcher(),
    )
    .unwrap();
    assert_eq!(
        refused(&oidc, &rs256(&claims(&idp.base))).await,
        AuthError::Algorithm
    );
}

#[tokio::test]
async fn unknown_role_is_refused() {
    let idp = Idp::start(issuer_jwks());
    let oidc = verifier(&idp);
    for role in [
        json!("superuser"),
        json!("Admin"),
        json!(["admin"]),
        json!(null),
        json!(3),
    ] {
        let token = rs256(&with(claims(&idp.base), "wades_role", role));
        assert_eq!(refused(&oidc, &token).await, AuthError::Role);
    }
}

#[tokio::test]
async fn tenant_claim_must_be_a_string() {
    let idp = Idp::start(issuer_jwks());
    let oidc = verifier(&idp);
    let token = rs256(&without(claims(&idp.base), "sub"));
    assert_eq!(
        refused(&oidc, &token).await,
        AuthError::MissingClaim("sub".into())
    );
    for sub in [json!(""), json!(42), json!("a\nb")] {
        let token = rs256(&with(claims(&idp.base), "sub", sub.clone()));
        assert_eq!(
            refused(&oidc, &token).await,
            AuthError::InvalidClaim("sub".into()),
            "{sub}"
        );
    }
    // jsonwebtoken's own claim checks cannot read a `sub` array or object
    // and call the token malformed; refused either way.
    for sub in [json!(["alice"]), json!({"id": "alice"})] {
        let token = rs256(&with(claims(&idp.base), "sub", sub.clone()));
        assert_eq!(refused(&oidc, &token).await, AuthError::Malformed, "{sub}");
    }
}

#[tokio::test]
async fn malformed_tokens_and_critical_headers_are_refused() {
    let idp = Idp::start(issuer_jwks());
    let oidc = verifier(&idp);
    for token in [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.e30.sig",
        &"x".repeat(20_000),
    ] {
        assert_eq!(
            refused(&oidc, token).await,
            AuthError::Malformed,
            "{token:.20}"
        );
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("rsa-1".into());
    header.crit = Some(vec!["exp-ext".into()]);
    let token = encode(&header, &claims(&idp.base), &keys().rsa.encoding).unwrap();
    assert_eq!(refused(&oidc, &token).await, AuthError::CriticalHeader);
}

#[test]
fn configuration_that_would_verify_too_much_is_refused() {
    let base = config("https://idp.example.org/realms/geo");
    let refused = |config: OidcConfig| Oidc::new(config, fetcher()).unwrap_err();
    for algorithms in [
        vec!["none"],
        vec!["HS256"],
        vec!["RS256", "HS512"],
        vec!["RS1"],
        vec![],
    ] {
        let error = refused(OidcConfig {
            algorithms: algorithms.iter().map(|a| a.to_string()).collect(),
            ..base.clone()
        });
        assert!(error.contains("auth.oidc.algorithms"), "{error}");
    }
    assert!(refused(OidcConfig {
        issuer: String::new(),
        ..base.clone()
    })
    .contains("issuer"));
    assert!(refused(OidcConfig {
        issuer: "http://idp.example.org".into(),
        ..base.clone()
    })
    .contains("https"));
    assert!(refused(OidcConfig {
        issuer: "https://idp.example.org/#x".into(),
        ..base.clone()
    })
    .contains("fragment"));
    assert!(refused(OidcConfig {
        audience: String::new(),
        ..base.clone()
    })
    .contains("audience"));
    assert!(refused(OidcConfig {
        jwks_url: Some("http://idp.example.org/jwks".into()),
        ..base.clone()
    })
    .contains("jwks_url"));
    assert!(refused(OidcConfig {
        leeway_seconds: 3600,
        ..base.clone()
    })
    .contains("leeway"));
    assert!(refused(OidcConfig {
        tenant_claim: String::new(),
        ..base.clone()
    })
    .contains("tenant_claim"));
    Oidc::new(base, fetcher()).unwrap();
}

#[test]
fn configuration_reads_from_toml_with_defaults() {
    let config: OidcConfig =
        toml::from_str("issuer = \"https://idp.example.org\"\naudience = \"wades\"\n").unwrap();
    assert_eq!(config.algorithms, ["RS256", "ES256"]);
    assert_eq!(config.tenant_claim, "sub");
    assert_eq!(config.role_claim, "wades_role");
    assert_eq!(
        (config.jwks_cache_seconds, config.leeway_seconds),
        (300, 30)
    );
    assert_eq!(config.jwks_url, None);
    assert!(toml::from_str::<OidcConfig>("issuer = \"https://x\"\nissuers = []\n").is_err());
}
