//! The reconnection delay: exponential backoff with jitter, as the official client's
//! `backo2` computes it.

use std::time::Duration;

/// Delays between reconnection attempts: `min × 2^attempt`, moved up or down by up to
/// `jitter` of itself at random, capped at `max`.
#[derive(Clone, Debug)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    jitter: f64,
    attempts: u32,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration, jitter: f64) -> Self {
        Backoff {
            min,
            max,
            // As the official client: a factor outside (0, 1] means no jitter.
            jitter: if jitter > 0.0 && jitter <= 1.0 {
                jitter
            } else {
                0.0
            },
            attempts: 0,
        }
    }

    /// Attempts made since the last reset.
    pub(crate) fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The delay before the next attempt, counting it; `random` is uniform in [0, 1).
    pub(crate) fn duration(&mut self, random: f64) -> Duration {
        let exponent = self.attempts.min(64) as i32;
        self.attempts = self.attempts.saturating_add(1);
        let mut ms = self.min.as_secs_f64() * 1000.0 * 2f64.powi(exponent);
        if self.jitter > 0.0 {
            let deviation = (random * self.jitter * ms).floor();
            // The official client picks the direction from the same random number.
            if ((random * 10.0).floor() as u64) & 1 == 0 {
                ms -= deviation;
            } else {
                ms += deviation;
            }
        }
        let max_ms = self.max.as_secs_f64() * 1000.0;
        Duration::from_millis(ms.min(max_ms).max(0.0) as u64)
    }

    pub(crate) fn reset(&mut self) {
        self.attempts = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_official_sequence() {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(5), 0.5);
        // random 0.0: even tenth, minus nothing.
        assert_eq!(backoff.duration(0.0), Duration::from_millis(1000));
        // 0.15: tenth 1 is odd, so plus floor(0.15 × 0.5 × 2000) = 150.
        assert_eq!(backoff.duration(0.15), Duration::from_millis(2150));
        // 0.25: tenth 2 is even, minus floor(0.25 × 0.5 × 4000) = 500.
        assert_eq!(backoff.duration(0.25), Duration::from_millis(3500));
        // 8000 ± anything is capped at 5000.
        assert_eq!(backoff.duration(0.99), Duration::from_millis(5000));
        assert_eq!(backoff.attempts(), 4);
        backoff.reset();
        // 0.5: tenth 5 is odd, plus 250.
        assert_eq!(backoff.duration(0.5), Duration::from_millis(1250));
        // Bounds: within [min × (1 - jitter), max] for every draw and attempt.
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(60), 0.5);
        for attempt in 0..100 {
            let d = backoff.duration((attempt as f64 * 0.0137) % 1.0);
            assert!(d >= Duration::from_millis(50) && d <= Duration::from_secs(60));
        }
    }

    #[test]
    fn no_jitter_outside_the_range() {
        let mut backoff = Backoff::new(Duration::from_millis(10), Duration::from_secs(1), 1.5);
        assert_eq!(backoff.duration(0.7), Duration::from_millis(10));
        assert_eq!(backoff.duration(0.7), Duration::from_millis(20));
    }
}
