// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Readiness waits. [`wait_until`] is the loop (probe, back off, report state changes) over an
//! injected [`Clock`], so tests run it on a fake clock; [`net`] and [`crate::kubectl`] hold the
//! probes.
//!
//! A probe returns `Ok(())` when ready or `Err(reason)`; the reason is what a human would want
//! to see when the wait gives up (ctlptl keeps the last error for the same reason), and a new
//! reason is the "state change" the CLI prints.

pub mod net;

use std::time::{Duration, Instant};

/// First pause between probes; doubled after each miss up to [`MAX_DELAY`]. Short enough that
/// a target coming up right after the first probe is seen almost at once, capped so that a
/// slow target costs at most one probe a second.
pub const FIRST_DELAY: Duration = Duration::from_millis(50);
pub const MAX_DELAY: Duration = Duration::from_secs(1);

/// Time as the wait sees it; the real one sleeps, a test one just advances.
pub trait Clock {
    /// Time since the wait started.
    fn elapsed(&self) -> Duration;
    fn sleep(&self, duration: Duration);
}

/// The wall clock, started at construction.
pub struct SystemClock {
    start: Instant,
}

impl SystemClock {
    pub fn start() -> SystemClock {
        SystemClock {
            start: Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// What the loop reports while waiting. Nothing is reported when the first probe succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress<'a> {
    /// The first probe failed; the wait begins.
    Waiting { reason: &'a str },
    /// A later probe failed for a different reason than the one before.
    Changed { elapsed: Duration, reason: &'a str },
}

/// How a wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub ready: bool,
    pub elapsed: Duration,
    /// The last reason a probe gave for not being ready (`None` when the first probe passed).
    pub last_reason: Option<String>,
    pub attempts: u32,
}

/// Probe until ready or `timeout`. `probe` gets the time left, to bound its own IO.
///
/// The first probe runs at once; after each miss the loop sleeps (never past the deadline) and
/// probes again, so a last probe runs at the deadline itself. `on_progress` hears about the
/// first miss and each change of reason.
pub fn wait_until(
    clock: &dyn Clock,
    timeout: Duration,
    mut probe: impl FnMut(Duration) -> Result<(), String>,
    mut on_progress: impl FnMut(Progress<'_>),
) -> Outcome {
    let mut delay = FIRST_DELAY;
    let mut last_reason: Option<String> = None;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let left = timeout.saturating_sub(clock.elapsed());
        match probe(left) {
            Ok(()) => {
                return Outcome {
                    ready: true,
                    elapsed: clock.elapsed(),
                    last_reason,
                    attempts,
                };
            }
            Err(reason) => {
                if last_reason.as_deref() != Some(reason.as_str()) {
                    match last_reason {
                        None => on_progress(Progress::Waiting { reason: &reason }),
                        Some(_) => on_progress(Progress::Changed {
                            elapsed: clock.elapsed(),
                            reason: &reason,
                        }),
                    }
                    last_reason = Some(reason);
                }
            }
        }
        let elapsed = clock.elapsed();
        if elapsed >= timeout {
            return Outcome {
                ready: false,
                elapsed,
                last_reason,
                attempts,
            };
        }
        clock.sleep(delay.min(timeout - elapsed));
        delay = (delay * 2).min(MAX_DELAY);
    }
}

/// [`wait_until`] on the wall clock, telling a human on stderr: nothing when ready at once, else
/// `waiting up to 2m for <what>… (<reason>)`, a line per change of reason, and `<what> ready
/// after 3.2s`. The caller turns a timeout into [`timed_out`].
pub fn announced(
    what: &str,
    timeout: Duration,
    probe: impl FnMut(Duration) -> Result<(), String>,
) -> Outcome {
    let shown = format_timeout(timeout);
    let outcome = wait_until(
        &SystemClock::start(),
        timeout,
        probe,
        |progress| match progress {
            Progress::Waiting { reason } => {
                eprintln!("waiting up to {shown} for {what}… ({reason})")
            }
            Progress::Changed { elapsed, reason } => eprintln!(
                "still waiting for {what} after {}: {reason}",
                format_elapsed(elapsed)
            ),
        },
    );
    if outcome.ready && outcome.attempts > 1 {
        eprintln!("{what} ready after {}", format_elapsed(outcome.elapsed));
    }
    outcome
}

/// The error of a wait that ran out of time (exit code 3), with the last reason.
pub fn timed_out(what: &str, timeout: Duration, outcome: &Outcome) -> anyhow::Error {
    crate::exit::Coded::error(
        crate::exit::TIMEOUT,
        format!(
            "timed out after {} waiting for {what}: {}",
            format_timeout(timeout),
            outcome.last_reason.as_deref().unwrap_or("not ready")
        ),
    )
}

/// [`announced`], as a result.
pub fn wait_for(
    what: &str,
    timeout: Duration,
    probe: impl FnMut(Duration) -> Result<(), String>,
) -> anyhow::Result<()> {
    let outcome = announced(what, timeout, probe);
    if outcome.ready {
        Ok(())
    } else {
        Err(timed_out(what, timeout, &outcome))
    }
}

/// `2m`, `1m 30s`, `500ms`: how a timeout is shown to humans.
pub fn format_timeout(timeout: Duration) -> String {
    humantime::format_duration(timeout).to_string()
}

/// `3.2s`: how elapsed time is shown to humans.
pub fn format_elapsed(elapsed: Duration) -> String {
    format!("{:.1}s", elapsed.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::{Cell, RefCell};

    /// Time that only moves when the loop sleeps (or a probe says it took a while).
    #[derive(Default)]
    struct FakeClock {
        now: Cell<Duration>,
        sleeps: RefCell<Vec<Duration>>,
    }

    impl FakeClock {
        fn advance(&self, by: Duration) {
            self.now.set(self.now.get() + by);
        }
    }

    impl Clock for FakeClock {
        fn elapsed(&self) -> Duration {
            self.now.get()
        }
        fn sleep(&self, duration: Duration) {
            self.sleeps.borrow_mut().push(duration);
            self.advance(duration);
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn ready_at_first_probe_reports_nothing() {
        let clock = FakeClock::default();
        let mut events = Vec::new();
        let outcome = wait_until(
            &clock,
            ms(1000),
            |_| Ok(()),
            |p| events.push(format!("{p:?}")),
        );
        assert_eq!(
            outcome,
            Outcome {
                ready: true,
                elapsed: Duration::ZERO,
                last_reason: None,
                attempts: 1
            }
        );
        assert!(events.is_empty());
        assert!(clock.sleeps.borrow().is_empty());
    }

    #[test]
    fn reports_first_miss_and_each_change_then_ready() {
        let clock = FakeClock::default();
        let script = ["refused", "refused", "HTTP 503", "HTTP 503", "ok"];
        let mut calls = 0;
        let mut events = Vec::new();
        let outcome = wait_until(
            &clock,
            Duration::from_secs(60),
            |_| {
                let answer = script[calls];
                calls += 1;
                if answer == "ok" {
                    Ok(())
                } else {
                    Err(answer.to_owned())
                }
            },
            |p| match p {
                Progress::Waiting { reason } => events.push(format!("waiting: {reason}")),
                Progress::Changed { elapsed, reason } => {
                    events.push(format!("{}ms: {reason}", elapsed.as_millis()))
                }
            },
        );
        assert!(outcome.ready);
        assert_eq!(outcome.attempts, 5);
        assert_eq!(outcome.last_reason.as_deref(), Some("HTTP 503"));
        assert_eq!(events, ["waiting: refused", "150ms: HTTP 503"]);
        assert_eq!(*clock.sleeps.borrow(), [ms(50), ms(100), ms(200), ms(400)]);
        assert_eq!(outcome.elapsed, ms(750));
    }

    #[test]
    fn backoff_doubles_and_caps_at_one_second() {
        let clock = FakeClock::default();
        let outcome = wait_until(&clock, Duration::from_secs(5), |_| Err("no".into()), |_| {});
        assert!(!outcome.ready);
        let sleeps = clock.sleeps.borrow();
        assert_eq!(
            sleeps[..6],
            [ms(50), ms(100), ms(200), ms(400), ms(800), ms(1000)]
        );
        assert!(sleeps.iter().all(|s| *s <= MAX_DELAY));
    }

    #[test]
    fn timeout_probes_once_more_at_the_deadline_and_keeps_last_reason() {
        let clock = FakeClock::default();
        let mut lefts = Vec::new();
        let outcome = wait_until(
            &clock,
            ms(120),
            |left| {
                lefts.push(left);
                Err(format!("attempt {}", lefts.len()))
            },
            |_| {},
        );
        assert!(!outcome.ready);
        assert_eq!(outcome.elapsed, ms(120));
        assert_eq!(
            lefts,
            [ms(120), ms(70), ms(0)],
            "the last sleep is cut to the deadline"
        );
        assert_eq!(outcome.last_reason.as_deref(), Some("attempt 3"));
    }

    #[test]
    fn slow_probes_count_against_the_timeout() {
        let clock = FakeClock::default();
        let outcome = wait_until(
            &clock,
            Duration::from_secs(2),
            |_| {
                clock.advance(Duration::from_secs(5));
                Err("hung".into())
            },
            |_| {},
        );
        assert!(!outcome.ready);
        assert_eq!(outcome.attempts, 1);
        assert!(clock.sleeps.borrow().is_empty());
    }

    #[test]
    fn zero_timeout_probes_exactly_once() {
        let clock = FakeClock::default();
        let outcome = wait_until(&clock, Duration::ZERO, |_| Err("down".into()), |_| {});
        assert!(!outcome.ready);
        assert_eq!(outcome.attempts, 1);
    }

    #[test]
    fn durations_render_for_humans() {
        assert_eq!(format_timeout(Duration::from_secs(120)), "2m");
        assert_eq!(format_timeout(Duration::from_secs(90)), "1m 30s");
        assert_eq!(format_elapsed(ms(3240)), "3.2s");
    }
}
