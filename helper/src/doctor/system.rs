// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The real host behind [`System`].

use std::ffi::CString;
use std::io;
use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{System, Tool};
use crate::engine::{self, ResolveError, Resolved};
use crate::env::Env;

/// A version command that takes longer than this is treated as broken rather than waited on.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

pub struct HostSystem;

impl System for HostSystem {
    fn engine(&self, env: &Env) -> Result<Resolved, ResolveError> {
        engine::resolve(env).result
    }

    fn rootless(&self, engine: &Resolved) -> Result<bool, String> {
        engine::rootless(&engine.endpoint())
    }

    fn tool(&self, env: &Env, name: &str, args: &[&str]) -> Tool {
        let cwd = std::env::current_dir().unwrap_or_else(|_| "/".into());
        let Ok(path) = which::which_in(name, env.path.as_ref(), cwd) else {
            return Tool::Missing;
        };
        let version = run_version(&path, args);
        Tool::Found { path, version }
    }

    fn bind(&self, address: &str, port: u16) -> io::Result<()> {
        TcpListener::bind((address, port)).map(drop)
    }

    fn mode(&self, path: &Path) -> Option<u32> {
        std::fs::metadata(path).ok().map(|m| m.permissions().mode())
    }

    fn read(&self, path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }

    fn free_bytes(&self, path: &Path) -> io::Result<u64> {
        let c_path = CString::new(path.as_os_str().as_bytes())
            .map_err(|err| io::Error::new(io::ErrorKind::InvalidInput, err))?;
        // SAFETY: statvfs only writes into the zeroed struct we own, and c_path is a valid
        // NUL-terminated string for the duration of the call.
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // f_bavail: blocks free to unprivileged users (root's reserve excluded).
        #[allow(clippy::unnecessary_cast)] // the field types differ between Linux and macOS
        Ok(stat.f_bavail as u64 * stat.f_frsize as u64)
    }

    fn read_file(&self, path: &Path) -> io::Result<String> {
        std::fs::read_to_string(path)
    }

    fn kind_nodes(&self, engine: &Resolved, cluster: &str) -> Result<Vec<String>, String> {
        crate::provider::live::running_kind_nodes(engine, cluster).map_err(|err| format!("{err:#}"))
    }

    fn exec(
        &self,
        engine: &Resolved,
        container: &str,
        argv: &[String],
    ) -> Result<crate::provider::checks::ExecOutput, String> {
        crate::provider::checks::exec(&engine.endpoint(), container, argv, EXEC_LIMIT)
            .map_err(|err| format!("{err:#}"))
    }

    fn registry_answers(&self, url: &str) -> Result<(), String> {
        crate::wait::net::RegistryProbe::new(url)
            .map_err(|err| format!("{err:#}"))?
            .probe(EXEC_LIMIT)
    }
}

/// A probe run in a node, or a request to the registry, that takes longer is a failure.
const EXEC_LIMIT: Duration = Duration::from_secs(10);

/// The first line a tool prints for its version, or why it could not say.
fn run_version(path: &Path, args: &[&str]) -> Result<String, String> {
    let mut child = Command::new(path)
        .args(args)
        // skaffold would otherwise look for a newer release over the network.
        .env("SKAFFOLD_UPDATE_CHECK", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| err.to_string())?;
    let started = Instant::now();
    loop {
        match child.try_wait().map_err(|err| err.to_string())? {
            Some(_) => break,
            None if started.elapsed() > VERSION_TIMEOUT => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("no answer within {}s", VERSION_TIMEOUT.as_secs()));
            }
            None => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    let out = child.wait_with_output().map_err(|err| err.to_string())?;
    let first_line = |bytes: &[u8]| {
        String::from_utf8_lossy(bytes)
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(String::from)
    };
    if out.status.success() {
        first_line(&out.stdout)
            .or_else(|| first_line(&out.stderr))
            .ok_or_else(|| "printed no version".to_string())
    } else {
        let why = first_line(&out.stderr).unwrap_or_default();
        Err(format!("{}: {why}", out.status)
            .trim_end_matches(": ")
            .to_string())
    }
}
