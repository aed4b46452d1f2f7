//! CWL application packages through the OGC API, against the real `wades`
//! binary: deploying CWL documents (YAML, JSON, packed `$graph` with
//! `?w=`), packages whose execution unit is CWL or a Part 2 `docker` unit,
//! the process descriptions derived from them, and executing them as jobs
//! whose steps run in containers of the local Docker engine, as deployed
//! wades processes or as WASI commands in the sandbox, or both: seed 000,
//! the water-bodies workflow (`cwl/water-bodies.cwl`), runs end to end.
//!
//! The container image is built by the tests, `FROM scratch` with Debian's
//! static busybox (`busybox-static`), as nothing can be pulled.

#[path = "common/busybox.rs"]
mod busybox;
mod common;

use common::{serve_bytes, wait_final_with, As, Server};
use reqwest::blocking::Response;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};

/// The test image: busybox and its applets in `/bin`, nothing else.
const IMAGE: &str = "wades-e2e-busybox:1";

/// Builds [`IMAGE`] once per test binary.
fn image() -> &'static str {
    busybox::image(IMAGE)
}

/// A server whose container steps run on the Docker engine, never pulling.
fn docker_server(dir: &tempfile::TempDir) -> Server {
    image();
    Server::start_developer(dir, &[("WADES_CWL_DOCKER_PULL", "never")])
}

fn deploy(s: &Server, body: &str, media_type: &str, query: &str) -> Response {
    s.client()
        .post(s.url(&format!("/processes{query}")))
        .header("Content-Type", media_type)
        .body(body.to_string())
        .send()
        .unwrap()
}

fn created(r: Response, id: &str) {
    let status = r.status();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    let body: Value = r.json().unwrap_or(Value::Null);
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert!(
        location.is_some_and(|l| l.ends_with(&format!("/processes/{id}"))),
        "{body}"
    );
    assert_eq!(body["id"], id, "{body}");
    assert_eq!(body["mutable"], true, "{body}");
}

fn describe(s: &Server, id: &str) -> Value {
    let r = s
        .client()
        .get(s.url(&format!("/processes/{id}")))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "describe {id}");
    r.json().unwrap()
}

/// Asserts an OGC exception of `status` whose type ends with `kind`, and
/// returns its detail.
fn exception(r: Response, status: u16, kind: &str) -> String {
    let body = common::exception(r, status, kind);
    body["detail"].as_str().unwrap().to_string()
}

/// Submits an async job of process `id` with `inputs`; returns the job's URL.
fn submit(s: &Server, id: &str, inputs: Value) -> String {
    let r = s
        .client()
        .post(s.url(&format!("/processes/{id}/execution")))
        .header("Prefer", "respond-async")
        .json(&json!({ "inputs": inputs }))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED, "{}", r.text().unwrap());
    r.headers()["location"].to_str().unwrap().to_string()
}

/// Runs an async job to its end; returns its URL and final status document.
fn run_async(s: &Server, id: &str, inputs: Value, within: Duration) -> (String, Value) {
    let job = submit(s, id, inputs);
    let status = wait_final_with(&s.client(), &job, within);
    (job, status)
}

/// The body of a GET of `url`, as text.
fn text_of(s: &Server, url: &str) -> String {
    s.client().get(url).send().unwrap().text().unwrap()
}

/// The body of a GET of `url`, as JSON.
fn json_of(s: &Server, url: &str) -> Value {
    serde_json::from_str(&text_of(s, url)).unwrap()
}

/// A CommandLineTool running `script` with `sh -c` in the test image.
fn tool(id: &str, inputs: &str, outputs: &str, script: &str) -> String {
    format!(
        "cwlVersion: v1.2\nclass: CommandLineTool\nid: {id}\nrequirements:\n  DockerRequirement: {{dockerImageId: '{IMAGE}'}}\nbaseCommand: [sh, -c]\narguments: ['{script}']\ninputs: {inputs}\noutputs: {outputs}\n"
    )
}

/// A workflow of two container steps (their tools hint at the image): one
/// upper-cases a text file (and adds a suffix), the next counts its lines.
const SHOUT: &str = r##"
cwlVersion: v1.2
$namespaces: {iana: "https://www.iana.org/assignments/media-types/"}
$graph:
- class: Workflow
  id: shout
  label: Shout
  doc: Upper-cases a text and counts its lines.
  inputs:
    text: {type: File, label: Text, doc: The text to shout., format: "iana:text/plain"}
    suffix: {type: string, default: "!"}
  outputs:
    upper: {type: File, outputSource: up/out, label: Shouted}
    lines: {type: int, outputSource: count/n}
  steps:
    up:
      run: "#upper"
      in: {src: text, suffix: suffix}
      out: [out]
    count:
      run: "#count"
      in: {src: up/out}
      out: [n]
- class: CommandLineTool
  id: upper
  hints:
    DockerRequirement: {dockerImageId: "wades-e2e-busybox:1"}
  baseCommand: [sh, -c]
  arguments: ['tr a-z A-Z < "$0" > upper.txt && printf %s "$1" >> upper.txt', "$(inputs.src.path)", "$(inputs.suffix)"]
  inputs: {src: File, suffix: string}
  outputs: {out: {type: File, format: "iana:text/plain", outputBinding: {glob: upper.txt}}}
- class: CommandLineTool
  id: count
  requirements: {InlineJavascriptRequirement: {}}
  hints:
    DockerRequirement: {dockerImageId: "wades-e2e-busybox:1"}
  baseCommand: [wc, -l]
  stdin: $(inputs.src.path)
  stdout: n.txt
  inputs: {src: File}
  outputs: {n: {type: int, outputBinding: {glob: n.txt, loadContents: true, outputEval: "$(parseInt(self[0].contents))"}}}
