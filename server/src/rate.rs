//! A token bucket: how fast one connection may send messages.
//!
//! A connection over its rate is not cut off and nothing it sent is dropped: the server stops
//! reading its socket until tokens are back, so TCP backpressure slows that one client while
//! everyone else on the board is served at full speed.

use std::time::Duration;

use tokio::time::Instant;

/// Tokens for one connection: `burst` at most, refilled at `per_second`.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    refilled: Instant,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(per_second: f64, burst: u32) -> Self {
        TokenBucket {
            per_second: per_second.max(f64::MIN_POSITIVE),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            refilled: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.refilled = now;
    }

    /// Takes one token; returns how long the caller must wait first (zero when one was there).
    pub fn take(&mut self) -> Duration {
        self.refill(Instant::now());
        self.tokens -= 1.0;
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.per_second)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_passes_at_once_and_the_rest_waits_for_the_rate() {
        let mut bucket = TokenBucket::new(10.0, 5);
        for _ in 0..5 {
            assert_eq!(bucket.take(), Duration::ZERO);
        }
        // The sixth message waits a tenth of a second, the seventh two tenths.
        assert_eq!(bucket.take(), Duration::from_millis(100));
        assert_eq!(bucket.take(), Duration::from_millis(200));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(
            bucket.take(),
            Duration::ZERO,
            "refilled, capped at the burst"
        );
    }
}
