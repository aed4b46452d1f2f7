//! wades benchmarks. Run with `cargo xtask bench` (builds the guests first).
//!
//! Every figure is printed next to a baseline measured in the same run, so
//! the ratios hold whatever machine runs them:
//!
//! - `hello`: instantiate + call + drop of `hello-world` through the runtime
//!   (pooling allocator, `InstancePre`, fresh store per job), against the
//!   same with the on-demand allocator.
//! - `nd`: `normalized-difference` on two 4096x4096 rasters as wasm, against
//!   the same Rust code compiled natively; with epoch interruption only, and
//!   with fuel metering on top.
//!
//! - `http`: against the real server: M1 (sync hello-world at concurrency
//!   32 with wrk, side by side with pygeoapi 0.21 under gunicorn), the
//!   latency of dismissing a running job, and M3 (10,000 async echo jobs).
//! - `deploy`: against the real server: M7 (deploying the ~2.8 MB
//!   `validate-json` component, cold, against compiling it in-process; the
//!   first execute after a restart, from the artifact cache).
//! - `m4`: M4 (async jobs/s on PostgreSQL with one and two nodes, against
//!   SQLite on one node; `cargo xtask bench` starts the PostgreSQL server).
//! - `m10`: M10 (the per-step overhead of a chain of 100 CWL steps that are
//!   wasm processes, side by side with cwltool running native commands).
//!
//! `cargo xtask bench [hello|nd|http|deploy|m4|m10] [--quick]`

mod deploy;
mod http;
mod m10;
mod m4;

use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wades::model::{Limits, NamedValue, Value};
use wades::runtime::{Job, JobDirs, Runtime, RuntimeConfig};

/// The buffer size of `wades_guest::File::reader` and `writer`.
const IO_BUFFER: usize = 1 << 20;

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wants = |name: &str| only.is_empty() || only.contains(&name);
    println!(
        "wades benchmarks ({} CPUs{})",
        std::thread::available_parallelism()?,
        if quick { ", quick" } else { "" }
    );
    if wants("hello") {
        hello(if quick { 2_000 } else { 20_000 }).await?;
    }
    if wants("http") {
        http::run(quick).await?;
    }
    if wants("nd") {
        nd(if quick { 1024 } else { 4096 }, if quick { 3 } else { 11 }).await?;
    }
    if wants("deploy") {
        deploy::run(quick).await?;
    }
    if wants("m4") {
        m4::run(quick).await?;
    }
    if wants("m10") {
        m10::run(quick).await?;
    }
    Ok(())
}

fn guests_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm")
}

fn component(name: &str) -> Result<Vec<u8>> {
    let path = guests_dir().join(format!("{name}.wasm"));
    std::fs::read(&path)
        .with_context(|| format!("{}: run `cargo xtask guests` first", path.display()))
}

/// Sorted durations and their percentiles.
struct Samples(Vec<Duration>);

impl Samples {
    fn new(mut v: Vec<Duration>) -> Self {
        v.sort();
        Samples(v)
    }
    fn pct(&self, p: f64) -> Duration {
        self.0[((self.0.len() - 1) as f64 * p).round() as usize]
    }
    fn median(&self) -> Duration {
        self.pct(0.5)
    }
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn hello_samples(pooling: bool, iterations: usize) -> Result<Samples> {
    let cache = tempfile::tempdir()?;
    let mut config = RuntimeConfig::new(cache.path());
    config.pooling_allocator = pooling;
    let rt = Runtime::new(config)?;
    let process = rt.load(component("hello-world")?).await?;
    let inputs = vec![NamedValue::new("name", Value::string("World"))];
    for _ in 0..iterations / 10 {
        rt.execute(&process, Job::new(inputs.clone())).await?;
    }
    let mut samples = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let job = Job::new(inputs.clone());
        let t = Instant::now();
        let out = rt.execute(&process, job).await?;
        samples.push(t.elapsed());
        std::hint::black_box(out);
    }
    Ok(Samples::new(samples))
}

async fn hello(iterations: usize) -> Result<()> {
    println!("\n## hello-world: instantiate + call + drop ({iterations} jobs, one at a time)");
    let pooled = hello_samples(true, iterations).await?;
    let on_demand = hello_samples(false, iterations).await?;
    println!(
        "{:<28} {:>9} {:>9} {:>9}",
        "allocator", "p50 µs", "p90 µs", "p99 µs"
    );
    for (name, s) in [
        ("pooling (wades default)", &pooled),
        ("on-demand (baseline)", &on_demand),
    ] {
        println!(
            "{:<28} {:>9.1} {:>9.1} {:>9.1}",
            name,
            us(s.pct(0.5)),
            us(s.pct(0.9)),
            us(s.pct(0.99))
        );
    }
    let p50 = us(pooled.median());
    println!(
        "pooling / on-demand p50: {:.2}x",
        p50 / us(on_demand.median())
    );
    println!(
        "target p50 <= 15 µs: {} ({p50:.1} µs)",
        if p50 <= 15.0 { "met" } else { "MISSED" }
    );
    Ok(())
}

/// Inputs for the normalized difference, on disk as the job would see them.
fn nd_inputs(size: u32) -> Result<(tempfile::TempDir, JobDirs)> {
    let root = tempfile::tempdir()?;
    let dirs = JobDirs {
        inputs: root.path().join("in"),
        outputs: root.path().join("out"),
    };
    std::fs::create_dir_all(&dirs.inputs)?;
    std::fs::create_dir_all(&dirs.outputs)?;
    let (green, nir) = geotiff_ops::synthetic::water_scene(size, size);
    std::fs::write(
        dirs.inputs.join("green.tif"),
        geotiff_ops::synthetic::encode_u16(&green),
    )?;
    std::fs::write(
        dirs.inputs.join("nir.tif"),
        geotiff_ops::synthetic::encode_u16(&nir),
    )?;
    Ok((root, dirs))
}

