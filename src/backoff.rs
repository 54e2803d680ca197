//! The wait between two tries, one type for every retry loop: a first and a longest wait in (an output's
//! `backoff.init` and `backoff.max`, or a loop's own constants), the next wait out, each time a try
//! failed. The loop sleeps it (through [`Shutdown`](crate::shutdown::Shutdown), so how a stop or an abort
//! cuts the wait short stays the loop's choice) and calls [`Backoff::reset`] when what it counts as
//! success happens.
//!
//! What must stay true:
//! - the waits double from `init` up to `max`, and start again from `init` after a reset;
//! - each wait is its step ± 25 % (jitter), never above `max`, and never zero unless `init` is: shippers
//!   that lost the same Elasticsearch, Logstash or SQS at the same moment must not all come back at the
//!   same instant, again and again;
//! - a wait of a millisecond or more is a whole number of milliseconds, so a log line that says
//!   "retrying in …" reads as the wait it is.
//!
//! The jitter needs spread, not secrecy: a SplitMix64 generator (a few lines, no dependency; `rand` is
//! only a dev-dependency of the crate) seeded from std's `RandomState`, whose keys come from the
//! operating system, so two processes started from one image at one moment still draw apart. Tests seed
//! it ([`Backoff::with_seed`]) or assert the bounds.

use std::time::Duration;

use crate::config::BackoffSettings;

/// Doubling waits with jitter; [`next`](Backoff::next) after a failure, [`reset`](Backoff::reset) after a
/// success.
#[derive(Clone, Debug)]
pub struct Backoff {
    init: Duration,
    max: Duration,
    /// The step the next wait is drawn around.
    step: Duration,
    /// SplitMix64 state.
    rng: u64,
}

impl Backoff {
    /// Waits from `init` doubling up to `max` (a `max` below `init` is taken as `init`), seeded apart from
    /// every other backoff.
    pub fn new(init: Duration, max: Duration) -> Backoff {
        use std::hash::{BuildHasher, Hasher};
        // Every `RandomState::new()` has keys of its own, so an empty hash is a fresh seed each time.
        let seed = std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish();
        Backoff::with_seed(init, max, seed)
    }

    /// As [`new`](Backoff::new), with the jitter drawn from `seed`: the same seed gives the same waits.
    pub fn with_seed(init: Duration, max: Duration, seed: u64) -> Backoff {
        Backoff {
            init,
            max: max.max(init),
            step: init,
            rng: seed,
        }
    }

