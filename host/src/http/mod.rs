//! OGC API – Processes over HTTP. Handlers are thin: they parse the request,
//! call the registry or the job service, and render the answer.

mod admin;
mod auth;
mod bills;
mod deploy;
mod error;
mod execute;
mod hardening;
pub mod html;
mod jobs;
mod landing;
pub mod limits;
mod metrics;
mod openapi;
mod prefer;
mod processes;
mod quotations;
mod result_dirs;
mod results;

use crate::config::Config;
use crate::jobs::Jobs;
use crate::registry::Registry;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The processes.
    pub registry: Arc<Registry>,
    /// The jobs.
    pub jobs: Jobs,
    /// Who requests act for.
    pub auth: Arc<crate::tenancy::Authenticator>,
    /// Base of every link, without a trailing slash.
    pub base: Arc<str>,
    /// Per-tenant quotas.
    pub quotas: crate::tenancy::quota::Quotas,
    /// The per-identity rate limit, if on.
    pub rate_limit: Option<Arc<limits::RateLimit>>,
    /// What `/metrics` shows.
    pub metrics: crate::metrics::Metrics,
    /// Quotations and bills.
    pub billing: crate::billing::Billing,
    /// The HTML pages.
    pub pages: Arc<html::Pages>,
}

/// A deployment route, whose body may hold a whole component: as raw bytes,
/// or a third larger as base64 inside a package.
fn deployment(route: MethodRouter<AppState>, config: &Config) -> MethodRouter<AppState> {
    let limit = config.max_module_bytes / 3 * 4 + (1 << 20);
    route.layer(DefaultBodyLimit::max(limit.max(config.max_body_bytes)))
}

/// The whole API.
pub fn router(state: AppState, config: &Config) -> Router {
    let count = metrics::CountLayer(state.metrics.clone());
    // Path parameters are named as in the OGC API, which is what the
    // request counters show.
    let mut routes = Router::new()
        .route("/", get(landing::landing))
        .route("/conformance", get(landing::conformance))
        .route("/api", get(openapi::api))
        .route(
            "/processes",
            get(processes::list).merge(deployment(post(deploy::deploy), config)),
        )
        .route(
            "/processes/{processId}",
            get(processes::describe)
                .delete(deploy::undeploy)
                .merge(deployment(axum::routing::put(deploy::replace), config)),
        )
        .route("/processes/{processId}/package", get(deploy::package))
        .route(
            "/processes/{processId}/visibility",
            get(deploy::visibility).put(deploy::set_visibility),
        )
        .route(
            "/processes/{processId}/execution",
            post(execute::execute).get(execute::execute_kvp),
        )
        .route(
            "/processes/{processId}/quotations",
            get(quotations::list_for_process).post(quotations::request),
        )
        .route(
            "/processes/{processId}/quotations/{quotationId}",
            get(quotations::get_for_process).post(quotations::execute_for_process),
        )
        .route("/quotations", get(quotations::list))
        .route(
            "/quotations/{quotationId}",
            get(quotations::get).post(quotations::execute_quotation),
        )
        .route("/bills", get(bills::list))
        .route("/bills/{billId}", get(bills::get))
        .route("/jobs", get(jobs::list))
        .route("/jobs/{jobId}", get(jobs::status).delete(jobs::dismiss))
        .route("/jobs/{jobId}/results", get(jobs::results))
        .route("/jobs/{jobId}/results/{outputId}", get(jobs::result))
        .route(
            "/jobs/{jobId}/results/{outputId}/{*path}",
            get(jobs::result_inside),
        )
        .route("/jobs/{jobId}/logs", get(jobs::logs))
        .route(
            "/admin/tenants/{tenantId}/quota",
            get(admin::get_quota)
                .put(admin::put_quota)
                .delete(admin::delete_quota),
        );
    if config.metrics.enabled {
        routes = match config.metrics.public {
            true => routes.route("/metrics", get(metrics::public)),
            false => routes.route("/metrics", get(metrics::admin)),
        };
    }
    let routes = routes
        .fallback(|uri: axum::http::Uri| async move {
            crate::error::Error::NotFound(format!("nothing at {}", uri.path()))
        })
        .method_not_allowed_fallback(|| async { crate::error::Error::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        // Inside the router, where the matched route is known.
        .layer(count)
        .with_state(state);
    hardening::harden(routes, config)
}
