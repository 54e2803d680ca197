//! How many bulk requests are in flight: an adaptive limit, additive increase and multiplicative
//! decrease (Filebeat's AIMD, Vector's adaptive request concurrency). It grows by one per limit's worth
//! of clean responses and halves on a 429 (whole request or any item: Elasticsearch says it is
//! overloaded), never below 1 nor above the `worker` cap. A request holds a permit only while it is on
//! the wire: a batch waiting out a retry backoff holds none, so it never stalls the others.

use std::sync::Mutex;

use tokio::sync::Notify;

#[derive(Debug)]
struct State {
    limit: f64,
    in_flight: usize,
}

/// The limiter.
#[derive(Debug)]
pub struct Limiter {
    state: Mutex<State>,
    max: usize,
    freed: Notify,
}

/// The right to one request in flight; freed on drop.
#[derive(Debug)]
pub struct Permit<'a>(&'a Limiter);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0
            .state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .in_flight -= 1;
        self.0.freed.notify_waiters();
    }
}

impl Limiter {
    /// A limit starting at `start`, at most `max`.
    pub fn new(start: usize, max: usize) -> Limiter {
        let max = max.max(1);
        Limiter {
            state: Mutex::new(State {
                limit: start.clamp(1, max) as f64,
                in_flight: 0,
            }),
            max,
            freed: Notify::new(),
        }
    }

    /// Waits until a request may go.
    pub async fn acquire(&self) -> Permit<'_> {
        loop {
            let freed = self.freed.notified();
            {
                let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
                if (s.in_flight as f64) < s.limit.floor() {
                    s.in_flight += 1;
                    return Permit(self);
                }
            }
            freed.await;
        }
    }

    /// A response came back; `overloaded` if it said 429 anywhere.
    pub fn record(&self, overloaded: bool) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.limit = if overloaded {
            (s.limit / 2.0).max(1.0)
        } else {
            (s.limit + 1.0 / s.limit).min(self.max as f64)
        };
        drop(s);
        self.freed.notify_waiters();
    }

    /// The current limit (whole requests).
    pub fn limit(&self) -> usize {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .limit
            .floor() as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_on_clean_responses_and_halves_on_429() {
        let l = Limiter::new(1, 8);
        for _ in 0..100 {
            l.record(false);
        }
        assert_eq!(l.limit(), 8, "capped at max");
        l.record(true);
        assert_eq!(l.limit(), 4);
        l.record(true);
        l.record(true);
        l.record(true);
        assert_eq!(l.limit(), 1, "never below 1");
    }

    #[tokio::test]
    async fn at_most_limit_requests_are_in_flight() {
        let l = std::sync::Arc::new(Limiter::new(2, 2));
        let a = l.acquire().await;
        let _b = l.acquire().await;
        let l2 = l.clone();
        let third = tokio::spawn(async move {
            let _p = l2.acquire().await;
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!third.is_finished(), "a third request waits");
        drop(a);
        tokio::time::timeout(std::time::Duration::from_secs(1), third)
            .await
            .unwrap()
            .unwrap();
    }
}
