//! Running Workflows: steps start as soon as every source they read is
//! available, so independent steps run concurrently; each step gathers its
//! inputs (linkMerge, pickValue, default), scatters, evaluates `valueFrom`
//! and `when`, and runs its process.

use super::expr::{Evaluator, Scope};
use super::files;
use super::model::{Effective, Process, Step, Workflow};
use super::runner::{check_requirements, Runner};
use super::{fail, CwlError, Result};
use futures::stream::{FuturesUnordered, StreamExt};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Runs a workflow on prepared inputs and returns its output object.
pub(crate) async fn run_workflow(
    runner: &Runner,
    process: &Process,
    wf: &Workflow,
    inputs: Map<String, Value>,
    effective: &Effective,
) -> Result<Map<String, Value>> {
    let mut state: HashMap<String, Value> = inputs.into_iter().collect();
    let mut pending: Vec<usize> = (0..wf.steps.len()).collect();
    let mut running = FuturesUnordered::new();
    loop {
        // Start every step whose sources are all there.
        let (ready, waiting): (Vec<usize>, Vec<usize>) = pending
            .into_iter()
            .partition(|&i| sources_ready(&wf.steps[i], &state));
        pending = waiting;
        for i in ready {
            let step = &wf.steps[i];
            let values = gather(process, step, &state)?;
            running.push(async move { (i, run_step(runner, step, values, effective).await) });
        }
        match running.next().await {
            Some((i, result)) => {
                let step = &wf.steps[i];
                let outputs = result.map_err(|e| annotate(e, &step.id))?;
                for out in &step.outputs {
                    let v = outputs.get(out).cloned().unwrap_or(Value::Null);
                    state.insert(format!("{}/{}", step.id, out), v);
                }
            }
            None if pending.is_empty() => break,
            None => {
                let step = &wf.steps[pending[0]];
                let missing: Vec<&String> = step
                    .inputs
                    .iter()
                    .flat_map(|i| &i.source)
                    .filter(|s| !state.contains_key(*s))
                    .collect();
                return Err(CwlError::InvalidDocument(format!(
                    "step '{}' waits for {missing:?}, which nothing produces",
                    step.id
                )));
            }
        }
    }
    let mut out = Map::new();
    for o in &process.outputs {
        let v = if o.output_source.is_empty() {
            Value::Null
        } else {
            let v = merge(&o.output_source, o.link_merge.as_deref(), &state)?;
            pick(v, o.pick_value.as_deref(), &o.id)?
        };
        out.insert(o.id.clone(), v);
    }
    Ok(out)
}

/// Adds the step to an error message.
fn annotate(e: CwlError, step: &str) -> CwlError {
    match e {
        CwlError::Unsupported(m) => CwlError::Unsupported(m),
        CwlError::InvalidDocument(m) => CwlError::InvalidDocument(format!("step '{step}': {m}")),
        CwlError::InvalidValue(m) => CwlError::InvalidValue(format!("step '{step}': {m}")),
        CwlError::Expression(m) => CwlError::Expression(format!("step '{step}': {m}")),
        CwlError::PermanentFail(m) => CwlError::PermanentFail(format!("step '{step}': {m}")),
    }
}

fn sources_ready(step: &Step, state: &HashMap<String, Value>) -> bool {
    step.inputs
        .iter()
        .flat_map(|i| &i.source)
        .all(|s| state.contains_key(s))
}

/// The step's input object from its sources and defaults (before scatter
/// and `valueFrom`).
fn gather(
    process: &Process,
    step: &Step,
    state: &HashMap<String, Value>,
) -> Result<Map<String, Value>> {
    let mut values = Map::new();
    for si in &step.inputs {
        let mut v = if si.source.is_empty() {
            Value::Null
        } else {
            let v = merge(&si.source, si.link_merge.as_deref(), state)?;
            pick(v, si.pick_value.as_deref(), &si.id)?
        };
        if v.is_null() {
            if let Some(d) = &si.default {
                v = d.clone();
                files::normalize(&mut v, &process.base_dir)?;
            }
        }
        if si.load_contents {
            files::for_each_entry_mut(&mut v, &mut |o| {
                if o.get("class").and_then(Value::as_str) == Some("File")
                    && !o.contains_key("contents")
                {
                    if let Some(p) = o.get("path").and_then(Value::as_str) {
                        let text = files::read_contents(std::path::Path::new(p))?;
                        o.insert("contents".into(), Value::String(text));
                    }
                }
                Ok(())
            })?;
        }
        if let Some(depth) = files::Listing::parse(si.load_listing.as_deref()) {
            files::fill_listings(&mut v, depth)?;
        }
        values.insert(si.id.clone(), v);
    }
    Ok(values)
}

