// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `doctor`'s checks for the kind and attached-k3s providers, as functions of what was probed
//! (a tool's version line, a file read, commands run in the nodes), so each is tested without
//! the tool. [`exec`] is the probe that runs a command in a node container.

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};

use super::k3s::{self, RegistriesPlan};
use super::kind::{HostsFile, KIND_VERSION};
use crate::doctor::{Check, CheckStatus, Tool};
use crate::engine::Endpoint;

/// The oldest Kubernetes minor the kit targets (kubectl 1.32 in mise.toml, k3s v1.32 in k3d).
pub const MIN_KUBERNETES_MINOR: u64 = 32;

/// `major.minor.patch` from the first `vX.Y.Z` token of a version line.
fn version_in(line: &str) -> Option<(u64, u64, u64)> {
    line.split_whitespace().find_map(|word| {
        let v = word.strip_prefix('v')?;
        let core = v.split(['+', '-']).next()?;
        let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
        Some((parts.next()??, parts.next()??, parts.next()??))
    })
}

/// The version command's first line, or the check saying why there is none.
fn found(name: &str, tool: Tool, install: &str) -> Result<(String, String), Check> {
    match tool {
        Tool::Missing => Err(Check::new(
            name,
            CheckStatus::Fail,
            "not found on PATH".into(),
            Some(install.into()),
        )),
        Tool::Found {
            version: Err(err),
            path,
        } => Err(Check::new(
            name,
            CheckStatus::Fail,
            format!("{} does not say its version: {err}", path.display()),
            Some(install.into()),
        )),
        Tool::Found {
            version: Ok(line),
            path,
        } => Ok((line, path.display().to_string())),
    }
}

/// `kind version` (`kind v0.33.0 go1.26.8 linux/amd64`). The node image is built for the pinned
/// release, and kind supports node images only with the release they came with (kind's
/// node-image design note), so another version is a warning.
pub fn kind_tool(tool: Tool) -> Check {
    let install = format!(
        "mise install (mise.toml pins kind {}), or go install sigs.k8s.io/kind@{KIND_VERSION}",
        &KIND_VERSION[1..]
    );
    let (line, path) = match found("kind", tool, &install) {
        Ok(found) => found,
        Err(check) => return check,
    };
    let pinned = version_in(KIND_VERSION).expect("KIND_VERSION is vX.Y.Z");
    match version_in(&line) {
        Some(v) if v == pinned => {
            Check::new("kind", CheckStatus::Ok, format!("{line} ({path})"), None)
        }
        Some(_) => Check::new(
            "kind",
            CheckStatus::Warn,
            format!(
                "{line} ({path}); the node image in deploy/kind/cluster.yaml is built for kind {KIND_VERSION}"
            ),
            Some(install),
        ),
        None => Check::new(
            "kind",
            CheckStatus::Warn,
            format!("{path} printed an unexpected version: {line}"),
            Some(install),
        ),
    }
}

/// `k3s --version` (`k3s version v1.32.5+k3s1 (8e8f2a47)`). k3s is the host's: the fix for a
/// missing one is to install it or to pick another provider.
pub fn k3s_tool(tool: Tool) -> Check {
    let install =
        "install k3s (curl -sfL https://get.k3s.io | sh -), or set K8S_DEV_PROVIDER to k3d or kind";
    let (line, path) = match found("k3s", tool, install) {
        Ok(found) => found,
        Err(check) => return check,
    };
    match version_in(&line) {
        Some((1, minor, _)) if minor >= MIN_KUBERNETES_MINOR => {
            Check::new("k3s", CheckStatus::Ok, format!("{line} ({path})"), None)
        }
        Some(_) => Check::new(
            "k3s",
            CheckStatus::Warn,
            format!(
                "{line} ({path}); the kit is tested on Kubernetes 1.{MIN_KUBERNETES_MINOR} and later"
            ),
            Some("upgrade k3s (curl -sfL https://get.k3s.io | sh -)".into()),
        ),
        None => Check::new(
            "k3s",
            CheckStatus::Warn,
            format!("{path} printed an unexpected version: {line}"),
            None,
        ),
    }
}

