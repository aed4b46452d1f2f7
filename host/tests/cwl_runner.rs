//! The CWL runner through its library API: a Workflow chaining two
//! CommandLineTools (`echo`, then `wc -l` on its output) and an
//! ExpressionTool reading the count, run with the local process backend.

use serde_json::{json, Map, Value};
use sha1::{Digest, Sha1};
use std::path::Path;
use wades::cwl::{load_document, CwlError, Runner, RunnerOptions};

const WORKFLOW: &str = r#"
cwlVersion: v1.2
class: Workflow
requirements:
  InlineJavascriptRequirement: {}
inputs:
  message: string
  copies:
    type: int
    default: 2
outputs:
  text:
    type: File
    outputSource: echo/out
  count:
    type: File
    outputSource: wc/out
  lines:
    type: int
    outputSource: parse/lines
steps:
  echo:
    run:
      class: CommandLineTool
      baseCommand: sh
      arguments:
        - -c
        # `\$(` keeps the shell's command substitution from being a CWL
        # parameter reference.
        - for i in \$(seq $1); do echo "$0"; done
      inputs:
        message:
          type: string
          inputBinding: {position: 1}
        copies:
          type: int
          inputBinding: {position: 2}
      stdout: message.txt
      outputs:
        out: stdout
    in:
      message: message
      copies: copies
    out: [out]
  wc:
    run:
      class: CommandLineTool
      baseCommand: [wc, -l]
      stdin: $(inputs.file.path)
      inputs:
        file: File
      stdout: count.txt
      outputs:
        out: stdout
    in:
      file: echo/out
    out: [out]
  parse:
    run:
      class: ExpressionTool
      inputs:
        file:
          type: File
          loadContents: true
      outputs:
        lines: int
      expression: "$({'lines': parseInt(inputs.file.contents.trim())})"
    in:
      file: wc/out
    out: [lines]
"#;

fn sha1_of(bytes: &[u8]) -> String {
    format!("sha1${}", hex::encode(Sha1::digest(bytes)))
}

fn job(message: &str) -> Map<String, Value> {
    json!({ "message": message }).as_object().cloned().unwrap()
}

fn write_workflow(dir: &Path) -> String {
    let path = dir.join("count.cwl");
    std::fs::write(&path, WORKFLOW).unwrap();
    path.to_string_lossy().into_owned()
}

#[tokio::test]
async fn workflow_of_two_tools_and_an_expression_tool() {
    let work = tempfile::tempdir().unwrap();
    let process = load_document(&write_workflow(work.path())).unwrap();
    let runner = Runner::new(RunnerOptions {
        allow_host_commands: true,
        tmp_root: Some(work.path().join("scratch")),
        ..RunnerOptions::default()
    })
    .unwrap();
    let outdir = work.path().join("out");
    let out = runner
        .run_to_outdir(&process, job("hello world"), work.path(), &outdir)
        .await
        .unwrap();

    assert_eq!(out["lines"], json!(2));

    let text = &out["text"];
    let expected = b"hello world\nhello world\n";
    assert_eq!(text["class"], "File");
    assert_eq!(text["basename"], "message.txt");
    assert_eq!(text["size"], json!(expected.len()));
    assert_eq!(text["checksum"], json!(sha1_of(expected)));
    let path = text["path"].as_str().unwrap();
    assert_eq!(Path::new(path), outdir.join("message.txt"));
    assert_eq!(std::fs::read(path).unwrap(), expected);
    assert_eq!(
        text["location"].as_str().unwrap(),
        format!("file://{}", outdir.join("message.txt").display())
    );

    let count = &out["count"];
    let counted = std::fs::read_to_string(count["path"].as_str().unwrap()).unwrap();
    assert_eq!(counted.trim(), "2");
    assert_eq!(count["checksum"], json!(sha1_of(counted.as_bytes())));
}

#[tokio::test]
async fn host_commands_are_refused_unless_allowed() {
    let work = tempfile::tempdir().unwrap();
    let process = load_document(&write_workflow(work.path())).unwrap();
    let runner = Runner::new(RunnerOptions::default()).unwrap();
    let err = runner
        .run(&process, job("hi"), work.path())
        .await
        .unwrap_err();
    assert!(matches!(err, CwlError::Unsupported(_)), "{err}");
    assert_eq!(err.exit_code(), 33);
    assert!(err.to_string().contains("host command"), "{err}");
}

#[tokio::test]
async fn a_missing_input_is_a_failure_not_a_crash() {
    let work = tempfile::tempdir().unwrap();
    let process = load_document(&write_workflow(work.path())).unwrap();
    let runner = Runner::new(RunnerOptions {
        allow_host_commands: true,
        ..RunnerOptions::default()
    })
    .unwrap();
    let err = runner
        .run(&process, Map::new(), work.path())
        .await
        .unwrap_err();
    assert!(matches!(err, CwlError::InvalidValue(_)), "{err}");
    assert_eq!(err.exit_code(), 1);
}
