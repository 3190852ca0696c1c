// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Where registry credentials are kept, from the environment: the flags every command that
//! reads them flattens in (hidden: they are set through the variables Docker and Podman
//! read, never on a command line of ours).

use std::ffi::OsString;
use std::path::PathBuf;

use crate::image::auth::AuthEnv;

#[derive(Debug, Clone, clap::Args)]
pub struct CredentialEnv {
    /// Docker's configuration directory (config.json: auths, credHelpers, credsStore), read
    /// from the environment only [default: ~/.docker]
    #[arg(long, env = "DOCKER_CONFIG", hide = true)]
    docker_config: Option<OsString>,
    /// Podman's credential file, read from the environment only [default:
    /// $XDG_RUNTIME_DIR/containers/auth.json, then ~/.config/containers/auth.json]
    #[arg(long, env = "REGISTRY_AUTH_FILE", hide = true)]
    registry_auth_file: Option<OsString>,
    /// Where Podman's credential file is by default, read from the environment only.
    #[arg(long, env = "XDG_RUNTIME_DIR", hide = true)]
    xdg_runtime_dir: Option<OsString>,
}

impl CredentialEnv {
    /// The locations' inputs (an empty variable counts as unset, as the XDG rules say).
    pub fn auth_env(&self) -> AuthEnv {
        // OsString, not PathBuf: clap refuses an empty PathBuf, and empty means unset.
        let set = |p: &Option<OsString>| p.clone().filter(|p| !p.is_empty()).map(PathBuf::from);
        AuthEnv {
            home: dirs::home_dir(),
            docker_config: set(&self.docker_config),
            registry_auth_file: set(&self.registry_auth_file),
            xdg_runtime_dir: set(&self.xdg_runtime_dir),
        }
    }
}
