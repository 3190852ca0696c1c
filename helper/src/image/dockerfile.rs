// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Enough of the Dockerfile language to publish the common "base image plus host-built files"
//! shape without an engine: parser directives, comments, line continuations, heredoc skipping,
//! `ARG` before `FROM`, variable substitution, multi-stage files. The final stage may only use
//! `ARG FROM COPY USER WORKDIR ENV LABEL EXPOSE ENTRYPOINT CMD`; anything else is an
//! [`exit::NEEDS_ENGINE`] error naming the file, line and instruction, so `sync` can fall back to
//! an engine build.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, anyhow, bail};

use super::fsroot::{Kind, Root};
use super::layer::LayerFile;
use super::manifest::{ConfigChanges, Platform, normalize_port};
use crate::exit::{self, Coded};

/// One logical instruction: keyword upper-cased, the rest as written (continuations joined).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    pub line: usize,
    pub keyword: String,
    pub args: String,
}

/// A COPY of the final stage, with sources still relative to the build context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopySpec {
    pub line: usize,
    pub sources: Vec<String>,
    /// Absolute (relative destinations are resolved against WORKDIR).
    pub dest: String,
    pub mode: Option<u32>,
    pub uid: u64,
    pub gid: u64,
    /// The instruction as written, for the image history.
    pub text: String,
}

/// What the final stage asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// An image reference, or `scratch`.
    pub base: String,
    /// The line of the final stage's FROM.
    pub base_line: usize,
    /// The global ARG the FROM takes its image from, if any: the build-arg to name when the
    /// base cannot be reached (`--build-arg GATEWAY_BASE_IMAGE=<mirror>/…`).
    pub base_arg: Option<String>,
    pub copies: Vec<CopySpec>,
    pub changes: ConfigChanges,
    /// The final stage substitutes variables, which may come from the base image's `ENV`:
    /// plan again with [`plan_for`] once the base config is known.
    pub substitutes: bool,
}

/// Split a Dockerfile into instructions.
pub fn parse(text: &str) -> anyhow::Result<Vec<Instruction>> {
    let mut escape = '\\';
    let mut lines = text.lines().enumerate().peekable();
    // Parser directives (`# syntax=…`, `# escape=…`) only count before anything else.
    while let Some((_, line)) = lines.peek() {
        let Some(body) = line.trim().strip_prefix('#') else {
            break;
        };
        let Some((key, value)) = body.split_once('=') else {
            break;
        };
        let key = key.trim().to_ascii_lowercase();
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric()) {
            break;
        }
        if key == "escape" {
            escape = match value.trim() {
                "`" => '`',
                "\\" => '\\',
                other => bail!("line {}: invalid escape directive {other:?}", 1),
            };
        }
        lines.next();
    }
    let mut out = Vec::new();
    let mut logical = String::new();
    let mut start = 0;
    while let Some((index, raw)) = lines.next() {
        let trimmed = raw.trim_start();
        // Comment lines are dropped even inside a continuation, as BuildKit does.
        if trimmed.starts_with('#') || (logical.is_empty() && trimmed.is_empty()) {
            continue;
        }
        if logical.is_empty() {
            start = index + 1;
        } else if trimmed.is_empty() {
            continue;
        }
        let content = raw.trim_end();
        if let Some(stripped) = content.strip_suffix(escape) {
            logical.push_str(stripped);
            continue;
        }
        logical.push_str(content);
        let instruction = split_instruction(start, &logical)?;
        // Heredoc bodies (`RUN <<EOF … EOF`) are data, not instructions.
        for terminator in heredoc_terminators(&instruction) {
            for (_, body) in lines.by_ref() {
                if body.trim() == terminator {
                    break;
                }
            }
        }
        out.push(instruction);
        logical.clear();
    }
    if !logical.trim().is_empty() {
        out.push(split_instruction(start, &logical)?);
    }
    Ok(out)
}

fn split_instruction(line: usize, text: &str) -> anyhow::Result<Instruction> {
    let text = text.trim();
    let (keyword, args) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
    if !keyword.chars().all(|c| c.is_ascii_alphabetic()) {
        bail!("line {line}: unknown instruction {keyword:?}");
    }
    Ok(Instruction {
        line,
        keyword: keyword.to_ascii_uppercase(),
        args: args.trim().to_string(),
    })
}

fn heredoc_terminators(instruction: &Instruction) -> Vec<String> {
    if !matches!(instruction.keyword.as_str(), "RUN" | "COPY" | "ADD") {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut rest = instruction.args.as_str();
    while let Some(at) = rest.find("<<") {
        rest = &rest[at + 2..];
        let word = rest.trim_start_matches('-');
        let word = word.trim_start_matches(['"', '\'']);
        let name: String = word
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            out.push(name);
        }
    }
    out
}

/// Variables visible to substitution: ARGs and ENVs declared so far.
type Vars = HashMap<String, String>;

