//! API keys: random secrets handed out once, stored as sha256 hashes.

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// Every key starts with this, so that a key is recognisable in a bearer
/// header (and by secret scanners) and cannot be mistaken for a JWT.
pub const PREFIX: &str = "wades_";

/// A new key: its public id, and the secret the client sends.
pub struct NewKey {
    /// Names the key in listings and for revocation.
    pub id: String,
    /// The bearer token; shown once, never stored.
    pub secret: String,
}

/// Makes a key with 256 random bits.
pub fn generate() -> std::io::Result<NewKey> {
    let mut bytes = [0u8; 36];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    let id = format!("k{}", hex::encode(&bytes[..4]));
    let secret = format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes[4..])
    );
    Ok(NewKey { id, secret })
}

/// Makes a key for `tenant` and stores its hash; the secret in the result
/// is the only copy.
pub async fn issue(
    store: &crate::store::JobStore,
    tenant: &str,
) -> Result<NewKey, crate::store::StoreError> {
    let key = generate()?;
    store
        .create_key(&key.id, tenant, &hash(&key.secret))
        .await?;
    Ok(key)
}

/// What is stored of a key: the hex sha256 of its secret. A fast hash is
/// enough because the secret has 256 random bits; nothing can be guessed.
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_hashed() {
        let (a, b) = (generate().unwrap(), generate().unwrap());
        assert!(a.secret.starts_with(PREFIX) && a.secret.len() > 40);
        assert_ne!(a.secret, b.secret);
        assert_ne!(a.id, b.id);
        assert_eq!(hash(&a.secret), hash(&a.secret));
        assert_ne!(hash(&a.secret), hash(&b.secret));
        assert!(!hash(&a.secret).contains(&a.secret[PREFIX.len()..]));
    }
}
