//! A real (loopback) OpenID Connect identity provider for tests: a small
//! HTTP server serving a discovery document and a JWKS, and tokens minted
//! by jsonwebtoken from freshly generated RSA and P-256 keys. (Keys are
//! generated rather than committed, so no private key sits in the
//! repository to trip secret scanners or be reused.)
//!
//! Shared by the in-process verifier tests (`host/tests/oidc.rs`) and the
//! end-to-end ones against the server binary (`tests/oidc.rs`).

#![allow(dead_code)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{encode, get_current_timestamp, Algorithm, EncodingKey, Header};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::pkcs8::EncodePrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::rand_core::OsRng;
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// The audience tokens are minted for.
pub const AUDIENCE: &str = "wades";

/// An RSA key pair, as a token signer and as JWK members.
pub struct RsaKey {
    pub encoding: EncodingKey,
    pub public_pem: String,
    pub n: String,
    pub e: String,
}

/// A P-256 key pair, as a token signer and as JWK members.
pub struct EcKey {
    pub encoding: EncodingKey,
    pub x: String,
    pub y: String,
}

/// The keys of a test run.
pub struct Keys {
    /// The issuer's RSA key.
    pub rsa: RsaKey,
    /// The issuer's P-256 key.
    pub ec: EcKey,
    /// A key the issuer never published (an attacker's).
    pub other_rsa: RsaKey,
}

fn rsa_key() -> RsaKey {
    let private = rsa::RsaPrivateKey::new(&mut OsRng, 2048).expect("RSA key");
    let public = private.to_public_key();
    RsaKey {
        encoding: EncodingKey::from_rsa_der(private.to_pkcs1_der().unwrap().as_bytes()),
        public_pem: public.to_public_key_pem(LineEnding::LF).unwrap(),
        n: URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
        e: URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
    }
}

fn ec_key() -> EcKey {
    let secret = p256::SecretKey::random(&mut OsRng);
    let point = secret.public_key().to_encoded_point(false);
    EcKey {
        encoding: EncodingKey::from_ec_der(secret.to_pkcs8_der().unwrap().as_bytes()),
        x: URL_SAFE_NO_PAD.encode(point.x().unwrap()),
        y: URL_SAFE_NO_PAD.encode(point.y().unwrap()),
    }
}

/// Generated once: RSA key generation takes a moment.
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| Keys {
        rsa: rsa_key(),
        ec: ec_key(),
        other_rsa: rsa_key(),
    })
}

/// `key` as a JWK for RS256 under `kid`.
pub fn rsa_jwk(key: &RsaKey, kid: &str) -> Value {
    json!({"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": key.n, "e": key.e})
}

/// `key` as a JWK for ES256 under `kid`.
pub fn ec_jwk(key: &EcKey, kid: &str) -> Value {
    json!({"kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256", "x": key.x, "y": key.y})
}

/// The JWKS the issuer publishes by default: its RSA and EC keys.
pub fn issuer_jwks() -> Value {
    json!({"keys": [rsa_jwk(&keys().rsa, "rsa-1"), ec_jwk(&keys().ec, "ec-1")]})
}

/// A loopback identity provider: `/.well-known/openid-configuration` and
/// `/jwks`, counting requests.
pub struct Idp {
    /// Its URL, which is also its issuer id unless `discovery_issuer` says.
    pub base: String,
    pub jwks: Arc<Mutex<Value>>,
    /// The issuer its discovery document names, if not `base`.
    pub discovery_issuer: Arc<Mutex<Option<String>>>,
    pub jwks_hits: Arc<AtomicUsize>,
    pub discovery_hits: Arc<AtomicUsize>,
    /// While set, every request gets 503, as from an identity provider
    /// that is down behind its load balancer.
    pub down: Arc<AtomicBool>,
}

impl Idp {
    /// A provider publishing `jwks`.
    pub fn start(jwks: Value) -> Idp {
        Idp::start_slow(jwks, Duration::ZERO)
    }

