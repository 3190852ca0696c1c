// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail};

use super::credentials::CredentialEnv;
use crate::image::auth::Locations;
use crate::image::dockerfile;
use crate::image::layer::{Compression, LayerFile};
use crate::image::manifest::{ConfigChanges, Platform, normalize_port};
use crate::image::prefix::{self, PrefixReport};
use crate::image::publish::{self, Report, Request};
use crate::image::reference::{Address, Reference, is_insecure};
use crate::image::registry::{Client, Registries, Repo};
use crate::runtime;
use crate::{engine, exit};

/// Build and push images without a container engine
#[derive(Debug, clap::Subcommand)]
pub enum ImageCommand {
    // Boxed: the flags make this variant far larger than the other subcommands.
    Publish(Box<PublishArgs>),
}

impl ImageCommand {
    pub fn run(self) -> anyhow::Result<()> {
        match self {
            ImageCommand::Publish(args) => args.run(),
        }
    }
}

/// What the image is made of, from the flags or from a Dockerfile.
struct Source {
    base: String,
    /// The fix to name when the base cannot be read.
    base_hint: Option<String>,
    files: Vec<LayerFile>,
    changes: ConfigChanges,
    /// The history line of the new layer.
    created_by: String,
    prefix: Option<PrefixReport>,
}

const EXAMPLES: &str = "\
Examples:
  k8s-dev-helper image publish --base localhost:5000/base:dev \\
      --file target/debug/gw:/usr/local/bin/gw:755 --entrypoint /usr/local/bin/gw \\
      --tag localhost:5000/openshell-gateway:dev
  k8s-dev-helper image publish --dockerfile deploy/docker/Dockerfile.gateway \\
      --context target/debug --tag localhost:5000/openshell-gateway:dev --json
  # OpenShell: the repository root as context, the base from a reachable mirror
  k8s-dev-helper image publish --dockerfile deploy/docker/Dockerfile.gateway --context . \\
      --build-arg GATEWAY_BASE_IMAGE=mirror.lan/distroless/cc-debian13:nonroot@sha256:… \\
      --tag localhost:5000/openshell-gateway:dev
  # RUN before the binary's COPY: an engine builds that part once, edits go on top
  k8s-dev-helper image publish --engine-prefix --dockerfile deploy/docker/Dockerfile.supervisor \\
      --context . --tag localhost:5000/openshell-supervisor:dev

Credentials come from ~/.docker/config.json ($DOCKER_CONFIG: auths, credHelpers, credsStore)
or Podman's auth.json ($REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json), asked for
only when a registry wants them; a registry's CA from --certs-dir DIR/HOST[:PORT]/*.crt.

Exit codes: 0 published (or already up to date), 1 error, 2 usage,
4 the Dockerfile needs a container engine (the message names the line).";

