// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Where an engine may live, in the order it is tried. Pure: the environment comes as an
//! [`Env`], the filesystem through a [`FileProbe`], and the Podman machine socket (macOS) as a
//! value the caller looked up.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{Engine, ResolveError};
use crate::env::{Env, Os};

/// The `source` of the `DOCKER_HOST` candidate.
pub const DOCKER_HOST_SOURCE: &str = "DOCKER_HOST";

/// The filesystem, as far as the search needs it.
pub trait FileProbe {
    /// Whether `path` exists, following symlinks (a dangling link does not).
    fn exists(&self, path: &Path) -> bool;
    /// The file's contents, or `None` when it cannot be read.
    fn read_to_string(&self, path: &Path) -> Option<String>;
}

/// The real filesystem.
pub struct StdFs;

impl FileProbe for StdFs {
    fn exists(&self, path: &Path) -> bool {
        path.exists()
    }

    fn read_to_string(&self, path: &Path) -> Option<String> {
        std::fs::read_to_string(path).ok()
    }
}

/// How to reach an engine's API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// A unix socket; `exists` was looked up when the candidate was made, so a missing one is
    /// rejected without a connection attempt.
    Unix { path: PathBuf, exists: bool },
    /// `host:port`, plain HTTP.
    Tcp { addr: String },
}

impl Endpoint {
    pub fn host(&self) -> String {
        match self {
            Endpoint::Unix { path, .. } => format!("unix://{}", path.display()),
            Endpoint::Tcp { addr } => format!("tcp://{addr}"),
        }
    }
}

/// Why a candidate cannot be used at all, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable {
    pub reason: String,
    pub fix: String,
}

/// One place an engine may live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The rule that produced it: `DOCKER_HOST`, `docker-context:<name>`, `docker-socket`, …
    pub source: String,
    /// The host as shown and exported (`unix:///…`, `tcp://…`, or the unusable value as given).
    pub host: String,
    /// From `K8S_DEV_ENGINE`: accepted only when its API answers as this engine.
    pub require: Option<Engine>,
    pub endpoint: Result<Endpoint, Unusable>,
}

/// The engine `K8S_DEV_ENGINE` (or `CONTAINER_ENGINE`) restricts the search to.
pub fn restriction(env: &Env) -> Result<Option<Engine>, ResolveError> {
    let Some(value) = env.engine.as_deref() else {
        return Ok(None);
    };
    value.parse().map(Some).map_err(|()| ResolveError {
        problem: format!(
            "K8S_DEV_ENGINE (or CONTAINER_ENGINE) is {value:?}, which is not a container engine"
        ),
        fix: "set it to docker or podman, or unset it to detect the engine".to_string(),
    })
}

/// Every candidate, in the order to try them.
///
/// `DOCKER_HOST`, when set, is the only one: an explicit choice is used as is or reported,
/// never silently replaced. Otherwise Docker's places come first (the active docker context,
/// then the well-known sockets), then Podman's; under `K8S_DEV_ENGINE` the requested engine's
/// places come first, and every candidate must answer as that engine.
pub fn candidates(
    env: &Env,
    fs: &dyn FileProbe,
    podman_machine_socket: Option<String>,
) -> Result<Vec<Candidate>, ResolveError> {
    let require = restriction(env)?;
    if let Some(host) = &env.docker_host {
        return Ok(vec![Candidate {
            source: DOCKER_HOST_SOURCE.to_string(),
            host: host.clone(),
            require,
            endpoint: endpoint_of(host, fs),
        }]);
    }
    let docker = docker_candidates(env, fs);
    let podman = podman_candidates(env, fs, podman_machine_socket);
    let ordered = match require {
        Some(Engine::Podman) => podman.into_iter().chain(docker).collect::<Vec<_>>(),
        _ => docker.into_iter().chain(podman).collect(),
    };
    Ok(ordered
        .into_iter()
        .map(|c| Candidate { require, ..c })
        .collect())
}

fn socket(source: impl Into<String>, path: PathBuf, fs: &dyn FileProbe) -> Candidate {
    let endpoint = Endpoint::Unix {
        exists: fs.exists(&path),
        path,
    };
    Candidate {
        source: source.into(),
        host: endpoint.host(),
        require: None,
        endpoint: Ok(endpoint),
    }
}