"##;

#[test]
fn cwl_deploys_as_yaml_json_packed_graph_and_packages() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut s = Server::start_developer(&dir, &[]);

    // YAML, with the id of the tool.
    let echo = tool("say", "{word: string}", "[]", "echo $(inputs.word)");
    created(deploy(&s, &echo, "application/cwl+yaml", ""), "say");
    let r = deploy(&s, &echo, "application/cwl+yaml", "");
    exception(r, 409, "ogcapi-processes-2/1.0/duplicated-process");
    // Private to its owner, like every deployment.
    let r = As::anonymous(&s).get("/processes/say");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // JSON, under the id the request gives.
    let json_tool = json!({
        "cwlVersion": "v1.2", "class": "CommandLineTool", "id": "say-json",
        "requirements": [{"class": "DockerRequirement", "dockerImageId": IMAGE}],
        "baseCommand": "echo", "inputs": {"word": "string"}, "outputs": []
    });
    created(
        deploy(
            &s,
            &json_tool.to_string(),
            "application/cwl+json",
            "?id=said",
        ),
        "said",
    );

    // A packed $graph: ?w picks the process; an unknown one is Part 2's
    // workflow-not-found.
    created(deploy(&s, SHOUT, "application/cwl", "?w=shout"), "shout");
    let r = deploy(&s, SHOUT, "application/cwl+yaml", "?w=whisper");
    let detail = exception(r, 400, "ogcapi-processes-2/1.0/workflow-not-found");
    assert!(
        detail.contains("whisper") && detail.contains("shout"),
        "{detail}"
    );
    created(
        deploy(&s, SHOUT, "application/cwl+yaml", "?w=count"),
        "count",
    );

    // ogcapppkg: CWL by reference (fetched like any href) ...
    let href = serve_bytes(
        echo.replace("id: say", "id: fetched").into_bytes(),
        "application/cwl+yaml",
    );
    let package = json!({"executionUnit": {"href": format!("{href}/say.cwl"), "type": "application/cwl+yaml"}});
    created(
        deploy(&s, &package.to_string(), "application/ogcapppkg+json", ""),
        "fetched",
    );
    // ... and by value, its processDescription choosing the id and texts
    // and, in a $graph, the process.
    let package = json!({
        "processDescription": {"id": "upper-by-value", "title": "Upper", "inputs": {"src": {"title": "Source"}}},
        "executionUnit": {"value": SHOUT, "mediaType": "application/cwl+yaml"}
    });
    // An id that is no process of the graph picks none, and this graph
    // has no `main`.
    let r = deploy(&s, &package.to_string(), "application/json", "");
    let detail = exception(r, 400, "invalid-parameter");
    assert!(detail.contains("main"), "{detail}");
    let package = json!({
        "processDescription": {"process": {"id": "upper", "title": "Upper", "inputs": {"src": {"title": "Source"}}}},
        "executionUnit": {"value": SHOUT, "mediaType": "application/cwl+yaml"}
    });
    created(
        deploy(&s, &package.to_string(), "application/ogcapppkg+json", ""),
        "upper",
    );
    let d = describe(&s, "upper");
    assert_eq!(
        (d["title"].as_str(), d["inputs"]["src"]["title"].as_str()),
        (Some("Upper"), Some("Source"))
    );

    // ogcapppkg with a Part 2 docker unit: one container step.
    let package = docker_package("twice");
    created(
        deploy(&s, &package.to_string(), "application/ogcapppkg+json", ""),
        "twice",
    );
    let d = describe(&s, "twice");
    assert_eq!(d["inputs"]["word"]["schema"], json!({"type": "string"}));

    // What was deployed is served back: the package, and the document.
    let r = s
        .client()
        .get(s.url("/processes/shout/package"))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let package: Value = r.json().unwrap();
    assert_eq!(package["executionUnit"]["type"], "cwl", "{package}");
    assert_eq!(package["executionUnit"]["mediaType"], "application/cwl");
    ogc_schemas::validate_in(
        ogc_schemas::OGC_2_0,
        "schemas/processes-dru/ogcapppkg.yaml",
        &package,
        ogc_schemas::Mode::Strict,
    );
    let r = s
        .client()
        .get(s.url("/processes/shout/package"))
        .header("Accept", "application/cwl+yaml")
        .send()
        .unwrap();
    assert_eq!(r.headers()["content-type"], "application/cwl");
    assert_eq!(r.text().unwrap(), SHOUT);
    let r = s
        .client()
        .get(s.url("/processes/twice/package"))
        .send()
        .unwrap();
    assert_eq!(r.json::<Value>().unwrap()["executionUnit"]["image"], IMAGE);

    // Replaced with another document: the description follows.
    let r = s
        .client()
        .put(s.url("/processes/say"))
        .header("Content-Type", "application/cwl+yaml")
        .body(tool("say", "{word: string, times: int}", "[]", "echo"))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        describe(&s, "say")["inputs"]["times"]["schema"],
        json!({"type": "integer"})
    );

    // Everything is still there after a restart.
    s.kill9();
    drop(s);
    let s = Server::start_with(&data, &[]);
    for id in ["say", "said", "shout", "count", "fetched", "upper", "twice"] {
        describe(&s, id);
    }
    assert!(describe(&s, "say")["inputs"]["times"].is_object());
}

