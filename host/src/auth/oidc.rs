//! Verification of OIDC bearer tokens (signed JWTs), in process, failing closed.
//!
//! A token is accepted only if every one of these holds, checked in this order:
//!
//! 1. it is a compact JWS of at most 16 KiB whose header `alg` is in the
//!    configured allow-list. The list can never hold `none` or an HMAC
//!    algorithm (`HS*`): [`Oidc::new`] refuses such a configuration, because
//!    this verifier only ever holds the issuer's *public* keys, and accepting
//!    HMAC would let anyone who knows a public key sign tokens with it;
//! 2. the header has no `crit` parameters (RFC 7515 §4.1.11: extensions the
//!    recipient does not understand must make it reject the token);
//! 3. its `kid` names a key of the issuer's JWKS, and that key's type (and
//!    curve, and `alg` when the key states one) fits the header's `alg`.
//!    Keys are only ever taken from the configured or discovered JWKS; the
//!    token's own `jku`, `x5u` and `jwk` headers are ignored, since trusting
//!    them would let the token choose the key that verifies it;
//! 4. the signature verifies;
//! 5. `iss` equals the configured issuer, `aud` is or contains the configured
//!    audience, `exp` is present and not past, `nbf`, when present, is not in
//!    the future; both with the configured leeway;
//! 6. the tenant claim is a non-empty string and the role claim, when
//!    present, is `admin`, `developer` or `user`.
//!
//! The JWKS is fetched through the SSRF-safe [`Fetcher`], cached for
//! `jwks_cache_seconds`, and refetched at most once per 10 s for a `kid` it
//! does not hold (so keys rotated at the issuer are picked up at once, while
//! a flood of tokens with made-up `kid`s cannot turn into a flood of fetches).
//! Concurrent misses wait for one fetch. When no fresh JWKS can be had, every
//! token is refused: an expired cache is never used, and nothing is accepted
//! unverified.
//!
//! # Tenants
//!
//! An OIDC identity acts as tenant `oidc:<issuer>#<subject>`, e.g.
//! `oidc:https://login.example.org/realms/geo#248289761001`. The `oidc:`
//! prefix keeps these apart from locally managed tenants (which must not
//! start with it), and the issuer keeps subjects of different issuers apart:
//! were the operator to switch identity providers, the new provider's
//! subject `123` must not inherit what the old provider's `123` owns. The
//! split is unambiguous because an issuer has neither query nor fragment, so
//! the first `#` ends it.

use crate::fetch::Fetcher;
use crate::model::{Principal, Role};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant};

/// Refetches of the JWKS for an unknown `kid`, and retries after a failed
/// fetch, happen at most this often.
const MIN_REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// Longer tokens are refused before any decoding: real ones are a few KiB.
const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Larger JWKS documents are refused: real ones hold a handful of keys.
const MAX_JWKS_BYTES: usize = 1 << 20;
/// A larger leeway would make `exp` meaningless.
const MAX_LEEWAY_SECONDS: u64 = 300;
/// A key the issuer has withdrawn (perhaps because it leaked) stays trusted
/// until the cache expires; a day is the most an operator may choose.
const MAX_CACHE_SECONDS: u64 = 86_400;
/// Shorter RSA keys are factorable; JWKS keys shorter than this are skipped.
const MIN_RSA_BITS: usize = 2048;
/// Longest accepted tenant claim value (it becomes part of a tenant id).
const MAX_SUBJECT_BYTES: usize = 256;

