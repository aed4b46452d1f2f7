//! `hostile`: misbehaves in the way its `attack` input names. Only the tests
//! deploy it: each attack must fail its own job and nothing else.

use wades_guest::{process, Inputs, Outputs, ProcessError};

/// What to do.
#[derive(Inputs)]
pub struct Attack {
    /// Attack
    ///
    /// `loop` spins forever, `memory` allocates without end, `recursion`
    /// overflows the stack, `huge-output` returns a very large string,
    /// `panic` panics, `escape` tries to read outside the sandbox,
    /// `log-flood` logs and prints lines without end.
    #[wades(
        schema = r#"{"type": "string", "enum": ["loop", "memory", "recursion", "huge-output", "panic", "escape", "log-flood"]}"#
    )]
    attack: String,
    /// Size of the huge output in MiB (default 64).
    size_mib: Option<u32>,
}

/// What a well-behaved run would return.
#[derive(Outputs)]
pub struct Loot {
    /// Whatever the attack produced.
    result: String,
}

/// Hostile
///
/// A process that attacks its host, for sandbox tests.
// The process's own memory limit (below the operator's default) is what
// stops the memory bomb when the request sets none.
#[process(id = "hostile", version = "1.0.0", keywords = ["test"], memory = "256 MiB")]
fn hostile(input: Attack) -> Result<Loot, ProcessError> {
    let result = match input.attack.as_str() {
        "loop" => spin(),
        "memory" => hoard(),
        "recursion" => recurse(1).to_string(),
        "huge-output" => "x".repeat((input.size_mib.unwrap_or(64) as usize) << 20),
        "panic" => panic!("hostile guest panicked on purpose"),
        "escape" => escape(),
        "log-flood" => flood(),
        other => {
            return Err(ProcessError::invalid_input(format!(
                "unknown attack '{other}'"
            )))
        }
    };
    Ok(Loot { result })
}

fn spin() -> String {
    let mut x: u64 = 1;
    loop {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
}

fn flood() -> String {
    for n in 0u64.. {
        let line = format!("line {n} of a flood that never ends {}", "~".repeat(200));
        wades_guest::warn(&line);
        println!("{line}");
        eprintln!("{line}");
    }
    unreachable!()
}

fn hoard() -> String {
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        // Touch every page so the memory is really committed.
        hoard.push(vec![1u8; 1 << 20]);
        std::hint::black_box(&hoard);
    }
}

/// Recursion that keeps its frames on the wasm stack (no locals in linear
/// memory), so it exhausts the host-enforced wasm stack limit.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    // A reachable base case, so the compiler keeps the recursion as written.
    if std::hint::black_box(depth) == u64::MAX {
        return 0;
    }
    // black_box on the result stops LLVM from turning this into a loop.
    std::hint::black_box(recurse(depth + 1)).wrapping_add(depth)
}

/// Tries everything a sandbox must refuse, and reports what worked.
fn escape() -> String {
    let mut got = Vec::new();
    for path in ["/etc/passwd", "/", "/inputs/../..", "/proc/self/environ"] {
        if std::fs::read_dir(path).is_ok() || std::fs::read(path).is_ok() {
            got.push(format!("read {path}"));
        }
    }
    if std::fs::write("/inputs/planted", b"x").is_ok() {
        got.push("wrote /inputs".into());
    }
    if std::env::vars().next().is_some() {
        got.push("environment".into());
    }
    if std::net::TcpStream::connect("127.0.0.1:80").is_ok() {
        got.push("network".into());
    }
    got.join(", ")
}