/// The value of one or more sources: one source is its value; several (or
/// an explicit `linkMerge`) make a list, nested or flattened.
fn merge(
    sources: &[String],
    link_merge: Option<&str>,
    state: &HashMap<String, Value>,
) -> Result<Value> {
    let get = |s: &String| state.get(s).cloned().unwrap_or(Value::Null);
    if sources.len() == 1 && link_merge.is_none() {
        return Ok(get(&sources[0]));
    }
    let mut out = Vec::new();
    match link_merge.unwrap_or("merge_nested") {
        "merge_nested" => out.extend(sources.iter().map(get)),
        "merge_flattened" => {
            for s in sources {
                match get(s) {
                    Value::Array(a) => out.extend(a),
                    other => out.push(other),
                }
            }
        }
        other => {
            return Err(CwlError::InvalidDocument(format!(
                "unknown linkMerge '{other}'"
            )))
        }
    }
    Ok(Value::Array(out))
}

/// Applies `pickValue` to a merged list.
fn pick(v: Value, method: Option<&str>, id: &str) -> Result<Value> {
    let (Some(method), Value::Array(items)) = (method, &v) else {
        return Ok(v);
    };
    let non_null: Vec<&Value> = items.iter().filter(|x| !x.is_null()).collect();
    match method {
        "first_non_null" => non_null
            .first()
            .map(|x| (*x).clone())
            .ok_or_else(|| fail!("all sources of '{id}' are null")),
        "the_only_non_null" => match non_null.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(fail!("all sources of '{id}' are null")),
            _ => Err(fail!("more than one source of '{id}' is not null")),
        },
        "all_non_null" => Ok(Value::Array(non_null.into_iter().cloned().collect())),
        other => Err(CwlError::InvalidDocument(format!(
            "unknown pickValue '{other}'"
        ))),
    }
}

/// The shape of a scatter: the jobs, and how their results nest.
#[derive(Debug, PartialEq)]
pub struct ScatterPlan {
    /// One input object per job, in output order.
    pub jobs: Vec<Map<String, Value>>,
    /// Dimensions of the output arrays (one entry except for
    /// `nested_crossproduct`).
    pub shape: Vec<usize>,
}

/// Expands a step's input object over its `scatter` inputs.
pub fn plan_scatter(
    values: &Map<String, Value>,
    scatter: &[String],
    method: Option<&str>,
) -> Result<ScatterPlan> {
    let arrays: Vec<&Vec<Value>> = scatter
        .iter()
        .map(|s| match values.get(s) {
            Some(Value::Array(a)) => Ok(a),
            other => Err(CwlError::InvalidValue(format!(
                "scatter input '{s}' is not an array: {}",
                other.unwrap_or(&Value::Null)
            ))),
        })
        .collect::<Result<_>>()?;
    let method = method.unwrap_or("dotproduct");
    if method == "dotproduct" || scatter.len() == 1 {
        let n = arrays.first().map_or(0, |a| a.len());
        if arrays.iter().any(|a| a.len() != n) {
            return Err(CwlError::InvalidValue(
                "dotproduct scatter over arrays of different lengths".into(),
            ));
        }
        let jobs = (0..n)
            .map(|i| {
                let mut m = values.clone();
                for (s, a) in scatter.iter().zip(&arrays) {
                    m.insert(s.clone(), a[i].clone());
                }
                m
            })
            .collect();
        return Ok(ScatterPlan {
            jobs,
            shape: vec![n],
        });
    }
    if method != "nested_crossproduct" && method != "flat_crossproduct" {
        return Err(CwlError::InvalidDocument(format!(
            "unknown scatterMethod '{method}'"
        )));
    }
    // Cartesian product, first input varying slowest.
    let mut jobs = vec![values.clone()];
    for (s, a) in scatter.iter().zip(&arrays) {
        let mut next = Vec::with_capacity(jobs.len() * a.len());
        for j in &jobs {
            for item in a.iter() {
                let mut m = j.clone();
                m.insert(s.clone(), item.clone());
                next.push(m);
            }
        }
        jobs = next;
    }
    let shape = if method == "nested_crossproduct" {
        arrays.iter().map(|a| a.len()).collect()
    } else {
        vec![jobs.len()]
    };
    Ok(ScatterPlan { jobs, shape })
}