/// Settings of OIDC bearer-token authentication (`[auth.oidc]`).
///
/// ```toml
/// [auth.oidc]
/// issuer = "https://login.example.org/realms/geo"
/// audience = "wades"
/// # jwks_url = "https://login.example.org/realms/geo/protocol/openid-connect/certs"
/// # algorithms = ["RS256", "ES256"]
/// # tenant_claim = "sub"
/// # role_claim = "wades_role"
/// # jwks_cache_seconds = 300
/// # leeway_seconds = 30
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OidcConfig {
    /// The issuer, exactly as tokens carry it in `iss`. Required. Must be
    /// https (plain http only for a loopback address), without query or
    /// fragment.
    pub issuer: String,
    /// Where the issuer's signing keys (a JWKS) are. If unset, the
    /// `jwks_uri` of `{issuer}/.well-known/openid-configuration`, whose
    /// `issuer` must then equal [`issuer`](Self::issuer). Must be https
    /// (plain http only for a loopback address).
    pub jwks_url: Option<String>,
    /// The audience of this server: a token's `aud` must be it or contain it.
    /// Required, so that tokens minted for other services are refused.
    pub audience: String,
    /// Signing algorithms accepted, by their JWA names (`RS256`, `RS384`,
    /// `RS512`, `PS256`, `PS384`, `PS512`, `ES256`, `ES384`, `EdDSA`).
    /// `none` and `HS*` are refused. Default `["RS256", "ES256"]`.
    pub algorithms: Vec<String>,
    /// The claim naming the identity, a string. Default `sub`.
    pub tenant_claim: String,
    /// The claim naming the role: `admin`, `developer` or `user`. A token
    /// without it has role `user`; any other value refuses the token.
    /// Default `wades_role`.
    pub role_claim: String,
    /// How long a fetched JWKS is used, in seconds (at most a day).
    /// Default 300.
    pub jwks_cache_seconds: u64,
    /// Clock skew tolerated on `exp` and `nbf`, in seconds (at most 300).
    /// Default 30.
    pub leeway_seconds: u64,
}

impl Default for OidcConfig {
    fn default() -> Self {
        OidcConfig {
            issuer: String::new(),
            jwks_url: None,
            audience: String::new(),
            algorithms: ["RS256", "ES256"].map(String::from).to_vec(),
            tenant_claim: "sub".into(),
            role_claim: "wades_role".into(),
            jwks_cache_seconds: 300,
            leeway_seconds: 30,
        }
    }
}

/// Why a bearer token was refused. The caller answers 401 whichever it is.
///
/// Messages are meant for clients: they never repeat the token or anything
/// taken from it, and say no more than which check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// Not three base64url parts with a JSON header, or too long.
    #[error("the bearer token is not a well-formed JWT")]
    Malformed,
    /// The header's `alg` is not in the allow-list (this includes `none`
    /// and every `HS*`).
    #[error("the bearer token's signing algorithm is not accepted")]
    Algorithm,
    /// The header has `crit` extensions, none of which this server knows.
    #[error("the bearer token has critical header parameters this server does not understand")]
    CriticalHeader,
    /// The header has no `kid`.
    #[error("the bearer token does not name its signing key (kid)")]
    NoKeyId,
    /// The `kid` is not among the issuer's keys, even after a refetch.
    #[error("the bearer token's signing key is not one of the issuer's keys")]
    UnknownKey,
    /// The key the `kid` names is not of the kind the `alg` needs.
    #[error("the bearer token's algorithm does not match its signing key")]
    KeyMismatch,
    /// The signature is not the issuer's.
    #[error("the bearer token's signature does not verify")]
    Signature,
    /// `exp` is past (beyond the leeway).
    #[error("the bearer token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    #[error("the bearer token is not valid yet")]
    NotYetValid,
    /// `iss` is not the configured issuer.
    #[error("the bearer token was not issued by the trusted issuer")]
    Issuer,
    /// `aud` does not name this server.
    #[error("the bearer token is not meant for this server (audience)")]
    Audience,
    /// A required claim is missing; the name is ours (configured or
    /// standard), never the token's.
    #[error("the bearer token lacks the claim '{0}'")]
    MissingClaim(String),
    /// A claim has the wrong type or an unusable value; the name is ours.
    #[error("the bearer token's claim '{0}' is not valid")]
    InvalidClaim(String),
    /// The role claim is present but not `admin`, `developer` or `user`.
    #[error("the bearer token's role claim is not one of admin, developer or user")]
    Role,
    /// No fresh JWKS could be fetched, so nothing can be verified.
    #[error("the token issuer's keys could not be fetched")]
    KeysUnavailable,
}

