//! The `wades` command line.
//!
//! `wades serve` runs the OGC API – Processes server;
//! `wades describe FILE.wasm` prints a component's OGC description;
//! `wades run FILE.wasm id=value ...` runs one job and prints its outputs.
//! Values are JSON (`n=3`, `flag=true`, `o={"a":1}`); anything that is not
//! JSON is taken as a string (`name=World`).
//!
//! For process authors: `wades new NAME` scaffolds a process crate and
//! `wades build` makes it a component. As a client of any OGC API –
//! Processes server: `wades deploy`, `wades execute`, `wades jobs` and
//! `wades processes`.

mod cli;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use wades::config::{Config, LogFormat};
use wades::model::{NamedValue, Role, Value};
use wades::runtime::{Job, JobDirs, Runtime, RuntimeConfig};
use wades::store::{Database, JobStore};

#[derive(Parser)]
#[command(
    name = "wades",
    version,
    about = "WebAssembly Application Deployment and Execution Service"
)]
struct Cli {
    /// Folder for wades' data: database, compiled artifacts, job files
    /// [default: ./wades-data; env WADES_DATA_DIR].
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// The database: a postgres:// URL that several nodes share, or an
    /// SQLite file [default: DATA_DIR/wades.db; env WADES_DATABASE].
    #[arg(long, global = true)]
    database: Option<String>,
    /// How log lines are written to standard error [default: text, or
    /// `log_format` of the configuration file].
    #[arg(long, global = true, env = "WADES_LOG_FORMAT", value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the OGC API - Processes server.
    Serve {
        /// Address to listen on [default: 127.0.0.1:8080; env WADES_BIND].
        #[arg(long)]
        bind: Option<std::net::SocketAddr>,
        /// TOML configuration file (see `wades::config`).
        #[arg(long, env = "WADES_CONFIG")]
        config: Option<PathBuf>,
        /// Folder of the built-in process components [env WADES_BUILTIN_DIR].
        #[arg(long)]
        builtin_dir: Option<PathBuf>,
        /// What this node does: serve the API, run queued jobs, or both
        /// [default: all; env WADES_ROLE].
        #[arg(long, value_enum)]
        role: Option<wades::config::NodeRole>,
    },
    /// Print the OGC description of a process component.
    Describe {
        /// The component.
        component: PathBuf,
    },
    /// Run a CWL document locally (tools run as host processes) and print
    /// its output object as JSON; cwltest-compatible (exit 33: unsupported).
    #[command(name = "cwl-runner", version)]
    CwlRunner(wades::cwl::cli::CwlRunnerArgs),
    /// Run one job of a process component and print its outputs as JSON.
    Run {
        /// The component.
        component: PathBuf,
        /// Inputs as id=value; repeat an id for several occurrences.
        inputs: Vec<String>,
        /// Folder mounted read-only at /inputs.
        #[arg(long)]
        inputs_dir: Option<PathBuf>,
        /// Folder mounted at /outputs (created if missing).
        #[arg(long)]
        outputs_dir: Option<PathBuf>,
    },
    /// Scaffold a new process crate (a folder NAME) from the SDK template.
    New {
        /// The crate's and the process's name.
        name: String,
        /// The guest SDK to depend on (a wades checkout's `guest-sdk`)
        /// [default: the one this wades was built from; env WADES_SDK].
        #[arg(long, env = "WADES_SDK")]
        sdk: Option<PathBuf>,
    },
    /// Build the process crate in DIR into a component (TARGET/wasm/NAME.wasm).
    Build {
        /// The crate's folder.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// Cargo's target folder [default: DIR/target].
        #[arg(long)]
        target_dir: Option<PathBuf>,
    },
    /// Deploy a process on a server: a component (.wasm), an application
    /// package (.json) or a CWL document (.cwl, .yaml).
    Deploy {
        /// The file to deploy.
        file: PathBuf,
        /// The process id, for a component (default: its own).
        #[arg(long)]
        id: Option<String>,
        /// Replace this deployed process instead of adding one.
        #[arg(long)]
        replace: Option<String>,
        /// The workflow to deploy from a packed CWL `$graph`.
        #[arg(long)]
        workflow: Option<String>,
        #[command(flatten)]
        remote: cli::remote::Remote,
    },
    /// Execute a process on a server: as a job followed with a progress bar
    /// (or synchronously), saving its results to files.
    Execute {
        /// The process id.
        process: String,
        /// An input as id=value (JSON or text), id=@FILE (a file's bytes)
        /// or id=href:URL (a reference); repeat an id for several values.
        #[arg(short = 'i', long = "input")]
        inputs: Vec<String>,
        /// Run synchronously instead of as a job.
        #[arg(long)]
        sync: bool,
        /// Folder for the result files [default: results/<job id>].
        #[arg(long)]
        out: Option<PathBuf>,
        #[command(flatten)]
        remote: cli::remote::Remote,
    },
    /// Jobs on a server: list, status, results, dismiss, watch.
    Jobs {
        #[command(subcommand)]
        action: cli::remote::JobsAction,
        #[command(flatten)]
        remote: cli::remote::Remote,
    },
    /// Processes on a server: list, describe.
    Processes {
        #[command(subcommand)]
        action: cli::remote::ProcessesAction,
        #[command(flatten)]
        remote: cli::remote::Remote,
    },
    /// Manage tenants (in the data folder's database).
    Tenant {
        #[command(subcommand)]
        action: TenantAction,
    },
    /// Manage API keys (in the data folder's database).
    Key {
        #[command(subcommand)]
        action: KeyAction,
    },
}

