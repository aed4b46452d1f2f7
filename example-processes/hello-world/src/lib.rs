//! `hello-world`: the process pygeoapi ships, for side-by-side benchmarks.

use wades_guest::{process, Inputs, Outputs, ProcessError};

/// Inputs of hello-world.
#[derive(Inputs)]
pub struct Hello {
    /// Name
    ///
    /// The name of the person or entity that you wish to be echoed back as an output.
    name: String,
    /// Message
    ///
    /// An optional message to echo as well.
    message: Option<String>,
}

/// Outputs of hello-world.
#[derive(Outputs)]
pub struct Greeting {
    /// Greeting
    ///
    /// `Hello <name>!`, followed by the message if one was given.
    echo: String,
}

/// Hello World
///
/// An example process that takes a name as input and echoes it back as output.
#[process(id = "hello-world", version = "1.0.0", keywords = ["hello world", "example", "echo"], memory = "16 MiB")]
fn hello(input: Hello) -> Result<Greeting, ProcessError> {
    let mut echo = format!("Hello {}!", input.name);
    if let Some(message) = input.message.filter(|m| !m.is_empty()) {
        echo.push(' ');
        echo.push_str(&message);
    }
    Ok(Greeting { echo })
}
