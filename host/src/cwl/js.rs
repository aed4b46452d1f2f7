//! JavaScript for `InlineJavascriptRequirement`, in QuickJS (`rquickjs`).
//!
//! **Why QuickJS?** We weighed `boa_engine` 0.22 and `rquickjs` 0.14. Boa is
//! pure Rust but slow to build and can only cap loop iterations, recursion
//! and stack; it has no heap limit and no interrupt hook, so an expression
//! that allocates without looping could still take the host's memory.
//! QuickJS (vendored C, built by `cc` in about 40 s here) has both a memory
//! limit and an interrupt handler polled while bytecode runs, so a wall-clock
//! budget stops even `while(true){}`. Every evaluation gets a fresh runtime:
//! nothing leaks between expressions, and creating one costs well under a
//! millisecond. Evaluation is synchronous on the calling thread; the time
//! budget bounds how long it can hold that thread.

use super::{CwlError, Result};
use rquickjs::{Context, Runtime};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Budgets for one JavaScript evaluation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JsLimits {
    /// Wall-clock time an expression may run.
    pub timeout: Duration,
    /// Heap the engine may allocate, in bytes.
    pub memory_bytes: usize,
    /// Native stack the engine may use, in bytes (deep recursion).
    pub stack_bytes: usize,
}

impl Default for JsLimits {
    fn default() -> Self {
        JsLimits {
            timeout: Duration::from_secs(10),
            memory_bytes: 256 << 20,
            stack_bytes: 1 << 20,
        }
    }
}

/// The shape of a piece of code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code<'a> {
    /// The inside of `$( ... )`: an expression.
    Expression(&'a str),
    /// The inside of `${ ... }`: a function body that `return`s.
    Body(&'a str),
}

/// Evaluates `code` with `inputs`, `self` and `runtime` bound, after the
/// `expressionLib` snippets, and returns the result as JSON (`undefined`
/// becomes null).
pub fn eval(
    code: Code,
    library: &[String],
    inputs: &Value,
    self_: &Value,
    runtime: &Value,
    limits: &JsLimits,
) -> Result<Value> {
    let rt = Runtime::new().map_err(|e| CwlError::Expression(format!("JavaScript engine: {e}")))?;
    rt.set_memory_limit(limits.memory_bytes);
    rt.set_max_stack_size(limits.stack_bytes);
    let deadline = Instant::now() + limits.timeout;
    rt.set_interrupt_handler(Some(Box::new(move || Instant::now() > deadline)));
    let ctx =
        Context::full(&rt).map_err(|e| CwlError::Expression(format!("JavaScript engine: {e}")))?;

    // JSON is valid JavaScript, so the values are embedded as literals.
    let mut script = format!(
        "var inputs = {};\nvar self = {};\nvar runtime = {};\n",
        inputs, self_, runtime
    );
    for lib in library {
        script.push_str(lib);
        script.push_str(";\n");
    }
    match code {
        Code::Expression(e) => script.push_str(&format!(
            "JSON.stringify((function(){{ return ({e}\n); }})())"
        )),
        Code::Body(b) => script.push_str(&format!("JSON.stringify((function(){{ {b}\n }})())")),
    }
    ctx.with(|ctx| {
        let result: rquickjs::Result<Option<String>> = ctx.eval(script.as_bytes().to_vec());
        match result {
            Ok(None) => Ok(Value::Null),
            Ok(Some(json)) => serde_json::from_str(&json)
                .map_err(|e| CwlError::Expression(format!("result is not JSON: {e}"))),
            Err(e) => {
                let detail = match e {
                    rquickjs::Error::Exception => {
                        let caught = ctx.catch();
                        match caught.as_exception() {
                            Some(ex) => ex.message().unwrap_or_else(|| "exception".into()),
                            None => format!("{caught:?}"),
                        }
                    }
                    other => other.to_string(),
                };
                let snippet = match code {
                    Code::Expression(e) | Code::Body(e) => e.chars().take(200).collect::<String>(),
                };
                if Instant::now() > deadline {
                    Err(CwlError::Expression(format!(
                        "JavaScript exceeded its time budget of {:?}: {snippet}",
                        limits.timeout
                    )))
                } else if detail.contains("out of memory") {
                    Err(CwlError::Expression(format!(
                        "JavaScript exceeded its memory budget of {} bytes: {snippet}",
                        limits.memory_bytes
                    )))
                } else {
                    Err(CwlError::Expression(format!("{detail} in: {snippet}")))
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(code: Code, limits: &JsLimits) -> Result<Value> {
        eval(
            code,
            &[],
            &json!({"x": 2}),
            &json!(null),
            &json!({}),
            limits,
        )
    }

    #[test]
    fn expressions_and_bodies() {
        let l = JsLimits::default();
        assert_eq!(run(Code::Expression("inputs.x + 1"), &l).unwrap(), json!(3));
        assert_eq!(
            run(Code::Body("return [inputs.x];"), &l).unwrap(),
            json!([2])
        );
        assert_eq!(run(Code::Body("var a = 1;"), &l).unwrap(), json!(null));
        let lib = vec!["function twice(v) { return 2 * v; }".to_string()];
        let v = eval(
            Code::Expression("twice(inputs.x)"),
            &lib,
            &json!({"x": 4}),
            &json!(null),
            &json!({}),
            &l,
        );
        assert_eq!(v.unwrap(), json!(8));
        assert!(run(Code::Expression("nope.x"), &l).is_err());
    }

    #[test]
    fn infinite_loop_is_stopped_by_the_time_budget() {
        let limits = JsLimits {
            timeout: Duration::from_millis(300),
            ..JsLimits::default()
        };
        let start = Instant::now();
        let err = run(Code::Body("while (true) {}"), &limits).unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "took {:?}",
            start.elapsed()
        );
        assert!(err.to_string().contains("time budget"), "{err}");
    }

    #[test]
    fn memory_hog_is_stopped_by_the_memory_budget() {
        let limits = JsLimits {
            memory_bytes: 16 << 20,
            ..JsLimits::default()
        };
        let err = run(
            Code::Body("var a = []; for (;;) { a.push('x'.repeat(1000) + a.length); }"),
            &limits,
        )
        .unwrap_err();
        assert!(err.to_string().contains("memory budget"), "{err}");
    }

    #[test]
    fn deep_recursion_fails_cleanly() {
        let err = run(
            Code::Body("function f(n) { return f(n + 1) + 1; } return f(0);"),
            &JsLimits::default(),
        );
        assert!(err.is_err());
    }
}