#[test]
fn host_commands_and_files_of_the_server_are_refused_at_deploy() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_developer(&dir, &[]);
    let plain = "cwlVersion: v1.2\nclass: CommandLineTool\nid: plain\nbaseCommand: [rm, -rf, /]\ninputs: []\noutputs: []\n";
    let detail = exception(
        deploy(&s, plain, "application/cwl+yaml", ""),
        400,
        "invalid-parameter",
    );
    assert!(
        detail.contains("'plain'") && detail.contains("DockerRequirement"),
        "{detail}"
    );
    // A step of a workflow, too.
    let wf = SHOUT.replace(
        "  hints:\n    DockerRequirement: {dockerImageId: \"wades-e2e-busybox:1\"}\n",
        "",
    );
    assert_ne!(wf, SHOUT);
    let detail = exception(
        deploy(&s, &wf, "application/cwl+yaml", "?w=shout"),
        400,
        "invalid-parameter",
    );
    assert!(detail.contains("'upper', 'count'"), "{detail}");
    let reads = tool(
        "reads",
        "{f: {type: File, default: {class: File, location: /etc/passwd}}}",
        "[]",
        "cat",
    );
    let detail = exception(
        deploy(&s, &reads, "application/cwl+yaml", ""),
        400,
        "invalid-parameter",
    );
    assert!(detail.contains("self-contained"), "{detail}");
    // A requirement the runner does not have can never be met.
    let mpi = tool("mpi", "[]", "[]", "true").replace(
        "requirements:\n",
        "requirements:\n  MPIRequirement: {processes: 2}\n",
    );
    let detail = exception(
        deploy(&s, &mpi, "application/cwl+yaml", ""),
        400,
        "invalid-parameter",
    );
    assert!(detail.contains("MPIRequirement"), "{detail}");
    let r = s.client().get(s.url("/processes/plain")).send().unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[test]
fn a_job_gets_no_file_of_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_developer(&dir, &[]);
    // An expression may make up a File anywhere: the job may not read it.
    let peek = r#"
cwlVersion: v1.2
class: ExpressionTool
id: peek
requirements: {InlineJavascriptRequirement: {}}
inputs: {any: Any?}
outputs: {f: File}
expression: '${return {"f": {"class": "File", "location": "file:///etc/hostname"}};}'
"#;
    created(deploy(&s, peek, "application/cwl+yaml", ""), "peek");
    let r = s
        .client()
        .post(s.url("/processes/peek/execution"))
        .json(&json!({"inputs": {}}))
        .send()
        .unwrap();
    let body: Value = r.json().unwrap();
    assert_eq!(body["status"], 500, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("outside the job's folder"),
        "{body}"
    );
    // Nor may a value name one.
    let r = s
        .client()
        .post(s.url("/processes/peek/execution"))
        .json(&json!({"inputs": {"any": {"value": {"class": "File", "location": "file:///etc/hostname"}, "mediaType": "application/json"}}}))
        .send()
        .unwrap();
    let body: Value = r.json().unwrap();
    assert_eq!(body["status"], 400, "{body}");
}

#[test]
fn the_description_is_derived_from_the_cwl_and_valid() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_developer(&dir, &[]);
    let kinds = tool(
        "kinds",
        "{s: {type: string, label: S, doc: An s.}, n: {type: int, default: 3}, x: double?, b: boolean, e: {type: {type: enum, symbols: [a, b]}}, many: 'string[]', r: {type: {type: record, fields: {k: string}}}, f: {type: File, format: 'iana:image/tiff'}}",
        "{o: {type: File, format: 'iana:image/png', outputBinding: {glob: o.png}}, c: {type: int, outputBinding: {outputEval: '$(1)'}}}",
        "true",
    )
    .replace(
        "cwlVersion: v1.2\n",
        "cwlVersion: v1.2\n$namespaces: {iana: 'https://www.iana.org/assignments/media-types/'}\nlabel: Kinds\ndoc: Every kind of input.\n",
    )
    .replace("requirements:\n", "requirements:\n  InlineJavascriptRequirement: {}\n");
    created(deploy(&s, &kinds, "application/cwl+yaml", ""), "kinds");
    created(
        deploy(&s, SHOUT, "application/cwl+yaml", "?w=shout"),
        "shout",
    );
    for id in ["kinds", "shout"] {
        let d = describe(&s, id);
        ogc_schemas::validate("process.yaml", &d);
        assert_eq!(
            d["jobControlOptions"],
            json!(["sync-execute", "async-execute", "dismiss"])
        );
    }
    let d = describe(&s, "kinds");
    assert_eq!(
        (d["title"].as_str(), d["description"].as_str()),
        (Some("Kinds"), Some("Every kind of input."))
    );
    let i = &d["inputs"];
    assert_eq!(
        (
            i["s"]["title"].as_str(),
            i["s"]["description"].as_str(),
            i["s"]["minOccurs"].as_u64()
        ),
        (Some("S"), Some("An s."), Some(1))
    );
    assert_eq!(i["n"]["schema"], json!({"type": "integer", "default": 3}));
    assert_eq!(i["n"]["minOccurs"], 0);
    assert_eq!(
        (i["x"]["minOccurs"].as_u64(), i["x"]["schema"].clone()),
        (Some(0), json!({"type": "number"}))
    );
    assert_eq!(i["b"]["schema"], json!({"type": "boolean"}));
    assert_eq!(
        i["e"]["schema"],
        json!({"type": "string", "enum": ["a", "b"]})
    );
    assert_eq!(i["many"]["maxOccurs"], "unbounded");
    assert_eq!(i["many"]["schema"], json!({"type": "string"}));
    assert_eq!(
        i["r"]["schema"]["properties"]["k"],
        json!({"type": "string"})
    );
    assert_eq!(
        i["f"]["schema"],
        json!({"type": "string", "contentEncoding": "binary", "contentMediaType": "image/tiff"})
    );
    let o = &d["outputs"];
    assert_eq!(o["o"]["schema"]["contentMediaType"], "image/png");
    assert_eq!(o["c"]["schema"], json!({"type": "integer"}));
    let d = describe(&s, "shout");
    assert_eq!(d["description"], "Upper-cases a text and counts its lines.");
    assert_eq!(
        d["inputs"]["text"]["schema"]["contentMediaType"],
        "text/plain"
    );
    assert_eq!(d["outputs"]["upper"]["title"], "Shouted");
}