    /// A try failed: how long to wait before the next one. The step behind it doubles (up to `max`).
    // Not an `Iterator`: it never ends, so its `Some` would only be unwrapped at every call.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Duration {
        let step = self.step;
        self.step = step.saturating_mul(2).min(self.max);
        // `step - step / 4` is at least one nanosecond for any step that is not zero.
        let lo = step - step / 4;
        let hi = step.saturating_add(step / 4).min(self.max);
        let span = u64::try_from((hi - lo).as_nanos()).unwrap_or(u64::MAX);
        let offset = match span.checked_add(1) {
            Some(n) => self.random() % n,
            None => self.random(),
        };
        let wait = lo.saturating_add(Duration::from_nanos(offset));
        // To the millisecond (a log line's "1.234s", not "1.234567891s"), but never outside the bounds:
        // below a millisecond the clamp keeps the wait from rounding to zero.
        let millis = (wait.as_nanos() + 500_000) / 1_000_000;
        Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX)).clamp(lo, hi)
    }

    /// What the loop counts as success happened: the next wait is drawn around `init` again.
    pub fn reset(&mut self) {
        self.step = self.init;
    }

    /// SplitMix64: every seed, zero included, gives a full-period sequence.
    fn random(&mut self) -> u64 {
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

impl From<BackoffSettings> for Backoff {
    /// An output's `backoff.init` and `backoff.max`.
    fn from(s: BackoffSettings) -> Backoff {
        Backoff::new(s.init, s.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The bounds of a wait drawn around `step` under `max`.
    fn within(w: Duration, step: Duration, max: Duration) -> bool {
        w >= step - step / 4 && w <= (step + step / 4).min(max)
    }

    #[test]
    fn waits_double_up_to_max_within_their_jitter() {
        for seed in 0..200 {
            let mut b = Backoff::with_seed(ms(1000), ms(8000), seed);
            for step in [1000, 2000, 4000, 8000, 8000, 8000] {
                let w = b.next();
                assert!(
                    within(w, ms(step), ms(8000)),
                    "seed {seed}: {w:?} for {step}ms"
                );
            }
        }
    }

    #[test]
    fn a_max_between_two_steps_is_the_last_step() {
        let mut b = Backoff::with_seed(ms(100), ms(300), 7);
        for step in [100, 200, 300, 300] {
            assert!(within(b.next(), ms(step), ms(300)));
        }
    }

    #[test]
    fn a_max_below_init_is_init() {
        let mut b = Backoff::with_seed(ms(1000), ms(10), 7);
        for _ in 0..5 {
            assert!(within(b.next(), ms(1000), ms(1000)));
        }
    }

    #[test]
    fn reset_starts_again_from_init() {
        let mut b = Backoff::with_seed(ms(1000), ms(60_000), 3);
        for _ in 0..10 {
            b.next();
        }
        assert!(b.next() >= ms(45_000));
        b.reset();
        assert!(within(b.next(), ms(1000), ms(60_000)));
        assert!(within(b.next(), ms(2000), ms(60_000)));
    }

    #[test]
    fn the_jitter_spreads_over_its_whole_range() {
        let mut b = Backoff::with_seed(ms(1000), ms(10_000), 11);
        let waits: Vec<Duration> = (0..2000)
            .map(|_| {
                b.reset();
                b.next()
            })
            .collect();
        assert!(waits.iter().all(|w| within(*w, ms(1000), ms(10_000))));
        let (low, high) = (
            waits.iter().min().copied().unwrap(),
            waits.iter().max().copied().unwrap(),
        );
        assert!(low < ms(800) && high > ms(1200), "{low:?}..{high:?}");
        let mut distinct = waits.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() > 300, "{} distinct waits", distinct.len());
    }

    #[test]
    fn the_same_seed_gives_the_same_waits_and_fresh_backoffs_draw_apart() {
        let draw = |mut b: Backoff| (0..16).map(|_| b.next()).collect::<Vec<_>>();
        assert_eq!(
            draw(Backoff::with_seed(ms(1000), ms(60_000), 42)),
            draw(Backoff::with_seed(ms(1000), ms(60_000), 42))
        );
        // Sixteen draws of hundreds of values each: equal only if the seeds were.
        assert_ne!(
            draw(Backoff::new(ms(1000), ms(60_000))),
            draw(Backoff::new(ms(1000), ms(60_000)))
        );
    }

    #[test]
    fn a_wait_is_never_zero_unless_init_is() {
        for seed in 0..100 {
            let mut b = Backoff::with_seed(Duration::from_nanos(1), Duration::from_nanos(3), seed);
            assert!((0..5).all(|_| b.next() > Duration::ZERO));
            let mut b = Backoff::with_seed(Duration::from_micros(300), ms(1), seed);
            assert!((0..5).all(|_| b.next() > Duration::ZERO));
        }
        let mut zero = Backoff::with_seed(Duration::ZERO, ms(1000), 5);
        assert!((0..5).all(|_| zero.next() == Duration::ZERO));
    }

    #[test]
    fn waits_of_a_millisecond_or_more_are_whole_milliseconds() {
        let mut b = Backoff::with_seed(ms(100), ms(10_000), 9);
        for _ in 0..50 {
            assert_eq!(b.next().subsec_nanos() % 1_000_000, 0);
        }
    }

    #[test]
    fn huge_settings_saturate_instead_of_overflowing() {
        let mut b = Backoff::with_seed(Duration::MAX / 2, Duration::MAX, 1);
        for _ in 0..4 {
            assert!(b.next() >= Duration::MAX / 2 - Duration::MAX / 8);
        }
    }

    #[test]
    fn settings_give_their_init_and_max() {
        let mut b = Backoff::from(BackoffSettings {
            init: ms(500),
            max: ms(1000),
        });
        assert!(within(b.next(), ms(500), ms(1000)));
        assert!(within(b.next(), ms(1000), ms(1000)));
        assert!(within(b.next(), ms(1000), ms(1000)));
    }
}
