//! Tenancy: who a request acts for. Requests carry an API key or an OIDC
//! bearer token (`Authorization: Bearer …`); without one they act as the
//! anonymous tenant if, and only as far as, the operator allows.
//!
//! Tenants and keys are managed with `wades tenant …` and `wades key …`.
//! Everything a tenant creates (deployed processes, jobs) is owned by it;
//! see [`crate::model::Visibility`] for who else may see a process.

pub mod keys;
pub mod quota;

use crate::error::{Error, Result};
use crate::model::{Principal, Role};
use crate::store::JobStore;
use futures::future::BoxFuture;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a key lookup is trusted: revoking a key takes effect on every
/// node within this time.
const KEY_CACHE: Duration = Duration::from_secs(10);
/// Bound on cached lookups, so that a flood of made-up keys cannot grow it.
const KEY_CACHE_ENTRIES: usize = 10_000;

/// Checks bearer tokens that are not API keys (OIDC JWTs).
pub trait TokenVerifier: Send + Sync {
    /// The identity `token` proves, or why it proves none (safe to show
    /// the client).
    fn verify<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, std::result::Result<Principal, String>>;
}

impl TokenVerifier for crate::auth::Oidc {
    fn verify<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, std::result::Result<Principal, String>> {
        Box::pin(async move {
            crate::auth::Oidc::verify(self, token)
                .await
                .map_err(|e| e.to_string())
        })
    }
}

/// Resolves credentials to a [`Principal`].
pub struct Authenticator {
    store: JobStore,
    anonymous: Option<Role>,
    tokens: Option<Box<dyn TokenVerifier>>,
    cache: Mutex<HashMap<String, (Option<Principal>, Instant)>>,
}

impl Authenticator {
    /// Checks keys against `store`, and other tokens with `tokens` if set;
    /// requests without credentials get `anonymous`, or are refused if it
    /// is `None`.
    pub fn new(
        store: JobStore,
        anonymous: Option<Role>,
        tokens: Option<Box<dyn TokenVerifier>>,
    ) -> Self {
        Authenticator {
            store,
            anonymous,
            tokens,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The identity of a request whose `Authorization` header is `header`.
    /// Anything but a valid credential is [`Error::Unauthorized`]: a bad
    /// key never falls back to anonymous access.
    pub async fn authenticate(&self, header: Option<&str>) -> Result<Principal> {
        let Some(header) = header else {
            return self.anonymous.map(Principal::anonymous).ok_or_else(|| {
                Error::Unauthorized(
                    "this server needs credentials: send Authorization: Bearer <API key or token>"
                        .into(),
                )
            });
        };
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::Unauthorized(
                    "the Authorization header must be 'Bearer <API key or token>'".into(),
                )
            })?;
        if token.starts_with(keys::PREFIX) {
            return self.key(token).await;
        }
        match &self.tokens {
            Some(tokens) => tokens.verify(token).await.map_err(Error::Unauthorized),
            None => Err(Error::Unauthorized(
                "the bearer token is not an API key, and this server accepts no other tokens"
                    .into(),
            )),
        }
    }

    async fn key(&self, secret: &str) -> Result<Principal> {
        let hash = keys::hash(secret);
        let cached = self
            .cache
            .lock()
            .expect("key cache")
            .get(&hash)
            .filter(|(_, at)| at.elapsed() < KEY_CACHE)
            .map(|(p, _)| p.clone());
        let found = match cached {
            Some(found) => found,
            None => {
                let found = self.store.principal_for_key(&hash).await?;
                let mut cache = self.cache.lock().expect("key cache");
                if cache.len() >= KEY_CACHE_ENTRIES {
                    cache.clear();
                }
                cache.insert(hash, (found.clone(), Instant::now()));
                found
            }
        };
        found.ok_or_else(|| Error::Unauthorized("the API key is unknown or revoked".into()))
    }
}

/// Refuses `who` unless its role is at least `role`, saying what `action` needed.
pub fn require(who: &Principal, role: Role, action: &str) -> Result<()> {
    if who.role >= role {
        return Ok(());
    }
    if who.tenant == crate::model::ANONYMOUS {
        return Err(Error::Unauthorized(format!(
            "{action} needs credentials: send Authorization: Bearer <API key or token>"
        )));
    }
    Err(Error::Forbidden(format!(
        "{action} needs the {} role; tenant '{}' has the {} role",
        role.as_str(),
        who.tenant,
        who.role.as_str()
    )))
}