/// A Part 2 package with a `docker` unit whose command writes its `word`
/// input twice into a file.
fn docker_package(id: &str) -> Value {
    json!({
        "processDescription": {"process": {
            "id": id, "title": "Twice",
            "inputs": {"word": {"schema": {"type": "string"}}},
            "outputs": {"twice": {"schema": {"type": "string", "contentMediaType": "text/plain"}}}
        }},
        "executionUnit": {
            "type": "docker", "image": IMAGE,
            "command": ["sh", "-c", "echo \"$0 $0\" > twice.txt"],
            "config": {"cpuMin": 1, "memoryMax": 0.25, "jobTimeout": 60},
            "bindings": {"outputBindings": {"twice": {"glob": "twice.txt"}}}
        }
    })
}

#[test]
fn a_workflow_of_container_steps_runs_as_a_job_with_files_in_and_out() {
    let dir = tempfile::tempdir().unwrap();
    let s = docker_server(&dir);
    created(
        deploy(&s, SHOUT, "application/cwl+yaml", "?w=shout"),
        "shout",
    );
    let text = serve_bytes(b"hello\nworld\n".to_vec(), "text/plain");

    // Async, with the File input by reference.
    let inputs = json!({"text": {"href": format!("{text}/words.txt"), "type": "text/plain"}});
    let (job, status) = run_async(&s, "shout", inputs, Duration::from_secs(120));
    assert_eq!(status["status"], "successful", "{status}");
    let results = json_of(&s, &format!("{job}/results"));
    assert_eq!(results["lines"], 2, "{results}");
    let upper = results["upper"]["href"].as_str().unwrap();
    assert!(upper.ends_with("/results/upper"), "{results}");
    assert_eq!(results["upper"]["type"], "text/plain");
    let r = s.client().get(upper).send().unwrap();
    assert_eq!(r.headers()["content-type"], "text/plain");
    assert_eq!(r.text().unwrap(), "HELLO\nWORLD\n!");

    // Sync, with the File given by value and the default overridden.
    let r = s
        .client()
        .post(s.url("/processes/shout/execution"))
        .json(&json!({"inputs": {"text": {"value": "one line\n", "mediaType": "text/plain"}, "suffix": "?"}}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let results: Value = r.json().unwrap();
    assert_eq!(results["lines"], 1, "{results}");
    let body = s
        .client()
        .get(results["upper"]["href"].as_str().unwrap())
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(body, "ONE LINE\n?");

    // A Part 2 docker unit runs the same way; its one output comes raw.
    let package = docker_package("twice");
    created(
        deploy(&s, &package.to_string(), "application/ogcapppkg+json", ""),
        "twice",
    );
    let r = s
        .client()
        .post(s.url("/processes/twice/execution"))
        .json(&json!({"inputs": {"word": "hey"}}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().unwrap(), "hey hey\n");

    // A failing step fails the job, and what it said is in the job's log.
    let fails = tool("fails", "[]", "[]", "echo boom >&2; exit 3");
    created(deploy(&s, &fails, "application/cwl+yaml", ""), "fails");
    let (job, status) = run_async(&s, "fails", json!({}), Duration::from_secs(60));
    assert_eq!(status["status"], "failed", "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("exited with code 3"),
        "{status}"
    );
    let log = text_of(&s, &format!("{job}/logs"));
    assert!(
        log.contains("step 'fails' stderr: boom") && log.contains("exited with code 3"),
        "{log}"
    );

    // An input that cannot be fetched is the client's fault.
    let r = s
        .client()
        .post(s.url("/processes/shout/execution"))
        .json(&json!({"inputs": {"text": {"href": "http://127.0.0.1:1/missing.txt"}}}))
        .send()
        .unwrap();
    let body: Value = r.json().unwrap();
    assert_eq!(body["status"], 400, "{body}");
}

#[test]
fn without_docker_a_container_step_fails_the_job_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_developer(&dir, &[]);
    let echo = tool("say", "{word: string}", "[]", "echo $(inputs.word)");
    created(deploy(&s, &echo, "application/cwl+yaml", ""), "say");
    let r = s
        .client()
        .post(s.url("/processes/say/execution"))
        .json(&json!({"inputs": {"word": "hi"}}))
        .send()
        .unwrap();
    let body: Value = r.json().unwrap();
    assert_eq!(body["status"], 500, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("no container backend is enabled"),
        "{body}"
    );
}

/// Containers carrying the step label `step`.
fn containers(step: &str) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-aq", "--filter", &format!("label=wades.step={step}")])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn dismissing_a_running_container_job_kills_its_container() {
    let dir = tempfile::tempdir().unwrap();
    let s = docker_server(&dir);
    // A tool id of its own, to find its containers among other tests'.
    let id = format!("sleeper-{}", std::process::id());
    let sleeper = tool(&id, "[]", "[]", "sleep 300");
    created(deploy(&s, &sleeper, "application/cwl+yaml", ""), &id);
    let job = submit(&s, &id, json!({}));
    let start = Instant::now();
    while containers(&id).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the container never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status: Value = s.client().get(&job).send().unwrap().json().unwrap();
    assert_eq!(status["status"], "running", "{status}");

    let r = s.client().delete(&job).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let start = Instant::now();
    while !containers(&id).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the container outlived its dismissed job"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status: Value = s.client().get(&job).send().unwrap().json().unwrap();
    assert_eq!(status["status"], "dismissed", "{status}");
}

/// A workflow whose steps are deployed wades processes: `echo` twice, the
/// second fed by the first.
const ECHO_TWICE: &str = r##"
cwlVersion: v1.2
$namespaces: {wades: "https://wades.dev/cwl#"}
$graph:
- class: Workflow
  id: echo-twice
  inputs: {word: string}
  outputs:
    said: {type: string, outputSource: second/stringInput}
  steps:
    first: {run: "#say", in: {stringInput: word}, out: [stringInput]}
    second: {run: "#say", in: {stringInput: first/stringInput}, out: [stringInput]}
- class: CommandLineTool
  id: say
  requirements:
    wades:WasmRequirement: {process: echo}
  inputs: {stringInput: string}
  outputs: {stringInput: string}
"##;

#[test]
fn wasm_steps_run_deployed_processes_in_the_sandbox_without_docker() {
    let dir = tempfile::tempdir().unwrap();
    // No container backend at all: every step runs in-process.
    let s = Server::start_developer(&dir, &[]);
    created(
        deploy(&s, ECHO_TWICE, "application/cwl+yaml", "?w=echo-twice"),
        "echo-twice",
    );
    let within = Duration::from_secs(60);
    let (job, status) = run_async(&s, "echo-twice", json!({"word": "sandboxed"}), within);
    assert_eq!(status["status"], "successful", "{status}");
    let results = json_of(&s, &format!("{job}/results"));
    assert_eq!(results["said"], "sandboxed", "{results}");
    let log = text_of(&s, &format!("{job}/logs"));
    assert_eq!(log.matches("step 'say' started (wasm)").count(), 2, "{log}");

    // A step naming a process nobody deployed fails its job, saying so.
    let ghost = ECHO_TWICE
        .replace("process: echo", "process: no-such-process")
        .replace("id: echo-twice", "id: ghost");
    created(
        deploy(&s, &ghost, "application/cwl+yaml", "?w=ghost"),
        "ghost",
    );
    let (_, status) = run_async(&s, "ghost", json!({"word": "x"}), within);
    assert_eq!(status["status"], "failed", "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("no process 'no-such-process' is deployed"),
        "{status}"
    );
}

/// `wc`, the example WASI command, as CWL steps: lines read from standard
/// input into a captured standard output, and words of several files with
/// a report written into the working directory.
const WC_TOOLS: &str = r##"
cwlVersion: v1.2
$namespaces: {wades: "https://wades.dev/cwl#"}
$graph:
- class: CommandLineTool
  id: lines
  requirements:
    InlineJavascriptRequirement: {}
    wades:WasmRequirement: {command: wc}
  baseCommand: [wc, -l]
  stdin: $(inputs.text.path)
  stdout: n.txt
  inputs: {text: File}
  outputs:
    n: {type: int, outputBinding: {glob: n.txt, loadContents: true, outputEval: "$(parseInt(self[0].contents))"}}
- class: CommandLineTool
  id: words
  requirements:
    EnvVarRequirement: {envDef: {WC_TOTAL: all}}
    wades:WasmRequirement: {command: wc}
  baseCommand: [wc, -w, -o, report.txt]
  inputs:
    texts: {type: "File[]", inputBinding: {position: 1}}
    extra: {type: "string[]?", inputBinding: {position: 2}}
  outputs:
    report: {type: File, outputBinding: {glob: report.txt}}
"##;

/// A File input given by value: base64, as the input takes any content.
fn text_value(text: &str) -> Value {
    use base64::Engine as _;
    let data = base64::engine::general_purpose::STANDARD.encode(text);
    json!({"value": data, "encoding": "base64", "mediaType": "text/plain"})
}

#[test]
fn wasi_command_steps_run_in_the_server_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    // No container backend: the commands run in-process.
    let s = Server::start_developer(&dir, &[]);
    created(
        deploy(&s, WC_TOOLS, "application/cwl+yaml", "?w=lines"),
        "lines",
    );
    created(
        deploy(&s, WC_TOOLS, "application/cwl+yaml", "?w=words"),
        "words",
    );
    let within = Duration::from_secs(60);

    let text = text_value("one\ntwo\nthree\n");
    let (job, status) = run_async(&s, "lines", json!({"text": text}), within);
    assert_eq!(status["status"], "successful", "{status}");
    assert_eq!(json_of(&s, &format!("{job}/results"))["n"], 3);
    let log = text_of(&s, &format!("{job}/logs"));
    assert!(log.contains("step 'lines' started (wasm)"), "{log}");

    let texts = json!([text_value("a b c\n"), text_value("d e\n")]);
    let (job, status) = run_async(&s, "words", json!({"texts": texts}), within);
    assert_eq!(status["status"], "successful", "{status}");
    let results = json_of(&s, &format!("{job}/results"));
    let report = text_of(&s, results["report"]["href"].as_str().unwrap());
    let counts: Vec<&str> = report
        .lines()
        .map(|l| l.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(counts, ["3", "2", "5"], "{report}");
    assert!(report.lines().last().unwrap().ends_with(" all"), "{report}");
    // The command sees its staged inputs, not where the server keeps them.
    assert!(!report.contains(s.data.to_str().unwrap()), "{report}");

    // Nothing else of the host: a path of the server's is not there.
    let inputs = json!({"texts": [text_value("x\n")], "extra": ["/etc/hostname"]});
    let (job, status) = run_async(&s, "words", inputs, within);
    assert_eq!(status["status"], "failed", "{status}");
    let log = text_of(&s, &format!("{job}/logs"));
    assert!(log.contains("/etc/hostname"), "{log}");

    // A command the operator did not install fails its job, saying so.
    let ghost = WC_TOOLS.replace("command: wc", "command: nope");
    created(
        deploy(
            &s,
            &ghost,
            "application/cwl+yaml",
            "?w=lines&id=ghost-lines",
        ),
        "ghost-lines",
    );
    let (_, status) = run_async(&s, "ghost-lines", json!({"text": text}), within);
    assert_eq!(status["status"], "failed", "{status}");
    assert!(
        status["message"]
            .as_str()
            .unwrap()
            .contains("no WASI command 'nope' is installed"),
        "{status}"
    );
    // Commands are named, never given as files of the server.
    let by_path = WC_TOOLS.replace("command: wc", "command: /tmp/evil.wasm");
    let detail = exception(
        deploy(&s, &by_path, "application/cwl+yaml", "?w=lines&id=by-path"),
        400,
        "invalid-parameter",
    );
    assert!(detail.contains("'lines'"), "{detail}");
}

/// Seed 000: the water-bodies workflow, with wades processes as steps.
const WATER_BODIES: &str = include_str!("cwl/water-bodies.cwl");

/// The workflow's `stac` tool (the last of its graph).
fn stac_tool() -> &'static str {
    let at = WATER_BODIES
        .find("- class: CommandLineTool\n  id: stac\n")
        .unwrap();
    &WATER_BODIES[at..]
}

