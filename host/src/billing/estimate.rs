//! Estimates from execution history: fuel regressed on input size.
//!
//! Fuel is deterministic (the same component on the same inputs burns the
//! same fuel), so a process's history is a clean function of its inputs;
//! most processes are about linear in the size of their inputs. A least
//! squares line through past runs, raised by its worst underestimate of
//! any of them, gives an estimate that would have covered every run seen.

use serde::{Deserialize, Serialize};

/// One past run of a process.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Bytes of its inputs.
    pub input_bytes: u64,
    /// Fuel it burnt.
    pub fuel: u64,
    /// Most linear memory it held.
    pub memory_peak: u64,
    /// Its wall-clock time, in microseconds.
    pub wall_micros: u64,
    /// Bytes of results it stored.
    pub stored_bytes: u64,
}

/// What a run of some input size is expected to use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Fuel.
    pub fuel: u64,
    /// Peak memory, in bytes.
    pub memory_peak: u64,
    /// Wall-clock time, in microseconds.
    pub wall_micros: u64,
    /// Bytes of results.
    pub stored_bytes: u64,
    /// How many past runs it rests on.
    pub samples: usize,
}

/// The estimate for inputs of `input_bytes` from `history`, or `None` when
/// the history cannot say: no runs, or runs of one size only and another
/// size asked for (a line needs two).
pub fn from_history(history: &[Sample], input_bytes: u64) -> Option<Estimate> {
    let first = history.first()?;
    let x = input_bytes as f64;
    let one_size = history.iter().all(|s| s.input_bytes == first.input_bytes);
    if one_size && input_bytes != first.input_bytes {
        return None;
    }
    let fuel = line(history, input_bytes, |s| s.fuel);
    let stored_bytes = line(history, input_bytes, |s| s.stored_bytes);
    // Memory does not shrink with smaller inputs below what was seen at
    // the smallest, so take the largest seen, scaled up for larger inputs.
    let largest = history.iter().map(|s| s.input_bytes).max().unwrap_or(0);
    let memory = history.iter().map(|s| s.memory_peak).max().unwrap_or(0);
    let memory_peak = if input_bytes > largest && largest > 0 {
        (memory as f64 * x / largest as f64).ceil() as u64
    } else {
        memory
    };
    // Time follows fuel: the history's microseconds per fuel unit.
    let (fuel_seen, wall_seen) = history.iter().fold((0u128, 0u128), |(f, w), s| {
        (f + u128::from(s.fuel), w + u128::from(s.wall_micros))
    });
    let wall_micros = match fuel_seen {
        0 => history.iter().map(|s| s.wall_micros).max().unwrap_or(0),
        _ => (wall_seen as f64 * fuel as f64 / fuel_seen as f64).ceil() as u64,
    };
    Some(Estimate {
        fuel,
        memory_peak,
        wall_micros,
        stored_bytes,
        samples: history.len(),
    })
}

/// `y` (fuel, stored bytes) of a run on `input_bytes`: the most seen when
/// every run had that size, else the least squares line through the runs
/// raised by its worst underestimate of any of them.
fn line(history: &[Sample], input_bytes: u64, y: impl Fn(&Sample) -> u64) -> u64 {
    if history.iter().all(|s| s.input_bytes == input_bytes) {
        return history.iter().map(&y).max().unwrap_or(0);
    }
    let (slope, intercept) = fit(history, &y);
    let under = history
        .iter()
        .map(|s| y(s) as f64 - (intercept + slope * s.input_bytes as f64))
        .fold(0.0, f64::max);
    let value = intercept + slope * input_bytes as f64 + under;
    // Less a hair of rounding noise, so an exact fit stays exact.
    (value - value.abs() * 1e-12 - 1e-9).max(0.0).ceil() as u64
}

/// Least squares line of `y` on input bytes: (slope, intercept); the
/// slope is never negative (more input never costs less).
fn fit(history: &[Sample], y: impl Fn(&Sample) -> u64) -> (f64, f64) {
    let n = history.len() as f64;
    let mean_x = history.iter().map(|s| s.input_bytes as f64).sum::<f64>() / n;
    let mean_y = history.iter().map(|s| y(s) as f64).sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for s in history {
        let dx = s.input_bytes as f64 - mean_x;
        sxy += dx * (y(s) as f64 - mean_y);
        sxx += dx * dx;
    }
    let slope = if sxx > 0.0 { (sxy / sxx).max(0.0) } else { 0.0 };
    (slope, mean_y - slope * mean_x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input_bytes: u64, fuel: u64) -> Sample {
        Sample {
            input_bytes,
            fuel,
            memory_peak: 1 << 20,
            wall_micros: fuel / 100,
            stored_bytes: input_bytes + 10,
        }
    }

    #[test]
    fn a_linear_process_is_extrapolated_exactly() {
        let history = [run(100, 10_500), run(1_000, 15_000), run(10_000, 60_000)];
        let e = from_history(&history, 100_000).unwrap();
        assert_eq!(e.fuel, 510_000);
        assert_eq!(e.samples, 3);
        assert_eq!(e.wall_micros, 5_100);
        assert_eq!(e.memory_peak, 10 << 20, "memory grows with larger inputs");
        assert_eq!(e.stored_bytes, 100_010);
    }

    #[test]
    fn the_estimate_covers_every_run_seen() {
        let history = [run(0, 100), run(10, 400), run(20, 300), run(30, 900)];
        for s in &history {
            assert!(from_history(&history, s.input_bytes).unwrap().fuel >= s.fuel);
        }
    }

    #[test]
    fn one_size_says_nothing_about_another() {
        let history = [run(64, 7_000), run(64, 7_000)];
        assert_eq!(from_history(&history, 64).unwrap().fuel, 7_000);
        assert_eq!(from_history(&history, 65), None);
        assert_eq!(from_history(&[], 1), None);
    }
}
