// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Pick the first candidate whose API answers, and say why every other one was passed over.
//! Pure: the engines are reached through a [`Prober`].

use std::fmt;
use std::path::PathBuf;

use super::candidates::{Candidate, DOCKER_HOST_SOURCE, Endpoint, Unusable};
use super::{Engine, ResolveError, Resolved};
use crate::env::Os;

/// What an engine's API said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// `Version` from `GET /version`.
    pub version: String,
    /// `Components[].Name` from `GET /version`.
    pub components: Vec<String>,
    /// The `Libpod-Api-Version` response header, which only Podman sends.
    pub libpod_api_version: Option<String>,
}

/// Asks an endpoint's API who it is. The error is a short reason, e.g. `stale socket:
/// connection refused`.
pub trait Prober {
    fn probe(&self, endpoint: &Endpoint) -> Result<Probe, String>;
}

/// Which engine answered. Podman's Docker-compatible API names itself in `/version`
/// (`Components` has "Podman Engine") and in the `Libpod-Api-Version` header; a socket's path
/// says nothing (a `docker.sock` is often a link to Podman).
pub fn engine_of(probe: &Probe) -> Engine {
    let podman_component = probe.components.iter().any(|c| c == "Podman Engine");
    if podman_component || probe.libpod_api_version.is_some() {
        Engine::Podman
    } else {
        Engine::Docker
    }
}

/// Why a candidate was passed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reject {
    /// Not an address the kit can use (`ssh://`, a broken docker context, …).
    Unusable(Unusable),
    /// Nothing at the path; not pinged.
    NoSocket(PathBuf),
    /// The API did not answer (refused, timed out, permission denied, not a Docker API).
    Unreachable(String),
    /// It answered, as the engine `K8S_DEV_ENGINE` did not ask for.
    WrongEngine { found: Engine, want: Engine },
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reject::Unusable(unusable) => f.write_str(&unusable.reason),
            Reject::NoSocket(path) => write!(f, "no socket at {}", path.display()),
            Reject::Unreachable(reason) => f.write_str(reason),
            Reject::WrongEngine { found, want } => {
                write!(f, "answers as {found}, but K8S_DEV_ENGINE={want}")
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Chosen {
        engine: Engine,
        version: String,
    },
    Rejected(Reject),
    /// An earlier candidate was chosen.
    NotTried,
}

/// One candidate and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub candidate: Candidate,
    pub verdict: Verdict,
}

#[derive(Debug)]
pub struct Chosen {
    pub resolved: Resolved,
    /// Every candidate, in order: those rejected before the chosen one, it, and the rest.
    pub steps: Vec<Step>,
}

/// Every candidate was rejected.
#[derive(Debug)]
pub struct Rejections {
    pub steps: Vec<Step>,
}

/// Try the candidates in order; the first whose API answers (as the required engine, if any)
/// is chosen. A missing socket is rejected without a connection attempt.
pub fn choose(candidates: Vec<Candidate>, prober: &dyn Prober) -> Result<Chosen, Rejections> {
    let mut steps = Vec::with_capacity(candidates.len());
    let mut resolved = None;
    for candidate in candidates {
        let verdict = if resolved.is_some() {
            Verdict::NotTried
        } else {
            match try_candidate(&candidate, prober) {
                Ok((engine, version)) => {
                    resolved = Some(Resolved {
                        engine,
                        host: candidate.host.clone(),
                        source: candidate.source.clone(),
                        version: version.clone(),
                    });
                    Verdict::Chosen { engine, version }
                }
                Err(reject) => Verdict::Rejected(reject),
            }
        };
        steps.push(Step { candidate, verdict });
    }
    match resolved {
        Some(resolved) => Ok(Chosen { resolved, steps }),
        None => Err(Rejections { steps }),
    }
}

fn try_candidate(candidate: &Candidate, prober: &dyn Prober) -> Result<(Engine, String), Reject> {
    let endpoint = candidate
        .endpoint
        .as_ref()
        .map_err(|unusable| Reject::Unusable(unusable.clone()))?;
    if let Endpoint::Unix {
        path,
        exists: false,
    } = endpoint
    {
        return Err(Reject::NoSocket(path.clone()));
    }
    let probe = prober.probe(endpoint).map_err(Reject::Unreachable)?;
    let engine = engine_of(&probe);
    match candidate.require {
        Some(want) if want != engine => Err(Reject::WrongEngine {
            found: engine,
            want,
        }),
        _ => Ok((engine, probe.version)),
    }
}