/// Verifies bearer tokens of one OIDC issuer. Cheap to clone: clones share
/// the key cache.
#[derive(Clone)]
pub struct Oidc {
    inner: Arc<Inner>,
}

struct Inner {
    config: OidcConfig,
    algorithms: Vec<Algorithm>,
    discovery_url: String,
    cache_for: Duration,
    fetcher: Fetcher,
    /// The current JWKS, read without waiting on a fetch in progress.
    keys: RwLock<Option<Arc<KeySet>>>,
    /// Held while fetching, so concurrent misses make one fetch.
    refresh: tokio::sync::Mutex<RefreshState>,
}

#[derive(Default)]
struct RefreshState {
    generations: u64,
    last_failure: Option<Instant>,
    last_kid_refetch: Option<Instant>,
}

/// One fetched JWKS: usable keys by `kid`.
struct KeySet {
    /// Tells a waiter whether someone else refreshed while it waited.
    generation: u64,
    fetched: Instant,
    /// A list, because an issuer may publish, say, an RSA and an EC key
    /// under one `kid`; the token's `alg` picks among them.
    by_kid: HashMap<String, Vec<Key>>,
}

/// A verification key from the JWKS.
#[derive(Debug)]
struct Key {
    kind: KeyKind,
    /// The JWK's `alg`, when it states one: then only that algorithm.
    alg: Option<Algorithm>,
    decoding: DecodingKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl KeyKind {
    /// Whether a key of this kind can verify `alg`. Explicit pairs only, so
    /// no algorithm can be used with a key of another kind.
    fn admits(self, alg: Algorithm) -> bool {
        matches!(
            (self, alg),
            (
                KeyKind::Rsa,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ) | (KeyKind::P256, Algorithm::ES256)
                | (KeyKind::P384, Algorithm::ES384)
                | (KeyKind::Ed25519, Algorithm::EdDSA)
        )
    }
}

impl Key {
    fn admits(&self, alg: Algorithm) -> bool {
        self.kind.admits(alg) && self.alg.is_none_or(|own| own == alg)
    }
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("issuer", &self.inner.config.issuer)
            .field("audience", &self.inner.config.audience)
            .finish_non_exhaustive()
    }
}

impl Oidc {
    /// What every tenant id of an OIDC identity starts with. Local tenant
    /// ids must not, or they could be taken over by a token.
    pub const TENANT_PREFIX: &'static str = "oidc:";

