//! CWL steps in the wasm sandbox (`wades:WasmRequirement`): wades processes
//! chained in a Workflow, WASI commands with argv, streams and environment,
//! and the limits and confinement every guest runs under. The components
//! are the examples built by `cargo xtask guests`.

use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use wades::cwl::wasm::{DirCatalog, WasmBackend};
use wades::cwl::{load_document, CwlError, Runner, RunnerOptions};
use wades::runtime::{Runtime, RuntimeConfig};

fn guests_dir() -> PathBuf {
    let dir = std::env::var_os("WADES_GUESTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/wasm"));
    assert!(
        dir.join("wc.wasm").exists(),
        "{}: build the example components first with `cargo xtask guests`",
        dir.display()
    );
    dir
}

/// A runner whose only backend is the wasm sandbox (no host commands).
struct Setup {
    runner: Runner,
    dir: tempfile::TempDir,
    _cache: tempfile::TempDir,
}

fn setup() -> Setup {
    let cache = tempfile::tempdir().unwrap();
    let mut config = RuntimeConfig::new(cache.path());
    config.max_concurrent_jobs = 8;
    let runtime = Runtime::new(config).unwrap();
    let catalog = DirCatalog::new(Some(guests_dir()), true);
    let runner = Runner::new(RunnerOptions::default())
        .unwrap()
        .with_backend(Arc::new(WasmBackend::new(runtime, Arc::new(catalog))));
    Setup {
        runner,
        dir: tempfile::tempdir().unwrap(),
        _cache: cache,
    }
}

impl Setup {
    async fn run(&self, cwl: &str, job: Value) -> Result<Map<String, Value>, CwlError> {
        let path = self.write("doc.cwl", cwl.as_bytes());
        let process = load_document(path.to_str().unwrap())?;
        let Value::Object(job) = job else { panic!() };
        self.runner
            .run_to_outdir(&process, job, self.dir.path(), &self.dir.path().join("out"))
            .await
    }

    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// A file in the test's folder, as a CWL File.
    fn file(&self, name: &str, bytes: &[u8]) -> Value {
        self.write(name, bytes);
        json!({"class": "File", "location": name})
    }
}

fn read(output: &Value) -> Vec<u8> {
    std::fs::read(output["path"].as_str().expect("a File with a path")).unwrap()
}

fn text(output: &Value) -> String {
    String::from_utf8(read(output)).unwrap()
}

const WATER_BODIES: &str = r#"
cwlVersion: v1.2
class: Workflow
$namespaces: {wades: "https://wades.dev/cwl#"}
inputs:
  green: File
  nir: File
outputs:
  ndwi: {type: File, outputSource: nd/nd}
  mask: {type: File, outputSource: otsu/mask}
  threshold: {type: float, outputSource: otsu/threshold}
steps:
  nd:
    run:
      class: CommandLineTool
      hints:
        wades:WasmRequirement: {process: normalized-difference}
      inputs:
        a: File
        b: File
      outputs:
        nd: File
    in: {a: green, b: nir}
    out: [nd]
  otsu:
    run:
      class: CommandLineTool
      requirements:
        wades:WasmRequirement: {process: otsu}
      inputs:
        raster: File
      outputs:
        # By glob: the process wrote it into the output directory.
        mask:
          type: File
          outputBinding: {glob: "*.tif"}
        # By id: the process's output of the same name.
        threshold: float
    in: {raster: nd/nd}
    out: [mask, threshold]
"#;

/// normalized-difference → otsu as CWL steps, each a wades process run in
/// the sandbox: Files go through `/inputs` and `/outputs`, a number
/// through the process's outputs, and the result is what native code
/// computes.
#[tokio::test]
async fn a_workflow_chains_wasm_processes_on_geotiffs() {
    let s = setup();
    let (w, h) = (128, 96);
    let (green, nir) = geotiff_ops::synthetic::water_scene(w, h);
    let job = json!({
        "green": s.file("green.tif", &geotiff_ops::synthetic::encode_u16(&green)),
        "nir": s.file("nir.tif", &geotiff_ops::synthetic::encode_u16(&nir)),
    });
    let out = s.run(WATER_BODIES, job).await.unwrap();

    let ndwi = geotiff_ops::read_band(std::io::Cursor::new(read(&out["ndwi"]))).unwrap();
    let expected = geotiff_ops::normalized_difference(&green, &nir).unwrap();
    assert_eq!(ndwi.data, expected.data);
    assert_eq!(out["ndwi"]["basename"], "nd.tif");

    let (native_threshold, native_mask) = geotiff_ops::otsu_mask(&expected);
    assert_eq!(out["threshold"], json!(native_threshold as f64));
    let mask = geotiff_ops::read_band(std::io::Cursor::new(read(&out["mask"]))).unwrap();
    assert_eq!(
        mask.data,
        native_mask.iter().map(|&v| v as f32).collect::<Vec<_>>()
    );
    assert_eq!(out["mask"]["basename"], "otsu.tif");
    assert!(out["mask"]["checksum"]
        .as_str()
        .unwrap()
        .starts_with("sha1$"));
}

