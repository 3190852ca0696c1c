// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

use std::io::Write;
use std::path::PathBuf;

use crate::env::Env;
use crate::settings::{self, Origin, Settings};

/// Print the k8s-dev settings in effect: every K8S_DEV_* value with its default filled in,
/// derived values computed, and all of them validated
///
/// An empty variable counts as unset. Any invalid value exits 1 with one `error:` line per
/// problem, naming the setting and what it accepts. The task scripts `eval` the `--shell` form
/// once at start; `--markdown` and `--usage` print the docs generated from the same table.
#[derive(Debug, clap::Args)]
#[command(after_long_help = "Examples:
  k8s-dev-helper settings
  eval \"$(k8s-dev-helper settings --shell)\"
  k8s-dev-helper settings --json | jq -r .K8S_DEV_REGISTRY.value")]
pub struct SettingsArgs {
    /// `export NAME=value` lines (quoted for sh) for every setting, plain `NAME=value` for the
    /// read-only derived ones
    #[arg(long, group = "format")]
    shell: bool,
    /// One JSON object: {"K8S_DEV_…": {"value": string|null, "origin":
    /// "env|default|derived|computed|unset"}, …}
    #[arg(long, group = "format")]
    json: bool,
    /// The README's settings table (Markdown), from the table alone
    #[arg(long, group = "format")]
    markdown: bool,
    /// The settings part of `k8s-dev.sh --help`, from the table alone
    #[arg(long, group = "format")]
    usage: bool,
    /// The kit's directory, for the K8S_DEV_K3D_CONFIG default [default: config relative to the
    /// working directory]
    #[arg(long, value_name = "DIR")]
    kit_dir: Option<PathBuf>,
}

impl SettingsArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let out = if self.markdown {
            settings::markdown()
        } else if self.usage {
            settings::usage()
        } else {
            let settings = Settings::resolve(&Env::from_process(), self.kit_dir.as_deref())?;
            if self.shell {
                settings.shell()
            } else if self.json {
                format!("{}\n", serde_json::to_string(&settings.json())?)
            } else {
                render(&settings)
            }
        };
        std::io::stdout().write_all(out.as_bytes())?;
        Ok(())
    }
}

/// The human view: a heading, a blank line, `  NAME: value (origin)`.
fn render(settings: &Settings) -> String {
    let mut out = String::from("k8s-dev settings\n\n");
    for s in settings.iter() {
        let origin = match s.origin {
            Origin::Env => "set",
            Origin::Default => "default",
            Origin::Derived => "derived",
            Origin::Computed => "read-only",
            Origin::Unset => "unset",
        };
        out.push_str(&format!(
            "  {}: {} ({origin})\n",
            s.spec.name,
            s.value.as_deref().unwrap_or("")
        ));
    }
    out
}