#[derive(Subcommand)]
enum TenantAction {
    /// Add a tenant.
    Add {
        /// Its id: owner of what it deploys and runs.
        id: String,
        /// admin, developer (may deploy) or user (may execute).
        #[arg(long, default_value = "user")]
        role: String,
    },
    /// List tenants with their roles.
    List,
    /// Show or set a tenant's own quota (members not set follow the
    /// server's [quotas]); prints the tenant's own quota as JSON.
    Quota {
        /// The tenant (any identity, OIDC ones included).
        tenant: String,
        #[command(flatten)]
        set: QuotaFlags,
        /// Drop the tenant's own quota: the server's defaults apply.
        #[arg(long, conflicts_with_all = ["max_running", "max_queued", "fuel_per_job", "fuel_per_day", "memory_per_job", "module_bytes", "result_bytes"])]
        clear: bool,
    },
}

/// Members of a quota to set; see `wades::tenancy::quota::Quota`.
#[derive(clap::Args)]
struct QuotaFlags {
    /// Jobs running at once.
    #[arg(long)]
    max_running: Option<u64>,
    /// Jobs waiting in the queue.
    #[arg(long)]
    max_queued: Option<u64>,
    /// Fuel of one job.
    #[arg(long)]
    fuel_per_job: Option<u64>,
    /// Fuel of all jobs per UTC day.
    #[arg(long)]
    fuel_per_day: Option<u64>,
    /// Linear memory of one job, in bytes.
    #[arg(long)]
    memory_per_job: Option<u64>,
    /// Bytes of deployed components.
    #[arg(long)]
    module_bytes: Option<u64>,
    /// Bytes of stored job results.
    #[arg(long)]
    result_bytes: Option<u64>,
}

impl QuotaFlags {
    /// `own` with the members given here replaced.
    fn apply(&self, own: wades::tenancy::quota::Quota) -> wades::tenancy::quota::Quota {
        wades::tenancy::quota::Quota {
            max_running: self.max_running.or(own.max_running),
            max_queued: self.max_queued.or(own.max_queued),
            fuel_per_job: self.fuel_per_job.or(own.fuel_per_job),
            fuel_per_day: self.fuel_per_day.or(own.fuel_per_day),
            memory_per_job: self.memory_per_job.or(own.memory_per_job),
            module_bytes: self.module_bytes.or(own.module_bytes),
            result_bytes: self.result_bytes.or(own.result_bytes),
        }
    }
}

#[derive(Subcommand)]
enum KeyAction {
    /// Make an API key for a tenant; the key is printed once, never stored.
    Create {
        /// The tenant.
        tenant: String,
    },
    /// Revoke a key by its id.
    Revoke {
        /// The key id, as `wades key list` shows it.
        id: String,
    },
    /// List keys (ids, tenants, whether revoked; never secrets).
    List,
}