/// Expand `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+alt}`, `${VAR+alt}`
/// and remove quotes, splitting on unquoted whitespace (the Dockerfile shell-word rules:
/// nothing is expanded inside single quotes; the escape character quotes the next one).
pub fn words(input: &str, vars: &Vars) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => current.push(c),
                        None => bail!("unterminated single quote in {input:?}"),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$')) => current.push(c),
                            Some(c) => {
                                current.push('\\');
                                current.push(c);
                            }
                            None => bail!("unterminated double quote in {input:?}"),
                        },
                        Some('$') => current.push_str(&variable(&mut chars, vars)?),
                        Some(c) => current.push(c),
                        None => bail!("unterminated double quote in {input:?}"),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            '$' => {
                // An unquoted expansion to nothing makes no word, as in the shell.
                let value = variable(&mut chars, vars)?;
                in_word |= !value.is_empty();
                current.push_str(&value);
            }
            c => {
                in_word = true;
                current.push(c);
            }
        }
    }
    if in_word {
        out.push(current);
    }
    Ok(out)
}

/// `input` as one word: whitespace kept, quotes removed, variables expanded.
pub fn word(input: &str, vars: &Vars) -> anyhow::Result<String> {
    // Protect whitespace by quoting runs of it, then reuse the word lexer.
    let mut out = String::new();
    for (i, part) in words_keeping_spaces(input).into_iter().enumerate() {
        if i % 2 == 1 {
            out.push_str(part);
        } else {
            out.push_str(&words(part, vars)?.concat());
        }
    }
    Ok(out)
}

/// Split into alternating [non-space, space, non-space, …] runs, keeping quoted spaces inside
/// the non-space runs.
fn words_keeping_spaces(input: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quote: Option<char> = None;
    let mut in_space = false;
    let mut escaped = false;
    for (i, c) in input.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match (quote, c) {
            (Some('\''), '\'') | (Some('"'), '"') => quote = None,
            (Some('"'), '\\') => escaped = true,
            (Some(_), _) => {}
            (None, '\\') => escaped = true,
            (None, '\'' | '"') => quote = Some(c),
            _ => {}
        }
        let space = quote.is_none() && c.is_whitespace();
        if space != in_space {
            parts.push(&input[start..i]);
            start = i;
            in_space = space;
        }
    }
    parts.push(&input[start..]);
    parts
}

fn variable(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    vars: &Vars,
) -> anyhow::Result<String> {
    if chars.peek() == Some(&'{') {
        chars.next();
        let mut inner = String::new();
        let mut depth = 1;
        for c in chars.by_ref() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                _ => {}
            }
            inner.push(c);
        }
        if depth != 0 {
            bail!("unterminated ${{ in variable reference");
        }
        let name_len = inner
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(inner.len());
        let (name, op) = inner.split_at(name_len);
        if name.is_empty() {
            bail!("empty variable name in ${{{inner}}}");
        }
        let value = vars.get(name);
        let sub = |w: &str| word(w, vars);
        return match op {
            "" => Ok(value.cloned().unwrap_or_default()),
            _ if op.starts_with(":-") => match value.filter(|v| !v.is_empty()) {
                Some(v) => Ok(v.clone()),
                None => sub(&op[2..]),
            },
            _ if op.starts_with(":+") => match value.filter(|v| !v.is_empty()) {
                Some(_) => sub(&op[2..]),
                None => Ok(String::new()),
            },
            _ if op.starts_with('-') => match value {
                Some(v) => Ok(v.clone()),
                None => sub(&op[1..]),
            },
            _ if op.starts_with('+') => match value {
                Some(_) => sub(&op[1..]),
                None => Ok(String::new()),
            },
            _ if op.starts_with(":?") => match value.filter(|v| !v.is_empty()) {
                Some(v) => Ok(v.clone()),
                None => bail!("{name}: {}", &op[2..]),
            },
            _ => bail!("unsupported variable modifier in ${{{inner}}}"),
        };
    }
    let mut name = String::new();
    while let Some(c) = chars.peek() {
        if c.is_ascii_alphanumeric() || *c == '_' {
            name.push(*c);
            chars.next();
        } else {
            break;
        }
    }
    if name.is_empty() {
        return Ok("$".into());
    }
    Ok(vars.get(&name).cloned().unwrap_or_default())
}

/// `K=V K2="v 2"` (or the legacy `K V…`) as pairs, values expanded.
fn pairs(args: &str, vars: &Vars, legacy: bool) -> anyhow::Result<Vec<(String, String)>> {
    let tokens: Vec<&str> = words_keeping_spaces(args.trim())
        .into_iter()
        .step_by(2)
        .filter(|t| !t.is_empty())
        .collect();
    let Some(first) = tokens.first() else {
        bail!("missing KEY=VALUE");
    };
    if !first.contains('=') {
        if !legacy {
            bail!("want KEY=VALUE, got {first:?}");
        }
        let value = args.trim()[first.len()..].trim();
        return Ok(vec![(word(first, vars)?, word(value, vars)?)]);
    }
    tokens
        .into_iter()
        .map(|t| {
            let (k, v) = t
                .split_once('=')
                .with_context(|| format!("want KEY=VALUE, got {t:?}"))?;
            Ok((word(k, vars)?, word(v, vars)?))
        })
        .collect()
}

/// `["a", "b"]` exec form, else the shell form wrapped in `/bin/sh -c`.
fn command(args: &str) -> Vec<String> {
    if args.trim_start().starts_with('[')
        && let Ok(list) = serde_json::from_str::<Vec<String>>(args)
    {
        return list;
    }
    vec!["/bin/sh".into(), "-c".into(), args.to_string()]
}

