//! The one typed configuration of `wades serve`.
//!
//! Sources, later ones winning: built-in defaults, the TOML file given with
//! `--config`, `WADES_*` environment variables, command-line flags.
//!
//! ```toml
//! bind = "127.0.0.1:8080"
//! data_dir = "./wades-data"
//! database = "postgres://wades@db/wades"        # default: SQLite in data_dir/wades.db (also
//!                                               # --database, WADES_DATABASE); several nodes share
//!                                               # one PostgreSQL (docs/scaling.md)
//! role = "all"                                  # api: HTTP only; worker: runs jobs only; all: both
//!                                               # (also --role, WADES_ROLE)
//! lease_seconds = 30                            # PostgreSQL: a dead node's jobs run again after this
//! public_url = "https://processes.example.org"  # base of every link; default http://<bind>
//! builtin_dir = "target/wasm"                   # where the built-in components are
//! builtins = ["hello-world", "echo", "normalized-difference", "otsu"]
//! workers = 2                                   # guests executing at once; default: CPUs
//! running_jobs = 64                             # jobs in `running` at once (staging, waiting
//!                                               # for a worker, executing, storing results)
//! max_body_bytes = 67108864
//! max_module_bytes = 33554432                   # largest deployable component
//! log_format = "text"                           # or "json": one JSON object per line, with the
//!                                               # job and process of the job it is about
//!                                               # (also --log-format, WADES_LOG_FORMAT)
//!
//! [limits]                                      # per job; processes and requests may only lower them
//! fuel = 200000000000
//! memory_bytes = 536870912
//! timeout_seconds = 600
//!
//! [fetch]                                       # href inputs
//! max_bytes = 268435456
//! timeout_seconds = 30
//! allow = ["127.0.0.1/32"]                      # private/loopback networks allowed despite SSRF rules
//!
//! [auth]
//! anonymous = "user"                            # or "none": every request needs a key or token
//!
//! [auth.oidc]                                   # accept JWTs of this issuer (tenant oidc:<iss>#<sub>)
//! issuer = "https://login.example.org/realms/eo"
//! audience = "wades"
//! algorithms = ["RS256", "ES256"]               # never none or HS*
//! role_claim = "wades_role"                     # admin | developer | user (default user)
//!
//! [compile]                                     # each deployed component, in a child process
//! time_seconds = 60
//! memory_bytes = 2147483648
//!
//! [cwl]
//! commands = ["wc"]                             # WASI commands of builtin_dir that CWL steps may run
//!
//! [cwl.docker]                                  # CWL steps with a DockerRequirement; absent: refused
//! pull = "if-missing"                           # never | if-missing | always
//! user = "65534:65534"                          # when wades runs as root; never uid 0
//! pids_limit = 256
//! max_memory_mib = 8192                         # ceiling of ResourceRequirement ramMin
//! max_cores = 2                                 # ceiling of coresMin; default: CPUs
//! output_dir = "/var/spool/cwl"                 # unless dockerOutputDirectory says
//! allow_image_build = false                     # dockerFile (built without network); also
//!                                               # WADES_CWL_DOCKER_ALLOW_IMAGE_BUILD
//! labels = { "org.example.owner" = "wades" }    # on every container
//!
//! [quotas]                                      # per tenant; unset = unlimited. `wades tenant quota`
//! max_running = 4                               # and PUT /admin/tenants/{id}/quota override them
//! max_queued = 100                              # accepted jobs waiting; more: 429
//! fuel_per_job = 10000000000                    # clamps [limits] fuel for this tenant's jobs
//! fuel_per_day = 1000000000000                  # fuel burnt since 00:00 UTC; more: 429 until then
//! memory_per_job = 268435456                    # clamps [limits] memory_bytes
//! module_bytes = 104857600                      # deployed components, summed; more: 413/507
//! result_bytes = 1073741824                     # stored job results, summed; more: 413/507
//!
//! [rate_limit]                                  # token bucket per identity (tenant; anonymous: per
//! per_second = 0                                # client address); 0 = off. Over it: 429 + Retry-After
//! burst = 50
//!
//! retention = "30d"                             # final jobs, results and logs older than this are
//!                                               # deleted ("90s", "12h", "30d"); unset = kept forever
//!
//! [billing]                                     # quotations and bills (Testbed-14); prices in `currency`
//! currency = "EUR"
//! per_billion_fuel = 0.002                      # per 10^9 fuel units
//! per_gb_second = 0.00002                       # per GB of peak memory held for a second
//! per_mb_month = 0.0001                         # per MB of results kept a month (for `retention`)
//! per_container_cpu_second = 0.00005            # container steps of CWL jobs
//! margin = 0.1                                  # a quoted job's fuel budget and most price: +10 %
//! quote_validity_seconds = 3600                 # also WADES_QUOTE_VALIDITY_SECONDS
//! dry_run_fuel = 10000000000                    # most fuel a quotation's dry run may burn
//!
//! [metrics]                                     # GET /metrics, Prometheus (OpenMetrics text)
//! enabled = true                                # false: no /metrics route (404)
//! public = false                                # true: anyone may scrape; false: admins only (the
//!                                               # counters name every process and tell its use);
//!                                               # also WADES_METRICS_PUBLIC
//!
//! [html]                                        # the pages browsers get (Accept: text/html or ?f=html)
//! templates = "/etc/wades/templates"            # files here replace the built-in templates of the
//!                                               # same name (base.html, landing.html, processes.html,
//!                                               # process.html, jobs.html, job.html, conformance.html);
//!                                               # also WADES_TEMPLATES
//!
//! [http]
//! cors_origins = []                             # origins allowed cross-origin, or ["*"]; none by default
//! request_timeout_seconds = 660                 # whole request, incl. sync execution; 503 after it
//! max_header_bytes = 16384                      # all request headers together; more: 431
//! ```