/// The native twin of the guest: same crate, same buffers.
fn nd_native(dirs: &JobDirs) -> Result<()> {
    use std::io::{BufWriter, Write};
    let read = |name: &str| -> Result<geotiff_ops::Raster> {
        Ok(geotiff_ops::read_band(std::io::Cursor::new(
            std::fs::read(dirs.inputs.join(name))?,
        ))?)
    };
    let a = read("green.tif")?;
    let b = read("nir.tif")?;
    let nd = geotiff_ops::normalized_difference(&a, &b)?;
    drop((a, b));
    let mut w = BufWriter::with_capacity(
        IO_BUFFER,
        std::fs::File::create(dirs.outputs.join("nd-native.tif"))?,
    );
    geotiff_ops::write_f32(&mut w, &nd)?;
    w.flush()?;
    Ok(())
}

/// A runtime with `normalized-difference` loaded, fuel metered or not.
async fn nd_runtime(
    fuel: bool,
) -> Result<(
    tempfile::TempDir,
    Runtime,
    std::sync::Arc<wades::runtime::Process>,
)> {
    let cache = tempfile::tempdir()?;
    let mut config = RuntimeConfig::new(cache.path());
    config.fuel_metering = fuel;
    config.job_limits.memory_bytes = Some(2 << 30);
    config.max_concurrent_jobs = 2;
    config.perf_map = std::env::var_os("WADES_PERF_MAP").is_some();
    let rt = Runtime::new(config)?;
    let process = rt.load(component("normalized-difference")?).await?;
    Ok((cache, rt, process))
}

async fn nd_wasm(
    rt: &Runtime,
    process: &wades::runtime::Process,
    dirs: &JobDirs,
) -> Result<(Duration, Option<u64>)> {
    let tiff = Some("image/tiff; application=geotiff".to_string());
    let job = Job::new(vec![
        NamedValue::new(
            "a",
            Value::File {
                path: "/inputs/green.tif".into(),
                media_type: tiff.clone(),
            },
        ),
        NamedValue::new(
            "b",
            Value::File {
                path: "/inputs/nir.tif".into(),
                media_type: tiff,
            },
        ),
    ])
    .with_dirs(dirs.clone())
    .with_limits(Limits::default());
    let t = Instant::now();
    let out = rt.execute(process, job).await?;
    Ok((t.elapsed(), out.fuel_consumed))
}

fn timed(f: impl FnOnce() -> Result<()>) -> Result<Duration> {
    let t = Instant::now();
    f()?;
    Ok(t.elapsed())
}

async fn nd(size: u32, runs: usize) -> Result<()> {
    println!("\n## normalized-difference on two {size}x{size} u16 GeoTIFFs (median of {runs} runs, interleaved)");
    let (_root, dirs) = nd_inputs(size)?;
    let (_c1, epoch_rt, epoch_p) = nd_runtime(false).await?;
    let (_c2, fuel_rt, fuel_p) = nd_runtime(true).await?;
    // Warm-up: page cache, pool slots.
    nd_native(&dirs)?;
    nd_wasm(&epoch_rt, &epoch_p, &dirs).await?;
    nd_wasm(&fuel_rt, &fuel_p, &dirs).await?;
    // Interleaved, so that drift in the machine's speed hits every variant alike.
    let (mut native, mut epoch, mut fueled, mut fuel_used) =
        (Vec::new(), Vec::new(), Vec::new(), None);
    for _ in 0..runs {
        native.push(timed(|| nd_native(&dirs))?);
        epoch.push(nd_wasm(&epoch_rt, &epoch_p, &dirs).await?.0);
        let (t, f) = nd_wasm(&fuel_rt, &fuel_p, &dirs).await?;
        fueled.push(t);
        fuel_used = f;
    }
    let (native, epoch, fueled) = (
        Samples::new(native),
        Samples::new(epoch),
        Samples::new(fueled),
    );
    let same = std::fs::read(dirs.outputs.join("nd.tif"))?
        == std::fs::read(dirs.outputs.join("nd-native.tif"))?;
    println!("{:<34} {:>10} {:>10}", "variant", "median ms", "best ms");
    for (name, v) in [
        ("native (baseline)", &native),
        ("wasm, epoch interruption", &epoch),
        ("wasm, epoch + fuel metering", &fueled),
    ] {
        println!(
            "{:<34} {:>10.1} {:>10.1}",
            name,
            ms(v.median()),
            ms(v.pct(0.0))
        );
    }
    let ratio = |a: &Samples, b: &Samples, p: f64| a.pct(p).as_secs_f64() / b.pct(p).as_secs_f64();
    let (median, best) = (ratio(&epoch, &native, 0.5), ratio(&epoch, &native, 0.0));
    println!(
        "wasm (epoch) / native: {median:.2}x median, {best:.2}x best; target <= 1.3x: {}",
        if median <= 1.3 { "met" } else { "MISSED" }
    );
    println!(
        "fuel metering: wasm with fuel / wasm without = {:.2}x median, {:.2}x best; fuel burnt per job: {}",
        ratio(&fueled, &epoch, 0.5),
        ratio(&fueled, &epoch, 0.0),
        fuel_used.map_or("-".into(), |f| f.to_string())
    );
    println!("wasm output identical to native output: {same}");
    Ok(())
}