/// Assemble an OCI image from a base image and host files and push it over the registry API
///
/// The base's layers are never downloaded: they are mounted or copied registry to registry.
/// The files become one deterministic layer (same input, same digest). The manifest is pushed
/// last, so a failed publish never moves a tag. Prints `registry/repo@sha256:…` per repository.
#[derive(Debug, clap::Args)]
#[command(after_long_help = EXAMPLES)]
pub struct PublishArgs {
    /// Base image: REGISTRY/REPO[:TAG|@DIGEST], a Docker Hub name (`alpine`), or `scratch`
    #[arg(
        long,
        value_name = "REF|scratch",
        required_unless_present = "dockerfile",
        conflicts_with = "dockerfile"
    )]
    base: Option<String>,
    /// A host file (or directory tree) for the new layer: SRC:DEST[:MODE], MODE in octal
    /// (default: the source's mode); DEST ending in '/' keeps the file name. Repeatable: all
    /// go into one layer
    #[arg(
        long = "file",
        value_name = "SRC:DEST[:MODE]",
        conflicts_with = "dockerfile"
    )]
    files: Vec<String>,
    /// Publish this Dockerfile's final stage directly when it only uses ARG, FROM, COPY, USER,
    /// WORKDIR, ENV, LABEL, EXPOSE, ENTRYPOINT and CMD; anything else exits 4
    #[arg(long, value_name = "PATH")]
    dockerfile: Option<PathBuf>,
    /// Build context for COPY sources (default: the Dockerfile's directory)
    #[arg(long, value_name = "DIR", requires = "dockerfile")]
    context: Option<PathBuf>,
    /// Dockerfile ARG value, overriding its default (repeatable; KEY alone takes the value from
    /// the environment, as docker build does). BuildKit's platform ARGs (TARGETARCH, …) are set
    /// from --platform
    #[arg(long = "build-arg", value_name = "K=V", requires = "dockerfile")]
    build_args: Vec<String>,
    /// Entrypoint: a JSON array, or words split at whitespace
    #[arg(long, value_name = "JSON|WORDS")]
    entrypoint: Option<String>,
    /// Default arguments: a JSON array, or words split at whitespace
    #[arg(long, value_name = "JSON|WORDS")]
    cmd: Option<String>,
    /// User (name or uid[:gid]) the container runs as
    #[arg(long)]
    user: Option<String>,
    /// Working directory of the container
    #[arg(long)]
    workdir: Option<String>,
    /// Environment variable (repeatable; replaces the base's value of the same key)
    #[arg(long = "env", value_name = "K=V")]
    env: Vec<String>,
    /// Label (repeatable)
    #[arg(long = "label", value_name = "K=V")]
    labels: Vec<String>,
    /// Exposed port (repeatable)
    #[arg(long = "expose", value_name = "PORT[/PROTO]")]
    expose: Vec<String>,
    /// Where to push: REGISTRY/REPO:TAG (repeatable; tags in several repositories are each
    /// pushed)
    #[arg(long = "tag", value_name = "REF", required = true)]
    tags: Vec<String>,
    /// Platform picked from a multi-arch base [default: linux/<host arch>]
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    platform: Option<String>,
    /// Layer compression (zstd: fast, read by Podman and containerd; gzip: for Docker 20.10)
    #[arg(long, value_enum, default_value = "zstd")]
    compression: Compression,
    /// Compression level [default: 1]
    #[arg(long, value_name = "N")]
    compression_level: Option<u32>,
    /// Registry reached over plain HTTP (repeatable; loopback registries always are)
    #[arg(
        long = "insecure-registry",
        value_name = "HOST[:PORT]",
        env = "K8S_DEV_INSECURE_REGISTRIES",
        value_delimiter = ','
    )]
    insecure: Vec<String>,
    /// Directory of per-registry CAs: DIR/HOST[:PORT]/*.crt are trusted for that registry,
    /// on top of the system's roots (repeatable) [default: ~/.config/containers/certs.d,
    /// /etc/containers/certs.d, /etc/docker/certs.d]. A loopback registry with a CA there is
    /// spoken to over HTTPS
    #[arg(long = "certs-dir", value_name = "DIR")]
    certs_dirs: Vec<PathBuf>,
    #[command(flatten)]
    credentials: CredentialEnv,
    /// Timestamp of every file and of the image, in seconds since 1970 [default: 0]
    #[arg(long, value_name = "SECONDS", env = "SOURCE_DATE_EPOCH")]
    source_date_epoch: Option<u64>,
    /// Layer cache directory [default: $XDG_CACHE_HOME/k8s-dev, else ~/.cache/k8s-dev]
    #[arg(long, value_name = "DIR", env = "K8S_DEV_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// The XDG cache base, read from the environment only (the cache's default parent).
    #[arg(long, env = "XDG_CACHE_HOME", hide = true)]
    xdg_cache_home: Option<PathBuf>,
    /// Always tar and compress, even when no input changed
    #[arg(long)]
    no_cache: bool,
    /// When the Dockerfile's final stage needs an engine only before its last daemonless
    /// instructions (RUN, then COPY of the binary), build that prefix once per change of it
    /// with the docker CLI (or podman's, without docker) against DOCKER_HOST, else the engine
    /// found, push it as REPO:prefix-<hash>, and publish the rest on top of it. Keep
    /// BuildKit-only syntax (COPY --chmod, RUN --mount) after the last RUN when the engine's
    /// builder is the legacy one
    #[arg(long, requires = "dockerfile")]
    engine_prefix: bool,
    /// Print one JSON object (repo, tags, digest, bytes and per-phase milliseconds)
    #[arg(long)]
    json: bool,
    /// Word fixes as settings of the k8s:dev tasks' component (gateway or supervisor): the
    /// build args come from K8S_DEV_<COMPONENT>_BUILD_ARGS, the context and staging
    /// directory from K8S_DEV_IMAGE_CONTEXT and K8S_DEV_IMAGE_STAGING_DIR
    #[arg(long, value_name = "COMPONENT", hide = true)]
    settings_of: Option<TaskComponent>,
}

