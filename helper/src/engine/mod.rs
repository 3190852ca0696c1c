// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Container engine resolution: which Docker-API endpoint the kit talks to, and whether it is
//! Docker or Podman.
//!
//! Three steps, with IO only at the ends. [`candidates`] lists where an engine may live, in
//! order, from an [`Env`] snapshot and a [`FileProbe`]. [`choose`] asks a [`Prober`] about each
//! in turn and takes the first whose API answers (as the engine `K8S_DEV_ENGINE` asks for, if
//! set). [`resolve`] wires both to the real filesystem, `podman machine inspect` and the
//! engines' APIs. The contract other modules rely on: [`resolve_from_process`] returns the
//! chosen engine after its API answered, or an error whose message names the fix.

mod candidates;
mod choose;
#[cfg(test)]
mod fakes;
mod probe;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;

use crate::env::{Env, Os};

pub use candidates::{
    Candidate, DOCKER_HOST_SOURCE, Endpoint, FileProbe, StdFs, Unusable, candidates,
    context_meta_path, restriction,
};
pub use choose::{Chosen, Probe, Prober, Reject, Rejections, Step, Verdict, choose, engine_of};
pub use probe::{ApiProber, PROBE_TIMEOUT, client, podman_machine_socket, rootless};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Docker,
    Podman,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Engine {
    type Err = ();

    fn from_str(s: &str) -> Result<Engine, ()> {
        match s.trim().to_ascii_lowercase().as_str() {
            "docker" => Ok(Engine::Docker),
            "podman" => Ok(Engine::Podman),
            _ => Err(()),
        }
    }
}

/// The engine chosen, as printed by `k8s-dev-helper engine --json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved {
    pub engine: Engine,
    /// `unix:///…` or `tcp://…`, usable as `DOCKER_HOST`.
    pub host: String,
    /// Which rule found it, e.g. `DOCKER_HOST`, `docker-context:colima`, `xdg-runtime-dir`.
    pub source: String,
    /// The server version the API reported.
    pub version: String,
}

impl Resolved {
    /// The socket path when the host is a unix socket.
    pub fn socket_path(&self) -> Option<&Path> {
        self.host.strip_prefix("unix://").map(Path::new)
    }

    /// The endpoint to reach it again, e.g. with [`client`].
    pub fn endpoint(&self) -> Endpoint {
        match self.socket_path() {
            Some(path) => Endpoint::Unix {
                path: path.to_path_buf(),
                exists: true,
            },
            None => Endpoint::Tcp {
                addr: self
                    .host
                    .trim_start_matches("tcp://")
                    .trim_end_matches('/')
                    .to_string(),
            },
        }
    }
}

/// Why no engine could be used, split so that `doctor` can show the fix on its own line.
/// Displays as one line: `<problem>; <fix>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolveError {
    pub problem: String,
    pub fix: String,
}

impl fmt::Display for ResolveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}; {}", self.problem, self.fix)
    }
}

impl std::error::Error for ResolveError {}

/// A resolution with its trail: every candidate and what became of it, for `--explain`.
#[derive(Debug)]
pub struct Resolution {
    pub steps: Vec<Step>,
    pub result: Result<Resolved, ResolveError>,
}

/// Resolve against the real machine: the filesystem, `podman machine inspect` (macOS) and
/// each candidate's API.
pub fn resolve(env: &Env) -> Resolution {
    let machine_socket = podman_machine_socket(env);
    let list = match candidates(env, &StdFs, machine_socket) {
        Ok(list) => list,
        Err(err) => {
            return Resolution {
                steps: Vec::new(),
                result: Err(err),
            };
        }
    };
    match choose(list, &ApiProber::new()) {
        Ok(chosen) => Resolution {
            steps: chosen.steps,
            result: Ok(chosen.resolved),
        },
        Err(rejections) => {
            let err = rejections.error(env.os);
            Resolution {
                steps: rejections.steps,
                result: Err(err),
            }
        }
    }
}

/// Resolve the engine from the process environment, pinging each candidate. Prints nothing;
/// callers may call it in a retry loop.
pub fn resolve_from_process() -> anyhow::Result<Resolved> {
    resolve(&Env::from_process())
        .result
        .map_err(anyhow::Error::new)
}

/// The value for `DOCKER_SOCK`: the path k3d bind-mounts into its tools container, as the
/// *daemon* sees it. On Linux that is the socket itself with symlinks resolved (`real`), since
/// a rootless Podman socket reached through a link must be mounted as the real file (k3d-io/k3d
/// #1052, #1312). On macOS every engine runs in a VM and exposes `/var/run/docker.sock` inside
/// it: Docker Desktop, Colima, OrbStack and Rancher Desktop do, and Podman machines link
/// `/run/docker.sock` to their Podman socket (podman `pkg/machine/ignition`,
/// `GetPodmanDockerTmpConfig`); the host-side path does not exist in the VM.
pub fn docker_sock(os: Os, socket: &Path, real: Option<PathBuf>) -> PathBuf {
    match os {
        Os::MacOs => PathBuf::from("/var/run/docker.sock"),
        Os::Linux | Os::Other => real.unwrap_or_else(|| socket.to_path_buf()),
    }
}

