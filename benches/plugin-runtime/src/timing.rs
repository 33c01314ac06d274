//! Samples of call times and their percentiles.

use std::time::Duration;

/// How many calls each measure makes.
#[derive(Debug, Clone, Copy)]
pub struct Counts {
    /// Calls made and thrown away first: code paged in, caches and pools warm.
    pub warm_up: usize,
    /// Timed calls of a fast path (a few microseconds each).
    pub fast: usize,
    /// Timed calls of a slower path (a fresh Extism plugin, a database read).
    pub slow: usize,
    /// Batches of native calls, each of [`NATIVE_BATCH`] calls.
    pub native_batches: usize,
}

/// Native calls timed together, so that reading the clock does not swamp them.
pub const NATIVE_BATCH: u32 = 1_000;

impl Counts {
    pub fn new(quick: bool) -> Counts {
        if quick {
            Counts { warm_up: 500, fast: 5_000, slow: 1_000, native_batches: 2_000 }
        } else {
            Counts { warm_up: 2_000, fast: 50_000, slow: 10_000, native_batches: 20_000 }
        }
    }
}

/// The times of many calls of one kind.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    sorted: Vec<Duration>,
    total: Duration,
}

impl Samples {
    pub fn new(mut samples: Vec<Duration>) -> Samples {
        samples.sort_unstable();
        let total = samples.iter().sum();
        Samples { sorted: samples, total }
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The sample at or below which `p` per cent of the samples lie.
    pub fn percentile(&self, p: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((p / 100.0) * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    pub fn p50(&self) -> Duration {
        self.percentile(50.0)
    }

    pub fn p99(&self) -> Duration {
        self.percentile(99.0)
    }

    pub fn max(&self) -> Duration {
        self.sorted.last().copied().unwrap_or_default()
    }

    /// Calls per second, one after another, counting only the time inside the calls.
    pub fn per_second(&self) -> f64 {
        self.sorted.len() as f64 / self.total.as_secs_f64().max(1e-12)
    }
}

/// Microseconds, for the table.
pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// Milliseconds, for the table.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_samples_by_rank() {
        let samples = Samples::new((1..=100).rev().map(Duration::from_micros).collect());
        assert_eq!(samples.p50(), Duration::from_micros(50));
        assert_eq!(samples.p99(), Duration::from_micros(99));
        assert_eq!(samples.max(), Duration::from_micros(100));
        assert_eq!(Samples::new(Vec::new()).p50(), Duration::ZERO);
    }
}
