//! Write [wades](https://github.com/) processes as plain Rust functions.
//!
//! A wades process is a WebAssembly component that describes itself and runs
//! one job per instance. This crate hides the component contract (WIT): you
//! write a function over a struct of typed inputs, and [`process`] generates
//! the OGC process description from the types and doc comments.
//!
//! ```
//! use wades_guest::{process, Inputs, Outputs, ProcessError};
//!
//! /// Input of the greeting.
//! #[derive(Inputs)]
//! pub struct Greet {
//!     /// Who to greet.
//!     name: String,
//!     /// How many exclamation marks, 1 if absent.
//!     #[wades(schema = r#"{"type": "integer", "minimum": 1, "maximum": 10}"#)]
//!     emphasis: Option<i64>,
//! }
//!
//! /// Output of the greeting.
//! #[derive(Outputs)]
//! pub struct Greeting {
//!     /// The greeting text.
//!     greeting: String,
//! }
//!
//! /// Greet someone
//! ///
//! /// Says hello to `name`, loudly if asked.
//! #[process(id = "greet", version = "1.0.0", keywords = ["hello"], memory = "16 MiB")]
//! fn greet(input: Greet) -> Result<Greeting, ProcessError> {
//!     if input.name.trim().is_empty() {
//!         return Err(ProcessError::invalid_input("name must not be empty"));
//!     }
//!     wades_guest::progress(50, "composing");
//!     wades_guest::info(format!("greeting {}", input.name));
//!     let marks = "!".repeat(input.emphasis.unwrap_or(1) as usize);
//!     Ok(Greeting { greeting: format!("Hello {}{marks}", input.name) })
//! }
//! # fn main() {
//! #     let d = __wades_describe();
//! #     assert_eq!(d.id, "greet");
//! #     assert_eq!(d.inputs[1].min_occurs, 0);
//! # }
//! ```
//!
//! Build it with `crate-type = ["cdylib"]` for `wasm32-wasip1` and turn the
//! module into a component (the wades build step does both), or for
//! `wasm32-wasip2`, which gives a component directly.
//!
//! # Types
//! Fields may be `String`, `f64`, `f32`, `i64`, `i32`, `u32`, `u8`, `bool`,
//! [`serde_json::Value`] or [`Json<T>`] (complex values), `Vec<T>` (a JSON
//! array), [`BBox`], [`Binary`], [`Reference`] and [`File`]. `Option<T>` makes
//! an input optional (`minOccurs: 0`) or an output absent when `None`.
//! `#[wades(max_occurs = N)]` or `#[wades(max_occurs = "unbounded")]` turns a
//! `Vec<T>` into several occurrences of `T`. Field attributes: `id`
//! (the OGC id, default the field name), `title`, `schema` (JSON text that
//! replaces the derived schema), `media_type` (one or more, comma separated),
//! `keywords`, `min_occurs`, `max_occurs`.
//!
//! Implement [`ProcessValue`] to add your own types.

#![warn(missing_docs)]

// The generated bindings name `::wades_guest`, also from inside this crate.
extern crate self as wades_guest;

mod describe;
mod error;
mod io;
mod value;

pub use error::ProcessError;
pub use io::{debug, error, info, log, progress, warn, File, Level, IO_BUFFER};
pub use value::{BBox, Binary, Json, ProcessValue, Reference};
pub use wades_guest_macros::{process, Inputs, Outputs};

/// The generated WIT bindings. Not for authors; the macros use them.
#[doc(hidden)]
#[allow(missing_docs, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "process",
        pub_export_macro: true,
        default_bindings_module: "::wades_guest::bindings",
        runtime_path: "::wades_guest::__private::wit_bindgen::rt",
    });
}

/// A raw value of the WIT contract, for custom [`ProcessValue`] impls.
pub use bindings::wades::process::types::Value;

/// A struct of process inputs. Derive it with `#[derive(Inputs)]`.
pub trait Inputs: Sized {
    /// Descriptions of every input.
    #[doc(hidden)]
    fn describe() -> Vec<describe::InputDescription>;
    /// Builds the struct from the values the host passed.
    #[doc(hidden)]
    fn from_values(values: &mut value::ValueBag) -> Result<Self, ProcessError>;
}

/// A struct of process outputs. Derive it with `#[derive(Outputs)]`.
pub trait Outputs: Sized {
    /// Descriptions of every output.
    #[doc(hidden)]
    fn describe() -> Vec<describe::OutputDescription>;
    /// Turns the struct into the values returned to the host.
    #[doc(hidden)]
    fn into_values(self, out: &mut Vec<bindings::wades::process::types::NamedValue>);
}

/// What the macros need at expansion time. Not a stable API.
#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::wades::process::types::{
        InputDescription, NamedValue, OutputDescription, ProcessDescription,
    };
    pub use crate::bindings::Guest;
    pub use crate::describe::{
        describe_process, field_input, field_output, FieldMeta, ProcessMeta,
    };
    pub use crate::value::{Occurs, ValueBag};
    pub use serde_json;
    pub use wit_bindgen;

    use crate::{Inputs, Outputs, ProcessError};

    /// Runs the author's function on the host's inputs.
    pub fn execute<I: Inputs, O: Outputs, E: Into<ProcessError>>(
        values: Vec<NamedValue>,
        f: fn(I) -> Result<O, E>,
    ) -> Result<Vec<NamedValue>, crate::bindings::wades::process::types::ProcessError> {
        let mut bag = ValueBag::new(values);
        let mut run = || -> Result<Vec<NamedValue>, ProcessError> {
            let inputs = I::from_values(&mut bag)?;
            bag.reject_unknown()?;
            let outputs = f(inputs).map_err(Into::into)?;
            let mut out = Vec::new();
            outputs.into_values(&mut out);
            Ok(out)
        };
        run().map_err(ProcessError::into_wit)
    }

    /// Infers the input and output types of the author's function.
    pub fn describe<I: Inputs, O: Outputs, E>(
        meta: ProcessMeta,
        _f: fn(I) -> Result<O, E>,
    ) -> ProcessDescription {
        describe_process(meta, I::describe(), O::describe())
    }
}