fn docker_candidates(env: &Env, fs: &dyn FileProbe) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = docker_context(env, fs).into_iter().collect();
    out.push(socket("docker-socket", "/var/run/docker.sock".into(), fs));
    let Some(home) = &env.home else {
        return out;
    };
    let docker = |source: &str, path: &str| socket(source, home.join(path), fs);
    out.push(docker("docker-desktop", ".docker/run/docker.sock"));
    if let Some(profile) = env.colima_profile.as_deref().filter(|p| *p != "default") {
        out.push(docker(
            &format!("colima:{profile}"),
            &format!(".colima/{profile}/docker.sock"),
        ));
    }
    out.push(docker("colima", ".colima/default/docker.sock"));
    out.push(docker("orbstack", ".orbstack/run/docker.sock"));
    out.push(docker("rancher-desktop", ".rd/docker.sock"));
    out
}

fn podman_candidates(
    env: &Env,
    fs: &dyn FileProbe,
    machine_socket: Option<String>,
) -> Vec<Candidate> {
    let podman = |source: &str, path: PathBuf| socket(source, path, fs);
    match env.os {
        Os::MacOs => {
            // `podman machine inspect` knows where the running machine forwards its API (it
            // moved between Podman releases); the seed's fixed path is the fallback for when
            // that lookup gave nothing.
            match machine_socket {
                Some(path) => vec![podman("podman-machine", PathBuf::from(path))],
                None => env
                    .home
                    .iter()
                    .map(|home| {
                        podman(
                            "podman-machine-default-path",
                            home.join(".local/share/containers/podman/machine/podman.sock"),
                        )
                    })
                    .collect(),
            }
        }
        Os::Linux | Os::Other => {
            let rootless = match &env.xdg_runtime_dir {
                Some(dir) => podman("xdg-runtime-dir", dir.join("podman/podman.sock")),
                None => podman(
                    "run-user",
                    PathBuf::from(format!("/run/user/{}/podman/podman.sock", env.uid)),
                ),
            };
            vec![
                rootless,
                podman("podman-rootful", PathBuf::from("/run/podman/podman.sock")),
            ]
        }
    }
}

/// The active docker context, the way the docker CLI finds it: `DOCKER_CONTEXT`, else
/// `currentContext` in `config.json` under `DOCKER_CONFIG` (default `~/.docker`). The context
/// `default` means the default socket, which has its own candidate.
fn docker_context(env: &Env, fs: &dyn FileProbe) -> Option<Candidate> {
    let config_dir = env
        .docker_config
        .clone()
        .or_else(|| env.home.as_ref().map(|home| home.join(".docker")))?;
    let (name, from) = match &env.docker_context {
        Some(name) => (name.clone(), "DOCKER_CONTEXT".to_string()),
        None => {
            let config = config_dir.join("config.json");
            let text = fs.read_to_string(&config)?;
            match current_context(&text) {
                Ok(name) => (name?, config.display().to_string()),
                Err(err) => {
                    return Some(unusable_context(
                        "docker-context",
                        format!("{} is not valid JSON: {err}", config.display()),
                        format!("fix or remove {}", config.display()),
                    ));
                }
            }
        }
    };
    if name == "default" {
        return None;
    }
    let source = format!("docker-context:{name}");
    let meta = context_meta_path(&config_dir, &name);
    let Some(text) = fs.read_to_string(&meta) else {
        return Some(unusable_context(
            &source,
            format!("context {name:?} (from {from}) has no {}", meta.display()),
            "`docker context ls` lists the contexts; switch with `docker context use`".to_string(),
        ));
    };
    let host = match context_host(&text) {
        Ok(host) => host,
        Err(reason) => {
            return Some(unusable_context(
                &source,
                format!("{}: {reason}", meta.display()),
                "recreate the context with `docker context create`".to_string(),
            ));
        }
    };
    Some(Candidate {
        source,
        endpoint: endpoint_of(&host, fs),
        host,
        require: None,
    })
}

fn unusable_context(source: &str, reason: String, fix: String) -> Candidate {
    Candidate {
        source: source.to_string(),
        host: "(none)".to_string(),
        require: None,
        endpoint: Err(Unusable { reason, fix }),
    }
}

