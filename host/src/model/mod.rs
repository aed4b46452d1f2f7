//! The domain's view of processes and their values.

mod deployment;
mod description;
mod digest;
mod job;
mod limits;
mod tenant;
mod value;

pub use deployment::Deployment;
pub use description::{
    Format, InputDescription, JobControl, OutputDescription, ProcessDescription,
};
pub use digest::Digest;
pub use job::{JobFilter, JobRecord, JobStatus, LogLine, Usage};
pub use limits::Limits;
pub use tenant::{Principal, Role, Visibility, ANONYMOUS};
pub use value::{NamedValue, Value};
