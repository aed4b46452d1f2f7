//! Assembles the service from its configuration and runs it.

use crate::auth::Oidc;
use crate::billing::{BillingStore, PgBillingStore, SqliteBillingStore};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::fetch::Fetcher;
use crate::http::limits::RateLimit;
use crate::http::{router, AppState};
use crate::jobs::Jobs;
use crate::metrics::Metrics;
use crate::modules::ModuleStore;
use crate::registry::{DeployLimits, Registry};
use crate::runtime::Runtime;
use crate::store::{Database, JobStore};
use crate::tenancy::quota::Quotas;
use crate::tenancy::Authenticator;
use std::sync::Arc;

/// The running service's parts, for the HTTP layer and tests.
pub struct Service {
    /// The router with its state.
    pub router: axum::Router,
    /// The job service.
    pub jobs: Jobs,
}

/// Opens the store, loads the built-in processes and starts the workers;
/// links start with `base`.
pub async fn build(config: &Config, base: &str) -> Result<Service> {
    std::fs::create_dir_all(&config.data_dir)?;
    let (store, billing_store) = open_stores(config).await?;
    let metrics = Metrics::new();
    let mut runtime_config = config.runtime();
    runtime_config.metrics = metrics.runtime();
    let runtime = Runtime::new(runtime_config)?;
    let fetcher = Fetcher::new(&config.fetch)?;
    let quotas = Quotas::new(store.clone(), config.quotas);
    let retention = config
        .retention()
        .map_err(|e| Error::Internal(format!("retention: {e}")))?;
    let modules = ModuleStore::open(&config.data_dir.join("modules"))?;
    let registry = Arc::new(Registry::new(
        runtime.clone(),
        modules,
        store.clone(),
        fetcher.clone(),
        DeployLimits {
            max_module_bytes: config.max_module_bytes,
        },
        quotas.clone(),
    ));
    if let Some(dir) = &config.builtin_dir {
        registry.load_builtins(dir, &config.builtins).await?;
        registry.load_commands(dir, &config.cwl.commands).await?;
    } else {
        tracing::warn!("no builtin_dir configured: the server starts without built-in processes");
    }
    registry.load_deployed().await?;
    let docker = owned_containers(&config).await;
    let jobs = Jobs::new(
        store.clone(),
        registry.clone(),
        runtime,
        fetcher.clone(),
        &config.data_dir,
        config.jobs(),
        quotas.clone(),
        docker,
        metrics.clone(),
        crate::jobs::Callbacks::new(fetcher, base),
    )?;
    let billing = crate::billing::Billing::new(
        billing_store,
        config.billing.clone(),
        registry.clone(),
        jobs.clone(),
        retention,
    )?;
    jobs.start().await?;
    jobs.start_sweeper(retention);
    let anonymous = config.auth.anonymous_role().map_err(Error::Internal)?;
    let tokens = match &config.auth.oidc {
        Some(oidc) => {
            // A key set is small; don't let an issuer make us download much.
            let mut fetch = config.fetch.clone();
            fetch.max_bytes = fetch.max_bytes.min(1 << 20);
            let oidc = Oidc::new(oidc.clone(), Fetcher::new(&fetch)?)
                .map_err(|e| Error::Internal(format!("auth.oidc: {e}")))?;
            Some(Box::new(oidc) as Box<dyn crate::tenancy::TokenVerifier>)
        }
        None => None,
    };
    let auth = Arc::new(Authenticator::new(store, anonymous, tokens));
    let state = AppState {
        registry,
        auth,
        jobs: jobs.clone(),
        base: base.into(),
        quotas,
        rate_limit: RateLimit::new(&config.rate_limit).map(Arc::new),
        metrics,
        billing,
        pages: Arc::new(crate::http::html::Pages::new(config.html.templates.clone())),
    };
    Ok(Service {
        router: router(state, config),
        jobs,
    })
}

/// Opens the job store and billing's, in the same database: billing's
/// tables come with the job store's migrations, and on PostgreSQL it shares
/// the job store's pool.
async fn open_stores(config: &Config) -> Result<(JobStore, Arc<dyn BillingStore>)> {
    match config.database() {
        Database::Postgres(url) => {
            let pg = crate::store::pg::PgStore::connect(&url, config.pg_options()).await?;
            let billing = PgBillingStore::new(pg.pool().clone());
            Ok((JobStore::from(pg), Arc::new(billing)))
        }
        Database::Sqlite(path) => {
            let store = config.open_store().await?;
            let billing = SqliteBillingStore::open(&path).await?;
            Ok((store, Arc::new(billing)))
        }
    }
}

/// Serves until Ctrl-C or SIGTERM.
pub async fn serve(config: Config) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|e| Error::Internal(format!("binding {}: {e}", config.bind)))?;
    let addr = listener.local_addr()?;
    // With port 0 the real port is known only now.
    let base = match &config.public_url {
        Some(_) => config.base_url(),
        None => format!("http://{addr}"),
    };
    let service = build(&config, &base).await?;
    tracing::info!(%addr, %base, "wades is listening");
    // Scripts and tests read this line to know the server is ready, and where.
    println!("wades listening on {base}");
    // The peer address keys the rate limit of anonymous clients.
    let app = service
        .router
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown())
        .await
        .map_err(|e| Error::Internal(e.to_string()))
}

async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// The label that marks the containers of this server's jobs: its data
/// folder, which no other server shares.
pub const CONTAINER_OWNER_LABEL: &str = "wades.data";

/// The Docker settings of CWL steps, with every container labelled as this
/// server's; those a crashed run left behind are removed now, before any
/// job can start one (an engine that does not answer is left for the
/// first job to report).
async fn owned_containers(config: &Config) -> Option<crate::cwl::docker::DockerConfig> {
    let mut docker = config.cwl.docker.clone()?;
    let owner = std::path::absolute(&config.data_dir)
        .unwrap_or_else(|_| config.data_dir.clone())
        .display()
        .to_string();
    docker
        .labels
        .insert(CONTAINER_OWNER_LABEL.into(), owner.clone());
    let backend = crate::cwl::docker::DockerBackend::connect(docker.clone()).await;
    match backend {
        Ok(b) => match b.remove_labelled(CONTAINER_OWNER_LABEL, &owner).await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(containers = n, "removed containers left by an earlier run"),
            Err(e) => {
                tracing::warn!(error = %e, "could not remove containers left by an earlier run")
            }
        },
        Err(e) => tracing::warn!(error = %e, "Docker engine: leftover containers not checked"),
    }
    Some(docker)
}
