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

/// Build the prefix with the docker CLI (against `docker_host`, which may be a Podman socket)
/// and push it as `image`.
pub fn build_and_push(
    split: &Split,
    label: &str,
    image: &str,
    context: &Path,
    build_args: &[(String, String)],
    docker_host: Option<&str>,
) -> anyhow::Result<()> {
    let dockerfile = std::env::temp_dir().join(format!(
        "k8s-dev-prefix-{}-{}.Dockerfile",
        std::process::id(),
        image.rsplit(':').next().unwrap_or("x")
    ));
    fs::write(&dockerfile, &split.prefix_text)
        .with_context(|| format!("writing {}", dockerfile.display()))?;
    let docker = |args: &[&str]| -> anyhow::Result<()> {
        let mut cmd = Command::new("docker");
        cmd.args(args);
        if let Some(host) = docker_host {
            cmd.env("DOCKER_HOST", host);
        }
        let out = cmd.output().map_err(|e| {
            anyhow!("running docker: {e}; install the docker CLI or drop --engine-prefix")
        })?;
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let last = stderr
                .lines()
                .rfind(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            bail!("docker {} exited {}: {last}", args[0], out.status);
        }
        Ok(())
    };
    let mut args: Vec<String> = vec![
        "build".into(),
        "-q".into(),
        "-f".into(),
        dockerfile.display().to_string(),
        "-t".into(),
        image.into(),
    ];
    for (k, v) in build_args {
        args.push("--build-arg".into());
        args.push(format!("{k}={v}"));
    }
    args.push(context.display().to_string());
    let argv: Vec<&str> = args.iter().map(String::as_str).collect();
    let built = docker(&argv);
    let _ = fs::remove_file(&dockerfile);
    built.with_context(|| {
        format!(
            "building {label} lines 1-{} with an engine (--engine-prefix)",
            split.prefix_end
        )
    })?;
    docker(&["push", image])
        .with_context(|| format!("pushing the {label} prefix image {image}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
