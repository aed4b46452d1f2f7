//! Where the server runs the steps of a deployed CWL process. The one place
//! that decides it, for deploy-time checks and for the runner of a job.
//!
//! The server never runs a plain host command (fail closed): a
//! CommandLineTool runs only on a sandboxing backend: a container
//! (`DockerRequirement`, as requirement or hint) on the Docker backend, or
//! a deployed wades process or an installed WASI command
//! (`wades:WasmRequirement` naming a process or command by id or digest)
//! on the wasm backend. Another sandboxing backend adds its
//! test to [`sandboxed`] and its backend to [`server_runner`].

use super::backend::StepBackend;
use super::model::{Effective, Process, ProcessKind};
use super::runner::{Runner, RunnerOptions};
use super::wasm::{self, ComponentRef, WasmTarget};
use super::Result;
use std::sync::Arc;

/// Requirement (or hint) classes that put a CommandLineTool in a container.
pub const SANDBOXED: &[&str] = &["DockerRequirement"];

/// Whether the server has a sandbox for `tool` under `effective`: a
/// container, a wades process, or a WASI command named by name or digest
/// (never by a path on the server).
fn sandboxed(tool: &Process, effective: &Effective) -> bool {
    SANDBOXED.iter().any(|c| effective.get(c).is_some())
        || matches!(
            wasm::request(tool, effective),
            Ok(Some(wasm::WasmRequest {
                target: WasmTarget::Process(_)
                    | WasmTarget::Command(ComponentRef::Id(_) | ComponentRef::Digest(_)),
                ..
            }))
        )
}

/// The CommandLineTools of `process` (itself, or steps at any depth) that
/// only a host command could run, by id: the server refuses to deploy
/// such a process.
pub fn host_commands(process: &Process) -> Vec<String> {
    let mut found = Vec::new();
    walk(process, &Effective::default(), &mut found);
    found
}

fn walk(process: &Process, inherited: &Effective, found: &mut Vec<String>) {
    let effective = inherited.nested(&process.requirements, &process.hints);
    match &process.kind {
        ProcessKind::CommandLineTool(_) => {
            if !sandboxed(process, &effective) {
                found.push(process.id.clone());
            }
        }
        ProcessKind::Workflow(wf) => {
            for step in &wf.steps {
                let at_step = effective.nested(&step.requirements, &step.hints);
                walk(&step.run, &at_step, found);
            }
        }
        ProcessKind::ExpressionTool { .. } | ProcessKind::Operation => {}
    }
}

/// A runner for a server job: host commands off, and the sandboxing
/// backends the server has: `wasm` for wades processes, and `docker` when
/// the operator enabled it.
pub fn server_runner(
    options: RunnerOptions,
    wasm: Arc<dyn StepBackend>,
    docker: Option<Arc<dyn StepBackend>>,
) -> Result<Runner> {
    let mut runner = Runner::new(RunnerOptions {
        allow_host_commands: false,
        ..options
    })?;
    if let Some(d) = docker {
        runner = runner.with_backend(d);
    }
    // Added last, asked first: a tool that offers both runs in-process.
    Ok(runner.with_backend(wasm))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cwl::document::load_deployed;

    #[test]
    fn finds_the_tools_no_sandbox_runs() {
        let wf = "cwlVersion: v1.2\n$graph:\n- class: Workflow\n  id: main\n  inputs: []\n  outputs: []\n  steps:\n    boxed:\n      run: '#boxed'\n      in: []\n      out: []\n    hinted:\n      run: '#plain'\n      hints:\n        DockerRequirement: {dockerPull: x}\n      in: []\n      out: []\n    bare:\n      run: '#plain'\n      in: []\n      out: []\n- class: CommandLineTool\n  id: boxed\n  requirements:\n    DockerRequirement: {dockerPull: x}\n  baseCommand: 'true'\n  inputs: []\n  outputs: []\n- class: CommandLineTool\n  id: plain\n  baseCommand: 'true'\n  inputs: []\n  outputs: []\n";
        let d = load_deployed(wf, None).unwrap();
        assert_eq!(host_commands(&d.process), vec!["plain".to_string()]);
    }
}
