// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Fuzz the Dockerfile reading `image publish --dockerfile` does on files it did not write: the
//! parser, variable substitution, the final-stage plan, the `--engine-prefix` split and the
//! image references a FROM yields must never panic, and what they return must hold together:
//! every COPY destination absolute, a planned base that parses as a reference (and parses to
//! itself again once printed), a prefix split whose text reads as the same instructions alone
//! as in the whole file, and whose tail plans on top of the prefix image.
//!
//! Input: one byte choosing the target platform, then `DOCKERFILE \0 BUILD_ARGS`, read as
//! UTF-8 (invalid bytes replaced); BUILD_ARGS is `KEY=VALUE` lines. fuzz/run.sh seeds it from
//! the repository's Dockerfiles.

#![no_main]

use k8s_dev_helper::image::dockerfile::{self, Instruction};
use k8s_dev_helper::image::manifest::Platform;
use k8s_dev_helper::image::prefix;
use k8s_dev_helper::image::reference::Reference;
use libfuzzer_sys::fuzz_target;

const PLATFORMS: [&str; 4] = ["linux/amd64", "linux/arm64", "linux/arm/v7", "linux/s390x"];

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let platform = Platform::parse(PLATFORMS[usize::from(choice) % PLATFORMS.len()]).unwrap();
    let text = String::from_utf8_lossy(rest);
    let (dockerfile_text, args_text) = text.split_once('\0').unwrap_or((&text, ""));
    let build_args: Vec<(String, String)> = args_text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();

    let Ok(instructions) = dockerfile::parse(dockerfile_text) else {
        return;
    };
    let vars = dockerfile::platform_args(&platform);
    for inst in &instructions {
        assert!(!inst.keyword.is_empty(), "empty keyword at line {}", inst.line);
        assert!(inst.keyword.chars().all(|c| c.is_ascii_uppercase()));
        let _ = dockerfile::words(&inst.args, &vars);
        let _ = dockerfile::word(&inst.args, &vars);
    }
    check_plan(&instructions, &build_args, &platform, "plan");
    if let Ok(Some(split)) = prefix::split(dockerfile_text, &build_args, &platform) {
        // The engine reads the prefix as a file of its own: it must say what those lines say
        // in the whole file.
        let prefix = dockerfile::parse(&split.prefix_text)
            .unwrap_or_else(|e| panic!("the prefix does not parse: {e:#}\n{}", split.prefix_text));
        let within: Vec<&Instruction> = instructions
            .iter()
            .filter(|i| i.line <= split.prefix_end)
            .collect();
        assert_eq!(
            prefix.iter().collect::<Vec<_>>(),
            within,
            "the prefix file reads differently from its lines in the whole file"
        );
        let tail = prefix::tail_instructions(&split, "localhost:5000/app:prefix-0123456789abcdef");
        check_plan(&tail, &build_args, &platform, "tail plan");
    }
});

fn check_plan(
    instructions: &[Instruction],
    build_args: &[(String, String)],
    platform: &Platform,
    what: &str,
) {
    let Ok(plan) = dockerfile::plan_instructions(instructions, "D", build_args, platform, &[])
    else {
        return;
    };
    assert!(!plan.base.is_empty(), "{what}: empty base");
    for copy in &plan.copies {
        assert!(copy.dest.starts_with('/'), "{what}: relative COPY dest {:?}", copy.dest);
        assert!(!copy.sources.is_empty(), "{what}: COPY without sources");
    }
    if plan.base != "scratch"
        && let Ok(reference) = Reference::parse(&plan.base)
    {
        let printed = reference.to_string();
        let again = Reference::parse(&printed)
            .unwrap_or_else(|e| panic!("{what}: {printed:?} (from {:?}) does not parse: {e:#}", plan.base));
        assert_eq!(again, reference, "{what}: {printed:?} parses to something else");
    }
}