use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Settings of the server.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Where the database, compiled artifacts and job files live.
    pub data_dir: PathBuf,
    /// The database: a `postgres://` URL, or an SQLite file; `None` is
    /// `data_dir/wades.db`.
    pub database: Option<String>,
    /// What this node does.
    pub role: NodeRole,
    /// How long a job claimed by a node of a shared database stays its
    /// without a heartbeat (PostgreSQL only).
    pub lease_seconds: u64,
    /// Base URL of every link; `http://<bind>` if unset.
    pub public_url: Option<String>,
    /// Folder of the built-in process components.
    pub builtin_dir: Option<PathBuf>,
    /// Which components of `builtin_dir` are built-in processes.
    pub builtins: Vec<String>,
    /// Guests executing at once: CPU-bound work, so about one per core.
    pub workers: usize,
    /// Jobs in the `running` state at once. A job also spends time staging
    /// inputs and storing results, which need no CPU, so this is larger
    /// than `workers`; the rest wait in the queue as `accepted`.
    pub running_jobs: usize,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Largest component that may be deployed (the body of a deployment
    /// may be this large, or a third more as base64 in a package).
    pub max_module_bytes: usize,
    /// Per-job limits.
    pub limits: LimitsConfig,
    /// Fetching of `href` inputs.
    pub fetch: FetchConfig,
    /// Compiling of deployed components.
    pub compile: CompileConfig,
    /// Who may use the server.
    pub auth: AuthConfig,
    /// Times a job is started before a crash loop fails it.
    pub max_attempts: u32,
    /// CWL steps (the runner in `wades::cwl`).
    pub cwl: CwlConfig,
    /// Default per-tenant quotas; a tenant's own (in the database) win.
    pub quotas: crate::tenancy::quota::Quota,
    /// Requests per identity and second.
    pub rate_limit: RateLimitConfig,
    /// How long final jobs are kept, e.g. `"30d"`; `None` keeps them forever.
    pub retention: Option<String>,
    /// HTTP hardening: CORS, time and size limits.
    pub http: HttpConfig,
    /// `GET /metrics`.
    pub metrics: MetricsConfig,
    /// How log lines are written.
    pub log_format: LogFormat,
    /// Prices and quotations.
    pub billing: crate::billing::BillingConfig,
    /// The HTML pages.
    pub html: HtmlConfig,
}