/// A component of the k8s:dev tasks, for `--settings-of`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum TaskComponent {
    Gateway,
    Supervisor,
}

impl TaskComponent {
    fn build_args_setting(self) -> &'static str {
        match self {
            TaskComponent::Gateway => "K8S_DEV_GATEWAY_BUILD_ARGS",
            TaskComponent::Supervisor => "K8S_DEV_SUPERVISOR_BUILD_ARGS",
        }
    }
}

/// `message` with the flags a fix names put as the task settings that give them.
fn task_wording(message: &str) -> String {
    message.replace(
        dockerfile::CONTEXT_FIX,
        "check K8S_DEV_IMAGE_STAGING_DIR and K8S_DEV_IMAGE_CONTEXT (sync stages each binary \
         there, inside the context)",
    )
}

impl PublishArgs {
    pub fn run(self) -> anyhow::Result<()> {
        let published = self.request().and_then(|(request, prefix)| {
            let mut report = runtime::block_on(publish::publish(&request))?;
            report.prefix = prefix;
            Ok(report)
        });
        match published {
            Ok(report) => self.print(&report),
            // The exit code a caller branches on (4: needs an engine) survives the rewording.
            Err(e) if self.settings_of.is_some() && exit::code_of(&e) != exit::NEEDS_ENGINE => {
                Err(anyhow::anyhow!(task_wording(&format!("{e:#}"))))
            }
            Err(e) => Err(e),
        }
    }

