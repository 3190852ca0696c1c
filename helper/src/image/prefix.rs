// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! `--engine-prefix`: a Dockerfile whose final stage needs an engine only before its last
//! daemonless instructions (`RUN apt-get …` then `COPY bin …`) is split there. The prefix is
//! built and pushed with an engine once, tagged `prefix-<hash>` in the target repository, where
//! the hash covers the prefix text, build args, platform and the context files it copies; the
//! tail is published daemonless on top of it. The registry is the cache: an existing tag means
//! no engine run at all.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, anyhow, bail};
use sha2::{Digest, Sha256};

use super::dockerfile::{self, Instruction, words};
use super::manifest::Platform;
use crate::exit;

/// Bump when the split or the key changes, so old prefix tags stop matching.
const FORMAT: &str = "k8s-dev-prefix-v1";

/// What `--engine-prefix` did, for `--json`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PrefixReport {
    /// The engine-built image the tail was published on.
    pub image: String,
    /// False when the registry already had it (no engine ran).
    pub built: bool,
    pub ms: u64,
}

/// A Dockerfile cut in two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The Dockerfile text up to the last instruction that needs an engine (comments and
    /// heredocs as written).
    pub prefix_text: String,
    /// The last line of the prefix.
    pub prefix_end: usize,
    /// Global ARGs, a placeholder `FROM`, the final stage's ARGs and the daemonless tail, for
    /// [`tail_instructions`].
    tail: Vec<Instruction>,
    /// Where the final stage's FROM is in `tail`.
    from_index: usize,
    /// Context paths the prefix COPYs or ADDs (best effort: after global ARG substitution).
    pub sources: Vec<String>,
}

fn daemonless(inst: &Instruction, build_args: &[(String, String)], platform: &Platform) -> bool {
    let probe = [
        Instruction {
            line: inst.line,
            keyword: "FROM".into(),
            args: "scratch".into(),
        },
        inst.clone(),
    ];
    match dockerfile::plan_instructions(&probe, "probe", build_args, platform, &[]) {
        Ok(_) => true,
        Err(e) => exit::code_of(&e) != exit::NEEDS_ENGINE,
    }
}

/// Split `text` after the final stage's last instruction that needs an engine. `None` when no
/// instruction does (the plain publish handles it).
pub fn split(
    text: &str,
    build_args: &[(String, String)],
    platform: &Platform,
) -> anyhow::Result<Option<Split>> {
    let instructions = dockerfile::parse(text)?;
    let Some(final_from) = instructions.iter().rposition(|i| i.keyword == "FROM") else {
        return Ok(None);
    };
    let stage_names: Vec<String> = instructions[..final_from]
        .iter()
        .filter(|i| i.keyword == "FROM")
        .filter_map(|i| {
            let parts: Vec<&str> = i.args.split_whitespace().collect();
            let at = parts.iter().position(|p| p.eq_ignore_ascii_case("as"))?;
            parts.get(at + 1).map(|n| n.to_ascii_lowercase())
        })
        .collect();
    let from_is_stage = instructions[final_from]
        .args
        .split_whitespace()
        .find(|w| !w.starts_with("--"))
        .is_some_and(|image| stage_names.contains(&image.to_ascii_lowercase()));
    let last_engine = instructions[final_from + 1..]
        .iter()
        .rposition(|i| !daemonless(i, build_args, platform))
        .map(|i| i + final_from + 1)
        .or(from_is_stage.then_some(final_from));
    let Some(cut) = last_engine else {
        return Ok(None);
    };
    let prefix_end = instructions
        .get(cut + 1)
        .map_or(text.lines().count(), |next| next.line - 1);
    let prefix_text: String = text
        .lines()
        .take(prefix_end)
        .map(|l| format!("{l}\n"))
        .collect();

    let mut tail: Vec<Instruction> = instructions[..final_from]
        .iter()
        .take_while(|i| i.keyword != "FROM")
        .cloned()
        .collect();
    let from_index = tail.len();
    tail.push(instructions[final_from].clone());
    // The stage's ARGs stay declared for the tail's substitutions; its ENVs are in the prefix
    // image's config.
    tail.extend(
        instructions[final_from + 1..=cut]
            .iter()
            .filter(|i| i.keyword == "ARG")
            .cloned(),
    );
    tail.extend(instructions[cut + 1..].iter().cloned());

    let mut vars = dockerfile::platform_args(platform);
    vars.extend(build_args.iter().cloned());
    let sources = instructions[..=cut]
        .iter()
        .filter(|i| matches!(i.keyword.as_str(), "COPY" | "ADD"))
        .filter(|i| !i.args.contains("--from"))
        .flat_map(|i| {
            let mut w = words(&i.args, &vars).unwrap_or_default();
            w.retain(|a| !a.starts_with("--"));
            w.pop();
            w
        })
        .filter(|s| !s.contains("://"))
        .collect();
    Ok(Some(Split {
        prefix_text,
        prefix_end,
        tail,
        from_index,
        sources,
    }))
}

