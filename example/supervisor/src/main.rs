// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Stand-in for OpenShell's sandbox supervisor (crate `openshell-sandbox`): it runs inside
//! every sandbox pod, says which build it is, and heartbeats until told to stop. Small on
//! purpose (std and libc only) so the image is one static binary.

mod install;
mod signals;
mod version;

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
Usage: openshell-sandbox [install DIR]

Without arguments: print the version, then a heartbeat line every SUPERVISOR_HEARTBEAT_SECS
seconds until SIGTERM or SIGINT. `install DIR` copies this binary to DIR/openshell-sandbox
(what the sandbox pod's init container runs).

Options:
  -h, --help     print this help
  -V, --version  print name, version, git sha and build time

Environment:
  SUPERVISOR_HEARTBEAT_SECS  seconds between heartbeats (default 5)
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        [] => heartbeat(),
        ["-V" | "--version"] => {
            println!("{}", version::line());
            Ok(())
        }
        ["-h" | "--help"] => {
            print!("{USAGE}");
            Ok(())
        }
        ["install", dir] => {
            install::install(Path::new(install::SELF_EXE), Path::new(dir), version::NAME)
                .map(|path| println!("installed {}", path.display()))
        }
        _ => {
            eprintln!("error: unexpected arguments {args:?}; see --help");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn heartbeat() -> io::Result<()> {
    let interval = match interval(std::env::var("SUPERVISOR_HEARTBEAT_SECS").ok().as_deref()) {
        Ok(interval) => interval,
        Err(msg) => {
            eprintln!("error: {msg}");
            std::process::exit(2);
        }
    };
    let signals = signals::Signals::block()?;
    run(&mut io::stdout(), interval, |timeout| signals.wait(timeout))
}

/// `SUPERVISOR_HEARTBEAT_SECS`: a whole number of seconds, at least 1; unset means 5.
fn interval(value: Option<&str>) -> Result<Duration, String> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(Duration::from_secs(5));
    };
    match value.parse::<u64>() {
        Ok(secs) if secs > 0 => Ok(Duration::from_secs(secs)),
        _ => Err(format!(
            "SUPERVISOR_HEARTBEAT_SECS={value}: not a whole number of seconds above 0; \
             unset it for the default of 5"
        )),
    }
}

/// Print the version, then one heartbeat per `interval`, until `wait` returns a signal.
/// `wait` is the injected clock: tests pass a script of results.
fn run<W, F>(out: &mut W, interval: Duration, mut wait: F) -> io::Result<()>
where
    W: Write,
    F: FnMut(Duration) -> io::Result<Option<i32>>,
{
    writeln!(out, "{}", version::line())?;
    out.flush()?;
    let mut beats: u64 = 0;
    loop {
        if let Some(sig) = wait(interval)? {
            writeln!(out, "received {}, exiting", signals::name(sig))?;
            return out.flush();
        }
        beats += 1;
        writeln!(out, "heartbeat {beats}")?;
        out.flush()?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_defaults_to_five_seconds() {
        assert_eq!(interval(None), Ok(Duration::from_secs(5)));
        assert_eq!(interval(Some("")), Ok(Duration::from_secs(5)));
        assert_eq!(interval(Some("2")), Ok(Duration::from_secs(2)));
    }

    #[test]
    fn interval_rejects_zero_and_garbage() {
        for bad in ["0", "-1", "1.5", "soon"] {
            let err = interval(Some(bad)).unwrap_err();
            assert_eq!(
                err,
                format!(
                    "SUPERVISOR_HEARTBEAT_SECS={bad}: not a whole number of seconds above 0; \
                     unset it for the default of 5"
                )
            );
        }
    }

    #[test]
    fn run_prints_version_then_heartbeats_until_a_signal() {
        let mut script = vec![Some(libc::SIGTERM), None, None].into_iter().rev();
        let mut waited = Vec::new();
        let mut out = Vec::new();
        run(&mut out, Duration::from_secs(7), |timeout| {
            waited.push(timeout);
            Ok(script.next().unwrap())
        })
        .unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], version::line());
        assert_eq!(
            &lines[1..],
            ["heartbeat 1", "heartbeat 2", "received SIGTERM, exiting"]
        );
        assert_eq!(waited, [Duration::from_secs(7); 3]);
    }

    #[test]
    fn run_stops_on_sigint_before_any_heartbeat() {
        let mut out = Vec::new();
        run(&mut out, Duration::from_secs(5), |_| Ok(Some(libc::SIGINT))).unwrap();
        let out = String::from_utf8(out).unwrap();
        assert!(out.ends_with("\nreceived SIGINT, exiting\n"), "{out}");
        assert!(!out.contains("heartbeat"));
    }

    #[test]
    fn version_line_names_the_build() {
        let line = version::line();
        assert!(line.starts_with("openshell-sandbox 0.1.0 (git "), "{line}");
        assert!(line.contains(env!("BUILD_GIT_SHA")));
        assert!(line.ends_with(&format!("built {})", env!("BUILD_TIME"))));
    }
}
