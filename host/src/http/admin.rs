//! `GET/PUT/DELETE /admin/tenants/{id}/quota`: a tenant's own quota, for
//! admins only. The same as `wades tenant quota` on the command line.

use super::AppState;
use crate::error::{Error, Result};
use crate::model::{Principal, Role};
use crate::tenancy::quota::Quota;
use crate::tenancy::require;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// Longest tenant id taken: OIDC tenants (`oidc:<issuer>#<subject>`) are long.
const MAX_TENANT_ID: usize = 512;

fn tenant_id(id: &str) -> Result<&str> {
    if id.is_empty() || id.len() > MAX_TENANT_ID || id.chars().any(char::is_control) {
        return Err(Error::InvalidParameter(format!(
            "'{id}' is not a tenant id: 1 to {MAX_TENANT_ID} printable characters"
        )));
    }
    Ok(id)
}

/// The quota document: what the tenant has of its own, and what is in force.
async fn document(app: &AppState, tenant: &str) -> Result<Value> {
    let own = app.quotas.own(tenant).await?;
    Ok(json!({
        "tenant": tenant,
        "quota": own,
        "effective": own.over(app.quotas.defaults()),
    }))
}

/// `GET /admin/tenants/{id}/quota`.
pub async fn get_quota(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Json<Value>> {
    require(&who, Role::Admin, "reading a tenant's quota")?;
    Ok(Json(document(&app, tenant_id(&id)?).await?))
}

/// `PUT /admin/tenants/{id}/quota`: replaces the tenant's own quota; members
/// left out or null follow the server's `[quotas]`.
pub async fn put_quota(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
    body: std::result::Result<Bytes, BytesRejection>,
) -> Result<Json<Value>> {
    require(&who, Role::Admin, "setting a tenant's quota")?;
    let tenant = tenant_id(&id)?;
    let bytes = super::execute::body(body)?;
    let wrong = |why: String| {
        Error::BadRequest(format!(
            "the body must be a quota object such as {{\"max_running\": 2, \"max_queued\": 10}}: {why}"
        ))
    };
    let json: Value = serde_json::from_slice(&bytes).map_err(|e| wrong(e.to_string()))?;
    // Checked first: serde would also read a struct from an array.
    if !json.is_object() {
        return Err(wrong("not a JSON object".into()));
    }
    let quota: Quota = serde_json::from_value(json).map_err(|e| wrong(e.to_string()))?;
    app.quotas.set_own(tenant, Some(&quota)).await?;
    Ok(Json(document(&app, tenant).await?))
}

/// `DELETE /admin/tenants/{id}/quota`: back to the server's defaults.
pub async fn delete_quota(
    State(app): State<AppState>,
    who: Principal,
    Path(id): Path<String>,
) -> Result<Response> {
    require(&who, Role::Admin, "clearing a tenant's quota")?;
    app.quotas.set_own(tenant_id(&id)?, None).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
