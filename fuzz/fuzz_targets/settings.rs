// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Fuzz the settings parser: any environment must resolve without a panic, and every value it
//! accepts must be safe where the kit puts it: no control character (a newline would add YAML to
//! k3d's expanded config), no leading `-` (an option), already normalised, and unchanged through
//! the `sh` quoting of `settings --shell`.
//!
//! Input: lines of `INDEX=VALUE`, where INDEX (mod the table's length) picks a setting, so the
//! fuzzer reaches every setting and every cross-setting check. fuzz/run.sh seeds it with the
//! defaults and the injections the review found.

#![no_main]

use k8s_dev_helper::env::{Env, Os};
use k8s_dev_helper::settings::{Settings, TABLE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut vars = Vec::new();
    for line in text.split('\n') {
        let Some((index, value)) = line.split_once('=') else {
            continue;
        };
        let Ok(index) = index.trim().parse::<usize>() else {
            continue;
        };
        // Values may hold newlines as `\n` escapes, so one line can carry a YAML injection.
        vars.push((TABLE[index % TABLE.len()].name, value.replace("\\n", "\n")));
    }
    let pairs: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let env = Env {
        home: Some("/home/fuzz".into()),
        cwd: Some("/work".into()),
        ..Env::empty(Os::Linux)
    }
    .with(&pairs);
    let (settings, problems) = Settings::lenient(&env, None);
    for problem in &problems {
        assert!(
            !problem.message.contains('\n'),
            "a problem spans lines: {problem:?}"
        );
    }
    for s in settings.iter() {
        let Some(value) = &s.value else { continue };
        assert!(
            !value.chars().any(char::is_control),
            "{} accepted a control character: {value:?}",
            s.spec.name
        );
        assert!(!value.starts_with('-'), "{} accepted {value:?}", s.spec.name);
        assert_eq!(
            s.spec.rule.check(value).as_deref(),
            Ok(value.as_str()),
            "{} is not normalised",
            s.spec.name
        );
    }
    for (line, s) in settings.shell().lines().zip(settings.iter()) {
        let quoted = line
            .strip_prefix("export ")
            .unwrap_or(line)
            .strip_prefix(&format!("{}=", s.spec.name))
            .unwrap_or_else(|| panic!("shell line {line:?} does not set {}", s.spec.name));
        assert_eq!(
            unquote(quoted),
            s.value.clone().unwrap_or_default(),
            "{} does not survive sh quoting",
            s.spec.name
        );
    }
    let _ = settings.json();
});

/// What `sh` makes of a word `shell_quote` wrote: bare, or `'…'` with `'\''` for a quote.
fn unquote(word: &str) -> String {
    if !word.starts_with('\'') {
        assert!(
            word.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-./:@%+=,".contains(&b)),
            "bare word {word:?} has a character sh would interpret"
        );
        return word.to_string();
    }
    let mut out = String::new();
    let mut rest = word;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("\\'") {
            out.push('\'');
            rest = after;
            continue;
        }
        let inner = rest
            .strip_prefix('\'')
            .unwrap_or_else(|| panic!("unexpected text in {word:?}"));
        let end = inner
            .find('\'')
            .unwrap_or_else(|| panic!("unterminated quote in {word:?}"));
        out.push_str(&inner[..end]);
        rest = &inner[end + 1..];
    }
    out
}