fn needs_engine(file: &str, line: usize, what: &str) -> anyhow::Error {
    Coded::error(
        exit::NEEDS_ENGINE,
        format!(
            "{file}:{line}: {what} needs a container engine; \
             set K8S_DEV_IMAGE_BUILDER=engine or let sync fall back"
        ),
    )
}

/// Work out what the final stage of `text` needs, for the host platform. `label` names the
/// file in messages; `build_args` override `ARG` defaults.
pub fn plan(text: &str, label: &str, build_args: &[(String, String)]) -> anyhow::Result<Plan> {
    plan_for(text, label, build_args, &Platform::host(), &[])
}

/// The names of BuildKit's automatic platform ARGs.
pub const PLATFORM_ARGS: [&str; 8] = [
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
];

/// A platform as BuildKit names it in those ARGs (containerd's normalisation): `arm64/v8` is
/// plain `arm64`, a bare `arm` is `arm/v7`.
fn buildkit_platform(p: &Platform) -> Platform {
    let variant = match (p.architecture.as_str(), p.variant.as_deref()) {
        ("arm64", Some("v8" | "8")) => None,
        ("arm", None) => Some("v7".to_string()),
        (_, v) => v.map(String::from),
    };
    Platform {
        os: p.os.clone(),
        architecture: p.architecture.clone(),
        variant,
    }
}

/// BuildKit's automatic platform ARGs ([`PLATFORM_ARGS`]): `TARGET*` for `target`, `BUILD*`
/// for this machine. Visible to `FROM` lines, and inside a stage once declared with a bare
/// `ARG` (`ARG TARGETARCH`), in any stage.
pub fn platform_args(target: &Platform) -> Vars {
    let host = buildkit_platform(&Platform::host());
    let target = buildkit_platform(target);
    let mut vars = Vars::new();
    for (prefix, p) in [("TARGET", &target), ("BUILD", &host)] {
        vars.insert(format!("{prefix}PLATFORM"), p.to_string());
        vars.insert(format!("{prefix}OS"), p.os.clone());
        vars.insert(format!("{prefix}ARCH"), p.architecture.clone());
        vars.insert(
            format!("{prefix}VARIANT"),
            p.variant.clone().unwrap_or_default(),
        );
    }
    vars
}