/// Arranges flat results into nested arrays of the given shape.
pub fn reshape(flat: Vec<Value>, shape: &[usize]) -> Value {
    match shape {
        [] | [_] => Value::Array(flat),
        [_, rest @ ..] => {
            let inner: usize = rest.iter().product();
            if inner == 0 {
                return Value::Array(vec![reshape(vec![], rest); shape[0]]);
            }
            let mut it = flat.into_iter();
            let mut out = Vec::new();
            loop {
                let chunk: Vec<Value> = it.by_ref().take(inner).collect();
                if chunk.is_empty() {
                    break;
                }
                out.push(reshape(chunk, rest));
            }
            Value::Array(out)
        }
    }
}

/// Runs one step: scatter, `valueFrom`, `when`, the process.
async fn run_step(
    runner: &Runner,
    step: &Step,
    values: Map<String, Value>,
    effective: &Effective,
) -> Result<Map<String, Value>> {
    check_requirements(&step.requirements)?;
    let effective = effective.nested(&step.requirements, &step.hints);
    let eval = Evaluator::new(&effective, runner.options().js_limits);
    if step.scatter.is_empty() {
        return run_job(runner, step, values, &effective, &eval).await;
    }
    let plan = plan_scatter(&values, &step.scatter, step.scatter_method.as_deref())?;
    let mut results: Vec<Option<Map<String, Value>>> = vec![None; plan.jobs.len()];
    let mut running: FuturesUnordered<_> = plan
        .jobs
        .into_iter()
        .enumerate()
        .map(|(i, job)| {
            let effective = &effective;
            let eval = &eval;
            async move { (i, run_job(runner, step, job, effective, eval).await) }
        })
        .collect();
    while let Some((i, r)) = running.next().await {
        results[i] = Some(r?);
    }
    let mut out = Map::new();
    for o in &step.outputs {
        let flat: Vec<Value> = results
            .iter()
            .map(|r| {
                r.as_ref()
                    .and_then(|m| m.get(o))
                    .cloned()
                    .unwrap_or(Value::Null)
            })
            .collect();
        out.insert(o.clone(), reshape(flat, &plan.shape));
    }
    Ok(out)
}