    /// A verifier for `config`'s issuer, fetching keys through `fetcher`.
    ///
    /// Fails, with a message naming the setting, on a configuration that
    /// would verify nothing or too much: no issuer or audience, an issuer
    /// or JWKS URL that is not https (plain http only for loopback), an
    /// algorithm list that is empty or names `none`, an `HS*` or an unknown
    /// algorithm, empty claim names, or a cache time or leeway too large.
    /// Nothing is fetched yet.
    pub fn new(config: OidcConfig, fetcher: Fetcher) -> Result<Oidc, String> {
        let field = |name: &str, why: String| format!("auth.oidc.{name}: {why}");
        if config.issuer.is_empty() {
            return Err(field("issuer", "is required".into()));
        }
        let issuer = trusted_url(&config.issuer).map_err(|why| field("issuer", why))?;
        // A query or fragment is not allowed in an issuer (OIDC Discovery
        // §3), and without `#` the tenant id's split stays unambiguous.
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(field(
                "issuer",
                "must have neither query nor fragment".into(),
            ));
        }
        if config.audience.is_empty() {
            return Err(field("audience", "is required".into()));
        }
        if let Some(url) = &config.jwks_url {
            trusted_url(url).map_err(|why| field("jwks_url", why))?;
        }
        let mut algorithms = Vec::new();
        for name in &config.algorithms {
            let alg = parse_algorithm(name).map_err(|why| field("algorithms", why))?;
            if !algorithms.contains(&alg) {
                algorithms.push(alg);
            }
        }
        if algorithms.is_empty() {
            return Err(field(
                "algorithms",
                "must name at least one algorithm".into(),
            ));
        }
        if config.tenant_claim.is_empty() {
            return Err(field("tenant_claim", "must not be empty".into()));
        }
        if config.role_claim.is_empty() {
            return Err(field("role_claim", "must not be empty".into()));
        }
        if config.leeway_seconds > MAX_LEEWAY_SECONDS {
            return Err(field(
                "leeway_seconds",
                format!("must be at most {MAX_LEEWAY_SECONDS}"),
            ));
        }
        if config.jwks_cache_seconds > MAX_CACHE_SECONDS {
            return Err(field(
                "jwks_cache_seconds",
                format!("must be at most {MAX_CACHE_SECONDS}"),
            ));
        }
        // OIDC Discovery §4: a terminating `/` of the issuer is removed
        // before appending the well-known path.
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            config.issuer.trim_end_matches('/')
        );
        Ok(Oidc {
            inner: Arc::new(Inner {
                cache_for: Duration::from_secs(config.jwks_cache_seconds),
                config,
                algorithms,
                discovery_url,
                fetcher,
                keys: RwLock::new(None),
                refresh: tokio::sync::Mutex::new(RefreshState::default()),
            }),
        })
    }

    /// The configuration it verifies with.
    pub fn config(&self) -> &OidcConfig {
        &self.inner.config
    }

    /// The identity a bearer `token` proves, or why it proves none.
    ///
    /// `token` is the credential alone, without the `Bearer ` scheme.
    /// May fetch the issuer's keys (see the module documentation); any
    /// failure to get them refuses the token.
    pub async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let result = self.inner.verify(token).await;
        if let Err(why) = &result {
            tracing::debug!(issuer = %self.inner.config.issuer, "bearer token refused: {why}");
        }
        result
    }
}

/// The header fields looked at before the signature is: which key, which
/// algorithm, and whether there are extensions we would have to understand.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
    crit: Option<Value>,
}

