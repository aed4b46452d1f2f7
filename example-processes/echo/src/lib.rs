//! `echo`: mirrors every input to the output of the same id.
//!
//! The OGC API - Processes test suite needs exactly this process: a plain
//! string input, outputs that mirror inputs, and a `pause` to observe a
//! running job.

use std::time::Duration;
use wades_guest::{process, BBox, Binary, Inputs, Outputs, ProcessError, Reference};

/// Inputs of echo: one of every kind OGC allows.
#[derive(Inputs)]
pub struct EchoIn {
    /// String input
    ///
    /// Any text.
    #[wades(id = "stringInput")]
    string_input: Option<String>,
    /// Number input
    #[wades(id = "numberInput")]
    number_input: Option<f64>,
    /// Integer input
    #[wades(id = "integerInput")]
    integer_input: Option<i64>,
    /// Boolean input
    #[wades(id = "booleanInput")]
    boolean_input: Option<bool>,
    /// Array input
    ///
    /// An array of numbers.
    #[wades(
        id = "arrayInput",
        schema = r#"{"type": "array", "minItems": 1, "maxItems": 10, "items": {"type": "number"}}"#
    )]
    array_input: Option<Vec<f64>>,
    /// Object input
    ///
    /// Any JSON object.
    #[wades(id = "objectInput")]
    object_input: Option<serde_json::Value>,
    /// Bounding box input
    #[wades(id = "bboxInput")]
    bbox_input: Option<BBox>,
    /// Binary input
    ///
    /// Bytes, passed inline as base64.
    #[wades(id = "binaryInput", media_type = "application/octet-stream")]
    binary_input: Option<Binary>,
    /// Reference input
    ///
    /// A link, echoed as a link.
    #[wades(id = "referenceInput")]
    reference_input: Option<Reference>,
    /// Pause
    ///
    /// Seconds to wait before answering, to observe a running job.
    #[wades(schema = r#"{"type": "number", "minimum": 0, "maximum": 3600}"#)]
    pause: Option<f64>,
}

/// Outputs of echo: the inputs, unchanged.
#[derive(Outputs)]
pub struct EchoOut {
    /// String output
    #[wades(id = "stringInput")]
    string_input: Option<String>,
    /// Number output
    #[wades(id = "numberInput")]
    number_input: Option<f64>,
    /// Integer output
    #[wades(id = "integerInput")]
    integer_input: Option<i64>,
    /// Boolean output
    #[wades(id = "booleanInput")]
    boolean_input: Option<bool>,
    /// Array output
    #[wades(
        id = "arrayInput",
        schema = r#"{"type": "array", "items": {"type": "number"}}"#
    )]
    array_input: Option<Vec<f64>>,
    /// Object output
    #[wades(id = "objectInput")]
    object_input: Option<serde_json::Value>,
    /// Bounding box output
    #[wades(id = "bboxInput")]
    bbox_input: Option<BBox>,
    /// Binary output
    #[wades(id = "binaryInput", media_type = "application/octet-stream")]
    binary_input: Option<Binary>,
    /// Reference output
    #[wades(id = "referenceInput")]
    reference_input: Option<Reference>,
    /// Pause output
    ///
    /// The pause that was asked for, in seconds.
    pause: Option<f64>,
}

/// Echo
///
/// Returns every input as the output of the same id, after an optional pause.
#[process(id = "echo", version = "1.0.0", keywords = ["echo", "test"], memory = "64 MiB")]
fn echo(i: EchoIn) -> Result<EchoOut, ProcessError> {
    if let Some(pause) = i.pause {
        if !(0.0..=3600.0).contains(&pause) {
            return Err(ProcessError::invalid_input(
                "pause must be between 0 and 3600 seconds",
            ));
        }
        wades_guest::progress(0, "pausing");
        // Sleep in slices so that progress moves while the job is observed.
        let steps = (pause * 10.0).ceil() as u32;
        for step in 0..steps {
            std::thread::sleep(Duration::from_secs_f64(pause / steps as f64));
            wades_guest::progress(((step + 1) * 100 / steps.max(1)).min(99) as u8, "pausing");
        }
    }
    Ok(EchoOut {
        string_input: i.string_input,
        number_input: i.number_input,
        integer_input: i.integer_input,
        boolean_input: i.boolean_input,
        array_input: i.array_input,
        object_input: i.object_input,
        bbox_input: i.bbox_input,
        binary_input: i.binary_input,
        reference_input: i.reference_input,
        pause: i.pause,
    })
}
