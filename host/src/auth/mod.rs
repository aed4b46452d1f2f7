//! Authentication of requests: turning credentials into a [`crate::model::Principal`].

mod oidc;
pub use oidc::{AuthError, Oidc, OidcConfig};