/// The `stac` step as a container instead: busybox writes the same item
/// collection (without the projection, which it cannot read).
const STAC_IN_A_CONTAINER: &str = r#"- class: CommandLineTool
  id: stac
  requirements:
    DockerRequirement: {dockerImageId: "wades-e2e-busybox:1"}
  baseCommand:
  - sh
  - -c
  - |
    set -e
    mkdir stac
    now=$(date -u +%Y-%m-%dT%H:%M:%SZ); n=0; items=""; sep=""
    for mask in "$@"; do
      n=$((n + 1)); id=water-bodies-$n; name=$(basename "$mask")
      mkdir "stac/$id"; cp "$mask" "stac/$id/$name"
      items="$items$sep{\"type\":\"Feature\",\"stac_version\":\"1.0.0\",\"id\":\"$id\",\"geometry\":null,\"properties\":{\"datetime\":\"$now\"},\"links\":[],\"assets\":{\"data\":{\"href\":\"./$id/$name\",\"type\":\"image/tiff; application=geotiff\",\"roles\":[\"data\"]}}}"
      sep=","
    done
    printf '{"type":"FeatureCollection","features":[%s]}' "$items" > stac/collection.json
  - stac
  inputs:
    masks: {type: "File[]", inputBinding: {position: 1}}
  outputs:
    stac_catalog: {type: Directory, outputBinding: {glob: stac}}