impl Inner {
    async fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header = parse_header(token)?;
        let alg = Algorithm::from_str(&header.alg).map_err(|_| AuthError::Algorithm)?;
        if !self.algorithms.contains(&alg) {
            return Err(AuthError::Algorithm);
        }
        if header.crit.is_some() {
            return Err(AuthError::CriticalHeader);
        }
        let kid = header
            .kid
            .filter(|kid| !kid.is_empty())
            .ok_or(AuthError::NoKeyId)?;
        let set = self.keys_for(&kid).await?;
        let candidates: Vec<&Key> = set.by_kid[&kid]
            .iter()
            .filter(|key| key.admits(alg))
            .collect();
        if candidates.is_empty() {
            return Err(AuthError::KeyMismatch);
        }
        let validation = self.validation(alg);
        let mut refused = AuthError::Signature;
        for key in candidates {
            // `decode` checks the signature before any claim, so claims of a
            // token that is not the issuer's are never judged.
            match jsonwebtoken::decode::<Map<String, Value>>(token, &key.decoding, &validation) {
                Ok(data) => return self.principal(&data.claims),
                Err(e) => {
                    refused = refusal(&e);
                    if refused != AuthError::Signature {
                        break;
                    }
                }
            }
        }
        Err(refused)
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut validation = Validation::new(alg);
        validation.leeway = self.config.leeway_seconds;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = true;
        validation.set_issuer(&[&self.config.issuer]);
        validation.set_audience(&[&self.config.audience]);
        // jsonwebtoken skips the issuer and audience checks when the claim
        // is absent unless it is required.
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation
    }

    fn principal(&self, claims: &Map<String, Value>) -> Result<Principal, AuthError> {
        // jsonwebtoken also accepts an array of issuers if one matches;
        // RFC 7519 makes `iss` a single string, so only that is accepted.
        match claims.get("iss") {
            Some(Value::String(iss)) if *iss == self.config.issuer => {}
            _ => return Err(AuthError::Issuer),
        }
        let name = &self.config.tenant_claim;
        let subject = match claims.get(name) {
            None | Some(Value::Null) => return Err(AuthError::MissingClaim(name.clone())),
            Some(Value::String(s))
                if !s.is_empty()
                    && s.len() <= MAX_SUBJECT_BYTES
                    && !s.chars().any(char::is_control) =>
            {
                s
            }
            Some(_) => return Err(AuthError::InvalidClaim(name.clone())),
        };
        // Least privilege when the issuer says nothing; anything unexpected
        // refuses the token rather than guessing a role.
        let role = match claims.get(&self.config.role_claim) {
            None => Role::User,
            Some(Value::String(role)) => Role::parse(role).ok_or(AuthError::Role)?,
            Some(_) => return Err(AuthError::Role),
        };
        Ok(Principal {
            tenant: format!("{}{}#{}", Oidc::TENANT_PREFIX, self.config.issuer, subject),
            role,
        })
    }

    fn cached(&self) -> Option<Arc<KeySet>> {
        self.keys
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn is_fresh(&self, set: &KeySet) -> bool {
        set.fetched.elapsed() < self.cache_for
    }

    /// A fresh key set holding `kid`, fetching one if need be.
    async fn keys_for(&self, kid: &str) -> Result<Arc<KeySet>, AuthError> {
        let seen = self.cached();
        if let Some(set) = seen.as_ref().filter(|set| self.is_fresh(set)) {
            if set.by_kid.contains_key(kid) {
                return Ok(set.clone());
            }
        }
        let mut state = self.refresh.lock().await;
        // Whoever held the lock before may have fetched what this task was
        // about to: then its result is used rather than fetching again.
        let current = self.cached();
        let refreshed_meanwhile =
            current.as_ref().map(|s| s.generation) != seen.as_ref().map(|s| s.generation);
        let now = Instant::now();
        let recent = |at: Option<Instant>| {
            at.is_some_and(|at| now.saturating_duration_since(at) < MIN_REFETCH_INTERVAL)
        };
        match current.filter(|set| self.is_fresh(set)) {
            Some(set) => {
                if set.by_kid.contains_key(kid) {
                    return Ok(set);
                }
                // An unknown kid may be a key the issuer just rotated in, so
                // it is worth one refetch; but not one per token, or made-up
                // kids would make us hammer the issuer.
                if refreshed_meanwhile || recent(state.last_kid_refetch) {
                    return Err(AuthError::UnknownKey);
                }
                state.last_kid_refetch = Some(now);
            }
            None => {
                // Without keys every request would otherwise queue here for
                // a fetch that just failed; fail fast for a while instead.
                if recent(state.last_failure) {
                    return Err(AuthError::KeysUnavailable);
                }
            }
        }
        match self.fetch_keys().await {
            Ok(by_kid) => {
                state.generations += 1;
                state.last_failure = None;
                let set = Arc::new(KeySet {
                    generation: state.generations,
                    fetched: Instant::now(),
                    by_kid,
                });
                *self.keys.write().unwrap_or_else(PoisonError::into_inner) = Some(set.clone());
                if set.by_kid.contains_key(kid) {
                    Ok(set)
                } else {
                    Err(AuthError::UnknownKey)
                }
            }
            Err(why) => {
                tracing::warn!(issuer = %self.config.issuer, "the OIDC signing keys could not be fetched: {why}");
                state.last_failure = Some(Instant::now());
                Err(AuthError::KeysUnavailable)
            }
        }
    }

    async fn fetch_keys(&self) -> Result<HashMap<String, Vec<Key>>, String> {
        let url = match &self.config.jwks_url {
            Some(url) => url.clone(),
            None => self.discover_jwks_url().await?,
        };
        let jwks = self.fetcher.fetch(&url).await.map_err(|e| e.to_string())?;
        parse_jwks(&jwks.bytes).map_err(|why| format!("JWKS at '{url}': {why}"))
    }

    /// The `jwks_uri` of the issuer's discovery document. Looked up at every
    /// refresh, so a move of the JWKS at the issuer is followed.
    async fn discover_jwks_url(&self) -> Result<String, String> {
        #[derive(Deserialize)]
        struct Discovery {
            issuer: String,
            jwks_uri: String,
        }
        let url = &self.discovery_url;
        let doc = self.fetcher.fetch(url).await.map_err(|e| e.to_string())?;
        let doc: Discovery = serde_json::from_slice(&doc.bytes)
            .map_err(|e| format!("discovery document at '{url}': {e}"))?;
        // OIDC Discovery §4.3: a document naming another issuer must not be
        // used, or one issuer could point us at another's keys.
        if doc.issuer != self.config.issuer {
            return Err(format!(
                "discovery document at '{url}' names issuer '{}', not '{}'",
                doc.issuer, self.config.issuer
            ));
        }
        trusted_url(&doc.jwks_uri).map_err(|why| format!("jwks_uri '{}' {why}", doc.jwks_uri))?;
        Ok(doc.jwks_uri)
    }
}

