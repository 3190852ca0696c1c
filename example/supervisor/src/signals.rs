// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! SIGTERM/SIGINT as something to wait for, not an interruption.
//!
//! In a `FROM scratch` pod the supervisor is PID 1, and the kernel drops signals sent to a
//! namespace's init whose disposition is the default: an unprepared PID 1 ignores the
//! kubelet's SIGTERM and is killed only after the grace period. Blocking the two signals
//! keeps them pending instead (blocked signals are never dropped), and `sigtimedwait`
//! takes one as it arrives. The same call is the heartbeat timer, so there is no race
//! between checking a flag and going to sleep, and no async-signal-safety to get right.

use std::io;
use std::mem::MaybeUninit;
use std::time::Duration;

pub struct Signals {
    set: libc::sigset_t,
}

impl Signals {
    /// Block SIGTERM and SIGINT for the calling thread. Call it before starting threads so
    /// that none of them can take the signal instead.
    pub fn block() -> io::Result<Self> {
        // SAFETY: sigemptyset initialises the set before it is read; the other calls only
        // read it. Every return value is checked.
        unsafe {
            let mut set = MaybeUninit::<libc::sigset_t>::uninit();
            if libc::sigemptyset(set.as_mut_ptr()) != 0 {
                return Err(io::Error::last_os_error());
            }
            let mut set = set.assume_init();
            for sig in [libc::SIGTERM, libc::SIGINT] {
                if libc::sigaddset(&mut set, sig) != 0 {
                    return Err(io::Error::last_os_error());
                }
            }
            let rc = libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            Ok(Self { set })
        }
    }

    /// Wait up to `timeout`; `Some(signal number)` when SIGTERM or SIGINT arrived first.
    pub fn wait(&self, timeout: Duration) -> io::Result<Option<i32>> {
        let ts = libc::timespec {
            tv_sec: timeout.as_secs().try_into().unwrap_or(libc::time_t::MAX),
            tv_nsec: timeout.subsec_nanos().into(),
        };
        loop {
            // SAFETY: `set` was initialised in `block`; `ts` lives across the call; a null
            // siginfo pointer is allowed.
            let sig = unsafe { libc::sigtimedwait(&self.set, std::ptr::null_mut(), &ts) };
            if sig >= 0 {
                return Ok(Some(sig));
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EAGAIN) => return Ok(None),
                // Another signal's handler ran; none are installed, but stay correct.
                Some(libc::EINTR) => continue,
                _ => return Err(err),
            }
        }
    }
}

pub fn name(sig: i32) -> &'static str {
    match sig {
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        _ => "signal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_signal_is_taken_and_a_quiet_wait_times_out() {
        // pthread_kill targets this test's own thread, where the signals are blocked.
        let signals = Signals::block().unwrap();
        assert_eq!(signals.wait(Duration::from_millis(1)).unwrap(), None);
        // SAFETY: sending a blocked signal to the current thread only makes it pending.
        let rc = unsafe { libc::pthread_kill(libc::pthread_self(), libc::SIGTERM) };
        assert_eq!(rc, 0);
        assert_eq!(
            signals.wait(Duration::from_secs(60)).unwrap(),
            Some(libc::SIGTERM)
        );
        assert_eq!(name(libc::SIGTERM), "SIGTERM");
    }
}