"#;

/// Deploys the `crop` and `stac` components through the API (the other
/// steps, `normalized-difference` and `otsu`, are built-ins).
fn deploy_steps(s: &Server) {
    for id in ["crop", "stac"] {
        let bytes = std::fs::read(common::guests().join(format!("{id}.wasm"))).unwrap();
        let r = s
            .client()
            .post(s.url("/processes"))
            .header("Content-Type", "application/wasm")
            .body(bytes)
            .send()
            .unwrap();
        created(r, id);
    }
}

/// A scene of `size`² pixels with a round lake in the middle, as green and
/// near-infrared u16 GeoTIFFs.
fn scene(size: u32) -> (Vec<u8>, Vec<u8>) {
    let (green, nir) = geotiff_ops::synthetic::water_scene(size, size);
    (
        geotiff_ops::synthetic::encode_u16(&green),
        geotiff_ops::synthetic::encode_u16(&nir),
    )
}

/// The water mask of the `size`² scene cropped to `aoi`, computed natively
/// by the code the wasm steps run, and checked against the scene's lake.
fn native_mask(size: u32, aoi: &str) -> Vec<f32> {
    use geotiff_ops::{crop, normalized_difference, otsu_mask, read_band, Aoi};
    let (green, nir) = scene(size);
    let aoi = Aoi::parse(aoi, None).unwrap();
    let band = |b: Vec<u8>| crop(&read_band(std::io::Cursor::new(b)).unwrap(), &aoi).unwrap();
    let nd = normalized_difference(&band(green), &band(nir)).unwrap();
    let (_, mask) = otsu_mask(&nd);
    if size == 64 {
        // The whole lake is inside; Otsu's bin-centre rule may add a few
        // land pixels at the threshold.
        let water = mask.iter().filter(|&&m| m == 1).count();
        let lake = geotiff_ops::synthetic::water_pixels(size, size);
        assert!((lake..lake + 5).contains(&water), "{water} vs {lake}");
    }
    mask.into_iter().map(f32::from).collect()
}