    fn request(&self) -> anyhow::Result<(Request, Option<PrefixReport>)> {
        for entry in &self.insecure {
            Address::parse(entry.trim())
                .with_context(|| format!("--insecure-registry {entry:?}"))?;
        }
        let platform = match &self.platform {
            Some(p) => Platform::parse(p)?,
            None => Platform::host(),
        };
        let tags = self
            .tags
            .iter()
            .map(|t| {
                let r = Reference::parse(t).context("reading --tag")?;
                if r.digest.is_some() {
                    bail!("--tag {t}: takes a tag, not a digest");
                }
                Ok(r)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let Source {
            base,
            base_hint,
            files,
            mut changes,
            created_by,
            prefix,
        } = match &self.dockerfile {
            Some(path) => self.dockerfile_source(path, &platform, &tags[0])?,
            None => {
                let files = self
                    .files
                    .iter()
                    .map(|f| parse_file(f))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let dests: Vec<&str> = files.iter().map(|f| f.dest.as_str()).collect();
                Source {
                    base: self.base.clone().expect("clap requires --base"),
                    base_hint: None,
                    created_by: format!("COPY {} # k8s-dev-helper image publish", dests.join(" ")),
                    files,
                    changes: ConfigChanges::default(),
                    prefix: None,
                }
            }
        };
        // Absolute sources keep the layer cache's keys independent of the working directory.
        let files = files
            .into_iter()
            .map(|mut f| {
                f.source = std::path::absolute(&f.source)
                    .with_context(|| format!("resolving {}", f.source.display()))?;
                Ok(f)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.apply_overrides(&mut changes)?;
        let cache_dir = if self.no_cache {
            None
        } else {
            self.cache_dir.clone().or_else(|| {
                self.xdg_cache_home
                    .clone()
                    .filter(|d| d.is_absolute())
                    .or_else(|| dirs::home_dir().map(|h| h.join(".cache")))
                    .map(|d| d.join("k8s-dev"))
            })
        };
        let request = Request {
            base,
            base_hint,
            platform,
            files,
            created_by,
            changes,
            tags,
            compression: self.compression,
            level: self
                .compression_level
                .unwrap_or(self.compression.default_level()),
            epoch: self.source_date_epoch.unwrap_or(0),
            registries: self.registries(),
            cache_dir,
        };
        Ok((request, prefix))
    }

    /// Base, layer files, config changes, history line and (with `--engine-prefix`) the
    /// engine-built prefix, from `--dockerfile`. Local checks (the Dockerfile, the staged
    /// files it copies) come before any engine or registry work.
    fn dockerfile_source(
        &self,
        path: &Path,
        platform: &Platform,
        target: &Reference,
    ) -> anyhow::Result<Source> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            anyhow::anyhow!(
                "reading Dockerfile {}: {e}; check --dockerfile",
                path.display()
            )
        })?;
        let args = self
            .build_args
            .iter()
            .filter_map(|kv| build_arg(kv, &|k| std::env::var(k).ok()).transpose())
            .collect::<anyhow::Result<Vec<_>>>()?;
        let label = path.display().to_string();
        let context = match &self.context {
            Some(c) => c.clone(),
            None => path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
        };
        // Absolute, as the sources are made below: a source must start with its context.
        let context = std::path::absolute(&context)
            .with_context(|| format!("resolving --context {}", context.display()))?;
        let instructions = dockerfile::parse(&text).with_context(|| format!("parsing {label}"))?;
        let origin = dockerfile::base_of(&instructions, &label, &args, platform);
        let setting = self.settings_of.map(TaskComponent::build_args_setting);
        let hint = origin.as_ref().ok().map(|o| base_hint(&label, o, setting));
        let (instructions, split) =
            match dockerfile::plan_instructions(&instructions, &label, &args, platform, &[]) {
                Ok(_) => (instructions, None),
                Err(e) if self.engine_prefix && exit::code_of(&e) == exit::NEEDS_ENGINE => {
                    let Some(split) = prefix::split(&text, &args, platform)? else {
                        return Err(e);
                    };
                    let key = prefix::key(&split, &args, platform, &context);
                    let tag = format!("prefix-{}", &key[..16]);
                    let image = format!("{}/{}:{tag}", target.registry, target.repository);
                    (
                        prefix::tail_instructions(&split, &image),
                        Some((split, image, tag)),
                    )
                }
                Err(e) => return Err(e),
            };
        let mut plan = dockerfile::plan_instructions(&instructions, &label, &args, platform, &[])?;
        // A missing staged binary is reported before an engine or a registry is asked anything
        // (unless a source names the base image's ENV, known only once the base is read).
        if let Err(e) = dockerfile::layer_files(&plan, &context, &label)
            && dockerfile::copy_sources_known(&instructions)
        {
            return Err(e);
        }
        let prefix = match &split {
            Some((split, image, tag)) => {
                let origin = origin.as_ref().map_err(|e| anyhow::anyhow!("{e:#}"))?;
                Some(self.engine_prefix(
                    split,
                    &label,
                    &context,
                    &args,
                    platform,
                    target,
                    image,
                    tag,
                    origin,
                    hint.as_deref(),
                )?)
            }
            None => None,
        };
        // On top of a prefix the base is our own image: the mirror hint does not apply.
        let base_hint = if prefix.is_some() { None } else { hint };
        if plan.substitutes && plan.base != "scratch" {
            // `$VAR` may name the base image's ENV (`ENV PATH=/app:$PATH`): read it, plan again.
            let base_env = runtime::block_on(publish::base_env(
                &plan.base,
                platform,
                &self.registries(),
                base_hint.as_deref(),
            ))?;
            plan =
                dockerfile::plan_instructions(&instructions, &label, &args, platform, &base_env)?;
        }
        let files = dockerfile::layer_files(&plan, &context, &label)?;
        let created_by = plan
            .copies
            .iter()
            .map(|c| c.text.as_str())
            .collect::<Vec<_>>()
            .join("; ");
        Ok(Source {
            base: plan.base,
            base_hint,
            files,
            changes: plan.changes,
            created_by,
            prefix,
        })
    }

    /// The engine-built prefix image `image` (`tag` in the target repository), built and
    /// pushed only when the registry lacks it.
    #[allow(clippy::too_many_arguments)]
    fn engine_prefix(
        &self,
        split: &prefix::Split,
        label: &str,
        context: &Path,
        args: &[(String, String)],
        platform: &Platform,
        target: &Reference,
        image: &str,
        tag: &str,
        origin: &dockerfile::Plan,
        hint: Option<&str>,
    ) -> anyhow::Result<PrefixReport> {
        let start = Instant::now();
        if *platform != Platform::host() {
            bail!("--engine-prefix builds for the host platform only; drop --platform {platform}");
        }
        let repo = Repo {
            registry: target.registry.clone(),
            name: target.repository.clone(),
        };
        let client = Client::new(&self.registries())?;
        let exists = runtime::block_on(client.head_manifest(&repo, tag))?.is_some();
        if !exists {
            // DOCKER_HOST as given, else the engine the helper finds; checked to answer before
            // anything is built.
            let engine = engine::resolve_from_process().map_err(|e| {
                anyhow::anyhow!(
                    "{label} lines 1-{} need a container engine (--engine-prefix builds them \
                     once, then reuses them), and none answers: {e:#}",
                    split.prefix_end
                )
            })?;
            let cli = prefix::EngineCli::find(&engine.host, &|name| which::which(name).ok())?;
            eprintln!(
                "building {label} lines 1-{} with {} as {image} (once per change of them)",
                split.prefix_end,
                cli.name()
            );
            let plain_http = is_insecure(&target.registry, &self.insecure);
            let built = prefix::build_and_push(
                split, label, image, context, args, platform, &cli, plain_http,
            );
            if let Err(err) = built {
                // The engine could not build: if that is because the base cannot be reached,
                // say so with the build-arg that points it at a mirror.
                let message = format!("{err:#}");
                let about_the_base = Reference::parse(&origin.base).is_ok_and(|r| {
                    message.contains(&r.registry)
                        || message.contains("pull")
                        || message.contains("manifest")
                });
                if origin.base != "scratch"
                    && about_the_base
                    && let Err(base_err) = runtime::block_on(publish::check_base(
                        &origin.base,
                        platform,
                        &self.registries(),
                        hint,
                    ))
                {
                    return Err(base_err);
                }
                return Err(err);
            }
        }
        Ok(PrefixReport {
            image: image.to_string(),
            built: !exists,
            ms: u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }

    /// Plain-HTTP registries, and where credentials and CAs are.
    fn registries(&self) -> Registries {
        Registries {
            insecure: self.insecure.clone(),
            locations: Locations::of(&self.credentials.auth_env(), &self.certs_dirs),
        }
    }

    fn apply_overrides(&self, changes: &mut ConfigChanges) -> anyhow::Result<()> {
        if let Some(e) = &self.entrypoint {
            changes.entrypoint = Some(command("--entrypoint", e)?);
        }
        if let Some(c) = &self.cmd {
            changes.cmd = Some(command("--cmd", c)?);
        }
        if self.user.is_some() {
            changes.user.clone_from(&self.user);
        }
        if self.workdir.is_some() {
            changes.workdir.clone_from(&self.workdir);
        }
        for kv in &self.env {
            changes.env.push(key_value("--env", kv)?);
        }
        for kv in &self.labels {
            changes.labels.push(key_value("--label", kv)?);
        }
        for port in &self.expose {
            changes
                .expose
                .push(normalize_port(port).context("reading --expose")?);
        }
        Ok(())
    }

    fn print(&self, report: &Report) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string(report)?);
        } else {
            for r in &report.refs {
                println!("{r}");
            }
        }
        let what = if report.unchanged {
            "already up to date".to_string()
        } else {
            format!(
                "uploaded {}, skipped {}",
                human_bytes(report.bytes_uploaded),
                human_bytes(report.bytes_skipped)
            )
        };
        eprintln!(
            "published {} ({what}; layer {} ms{}, upload {} ms, manifest {} ms, total {} ms)",
            report.tags.join(", "),
            report.layer_ms,
            if report.layer_cached { " cached" } else { "" },
            report.upload_ms,
            report.manifest_ms,
            report.total_ms
        );
        Ok(())
    }
}