/// The tail, with its FROM naming the prefix image.
pub fn tail_instructions(split: &Split, prefix_image: &str) -> Vec<Instruction> {
    let mut tail = split.tail.clone();
    tail[split.from_index].args = prefix_image.to_string();
    tail
}

/// The cache key of a prefix: its text, the build args, the platform and every context file it
/// copies (path, size, mtime).
pub fn key(
    split: &Split,
    build_args: &[(String, String)],
    platform: &Platform,
    context: &Path,
) -> String {
    let mut h = Sha256::new();
    h.update(format!("{FORMAT}\0{platform}\0"));
    h.update(&split.prefix_text);
    let args: BTreeMap<_, _> = build_args.iter().cloned().collect();
    for (k, v) in args {
        h.update(format!("\0arg {k}={v}"));
    }
    for source in &split.sources {
        // A wildcard's directory stands in for its matches.
        let literal: PathBuf = Path::new(source.trim_start_matches('/'))
            .components()
            .take_while(|c| !c.as_os_str().to_string_lossy().contains(['*', '?', '[']))
            .collect();
        let mut files = Vec::new();
        walk(&context.join(literal), &mut files);
        for line in files {
            h.update(format!("\0{line}"));
        }
    }
    hex::encode(h.finalize())
}

fn walk(path: &Path, out: &mut Vec<String>) {
    let Ok(meta) = fs::symlink_metadata(path) else {
        out.push(format!("{} missing", path.display()));
        return;
    };
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    out.push(format!("{} {} {mtime}", path.display(), meta.len()));
    if meta.is_dir()
        && let Ok(dir) = fs::read_dir(path)
    {
        let mut children: Vec<PathBuf> = dir.flatten().map(|e| e.path()).collect();
        children.sort();
        for child in children {
            walk(&child, out);
        }
    }
}

/// The CLI that drives the engine: `docker` when installed (it speaks to Docker and to
/// Podman's Docker API alike), else `podman`. Either is pointed at `host`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineCli {
    pub program: PathBuf,
    pub podman: bool,
    pub host: String,
}

impl EngineCli {
    /// The first of `docker`, `podman` that `lookup` finds, for the engine at `host`.
    pub fn find(host: &str, lookup: &dyn Fn(&str) -> Option<PathBuf>) -> anyhow::Result<EngineCli> {
        for (name, podman) in [("docker", false), ("podman", true)] {
            if let Some(program) = lookup(name) {
                return Ok(EngineCli {
                    program,
                    podman,
                    host: host.to_string(),
                });
            }
        }
        bail!(
            "neither the docker nor the podman CLI is on PATH; install one (--engine-prefix \
             drives the engine at {host} through it)"
        )
    }

    fn command(&self, args: &[String]) -> Command {
        let mut cmd = Command::new(&self.program);
        if self.podman {
            cmd.arg("--url").arg(&self.host);
        } else {
            cmd.env("DOCKER_HOST", &self.host);
        }
        cmd.args(args);
        cmd
    }

    /// The one-line outcome of running `args`: the last line the CLI wrote on failure.
    fn run(&self, args: &[String]) -> anyhow::Result<()> {
        self.run_with(args, &[]).map_err(|(e, _)| e)
    }