/// The HTML pages.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HtmlConfig {
    /// A folder of minijinja templates that replace the built-in ones of
    /// the same file name; the others stay built in.
    pub templates: Option<PathBuf>,
}

/// What a node does; nodes sharing a PostgreSQL database may differ.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum NodeRole {
    /// Serves HTTP and queues jobs, and runs none of the queued ones (sync
    /// executions still run where the client is connected).
    Api,
    /// Runs queued jobs, and serves HTTP too (for health and metrics).
    Worker,
    /// Both.
    #[default]
    All,
}

impl NodeRole {
    /// Whether this node takes jobs from the queue.
    pub fn runs_queue(self) -> bool {
        self != NodeRole::Api
    }
}

impl std::str::FromStr for NodeRole {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "api" => Ok(NodeRole::Api),
            "worker" => Ok(NodeRole::Worker),
            "all" => Ok(NodeRole::All),
            other => Err(format!("role '{other}' is not api, worker or all")),
        }
    }
}

/// Who may read `GET /metrics`, if it is served at all.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve `/metrics`.
    pub enabled: bool,
    /// Anyone may read it; otherwise admins only, since it names every
    /// process and tells how much each is used.
    pub public: bool,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: true,
            public: false,
        }
    }
}

/// How log lines are written to standard error.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// For people: one line of text per event.
    #[default]
    Text,
    /// For log collectors: one JSON object per line, with the fields of
    /// the spans it is in (a job's `job` and `process`).
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("log format '{other}' is not text or json")),
        }
    }
}

/// Settings of CWL steps. The server never runs a step as a host command;
/// steps with a `DockerRequirement` run in containers with these settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CwlConfig {
    /// The WASI commands CWL steps may run (`wades:WasmRequirement:
    /// {command: <name>}`): `<builtin_dir>/<name>.wasm`, loaded at start.
    /// The operator vets them, like the built-in processes.
    pub commands: Vec<String>,
    /// The Docker backend: on when the `[cwl.docker]` section is there (or
    /// `WADES_CWL_DOCKER_PULL` is set); without it container steps fail.
    pub docker: Option<crate::cwl::docker::DockerConfig>,
}

impl Default for CwlConfig {
    fn default() -> Self {
        CwlConfig {
            commands: vec!["wc".into()],
            docker: None,
        }
    }
}

/// The per-identity token bucket (see `wades::http::limits`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RateLimitConfig {
    /// Sustained requests per second; 0 turns the limit off.
    pub per_second: u32,
    /// Requests allowed in a burst above the sustained rate.
    pub burst: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            per_second: 0,
            burst: 50,
        }
    }
}

/// Limits and policies of the HTTP layer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpConfig {
    /// Origins browsers may call the API from (CORS); `["*"]` for any.
    /// Empty (the default) sends no CORS headers, so browsers allow only
    /// same-origin calls: opening an API that takes bearer keys to every
    /// web page is the operator's choice, not a default.
    pub cors_origins: Vec<String>,
    /// Time for a whole request, a sync execution included; `None` means
    /// the job time limit plus a minute, so sync jobs are never cut short.
    pub request_timeout_seconds: Option<u64>,
    /// Bytes of all request headers together.
    pub max_header_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            cors_origins: Vec::new(),
            request_timeout_seconds: None,
            max_header_bytes: 16 << 10,
        }
    }
}

/// Per-job limits, the operator's ceiling.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Fuel units (about one per wasm instruction).
    pub fuel: u64,
    /// Bytes of linear memory.
    pub memory_bytes: u64,
    /// Wall-clock seconds.
    pub timeout_seconds: u64,
}

/// Authentication (see `wades::tenancy`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// What requests without credentials may do: `"user"` (list, describe
    /// and execute public processes, as the shared `anonymous` tenant),
    /// or `"none"` (refused with 401). Never more than `user`.
    pub anonymous: String,
    /// Trust bearer JWTs of this OpenID Connect issuer.
    pub oidc: Option<crate::auth::OidcConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            anonymous: "user".into(),
            oidc: None,
        }
    }
}