/// The k3s kubeconfig the kit would merge: readable and shaped as k3s writes it.
pub fn k3s_kubeconfig(path: &Path, read: Result<String>) -> Check {
    let result = read.and_then(|text| {
        k3s::rename_kubeconfig(
            &text,
            &crate::provider::Provider::K3s.kubeconfig_names("check"),
        )
    });
    match result {
        Ok(_) => Check::new(
            "k3s-kubeconfig",
            CheckStatus::Ok,
            format!("{} is readable", path.display()),
            None,
        ),
        Err(err) => {
            // The errors end in their fix after the last "; ".
            let text = format!("{err:#}");
            let (problem, fix) = text.rsplit_once("; ").unwrap_or((&text, ""));
            Check::new(
                "k3s-kubeconfig",
                CheckStatus::Fail,
                problem.to_string(),
                Some(fix.to_string()).filter(|f| !f.is_empty()),
            )
        }
    }
}

/// registries.yaml mirrors the kit's registry names; `up` writes it otherwise (or prints what
/// to write), so a missing mirror is a warning.
pub fn k3s_registries(plan: &Result<RegistriesPlan>) -> Check {
    let path = format!("/{}", k3s::REGISTRIES);
    match plan {
        Ok(RegistriesPlan::UpToDate) => Check::new(
            "k3s-registries",
            CheckStatus::Ok,
            format!("{path} mirrors the kit's registry"),
            None,
        ),
        Ok(RegistriesPlan::Write { changed, .. }) => Check::new(
            "k3s-registries",
            CheckStatus::Warn,
            format!(
                "{path} does not mirror {} to the kit's registry",
                changed.join(" and ")
            ),
            Some("mise run k8s:dev:up (writes it, or prints the file and the k3s restart)".into()),
        ),
        Err(err) => Check::new(
            "k3s-registries",
            CheckStatus::Fail,
            format!("{err:#}"),
            Some(format!("fix or remove {path}")),
        ),
    }
}

/// The command run in a node to reach the registry: kind's node images ship curl.
pub fn registry_probe(url: &str) -> Vec<String> {
    ["curl", "-fsS", "-o", "/dev/null", "-m", "5", url]
        .map(String::from)
        .to_vec()
}

/// The registry answered `url` (its `/v2/`) from every node: names resolve on the cluster's
/// network and the container is connected to it. `results` holds each node's probe outcome.
pub fn registry_from_nodes(url: &str, results: &[(String, Result<ExecOutput, String>)]) -> Check {
    if results.is_empty() {
        return Check::new(
            "registry-from-nodes",
            CheckStatus::Skip,
            "no running node to probe from".into(),
            None,
        );
    }
    let failed: Vec<String> = results
        .iter()
        .filter_map(|(node, result)| match result {
            Ok(out) if out.exit_code == 0 => None,
            Ok(out) => Some(format!(
                "{node}: exit {}: {}",
                out.exit_code,
                out.output.trim()
            )),
            Err(err) => Some(format!("{node}: {err}")),
        })
        .collect();
    if failed.is_empty() {
        return Check::new(
            "registry-from-nodes",
            CheckStatus::Ok,
            format!("{url} answers from {} nodes", results.len()),
            None,
        );
    }
    Check::new(
        "registry-from-nodes",
        CheckStatus::Fail,
        format!("{url} does not answer from {}", failed.join("; ")),
        Some(
            "mise run k8s:dev:up (starts the registry and connects it to the cluster's network)"
                .into(),
        ),
    )
}

/// Every node holds the kit's `hosts.toml` files as the kit writes them. `found` holds, per
/// node, what each file's path read back (`None`: absent).
pub fn kind_hosts_files(want: &[HostsFile], found: &[(String, Vec<Option<String>>)]) -> Check {
    let mut problems = Vec::new();
    for (node, contents) in found {
        for (file, content) in want.iter().zip(contents) {
            match content {
                Some(c) if *c == file.content => {}
                Some(_) => problems.push(format!("{node}: {} differs", file.path())),
                None => problems.push(format!("{node}: {} is missing", file.path())),
            }
        }
    }
    if problems.is_empty() {
        let names: Vec<&str> = want.iter().map(|f| f.name.as_str()).collect();
        return Check::new(
            "registry-hosts",
            CheckStatus::Ok,
            format!(
                "{} nodes send {} to the kit's registry",
                found.len(),
                names.join(" and ")
            ),
            None,
        );
    }
    Check::new(
        "registry-hosts",
        CheckStatus::Fail,
        problems.join("; "),
        Some("mise run k8s:dev:up (writes them into every node)".into()),
    )
}