fn wc_tool(body: &str) -> String {
    format!(
        "cwlVersion: v1.2\nclass: CommandLineTool\n$namespaces: {{wades: \"https://wades.dev/cwl#\"}}\nrequirements:\n  wades:WasmRequirement: {{command: wc}}\n{body}"
    )
}

/// The `wc` example, a WASI command: its argv is the CWL command line
/// (input paths rewritten to where the sandbox shows them), stdin and
/// stdout are the files the tool redirects them to, the environment is
/// EnvVarRequirement's, and a file it writes in its working directory is
/// collected by glob.
#[tokio::test]
async fn a_wasi_command_step_gets_argv_streams_and_environment() {
    let s = setup();
    let cwl = wc_tool(
        r#"baseCommand: wc
arguments: [-l]
inputs:
  text: File
stdin: $(inputs.text.path)
stdout: lines.txt
outputs:
  lines: stdout
"#,
    );
    let out = s
        .run(
            &cwl,
            json!({"text": s.file("poem.txt", b"one\ntwo\nthree\n")}),
        )
        .await
        .unwrap();
    assert_eq!(text(&out["lines"]), "3\n");

    let cwl = wc_tool(
        r#"  EnvVarRequirement:
    envDef: [{envName: WC_TOTAL, envValue: both}]
baseCommand: wc
arguments: [-o, report.txt]
inputs:
  first: {type: File, inputBinding: {position: 1}}
  second: {type: File, inputBinding: {position: 2}}
outputs:
  report: {type: File, outputBinding: {glob: report.txt}}
"#,
    );
    let out = s
        .run(
            &cwl,
            json!({
                "first": s.file("a.txt", b"a b\n"),
                "second": s.file("b.txt", b"c d e\nf\n"),
            }),
        )
        .await
        .unwrap();
    assert_eq!(
        text(&out["report"]),
        "1 2 4 /var/lib/cwl/stage/1/a.txt\n2 4 8 /var/lib/cwl/stage/2/b.txt\n3 6 12 both\n"
    );
}

/// A WASI command sees its work directory and staged inputs, nothing else
/// of the host: reading a host file fails inside the guest, which exits 1
/// and says why on its stderr.
#[tokio::test]
async fn a_wasi_command_sees_nothing_outside_its_work_dir() {
    let s = setup();
    let secret = s.write("secret.txt", b"host data\n");
    let cwl = wc_tool(
        r#"baseCommand: wc
inputs:
  path: {type: string, inputBinding: {position: 1}}
successCodes: [1]
stderr: err.txt
stdout: out.txt
outputs:
  err: stderr
  out: stdout
"#,
    );
    for path in [
        "/etc/passwd".to_string(),
        secret.to_string_lossy().into_owned(),
        "../../../../../../etc/passwd".to_string(),
    ] {
        let out = s.run(&cwl, json!({ "path": path })).await.unwrap();
        assert_eq!(text(&out["out"]), "", "{path}");
        assert!(
            text(&out["err"]).starts_with(&format!("wc: {path}: ")),
            "{path}: {}",
            text(&out["err"])
        );
    }
    // Without successCodes, the failed read fails the step.
    let strict = cwl.replace("successCodes: [1]\n", "");
    let err = s.run(&strict, json!({"path": "/etc/passwd"})).await;
    assert!(
        matches!(&err, Err(CwlError::PermanentFail(m)) if m.contains("exited with code 1")),
        "{err:?}"
    );
}