    /// [`EngineCli::run`] with extra environment; on failure also the CLI's whole stderr.
    fn run_with(
        &self,
        args: &[String],
        env: &[(&str, &str)],
    ) -> Result<(), (anyhow::Error, String)> {
        let name = self.program.display();
        let mut cmd = self.command(args);
        cmd.envs(env.iter().copied());
        let out = cmd.output().map_err(|e| {
            let e = anyhow!(
                "running {name}: {e}; install the docker or podman CLI or drop --engine-prefix"
            );
            (e, String::new())
        })?;
        if out.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let last = stderr
            .lines()
            .rfind(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim();
        let e = anyhow!("{} {} exited {}: {last}", self.name(), args[0], out.status);
        Err((e, stderr))
    }

    /// `build` with `args`. Docker's CLI with DOCKER_BUILDKIT=1 and no buildx refuses every
    /// build ("BuildKit is enabled but the buildx component is missing or broken"); an adopter's
    /// environment may set it (OpenShell's mise [env] does). Its legacy builder can build a
    /// prefix, which keeps BuildKit-only syntax after its last RUN: one retry with it.
    fn build(&self, args: &[String]) -> anyhow::Result<()> {
        match self.run_with(args, &[]) {
            Ok(()) => Ok(()),
            Err((_, stderr)) if !self.podman && needs_legacy_builder(&stderr) => {
                eprintln!(
                    "DOCKER_BUILDKIT is set but docker has no buildx; building with its legacy \
                     builder"
                );
                self.run_with(args, &[("DOCKER_BUILDKIT", "0")])
                    .map_err(|(e, _)| e)
            }
            Err((e, _)) => Err(e),
        }
    }

    pub fn name(&self) -> &'static str {
        if self.podman { "podman" } else { "docker" }
    }
}

