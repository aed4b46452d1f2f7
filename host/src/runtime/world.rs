//! Checks that a component targets the `wades:process` world before it runs.
//!
//! A component that imports anything else would fail to link anyway; checking
//! first gives the author a message naming every problem at once, and keeps
//! the allowed surface written down in one place.

use wasmtime::component::types::ComponentItem;
use wasmtime::component::Component;
use wasmtime::Engine;

/// Exports every process must have.
const REQUIRED_EXPORTS: &[&str] = &["describe", "execute"];

/// Interfaces a guest may import, without version. The WASI ones are what
/// Rust's `std` needs through the preview1 adapter; the host gives them no
/// authority beyond the job's folders. No sockets, no HTTP.
pub(crate) const ALLOWED_IMPORTS: &[&str] = &[
    "wades:process/host",
    "wades:process/types",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
];

/// Every way `component` misses the world, or `Ok` if it targets it.
pub(crate) fn check(engine: &Engine, component: &Component) -> Result<(), String> {
    let ty = component.component_type();
    let mut problems = Vec::new();
    let exports: Vec<(String, bool)> = ty
        .exports(engine)
        .map(|(name, item)| {
            (
                name.to_string(),
                matches!(item.ty, ComponentItem::ComponentFunc(_)),
            )
        })
        .collect();
    for required in REQUIRED_EXPORTS {
        match exports.iter().find(|(name, _)| name == required) {
            Some((_, true)) => {}
            Some((_, false)) => problems.push(format!("export `{required}` is not a function")),
            None => problems.push(format!("missing export `{required}`")),
        }
    }
    for (name, _) in ty.imports(engine) {
        let unversioned = name.split('@').next().unwrap_or(name);
        if !ALLOWED_IMPORTS.contains(&unversioned) {
            problems.push(format!("import `{name}` is not allowed"));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let found: Vec<&str> = exports.iter().map(|(n, _)| n.as_str()).collect();
    Err(format!(
        "{} (the component exports [{}]; processes export `describe` and `execute` and may import only wades:process/host and the WASI interfaces of a std guest: {})",
        problems.join("; "),
        found.join(", "),
        ALLOWED_IMPORTS[2..].join(", ")
    ))
}