fn main() {
    // `wades __compile` is the child that compiles uploads under a budget
    // (wades::runtime::isolated); it needs neither the CLI nor tokio's threads.
    if let Some(code) = wades::runtime::compile_child_main() {
        std::process::exit(code);
    }
    if let Err(e) = cli() {
        // The causes on one line; a backtrace only with RUST_BACKTRACE.
        eprintln!("error: {e:#}");
        if e.backtrace().status() == std::backtrace::BacktraceStatus::Captured {
            eprintln!("{}", e.backtrace());
        }
        std::process::exit(1);
    }
}

#[tokio::main]
async fn cli() -> Result<()> {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve { .. }) {
        init_logs(cli.log_format.unwrap_or_default());
    }
    if let Command::CwlRunner(args) = &cli.command {
        std::process::exit(wades::cwl::cli::run(args).await);
    }
    if let Command::Serve {
        bind,
        config,
        builtin_dir,
        role,
    } = cli.command
    {
        let mut config = Config::load(config.as_deref()).map_err(anyhow::Error::msg)?;
        // Flags win over the file and the environment.
        if let Some(b) = bind {
            config.bind = b;
        }
        if let Some(d) = cli.data_dir {
            config.data_dir = d;
        }
        if let Some(d) = builtin_dir {
            config.builtin_dir = Some(d);
        }
        if let Some(d) = cli.database {
            config.database = Some(d);
        }
        if let Some(r) = role {
            config.role = r;
        }
        if let Some(f) = cli.log_format {
            config.log_format = f;
        }
        // Only now: the configuration file may choose the format.
        init_logs(config.log_format);
        wades::server::serve(config).await?;
        return Ok(());
    }
    match cli.command {
        Command::New { name, sdk } => {
            let sdk = cli::scaffold::sdk_dir(sdk.as_deref())?;
            for file in cli::scaffold::new_process(std::path::Path::new(&name), &name, &sdk)? {
                println!("{}", file.display());
            }
            eprintln!("next: cd {name} && wades build && wades deploy target/wasm/{name}.wasm");
            return Ok(());
        }
        Command::Build { dir, target_dir } => {
            for component in cli::scaffold::build(&dir, target_dir.as_deref())? {
                println!("{}", component.display());
            }
            return Ok(());
        }
        Command::Deploy {
            file,
            id,
            replace,
            workflow,
            remote,
        } => {
            return cli::remote::deploy(
                &remote,
                &file,
                id.as_deref(),
                replace.as_deref(),
                workflow.as_deref(),
            )
            .await
        }
        Command::Execute {
            process,
            inputs,
            sync,
            out,
            remote,
        } => return cli::remote::execute(&remote, &process, &inputs, sync, out).await,
        Command::Jobs { action, remote } => return cli::remote::jobs(&remote, action).await,
        Command::Processes { action, remote } => {
            return cli::remote::processes(&remote, action).await
        }
        _ => {}
    }
    let data_dir = cli
        .data_dir
        .or_else(|| std::env::var_os("WADES_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("./wades-data"));
    let database = match cli.database.or_else(|| {
        std::env::var("WADES_DATABASE")
            .ok()
            .filter(|d| !d.is_empty())
    }) {
        Some(d) => Database::parse(&d),
        None => Database::Sqlite(data_dir.join("wades.db")),
    };
    match cli.command {
        Command::Tenant { action } => return tenant(&database, action).await,
        Command::Key { action } => return key(&database, action).await,
        _ => {}
    }
    let runtime = Runtime::new(RuntimeConfig::new(data_dir.join("artifacts")))?;
    match cli.command {
        // Handled above; listed so the match stays exhaustive.
        Command::Serve { .. }
        | Command::Tenant { .. }
        | Command::Key { .. }
        | Command::New { .. }
        | Command::Build { .. }
        | Command::Deploy { .. }
        | Command::Execute { .. }
        | Command::Jobs { .. }
        | Command::Processes { .. } => {}
        // Ran (and exited) right after parsing.
        Command::CwlRunner(_) => {}
        Command::Describe { component } => {
            let process = runtime.load(read(&component)?).await?;
            println!("{}", serde_json::to_string_pretty(process.description())?);
        }
        Command::Run {
            component,
            inputs,
            inputs_dir,
            outputs_dir,
        } => {
            let process = runtime.load(read(&component)?).await?;
            let mut job = Job::new(
                inputs
                    .iter()
                    .map(|i| parse_input(i))
                    .collect::<Result<_>>()?,
            );
            if inputs_dir.is_some() || outputs_dir.is_some() {
                let tmp = std::env::temp_dir();
                let dirs = JobDirs {
                    inputs: inputs_dir.unwrap_or_else(|| tmp.clone()),
                    outputs: outputs_dir.unwrap_or(tmp),
                };
                std::fs::create_dir_all(&dirs.outputs)?;
                job = job.with_dirs(dirs);
            }
            let output = runtime.execute(&process, job).await?;
            println!("{}", serde_json::to_string_pretty(&output.outputs)?);
            eprintln!(
                "took {:?}, fuel {}, memory {} bytes",
                output.elapsed,
                output
                    .fuel_consumed
                    .map_or("unmetered".into(), |f| f.to_string()),
                output.memory_peak
            );
        }
    }
    Ok(())
}

/// Logs to standard error, filtered by `RUST_LOG` (default: wades' info
/// lines and everyone's warnings).
fn init_logs(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "wades=info,warn".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        // The message sits at the top; the fields of the span a line is
        // in (a job's `job` and `process`) under `span`.
        LogFormat::Json => logs
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

async fn tenant(database: &Database, action: TenantAction) -> Result<()> {
    let store = JobStore::connect(database).await?;
    match action {
        TenantAction::Add { id, role } => {
            let Some(role) = Role::parse(&role) else {
                bail!("role '{role}' is not admin, developer or user")
            };
            if !wades::ogc::package::valid_process_id(&id) || id == wades::model::ANONYMOUS {
                bail!("'{id}' cannot name a tenant: use letters, digits, '-', '_' or '.'");
            }
            store.create_tenant(&id, role).await?;
            println!("tenant {id} ({})", role.as_str());
        }
        TenantAction::List => {
            for t in store.tenants().await? {
                println!("{}\t{}", t.tenant, t.role.as_str());
            }
        }
        TenantAction::Quota { tenant, set, clear } => {
            if clear {
                store.set_tenant_quota(&tenant, None).await?;
            }
            let own = store.tenant_quota(&tenant).await?.unwrap_or_default();
            let new = set.apply(own);
            if new != own {
                store.set_tenant_quota(&tenant, Some(&new)).await?;
            }
            println!("{}", serde_json::to_string(&new)?);
        }
    }
    store.close().await;
    Ok(())
}

async fn key(database: &Database, action: KeyAction) -> Result<()> {
    let store = JobStore::connect(database).await?;
    match action {
        KeyAction::Create { tenant } => {
            let key = wades::tenancy::keys::issue(&store, &tenant).await?;
            eprintln!("key {} for tenant {tenant}; it is shown only now:", key.id);
            println!("{}", key.secret);
        }
        KeyAction::Revoke { id } => {
            if !store.revoke_key(&id).await? {
                bail!("no live key {id}");
            }
            println!("revoked {id}");
        }
        KeyAction::List => {
            for k in store.keys().await? {
                let state = if k.revoked { "revoked" } else { "live" };
                println!("{}\t{}\t{state}", k.id, k.tenant);
            }
        }
    }
    store.close().await;
    Ok(())
}

fn read(path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn parse_input(arg: &str) -> Result<NamedValue> {
    let (id, json) = cli::inputs::split(arg)?;
    let value = match json {
        serde_json::Value::Bool(b) => Value::Boolean { value: b },
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer { value: i },
            None => Value::Number {
                value: n.as_f64().unwrap_or(f64::NAN),
            },
        },
        serde_json::Value::String(s) => Value::String { value: s },
        v @ (serde_json::Value::Object(_) | serde_json::Value::Array(_)) => {
            Value::Json { value: v }
        }
        serde_json::Value::Null => Value::string("null"),
    };
    Ok(NamedValue::new(id, value))
}