/// Runs the water-bodies workflow deployed as `id` on two scenes (64² and
/// 48² pixels, given by reference and by value) cropped to the 32x32
/// pixels around the lake, and checks the STAC catalog it publishes: one
/// item per scene whose asset is a mask with the lake's pixels as water.
/// Returns the job's log.
fn water_bodies_on_two_scenes(s: &Server, id: &str) -> String {
    use base64::Engine as _;
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let tiff = "image/tiff; application=geotiff";
    // Pixels 16..48 of the 10 m grid from (399960, 5000040) in UTM 33N:
    // the whole lake of the 64² scene, and 32x32 of the 48² one.
    let aoi = "400120,4999560,400440,4999880";
    let (green_a, nir_a) = scene(64);
    let (green_b, nir_b) = scene(48);
    let inputs = json!({
        "green": [
            {"href": format!("{}/green.tif", serve_bytes(green_a, "image/tiff")), "type": tiff},
            {"value": b64(&green_b), "encoding": "base64", "mediaType": tiff},
        ],
        "nir": [
            {"href": format!("{}/nir.tif", serve_bytes(nir_a, "image/tiff")), "type": tiff},
            {"value": b64(&nir_b), "encoding": "base64", "mediaType": tiff},
        ],
        "aoi": aoi,
        "epsg": "EPSG:32633",
    });
    let (job, status) = run_async(s, id, inputs, Duration::from_secs(180));
    assert_eq!(status["status"], "successful", "{status}");
    let results = json_of(s, &format!("{job}/results"));
    let catalog = results["stac_catalog"]["href"].as_str().unwrap();
    assert!(catalog.ends_with("/results/stac_catalog"), "{results}");

    // The Directory output is served as its listing ...
    let listing = json_of(s, catalog);
    let names: Vec<&str> = listing["listing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["basename"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["collection.json", "water-bodies-1", "water-bodies-2"],
        "{listing}"
    );
    // ... and its files under it, so the catalog's relative links resolve.
    let collection_url = listing["listing"][0]["href"].as_str().unwrap().to_string();
    assert_eq!(collection_url, format!("{catalog}/collection.json"));
    let collection = json_of(s, &collection_url);
    assert_eq!(collection["type"], "FeatureCollection", "{collection}");
    let features = collection["features"].as_array().unwrap();
    assert_eq!(features.len(), 2, "{collection}");
    // What the same steps compute natively, pixel for pixel.
    let native = [native_mask(64, aoi), native_mask(48, aoi)];
    for (item, expected) in features.iter().zip(native) {
        assert_eq!(item["stac_version"], "1.0.0", "{item}");
        assert!(item["properties"]["datetime"].is_string(), "{item}");
        let asset = &item["assets"]["data"];
        assert_eq!(asset["type"], tiff, "{item}");
        let href = asset["href"].as_str().unwrap();
        let url = format!("{catalog}/{}", href.trim_start_matches("./"));
        let r = s.client().get(&url).send().unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{url}");
        assert_eq!(r.headers()["content-type"], "image/tiff");
        let mask = geotiff_ops::read_band(std::io::Cursor::new(r.bytes().unwrap())).unwrap();
        assert_eq!((mask.width, mask.height), (32, 32), "{url}");
        assert!(mask.data == expected, "{url}: not the native mask");
        // Cropped: the mask's corner is the AOI's.
        assert_eq!(
            mask.geo.tiepoints.as_deref().map(|t| (t[3], t[4])),
            Some((400_120.0, 4_999_880.0))
        );
    }
    // Nothing outside the output is reachable through it.
    for path in ["..", "../../inputs", "%2e%2e/logs"] {
        let r = s.client().get(format!("{catalog}/{path}")).send().unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
    }
    text_of(s, &format!("{job}/logs"))
}

#[test]
fn water_bodies_runs_end_to_end_as_wasm_steps() {
    let dir = tempfile::tempdir().unwrap();
    // No container backend: every step runs in the sandbox.
    let s = Server::start_developer(&dir, &[]);
    deploy_steps(&s);
    created(
        deploy(&s, WATER_BODIES, "application/cwl+yaml", "?w=water-bodies"),
        "water-bodies",
    );
    let d = describe(&s, "water-bodies");
    assert_eq!(d["inputs"]["green"]["maxOccurs"], "unbounded", "{d}");
    assert_eq!(d["title"], "Water bodies detection");

    let log = water_bodies_on_two_scenes(&s, "water-bodies");
    for (step, n) in [
        ("crop", 4),
        ("normalized_difference", 2),
        ("otsu", 2),
        ("stac", 1),
    ] {
        let started = format!("step '{step}' started (wasm)");
        assert_eq!(log.matches(&started).count(), n, "{step}: {log}");
    }
    assert!(!log.contains("(docker)"), "{log}");
}

#[test]
fn water_bodies_runs_with_a_container_step_among_wasm_steps() {
    let dir = tempfile::tempdir().unwrap();
    let s = docker_server(&dir);
    deploy_steps(&s);
    let mixed = WATER_BODIES.replace(stac_tool(), STAC_IN_A_CONTAINER);
    created(
        deploy(
            &s,
            &mixed,
            "application/cwl+yaml",
            "?w=water-bodies&id=water-bodies-mixed",
        ),
        "water-bodies-mixed",
    );
    let log = water_bodies_on_two_scenes(&s, "water-bodies-mixed");
    assert_eq!(
        log.matches("step 'otsu' started (wasm)").count(),
        2,
        "{log}"
    );
    assert_eq!(
        log.matches("step 'stac' started (docker)").count(),
        1,
        "{log}"
    );
}

/// CPU time (user + system) the process `pid` has used, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// CPU ticks `pid` uses over `window`.
fn cpu_over(pid: u32, window: Duration) -> u64 {
    let before = cpu_ticks(pid);
    std::thread::sleep(window);
    cpu_ticks(pid) - before
}

