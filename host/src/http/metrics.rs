//! `GET /metrics` (Prometheus), and the layer that counts requests by
//! method, route template and status.
//!
//! Routes are counted by their template (axum's [`MatchedPath`]), never by
//! the path: paths hold job ids, and a series per job would grow without
//! bound.

use super::AppState;
use crate::error::{Error, Result};
use crate::metrics::{HttpLabels, Metrics, Status};
use crate::model::{JobStatus, Principal, Role};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use std::future::Future;
use std::pin::Pin;
use std::sync::RwLock;
use std::task::{ready, Context, Poll};

/// The media type of the exposition `prometheus_client` writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// `GET /metrics` when `[metrics] public = true`: for anyone.
pub async fn public(State(app): State<AppState>) -> Result<Response> {
    render(&app).await
}

/// `GET /metrics`: for admins only, since the counters name every process
/// and tell how much each is used.
pub async fn admin(State(app): State<AppState>, who: Principal) -> Result<Response> {
    crate::tenancy::require(&who, Role::Admin, "reading metrics")?;
    render(&app).await
}

async fn render(app: &AppState) -> Result<Response> {
    // Read at each scrape, so the numbers hold across restarts and nodes.
    let queued = app.jobs.count(JobStatus::Accepted).await?;
    let running = app.jobs.count(JobStatus::Running).await?;
    app.metrics.set_stored(queued, running);
    let text = app
        .metrics
        .render()
        .map_err(|e| Error::Internal(format!("rendering metrics: {e}")))?;
    Ok(([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response())
}

/// Counts every response of the routes it wraps.
#[derive(Clone)]
pub struct CountLayer(pub Metrics);

impl<S> tower::Layer<S> for CountLayer {
    type Service = Count<S>;

    fn layer(&self, inner: S) -> Count<S> {
        Count {
            inner,
            metrics: self.0.clone(),
        }
    }
}

/// See [`CountLayer`].
#[derive(Clone)]
pub struct Count<S> {
    inner: S,
    metrics: Metrics,
}

impl<S> tower::Service<Request> for Count<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Counted<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", |m| intern(m.as_str()));
        let method = method(req.method());
        Counted {
            inner: self.inner.call(req),
            method,
            route,
            metrics: self.metrics.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    /// A response on its way, counted once ready. A plain future rather
    /// than a boxed one: this runs on every request.
    pub struct Counted<F> {
        #[pin]
        inner: F,
        method: &'static str,
        route: &'static str,
        metrics: Metrics,
    }
}

impl<F, E> Future for Counted<F>
where
    F: Future<Output = std::result::Result<Response, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let out = ready!(this.inner.poll(cx));
        if let Ok(response) = &out {
            this.metrics.http_request(&HttpLabels {
                method: this.method,
                route: this.route,
                status: Status(response.status().as_u16()),
            });
        }
        Poll::Ready(out)
    }
}

fn method(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        _ => "other",
    }
}

/// The one `'static` copy of a route template. Templates are the router's,
/// a fixed handful, so the copies leaked here are bounded.
fn intern(route: &str) -> &'static str {
    static ROUTES: RwLock<Vec<&'static str>> = RwLock::new(Vec::new());
    if let Some(r) = ROUTES
        .read()
        .expect("routes")
        .iter()
        .copied()
        .find(|r| *r == route)
    {
        return r;
    }
    let mut routes = ROUTES.write().expect("routes");
    if let Some(r) = routes.iter().copied().find(|r| *r == route) {
        return r;
    }
    let r: &'static str = Box::leak(route.into());
    routes.push(r);
    r
}