    /// An IdP taking `delay` to answer for the JWKS, so concurrent
    /// requests pile up behind the first.
    pub fn start_slow(jwks: Value, delay: Duration) -> Idp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let idp = Idp {
            base: base.clone(),
            jwks: Arc::new(Mutex::new(jwks)),
            discovery_issuer: Arc::new(Mutex::new(None)),
            jwks_hits: Arc::default(),
            discovery_hits: Arc::default(),
            down: Arc::default(),
        };
        let (jwks, discovery_issuer) = (idp.jwks.clone(), idp.discovery_issuer.clone());
        let (jwks_hits, discovery_hits) = (idp.jwks_hits.clone(), idp.discovery_hits.clone());
        let down = idp.down.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&request);
                let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
                let (status, body) = match path.as_str() {
                    _ if down.load(Ordering::SeqCst) => {
                        ("503 Service Unavailable", "{}".to_string())
                    }
                    "/.well-known/openid-configuration" => {
                        discovery_hits.fetch_add(1, Ordering::SeqCst);
                        let issuer = discovery_issuer.lock().unwrap().clone();
                        let doc = json!({
                            "issuer": issuer.unwrap_or_else(|| base.clone()),
                            "jwks_uri": format!("{base}/jwks"),
                        });
                        ("200 OK", doc.to_string())
                    }
                    "/jwks" => {
                        jwks_hits.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(delay);
                        ("200 OK", jwks.lock().unwrap().to_string())
                    }
                    _ => ("404 Not Found", "{}".to_string()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body.as_bytes());
            }
        });
        idp
    }

    /// Publishes `jwks` from now on.
    pub fn set_jwks(&self, jwks: Value) {
        *self.jwks.lock().unwrap() = jwks;
    }

    /// Times the JWKS was fetched.
    pub fn jwks_hits(&self) -> usize {
        self.jwks_hits.load(Ordering::SeqCst)
    }

    /// Takes the provider down (503 to everything) or brings it back.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// The tenant id an identity `sub` of this issuer gets.
    pub fn tenant(&self, sub: &str) -> String {
        format!("oidc:{}#{sub}", self.base)
    }
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    get_current_timestamp() as i64
}

/// Valid claims of `alice` from `issuer` for this server.
pub fn claims(issuer: &str) -> Value {
    json!({"iss": issuer, "aud": AUDIENCE, "sub": "alice", "iat": now(), "exp": now() + 600})
}

/// `claims` with `key` set to `value`.
pub fn with(mut claims: Value, key: &str, value: Value) -> Value {
    claims[key] = value;
    claims
}

/// `claims` without `key`.
pub fn without(mut claims: Value, key: &str) -> Value {
    claims.as_object_mut().unwrap().remove(key);
    claims
}

/// `claims` signed with `alg` and `key`, naming key `kid`.
pub fn sign(alg: Algorithm, kid: &str, claims: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.into());
    encode(&header, claims, key).unwrap()
}

/// `claims` signed by the issuer's RSA key.
pub fn rs256(claims: &Value) -> String {
    sign(Algorithm::RS256, "rsa-1", claims, &keys().rsa.encoding)
}

/// `claims` signed by the issuer's P-256 key.
pub fn es256(claims: &Value) -> String {
    sign(Algorithm::ES256, "ec-1", claims, &keys().ec.encoding)
}

/// An unsigned token (`alg` is some spelling of `none`) naming the
/// issuer's RSA key.
pub fn unsigned(alg: &str, claims: &Value) -> String {
    let header = json!({"alg": alg, "typ": "JWT", "kid": "rsa-1"});
    format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// HS/RS confusion: `claims` signed with HS256 using the issuer's RSA
/// public key (PEM) as the HMAC secret, under the header `alg` names
/// (`HS256`, or `RS256` to pass as the issuer's own algorithm).
pub fn hmac_with_public_key(alg: &str, claims: &Value) -> String {
    let secret = EncodingKey::from_secret(keys().rsa.public_pem.as_bytes());
    let token = sign(Algorithm::HS256, "rsa-1", claims, &secret);
    if alg == "HS256" {
        return token;
    }
    let parts: Vec<&str> = token.split('.').collect();
    let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "kid": "rsa-1"}).to_string());
    format!("{header}.{}.{}", parts[1], parts[2])
}

/// `token` with its payload swapped for `claims`, keeping the header and
/// the (now wrong) signature.
pub fn with_payload(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{payload}.{}", parts[0], parts[2])
}
