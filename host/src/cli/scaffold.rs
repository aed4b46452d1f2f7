//! `wades new` (a process crate from the SDK template) and `wades build`.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The SDK this binary was built with, when its sources are still there.
const BUILT_WITH_SDK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-sdk");

/// The guest SDK folder new crates depend on: `explicit` (`--sdk` or
/// `WADES_SDK`), else the one this binary was built from.
pub fn sdk_dir(explicit: Option<&Path>) -> Result<PathBuf> {
    let dir = explicit.unwrap_or(Path::new(BUILT_WITH_SDK));
    let manifest = dir.join("Cargo.toml");
    let is_sdk =
        std::fs::read_to_string(&manifest).is_ok_and(|m| m.contains("name = \"wades-guest\""));
    if !is_sdk {
        bail!(
            "{} is not the wades guest SDK (the guest-sdk folder of a wades checkout): \
             pass --sdk PATH or set WADES_SDK",
            dir.display()
        );
    }
    Ok(std::fs::canonicalize(dir)?)
}

/// Writes a new process crate named `name` into `dir` (which must not
/// exist), depending on the SDK at `sdk`; returns the files written.
pub fn new_process(dir: &Path, name: &str, sdk: &Path) -> Result<Vec<PathBuf>> {
    if !wades::ogc::package::valid_process_id(name)
        || !name.starts_with(|c: char| c.is_ascii_alphabetic())
        || name.contains('.')
    {
        bail!(
            "'{name}' cannot name a process crate: start with a letter, \
             then letters, digits, '-' or '_'"
        );
    }
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    let sdk = sdk.to_str().context("the SDK path is not UTF-8")?;
    let files = [
        ("Cargo.toml", cargo_toml(name, sdk)),
        ("src/lib.rs", lib_rs(name)),
        (".gitignore", "/target\n".to_string()),
    ];
    let mut written = Vec::new();
    for (file, text) in files {
        let path = dir.join(file);
        std::fs::create_dir_all(path.parent().expect("files are in dir"))?;
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

fn cargo_toml(name: &str, sdk: &str) -> String {
    let sdk = toml::Value::String(sdk.into());
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

# A process is a library the host loads: a component built from a cdylib.
[lib]
crate-type = ["cdylib"]

[dependencies]
wades-guest = {{ path = {sdk} }}

# Its own workspace, wherever the folder is.
[workspace]
"#
    )
}

fn lib_rs(name: &str) -> String {
    format!(
        r#"//! `{name}`: a wades process. `wades build` makes it a component,
//! `wades deploy target/wasm/{name}.wasm` puts it on a server.
//!
//! The doc comments are the process description: the first line is a
//! title, the rest its description. Inputs and outputs are the fields of
//! the two structs; `Option` makes an input optional.

use wades_guest::{{process, progress, Inputs, Outputs, ProcessError}};

/// Inputs of {name}.
#[derive(Inputs)]
pub struct Input {{
    /// Text
    ///
    /// The text to transform.
    text: String,
    /// Times
    ///
    /// How many times to repeat it (default 1).
    times: Option<u32>,
}}

/// Outputs of {name}.
#[derive(Outputs)]
pub struct Output {{
    /// Result
    ///
    /// The text in capitals, repeated.
    result: String,
}}

/// {name}
///
/// Turns a text into capitals and repeats it.
#[process(id = "{name}", version = "0.1.0", memory = "16 MiB")]
fn run(input: Input) -> Result<Output, ProcessError> {{
    let times = input.times.unwrap_or(1);
    if times > 1000 {{
        return Err(ProcessError::invalid_input("times must be at most 1000"));
    }}
    progress(50, "transforming");
    Ok(Output {{
        result: input.text.to_uppercase().repeat(times as usize),
    }})
}}
"#
    )
}

/// Builds the process crate in `dir` with cargo's target folder `target`
/// (default `dir/target`) into components under `target/wasm/` (with
/// `wades-guest-build`, the recipe of the example processes) and returns
/// their paths.
pub fn build(dir: &Path, target: Option<&Path>) -> Result<Vec<PathBuf>> {
    let dir = std::path::absolute(dir)?;
    let target = match target {
        Some(t) => std::path::absolute(t)?,
        None => dir.join("target"),
    };
    let built = wades_guest_build::build(&wades_guest_build::Build {
        dir: &dir,
        packages: &[],
        target_dir: &target,
        out_dir: &target.join("wasm"),
    })?;
    Ok(built.into_iter().map(|c| c.path).collect())
}
