//! M10: the overhead of one CWL step when it is a wasm component, against
//! cwltool running native commands.
//!
//! Two chains of `N` steps pass a string from step to step:
//!
//! - *wasm*: each step is the `echo` process in the sandbox
//!   (`wades:WasmRequirement: {process: echo}`), run by wades's runner;
//! - *native*: each step is `echo -n` as a host command whose stdout is
//!   read back (`loadContents`), run by `cwltool --no-container` (pinned,
//!   from PyPI, in `target/cwltool-venv`) and, for reference, by
//!   `wades cwl-runner` in its local mode.
//!
//! The per-step overhead is `(T(N) - T(1)) / (N - 1)`: what one more step
//! costs, without the fixed start-up (loading the document, starting
//! Python or the wasm engine). The wasm chain is measured in-process
//! (`Runner::run`, warm) and through `wades cwl-runner`.

use super::{guests_dir, ms, Samples};
use anyhow::{bail, ensure, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wades::cwl::wasm::{DirCatalog, WasmBackend};
use wades::cwl::{load_document, Runner, RunnerOptions};
use wades::runtime::{Runtime, RuntimeConfig};

/// The cwltool release compared against.
const CWLTOOL: &str = "3.3.20260925135507";
/// Steps in the long chain.
const STEPS: usize = 100;
/// Target: at most this much per wasm step.
const TARGET: Duration = Duration::from_millis(1);

const ECHO_WASM: &str = r#"cwlVersion: v1.2
class: CommandLineTool
$namespaces: {wades: "https://wades.dev/cwl#"}
requirements:
  wades:WasmRequirement: {process: echo}
inputs:
  stringInput: string
outputs:
  stringInput: string
"#;

const ECHO_NATIVE: &str = r#"cwlVersion: v1.2
class: CommandLineTool
baseCommand: [echo, -n]
inputs:
  text: {type: string, inputBinding: {position: 1}}
stdout: out.txt
outputs:
  out:
    type: string
    outputBinding: {glob: out.txt, loadContents: true, outputEval: "$(self[0].contents)"}
"#;

/// A Workflow of `n` steps running `tool`, each fed the previous one's
/// output.
fn chain(n: usize, tool: &str, input: &str, output: &str) -> String {
    let mut doc = format!(
        "cwlVersion: v1.2\nclass: Workflow\ninputs:\n  s: string\noutputs:\n  result: {{type: string, outputSource: step{n}/{output}}}\nsteps:\n"
    );
    for i in 1..=n {
        let source = if i == 1 {
            "s".to_string()
        } else {
            format!("step{}/{output}", i - 1)
        };
        doc.push_str(&format!(
            "  step{i}:\n    run: {tool}\n    in: {{{input}: {source}}}\n    out: [{output}]\n"
        ));
    }
    doc
}

/// The documents of both chains, for 1 and [`STEPS`] steps.
struct Docs {
    dir: tempfile::TempDir,
}

impl Docs {
    fn write() -> Result<Docs> {
        let dir = tempfile::tempdir()?;
        let put = |name: &str, text: &str| std::fs::write(dir.path().join(name), text);
        put("echo-wasm.cwl", ECHO_WASM)?;
        put("echo-native.cwl", ECHO_NATIVE)?;
        for n in [1, STEPS] {
            put(
                &format!("wasm-{n}.cwl"),
                &chain(n, "echo-wasm.cwl", "stringInput", "stringInput"),
            )?;
            put(
                &format!("native-{n}.cwl"),
                &chain(n, "echo-native.cwl", "text", "out"),
            )?;
        }
        put("job.json", r#"{"s": "M10"}"#)?;
        Ok(Docs { dir })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Median wall time of `reps` calls of `f`.
fn median(reps: usize, mut f: impl FnMut() -> Result<Duration>) -> Result<Duration> {
    let mut v = Vec::with_capacity(reps);
    for _ in 0..reps {
        v.push(f()?);
    }
    Ok(Samples::new(v).median())
}

/// T(1), T(N) and the per-step overhead of one way of running a chain.
struct Row {
    name: &'static str,
    one: Duration,
    many: Duration,
}

impl Row {
    fn per_step(&self) -> Duration {
        self.many.saturating_sub(self.one) / (STEPS as u32 - 1)
    }
}

/// The wasm chain in-process: the runner and its engine stay warm between
/// runs, as in the server.
async fn in_process(docs: &Docs, reps: usize) -> Result<Row> {
    let cache = tempfile::tempdir()?;
    let runtime = Runtime::new(RuntimeConfig::new(cache.path()))?;
    let catalog = DirCatalog::new(Some(guests_dir()), false);
    let runner = Runner::new(RunnerOptions::default())?
        .with_backend(Arc::new(WasmBackend::new(runtime, Arc::new(catalog))));
    let time = |n: usize| {
        let doc = docs.path(&format!("wasm-{n}.cwl"));
        let runner = &runner;
        async move {
            let process = load_document(doc.to_str().expect("utf-8 path"))?;
            let job = serde_json::json!({"s": "M10"})
                .as_object()
                .cloned()
                .unwrap();
            let t = Instant::now();
            let out = runner.run(&process, job, docs.dir.path()).await?;
            let elapsed = t.elapsed();
            ensure!(out["result"] == "M10", "the chain gave {out:?}");
            Ok::<_, anyhow::Error>(elapsed)
        }
    };
    // Loads and compiles echo, and warms the caches.
    for _ in 0..3 {
        time(1).await?;
    }
    let mut ones = Vec::new();
    let mut manys = Vec::new();
    for _ in 0..reps {
        ones.push(time(1).await?);
        manys.push(time(STEPS).await?);
    }
    Ok(Row {
        name: "wades, wasm steps, in-process (warm)",
        one: Samples::new(ones).median(),
        many: Samples::new(manys).median(),
    })
}

/// Wall time of one command that must print the chain's result.
fn timed(cmd: &mut Command) -> Result<Duration> {
    let t = Instant::now();
    let out = cmd.stdin(Stdio::null()).output()?;
    let elapsed = t.elapsed();
    if !out.status.success() || !String::from_utf8_lossy(&out.stdout).contains("M10") {
        bail!(
            "{cmd:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(elapsed)
}

fn wades_exe() -> PathBuf {
    super::http::root().join("target/release/wades")
}

/// `wades cwl-runner` on one chain, as a fresh process each time.
fn wades_cli(docs: &Docs, name: &str, wasm: bool, cache: &Path) -> Result<Duration> {
    let out = tempfile::tempdir()?;
    let mut cmd = Command::new(wades_exe());
    cmd.arg("cwl-runner").arg("--quiet");
    if wasm {
        cmd.arg("--wasm-dir")
            .arg(guests_dir())
            .arg("--wasm-cache")
            .arg(cache);
    }
    cmd.arg("--outdir")
        .arg(out.path())
        .arg(docs.path(name))
        .arg(docs.path("job.json"));
    timed(&mut cmd)
}

fn cwltool(venv: &Path, docs: &Docs, name: &str) -> Result<Duration> {
    let out = tempfile::tempdir()?;
    timed(
        Command::new(venv.join("bin/cwltool"))
            .args(["--quiet", "--no-container", "--outdir"])
            .arg(out.path())
            .arg(docs.path(name))
            .arg(docs.path("job.json")),
    )
}

/// The virtualenv with the pinned cwltool, made if needed.
fn ensure_cwltool(root: &Path) -> Result<PathBuf> {
    let venv = root.join("target/cwltool-venv");
    let has = |venv: &Path| {
        Command::new(venv.join("bin/cwltool"))
            .arg("--version")
            .output()
            .is_ok_and(|o| {
                o.status.success() && String::from_utf8_lossy(&o.stdout).contains(CWLTOOL)
            })
    };
    if has(&venv) {
        return Ok(venv);
    }
    eprintln!("creating {} with cwltool {CWLTOOL}", venv.display());
    let made = Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&venv)
        .status()
        .context("python3 is needed for the cwltool comparison")?;
    ensure!(made.success(), "python3 -m venv {} failed", venv.display());
    let pip = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "--disable-pip-version-check"])
        .arg(format!("cwltool=={CWLTOOL}"))
        .status()?;
    ensure!(
        pip.success() && has(&venv),
        "pip install cwltool=={CWLTOOL} failed"
    );
    Ok(venv)
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

/// Runs M10 and prints the table.
pub async fn run(quick: bool) -> Result<()> {
    let reps = if quick { 3 } else { 7 };
    let process_reps = if quick { 1 } else { 3 };
    println!(
        "\n## M10: per-step overhead of a chain of {STEPS} CWL steps (load {} at start)",
        loadavg()
    );
    let root = super::http::root();
    super::http::build_wades()?;
    let venv = ensure_cwltool(&root)?;
    let docs = Docs::write()?;
    let cache = tempfile::tempdir()?;

    let mut rows = vec![in_process(&docs, reps).await?];
    // The first run compiles echo into the cache; the ones measured load it.
    wades_cli(&docs, "wasm-1.cwl", true, cache.path())?;
    rows.push(Row {
        name: "wades cwl-runner, wasm steps (a process per run)",
        one: median(process_reps, || {
            wades_cli(&docs, "wasm-1.cwl", true, cache.path())
        })?,
        many: median(process_reps, || {
            wades_cli(&docs, &format!("wasm-{STEPS}.cwl"), true, cache.path())
        })?,
    });
    rows.push(Row {
        name: "wades cwl-runner, native commands (local mode)",
        one: median(process_reps, || {
            wades_cli(&docs, "native-1.cwl", false, cache.path())
        })?,
        many: median(process_reps, || {
            wades_cli(&docs, &format!("native-{STEPS}.cwl"), false, cache.path())
        })?,
    });
    let baseline = Row {
        name: "cwltool --no-container, native commands",
        one: median(process_reps, || cwltool(&venv, &docs, "native-1.cwl"))?,
        many: median(process_reps, || {
            cwltool(&venv, &docs, &format!("native-{STEPS}.cwl"))
        })?,
    };
    println!(
        "{:<52} {:>10} {:>12} {:>14} {:>16}",
        "runner",
        "T(1)",
        format!("T({STEPS})"),
        "per step",
        "cwltool / this"
    );
    for r in rows.iter().chain([&baseline]) {
        println!(
            "{:<52} {:>8.1}ms {:>10.1}ms {:>12.3}ms {:>15.0}x",
            r.name,
            ms(r.one),
            ms(r.many),
            ms(r.per_step()),
            baseline.per_step().as_secs_f64() / r.per_step().as_secs_f64().max(1e-9)
        );
    }
    let wasm = rows[0].per_step();
    println!(
        "target: <= {:.1} ms per wasm step (in-process): {:.3} ms, {} (load {} at end)",
        ms(TARGET),
        ms(wasm),
        if wasm <= TARGET { "met" } else { "NOT met" },
        loadavg()
    );
    Ok(())
}
