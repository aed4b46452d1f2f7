//! `wc`: a WASI *command*, not a wades process. A plain Rust `fn main`
//! that `cargo xtask guests` componentizes with the command adapter, so
//! that it exports `wasi:cli/run`; CWL tools run it as a step
//! (`wades:WasmRequirement: {command: wc}`).
//!
//! `wc [-l|-w|-c] [-o OUT] [FILE...]` counts the lines, words and bytes of
//! each FILE, or of standard input without one, like POSIX `wc`. With
//! several files it adds a total line, labelled by the `WC_TOTAL`
//! environment variable (default `total`). `-o OUT` writes the report to
//! OUT instead of standard output. A file it cannot read is reported on
//! standard error and makes it exit with 1.

use std::io::{Read, Write};

#[derive(Default, Clone, Copy)]
struct Counts {
    lines: usize,
    words: usize,
    bytes: usize,
}

impl Counts {
    fn of(data: &[u8]) -> Counts {
        Counts {
            lines: data.iter().filter(|b| **b == b'\n').count(),
            words: data
                .split(|b| b.is_ascii_whitespace())
                .filter(|w| !w.is_empty())
                .count(),
            bytes: data.len(),
        }
    }

    fn add(&mut self, other: Counts) {
        self.lines += other.lines;
        self.words += other.words;
        self.bytes += other.bytes;
    }
}

fn main() {
    let mut only: Option<char> = None;
    let mut out_path: Option<String> = None;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "-l" => only = Some('l'),
            "-w" => only = Some('w'),
            "-c" => only = Some('c'),
            "-o" => out_path = args.next(),
            _ => files.push(a),
        }
    }
    let line = |c: Counts, name: &str| {
        let fields = match only {
            Some('l') => c.lines.to_string(),
            Some('w') => c.words.to_string(),
            Some('c') => c.bytes.to_string(),
            _ => format!("{} {} {}", c.lines, c.words, c.bytes),
        };
        if name.is_empty() {
            format!("{fields}\n")
        } else {
            format!("{fields} {name}\n")
        }
    };
    let mut report = String::new();
    let mut failed = false;
    if files.is_empty() {
        let mut data = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut data) {
            eprintln!("wc: standard input: {e}");
            std::process::exit(1);
        }
        report.push_str(&line(Counts::of(&data), ""));
    } else {
        let mut total = Counts::default();
        for f in &files {
            match std::fs::read(f) {
                Ok(data) => {
                    let c = Counts::of(&data);
                    total.add(c);
                    report.push_str(&line(c, f));
                }
                Err(e) => {
                    eprintln!("wc: {f}: {e}");
                    failed = true;
                }
            }
        }
        if files.len() > 1 {
            let label = std::env::var("WC_TOTAL").unwrap_or_else(|_| "total".into());
            report.push_str(&line(total, &label));
        }
    }
    let written = match &out_path {
        Some(p) => std::fs::write(p, &report),
        None => std::io::stdout().write_all(report.as_bytes()),
    };
    if let Err(e) = written {
        eprintln!("wc: writing the report: {e}");
        failed = true;
    }
    if failed {
        std::process::exit(1);
    }
}