impl AuthConfig {
    /// The role of anonymous requests, `None` if they are refused.
    pub fn anonymous_role(&self) -> Result<Option<crate::model::Role>, String> {
        match self.anonymous.as_str() {
            "none" => Ok(None),
            "user" => Ok(Some(crate::model::Role::User)),
            other => Err(format!(
                "auth.anonymous must be \"user\" or \"none\", not \"{other}\""
            )),
        }
    }
}

/// The budget of compiling one deployed component, in a child process.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CompileConfig {
    /// Wall-clock seconds.
    pub time_seconds: u64,
    /// Address space of the compiling process, in bytes.
    pub memory_bytes: u64,
}

impl Default for CompileConfig {
    fn default() -> Self {
        let budget = crate::runtime::CompileBudget::default();
        CompileConfig {
            time_seconds: budget.time.as_secs(),
            memory_bytes: budget.memory_bytes,
        }
    }
}

/// How `href` inputs are fetched.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FetchConfig {
    /// Largest fetched input.
    pub max_bytes: u64,
    /// Time for one fetch.
    pub timeout_seconds: u64,
    /// Networks (CIDR) allowed although private, loopback or link-local.
    pub allow: Vec<String>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            bind: "127.0.0.1:8080".parse().expect("valid address"),
            data_dir: PathBuf::from("./wades-data"),
            database: None,
            role: NodeRole::All,
            lease_seconds: 30,
            public_url: None,
            builtin_dir: None,
            builtins: ["hello-world", "echo", "normalized-difference", "otsu"]
                .map(String::from)
                .to_vec(),
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            running_jobs: 64,
            max_body_bytes: 64 << 20,
            max_module_bytes: 32 << 20,
            limits: LimitsConfig::default(),
            fetch: FetchConfig::default(),
            compile: CompileConfig::default(),
            auth: AuthConfig::default(),
            max_attempts: 2,
            cwl: CwlConfig::default(),
            quotas: Default::default(),
            rate_limit: RateLimitConfig::default(),
            retention: None,
            http: HttpConfig::default(),
            metrics: MetricsConfig::default(),
            log_format: LogFormat::Text,
            billing: Default::default(),
            html: HtmlConfig::default(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            fuel: 200_000_000_000,
            memory_bytes: 512 << 20,
            timeout_seconds: 600,
        }
    }
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            max_bytes: 256 << 20,
            timeout_seconds: 30,
            allow: Vec::new(),
        }
    }
}

