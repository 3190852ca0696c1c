// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Fuzz the kubeconfig edits the helper applies to users' files: `merge` and `remove_context`
//! must never panic, whatever they return must parse again, and both are idempotent (a second
//! `up` or `down` changes nothing).
//!
//! Input: one flag byte (bit 0: `--set-current`), then `TARGET \0 NEW \0 CONTEXT`, read as
//! UTF-8 (invalid bytes replaced). fuzz/run.sh builds the seeds from the test fixtures.

#![no_main]

use k8s_dev_helper::kubeconfig::{Input, MergeOptions, doc, merge, remove_context};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let mut parts = text.splitn(3, '\0');
    let target = parts.next().unwrap_or_default();
    let new = parts.next().unwrap_or_default();
    let name = parts.next().unwrap_or_default();
    let options = MergeOptions {
        set_current: flags & 1 == 1,
    };
    check_merge(target, new, options);
    check_remove(target, name);
});

fn reparse(text: &str, what: &str) {
    if let Err(err) = doc::parse(text, Input::Target) {
        panic!("{what} does not parse again: {err}\n--- output ---\n{text}");
    }
}

fn check_merge(target: &str, new: &str, options: MergeOptions) {
    let Ok((merged, summary)) = merge(target, new, options) else {
        return;
    };
    reparse(&merged, "merge output");
    if !summary.changed {
        assert_eq!(
            merged, target,
            "an unchanged merge must return the target as it was"
        );
    }
    let (again, second) = merge(&merged, new, options)
        .unwrap_or_else(|err| panic!("merging into the merge result fails: {err}\n{merged}"));
    assert!(
        !second.changed && again == merged,
        "merge is not idempotent:\n--- first ---\n{merged}\n--- second ---\n{again}"
    );
    let contexts = summary
        .contexts
        .added
        .iter()
        .chain(&summary.contexts.replaced)
        .chain(&summary.contexts.unchanged);
    for context in contexts {
        let (removed, _) = remove_context(&merged, context)
            .unwrap_or_else(|err| panic!("removing merged context {context} fails: {err}"));
        reparse(&removed, "remove output after a merge");
    }
}

fn check_remove(target: &str, name: &str) {
    let Ok((removed, _)) = remove_context(target, name) else {
        return;
    };
    reparse(&removed, "remove output");
    let (again, second) = remove_context(&removed, name)
        .unwrap_or_else(|err| panic!("removing from the remove result fails: {err}\n{removed}"));
    assert!(
        !second.changed && again == removed,
        "remove is not idempotent:\n--- first ---\n{removed}\n--- second ---\n{again}"
    );
}
