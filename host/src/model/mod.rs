//! The domain's view of processes and their values.

mod description;
mod digest;
mod limits;
mod value;

pub use description::{
    Format, InputDescription, JobControl, OutputDescription, ProcessDescription,
};
pub use digest::Digest;
pub use limits::Limits;
pub use value::{NamedValue, Value};