/// The automatic platform ARGs the prefix declares, with their values: an engine's legacy
/// builder (the docker CLI without buildx) does not set them, BuildKit and Podman do.
pub fn declared_platform_args(split: &Split, platform: &Platform) -> Vec<(String, String)> {
    let Ok(instructions) = dockerfile::parse(&split.prefix_text) else {
        return Vec::new();
    };
    let declared: Vec<String> = instructions
        .iter()
        .filter(|i| i.keyword == "ARG")
        .flat_map(|i| {
            i.args
                .split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .map(|decl| decl.split('=').next().unwrap_or("").to_string())
        .collect();
    let values = dockerfile::platform_args(platform);
    dockerfile::PLATFORM_ARGS
        .iter()
        .filter(|name| declared.iter().any(|d| d == *name))
        .map(|name| (name.to_string(), values[*name].clone()))
        .collect()
}

/// Build the prefix with `cli` and push it as `image`. The build context is `context` when
/// the prefix copies from it, else an empty directory: the prefix of a Dockerfile whose
/// context is a whole repository (OpenShell's) then sends the engine nothing.
#[allow(clippy::too_many_arguments)]
pub fn build_and_push(
    split: &Split,
    label: &str,
    image: &str,
    context: &Path,
    build_args: &[(String, String)],
    platform: &Platform,
    cli: &EngineCli,
    plain_http: bool,
) -> anyhow::Result<()> {
    let work = tempfile_dir()?;
    let dockerfile = work.join("Dockerfile");
    fs::write(&dockerfile, &split.prefix_text)
        .with_context(|| format!("writing {}", dockerfile.display()))?;
    let empty = work.join("context");
    fs::create_dir(&empty).with_context(|| format!("creating {}", empty.display()))?;
    let build_context = if split.sources.is_empty() {
        empty.as_path()
    } else {
        context
    };
    let mut args: Vec<String> = vec![
        "build".into(),
        "-q".into(),
        "-f".into(),
        dockerfile.display().to_string(),
        "-t".into(),
        image.into(),
    ];
    let mut all_args = declared_platform_args(split, platform);
    all_args.retain(|(k, _)| !build_args.iter().any(|(b, _)| b == k));
    all_args.extend(build_args.iter().cloned());
    for (k, v) in all_args {
        args.push("--build-arg".into());
        args.push(format!("{k}={v}"));
    }
    args.push(build_context.display().to_string());
    let built = cli.build(&args);
    let _ = fs::remove_dir_all(&work);
    built.map_err(|e| {
        let e = format!("{e:#}");
        // The legacy builder (docker without buildx) refuses BuildKit-only syntax.
        let fix = if e.contains("requires BuildKit") || e.contains("BuildKit") {
            format!(
                "the {} engine's builder is not BuildKit: keep BuildKit-only syntax (COPY \
                 --chmod, RUN --mount, heredocs) out of lines 1-{}, after the last RUN, or \
                 install docker buildx",
                cli.name(),
                split.prefix_end
            )
        } else {
            format!(
                "fix the failing step in lines 1-{} of {label} (`{} build -f {label} .` shows \
                 the whole log)",
                split.prefix_end,
                cli.name()
            )
        };
        anyhow!(
            "building {label} lines 1-{} with {} (--engine-prefix): {e}; {fix}",
            split.prefix_end,
            cli.name()
        )
    })?;
    let mut push: Vec<String> = vec!["push".into()];
    if cli.podman && plain_http {
        push.push("--tls-verify=false".into());
    }
    push.push(image.into());
    cli.run(&push)
        .with_context(|| format!("pushing the {label} prefix image {image}"))?;
    Ok(())
}

/// Whether docker refused a build only because BuildKit was asked for without buildx.
fn needs_legacy_builder(stderr: &str) -> bool {
    stderr.contains("BuildKit is enabled but the buildx component is missing or broken")
}

/// A fresh private directory for the prefix's Dockerfile and empty context.
fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("k8s-dev-prefix-{}-{nanos}", std::process::id()));
    std::os::unix::fs::DirBuilderExt::mode(&mut fs::DirBuilder::new(), 0o700)
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_missing_buildx_asks_for_the_legacy_builder() {
        // docker 28's words (cli/command/image/build.go) with DOCKER_BUILDKIT=1 and no buildx.
        assert!(needs_legacy_builder(
            "ERROR: BuildKit is enabled but the buildx component is missing or broken.\n       \
             Install the buildx component to build images with BuildKit:\n       \
             https://docs.docker.com/go/buildx/\n"
        ));
        assert!(!needs_legacy_builder(
            "the --chmod option requires BuildKit. Refer to https://docs.docker.com/go/buildkit/"
        ));
    }

    const SUPERVISOR: &str = "ARG BASE=base:1\n\
        FROM ${BASE}\n\
        ARG VERSION\n\
        ENV A=1\n\
        RUN <<EOF\n\
        apt-get install x\n\
        EOF\n\
        COPY etc/ /etc/app/\n\
        RUN useradd app\n\
        # the binary\n\
        COPY --chmod=755 bin /usr/local/bin/app\n\
        LABEL v=${VERSION}\n\
        ENTRYPOINT [\"/usr/local/bin/app\"]\n";

    #[test]
    fn splits_after_the_last_engine_instruction() {
        let host = Platform::host();
        let got = split(SUPERVISOR, &[], &host).unwrap().unwrap();
        assert_eq!(got.prefix_end, 10);
        assert!(got.prefix_text.ends_with("RUN useradd app\n# the binary\n"));
        assert!(got.prefix_text.contains("apt-get install x\nEOF\n"));
        assert_eq!(got.sources, vec!["etc/"]);
        let tail = tail_instructions(&got, "reg/app:prefix-1");
        let keywords: Vec<&str> = tail.iter().map(|i| i.keyword.as_str()).collect();
        assert_eq!(
            keywords,
            vec!["ARG", "FROM", "ARG", "COPY", "LABEL", "ENTRYPOINT"]
        );
        assert_eq!(tail[1].args, "reg/app:prefix-1");
        let args = vec![("VERSION".to_string(), "7".to_string())];
        let plan = dockerfile::plan_instructions(&tail, "D", &args, &host, &[]).unwrap();
        assert_eq!(plan.base, "reg/app:prefix-1");
        assert_eq!(
            plan.changes.labels,
            vec![("v".to_string(), "7".to_string())]
        );
        assert_eq!(plan.copies[0].line, 11);
    }

    #[test]
    fn from_a_previous_stage_cuts_at_from_and_daemonless_files_do_not_split() {
        let host = Platform::host();
        let text = "FROM a AS build\nRUN make\nFROM build\nCOPY x /x\n";
        let got = split(text, &[], &host).unwrap().unwrap();
        assert_eq!(got.prefix_end, 3);
        assert_eq!(got.sources, Vec::<String>::new());
        assert_eq!(split("FROM a\nCOPY x /x\n", &[], &host).unwrap(), None);
    }

    #[test]
    fn key_follows_prefix_args_and_copied_files() {
        let host = Platform::host();
        let dir = std::env::temp_dir().join(format!("k8s-dev-prefix-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("etc")).unwrap();
        fs::write(dir.join("etc/a.conf"), "1").unwrap();
        let got = split(SUPERVISOR, &[], &host).unwrap().unwrap();
        let k1 = key(&got, &[], &host, &dir);
        assert_eq!(k1, key(&got, &[], &host, &dir));
        let args = vec![("BASE".to_string(), "base:2".to_string())];
        assert_ne!(k1, key(&got, &args, &host, &dir));
        fs::write(dir.join("etc/a.conf"), "22").unwrap();
        assert_ne!(k1, key(&got, &[], &host, &dir));
        // The tail's binary is not part of the key.
        fs::write(dir.join("bin"), "x").unwrap();
        let k2 = key(&got, &[], &host, &dir);
        fs::write(dir.join("bin"), "yy").unwrap();
        assert_eq!(k2, key(&got, &[], &host, &dir));
        fs::remove_dir_all(dir).unwrap();
    }
}