impl Rejections {
    /// One line saying what went wrong and how to fix it. A `DOCKER_HOST` that does not work
    /// is reported as such; otherwise the fix names how to start an engine on this OS.
    pub fn error(&self, os: Os) -> ResolveError {
        if let [step] = self.steps.as_slice()
            && step.candidate.source == DOCKER_HOST_SOURCE
            && let Verdict::Rejected(reject) = &step.verdict
        {
            return docker_host_error(&step.candidate.host, reject);
        }
        let want = self.steps.first().and_then(|s| s.candidate.require);
        let mut problem = match want {
            Some(engine) => format!("no {engine} engine answered"),
            None => "no container engine answered".to_string(),
        };
        // Sockets that exist but failed are the likely culprits; a missing one is the norm.
        let failed: Vec<String> = self
            .steps
            .iter()
            .filter_map(|step| match &step.verdict {
                Verdict::Rejected(Reject::NoSocket(_)) => None,
                Verdict::Rejected(reject) => Some(format!("{}: {reject}", step.candidate.host)),
                _ => None,
            })
            .collect();
        if !failed.is_empty() {
            problem.push_str(&format!(" ({})", failed.join(", ")));
        }
        ResolveError {
            problem,
            fix: format!(
                "{}; run `k8s-dev-helper engine --explain` to see every candidate",
                start_fix(os, want)
            ),
        }
    }
}

fn docker_host_error(host: &str, reject: &Reject) -> ResolveError {
    let fix = match reject {
        Reject::Unusable(unusable) => {
            format!(
                "{}, or unset DOCKER_HOST to detect the engine",
                unusable.fix
            )
        }
        Reject::WrongEngine { want, .. } => {
            format!("point DOCKER_HOST at a {want} socket, or unset DOCKER_HOST or K8S_DEV_ENGINE")
        }
        Reject::NoSocket(_) | Reject::Unreachable(_) => {
            "start the engine it names, or unset DOCKER_HOST to detect one".to_string()
        }
    };
    ResolveError {
        problem: format!("DOCKER_HOST={host}: {reject}"),
        fix,
    }
}