/// What a command run in a container ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecOutput {
    pub exit_code: i64,
    /// stdout and stderr, interleaved as they came.
    pub output: String,
}

/// Run `argv` in the running container `container` through the engine's API (Docker and
/// Podman both serve it), as `docker exec` does, and collect its output and exit code.
pub fn exec(
    endpoint: &Endpoint,
    container: &str,
    argv: &[String],
    timeout: Duration,
) -> Result<ExecOutput> {
    use bollard::exec::{StartExecOptions, StartExecResults};
    use bollard::models::ExecConfig;
    use futures_util::StreamExt;

    let docker = crate::engine::client(endpoint, timeout).map_err(|err| anyhow!(err))?;
    let what = || {
        format!(
            "running {} in {container}",
            argv.first().map_or("", String::as_str)
        )
    };
    crate::runtime::block_on(async {
        let config = ExecConfig {
            cmd: Some(argv.to_vec()),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            ..Default::default()
        };
        let created = docker.create_exec(container, config).await?;
        let mut output = String::new();
        let options = StartExecOptions {
            detach: false,
            ..Default::default()
        };
        if let StartExecResults::Attached {
            output: mut stream, ..
        } = docker.start_exec(&created.id, Some(options)).await?
        {
            let collect = async {
                while let Some(chunk) = stream.next().await {
                    output.push_str(&String::from_utf8_lossy(&chunk?.into_bytes()));
                }
                Ok::<_, bollard::errors::Error>(())
            };
            tokio::time::timeout(timeout, collect)
                .await
                .map_err(|_| anyhow!("no exit within {}s", timeout.as_secs()))??;
        }
        let inspected = docker.inspect_exec(&created.id).await?;
        Ok::<_, anyhow::Error>(ExecOutput {
            exit_code: inspected.exit_code.unwrap_or(-1),
            output,
        })
    })
    .with_context(what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn found(line: &str) -> Tool {
        Tool::Found {
            path: PathBuf::from("/usr/local/bin/tool"),
            version: Ok(line.into()),
        }
    }

    #[test]
    fn pinned_kind_passes_another_warns_none_fails() {
        let ok = kind_tool(found("kind v0.33.0 go1.26.8 linux/amd64"));
        assert_eq!(ok.status, CheckStatus::Ok);
        assert_eq!(
            ok.detail,
            "kind v0.33.0 go1.26.8 linux/amd64 (/usr/local/bin/tool)"
        );
        let old = kind_tool(found("kind v0.27.0 go1.23.4 linux/amd64"));
        assert_eq!(old.status, CheckStatus::Warn);
        assert!(
            old.detail.contains("built for kind v0.33.0"),
            "{}",
            old.detail
        );
        let missing = kind_tool(Tool::Missing);
        assert_eq!(missing.status, CheckStatus::Fail);
        assert_eq!(missing.detail, "not found on PATH");
        assert!(
            missing
                .fix
                .unwrap()
                .starts_with("mise install (mise.toml pins kind 0.33.0)")
        );
        let broken = kind_tool(Tool::Found {
            path: PathBuf::from("/bin/kind"),
            version: Err("exit status: 2: unknown command".into()),
        });
        assert_eq!(broken.status, CheckStatus::Fail);
        assert!(broken.detail.contains("does not say its version"));
        assert_eq!(kind_tool(found("kind dev")).status, CheckStatus::Warn);
    }

    #[test]
    fn k3s_version_is_read_from_its_plus_suffixed_tag() {
        let ok = k3s_tool(found("k3s version v1.32.5+k3s1 (8e8f2a47)"));
        assert_eq!(ok.status, CheckStatus::Ok);
        let old = k3s_tool(found("k3s version v1.29.15+k3s1 (1a2b3c4d)"));
        assert_eq!(old.status, CheckStatus::Warn);
        assert!(old.detail.contains("Kubernetes 1.32 and later"));
        let missing = k3s_tool(Tool::Missing);
        assert_eq!(missing.status, CheckStatus::Fail);
        assert!(missing.fix.unwrap().contains("K8S_DEV_PROVIDER"));
    }

    #[test]
    fn k3s_kubeconfig_check_splits_problem_and_fix() {
        let path = Path::new("/etc/rancher/k3s/k3s.yaml");
        let missing = k3s_kubeconfig(
            path,
            k3s::read_kubeconfig(Path::new("/nonexistent/k3s.yaml")),
        );
        assert_eq!(missing.status, CheckStatus::Fail);
        assert!(
            missing.detail.contains("does not exist"),
            "{}",
            missing.detail
        );
        assert!(missing.fix.unwrap().starts_with("install it"));
        let garbage = k3s_kubeconfig(path, Ok("- a\n".into()));
        assert_eq!(garbage.status, CheckStatus::Fail);
        assert!(
            garbage
                .fix
                .unwrap()
                .starts_with("point K8S_DEV_K3S_KUBECONFIG")
        );
        let good = "clusters: [{name: default, cluster: {server: https://127.0.0.1:6443}}]\n\
                    users: [{name: default, user: {token: t}}]\n\
                    contexts: [{name: default, context: {cluster: default, user: default}}]\n";
        assert_eq!(
            k3s_kubeconfig(path, Ok(good.into())).status,
            CheckStatus::Ok
        );
    }

    #[test]
    fn k3s_registries_check_follows_the_plan() {
        assert_eq!(
            k3s_registries(&Ok(RegistriesPlan::UpToDate)).status,
            CheckStatus::Ok
        );
        let stale = k3s_registries(&Ok(RegistriesPlan::Write {
            content: String::new(),
            changed: vec!["localhost:5000".into()],
        }));
        assert_eq!(stale.status, CheckStatus::Warn);
        assert!(
            stale
                .detail
                .ends_with("does not mirror localhost:5000 to the kit's registry")
        );
        let broken = k3s_registries(&Err(anyhow!(
            "/etc/rancher/k3s/registries.yaml is not a mapping"
        )));
        assert_eq!(broken.status, CheckStatus::Fail);
    }

    #[test]
    fn registry_check_names_each_node_that_cannot_reach_it() {
        let url = "http://openshell-registry:5000/v2/";
        let ok = ExecOutput {
            exit_code: 0,
            output: String::new(),
        };
        let all = registry_from_nodes(
            url,
            &[
                ("a-control-plane".into(), Ok(ok.clone())),
                ("a-worker".into(), Ok(ok.clone())),
            ],
        );
        assert_eq!(all.status, CheckStatus::Ok);
        assert_eq!(
            all.detail,
            "http://openshell-registry:5000/v2/ answers from 2 nodes"
        );
        let one = registry_from_nodes(
            url,
            &[
                ("a-control-plane".into(), Ok(ok)),
                (
                    "a-worker".into(),
                    Ok(ExecOutput {
                        exit_code: 6,
                        output: "curl: (6) Could not resolve host: openshell-registry\n".into(),
                    }),
                ),
            ],
        );
        assert_eq!(one.status, CheckStatus::Fail);
        assert_eq!(
            one.detail,
            "http://openshell-registry:5000/v2/ does not answer from a-worker: exit 6: curl: (6) Could not resolve host: openshell-registry"
        );
        assert!(one.fix.is_some());
        assert_eq!(registry_from_nodes(url, &[]).status, CheckStatus::Skip);
        assert_eq!(registry_probe(url).last().unwrap(), url);
    }

    #[test]
    fn hosts_files_check_finds_missing_and_edited_files() {
        let want = super::super::kind::hosts_files(&crate::provider::example_registry()).unwrap();
        let good: Vec<Option<String>> = want.iter().map(|f| Some(f.content.clone())).collect();
        let ok = kind_hosts_files(
            &want,
            &[("n1".into(), good.clone()), ("n2".into(), good.clone())],
        );
        assert_eq!(ok.status, CheckStatus::Ok);
        assert_eq!(
            ok.detail,
            "2 nodes send openshell-registry:5000 and localhost:5000 to the kit's registry"
        );
        let bad = kind_hosts_files(
            &want,
            &[
                ("n1".into(), vec![good[0].clone(), None]),
                ("n2".into(), vec![Some("x".into()), good[1].clone()]),
            ],
        );
        assert_eq!(bad.status, CheckStatus::Fail);
        assert_eq!(
            bad.detail,
            "n1: /etc/containerd/certs.d/localhost:5000/hosts.toml is missing; n2: /etc/containerd/certs.d/openshell-registry:5000/hosts.toml differs"
        );
    }
}