/// The header of a compact JWS, refusing anything else before decoding much.
fn parse_header(token: &str) -> Result<RawHeader, AuthError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(AuthError::Malformed);
    };
    let header = URL_SAFE_NO_PAD
        .decode(header)
        .map_err(|_| AuthError::Malformed)?;
    serde_json::from_slice(&header).map_err(|_| AuthError::Malformed)
}

/// An allow-list entry of the configuration.
fn parse_algorithm(name: &str) -> Result<Algorithm, String> {
    if name.eq_ignore_ascii_case("none") {
        return Err("'none' (unsigned tokens) is never accepted".into());
    }
    let hmac = || {
        format!(
            "'{name}' is never accepted: HMAC algorithms verify with a shared secret, \
             and this verifier holds only the issuer's public keys, which anyone may know"
        )
    };
    if name.to_ascii_uppercase().starts_with("HS") {
        return Err(hmac());
    }
    let alg = Algorithm::from_str(name).map_err(|_| {
        format!(
            "unknown algorithm '{name}'; accepted are RS256, RS384, RS512, PS256, PS384, \
             PS512, ES256, ES384 and EdDSA"
        )
    })?;
    if alg.family() == AlgorithmFamily::Hmac {
        return Err(hmac());
    }
    Ok(alg)
}

/// `text` as a URL keys may be fetched from: https, because whoever can
/// change the keys in transit can sign any token; plain http only on
/// loopback, where there is no transit (tests, a sidecar).
fn trusted_url(text: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => return Err("has no host".into()),
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err("must be https (plain http only for a loopback address)".into()),
    }
}

/// What the client is told about a refusal by jsonwebtoken.
fn refusal(error: &jsonwebtoken::errors::Error) -> AuthError {
    match error.kind() {
        ErrorKind::InvalidSignature => AuthError::Signature,
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::Issuer,
        ErrorKind::InvalidAudience => AuthError::Audience,
        ErrorKind::MissingRequiredClaim(claim) => AuthError::MissingClaim(claim.clone()),
        ErrorKind::InvalidClaimFormat(claim) => AuthError::InvalidClaim(claim.clone()),
        ErrorKind::InvalidAlgorithm | ErrorKind::MissingAlgorithm => AuthError::KeyMismatch,
        // A key that cannot be used (a point off the curve, say) verifies
        // nothing.
        ErrorKind::InvalidRsaKey(_)
        | ErrorKind::InvalidEcdsaKey
        | ErrorKind::InvalidEddsaKey
        | ErrorKind::InvalidKeyFormat => AuthError::Signature,
        _ => AuthError::Malformed,
    }
}