/// Where the docker CLI keeps a context's metadata: directories are named by the SHA-256 of
/// the context name, in hex (docker/cli `cli/context/store/metadatastore.go`).
pub fn context_meta_path(config_dir: &Path, name: &str) -> PathBuf {
    config_dir
        .join("contexts/meta")
        .join(hex::encode(Sha256::digest(name.as_bytes())))
        .join("meta.json")
}

/// `currentContext` from a docker `config.json`; `Ok(None)` when it names none.
fn current_context(config_json: &str) -> Result<Option<String>, serde_json::Error> {
    let config: serde_json::Value = serde_json::from_str(config_json)?;
    Ok(config
        .get("currentContext")
        .and_then(|v| v.as_str())
        .filter(|name| !name.is_empty())
        .map(String::from))
}

/// `Endpoints.docker.Host` from a context's `meta.json`.
fn context_host(meta_json: &str) -> Result<String, String> {
    let meta: serde_json::Value =
        serde_json::from_str(meta_json).map_err(|err| format!("not valid JSON: {err}"))?;
    meta.pointer("/Endpoints/docker/Host")
        .and_then(|v| v.as_str())
        .filter(|host| !host.is_empty())
        .map(String::from)
        .ok_or_else(|| "no Endpoints.docker.Host".to_string())
}

