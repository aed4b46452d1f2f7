//! The identity of a request, as an extractor: handlers that take a
//! [`Principal`] act for it, and a request with bad credentials, or over
//! its identity's rate limit, never reaches them.

use super::AppState;
use crate::error::Error;
use crate::model::Principal;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

impl FromRequestParts<AppState> for Principal {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Error> {
        let header = match parts.headers.get(AUTHORIZATION) {
            None => None,
            Some(v) => Some(v.to_str().map_err(|_| {
                Error::Unauthorized("the Authorization header is not valid text".into())
            })?),
        };
        let who = app.auth.authenticate(header).await?;
        if let Some(limit) = &app.rate_limit {
            let peer = parts
                .extensions
                .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                .map(|c| c.0.ip());
            match (who.tenant == crate::model::ANONYMOUS, peer) {
                (true, Some(ip)) => limit.check(&format!("{}@{ip}", who.tenant))?,
                _ => limit.check(&who.tenant)?,
            }
        }
        Ok(who)
    }
}