/// A WASI command can be named by id (a file of the components folder),
/// by path and by digest, and runs under the fuel budget its requirement
/// sets: too little fails the step.
#[tokio::test]
async fn a_wasi_command_is_found_by_id_path_or_digest_and_runs_under_its_fuel() {
    let s = setup();
    let wc = guests_dir().join("wc.wasm");
    let digest = wades::model::Digest::of(&std::fs::read(&wc).unwrap());
    let body = "baseCommand: [wc, -c]\ninputs:\n  text: {type: File, inputBinding: {position: 1}}\nstdout: o.txt\noutputs:\n  o: stdout\n";
    let job = json!({"text": s.file("t.txt", b"12345")});
    for named in [
        "wc".to_string(),
        wc.to_string_lossy().into_owned(),
        digest.to_string(),
    ] {
        let cwl = wc_tool(body).replace("{command: wc}", &format!("{{command: \"{named}\"}}"));
        let out = s.run(&cwl, job.clone()).await.unwrap();
        assert_eq!(text(&out["o"]), "5 /var/lib/cwl/stage/1/t.txt\n", "{named}");
    }
    let starved = wc_tool(body).replace("{command: wc}", "{command: wc, fuel: 1000}");
    let err = s.run(&starved, job).await.unwrap_err();
    assert!(
        matches!(&err, CwlError::PermanentFail(m) if m.contains("ran out of fuel")),
        "{err:?}"
    );
}

/// A WASI command has no shell to run a ShellCommandRequirement's line.
#[tokio::test]
async fn a_wasi_command_under_shell_command_requirement_is_unsupported() {
    let s = setup();
    let cwl = wc_tool("  ShellCommandRequirement: {}\nbaseCommand: wc\ninputs: []\noutputs: []\n");
    let err = s.run(&cwl, json!({})).await.unwrap_err();
    assert!(
        matches!(&err, CwlError::Unsupported(m) if m.contains("ShellCommandRequirement")),
        "{err:?}"
    );
}

fn hostile_tool(fuel: u64) -> String {
    format!(
        r#"cwlVersion: v1.2
class: CommandLineTool
$namespaces: {{wades: "https://wades.dev/cwl#"}}
requirements:
  wades:WasmRequirement: {{process: hostile, fuel: {fuel}}}
inputs:
  attack: string
outputs:
  result: string
"#
    )
}

/// The hostile example as a step: a loop runs out of fuel and fails its
/// step, the runner goes on to run the next step, and the escape attack
/// reaches nothing outside the sandbox.
#[tokio::test]
async fn a_hostile_step_fails_alone_under_the_job_limits() {
    let s = setup();
    let err = s
        .run(&hostile_tool(200_000_000), json!({"attack": "loop"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CwlError::PermanentFail(m) if m.contains("ran out of fuel")),
        "{err:?}"
    );

    let out = s
        .run(&hostile_tool(1_000_000_000), json!({"attack": "escape"}))
        .await
        .unwrap();
    assert_eq!(out["result"], "", "the guest reached nothing");

    let err = s
        .run(&hostile_tool(1_000_000_000), json!({"attack": "memory"}))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CwlError::PermanentFail(m) if m.contains("memory limit")),
        "{err:?}"
    );
}

/// `wades cwl-runner --wasm-dir`: the command line runs wasm steps; without
/// the flag a wasm requirement is an unsupported feature (exit 33).
#[test]
fn the_cli_runs_wasm_steps_with_a_wasm_dir() {
    let dir = tempfile::tempdir().unwrap();
    let cwl = dir.path().join("tool.cwl");
    std::fs::write(
        &cwl,
        wc_tool("baseCommand: [wc, -w]\ninputs:\n  text: {type: File, inputBinding: {position: 1}}\nstdout: o.txt\noutputs:\n  o: stdout\n"),
    )
    .unwrap();
    std::fs::write(dir.path().join("t.txt"), "three small words\n").unwrap();
    let job = dir.path().join("job.json");
    std::fs::write(&job, r#"{"text": {"class": "File", "location": "t.txt"}}"#).unwrap();
    let run = |extra: &[&Path]| {
        Command::new(env!("CARGO_BIN_EXE_wades"))
            .arg("cwl-runner")
            .args(extra)
            .arg("--outdir")
            .arg(dir.path().join("out"))
            .arg(&cwl)
            .arg(&job)
            .output()
            .unwrap()
    };
    let guests = guests_dir();
    let cache = dir.path().join("cache");
    let out = run(&[
        Path::new("--wasm-dir"),
        &guests,
        Path::new("--wasm-cache"),
        &cache,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(text(&result["o"]), "3 /var/lib/cwl/stage/1/t.txt\n");
    assert_eq!(run(&[]).status.code(), Some(33));
}