impl Config {
    /// Defaults, then `file`, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, String> {
        let mut config = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => Config::default(),
        };
        config.apply_env(|k| std::env::var(k).ok())?;
        Ok(config)
    }

    fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        fn parse<T: std::str::FromStr>(key: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("{key}: cannot parse '{v}'"))
        }
        if let Some(v) = var("WADES_BIND") {
            self.bind = parse("WADES_BIND", v)?;
        }
        if let Some(v) = var("WADES_DATA_DIR") {
            self.data_dir = v.into();
        }
        if let Some(v) = var("WADES_DATABASE") {
            self.database = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = var("WADES_ROLE") {
            self.role = parse("WADES_ROLE", v)?;
        }
        if let Some(v) = var("WADES_MAX_ATTEMPTS") {
            self.max_attempts = parse("WADES_MAX_ATTEMPTS", v)?;
        }
        if let Some(v) = var("WADES_LEASE_SECONDS") {
            self.lease_seconds = parse("WADES_LEASE_SECONDS", v)?;
        }
        if let Some(v) = var("WADES_PUBLIC_URL") {
            self.public_url = Some(v);
        }
        if let Some(v) = var("WADES_BUILTIN_DIR") {
            self.builtin_dir = Some(v.into());
        }
        if let Some(v) = var("WADES_WORKERS") {
            self.workers = parse("WADES_WORKERS", v)?;
        }
        if let Some(v) = var("WADES_RUNNING_JOBS") {
            self.running_jobs = parse("WADES_RUNNING_JOBS", v)?;
        }
        if let Some(v) = var("WADES_ANONYMOUS") {
            self.auth.anonymous = v;
        }
        if let Some(v) = var("WADES_MAX_MODULE_BYTES") {
            self.max_module_bytes = parse("WADES_MAX_MODULE_BYTES", v)?;
        }
        if let Some(v) = var("WADES_RATE_LIMIT_PER_SECOND") {
            self.rate_limit.per_second = parse("WADES_RATE_LIMIT_PER_SECOND", v)?;
        }
        if let Some(v) = var("WADES_RATE_LIMIT_BURST") {
            self.rate_limit.burst = parse("WADES_RATE_LIMIT_BURST", v)?;
        }
        if let Some(v) = var("WADES_RETENTION") {
            self.retention = Some(v).filter(|v| !v.is_empty());
        }
        if let Some(v) = var("WADES_REQUEST_TIMEOUT_SECONDS") {
            self.http.request_timeout_seconds = Some(parse("WADES_REQUEST_TIMEOUT_SECONDS", v)?);
        }
        if let Some(v) = var("WADES_CORS_ORIGINS") {
            self.http.cors_origins = list(&v);
        }
        if let Some(v) = var("WADES_FETCH_ALLOW") {
            self.fetch.allow = list(&v);
        }
        if let Some(v) = var("WADES_TEMPLATES") {
            self.html.templates = Some(PathBuf::from(v));
        }
        if let Some(v) = var("WADES_LOG_FORMAT") {
            self.log_format = parse("WADES_LOG_FORMAT", v)?;
        }
        if let Some(v) = var("WADES_QUOTE_VALIDITY_SECONDS") {
            self.billing.quote_validity_seconds = parse("WADES_QUOTE_VALIDITY_SECONDS", v)?;
        }
        if let Some(v) = var("WADES_METRICS_PUBLIC") {
            self.metrics.public = parse("WADES_METRICS_PUBLIC", v)?;
        }
        if let Some(v) = var("WADES_CWL_DOCKER_PULL") {
            let pull = serde::Deserialize::deserialize(serde::de::value::StrDeserializer::<
                serde::de::value::Error,
            >::new(&v))
            .map_err(|_| {
                format!("WADES_CWL_DOCKER_PULL: '{v}' is not never, if-missing or always")
            })?;
            self.cwl.docker.get_or_insert_with(Default::default).pull = pull;
        }
        if let Some(v) = var("WADES_CWL_DOCKER_ALLOW_IMAGE_BUILD") {
            self.cwl
                .docker
                .get_or_insert_with(Default::default)
                .allow_image_build = parse("WADES_CWL_DOCKER_ALLOW_IMAGE_BUILD", v)?;
        }
        Ok(())
    }

    /// How long final jobs are kept, `None` for ever.
    pub fn retention(&self) -> Result<Option<std::time::Duration>, String> {
        self.retention.as_deref().map(parse_duration).transpose()
    }

    /// The time limit of one request.
    pub fn request_timeout(&self) -> std::time::Duration {
        let seconds = self
            .http
            .request_timeout_seconds
            .unwrap_or(self.limits.timeout_seconds + 60);
        std::time::Duration::from_secs(seconds.max(1))
    }

    /// The base of every link.
    pub fn base_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_string(),
            None => format!("http://{}", self.bind),
        }
    }

    /// Where the store is: `database`, or SQLite in `data_dir`.
    pub fn database(&self) -> crate::store::Database {
        match &self.database {
            Some(d) => crate::store::Database::parse(d),
            None => crate::store::Database::Sqlite(self.data_dir.join("wades.db")),
        }
    }

    /// Opens the store this configuration names, as this node.
    pub async fn open_store(&self) -> Result<crate::store::JobStore, crate::store::StoreError> {
        match self.database() {
            crate::store::Database::Postgres(url) => {
                Ok(crate::store::pg::PgStore::connect(&url, self.pg_options())
                    .await?
                    .into())
            }
            sqlite => crate::store::JobStore::connect(&sqlite).await,
        }
    }

    /// How this node takes part in a PostgreSQL store.
    pub fn pg_options(&self) -> crate::store::pg::PgOptions {
        crate::store::pg::PgOptions {
            lease: std::time::Duration::from_secs(self.lease_seconds.max(1)),
            ..Default::default()
        }
    }

    /// The job service settings.
    pub fn jobs(&self) -> crate::jobs::JobsConfig {
        crate::jobs::JobsConfig {
            workers: self.workers,
            running_jobs: self.running_jobs,
            max_attempts: self.max_attempts,
            run_queue: self.role.runs_queue(),
        }
    }

    /// The sandbox settings this configuration implies.
    pub fn runtime(&self) -> crate::runtime::RuntimeConfig {
        let mut rc = crate::runtime::RuntimeConfig::new(self.data_dir.join("artifacts"));
        rc.job_limits = crate::model::Limits {
            fuel: Some(self.limits.fuel),
            memory_bytes: Some(self.limits.memory_bytes),
            timeout: Some(std::time::Duration::from_secs(self.limits.timeout_seconds)),
        };
        rc.compile_budget = crate::runtime::CompileBudget {
            time: std::time::Duration::from_secs(self.compile.time_seconds),
            memory_bytes: self.compile.memory_bytes,
        };
        // Describe calls and jobs share the pool: leave room beyond the workers.
        rc.max_concurrent_jobs = (self.workers as u32 + 4).max(8);
        rc
    }
}

