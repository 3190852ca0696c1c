// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Fuzz the kubeconfig edits the helper applies to users' files: `merge` and `remove_context`
//! must never panic, whatever they return must parse again, and both are idempotent (a second
//! `up` or `down` changes nothing). The same holds for the edits across several files
//! (`KUBECONFIG=a:b`, `merge_view` and `remove_view`), which must also put every merged entry
//! where kubectl then finds it and leave the files they do not write as they were.
//!
//! Input: one flag byte (bit 0: `--set-current`; bit 1: new entries go to the last file rather
//! than the first), then `TARGET \0 NEW \0 CONTEXT`, read as UTF-8 (invalid bytes replaced).
//! A `\x1e` in TARGET splits it into several files. fuzz/run.sh builds the seeds from the test
//! fixtures.

#![no_main]

use k8s_dev_helper::kubeconfig::doc::Section;
use k8s_dev_helper::kubeconfig::edit::{origin, view_current_context};
use k8s_dev_helper::kubeconfig::{
    Input, MergeOptions, doc, merge, merge_view, remove_context, remove_view,
};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

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
    let files: Option<Vec<Map<String, Value>>> = target
        .split('\u{1e}')
        .map(|text| doc::parse(text, Input::Target).ok())
        .collect();
    if let Some(files) = files {
        let default = if flags & 2 == 2 { files.len() - 1 } else { 0 };
        check_merge_view(&files, default, new, options);
        check_remove_view(&files, name);
    }
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

/// Each file emitted and read back, as the store would write and the next edit read it.
fn round_trip(files: &[Map<String, Value>]) -> Vec<Map<String, Value>> {
    files
        .iter()
        .map(|root| {
            let text = doc::emit(root);
            doc::parse(&text, Input::Target)
                .unwrap_or_else(|err| panic!("a view file does not parse again: {err}\n{text}"))
        })
        .collect()
}

fn check_merge_view(files: &[Map<String, Value>], default: usize, new: &str, options: MergeOptions) {
    let Ok(incoming) = doc::parse(new, Input::New) else {
        return;
    };
    let Ok((out, summary)) = merge_view(files, default, &incoming, options) else {
        return;
    };
    for section in Section::ALL {
        for (name, entry) in doc::entries(&incoming, section, Input::New).unwrap() {
            let file = origin(&out, section, &name)
                .unwrap_or_else(|| panic!("merged {name} is in no file"));
            let seen = doc::entries(&out[file], section, Input::Target)
                .unwrap()
                .into_iter()
                .find(|(n, _)| *n == name)
                .unwrap()
                .1;
            assert_eq!(seen, entry, "kubectl would not see the merged {name}");
        }
    }
    for (index, (before, after)) in files.iter().zip(&out).enumerate() {
        let touched = index == default
            || Section::ALL.iter().any(|&section| {
                doc::entries(&incoming, section, Input::New)
                    .unwrap()
                    .iter()
                    .any(|(name, _)| origin(files, section, name) == Some(index))
            });
        assert!(touched || before == after, "file {index} changed though nothing goes there");
    }
    assert_eq!(
        summary.current_context.as_deref(),
        view_current_context(&out).map(|(_, name)| name)
    );
    let out = round_trip(&out);
    let (again, second) = merge_view(&out, default, &incoming, options)
        .unwrap_or_else(|err| panic!("merging into the merge result fails: {err}"));
    assert!(!second.changed && again == out, "merge_view is not idempotent");
}

fn check_remove_view(files: &[Map<String, Value>], name: &str) {
    let Ok((out, _)) = remove_view(files, name) else {
        return;
    };
    let out = round_trip(&out);
    let (_, second) = remove_view(&out, name)
        .unwrap_or_else(|err| panic!("removing from the remove result fails: {err}"));
    // A shadowed copy in a later file becomes the one kubectl sees: a second remove takes it.
    if origin(&out, Section::Contexts, name).is_none() {
        assert!(!second.changed, "remove_view is not idempotent");
    }
}