/// `sh`-quote a value: bare when it only has characters no shell treats specially, else in
/// single quotes with each `'` written as `'\''`.
pub fn shell_quote(value: &str) -> String {
    let plain = !value.is_empty()
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:@%+=,".contains(&b));
    if plain {
        value.to_string()
    } else {
        format!("'{}'", value.replace('\'', r"'\''"))
    }
}

/// The `sh`-evalable form of a resolution: `DOCKER_HOST`, `K8S_DEV_ENGINE` and, for a unix
/// socket, `DOCKER_SOCK` (see [`docker_sock`]).
pub fn shell_exports(resolved: &Resolved, docker_sock: Option<&Path>) -> String {
    let mut out = format!(
        "export DOCKER_HOST={}\nexport K8S_DEV_ENGINE={}\n",
        shell_quote(&resolved.host),
        resolved.engine
    );
    if let Some(sock) = docker_sock {
        out.push_str(&format!(
            "export DOCKER_SOCK={}\n",
            shell_quote(&sock.to_string_lossy())
        ));
    }
    out
}

/// The `--explain` listing: a heading, a blank line and one `  source: host: verdict` line per
/// candidate, in the order they were considered.
pub fn explain(steps: &[Step], env: &Env) -> String {
    let mut out = String::from("Engine candidates");
    match (&env.docker_host, &env.engine) {
        (Some(_), _) => out.push_str(" (DOCKER_HOST is set: nothing else is tried)"),
        (None, Some(engine)) => out.push_str(&format!(
            " (K8S_DEV_ENGINE={engine}: its rules first, any other answer rejected)"
        )),
        (None, None) => {}
    }
    out.push_str("\n\n");
    if steps.is_empty() {
        out.push_str("  (none: the settings were rejected before any search)\n");
    }
    for step in steps {
        let verdict = match &step.verdict {
            Verdict::Chosen { engine, version } => format!("chosen, {engine} {version}"),
            Verdict::Rejected(reject) => format!("rejected, {reject}"),
            Verdict::NotTried => "not tried, an earlier candidate was chosen".to_string(),
        };
        out.push_str(&format!(
            "  {}: {}: {verdict}\n",
            step.candidate.source, step.candidate.host
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolved(host: &str) -> Resolved {
        Resolved {
            engine: Engine::Podman,
            host: host.to_string(),
            source: "xdg-runtime-dir".to_string(),
            version: "4.3.1".to_string(),
        }
    }

    #[test]
    fn engine_parses_valid_names_only() {
        assert_eq!("docker".parse(), Ok(Engine::Docker));
        assert_eq!(" Podman ".parse(), Ok(Engine::Podman));
        assert_eq!("containerd".parse::<Engine>(), Err(()));
    }

    #[test]
    fn shell_quote_leaves_plain_values_bare() {
        assert_eq!(
            shell_quote("unix:///run/user/1000/podman/podman.sock"),
            "unix:///run/user/1000/podman/podman.sock"
        );
    }

    #[test]
    fn shell_quote_quotes_spaces_dollars_and_quotes() {
        assert_eq!(
            shell_quote("/Users/a b/$x/it's"),
            r"'/Users/a b/$x/it'\''s'"
        );
        assert_eq!(shell_quote(""), "''");
    }

    #[test]
    fn shell_exports_unix_socket_sets_docker_sock() {
        let r = resolved("unix:///tmp/x y/podman.sock");
        let out = shell_exports(&r, Some(Path::new("/tmp/x y/podman.sock")));
        assert_eq!(
            out,
            "export DOCKER_HOST='unix:///tmp/x y/podman.sock'\n\
             export K8S_DEV_ENGINE=podman\n\
             export DOCKER_SOCK='/tmp/x y/podman.sock'\n"
        );
    }

    #[test]
    fn shell_exports_tcp_has_no_docker_sock() {
        let out = shell_exports(&resolved("tcp://127.0.0.1:2375"), None);
        assert_eq!(
            out,
            "export DOCKER_HOST=tcp://127.0.0.1:2375\nexport K8S_DEV_ENGINE=podman\n"
        );
    }

    #[test]
    fn socket_path_only_for_unix_hosts() {
        assert_eq!(
            resolved("unix:///a/b.sock").socket_path(),
            Some(Path::new("/a/b.sock"))
        );
        assert_eq!(resolved("tcp://h:1").socket_path(), None);
    }

    #[test]
    fn docker_sock_linux_is_the_real_socket() {
        let sock = docker_sock(
            Os::Linux,
            Path::new("/run/user/1000/podman/podman.sock"),
            Some(PathBuf::from("/real/podman.sock")),
        );
        assert_eq!(sock, Path::new("/real/podman.sock"));
        let unresolved = docker_sock(Os::Linux, Path::new("/a.sock"), None);
        assert_eq!(unresolved, Path::new("/a.sock"));
    }

    #[test]
    fn docker_sock_macos_is_the_path_inside_the_vm() {
        let sock = docker_sock(
            Os::MacOs,
            Path::new("/Users/me/.colima/default/docker.sock"),
            None,
        );
        assert_eq!(sock, Path::new("/var/run/docker.sock"));
    }

    #[test]
    fn resolve_error_is_one_line_problem_then_fix() {
        let err = ResolveError {
            problem: "no container engine answered".into(),
            fix: "start one".into(),
        };
        assert_eq!(err.to_string(), "no container engine answered; start one");
    }
}
