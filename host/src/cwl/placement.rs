//! Where the server runs the steps of a deployed CWL process. The one place
//! that decides it, for deploy-time checks and for the runner of a job.
//!
//! The server never runs a plain host command (fail closed): a
//! CommandLineTool runs only on a sandboxing backend, today a container
//! (`DockerRequirement`, as requirement or hint) on the Docker backend.
//! Another sandboxing backend adds its requirement to [`SANDBOXED`] and
//! its backend to [`server_runner`].

use super::backend::StepBackend;
use super::model::{Effective, Process, ProcessKind};
use super::runner::{Runner, RunnerOptions};
use super::Result;
use std::sync::Arc;

/// Requirement (or hint) classes that put a CommandLineTool in a sandbox
/// the server has a backend for.
pub const SANDBOXED: &[&str] = &["DockerRequirement"];

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
            if !SANDBOXED.iter().any(|c| effective.get(c).is_some()) {
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
/// backends the server has (`docker`, when the operator enabled it).
pub fn server_runner(
    options: RunnerOptions,
    docker: Option<Arc<dyn StepBackend>>,
) -> Result<Runner> {
    let mut runner = Runner::new(RunnerOptions {
        allow_host_commands: false,
        ..options
    })?;
    if let Some(d) = docker {
        runner = runner.with_backend(d);
    }
    Ok(runner)
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