/// `SRC:DEST[:MODE]`; SRC may itself contain ':' (split from the right).
fn parse_file(spec: &str) -> anyhow::Result<LayerFile> {
    let parts: Vec<&str> = spec.split(':').collect();
    let is_mode =
        |s: &str| !s.is_empty() && s.len() <= 4 && s.chars().all(|c| ('0'..='7').contains(&c));
    let (src, dest, mode) = match parts.as_slice() {
        [.., dest, mode] if parts.len() >= 3 && is_mode(mode) && dest.starts_with('/') => (
            parts[..parts.len() - 2].join(":"),
            dest.to_string(),
            Some(u32::from_str_radix(mode, 8).expect("checked octal")),
        ),
        [.., dest] if parts.len() >= 2 => {
            (parts[..parts.len() - 1].join(":"), dest.to_string(), None)
        }
        _ => bail!(
            "--file {spec:?}: want SRC:DEST[:MODE], e.g. target/debug/gw:/usr/local/bin/gw:755"
        ),
    };
    if src.is_empty() || !dest.starts_with('/') {
        bail!(
            "--file {spec:?}: want SRC:DEST[:MODE] with an absolute DEST, e.g. target/debug/gw:/usr/local/bin/gw:755"
        );
    }
    let dest = if dest.ends_with('/') {
        let name = Path::new(&src)
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("--file {spec:?}: SRC has no file name"))?;
        format!("{dest}{name}")
    } else {
        dest
    };
    Ok(LayerFile {
        source: PathBuf::from(src),
        context: None,
        dest,
        mode,
        uid: 0,
        gid: 0,
    })
}