/// One (possibly scattered) job of a step.
async fn run_job(
    runner: &Runner,
    step: &Step,
    mut values: Map<String, Value>,
    effective: &Effective,
    eval: &Evaluator,
) -> Result<Map<String, Value>> {
    // valueFrom sees the inputs as they were before any valueFrom ran.
    let before = Value::Object(values.clone());
    let runtime = Value::Object(Map::new());
    for si in &step.inputs {
        if let Some(vf) = &si.value_from {
            let self_ = values.get(&si.id).cloned().unwrap_or(Value::Null);
            let scope = Scope {
                inputs: &before,
                self_: &self_,
                runtime: &runtime,
            };
            let v = eval.eval(vf, scope)?;
            values.insert(si.id.clone(), v);
        }
    }
    if let Some(when) = &step.when {
        let all = Value::Object(values.clone());
        let scope = Scope {
            inputs: &all,
            self_: &Value::Null,
            runtime: &runtime,
        };
        match eval.eval_str(when, scope)? {
            Value::Bool(true) => {}
            Value::Bool(false) => {
                return Ok(step
                    .outputs
                    .iter()
                    .map(|o| (o.clone(), Value::Null))
                    .collect());
            }
            other => {
                return Err(CwlError::Expression(format!(
                    "'when' of step '{}' gave {other}, not a boolean",
                    step.id
                )))
            }
        }
    }
    let run = &step.run;
    let inputs: Map<String, Value> = values
        .into_iter()
        .filter(|(k, _)| run.input(k).is_some())
        .collect();
    runner.run_process(run, inputs, effective, false).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values() -> Map<String, Value> {
        json!({"a": [1, 2], "b": ["x", "y", "z"], "c": "const"})
            .as_object()
            .cloned()
            .unwrap()
    }

    #[test]
    fn dotproduct_pairs_items_and_checks_lengths() {
        let v = json!({"a": [1, 2], "b": ["x", "y"]})
            .as_object()
            .cloned()
            .unwrap();
        let plan = plan_scatter(&v, &["a".into(), "b".into()], None).unwrap();
        assert_eq!(plan.shape, vec![2]);
        assert_eq!(plan.jobs[1]["a"], json!(2));
        assert_eq!(plan.jobs[1]["b"], json!("y"));
        assert!(plan_scatter(&values(), &["a".into(), "b".into()], Some("dotproduct")).is_err());
    }

    #[test]
    fn crossproducts() {
        let scatter = ["a".to_string(), "b".to_string()];
        let flat = plan_scatter(&values(), &scatter, Some("flat_crossproduct")).unwrap();
        assert_eq!(flat.shape, vec![6]);
        let pairs: Vec<(Value, Value)> = flat
            .jobs
            .iter()
            .map(|j| (j["a"].clone(), j["b"].clone()))
            .collect();
        assert_eq!(pairs[0], (json!(1), json!("x")));
        assert_eq!(pairs[3], (json!(2), json!("x")));
        assert!(flat.jobs.iter().all(|j| j["c"] == json!("const")));

        let nested = plan_scatter(&values(), &scatter, Some("nested_crossproduct")).unwrap();
        assert_eq!(nested.shape, vec![2, 3]);
        let results: Vec<Value> = nested
            .jobs
            .iter()
            .map(|j| json!(format!("{}{}", j["a"], j["b"].as_str().unwrap())))
            .collect();
        assert_eq!(
            reshape(results, &nested.shape),
            json!([["1x", "1y", "1z"], ["2x", "2y", "2z"]])
        );
    }

    #[test]
    fn empty_scatter() {
        let v = json!({"a": [], "b": [1]}).as_object().cloned().unwrap();
        let plan = plan_scatter(&v, &["a".into()], None).unwrap();
        assert!(plan.jobs.is_empty());
        assert_eq!(reshape(vec![], &plan.shape), json!([]));
        let nested =
            plan_scatter(&v, &["b".into(), "a".into()], Some("nested_crossproduct")).unwrap();
        assert_eq!(reshape(vec![], &nested.shape), json!([[]]));
    }

    #[test]
    fn merging_and_picking() {
        let state: HashMap<String, Value> = [
            ("x".to_string(), json!([1, 2])),
            ("y".to_string(), json!(null)),
            ("z".to_string(), json!(3)),
        ]
        .into_iter()
        .collect();
        let srcs = ["x".to_string(), "z".to_string()];
        assert_eq!(merge(&srcs, None, &state).unwrap(), json!([[1, 2], 3]));
        assert_eq!(
            merge(&srcs, Some("merge_flattened"), &state).unwrap(),
            json!([1, 2, 3])
        );
        assert_eq!(
            merge(&["x".to_string()], None, &state).unwrap(),
            json!([1, 2])
        );
        let yz = merge(&["y".to_string(), "z".to_string()], None, &state).unwrap();
        assert_eq!(
            pick(yz.clone(), Some("first_non_null"), "o").unwrap(),
            json!(3)
        );
        assert_eq!(
            pick(yz.clone(), Some("the_only_non_null"), "o").unwrap(),
            json!(3)
        );
        assert_eq!(pick(yz, Some("all_non_null"), "o").unwrap(), json!([3]));
        assert!(pick(json!([null]), Some("first_non_null"), "o").is_err());
        assert!(pick(json!([1, 2]), Some("the_only_non_null"), "o").is_err());
    }
}
