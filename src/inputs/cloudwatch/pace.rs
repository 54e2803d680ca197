//! The request budget of CloudWatch Logs calls in one region: a call waits its turn here before it is
//! made. `FilterLogEvents` allows 5 requests per second per account and region, shared by every caller,
//! so every input of the process that reads a region shares one pace.
//!
//! The pace starts at the quota, halves on each `ThrottlingException` (down to one call every 5 s) and
//! grows back by a tenth of the quota per success: additive increase, multiplicative decrease, as TCP
//! shares a link. What must stay true: calls are spaced by at least `1 / rate`, so no loop around a
//! refused call can spin, and the pace is never above the quota.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Calls per second `FilterLogEvents` allows per account and region.
pub const QUOTA: f64 = 5.0;

/// The slowest pace: one call every 5 s.
const FLOOR: f64 = 0.2;

/// One region's budget.
#[derive(Debug)]
pub struct Pace {
    inner: Mutex<Inner>,
    max: f64,
}

#[derive(Debug)]
struct Inner {
    rate: f64,
    next: Instant,
    /// Since when calls have been refused without a success between (for `/health`).
    throttled_since: Option<Instant>,
}

impl Pace {
    /// A budget of `max` calls per second.
    pub fn new(max: f64) -> Pace {
        Pace {
            inner: Mutex::new(Inner {
                rate: max,
                next: Instant::now(),
                throttled_since: None,
            }),
            max,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits for this call's turn.
    pub async fn turn(&self) {
        let at = {
            let mut i = self.lock();
            let now = Instant::now();
            let at = i.next.max(now);
            i.next = at + Duration::from_secs_f64(1.0 / i.rate);
            at
        };
        tokio::time::sleep_until(at).await;
    }

    /// The call succeeded: the pace grows back towards the quota.
    pub fn success(&self) {
        let mut i = self.lock();
        i.rate = (i.rate + self.max / 10.0).min(self.max);
        i.throttled_since = None;
    }

    /// The call was throttled: the pace halves.
    pub fn throttled(&self) {
        let mut i = self.lock();
        i.rate = (i.rate / 2.0).max(FLOOR);
        let now = Instant::now();
        i.throttled_since.get_or_insert(now);
        i.next = i.next.max(now) + Duration::from_secs_f64(1.0 / i.rate);
    }

    /// Calls per second now.
    pub fn rate(&self) -> f64 {
        self.lock().rate
    }

    /// How long calls have been refused without a success, if they are.
    pub fn throttled_for(&self) -> Option<Duration> {
        self.lock().throttled_since.map(|t| t.elapsed())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_on_throttling_and_grows_back_to_the_quota() {
        let p = Pace::new(QUOTA);
        p.throttled();
        p.throttled();
        assert_eq!(p.rate(), 1.25);
        for _ in 0..3 {
            p.throttled();
        }
        assert_eq!(p.rate(), FLOOR, "never below one call every 5 s");
        assert!(p.throttled_for().is_some());
        for _ in 0..20 {
            p.success();
        }
        assert_eq!(p.rate(), QUOTA, "never above the quota");
        assert!(p.throttled_for().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn calls_are_spaced_by_the_rate() {
        let p = Pace::new(5.0);
        let t0 = tokio::time::Instant::now();
        for _ in 0..6 {
            p.turn().await;
        }
        // The first call goes at once, the next five 200 ms apart.
        assert_eq!(t0.elapsed(), Duration::from_millis(1000));
    }
}