/// The fix named when a Dockerfile's base cannot be read: the build-arg that points it at a
/// mirror, or (a literal FROM) how to get one.
fn base_hint(label: &str, origin: &dockerfile::Plan, setting: Option<&str>) -> String {
    let rest = Reference::parse(&origin.base).map_or_else(
        |_| "…".to_string(),
        |r| {
            let mut rest = r.repository.clone();
            if let Some(tag) = &r.tag {
                rest.push_str(&format!(":{tag}"));
            }
            if let Some(digest) = &r.digest {
                rest.push_str(&format!("@{digest}"));
            }
            rest
        },
    );
    let set = |arg: &str| match setting {
        Some(name) => format!("add {arg}=<mirror>/{rest} to {name}"),
        None => format!("set --build-arg {arg}=<mirror>/{rest}"),
    };
    match &origin.base_arg {
        Some(arg) => format!("{} to pull it from a mirror you can reach", set(arg)),
        None => format!(
            "{label}:{} names it directly; make its registry reachable, or take it from an \
             ARG (ARG BASE={}, FROM ${{BASE}}) and {}",
            origin.base_line,
            origin.base,
            set("BASE")
        ),
    }
}

/// `--build-arg KEY=VALUE`, or `KEY` alone for the value in the environment (`env`); a `KEY`
/// the environment lacks is left out, as `docker build` leaves it.
fn build_arg(
    kv: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Option<(String, String)>> {
    if kv.contains('=') {
        return key_value("--build-arg", kv).map(Some);
    }
    let valid = !kv.is_empty() && kv.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        bail!("--build-arg {kv:?}: want KEY=VALUE, or KEY to take its value from the environment");
    }
    Ok(env(kv).map(|v| (kv.to_string(), v)))
}

fn key_value(flag: &str, kv: &str) -> anyhow::Result<(String, String)> {
    match kv.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => bail!("{flag} {kv:?}: want KEY=VALUE"),
    }
}

/// A JSON array of strings, or words split at whitespace (`""` clears).
fn command(flag: &str, value: &str) -> anyhow::Result<Vec<String>> {
    if value.trim_start().starts_with('[') {
        return serde_json::from_str(value)
            .with_context(|| format!("{flag} {value:?}: not a JSON array of strings"));
    }
    Ok(value.split_whitespace().map(String::from).collect())
}

fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1 << 20))
    } else if n >= 1 << 10 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} B")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_specs() {
        let f = parse_file("target/debug/gw:/usr/local/bin/gw:755").unwrap();
        assert_eq!(f.source, PathBuf::from("target/debug/gw"));
        assert_eq!(f.dest, "/usr/local/bin/gw");
        assert_eq!(f.mode, Some(0o755));
        let f = parse_file("c:/x/gw:/bin/").unwrap();
        assert_eq!(f.source, PathBuf::from("c:/x/gw"));
        assert_eq!(f.dest, "/bin/gw");
        assert_eq!(f.mode, None);
        assert!(parse_file("gw").is_err());
        assert!(parse_file("gw:relative").is_err());
    }

    #[test]
    fn build_args_with_and_without_values() {
        let env = |k: &str| (k == "FROM_ENV").then(|| "v".to_string());
        assert_eq!(
            build_arg("A=b=c", &env).unwrap(),
            Some(("A".into(), "b=c".into()))
        );
        assert_eq!(
            build_arg("FROM_ENV", &env).unwrap(),
            Some(("FROM_ENV".into(), "v".into()))
        );
        assert_eq!(build_arg("UNSET", &env).unwrap(), None);
        assert!(build_arg("not a key", &env).is_err());
        assert!(build_arg("=x", &env).is_err());
    }

    #[test]
    fn base_hints_name_the_build_arg_or_how_to_get_one() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let text = format!(
            "ARG GATEWAY_BASE_IMAGE=gcr.io/distroless/cc:nonroot@{digest}\nFROM ${{GATEWAY_BASE_IMAGE}}\n"
        );
        let instructions = dockerfile::parse(&text).unwrap();
        let origin = dockerfile::base_of(&instructions, "D", &[], &Platform::host()).unwrap();
        assert_eq!(
            base_hint("D", &origin, None),
            format!(
                "set --build-arg GATEWAY_BASE_IMAGE=<mirror>/distroless/cc:nonroot@{digest} to \
                 pull it from a mirror you can reach"
            )
        );
        let instructions = dockerfile::parse("FROM alpine:3.22 AS s\nRUN x\n").unwrap();
        let origin = dockerfile::base_of(&instructions, "D", &[], &Platform::host()).unwrap();
        assert_eq!(
            base_hint("D", &origin, None),
            "D:1 names it directly; make its registry reachable, or take it from an ARG \
             (ARG BASE=alpine:3.22, FROM ${BASE}) and set --build-arg \
             BASE=<mirror>/library/alpine:3.22"
        );
    }

    #[test]
    fn under_the_tasks_fixes_name_their_settings_not_flags() {
        let text = "ARG SUPERVISOR_BASE_IMAGE=alpine:3.22\nFROM ${SUPERVISOR_BASE_IMAGE}\n";
        let instructions = dockerfile::parse(text).unwrap();
        let origin = dockerfile::base_of(&instructions, "D", &[], &Platform::host()).unwrap();
        assert_eq!(
            base_hint("D", &origin, Some("K8S_DEV_SUPERVISOR_BUILD_ARGS")),
            "add SUPERVISOR_BASE_IMAGE=<mirror>/library/alpine:3.22 to \
             K8S_DEV_SUPERVISOR_BUILD_ARGS to pull it from a mirror you can reach"
        );
        let missing = format!(
            "COPY source x (D:3): not found; stage it at /c/x or {}",
            dockerfile::CONTEXT_FIX
        );
        assert_eq!(
            task_wording(&missing),
            "COPY source x (D:3): not found; stage it at /c/x or check \
             K8S_DEV_IMAGE_STAGING_DIR and K8S_DEV_IMAGE_CONTEXT (sync stages each binary \
             there, inside the context)"
        );
    }

    #[test]
    fn commands_and_pairs() {
        assert_eq!(
            command("--cmd", r#"["a b","c"]"#).unwrap(),
            vec!["a b", "c"]
        );
        assert_eq!(
            command("--cmd", "serve --port 1").unwrap(),
            vec!["serve", "--port", "1"]
        );
        assert!(command("--cmd", "[1]").is_err());
        assert_eq!(
            key_value("--env", "A=b=c").unwrap(),
            ("A".into(), "b=c".into())
        );
        assert!(key_value("--env", "=x").is_err());
    }
}
