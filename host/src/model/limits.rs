//! Resource limits of one job.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How much one job may use. `None` leaves a limit to the next level: the
/// operator's defaults bound the process's wishes, which bound the request's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Fuel, about one unit per wasm instruction.
    pub fuel: Option<u64>,
    /// Bytes of linear memory, summed over the instance's memories.
    pub memory_bytes: Option<u64>,
    /// Wall-clock time.
    #[serde(with = "opt_millis")]
    pub timeout: Option<Duration>,
}

impl Limits {
    /// Each limit lowered to `other`'s where `other` sets a lower one: a
    /// process or request can only tighten what the operator allows.
    pub fn lowered_by(self, other: Limits) -> Limits {
        fn min<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            }
        }
        Limits {
            fuel: min(self.fuel, other.fuel),
            memory_bytes: min(self.memory_bytes, other.memory_bytes),
            timeout: min(self.timeout, other.timeout),
        }
    }
}

mod opt_millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_millis() as u64)),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<u64>::deserialize(d)?.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_can_only_lower_limits() {
        let operator = Limits {
            fuel: Some(100),
            memory_bytes: Some(1 << 20),
            timeout: Some(Duration::from_secs(5)),
        };
        let greedy = Limits {
            fuel: Some(1_000),
            memory_bytes: Some(1 << 30),
            timeout: None,
        };
        assert_eq!(operator.lowered_by(greedy), operator);
        let modest = Limits {
            fuel: Some(10),
            memory_bytes: None,
            timeout: Some(Duration::from_secs(1)),
        };
        let got = operator.lowered_by(modest);
        assert_eq!(got.fuel, Some(10));
        assert_eq!(got.memory_bytes, Some(1 << 20));
        assert_eq!(got.timeout, Some(Duration::from_secs(1)));
    }
}
