//! Authentication of requests: turning credentials into a [`crate::model::Principal`].

mod oidc;
pub use oidc::{Oidc, OidcConfig, AuthError};