/// The first variable a FROM's image word refers to (`${GATEWAY_BASE_IMAGE}` →
/// `GATEWAY_BASE_IMAGE`): the build-arg that points the base elsewhere.
pub fn from_variable(from_args: &str) -> Option<String> {
    let image = from_args
        .split_whitespace()
        .find(|w| !w.starts_with("--"))?;
    let at = image.find('$')?;
    let name: String = image[at + 1..]
        .trim_start_matches('{')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// [`plan`] for a target `platform`, with the base image's `ENV` visible to substitution as
/// `docker build` has it.
pub fn plan_for(
    text: &str,
    label: &str,
    build_args: &[(String, String)],
    platform: &Platform,
    base_env: &[(String, String)],
) -> anyhow::Result<Plan> {
    let instructions = parse(text).with_context(|| format!("parsing {label}"))?;
    plan_instructions(&instructions, label, build_args, platform, base_env)
}

/// The variable names `text` refers to (`$A`, `${B:-x}` → `A`, `B`).
fn referenced(text: &str) -> Vec<String> {
    text.match_indices('$')
        .map(|(at, _)| {
            text[at + 1..]
                .trim_start_matches('{')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|n| !n.is_empty())
        .collect()
}

/// Whether every variable the final stage's COPY sources refer to is declared in the stage
/// (ARG, or ENV before it): then the sources are known without the base image's config.
pub fn copy_sources_known(instructions: &[Instruction]) -> bool {
    let Some(from) = instructions.iter().rposition(|i| i.keyword == "FROM") else {
        return false;
    };
    let mut declared: Vec<String> = Vec::new();
    for inst in &instructions[from + 1..] {
        match inst.keyword.as_str() {
            "ARG" | "ENV" => declared.extend(
                inst.args
                    .split_whitespace()
                    .map(|d| d.split('=').next().unwrap_or("").to_string()),
            ),
            "COPY" if referenced(&inst.args).iter().any(|n| !declared.contains(n)) => {
                return false;
            }
            _ => {}
        }
    }
    true
}

/// The final stage's base as [`Plan::base`], [`Plan::base_line`] and [`Plan::base_arg`] say
/// it, without planning the stage itself (which may need an engine).
pub fn base_of(
    instructions: &[Instruction],
    label: &str,
    build_args: &[(String, String)],
    platform: &Platform,
) -> anyhow::Result<Plan> {
    let end = instructions
        .iter()
        .rposition(|i| i.keyword == "FROM")
        .with_context(|| format!("{label}: no FROM instruction"))?;
    plan_instructions(&instructions[..=end], label, build_args, platform, &[])
}

/// [`plan_for`] over instructions already parsed (or put together by the engine-prefix split).
pub fn plan_instructions(
    instructions: &[Instruction],
    label: &str,
    build_args: &[(String, String)],
    platform: &Platform,
    base_env: &[(String, String)],
) -> anyhow::Result<Plan> {
    let at = |line: usize| move |e: anyhow::Error| anyhow!("{label}:{line}: {e:#}");
    let overrides: HashMap<&str, &str> = build_args
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let arg_value = |decl: &str, vars: &Vars| -> anyhow::Result<(String, Option<String>)> {
        let (name, default) = match decl.split_once('=') {
            Some((n, d)) => (n.to_string(), Some(word(d, vars)?)),
            None => (decl.to_string(), None),
        };
        let value = overrides
            .get(name.as_str())
            .map(|v| v.to_string())
            .or(default);
        Ok((name, value))
    };

    let mut globals = platform_args(platform);
    let mut stages: Vec<String> = Vec::new();
    let final_from = instructions
        .iter()
        .rposition(|i| i.keyword == "FROM")
        .with_context(|| format!("{label}: no FROM instruction"))?;
    for inst in &instructions[..final_from] {
        match inst.keyword.as_str() {
            "ARG" if stages.is_empty() => {
                for decl in words(&inst.args, &Vars::new()).map_err(at(inst.line))? {
                    let (name, value) = arg_value(&decl, &globals).map_err(at(inst.line))?;
                    // A bare `ARG TARGETARCH` keeps the automatic value.
                    let value = value.or_else(|| globals.get(&name).cloned());
                    globals.insert(name, value.unwrap_or_default());
                }
            }
            "FROM" => {
                let parts = words(&inst.args, &globals).map_err(at(inst.line))?;
                if let Some(i) = parts.iter().position(|p| p.eq_ignore_ascii_case("as"))
                    && let Some(name) = parts.get(i + 1)
                {
                    stages.push(name.to_ascii_lowercase());
                }
                // Earlier stages are not built: the final one does not use them (checked below).
                stages.push(String::new());
            }
            _ if stages.is_empty() => {
                return Err(anyhow!(
                    "{label}:{}: {} before the first FROM (only ARG may come first)",
                    inst.line,
                    inst.keyword
                ));
            }
            _ => {}
        }
    }

    let from = &instructions[final_from];
    let parts: Vec<String> = words(&from.args, &globals)
        .map_err(at(from.line))?
        .into_iter()
        .filter(|p| !p.starts_with("--platform="))
        .collect();
    let base = match parts.as_slice() {
        [] => String::new(),
        [image] => image.clone(),
        [image, as_kw, _] if as_kw.eq_ignore_ascii_case("as") => image.clone(),
        _ => bail!("{label}:{}: FROM wants IMAGE [AS NAME]", from.line),
    };
    if base.is_empty() {
        bail!(
            "{label}:{}: FROM names no image after substitution; pass --build-arg",
            from.line
        );
    }
    if stages.contains(&base.to_ascii_lowercase()) {
        return Err(needs_engine(
            label,
            from.line,
            &format!("FROM {base} (a previous stage)"),
        ));
    }

    let mut vars: Vars = base_env.iter().cloned().collect();
    let mut changes = ConfigChanges::default();
    let mut copies = Vec::new();
    let mut workdir = String::from("/");
    for inst in &instructions[final_from + 1..] {
        let line = inst.line;
        match inst.keyword.as_str() {
            "ARG" => {
                for decl in words(&inst.args, &Vars::new()).map_err(at(line))? {
                    let (name, value) = arg_value(&decl, &vars).map_err(at(line))?;
                    // A bare `ARG NAME` in a stage brings in the global value.
                    let value = value.or_else(|| globals.get(&name).cloned());
                    vars.entry(name).or_insert(value.unwrap_or_default());
                }
            }
            "ENV" => {
                for (k, v) in pairs(&inst.args, &vars, true).map_err(at(line))? {
                    vars.insert(k.clone(), v.clone());
                    changes.env.push((k, v));
                }
            }
            "LABEL" => {
                changes
                    .labels
                    .extend(pairs(&inst.args, &vars, false).map_err(at(line))?);
            }
            "USER" => {
                changes.user = Some(word(&inst.args, &vars).map_err(at(line))?);
            }
            "WORKDIR" => {
                let dir = word(&inst.args, &vars).map_err(at(line))?;
                workdir = resolve(&workdir, &dir);
                changes.workdir = Some(workdir.clone());
            }
            "EXPOSE" => {
                for port in words(&inst.args, &vars).map_err(at(line))? {
                    changes
                        .expose
                        .push(normalize_port(&port).map_err(at(line))?);
                }
            }
            "ENTRYPOINT" => changes.entrypoint = Some(command(&inst.args)),
            "CMD" => changes.cmd = Some(command(&inst.args)),
            "COPY" => copies.push(copy_spec(inst, &vars, &workdir, label)?),
            other => return Err(needs_engine(label, line, other)),
        }
    }
    let substitutes = instructions[final_from + 1..].iter().any(|i| {
        !matches!(i.keyword.as_str(), "ENTRYPOINT" | "CMD" | "ARG") && i.args.contains('$')
    });
    let base_arg = from_variable(&from.args).filter(|name| globals.contains_key(name));
    Ok(Plan {
        base,
        base_line: from.line,
        base_arg,
        copies,
        changes,
        substitutes,
    })
}

fn copy_spec(
    inst: &Instruction,
    vars: &Vars,
    workdir: &str,
    label: &str,
) -> anyhow::Result<CopySpec> {
    let line = inst.line;
    let at = |e: anyhow::Error| anyhow!("{label}:{line}: {e:#}");
    let mut rest = inst.args.trim();
    let mut mode = None;
    let (mut uid, mut gid) = (0, 0);
    while let Some(flag) = rest.strip_prefix("--") {
        let end = flag.find(char::is_whitespace).unwrap_or(flag.len());
        let (name, value) = flag[..end].split_once('=').unwrap_or((&flag[..end], ""));
        let value = word(value, vars).map_err(at)?;
        match name {
            "chmod" => {
                mode = Some(u32::from_str_radix(&value, 8).map_err(|_| {
                    needs_engine(label, line, &format!("COPY --chmod={value} (not octal)"))
                })?);
            }
            "chown" => {
                let (u, g) = value.split_once(':').unwrap_or((&value, &value));
                match (u.parse(), g.parse()) {
                    (Ok(u), Ok(g)) => (uid, gid) = (u, g),
                    _ => {
                        return Err(needs_engine(
                            label,
                            line,
                            &format!("COPY --chown={value} (names, not numeric ids)"),
                        ));
                    }
                }
            }
            "link" => {}
            other => return Err(needs_engine(label, line, &format!("COPY --{other}"))),
        }
        rest = flag[end..].trim_start();
    }
    let mut args: Vec<String> = if rest.starts_with('[') {
        serde_json::from_str::<Vec<String>>(rest)
            .map_err(|e| anyhow!("{label}:{line}: COPY JSON form: {e}"))?
            .iter()
            .map(|a| word(a, vars))
            .collect::<anyhow::Result<_>>()
            .map_err(at)?
    } else {
        words(rest, vars).map_err(at)?
    };
    if args.iter().any(|a| a.starts_with("<<")) {
        return Err(needs_engine(label, line, "COPY with a heredoc"));
    }
    if args.len() < 2 {
        bail!("{label}:{line}: COPY wants at least one source and a destination");
    }
    let dest = args.pop().expect("len checked");
    if let Some(wild) = args.iter().find(|s| s.contains(['*', '?', '['])) {
        return Err(needs_engine(
            label,
            line,
            &format!("COPY of a wildcard ({wild})"),
        ));
    }
    if args.len() > 1 && !dest.ends_with('/') {
        bail!("{label}:{line}: COPY with several sources wants a destination ending in '/'");
    }
    let mut dest_abs = resolve(workdir, &dest);
    if dest.ends_with('/') && !dest_abs.ends_with('/') {
        dest_abs.push('/');
    }
    Ok(CopySpec {
        line,
        sources: args,
        dest: dest_abs,
        mode,
        uid,
        gid,
        text: format!("COPY {}", inst.args),
    })
}

/// `dir` against `base` (both absolute in the image), normalised.
fn resolve(base: &str, dir: &str) -> String {
    let joined = if dir.starts_with('/') {
        dir.to_string()
    } else {
        format!("{base}/{dir}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// How a fix names the build context option.
pub const CONTEXT_FIX: &str = "check --context (default: the Dockerfile's directory)";

/// Turn the plan's COPYs into layer files, sources taken from `context`. Every source is
/// resolved inside the context, symlinks included; one that leads out of it is refused, as
/// `docker build` refuses it. A directory source in a context with a `.dockerignore` needs an
/// engine: the ignore rules are not implemented here.
pub fn layer_files(plan: &Plan, context: &Path, label: &str) -> anyhow::Result<Vec<LayerFile>> {
    let root = Root::open(context).map_err(|e| {
        anyhow!(
            "opening build context {}: {e}; {CONTEXT_FIX}",
            context.display()
        )
    })?;
    let ignore_file = root.lstat(Path::new(".dockerignore")).is_ok();
    let mut out = Vec::new();
    for copy in &plan.copies {
        for src in &copy.sources {
            let what = format!("COPY source {src} ({label}:{})", copy.line);
            let rel = context_path(src).map_err(|_| {
                anyhow!(
                    "{what} is outside the build context {}; a build reads only files inside \
                     its context: copy the file in, or pass a --context that contains it",
                    context.display()
                )
            })?;
            let fix = format!(
                "stage it at {} or {CONTEXT_FIX}",
                root.display(&rel).display()
            );
            let resolved = root
                .resolve(&rel)
                .map_err(|e| e.into_error(&root, &what, &fix))?;
            let meta = root
                .lstat(&resolved)
                .map_err(|e| anyhow!("{what}: {e}; {fix}"))?;
            let is_dir = meta.kind == Kind::Dir;
            if is_dir && ignore_file {
                return Err(needs_engine(
                    label,
                    copy.line,
                    &format!("COPY of directory {src} with a .dockerignore in the context"),
                ));
            }
            // A directory copies its contents into dest; a file goes to dest, or into it
            // when dest ends with '/'.
            let dest = if is_dir {
                copy.dest.trim_end_matches('/').to_string()
            } else if copy.dest.ends_with('/') {
                let name = resolved
                    .file_name()
                    .and_then(|n| n.to_str())
                    .with_context(|| format!("{what} has no file name"))?;
                format!("{}{name}", copy.dest)
            } else {
                copy.dest.clone()
            };
            out.push(LayerFile {
                source: root.display(&resolved),
                context: Some(context.to_path_buf()),
                dest: if dest.is_empty() { "/".into() } else { dest },
                mode: copy.mode,
                uid: copy.uid,
                gid: copy.gid,
            });
        }
    }
    Ok(out)
}

/// A source relative to the context (a leading '/' is the context root, as in Docker); `..`
/// may not leave the context.
fn context_path(src: &str) -> anyhow::Result<PathBuf> {
    let mut out = PathBuf::new();
    for comp in Path::new(src.trim_start_matches('/')).components() {
        match comp {
            Component::Normal(p) => out.push(p),
            Component::ParentDir if out.pop() => {}
            Component::ParentDir => bail!("source {src:?} is outside the build context"),
            _ => {}
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vars {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parse_joins_continuations_and_drops_comments() {
        let text = "# syntax=docker/dockerfile:1\n\
                    # comment\n\
                    ARG BASE=x\n\
                    \n\
                    FROM ${BASE} \\\n\
                    # inner comment\n\
                    \x20 AS final\n\
                    run echo hi\n";
        let got = parse(text).unwrap();
        assert_eq!(
            got,
            vec![
                Instruction {
                    line: 3,
                    keyword: "ARG".into(),
                    args: "BASE=x".into()
                },
                Instruction {
                    line: 5,
                    keyword: "FROM".into(),
                    args: "${BASE}   AS final".into()
                },
                Instruction {
                    line: 8,
                    keyword: "RUN".into(),
                    args: "echo hi".into()
                },
            ]
        );
    }

    #[test]
    fn parse_honours_escape_directive_and_skips_heredocs() {
        let text =
            "# escape=`\nFROM a\nRUN <<EOF\nFROM not-an-instruction\nEOF\nENV A=1 `\n  B=2\n";
        let got = parse(text).unwrap();
        let keywords: Vec<&str> = got.iter().map(|i| i.keyword.as_str()).collect();
        assert_eq!(keywords, vec!["FROM", "RUN", "ENV"]);
        assert_eq!(got[2].args, "A=1   B=2");
        assert_eq!(got[2].line, 6);
    }

    #[test]
    fn substitution_forms() {
        let v = vars(&[("A", "x"), ("E", "")]);
        assert_eq!(words("$A ${A} ${A}y", &v).unwrap(), vec!["x", "x", "xy"]);
        assert_eq!(
            words("${B:-def} ${E:-d2} ${E-d3}", &v).unwrap(),
            vec!["def", "d2"]
        );
        assert_eq!(words("${A:+alt} ${B:+alt}z", &v).unwrap(), vec!["alt", "z"]);
        assert_eq!(words("${B:-${A}-n}", &v).unwrap(), vec!["x-n"]);
        assert_eq!(words(r"'$A' \$A", &v).unwrap(), vec!["$A", "$A"]);
        assert_eq!(words(r#""a $A b""#, &v).unwrap(), vec!["a x b"]);
        assert_eq!(word("a  $A  'b c'", &v).unwrap(), "a  x  b c");
        assert!(words("${B:?must be set}", &v).is_err());
    }

    const GATEWAY: &str = r#"# syntax=docker/dockerfile:1.7
ARG BASE=localhost:5000/busybox:dev
ARG VERSION
FROM ${BASE}
ARG VERSION
LABEL org.opencontainers.image.version="${VERSION:-dev}" name=gw
COPY --chmod=755 bin /usr/local/bin/gw
USER 65532:65532
EXPOSE 8080
ENV RUST_LOG=info \
    GW_PORT=8080
WORKDIR /data
ENTRYPOINT ["/usr/local/bin/gw"]
CMD ["--port", "8080"]
"#;

    #[test]
    fn plans_gateway_shape() {
        let got = plan(GATEWAY, "Dockerfile.gateway", &[]).unwrap();
        assert_eq!(got.base, "localhost:5000/busybox:dev");
        assert_eq!(
            got.copies,
            vec![CopySpec {
                line: 7,
                sources: vec!["bin".into()],
                dest: "/usr/local/bin/gw".into(),
                mode: Some(0o755),
                uid: 0,
                gid: 0,
                text: "COPY --chmod=755 bin /usr/local/bin/gw".into(),
            }]
        );
        let c = &got.changes;
        assert_eq!(c.user.as_deref(), Some("65532:65532"));
        assert_eq!(c.expose, vec!["8080/tcp"]);
        assert_eq!(c.workdir.as_deref(), Some("/data"));
        assert_eq!(c.entrypoint, Some(vec!["/usr/local/bin/gw".to_string()]));
        assert_eq!(c.cmd, Some(vec!["--port".to_string(), "8080".to_string()]));
        assert_eq!(
            c.env,
            vec![
                ("RUST_LOG".to_string(), "info".to_string()),
                ("GW_PORT".to_string(), "8080".to_string())
            ]
        );
        assert_eq!(
            c.labels,
            vec![
                (
                    "org.opencontainers.image.version".to_string(),
                    "dev".to_string()
                ),
                ("name".to_string(), "gw".to_string())
            ]
        );
    }

    #[test]
    fn base_env_is_visible_to_substitution() {
        let text = "FROM a\nENV PATH=/app:$PATH\n";
        let without = plan(text, "D", &[]).unwrap();
        assert!(without.substitutes);
        assert_eq!(without.changes.env[0].1, "/app:");
        let base_env = vec![("PATH".to_string(), "/bin".to_string())];
        let with = plan_for(text, "D", &[], &Platform::host(), &base_env).unwrap();
        assert_eq!(with.changes.env[0].1, "/app:/bin");
        assert!(
            !plan(GATEWAY.replace("${VERSION:-dev}", "x").as_str(), "D", &[])
                .unwrap()
                .substitutes
        );
    }

    #[test]
    fn targetarch_is_set_from_the_platform() {
        // The shape of OpenShell's Dockerfile.supervisor.
        let text = "FROM scratch AS supervisor\nARG TARGETARCH\n\
                    COPY --chmod=0550 .build/${TARGETARCH}/sandbox /openshell-sandbox\n\
                    ENTRYPOINT [\"/openshell-sandbox\"]\n";
        let arm = Platform::parse("linux/arm64").unwrap();
        let got = plan_for(text, "D", &[], &arm, &[]).unwrap();
        assert_eq!(got.copies[0].sources, vec![".build/arm64/sandbox"]);
        assert_eq!(got.copies[0].mode, Some(0o550));
        let got = plan_for("ARG TARGETOS\nFROM base-$TARGETOS\n", "D", &[], &arm, &[]).unwrap();
        assert_eq!(got.base, "base-linux");
    }

    #[test]
    fn platform_args_are_named_as_buildkit_names_them() {
        let got = platform_args(&Platform::parse("linux/arm64/v8").unwrap());
        assert_eq!(got["TARGETPLATFORM"], "linux/arm64");
        assert_eq!(got["TARGETVARIANT"], "");
        let got = platform_args(&Platform::parse("linux/arm").unwrap());
        assert_eq!(got["TARGETPLATFORM"], "linux/arm/v7");
        assert_eq!(got["TARGETVARIANT"], "v7");
        let host = Platform::host();
        let got = platform_args(&host);
        assert_eq!(got["BUILDARCH"], host.architecture);
        assert_eq!(got["BUILDOS"], "linux");
        for name in PLATFORM_ARGS {
            assert!(got.contains_key(name), "{name}");
        }
        // Every one is visible to FROM, and to any stage that declares it.
        let text = "FROM base-$BUILDOS-${TARGETARCH} AS a\nARG BUILDPLATFORM\n\
                    FROM a2-${TARGETVARIANT:-none}\nARG TARGETPLATFORM\nARG BUILDARCH\n\
                    LABEL t=$TARGETPLATFORM b=$BUILDARCH undeclared=${TARGETOS:-unset}\n";
        let arm = Platform::parse("linux/arm/v6").unwrap();
        let got = plan_for(text, "D", &[], &arm, &[]).unwrap();
        assert_eq!(got.base, "a2-v6");
        assert_eq!(
            got.changes.labels,
            vec![
                ("t".to_string(), "linux/arm/v6".to_string()),
                ("b".to_string(), host.architecture.clone()),
                ("undeclared".to_string(), "unset".to_string()),
            ]
        );
    }

    #[test]
    fn openshell_shapes_plan_with_syntax_directive_and_pinned_arg_base() {
        let digest = format!("sha256:{}", "d9".repeat(32));
        let gateway = format!(
            "# syntax=docker/dockerfile:1.4\n\n# SPDX line\n\n\
             ARG GATEWAY_BASE_IMAGE=gcr.example/distroless/cc:nonroot@{digest}\n\
             FROM ${{GATEWAY_BASE_IMAGE}} AS gateway\n\nARG TARGETARCH\nWORKDIR /app\n\
             COPY deploy/docker/.build/prebuilt-binaries/${{TARGETARCH}}/gw /usr/local/bin/gw\n\
             USER 1000:1000\nEXPOSE 8080\nENTRYPOINT [\"/usr/local/bin/gw\"]\n"
        );
        let arm = Platform::parse("linux/arm64").unwrap();
        let got = plan_for(&gateway, "D", &[], &arm, &[]).unwrap();
        assert_eq!(
            got.base,
            format!("gcr.example/distroless/cc:nonroot@{digest}")
        );
        assert_eq!(got.base_arg.as_deref(), Some("GATEWAY_BASE_IMAGE"));
        assert_eq!(got.base_line, 6);
        assert_eq!(
            got.copies[0].sources,
            vec!["deploy/docker/.build/prebuilt-binaries/arm64/gw"]
        );
        let args = vec![(
            "GATEWAY_BASE_IMAGE".to_string(),
            "mirror.lan/cc:1".to_string(),
        )];
        assert_eq!(
            plan_for(&gateway, "D", &args, &arm, &[]).unwrap().base,
            "mirror.lan/cc:1"
        );
        // A literal FROM has no build-arg to name; a FROM of a stage-local name neither.
        assert_eq!(
            plan("FROM alpine:3.22 AS s\n", "D", &[]).unwrap().base_arg,
            None
        );
        assert_eq!(
            from_variable("--platform=$BUILDPLATFORM ${REG}/x:1 AS b"),
            Some("REG".into())
        );
        assert!(copy_sources_known(&parse(&gateway).unwrap()));
        let from_base_env = parse("FROM a\nARG X\nCOPY ${X}/$HOME_DIR /y\n").unwrap();
        assert!(!copy_sources_known(&from_base_env));
    }

    #[test]
    fn build_args_override_defaults() {
        let args = vec![
            ("BASE".to_string(), "reg.lan/base:1".to_string()),
            ("VERSION".to_string(), "1.2".to_string()),
        ];
        let got = plan(GATEWAY, "Dockerfile.gateway", &args).unwrap();
        assert_eq!(got.base, "reg.lan/base:1");
        assert_eq!(got.changes.labels[0].1, "1.2");
    }

    #[test]
    fn run_in_final_stage_needs_engine() {
        let text = "FROM a AS build\nRUN make\nFROM b\nCOPY x /x\n\nRUN chmod +x /x\n";
        let err = plan(text, "Dockerfile.supervisor", &[]).unwrap_err();
        assert_eq!(exit::code_of(&err), exit::NEEDS_ENGINE);
        assert_eq!(
            err.to_string(),
            "Dockerfile.supervisor:6: RUN needs a container engine; set \
             K8S_DEV_IMAGE_BUILDER=engine or let sync fall back"
        );
        // The RUN of the unused first stage does not matter.
        let ok = plan("FROM a AS build\nRUN make\nFROM b\nCOPY x /x\n", "D", &[]).unwrap();
        assert_eq!(ok.base, "b");
    }

    #[test]
    fn unsupported_copy_forms_need_engine() {
        for (text, what) in [
            ("FROM a AS b\nFROM b\n", "D:2: FROM b (a previous stage)"),
            ("FROM a\nCOPY --from=b /x /x\n", "D:2: COPY --from"),
            (
                "FROM a\nCOPY --chown=app:app x /x\n",
                "D:2: COPY --chown=app:app",
            ),
            ("FROM a\nCOPY *.so /lib/\n", "D:2: COPY of a wildcard"),
            ("FROM a\nADD x /x\n", "D:2: ADD needs"),
            ("FROM a\nHEALTHCHECK CMD true\n", "D:2: HEALTHCHECK needs"),
        ] {
            let err = plan(text, "D", &[]).unwrap_err();
            assert_eq!(exit::code_of(&err), exit::NEEDS_ENGINE, "{text}");
            assert!(err.to_string().starts_with(what), "{err} vs {what}");
        }
    }

    #[test]
    fn copy_destinations_and_shell_forms() {
        let text = "FROM scratch\nWORKDIR /app\nCOPY [\"a\", \"b\", \"etc/\"]\nCOPY --chown=10 c d\n\
                    ENTRYPOINT /bin/gw --flag\nENV LEGACY value with spaces\n";
        let got = plan(text, "D", &[]).unwrap();
        assert_eq!(got.base, "scratch");
        assert_eq!(got.copies[0].sources, vec!["a", "b"]);
        assert_eq!(got.copies[0].dest, "/app/etc/");
        assert_eq!(got.copies[1].dest, "/app/d");
        assert_eq!((got.copies[1].uid, got.copies[1].gid), (10, 10));
        assert_eq!(
            got.changes.entrypoint,
            Some(vec!["/bin/sh".into(), "-c".into(), "/bin/gw --flag".into()])
        );
        assert_eq!(
            got.changes.env,
            vec![("LEGACY".to_string(), "value with spaces".to_string())]
        );
        let err = plan("FROM a\nCOPY a b c\n", "D", &[]).unwrap_err();
        assert!(err.to_string().contains("ending in '/'"), "{err}");
        let err = plan("RUN x\nFROM a\n", "D", &[]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("D:1: RUN before the first FROM"),
            "{err}"
        );
        let err = plan("ARG BASE\nFROM $BASE\n", "D", &[]).unwrap_err();
        assert!(err.to_string().contains("pass --build-arg"), "{err}");
    }

    #[test]
    fn layer_files_follow_copy_semantics() {
        let dir = std::env::temp_dir().join(format!("k8s-dev-df-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("rootfs/bin")).unwrap();
        std::fs::write(dir.join("gw"), b"x").unwrap();
        std::fs::write(dir.join("rootfs/bin/sh"), b"x").unwrap();
        let text = "FROM scratch\nCOPY gw /usr/bin/\nCOPY rootfs /\nCOPY gw /opt/gw2\n";
        let got = layer_files(&plan(text, "D", &[]).unwrap(), &dir, "D").unwrap();
        let dests: Vec<&str> = got.iter().map(|f| f.dest.as_str()).collect();
        assert_eq!(dests, vec!["/usr/bin/gw", "/", "/opt/gw2"]);
        assert_eq!(got[1].source, dir.join("rootfs"));
        let err = layer_files(
            &plan("FROM a\nCOPY ../x /x\n", "D", &[]).unwrap(),
            &dir,
            "D",
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("outside the build context"));
        let err = layer_files(
            &plan("FROM a\nCOPY nope /x\n", "D", &[]).unwrap(),
            &dir,
            "D",
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("check --context"), "{err:#}");
        std::fs::write(dir.join(".dockerignore"), "target\n").unwrap();
        let err = layer_files(&plan(text, "D", &[]).unwrap(), &dir, "D").unwrap_err();
        assert_eq!(exit::code_of(&err), exit::NEEDS_ENGINE);
        assert!(
            err.to_string()
                .starts_with("D:3: COPY of directory rootfs with a .dockerignore")
        );
        std::fs::remove_dir_all(dir).unwrap();
    }
}
