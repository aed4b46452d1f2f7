//! CWL CommandLineTools with a `DockerRequirement` on the real Docker engine
//! of this machine, through the Docker step backend. The image is built by
//! the tests themselves, `FROM scratch` with Debian's static busybox
//! (`busybox-static`, installed by `cargo xtask test`), as nothing can be
//! pulled. A missing engine or busybox fails these tests; none is skipped.

#[path = "../../tests/common/busybox.rs"]
mod busybox;

use serde_json::{json, Map, Value};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wades::cwl::docker::{DockerBackend, DockerConfig, PullPolicy};
use wades::cwl::{load_document, CwlError, Runner, RunnerOptions};

/// The test image: busybox and its applets in `/bin`, nothing else.
const IMAGE: &str = "wades-test-busybox:1";

/// Builds [`IMAGE`] once per test binary.
fn image() -> &'static str {
    busybox::image(IMAGE)
}

/// A runner that only has the Docker backend (no host commands), whose
/// containers carry a label unique to the test.
struct Setup {
    runner: Runner,
    label: String,
    dir: tempfile::TempDir,
}

async fn setup(config: DockerConfig) -> Setup {
    image();
    let label = uuid::Uuid::new_v4().to_string();
    let mut config = config;
    config.labels.insert("wades.test".into(), label.clone());
    let backend = DockerBackend::connect(config)
        .await
        .expect("the Docker engine must be reachable for these tests");
    let runner = Runner::new(RunnerOptions::default())
        .unwrap()
        .with_backend(Arc::new(backend));
    Setup {
        runner,
        label,
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Setup {
    /// Runs a CWL document on a job; outputs are copied to `dir/out`.
    async fn run(&self, cwl: &str, job: Value) -> Result<Map<String, Value>, CwlError> {
        let path = self
            .dir
            .path()
            .join(format!("{}.cwl", uuid::Uuid::new_v4()));
        std::fs::write(&path, cwl).unwrap();
        let process = load_document(path.to_str().unwrap())?;
        let Value::Object(job) = job else { panic!() };
        self.runner
            .run_to_outdir(&process, job, self.dir.path(), &self.dir.path().join("out"))
            .await
    }

    /// A file in the test's folder, as a CWL File.
    fn file(&self, name: &str, contents: &str) -> Value {
        std::fs::write(self.dir.path().join(name), contents).unwrap();
        json!({"class": "File", "location": name})
    }

    /// Ids of this test's containers, running or not.
    fn containers(&self) -> Vec<String> {
        let out = Command::new("docker")
            .args(["ps", "-a", "-q", "--filter"])
            .arg(format!("label=wades.test={}", self.label))
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// Waits until this test has no containers left (removal of a dropped
    /// job's container happens in the background).
    async fn assert_no_containers_within(&self, limit: Duration) {
        let start = Instant::now();
        while !self.containers().is_empty() {
            assert!(
                start.elapsed() < limit,
                "containers left behind: {:?}",
                self.containers()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

fn text(output: &Value) -> String {
    std::fs::read_to_string(output["path"].as_str().expect("a File with a path")).unwrap()
}

fn tool(requirements: &str, body: &str) -> String {
    format!(
        "cwlVersion: v1.2\nclass: CommandLineTool\nrequirements:\n  DockerRequirement:\n    dockerPull: {IMAGE}\n{requirements}{body}"
    )
}

#[tokio::test]
async fn a_tool_runs_in_a_hardened_container() {
    let s = setup(DockerConfig::default()).await;
    let cwl = tool(
        "  InitialWorkDirRequirement:\n    listing: [$(inputs.infile)]\n",
        r#"baseCommand: [sh, -c]
arguments:
  - |
    echo made > made.txt
    echo uid=`id -u`
    if touch /x 2>/dev/null; then echo rootfs=writable; else echo rootfs=readonly; fi
    if touch "$0" 2>/dev/null; then echo input=writable; else echo input=readonly; fi
    echo staged=`cat "$0"`
    echo linked=`cat data.txt`
    echo pwd=`pwd`
    echo tmp=$TMPDIR home=$HOME
    touch $TMPDIR/scratch && echo tmp=writable
inputs:
  infile:
    type: File
    inputBinding: {position: 1}
stdout: out.txt
outputs:
  made:
    type: File
    outputBinding: {glob: made.txt}
  linked:
    type: File
    outputBinding: {glob: data.txt}
  out: stdout
"#,
    );
    let job = json!({"infile": s.file("data.txt", "input contents")});
    let out = s.run(&cwl, job).await.expect("the container step runs");
    assert_eq!(text(&out["made"]), "made\n");
    let lines = text(&out["out"]);
    let uid: String = lines
        .lines()
        .find_map(|l| l.strip_prefix("uid="))
        .unwrap_or_default()
        .to_string();
    assert!(!uid.is_empty() && uid != "0", "runs as non-root: {lines}");
    for expected in [
        "rootfs=readonly",
        "input=readonly",
        "staged=input contents",
        "linked=input contents",
        "pwd=/var/spool/cwl",
        "tmp=/tmp home=/var/spool/cwl",
        "tmp=writable",
    ] {
        assert!(lines.contains(expected), "{expected} in:\n{lines}");
    }
    // The symlink the runner placed for InitialWorkDirRequirement points
    // at the host file again, so it is collected as an output.
    assert_eq!(text(&out["linked"]), "input contents");
    s.assert_no_containers_within(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn stdin_and_stderr_are_redirected() {
    let s = setup(DockerConfig::default()).await;
    let cwl = tool(
        "",
        r#"baseCommand: [sh, -c, "wc -l; echo complaint >&2"]
stdin: $(inputs.infile.path)
inputs:
  infile: File
stdout: count.txt
stderr: err.txt
outputs:
  count: stdout
  err: stderr
"#,
    );
    let job = json!({"infile": s.file("lines.txt", "a\nb\nc\n")});
    let out = s.run(&cwl, job).await.expect("the container step runs");
    assert_eq!(text(&out["count"]).trim(), "3");
    assert_eq!(text(&out["err"]), "complaint\n");
    s.assert_no_containers_within(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn no_network_unless_network_access() {
    let s = setup(DockerConfig::default()).await;
    // A server on the host that answers "pong" to every connection.
    let listener = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            use std::io::Write;
            let mut conn = conn;
            let _ = conn.write_all(b"pong\n");
        }
    });
    let probe = |network: &str| {
        tool(
            network,
            // The host is the container's default gateway, if it has one.
            r#"baseCommand: [sh, -c, "ls /sys/class/net; gw=`ip route | awk '/^default/ {print $3}'`; nc -w 5 $gw $0 < /dev/null"]
inputs:
  port: {type: int, inputBinding: {position: 1}}
stdout: probe.txt
successCodes: [0, 1]
outputs:
  out: stdout
"#,
        )
    };
    let job = json!({"port": port});

    let isolated = s.run(&probe(""), job.clone()).await.unwrap();
    let seen = text(&isolated["out"]);
    assert_eq!(
        seen.split_whitespace().collect::<Vec<_>>(),
        ["lo"],
        "{seen}"
    );

    let networked = probe("  NetworkAccess:\n    networkAccess: true\n");
    let connected = s.run(&networked, job).await.unwrap();
    let seen = text(&connected["out"]);
    assert!(seen.contains("eth0") && seen.contains("pong"), "{seen}");
    s.assert_no_containers_within(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn memory_cpu_and_pids_limits_apply() {
    let s = setup(DockerConfig {
        pids_limit: 42,
        ..DockerConfig::default()
    })
    .await;
    // cgroup v1 or v2, whichever the engine uses.
    let cwl = tool(
        "  ResourceRequirement:\n    ramMin: 100\n    coresMin: 1\n",
        r#"baseCommand: [sh, -c]
arguments:
  - |
    cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes
    cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max
    cat /sys/fs/cgroup/cpu.max 2>/dev/null || cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us
inputs: []
stdout: limits.txt
outputs:
  out: stdout
"#,
    );
    let out = s.run(&cwl, json!({})).await.unwrap();
    let seen = text(&out["out"]);
    let values: Vec<&str> = seen.lines().collect();
    assert_eq!(values[0], (100u64 << 20).to_string(), "{seen}");
    assert_eq!(values[1], "42", "{seen}");
    // One core: a quota of one period (100 ms).
    assert!(values[2].starts_with("100000"), "{seen}");

    // And the pids limit bites: 60 sleepers cannot all start.
    let fork = tool(
        "",
        r#"baseCommand: [sh, -c, 'for i in `seq 60`; do sleep 5 & done; echo all-started']
inputs: []
stdout: fork.out
stderr: fork.err
successCodes: [0, 2]
outputs:
  out: stdout
  err: stderr
"#,
    );
    let out = s.run(&fork, json!({})).await.unwrap();
    assert!(!text(&out["out"]).contains("all-started"));
    assert!(
        text(&out["err"]).contains("can't fork"),
        "{}",
        text(&out["err"])
    );

    s.assert_no_containers_within(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn the_time_limit_kills_and_removes_the_container() {
    let s = setup(DockerConfig::default()).await;
    let cwl = tool(
        "  ToolTimeLimit:\n    timelimit: 2\n",
        "baseCommand: [sleep, '60']\ninputs: []\noutputs: []\n",
    );
    let start = Instant::now();
    let err = s.run(&cwl, json!({})).await.unwrap_err();
    assert!(err.to_string().contains("time limit"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(30));
    s.assert_no_containers_within(Duration::from_secs(5)).await;
}

#[tokio::test]
async fn dropping_the_job_kills_and_removes_the_container() {
    let s = setup(DockerConfig::default()).await;
    let cwl = tool("", "baseCommand: [sleep, '60']\ninputs: []\noutputs: []\n");
    let running = async {
        // Until the container is running.
        loop {
            let out = Command::new("docker")
                .args(["ps", "-q", "--filter"])
                .arg(format!("label=wades.test={}", s.label))
                .arg("--filter")
                .arg("status=running")
                .output()
                .unwrap();
            if !out.stdout.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    tokio::select! {
        r = s.run(&cwl, json!({})) => panic!("the step ended by itself: {r:?}"),
        _ = running => {}
        _ = tokio::time::sleep(Duration::from_secs(30)) => panic!("the container never ran"),
    }
    // The job's future is dropped here, as when a job is dismissed.
    assert!(!s.containers().is_empty());
    s.assert_no_containers_within(Duration::from_secs(15)).await;
}

#[tokio::test]
async fn a_missing_image_follows_the_pull_policy() {
    // A registry that is not there (nothing listens on port 9).
    let absent = "127.0.0.1:9/wades-absent:1";
    let cwl = format!(
        "cwlVersion: v1.2\nclass: CommandLineTool\nrequirements:\n  DockerRequirement:\n    dockerPull: {absent}\nbaseCommand: [\"true\"]\ninputs: []\noutputs: []\n"
    );
    let never = setup(DockerConfig {
        pull: PullPolicy::Never,
        ..DockerConfig::default()
    })
    .await;
    let err = never.run(&cwl, json!({})).await.unwrap_err();
    assert!(err.to_string().contains("pull policy is 'never'"), "{err}");

    let if_missing = setup(DockerConfig::default()).await;
    let err = if_missing.run(&cwl, json!({})).await.unwrap_err();
    assert!(
        matches!(err, CwlError::PermanentFail(_))
            && err
                .to_string()
                .contains(&format!("pulling image '{absent}' failed")),
        "{err}"
    );
    if_missing
        .assert_no_containers_within(Duration::from_secs(1))
        .await;
}

#[tokio::test]
async fn building_images_is_refused_without_the_operator_flag() {
    let s = setup(DockerConfig::default()).await;
    let cwl = "cwlVersion: v1.2\nclass: CommandLineTool\nrequirements:\n  DockerRequirement:\n    dockerImageId: wades-built:1\n    dockerFile: \"FROM scratch\"\nbaseCommand: [\"true\"]\ninputs: []\noutputs: []\n";
    let err = s.run(cwl, json!({})).await.unwrap_err();
    assert!(
        matches!(&err, CwlError::Unsupported(m) if m.contains("allow_image_build")),
        "{err}"
    );
}

#[tokio::test]
async fn a_workflow_of_container_steps_passes_files_between_them() {
    let s = setup(DockerConfig::default()).await;
    let wf = format!(
        r#"cwlVersion: v1.2
class: Workflow
requirements:
  DockerRequirement: {{dockerPull: {IMAGE}}}
inputs:
  message: string
outputs:
  count:
    type: File
    outputSource: wc/out
steps:
  echo:
    run:
      class: CommandLineTool
      baseCommand: [sh, -c, 'echo "$0"; echo "$0"']
      inputs:
        message: {{type: string, inputBinding: {{position: 1}}}}
      stdout: message.txt
      outputs:
        out: stdout
    in: {{message: message}}
    out: [out]
  wc:
    run:
      class: CommandLineTool
      baseCommand: [wc, -l]
      inputs:
        file: {{type: File, inputBinding: {{position: 1}}}}
      stdout: count.txt
      outputs:
        out: stdout
    in: {{file: echo/out}}
    out: [out]
"#
    );
    let out = s.run(&wf, json!({"message": "hi"})).await.unwrap();
    let count = text(&out["count"]);
    // wc names the file by its path inside the container.
    assert!(count.trim().starts_with("2 /var/lib/cwl/stage/"), "{count}");
    s.assert_no_containers_within(Duration::from_secs(5)).await;
}

/// `wades cwl-runner --docker`: the command line runs container steps;
/// without the flag they are an unsupported feature (exit 33).
#[test]
fn the_cli_runs_container_steps_with_docker() {
    image();
    let dir = tempfile::tempdir().unwrap();
    let cwl = dir.path().join("tool.cwl");
    std::fs::write(
        &cwl,
        tool(
            "",
            "baseCommand: [echo, from a container]\ninputs: []\nstdout: o.txt\noutputs:\n  o: stdout\n",
        ),
    )
    .unwrap();
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_wades"))
            .arg("cwl-runner")
            .args(extra)
            .arg("--outdir")
            .arg(dir.path().join("out"))
            .arg(&cwl)
            .output()
            .unwrap()
    };
    let out = run(&["--docker"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: Value = serde_json::from_slice(&out.stdout).unwrap();
    let path = PathBuf::from(result["o"]["path"].as_str().unwrap());
    assert_eq!(std::fs::read_to_string(path).unwrap(), "from a container\n");
    assert_eq!(run(&[]).status.code(), Some(33));
}

#[tokio::test]
async fn an_unreachable_engine_is_reported_up_front() {
    let err = DockerBackend::connect(DockerConfig {
        socket: Some("/nonexistent/docker.sock".into()),
        ..DockerConfig::default()
    })
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("Docker engine is unreachable"),
        "{err}"
    );
}

#[tokio::test]
async fn docker_output_directory_is_where_the_tool_works() {
    let s = setup(DockerConfig::default()).await;
    let cwl = format!(
        "cwlVersion: v1.2\nclass: CommandLineTool\nrequirements:\n  DockerRequirement:\n    dockerPull: {IMAGE}\n    dockerOutputDirectory: /results\nbaseCommand: [sh, -c, 'pwd; echo $HOME; echo x > f.txt']\ninputs: []\nstdout: where.txt\noutputs:\n  where: stdout\n  f:\n    type: File\n    outputBinding: {{glob: f.txt}}\n"
    );
    let out = s.run(&cwl, json!({})).await.unwrap();
    assert_eq!(text(&out["where"]), "/results\n/results\n");
    assert_eq!(text(&out["f"]), "x\n");
}