/// A comma-separated list, blanks dropped.
fn list(v: &str) -> Vec<String> {
    v.split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `"90s"`, `"15m"`, `"12h"`, `"30d"`, or plain seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{text}' is not a duration like 90s, 15m, 12h or 30d"))?;
    let scale = match unit.trim() {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => {
            return Err(format!(
                "'{text}' is not a duration like 90s, 15m, 12h or 30d"
            ))
        }
    };
    Ok(std::time::Duration::from_secs(n.saturating_mul(scale)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_new_sections_parse() {
        assert_eq!(parse_duration("90s").unwrap().as_secs(), 90);
        assert_eq!(parse_duration("2d").unwrap().as_secs(), 172_800);
        assert_eq!(parse_duration("5").unwrap().as_secs(), 5);
        assert!(parse_duration("soon").is_err() && parse_duration("3w").is_err());
        let c: Config = toml::from_str(
            "retention = \"12h\"\n[quotas]\nmax_queued = 3\n[rate_limit]\nper_second = 5\n[http]\ncors_origins = [\"*\"]",
        )
        .unwrap();
        assert_eq!(c.quotas.max_queued, Some(3));
        assert_eq!(c.quotas.max_running, None);
        assert_eq!(c.retention().unwrap().unwrap().as_secs(), 43_200);
        assert_eq!((c.rate_limit.per_second, c.rate_limit.burst), (5, 50));
        assert_eq!(c.request_timeout().as_secs(), 660);
        assert!(toml::from_str::<Config>("[quotas]\nmax_runing = 1").is_err());
    }

    #[test]
    fn environment_overrides_the_file() {
        let mut c: Config =
            toml::from_str("bind = \"0.0.0.0:9000\"\nworkers = 3\n[limits]\nfuel = 5").unwrap();
        assert_eq!(c.workers, 3);
        assert_eq!(c.limits.fuel, 5);
        assert_eq!(c.limits.timeout_seconds, 600, "unset fields keep defaults");
        c.apply_env(|k| (k == "WADES_BIND").then(|| "127.0.0.1:1234".to_string()))
            .unwrap();
        assert_eq!(c.bind.port(), 1234);
        assert_eq!(c.base_url(), "http://127.0.0.1:1234");
    }

    #[test]
    fn unknown_keys_are_errors() {
        assert!(toml::from_str::<Config>("bnid = \"x\"").is_err());
    }
}
