//! A histogram whose observations are atomic increments.
//!
//! `prometheus_client`'s own histogram takes a lock per observation; this
//! one is on the path of every job, so it keeps a counter per bucket and
//! the sum as the bits of an `f64` instead.

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Observations in fixed buckets. Clones share the counts.
#[derive(Debug, Clone)]
pub struct Histogram {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Upper bounds, ascending; the last is infinite.
    bounds: Box<[f64]>,
    /// Observations per bucket, not cumulative (the encoder adds them up).
    counts: Box<[AtomicU64]>,
    /// The sum of observations, as `f64` bits.
    sum: AtomicU64,
}

impl Histogram {
    /// Buckets up to each of `bounds` (ascending), and `+Inf`.
    pub fn with_bounds(bounds: &[f64]) -> Self {
        let bounds: Vec<f64> = bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .collect();
        let counts = bounds.iter().map(|_| AtomicU64::new(0)).collect();
        Histogram {
            inner: Arc::new(Inner {
                bounds: bounds.into(),
                counts,
                sum: AtomicU64::new(0f64.to_bits()),
            }),
        }
    }

    /// Buckets for durations, from 100 µs to 1000 s, 1-2.5-5 per decade.
    pub fn seconds() -> Self {
        const SECONDS: [f64; 22] = [
            0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0,
        ];
        Histogram::with_bounds(&SECONDS)
    }

    /// Records `value`.
    pub fn observe(&self, value: f64) {
        let i = self.inner.bounds.partition_point(|b| *b < value);
        let i = i.min(self.inner.counts.len() - 1);
        self.inner.counts[i].fetch_add(1, Ordering::Relaxed);
        // Contention here is two jobs ending in the same nanoseconds: rare.
        let _ = self
            .inner
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }

    /// Records a duration in seconds.
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// How many observations there were.
    pub fn count(&self) -> u64 {
        self.inner
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .sum()
    }
}

impl TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let buckets: Vec<(f64, u64)> = self
            .inner
            .bounds
            .iter()
            .zip(self.inner.counts.iter())
            .map(|(b, c)| (*b, c.load(Ordering::Relaxed)))
            .collect();
        // Read after the buckets, so a scrape never shows more observed than counted.
        let count = buckets.iter().map(|(_, c)| c).sum();
        let sum = f64::from_bits(self.inner.sum.load(Ordering::Relaxed));
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_bucket() {
        let h = Histogram::with_bounds(&[1.0, 10.0, 100.0]);
        for v in [0.5, 1.0, 5.0, 1e9] {
            h.observe(v);
        }
        let counts: Vec<u64> = h
            .inner
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        assert_eq!(counts, [2, 1, 0, 1]);
        assert_eq!(h.count(), 4);
        assert_eq!(
            f64::from_bits(h.inner.sum.load(Ordering::Relaxed)),
            1e9 + 6.5
        );
    }
}