/// Parse a Docker host URL the way the kit can use it: a local unix socket or plain TCP.
fn endpoint_of(host: &str, fs: &dyn FileProbe) -> Result<Endpoint, Unusable> {
    if let Some(path) = host.strip_prefix("unix://").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return Ok(Endpoint::Unix {
            exists: fs.exists(&path),
            path,
        });
    }
    if let Some(addr) = host
        .strip_prefix("tcp://")
        .map(|a| a.trim_end_matches('/'))
        .filter(|a| !a.is_empty())
    {
        return Ok(Endpoint::Tcp {
            addr: addr.to_string(),
        });
    }
    if host.starts_with("ssh://") {
        return Err(Unusable {
            reason: "ssh:// is not supported: the kit needs a local socket it can ping".into(),
            fix: "use a local unix:// socket instead, e.g. for a Podman machine \
                  unix://$(podman machine inspect --format '{{.ConnectionInfo.PodmanSocket.Path}}')"
                .into(),
        });
    }
    Err(Unusable {
        reason: "not a usable engine address (expected unix:///path or tcp://host:port)".into(),
        fix: "use unix:///path/to/engine.sock or tcp://host:port".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fakes::{FakeFs, linux_env};

    fn sources(list: &[Candidate]) -> Vec<&str> {
        list.iter().map(|c| c.source.as_str()).collect()
    }

    fn by_source<'a>(list: &'a [Candidate], source: &str) -> &'a Candidate {
        list.iter()
            .find(|c| c.source == source)
            .unwrap_or_else(|| panic!("no candidate {source} in {:?}", sources(list)))
    }

    #[test]
    fn linux_order_docker_places_then_podman() {
        let list = candidates(&linux_env(), &FakeFs::default(), None).unwrap();
        assert_eq!(
            sources(&list),
            [
                "docker-socket",
                "docker-desktop",
                "colima",
                "orbstack",
                "rancher-desktop",
                "run-user",
                "podman-rootful"
            ]
        );
    }

    #[test]
    fn docker_paths_are_the_well_known_sockets() {
        let list = candidates(&linux_env(), &FakeFs::default(), None).unwrap();
        let host = |s| by_source(&list, s).host.clone();
        assert_eq!(host("docker-socket"), "unix:///var/run/docker.sock");
        assert_eq!(
            host("docker-desktop"),
            "unix:///home/dev/.docker/run/docker.sock"
        );
        assert_eq!(
            host("colima"),
            "unix:///home/dev/.colima/default/docker.sock"
        );
        assert_eq!(
            host("orbstack"),
            "unix:///home/dev/.orbstack/run/docker.sock"
        );
        assert_eq!(host("rancher-desktop"), "unix:///home/dev/.rd/docker.sock");
        assert!(list.iter().all(|c| c.require.is_none()));
    }

    #[test]
    fn socket_existence_is_recorded() {
        let fs = FakeFs::default().with_socket("/home/dev/.orbstack/run/docker.sock");
        let list = candidates(&linux_env(), &fs, None).unwrap();
        let exists = |s| match &by_source(&list, s).endpoint {
            Ok(Endpoint::Unix { exists, .. }) => *exists,
            other => panic!("{other:?}"),
        };
        assert!(exists("orbstack"));
        assert!(!exists("docker-socket"));
    }

    #[test]
    fn colima_profile_comes_before_the_default_profile() {
        let env = Env {
            colima_profile: Some("work".into()),
            ..linux_env()
        };
        let list = candidates(&env, &FakeFs::default(), None).unwrap();
        let colima: Vec<_> = list
            .iter()
            .filter(|c| c.source.starts_with("colima"))
            .map(|c| (c.source.as_str(), c.host.as_str()))
            .collect();
        assert_eq!(
            colima,
            [
                ("colima:work", "unix:///home/dev/.colima/work/docker.sock"),
                ("colima", "unix:///home/dev/.colima/default/docker.sock"),
            ]
        );
    }

    #[test]
    fn colima_profile_default_is_not_listed_twice() {
        let env = Env {
            colima_profile: Some("default".into()),
            ..linux_env()
        };
        let list = candidates(&env, &FakeFs::default(), None).unwrap();
        assert_eq!(
            list.iter()
                .filter(|c| c.source.starts_with("colima"))
                .count(),
            1
        );
    }

    #[test]
    fn context_meta_path_is_sha256_of_the_name() {
        // `printf colima | sha256sum`
        assert_eq!(
            context_meta_path(Path::new("/home/dev/.docker"), "colima"),
            Path::new(
                "/home/dev/.docker/contexts/meta/\
                 f24fd3749c1368328e2b149bec149cb6795619f244c5b584e844961215dadd16/meta.json"
            )
        );
    }

    const META: &str = r#"{"Name":"colima","Metadata":{},"Endpoints":{"docker":{"Host":"unix:///home/dev/.colima/default/docker.sock","SkipTLSVerify":false}}}"#;

    fn meta_path(name: &str) -> PathBuf {
        context_meta_path(Path::new("/home/dev/.docker"), name)
    }

    #[test]
    fn context_from_docker_context_var_comes_first() {
        let env = Env {
            docker_context: Some("colima".into()),
            ..linux_env()
        };
        let fs = FakeFs::default().with_file(meta_path("colima"), META);
        let list = candidates(&env, &fs, None).unwrap();
        let first = &list[0];
        assert_eq!(first.source, "docker-context:colima");
        assert_eq!(first.host, "unix:///home/dev/.colima/default/docker.sock");
        assert!(first.endpoint.is_ok());
    }

    #[test]
    fn context_from_config_json_current_context() {
        let fs = FakeFs::default()
            .with_file(
                "/home/dev/.docker/config.json",
                r#"{"currentContext":"colima"}"#,
            )
            .with_file(meta_path("colima"), META);
        let list = candidates(&linux_env(), &fs, None).unwrap();
        assert_eq!(list[0].source, "docker-context:colima");
        assert_eq!(list[0].host, "unix:///home/dev/.colima/default/docker.sock");
    }

    #[test]
    fn context_under_docker_config_dir() {
        let env = Env {
            docker_config: Some(PathBuf::from("/etc/dockercfg")),
            ..linux_env()
        };
        let meta = context_meta_path(Path::new("/etc/dockercfg"), "colima");
        let fs = FakeFs::default()
            .with_file(
                "/etc/dockercfg/config.json",
                r#"{"currentContext":"colima"}"#,
            )
            .with_file(meta, META);
        let list = candidates(&env, &fs, None).unwrap();
        assert_eq!(list[0].source, "docker-context:colima");
    }

    #[test]
    fn docker_context_var_wins_over_config_json() {
        let env = Env {
            docker_context: Some("colima".into()),
            ..linux_env()
        };
        let fs = FakeFs::default()
            .with_file(
                "/home/dev/.docker/config.json",
                r#"{"currentContext":"other"}"#,
            )
            .with_file(meta_path("colima"), META);
        let list = candidates(&env, &fs, None).unwrap();
        assert_eq!(list[0].source, "docker-context:colima");
    }

    #[test]
    fn context_default_means_no_context() {
        let env = Env {
            docker_context: Some("default".into()),
            ..linux_env()
        };
        let list = candidates(&env, &FakeFs::default(), None).unwrap();
        assert_eq!(list[0].source, "docker-socket");
        let fs = FakeFs::default().with_file(
            "/home/dev/.docker/config.json",
            r#"{"currentContext":"default"}"#,
        );
        let list = candidates(&linux_env(), &fs, None).unwrap();
        assert_eq!(list[0].source, "docker-socket");
    }

    #[test]
    fn config_json_without_context_adds_none() {
        let fs = FakeFs::default().with_file("/home/dev/.docker/config.json", r#"{"auths":{}}"#);
        let list = candidates(&linux_env(), &fs, None).unwrap();
        assert_eq!(list[0].source, "docker-socket");
    }

    #[test]
    fn missing_context_meta_is_unusable_and_says_where_it_looked() {
        let env = Env {
            docker_context: Some("gone".into()),
            ..linux_env()
        };
        let list = candidates(&env, &FakeFs::default(), None).unwrap();
        let unusable = list[0].endpoint.as_ref().unwrap_err();
        assert_eq!(list[0].source, "docker-context:gone");
        assert!(
            unusable.reason.starts_with(
                r#"context "gone" (from DOCKER_CONTEXT) has no /home/dev/.docker/contexts/meta/"#
            ),
            "{}",
            unusable.reason
        );
    }

    #[test]
    fn broken_config_json_is_unusable() {
        let fs = FakeFs::default().with_file("/home/dev/.docker/config.json", "{");
        let list = candidates(&linux_env(), &fs, None).unwrap();
        let unusable = list[0].endpoint.as_ref().unwrap_err();
        assert!(
            unusable.reason.contains("config.json is not valid JSON"),
            "{}",
            unusable.reason
        );
        assert_eq!(list[1].source, "docker-socket");
    }

    #[test]
    fn context_with_ssh_host_is_unusable() {
        let env = Env {
            docker_context: Some("remote".into()),
            ..linux_env()
        };
        let meta = r#"{"Endpoints":{"docker":{"Host":"ssh://me@box"}}}"#;
        let fs = FakeFs::default().with_file(meta_path("remote"), meta);
        let list = candidates(&env, &fs, None).unwrap();
        assert_eq!(list[0].host, "ssh://me@box");
        assert!(
            list[0]
                .endpoint
                .as_ref()
                .unwrap_err()
                .reason
                .contains("ssh://")
        );
    }

    #[test]
    fn context_with_tcp_host() {
        let env = Env {
            docker_context: Some("tcp".into()),
            ..linux_env()
        };
        let meta = r#"{"Endpoints":{"docker":{"Host":"tcp://10.0.0.2:2375"}}}"#;
        let fs = FakeFs::default().with_file(meta_path("tcp"), meta);
        let list = candidates(&env, &fs, None).unwrap();
        assert_eq!(
            list[0].endpoint,
            Ok(Endpoint::Tcp {
                addr: "10.0.0.2:2375".into()
            })
        );
    }

    #[test]
    fn xdg_runtime_dir_podman_socket() {
        let env = Env {
            xdg_runtime_dir: Some(PathBuf::from("/run/user/1234")),
            ..linux_env()
        };
        let list = candidates(&env, &FakeFs::default(), None).unwrap();
        assert_eq!(
            by_source(&list, "xdg-runtime-dir").host,
            "unix:///run/user/1234/podman/podman.sock"
        );
        assert!(!sources(&list).contains(&"run-user"));
    }

    #[test]
    fn run_user_uid_without_xdg_runtime_dir() {
        let env = Env {
            uid: 4242,
            ..linux_env()
        };
        let list = candidates(&env, &FakeFs::default(), None).unwrap();
        assert_eq!(
            by_source(&list, "run-user").host,
            "unix:///run/user/4242/podman/podman.sock"
        );
    }

    #[test]
    fn rootful_podman_socket() {
        let list = candidates(&linux_env(), &FakeFs::default(), None).unwrap();
        let rootful = by_source(&list, "podman-rootful");
        assert_eq!(rootful.host, "unix:///run/podman/podman.sock");
    }

    #[test]
    fn macos_podman_machine_socket_from_inspect() {
        let env = Env {
            home: Some(PathBuf::from("/Users/dev")),
            ..Env::empty(Os::MacOs)
        };
        let inspect = "/var/folders/x/T/podman/podman-machine-default-api.sock".to_string();
        let list = candidates(&env, &FakeFs::default(), Some(inspect)).unwrap();
        let last = list.last().unwrap();
        assert_eq!(last.source, "podman-machine");
        assert_eq!(
            last.host,
            "unix:///var/folders/x/T/podman/podman-machine-default-api.sock"
        );
        assert!(!sources(&list).contains(&"podman-machine-default-path"));
        assert!(!sources(&list).contains(&"run-user"));
    }

    #[test]
    fn macos_podman_machine_fallback_path() {
        let env = Env {
            home: Some(PathBuf::from("/Users/dev")),
            ..Env::empty(Os::MacOs)
        };
        let list = candidates(&env, &FakeFs::default(), None).unwrap();
        let last = list.last().unwrap();
        assert_eq!(last.source, "podman-machine-default-path");
        assert_eq!(
            last.host,
            "unix:///Users/dev/.local/share/containers/podman/machine/podman.sock"
        );
    }

    #[test]
    fn restriction_to_podman_puts_podman_places_first_and_requires_podman() {
        let env = Env {
            engine: Some("podman".into()),
            ..linux_env()
        };
        let list = candidates(&env, &FakeFs::default(), None).unwrap();
        assert_eq!(
            &sources(&list)[..3],
            ["run-user", "podman-rootful", "docker-socket"]
        );
        assert!(list.iter().all(|c| c.require == Some(Engine::Podman)));
    }

    #[test]
    fn restriction_to_docker_keeps_docker_order() {
        let env = Env {
            engine: Some("docker".into()),
            ..linux_env()
        };
        let list = candidates(&env, &FakeFs::default(), None).unwrap();
        assert_eq!(list[0].source, "docker-socket");
        assert!(list.iter().all(|c| c.require == Some(Engine::Docker)));
    }

    #[test]
    fn restriction_rejects_unknown_engine_naming_valid_values() {
        let env = Env {
            engine: Some("containerd".into()),
            ..linux_env()
        };
        let err = candidates(&env, &FakeFs::default(), None).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"K8S_DEV_ENGINE (or CONTAINER_ENGINE) is "containerd", which is not a container engine; set it to docker or podman, or unset it to detect the engine"#
        );
    }

    #[test]
    fn docker_host_is_the_only_candidate() {
        let env = Env {
            docker_host: Some("unix:///tmp/e.sock".into()),
            docker_context: Some("colima".into()),
            ..linux_env()
        };
        let fs = FakeFs::default()
            .with_socket("/tmp/e.sock")
            .with_file(meta_path("colima"), META);
        let list = candidates(&env, &fs, None).unwrap();
        assert_eq!(sources(&list), ["DOCKER_HOST"]);
        assert_eq!(list[0].host, "unix:///tmp/e.sock");
        assert_eq!(
            list[0].endpoint,
            Ok(Endpoint::Unix {
                path: PathBuf::from("/tmp/e.sock"),
                exists: true
            })
        );
    }

    #[test]
    fn docker_host_tcp_is_allowed() {
        let env = Env {
            docker_host: Some("tcp://127.0.0.1:2375/".into()),
            ..linux_env()
        };
        let list = candidates(&env, &FakeFs::default(), None).unwrap();
        assert_eq!(list[0].host, "tcp://127.0.0.1:2375/");
        assert_eq!(
            list[0].endpoint,
            Ok(Endpoint::Tcp {
                addr: "127.0.0.1:2375".into()
            })
        );
    }

    #[test]
    fn docker_host_ssh_is_unusable_and_names_a_local_socket_fix() {
        let env = Env {
            docker_host: Some("ssh://core@localhost:53685".into()),
            ..linux_env()
        };
        let list = candidates(&env, &FakeFs::default(), None).unwrap();
        let unusable = list[0].endpoint.as_ref().unwrap_err();
        assert!(unusable.reason.contains("needs a local socket"));
        assert!(unusable.fix.contains("podman machine inspect"));
        assert!(unusable.fix.contains("unix://"));
    }

    #[test]
    fn docker_host_unknown_scheme_is_unusable() {
        let env = Env {
            docker_host: Some("npipe:////./pipe/docker_engine".into()),
            ..linux_env()
        };
        let list = candidates(&env, &FakeFs::default(), None).unwrap();
        assert!(list[0].endpoint.is_err());
    }
}
