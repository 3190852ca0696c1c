// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

use std::io::Write;

use crate::engine::{docker_sock, explain, resolve, shell_exports};
use crate::env::Env;

/// Find the container engine (Docker or Podman) and its socket, and print it as shell exports.
///
/// Prints `export DOCKER_HOST=…`, `export K8S_DEV_ENGINE=docker|podman` and, for a unix socket,
/// `export DOCKER_SOCK=…` (the path k3d bind-mounts into its tools container), values quoted
/// for `sh`. An engine is chosen only after its API answered. Exits 1 with a one-line error
/// naming the fix when none answers.
#[derive(Debug, clap::Args)]
#[command(after_long_help = AFTER_HELP)]
pub struct EngineArgs {
    /// Print one JSON object instead: {"engine","host","source","version"}
    #[arg(long)]
    json: bool,
    /// Also list every candidate tried and why it was chosen or rejected (on stderr, so stdout
    /// stays evalable)
    #[arg(long)]
    explain: bool,
}

const AFTER_HELP: &str = "\
Search order:
  DOCKER_HOST when set (unix:// or tcp://; used as is, an error if it does not answer)
  the active docker context (DOCKER_CONTEXT, else currentContext in $DOCKER_CONFIG/config.json)
  /var/run/docker.sock, ~/.docker/run/docker.sock (Docker Desktop),
  ~/.colima/$COLIMA_PROFILE/docker.sock, ~/.colima/default/docker.sock, ~/.orbstack/run/docker.sock,
  ~/.rd/docker.sock (Rancher Desktop)
  Podman: macOS `podman machine inspect` (fallback ~/.local/share/containers/podman/machine/podman.sock);
  Linux $XDG_RUNTIME_DIR/podman/podman.sock (else /run/user/<uid>/podman/podman.sock), /run/podman/podman.sock
K8S_DEV_ENGINE=docker|podman (or CONTAINER_ENGINE) searches that engine's places first and
accepts only that engine. Docker or Podman is decided from the API, not the path.

Examples:
  eval \"$(k8s-dev-helper engine)\"
  k8s-dev-helper engine --json
  k8s-dev-helper engine --explain >/dev/null";

impl EngineArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let env = Env::from_process();
        let resolution = resolve(&env);
        if self.explain {
            eprint!("{}", explain(&resolution.steps, &env));
        }
        let resolved = resolution.result?;
        let out = if self.json {
            format!("{}\n", serde_json::to_string(&resolved)?)
        } else {
            let sock = resolved
                .socket_path()
                .map(|path| docker_sock(env.os, path, std::fs::canonicalize(path).ok()));
            shell_exports(&resolved, sock.as_deref())
        };
        std::io::stdout().write_all(out.as_bytes())?;
        Ok(())
    }
}
