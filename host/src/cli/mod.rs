//! The command line's own parts (this folder belongs to the `wades`
//! binary, not to the library): the author's commands (`new`, `build`),
//! the client commands (`deploy`, `execute`, `jobs`, `processes`) and the
//! `id=value` inputs they share with `run`.

pub mod inputs;
pub mod remote;
pub mod scaffold;