/// How to start an engine, per OS and restriction.
fn start_fix(os: Os, want: Option<Engine>) -> String {
    let fix = match (os, want) {
        (Os::MacOs, Some(Engine::Podman)) => "start Podman: `podman machine start`",
        (Os::MacOs, Some(Engine::Docker)) => {
            "start Docker Desktop, Colima (`colima start`) or OrbStack"
        }
        (Os::MacOs, None) => {
            "start one: `podman machine start`, or start Docker Desktop, Colima (`colima start`) \
             or OrbStack"
        }
        (Os::Linux, Some(Engine::Podman)) => {
            "start Podman: `systemctl --user start podman.socket` (rootless) or \
             `sudo systemctl start podman.socket`"
        }
        (Os::Linux, Some(Engine::Docker)) => "start Docker: `sudo systemctl start docker`",
        (Os::Linux, None) => {
            "start one: `systemctl --user start podman.socket` (rootless Podman), \
             `sudo systemctl start docker` or `sudo systemctl start podman.socket`"
        }
        (Os::Other, _) => "start Docker or Podman, or set DOCKER_HOST to its socket",
    };
    fix.to_string()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::engine::candidates::candidates;
    use crate::engine::context_meta_path;
    use crate::engine::fakes::{FakeFs, FakeProber, linux_env};
    use crate::env::Env;

    fn macos_env() -> Env {
        Env {
            home: Some(PathBuf::from("/Users/dev")),
            ..Env::empty(Os::MacOs)
        }
    }

    /// Resolve with only `socket` present and answering as `engine`.
    fn resolve_one(env: &Env, socket: &str, engine: Engine) -> Result<Chosen, Rejections> {
        let fs = FakeFs::default().with_socket(socket);
        let host = format!("unix://{socket}");
        let prober = match engine {
            Engine::Docker => FakeProber::default().docker(&host, "28.2.2"),
            Engine::Podman => FakeProber::default().podman(&host, "5.4.0"),
        };
        choose(candidates(env, &fs, None).unwrap(), &prober)
    }

    fn source_of(result: Result<Chosen, Rejections>) -> String {
        result.expect("an engine is chosen").resolved.source
    }

    #[test]
    fn engine_of_podman_from_components() {
        let probe = Probe {
            version: "4.3.1".into(),
            components: vec!["Podman Engine".into()],
            libpod_api_version: None,
        };
        assert_eq!(engine_of(&probe), Engine::Podman);
    }

    #[test]
    fn engine_of_podman_from_libpod_header() {
        let probe = Probe {
            version: "4.3.1".into(),
            components: vec![],
            libpod_api_version: Some("4.3.1".into()),
        };
        assert_eq!(engine_of(&probe), Engine::Podman);
    }

    #[test]
    fn engine_of_docker_otherwise() {
        let probe = Probe {
            version: "20.10.24".into(),
            components: vec!["Engine".into(), "containerd".into()],
            libpod_api_version: None,
        };
        assert_eq!(engine_of(&probe), Engine::Docker);
    }

    #[test]
    fn each_docker_place_is_found_when_it_alone_answers() {
        let cases = [
            ("/var/run/docker.sock", "docker-socket"),
            ("/home/dev/.docker/run/docker.sock", "docker-desktop"),
            ("/home/dev/.colima/default/docker.sock", "colima"),
            ("/home/dev/.orbstack/run/docker.sock", "orbstack"),
            ("/home/dev/.rd/docker.sock", "rancher-desktop"),
        ];
        for (socket, source) in cases {
            let chosen = resolve_one(&linux_env(), socket, Engine::Docker).unwrap();
            assert_eq!(chosen.resolved.source, source, "{socket}");
            assert_eq!(chosen.resolved.engine, Engine::Docker);
            assert_eq!(chosen.resolved.host, format!("unix://{socket}"));
            assert_eq!(chosen.resolved.version, "28.2.2");
        }
    }

    #[test]
    fn colima_profile_socket_is_found() {
        let env = Env {
            colima_profile: Some("work".into()),
            ..macos_env()
        };
        let source = source_of(resolve_one(
            &env,
            "/Users/dev/.colima/work/docker.sock",
            Engine::Docker,
        ));
        assert_eq!(source, "colima:work");
    }

    #[test]
    fn docker_context_is_found_and_named() {
        let env = Env {
            docker_context: Some("colima".into()),
            ..linux_env()
        };
        let meta = context_meta_path(&PathBuf::from("/home/dev/.docker"), "colima");
        let fs = FakeFs::default()
            .with_file(
                meta,
                r#"{"Endpoints":{"docker":{"Host":"unix:///srv/colima.sock"}}}"#,
            )
            .with_socket("/srv/colima.sock")
            .with_socket("/var/run/docker.sock");
        let prober = FakeProber::default()
            .docker("unix:///srv/colima.sock", "27.0.1")
            .docker("unix:///var/run/docker.sock", "20.10");
        let chosen = choose(candidates(&env, &fs, None).unwrap(), &prober).unwrap();
        assert_eq!(chosen.resolved.source, "docker-context:colima");
        assert_eq!(chosen.resolved.host, "unix:///srv/colima.sock");
        assert_eq!(chosen.steps[1].verdict, Verdict::NotTried);
    }

    #[test]
    fn podman_places_are_found_when_they_alone_answer() {
        let xdg = Env {
            xdg_runtime_dir: Some(PathBuf::from("/run/user/1000")),
            ..linux_env()
        };
        let cases = [
            (&xdg, "/run/user/1000/podman/podman.sock", "xdg-runtime-dir"),
            (
                &linux_env(),
                "/run/user/1000/podman/podman.sock",
                "run-user",
            ),
            (&linux_env(), "/run/podman/podman.sock", "podman-rootful"),
            (
                &macos_env(),
                "/Users/dev/.local/share/containers/podman/machine/podman.sock",
                "podman-machine-default-path",
            ),
        ];
        for (env, socket, source) in cases {
            let chosen = resolve_one(env, socket, Engine::Podman).unwrap();
            assert_eq!(chosen.resolved.source, source);
            assert_eq!(chosen.resolved.engine, Engine::Podman);
        }
    }

    #[test]
    fn macos_podman_machine_socket_is_found() {
        let socket = "/var/folders/x/T/podman/podman-machine-default-api.sock";
        let fs = FakeFs::default().with_socket(socket);
        let prober = FakeProber::default().podman(&format!("unix://{socket}"), "5.4.0");
        let list = candidates(&macos_env(), &fs, Some(socket.to_string())).unwrap();
        let chosen = choose(list, &prober).unwrap();
        assert_eq!(chosen.resolved.source, "podman-machine");
        assert_eq!(chosen.resolved.engine, Engine::Podman);
    }

    #[test]
    fn docker_sock_answering_as_podman_is_podman() {
        let fs = FakeFs::default().with_socket("/var/run/docker.sock");
        let prober = FakeProber::default().podman("unix:///var/run/docker.sock", "4.9.4");
        let chosen = choose(candidates(&linux_env(), &fs, None).unwrap(), &prober).unwrap();
        assert_eq!(chosen.resolved.engine, Engine::Podman);
        assert_eq!(chosen.resolved.source, "docker-socket");
    }

    #[test]
    fn missing_sockets_are_not_pinged() {
        let fs = FakeFs::default().with_socket("/run/podman/podman.sock");
        let prober = FakeProber::default().podman("unix:///run/podman/podman.sock", "4.3.1");
        let chosen = choose(candidates(&linux_env(), &fs, None).unwrap(), &prober).unwrap();
        assert_eq!(*prober.asked.borrow(), ["unix:///run/podman/podman.sock"]);
        assert_eq!(
            chosen.steps[0].verdict,
            Verdict::Rejected(Reject::NoSocket(PathBuf::from("/var/run/docker.sock")))
        );
    }

    #[test]
    fn stale_socket_is_rejected_and_the_next_one_wins() {
        let fs = FakeFs::default()
            .with_socket("/var/run/docker.sock")
            .with_socket("/run/podman/podman.sock");
        let prober = FakeProber::default().podman("unix:///run/podman/podman.sock", "4.3.1");
        let chosen = choose(candidates(&linux_env(), &fs, None).unwrap(), &prober).unwrap();
        assert_eq!(chosen.resolved.source, "podman-rootful");
        assert_eq!(
            chosen.steps[0].verdict,
            Verdict::Rejected(Reject::Unreachable(
                "stale socket: connection refused".into()
            ))
        );
    }

    #[test]
    fn restriction_skips_the_other_engine() {
        let env = Env {
            engine: Some("podman".into()),
            ..linux_env()
        };
        let fs = FakeFs::default()
            .with_socket("/var/run/docker.sock")
            .with_socket("/home/dev/.docker/run/docker.sock");
        let prober = FakeProber::default()
            .docker("unix:///var/run/docker.sock", "28.2.2")
            .podman("unix:///home/dev/.docker/run/docker.sock", "5.4.0");
        let chosen = choose(candidates(&env, &fs, None).unwrap(), &prober).unwrap();
        assert_eq!(chosen.resolved.source, "docker-desktop");
        assert_eq!(chosen.resolved.engine, Engine::Podman);
        let docker_socket = chosen
            .steps
            .iter()
            .find(|s| s.candidate.source == "docker-socket")
            .unwrap();
        assert_eq!(
            docker_socket.verdict.clone(),
            Verdict::Rejected(Reject::WrongEngine {
                found: Engine::Docker,
                want: Engine::Podman
            })
        );
    }

    fn docker_host_env(host: &str) -> Env {
        Env {
            docker_host: Some(host.into()),
            ..linux_env()
        }
    }

    #[test]
    fn docker_host_reachable_is_used_as_is() {
        let env = docker_host_env("unix:///tmp/engine.sock");
        let fs = FakeFs::default().with_socket("/tmp/engine.sock");
        let prober = FakeProber::default().docker("unix:///tmp/engine.sock", "20.10.24");
        let chosen = choose(candidates(&env, &fs, None).unwrap(), &prober).unwrap();
        assert_eq!(
            chosen.resolved,
            Resolved {
                engine: Engine::Docker,
                host: "unix:///tmp/engine.sock".into(),
                source: "DOCKER_HOST".into(),
                version: "20.10.24".into(),
            }
        );
    }

    #[test]
    fn docker_host_missing_socket_is_an_error_naming_it() {
        let env = docker_host_env("unix:///tmp/gone.sock");
        let fs = FakeFs::default().with_socket("/var/run/docker.sock");
        let prober = FakeProber::default().docker("unix:///var/run/docker.sock", "28.2.2");
        let err = choose(candidates(&env, &fs, None).unwrap(), &prober)
            .unwrap_err()
            .error(Os::Linux);
        assert_eq!(
            err.to_string(),
            "DOCKER_HOST=unix:///tmp/gone.sock: no socket at /tmp/gone.sock; \
             start the engine it names, or unset DOCKER_HOST to detect one"
        );
        assert!(prober.asked.borrow().is_empty());
    }

    #[test]
    fn docker_host_dead_is_an_error_naming_it() {
        let env = docker_host_env("tcp://127.0.0.1:1");
        let err = choose(
            candidates(&env, &FakeFs::default(), None).unwrap(),
            &FakeProber::default().answer("tcp://127.0.0.1:1", Err("connection refused".into())),
        )
        .unwrap_err()
        .error(Os::Linux);
        assert_eq!(
            err.problem,
            "DOCKER_HOST=tcp://127.0.0.1:1: connection refused"
        );
    }

    #[test]
    fn docker_host_ssh_is_a_one_line_error_with_the_fix() {
        let env = docker_host_env("ssh://core@localhost:53685");
        let prober = FakeProber::default();
        let err = choose(candidates(&env, &FakeFs::default(), None).unwrap(), &prober)
            .unwrap_err()
            .error(Os::MacOs);
        let line = err.to_string();
        assert!(!line.contains('\n'));
        assert!(
            line.starts_with(
                "DOCKER_HOST=ssh://core@localhost:53685: ssh:// is not supported: \
                 the kit needs a local socket it can ping; use a local unix:// socket instead"
            ),
            "{line}"
        );
        assert!(line.contains("podman machine inspect"), "{line}");
        assert!(prober.asked.borrow().is_empty());
    }

    #[test]
    fn docker_host_wrong_engine_names_both() {
        let env = Env {
            engine: Some("podman".into()),
            ..docker_host_env("unix:///var/run/docker.sock")
        };
        let fs = FakeFs::default().with_socket("/var/run/docker.sock");
        let prober = FakeProber::default().docker("unix:///var/run/docker.sock", "28.2.2");
        let err = choose(candidates(&env, &fs, None).unwrap(), &prober)
            .unwrap_err()
            .error(Os::Linux);
        assert_eq!(
            err.to_string(),
            "DOCKER_HOST=unix:///var/run/docker.sock: answers as docker, but \
             K8S_DEV_ENGINE=podman; point DOCKER_HOST at a podman socket, or unset \
             DOCKER_HOST or K8S_DEV_ENGINE"
        );
    }

    #[test]
    fn nothing_found_on_linux_names_systemctl_and_explain() {
        let rejections = choose(
            candidates(&linux_env(), &FakeFs::default(), None).unwrap(),
            &FakeProber::default(),
        )
        .unwrap_err();
        assert!(
            rejections
                .steps
                .iter()
                .all(|s| matches!(s.verdict, Verdict::Rejected(Reject::NoSocket(_))))
        );
        assert_eq!(
            rejections.error(Os::Linux).to_string(),
            "no container engine answered; start one: `systemctl --user start podman.socket` \
             (rootless Podman), `sudo systemctl start docker` or `sudo systemctl start \
             podman.socket`; run `k8s-dev-helper engine --explain` to see every candidate"
        );
    }

    #[test]
    fn nothing_found_on_macos_names_podman_machine_and_desktops() {
        let rejections = choose(
            candidates(&macos_env(), &FakeFs::default(), None).unwrap(),
            &FakeProber::default(),
        )
        .unwrap_err();
        assert_eq!(
            rejections.error(Os::MacOs).to_string(),
            "no container engine answered; start one: `podman machine start`, or start Docker \
             Desktop, Colima (`colima start`) or OrbStack; run `k8s-dev-helper engine --explain` \
             to see every candidate"
        );
    }

    #[test]
    fn nothing_found_under_restriction_names_that_engine_and_the_failed_sockets() {
        let env = Env {
            engine: Some("podman".into()),
            ..linux_env()
        };
        let fs = FakeFs::default()
            .with_socket("/var/run/docker.sock")
            .with_socket("/run/podman/podman.sock");
        let prober = FakeProber::default().docker("unix:///var/run/docker.sock", "28.2.2");
        let err = choose(candidates(&env, &fs, None).unwrap(), &prober)
            .unwrap_err()
            .error(Os::Linux);
        assert_eq!(
            err.problem,
            "no podman engine answered (unix:///run/podman/podman.sock: stale socket: \
             connection refused, unix:///var/run/docker.sock: answers as docker, but \
             K8S_DEV_ENGINE=podman)"
        );
        assert!(
            err.fix
                .starts_with("start Podman: `systemctl --user start podman.socket`")
        );
    }
}