#[test]
fn dismissing_a_mixed_job_stops_its_wasm_and_container_steps() {
    let dir = tempfile::tempdir().unwrap();
    let s = docker_server(&dir);
    let r = s
        .client()
        .post(s.url("/processes"))
        .header("Content-Type", "application/wasm")
        .body(std::fs::read(common::guests().join("hostile.wasm")).unwrap())
        .send()
        .unwrap();
    created(r, "hostile");
    // Two independent steps, which run at once: a guest spinning in the
    // sandbox and a container sleeping. Tool ids of their own, to find the
    // containers among other tests'.
    let nap = format!("nap-{}", std::process::id());
    let both = format!(
        r##"
cwlVersion: v1.2
$namespaces: {{wades: "https://wades.dev/cwl#"}}
$graph:
- class: Workflow
  id: both
  inputs: []
  outputs: []
  steps:
    spin: {{run: "#spin", in: [], out: []}}
    nap: {{run: "#{nap}", in: [], out: []}}
- class: CommandLineTool
  id: spin
  requirements:
    wades:WasmRequirement: {{process: hostile}}
  inputs: {{attack: {{type: string, default: loop}}}}
  outputs: []
- class: CommandLineTool
  id: {nap}
  requirements:
    DockerRequirement: {{dockerImageId: "{IMAGE}"}}
  baseCommand: [sleep, "300"]
  inputs: []
  outputs: []
"##
    );
    created(deploy(&s, &both, "application/cwl+yaml", "?w=both"), "both");
    let job = submit(&s, "both", json!({}));
    let start = Instant::now();
    while containers(&nap).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the container never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let log = text_of(&s, &format!("{job}/logs"));
    assert!(log.contains("step 'spin' started (wasm)"), "{log}");
    // The spinning guest keeps the server busy (most of a core).
    let busy = cpu_over(s.pid(), Duration::from_secs(2));
    assert!(
        busy >= 60,
        "the guest does not seem to run: {busy} ticks in 2 s"
    );

    let r = s.client().delete(&job).send().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let start = Instant::now();
    while !containers(&nap).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "the container outlived its dismissed job"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let status: Value = s.client().get(&job).send().unwrap().json().unwrap();
    assert_eq!(status["status"], "dismissed", "{status}");
    // And the guest stopped: the server is idle again.
    let idle = cpu_over(s.pid(), Duration::from_secs(2));
    assert!(
        idle < busy / 4,
        "the guest still runs: {idle} ticks in 2 s, {busy} before"
    );
}

/// A tool whose image its document builds (`dockerFile`): on top of the
/// test image, a file the command prints. It also names the test image as
/// `dockerImageId`, which the build must not overwrite.
fn built_tool() -> String {
    format!(
        "cwlVersion: v1.2\nclass: CommandLineTool\nid: built\nrequirements:\n  DockerRequirement:\n    dockerImageId: '{IMAGE}'\n    dockerFile: |\n      FROM {IMAGE}\n      RUN echo built-{} > /marker\nbaseCommand: [cat, /marker]\nstdout: out.txt\ninputs: []\noutputs: {{out: stdout}}\n",
        std::process::id()
    )
}

fn image_id(tag: &str) -> String {
    let out = Command::new("docker")
        .args(["image", "inspect", "-f", "{{.Id}}", tag])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn dockerfiles_are_built_only_when_the_operator_allows_it() {
    // Off by default: the job fails, saying why.
    let dir = tempfile::tempdir().unwrap();
    let s = docker_server(&dir);
    created(
        deploy(&s, &built_tool(), "application/cwl+yaml", ""),
        "built",
    );
    let r = s
        .client()
        .post(s.url("/processes/built/execution"))
        .json(&json!({"inputs": {}}))
        .send()
        .unwrap();
    let body: Value = r.json().unwrap();
    assert_eq!(body["status"], 500, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("allow_image_build"),
        "{body}"
    );
    drop(s);

    // Allowed: the engine builds it (without network) and the step runs in it.
    let before = image_id(IMAGE);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_developer(
        &dir,
        &[
            ("WADES_CWL_DOCKER_PULL", "never"),
            ("WADES_CWL_DOCKER_ALLOW_IMAGE_BUILD", "true"),
        ],
    );
    created(
        deploy(&s, &built_tool(), "application/cwl+yaml", ""),
        "built",
    );
    let r = s
        .client()
        .post(s.url("/processes/built/execution"))
        .json(&json!({"inputs": {}}))
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().unwrap(), format!("built-{}\n", std::process::id()));
    // Under a name of its own: the image the document named is untouched.
    assert_eq!(image_id(IMAGE), before);

    // Loading images from URLs stays refused.
    let load = format!(
        "cwlVersion: v1.2\nclass: CommandLineTool\nid: loaded\nrequirements:\n  DockerRequirement:\n    dockerImageId: '{IMAGE}'\n    dockerLoad: http://127.0.0.1:1/image.tar\nbaseCommand: 'true'\ninputs: []\noutputs: []\n"
    );
    created(deploy(&s, &load, "application/cwl+yaml", ""), "loaded");
    let r = s
        .client()
        .post(s.url("/processes/loaded/execution"))
        .json(&json!({"inputs": {}}))
        .send()
        .unwrap();
    let body: Value = r.json().unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("dockerLoad"),
        "{body}"
    );
}

#[test]
fn containers_left_by_a_killed_server_are_removed_at_its_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = docker_server(&dir);
    let id = format!("orphan-{}", std::process::id());
    let sleeper = tool(&id, "[]", "[]", "sleep 300");
    created(deploy(&s, &sleeper, "application/cwl+yaml", ""), &id);
    let job = submit(&s, &id, json!({}));
    let start = Instant::now();
    while containers(&id).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the container never started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let left = containers(&id);
    // Killed outright: nothing of the server removes its container.
    s.kill9();
    drop(s);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        containers(&id),
        left,
        "the container should outlive SIGKILL"
    );

    let s = Server::start_with(
        &dir.path().join("data"),
        &[("WADES_CWL_DOCKER_PULL", "never")],
    );
    // Removed before the server took any job (a recovered job may start a
    // container of its own, with another id).
    let still: Vec<String> = containers(&id)
        .into_iter()
        .filter(|c| left.contains(c))
        .collect();
    assert!(still.is_empty(), "left behind: {still:?}");

    // Tidy up whatever the recovered job runs.
    let _ = s.client().delete(&job).send();
    drop(s);
    for c in containers(&id) {
        let _ = Command::new("docker").args(["rm", "-f", &c]).output();
    }
}