/// The usable signing keys of a JWKS document, by `kid`. Keys this verifier
/// cannot or must not use are skipped one by one, so that one odd key does
/// not take the issuer's other keys down with it.
fn parse_jwks(bytes: &[u8]) -> Result<HashMap<String, Vec<Key>>, String> {
    #[derive(Deserialize)]
    struct Jwks {
        keys: Vec<Value>,
    }
    if bytes.len() > MAX_JWKS_BYTES {
        return Err(format!("larger than {MAX_JWKS_BYTES} bytes"));
    }
    let jwks: Jwks = serde_json::from_slice(bytes).map_err(|e| format!("not a JWKS: {e}"))?;
    let mut by_kid: HashMap<String, Vec<Key>> = HashMap::new();
    for jwk in jwks.keys {
        match parse_jwk(jwk) {
            Ok((kid, key)) => by_kid.entry(kid).or_default().push(key),
            Err(why) => tracing::debug!("JWKS key skipped: {why}"),
        }
    }
    if by_kid.is_empty() {
        return Err("holds no usable signing key".into());
    }
    Ok(by_kid)
}

/// The fields of a JWK (RFC 7517, 7518, 8037) this verifier looks at.
#[derive(Deserialize)]
struct RawJwk {
    kty: String,
    kid: Option<String>,
    alg: Option<String>,
    #[serde(rename = "use")]
    use_: Option<String>,
    key_ops: Option<Vec<String>>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

fn parse_jwk(jwk: Value) -> Result<(String, Key), String> {
    // Some issuers pad their base64url; the value is the same either way.
    const LENIENT: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let jwk: RawJwk = serde_json::from_value(jwk).map_err(|e| format!("not a JWK: {e}"))?;
    // Tokens must name their key, so a key without a kid can never be chosen.
    let kid = jwk
        .kid
        .filter(|kid| !kid.is_empty())
        .ok_or("a key without kid")?;
    let bytes = |value: &Option<String>, name: &str| -> Result<Vec<u8>, String> {
        let value = value
            .as_deref()
            .ok_or_else(|| format!("key '{kid}' lacks '{name}'"))?;
        LENIENT
            .decode(value)
            .map_err(|_| format!("key '{kid}' has a '{name}' that is not base64url"))
    };
    if jwk.use_.as_deref().is_some_and(|u| u != "sig") {
        return Err(format!("key '{kid}' is not for signatures"));
    }
    if jwk
        .key_ops
        .as_ref()
        .is_some_and(|ops| !ops.iter().any(|op| op == "verify"))
    {
        return Err(format!("key '{kid}' is not for verifying"));
    }
    let alg = match &jwk.alg {
        None => None,
        Some(name) => match Algorithm::from_str(name) {
            Ok(alg) if alg.family() != AlgorithmFamily::Hmac => Some(alg),
            _ => return Err(format!("key '{kid}' is for algorithm '{name}'")),
        },
    };
    let (kind, decoding) = match jwk.kty.as_str() {
        "RSA" => {
            let n = bytes(&jwk.n, "n")?;
            let e = bytes(&jwk.e, "e")?;
            let n_trimmed = &n[n.iter().take_while(|b| **b == 0).count()..];
            let bits = n_trimmed
                .first()
                .map_or(0, |top| n_trimmed.len() * 8 - top.leading_zeros() as usize);
            if bits < MIN_RSA_BITS {
                return Err(format!(
                    "RSA key '{kid}' has {bits} bits, fewer than {MIN_RSA_BITS}"
                ));
            }
            (KeyKind::Rsa, DecodingKey::from_rsa_raw_components(&n, &e))
        }
        "EC" => {
            let (kind, size) = match jwk.crv.as_deref() {
                Some("P-256") => (KeyKind::P256, 32),
                Some("P-384") => (KeyKind::P384, 48),
                _ => return Err(format!("EC key '{kid}' is on an unsupported curve")),
            };
            let x = bytes(&jwk.x, "x")?;
            let y = bytes(&jwk.y, "y")?;
            if x.len() != size || y.len() != size {
                return Err(format!("EC key '{kid}' has coordinates of the wrong size"));
            }
            let decoding = DecodingKey::from_ec_components(
                &URL_SAFE_NO_PAD.encode(&x),
                &URL_SAFE_NO_PAD.encode(&y),
            )
            .map_err(|e| format!("EC key '{kid}': {e}"))?;
            (kind, decoding)
        }
        "OKP" => {
            if jwk.crv.as_deref() != Some("Ed25519") {
                return Err(format!("OKP key '{kid}' is not Ed25519"));
            }
            let x = bytes(&jwk.x, "x")?;
            if x.len() != 32 {
                return Err(format!("Ed25519 key '{kid}' has the wrong size"));
            }
            let decoding = DecodingKey::from_ed_components(&URL_SAFE_NO_PAD.encode(&x))
                .map_err(|e| format!("Ed25519 key '{kid}': {e}"))?;
            (KeyKind::Ed25519, decoding)
        }
        // Symmetric (`oct`) keys have no place in a public key set: using
        // one would let whoever read the JWKS sign tokens.
        other => {
            return Err(format!(
                "key '{kid}' has key type '{other}', not one for signatures"
            ))
        }
    };
    // A key whose stated algorithm contradicts its type verifies nothing.
    if alg.is_some_and(|alg| !kind.admits(alg)) {
        return Err(format!(
            "key '{kid}' states an algorithm its type cannot do"
        ));
    }
    Ok((
        kid,
        Key {
            kind,
            alg,
            decoding,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_and_hmac_are_refused_in_the_allow_list() {
        for bad in ["none", "None", "HS256", "HS384", "HS512", "hs256", "XY999"] {
            assert!(parse_algorithm(bad).is_err(), "{bad}");
        }
        for good in ["RS256", "PS512", "ES256", "ES384", "EdDSA"] {
            assert!(parse_algorithm(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn keys_only_fit_their_algorithms() {
        assert!(KeyKind::Rsa.admits(Algorithm::RS256) && KeyKind::Rsa.admits(Algorithm::PS256));
        assert!(!KeyKind::Rsa.admits(Algorithm::ES256) && !KeyKind::Rsa.admits(Algorithm::HS256));
        assert!(KeyKind::P256.admits(Algorithm::ES256) && !KeyKind::P256.admits(Algorithm::ES384));
        assert!(!KeyKind::P384.admits(Algorithm::ES256));
    }

    #[test]
    fn only_https_or_loopback_http() {
        assert!(trusted_url("https://idp.example.org").is_ok());
        assert!(trusted_url("http://127.0.0.1:8080").is_ok());
        assert!(trusted_url("http://[::1]/").is_ok());
        assert!(trusted_url("http://idp.example.org").is_err());
        assert!(trusted_url("file:///etc/passwd").is_err());
    }

    #[test]
    fn symmetric_and_short_keys_are_skipped() {
        let oct = serde_json::json!({"kty": "oct", "kid": "s", "k": "c2VjcmV0"});
        assert!(parse_jwk(oct).is_err());
        let short = serde_json::json!({"kty": "RSA", "kid": "r", "n": URL_SAFE_NO_PAD.encode([0xffu8; 128]), "e": "AQAB"});
        assert!(parse_jwk(short).unwrap_err().contains("1024 bits"));
        let enc = serde_json::json!({"kty": "RSA", "kid": "r", "use": "enc", "n": URL_SAFE_NO_PAD.encode([0xffu8; 256]), "e": "AQAB"});
        assert!(parse_jwk(enc).is_err());
        let ok = serde_json::json!({"kty": "RSA", "kid": "r", "use": "sig", "alg": "RS256", "n": URL_SAFE_NO_PAD.encode([0xffu8; 256]), "e": "AQAB"});
        assert!(parse_jwk(ok).is_ok());
    }
}
