//! The Elasticsearch hosts and their health: requests in, a host to send to (or how long until one is
//! up) out. A whole-request failure (connection error, timeout, 429, 5xx, 401/403) puts that host in
//! backoff, a [`Backoff`] of its own: exponential from `backoff.init` to `backoff.max`, with ±25 % jitter
//! so that many shippers do not come back in step; a success resets it. Requests go round-robin over the
//! hosts that are up, so one dead host does not hold back the others.
//!
//! While a host is in backoff, a probe (`HEAD /`, every second) watches for its return, so delivery
//! resumes within a second or two of Elasticsearch coming back instead of after a backoff that may have
//! grown to a minute.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::backoff::Backoff;
use crate::config::BackoffSettings;

/// How often a host in backoff is probed.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);

#[derive(Debug)]
struct Health {
    /// Not used before this instant.
    down_until: Option<Instant>,
    /// The host's own backoff: hosts fail and come back independently.
    backoff: Backoff,
}

/// One host.
#[derive(Debug)]
pub struct Host {
    /// Base URL (scheme, host, port, path).
    pub url: String,
    health: Mutex<Health>,
    probing: AtomicBool,
}

/// The hosts, round-robin over those that are up.
#[derive(Debug)]
pub struct Hosts {
    hosts: Vec<Arc<Host>>,
    next: AtomicUsize,
}

impl Hosts {
    /// Every host's URL, in the configured order.
    pub fn urls(&self) -> Vec<String> {
        self.hosts.iter().map(|h| h.url.clone()).collect()
    }

    /// All hosts up.
    pub fn new(urls: &[String], backoff: BackoffSettings) -> Hosts {
        Hosts {
            hosts: urls
                .iter()
                .map(|u| {
                    Arc::new(Host {
                        url: u.clone(),
                        health: Mutex::new(Health {
                            down_until: None,
                            backoff: Backoff::from(backoff),
                        }),
                        probing: AtomicBool::new(false),
                    })
                })
                .collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// The next host that is up, or how long until the first one is.
    pub fn pick(&self) -> Result<Arc<Host>, Duration> {
        let now = Instant::now();
        let n = self.hosts.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut soonest = Duration::MAX;
        for i in 0..n {
            let h = &self.hosts[(start + i) % n];
            let health = h.health.lock().unwrap_or_else(|e| e.into_inner());
            match health.down_until {
                Some(t) if t > now => soonest = soonest.min(t - now),
                _ => return Ok(h.clone()),
            }
        }
        Err(soonest)
    }

    /// A request to `host` succeeded: it is up, its backoff starts again from `init`.
    pub fn succeeded(&self, host: &Host) {
        let mut h = host.health.lock().unwrap_or_else(|e| e.into_inner());
        h.down_until = None;
        h.backoff.reset();
    }

    /// A whole request to `host` failed: it is down for its backoff (with jitter), which doubles.
    /// Returns how long, and whether a probe should be started (none is running yet).
    pub fn failed(&self, host: &Host) -> (Duration, bool) {
        let wait = {
            let mut h = host.health.lock().unwrap_or_else(|e| e.into_inner());
            let wait = h.backoff.next();
            h.down_until = Some(Instant::now() + wait);
            wait
        };
        let start_probe = !host.probing.swap(true, Ordering::AcqRel);
        (wait, start_probe)
    }

    /// True while `host` is in backoff.
    pub fn is_down(&self, host: &Host) -> bool {
        let h = host.health.lock().unwrap_or_else(|e| e.into_inner());
        h.down_until.is_some_and(|t| t > Instant::now())
    }

    /// The probe of `host` ended.
    pub fn probe_done(&self, host: &Host) {
        host.probing.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(n: usize) -> Hosts {
        let urls: Vec<String> = (0..n).map(|i| format!("http://es{i}")).collect();
        Hosts::new(
            &urls,
            BackoffSettings {
                init: Duration::from_secs(1),
                max: Duration::from_secs(8),
            },
        )
    }

    #[test]
    fn a_dead_host_is_skipped_while_the_others_take_the_requests() {
        let h = hosts(2);
        let a = h.pick().unwrap();
        let (wait, probe) = h.failed(&a);
        assert!(probe, "the first failure starts a probe");
        assert!(!h.failed(&a).1, "one probe per host");
        assert!(wait >= Duration::from_millis(750) && wait <= Duration::from_millis(1250));
        for _ in 0..4 {
            assert_ne!(h.pick().unwrap().url, a.url);
        }
        let b = h.pick().unwrap();
        h.failed(&b);
        let until = h.pick().unwrap_err();
        assert!(
            until > Duration::ZERO && until <= Duration::from_millis(2500),
            "{until:?}"
        );
        h.succeeded(&a);
        assert_eq!(h.pick().unwrap().url, a.url);
    }

    #[test]
    fn backoff_doubles_to_its_max_with_jitter_and_resets_on_success() {
        let h = hosts(1);
        let a = h.pick().unwrap();
        let waits: Vec<Duration> = (0..6).map(|_| h.failed(&a).0).collect();
        for (w, base) in waits.iter().zip([1u64, 2, 4, 8, 8, 8]) {
            let base = Duration::from_secs(base);
            assert!(
                *w >= base.mul_f64(0.75) && *w <= base.mul_f64(1.25),
                "{w:?} for {base:?}"
            );
        }
        h.succeeded(&a);
        assert!(h.failed(&a).0 <= Duration::from_millis(1250));
    }
}
