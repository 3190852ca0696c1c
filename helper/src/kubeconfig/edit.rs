// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The two edits, as pure functions from text to text.
//!
//! Why not `KUBECONFIG=target:new kubectl config view --flatten`: kubectl's merge lets the
//! *first* file win for same-named entries, so after a cluster is recreated the target keeps
//! the old cluster's CA and client certificate and every command fails TLS. Here the new
//! file's entries replace same-named ones in place; everything else is left alone.

use serde::Serialize;
use serde_json::{Map, Value};

use super::doc::{self, CURRENT_CONTEXT, Input, Invalid, Section};

#[derive(Debug, Clone, Copy, Default)]
pub struct MergeOptions {
    /// Make the new file's context current even when the target already has one.
    pub set_current: bool,
}

/// What happened to one section's entries, by name (names only: never credentials).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Changes {
    pub added: Vec<String>,
    /// Same-named entries whose content differed.
    pub replaced: Vec<String>,
    /// Same-named entries that already had this content.
    pub unchanged: Vec<String>,
    pub removed: Vec<String>,
    /// Entries an edit would have removed but left because another context uses them.
    pub kept: Vec<String>,
}

impl Changes {
    /// Entries taken from the new file: added, replaced or already there.
    pub fn merged(&self) -> usize {
        self.added.len() + self.replaced.len() + self.unchanged.len()
    }
}

/// The outcome of an edit; rendered by the CLI as one line or as JSON.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub clusters: Changes,
    pub users: Changes,
    pub contexts: Changes,
    /// `current-context` after the edit; `None` when unset or empty.
    pub current_context: Option<String>,
    /// False when the target's content already was the result: nothing needs writing.
    pub changed: bool,
    /// Why nothing was done, when that is worth saying.
    pub note: Option<String>,
}

impl Summary {
    pub fn section_mut(&mut self, section: Section) -> &mut Changes {
        match section {
            Section::Clusters => &mut self.clusters,
            Section::Users => &mut self.users,
            Section::Contexts => &mut self.contexts,
        }
    }
}

/// Merge the clusters, users and contexts of `new` into `target` (either may be empty text).
///
/// Same-named entries are replaced in place and the others appended; every other key of the
/// target (`preferences`, `extensions`, unknown fields) and every other entry survive.
/// `current-context` becomes the new file's when `set_current` is asked or the target has
/// none. Returns the new text (the target unchanged, byte for byte, when nothing changed).
pub fn merge(target: &str, new: &str, options: MergeOptions) -> Result<(String, Summary), Invalid> {
    let incoming = doc::parse(new, Input::New)?;
    on_one_file(target, |files| merge_view(files, 0, &incoming, options))
}

/// Merge `incoming` into the kubeconfig kubectl sees through `files` (its loading precedence,
/// each parsed; a missing file is an empty map), writing where `kubectl config set-…` would:
/// an entry that exists is replaced in the file that defines it (the first one: that is the
/// copy kubectl uses), a new entry and `current-context` go to `files[default]` (see
/// `store::Files::default_index`). Returns every file's new content; a file nothing was
/// written to comes back equal to its input.
pub fn merge_view(
    files: &[Map<String, Value>],
    default: usize,
    incoming: &Map<String, Value>,
    options: MergeOptions,
) -> Result<(Vec<Map<String, Value>>, Summary), Invalid> {
    assert!(
        default < files.len(),
        "the default file is one of the files"
    );
    let mut out = files.to_vec();
    let mut summary = Summary::default();

    let mut incoming_total = 0;
    for section in Section::ALL {
        let entries = doc::entries(incoming, section, Input::New)?;
        if let Some(name) = first_duplicate(&entries) {
            return Err(Invalid {
                input: Input::New,
                problem: format!("{} {name} is defined twice", section.singular()),
            });
        }
        incoming_total += entries.len();
        for (name, entry) in entries {
            let file = origin(files, section, &name).unwrap_or(default);
            let root = writable_root(&mut out[file]);
            let mut list = section_list(root, section);
            let changes = summary.section_mut(section);
            match replace_named(&mut list, &name, entry.clone()) {
                Some(old) if old == entry => changes.unchanged.push(name),
                Some(_) => changes.replaced.push(name),
                None => {
                    list.push(entry);
                    changes.added.push(name);
                }
            }
            // `insert` on an existing key keeps its position (preserve_order).
            root.insert(section.key().into(), Value::Array(list));
        }
    }
    if incoming_total == 0 {
        return Err(Invalid {
            input: Input::New,
            problem: "it has no clusters, users or contexts".into(),
        });
    }

    let wanted = new_current_context(incoming)?;
    if options.set_current && wanted.is_none() {
        return Err(Invalid {
            input: Input::New,
            problem: "it has no current-context to make current (--set-current) and more than one context".into(),
        });
    }
    if let Some(name) = wanted
        && (options.set_current || view_current_context(&out).is_none())
        && view_current_context(&out).map(|(_, current)| current) != Some(name.as_str())
    {
        // The default file comes before every file that exists, so what it sets wins.
        let root = writable_root(&mut out[default]);
        root.insert(CURRENT_CONTEXT.into(), Value::String(name));
    }

    summary.current_context = view_current_context(&out).map(|(_, name)| name.to_owned());
    summary.changed = out != files;
    Ok((out, summary))
}

/// Remove context `name` from `target`, with its cluster and user when no remaining context
/// uses them, and clear `current-context` if it named it. A missing context is not an error
/// (so `down` can run twice): the target comes back unchanged with a note.
pub fn remove_context(target: &str, name: &str) -> Result<(String, Summary), Invalid> {
    on_one_file(target, |files| remove_view(files, name))
}

/// Apply an edit of several files to the one file `target`; its text comes back unchanged,
/// byte for byte, when nothing changed.
fn on_one_file(
    target: &str,
    edit: impl FnOnce(&[Map<String, Value>]) -> Result<(Vec<Map<String, Value>>, Summary), Invalid>,
) -> Result<(String, Summary), Invalid> {
    let existing = doc::parse(target, Input::Target)?;
    let (mut out, summary) = edit(std::slice::from_ref(&existing))?;
    let root = out.pop().expect("one file in, one file out");
    let text = if root != existing {
        doc::emit(&root)
    } else {
        target.to_owned()
    };
    Ok((text, summary))
}

/// Remove context `name` from the kubeconfig kubectl sees through `files`, as
/// `kubectl config delete-context` and `unset` would: from the file whose copy kubectl uses (a
/// shadowed copy in a later file is left, and becomes the one kubectl sees). Its cluster and
/// user go too, each from the file kubectl reads it from, unless a context kubectl still sees
/// uses them; `current-context` is cleared in the file that sets it, if it named the context.
pub fn remove_view(
    files: &[Map<String, Value>],
    name: &str,
) -> Result<(Vec<Map<String, Value>>, Summary), Invalid> {
    let mut out = files.to_vec();
    let mut summary = Summary::default();
    let Some(file) = origin(files, Section::Contexts, name) else {
        summary.current_context = view_current_context(files).map(|(_, name)| name.to_owned());
        summary.note = Some(format!("context {name} not found; nothing to remove"));
        return Ok((out, summary));
    };
    let contexts = doc::entries(&files[file], Section::Contexts, Input::Target)?;
    let removed = contexts
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, entry)| entry.clone())
        .expect("origin found it");
    remove_named(&mut out[file], Section::Contexts, name, &mut summary);

    let remaining = visible(&out, Section::Contexts)?;
    for (section, field) in [(Section::Clusters, "cluster"), (Section::Users, "user")] {
        let Some(target_name) = refers_to(&removed, field) else {
            continue;
        };
        let shared = remaining
            .iter()
            .any(|entry| refers_to(entry, field).as_deref() == Some(&target_name));
        if shared {
            summary.section_mut(section).kept.push(target_name);
        } else if let Some(file) = origin(&out, section, &target_name) {
            remove_named(&mut out[file], section, &target_name, &mut summary);
        }
    }
    if let Some((file, current)) = view_current_context(&out)
        && current == name
    {
        out[file].insert(CURRENT_CONTEXT.into(), Value::String(String::new()));
    }

    summary.current_context = view_current_context(&out).map(|(_, name)| name.to_owned());
    summary.changed = out != files;
    Ok((out, summary))
}

/// The file whose entry `name` of `section` kubectl uses: the first that defines it (client-go
/// merges files with "the first file to set a map key wins", and records that file as the
/// entry's LocationOfOrigin, where `kubectl config` writes it back).
pub fn origin(files: &[Map<String, Value>], section: Section, name: &str) -> Option<usize> {
    files.iter().position(|root| {
        root.get(section.key())
            .and_then(Value::as_array)
            .is_some_and(|list| list.iter().any(|v| is_named(v, name)))
    })
}

/// kubectl's `current-context` across `files`: the first non-empty one, with its file.
pub fn view_current_context(files: &[Map<String, Value>]) -> Option<(usize, &str)> {
    files
        .iter()
        .enumerate()
        .find_map(|(index, root)| doc::current_context(root).map(|name| (index, name)))
}

/// The entries of `section` kubectl sees through `files`: for each name, the first file's.
fn visible(files: &[Map<String, Value>], section: Section) -> Result<Vec<Value>, Invalid> {
    let mut seen: Vec<String> = Vec::new();
    let mut entries = Vec::new();
    for root in files {
        for (name, entry) in doc::entries(root, section, Input::Target)? {
            if !seen.contains(&name) {
                seen.push(name);
                entries.push(entry);
            }
        }
    }
    Ok(entries)
}

/// The root of a file about to receive entries: a missing or empty file becomes the skeleton
/// kubectl writes, so the result is a complete kubeconfig.
fn writable_root(root: &mut Map<String, Value>) -> &mut Map<String, Value> {
    if root.is_empty() {
        *root = doc::skeleton();
    }
    root
}

fn section_list(root: &Map<String, Value>, section: Section) -> Vec<Value> {
    match root.get(section.key()) {
        Some(Value::Array(list)) => list.clone(),
        _ => Vec::new(),
    }
}

fn is_named(entry: &Value, name: &str) -> bool {
    entry.get("name").and_then(Value::as_str) == Some(name)
}

fn refers_to(entry: &Value, field: &str) -> Option<String> {
    entry
        .get("context")?
        .get(field)?
        .as_str()
        .map(str::to_owned)
}

/// The context the new file wants current: its `current-context`, else its only context.
fn new_current_context(incoming: &Map<String, Value>) -> Result<Option<String>, Invalid> {
    if let Some(name) = doc::current_context(incoming) {
        return Ok(Some(name.to_owned()));
    }
    let contexts = doc::entries(incoming, Section::Contexts, Input::New)?;
    Ok(match contexts.as_slice() {
        [(name, _)] => Some(name.clone()),
        _ => None,
    })
}

/// Replace the first entry called `name` and drop later ones (stale duplicates kubectl would
/// shadow anyway). Returns the entry replaced, `None` when there was none.
fn replace_named(list: &mut Vec<Value>, name: &str, entry: Value) -> Option<Value> {
    let first = list.iter().position(|v| is_named(v, name))?;
    let old = std::mem::replace(&mut list[first], entry);
    let mut index = 0;
    list.retain(|v| {
        let keep = index <= first || !is_named(v, name);
        index += 1;
        keep
    });
    Some(old)
}

fn remove_named(
    root: &mut Map<String, Value>,
    section: Section,
    name: &str,
    summary: &mut Summary,
) {
    let Some(Value::Array(list)) = root.get_mut(section.key()) else {
        return;
    };
    let before = list.len();
    list.retain(|v| !is_named(v, name));
    if list.len() != before {
        summary.section_mut(section).removed.push(name.to_owned());
    }
}

fn first_duplicate(entries: &[(String, Value)]) -> Option<&str> {
    entries
        .iter()
        .enumerate()
        .find(|(i, (name, _))| entries[..*i].iter().any(|(other, _)| other == name))
        .map(|(_, (name, _))| name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kubeconfig as k3d writes one for cluster `name`, with credentials tagged `secret`.
    fn k3d(name: &str, secret: &str) -> String {
        format!(
            "apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: CA-{secret}
    server: https://0.0.0.0:6550
  name: k3d-{name}
contexts:
- context:
    cluster: k3d-{name}
    user: admin@k3d-{name}
  name: k3d-{name}
current-context: k3d-{name}
kind: Config
preferences: {{}}
users:
- name: admin@k3d-{name}
  user:
    client-certificate-data: CERT-{secret}
    client-key-data: KEY-{secret}
"
        )
    }

    /// A user's own kubeconfig: two contexts, extensions and fields this helper doesn't know.
    const USER: &str = "apiVersion: v1
kind: Config
preferences:
  colors: true
clusters:
- cluster:
    server: https://prod.example:443
    extensions:
    - name: client.authentication.k8s.io/exec
      extension: {audience: prod}
  name: prod
- cluster:
    certificate-authority-data: CA-stale
    server: https://0.0.0.0:6550
  name: k3d-dev
contexts:
- context: {cluster: prod, user: prod-admin, namespace: web}
  name: prod
- context: {cluster: k3d-dev, user: admin@k3d-dev}
  name: k3d-dev
current-context: prod
users:
- name: prod-admin
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: aws
      args: [eks, get-token]
- name: admin@k3d-dev
  user:
    client-certificate-data: CERT-stale
    client-key-data: KEY-stale
extensions:
- name: vendor/note
  extension: {owner: team-a}
x-unknown-field: \"6550\"
";

    fn parsed(text: &str) -> Map<String, Value> {
        doc::parse(text, Input::Target).unwrap()
    }

    fn names(root: &Map<String, Value>, section: Section) -> Vec<String> {
        doc::entries(root, section, Input::Target)
            .unwrap()
            .into_iter()
            .map(|(name, _)| name)
            .collect()
    }

    fn entry<'a>(root: &'a Map<String, Value>, section: Section, name: &str) -> &'a Value {
        root[section.key()]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .unwrap()
    }

    #[test]
    fn merge_replaces_stale_credentials_in_place() {
        let (out, summary) = merge(USER, &k3d("dev", "fresh"), MergeOptions::default()).unwrap();
        let root = parsed(&out);
        assert_eq!(names(&root, Section::Clusters), ["prod", "k3d-dev"]);
        assert_eq!(
            names(&root, Section::Users),
            ["prod-admin", "admin@k3d-dev"]
        );
        let cluster = entry(&root, Section::Clusters, "k3d-dev");
        assert_eq!(cluster["cluster"]["certificate-authority-data"], "CA-fresh");
        let user = entry(&root, Section::Users, "admin@k3d-dev");
        assert_eq!(user["user"]["client-key-data"], "KEY-fresh");
        assert!(!out.contains("stale"), "{out}");
        assert_eq!(summary.clusters.replaced, ["k3d-dev"]);
        assert_eq!(summary.users.replaced, ["admin@k3d-dev"]);
        assert_eq!(
            summary.contexts.unchanged,
            ["k3d-dev"],
            "same cluster and user names"
        );
        assert!(summary.changed);
    }

    #[test]
    fn merge_keeps_unrelated_contexts_preferences_extensions_and_unknown_fields() {
        let (out, _) = merge(USER, &k3d("other", "x"), MergeOptions::default()).unwrap();
        let before = parsed(USER);
        let after = parsed(&out);
        for key in ["preferences", "extensions", "x-unknown-field"] {
            assert_eq!(after[key], before[key], "{key}");
        }
        assert_eq!(after["x-unknown-field"], "6550");
        assert_eq!(
            names(&after, Section::Contexts),
            ["prod", "k3d-dev", "k3d-other"]
        );
        assert_eq!(
            entry(&after, Section::Users, "prod-admin"),
            entry(&before, Section::Users, "prod-admin")
        );
        assert_eq!(
            entry(&after, Section::Clusters, "prod"),
            entry(&before, Section::Clusters, "prod")
        );
        let keys: Vec<&String> = after.keys().collect();
        let expected: Vec<&String> = before.keys().collect();
        assert_eq!(keys, expected, "top-level key order is kept");
    }

    #[test]
    fn merge_keeps_user_current_context() {
        let (out, summary) = merge(USER, &k3d("dev", "x"), MergeOptions::default()).unwrap();
        assert_eq!(doc::current_context(&parsed(&out)), Some("prod"));
        assert_eq!(summary.current_context.as_deref(), Some("prod"));
    }

    #[test]
    fn merge_set_current_switches_context() {
        let options = MergeOptions { set_current: true };
        let (out, summary) = merge(USER, &k3d("dev", "x"), options).unwrap();
        assert_eq!(doc::current_context(&parsed(&out)), Some("k3d-dev"));
        assert_eq!(summary.current_context.as_deref(), Some("k3d-dev"));
    }

    #[test]
    fn merge_sets_current_context_when_target_has_none() {
        for target in [
            "",
            "current-context: \"\"\nclusters: []\n",
            "kind: Config\n",
        ] {
            let (out, _) = merge(target, &k3d("a", "x"), MergeOptions::default()).unwrap();
            assert_eq!(
                doc::current_context(&parsed(&out)),
                Some("k3d-a"),
                "{target:?}"
            );
        }
    }

    #[test]
    fn merge_uses_the_only_context_when_new_has_no_current_context() {
        let new = k3d("a", "x").replace("current-context: k3d-a", "current-context: \"\"");
        let (out, _) = merge("", &new, MergeOptions { set_current: true }).unwrap();
        assert_eq!(doc::current_context(&parsed(&out)), Some("k3d-a"));
    }

    #[test]
    fn merge_set_current_needs_a_context_to_choose() {
        let new = "clusters:\n- name: a\n  cluster: {}\n- name: b\n  cluster: {}\ncontexts:\n- name: a\n  context: {}\n- name: b\n  context: {}\n";
        let err = merge(USER, new, MergeOptions { set_current: true }).unwrap_err();
        assert_eq!(err.input, Input::New);
        assert!(err.problem.contains("no current-context"), "{err}");
        let (out, _) = merge(USER, new, MergeOptions::default()).unwrap();
        assert_eq!(doc::current_context(&parsed(&out)), Some("prod"));
    }

    #[test]
    fn merge_into_empty_target_writes_a_complete_kubeconfig() {
        let (out, summary) = merge("", &k3d("a", "x"), MergeOptions::default()).unwrap();
        let root = parsed(&out);
        assert_eq!(root["apiVersion"], "v1");
        assert_eq!(root["kind"], "Config");
        assert_eq!(root["preferences"], serde_json::json!({}));
        assert_eq!(summary.clusters.added, ["k3d-a"]);
        assert_eq!(summary.users.added, ["admin@k3d-a"]);
        assert_eq!(summary.contexts.added, ["k3d-a"]);
        assert_eq!(summary.contexts.merged(), 1);
    }

    #[test]
    fn merge_of_identical_content_returns_target_bytes_unchanged() {
        let (first, _) = merge(USER, &k3d("dev", "x"), MergeOptions::default()).unwrap();
        let (second, summary) = merge(&first, &k3d("dev", "x"), MergeOptions::default()).unwrap();
        assert!(!summary.changed);
        assert_eq!(second, first);
        assert_eq!(summary.clusters.unchanged, ["k3d-dev"]);
        assert!(summary.clusters.replaced.is_empty());
        assert_eq!(summary.clusters.merged(), 1);
    }

    #[test]
    fn merge_drops_stale_duplicates_in_target() {
        let target = "clusters:\n- name: k3d-a\n  cluster: {server: old1}\n- name: keep\n  cluster: {}\n- name: k3d-a\n  cluster: {server: old2}\n";
        let (out, _) = merge(target, &k3d("a", "x"), MergeOptions::default()).unwrap();
        let root = parsed(&out);
        assert_eq!(names(&root, Section::Clusters), ["k3d-a", "keep"]);
        assert!(!out.contains("old"), "{out}");
    }

    #[test]
    fn merge_rejects_empty_or_duplicated_new_files() {
        let err = merge(USER, "", MergeOptions::default()).unwrap_err();
        assert_eq!(err.input, Input::New);
        assert_eq!(err.problem, "it has no clusters, users or contexts");
        let twice = "users:\n- name: u\n  user: {}\n- name: u\n  user: {}\n";
        let err = merge(USER, twice, MergeOptions::default()).unwrap_err();
        assert_eq!(err.problem, "user u is defined twice");
    }

    #[test]
    fn merge_reports_which_input_is_malformed() {
        let err = merge("clusters: 3\n", &k3d("a", "x"), MergeOptions::default()).unwrap_err();
        assert_eq!(err.input, Input::Target);
        let err = merge(USER, "clusters:\n- cluster: {}\n", MergeOptions::default()).unwrap_err();
        assert_eq!(err.input, Input::New);
        assert_eq!(err.problem, "entry 1 of `clusters` has no name");
    }

    #[test]
    fn merge_appends_sections_missing_from_target() {
        let (out, _) = merge(
            "apiVersion: v1\nkind: Config\npreferences: {}\n",
            &k3d("a", "x"),
            MergeOptions::default(),
        )
        .unwrap();
        assert!(
            out.starts_with("apiVersion: v1\nkind: Config\npreferences: {}\nclusters:\n"),
            "{out}"
        );
    }

    #[test]
    fn remove_takes_context_cluster_and_user_and_clears_current_context() {
        let (merged, _) = merge(USER, &k3d("a", "x"), MergeOptions { set_current: true }).unwrap();
        let (out, summary) = remove_context(&merged, "k3d-a").unwrap();
        let root = parsed(&out);
        assert_eq!(names(&root, Section::Contexts), ["prod", "k3d-dev"]);
        assert_eq!(names(&root, Section::Clusters), ["prod", "k3d-dev"]);
        assert_eq!(
            names(&root, Section::Users),
            ["prod-admin", "admin@k3d-dev"]
        );
        assert_eq!(root[CURRENT_CONTEXT], "");
        assert_eq!(summary.contexts.removed, ["k3d-a"]);
        assert_eq!(summary.clusters.removed, ["k3d-a"]);
        assert_eq!(summary.users.removed, ["admin@k3d-a"]);
        assert_eq!(summary.current_context, None);
        assert_eq!(root["extensions"], parsed(USER)["extensions"]);
    }

    #[test]
    fn remove_leaves_clusters_and_users_other_contexts_share() {
        let target = "clusters:\n- name: c\n  cluster: {}\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: one\n  context: {cluster: c, user: u}\n- name: two\n  context: {cluster: c, user: u, namespace: x}\ncurrent-context: two\n";
        let (out, summary) = remove_context(target, "one").unwrap();
        let root = parsed(&out);
        assert_eq!(names(&root, Section::Contexts), ["two"]);
        assert_eq!(names(&root, Section::Clusters), ["c"]);
        assert_eq!(names(&root, Section::Users), ["u"]);
        assert_eq!(summary.clusters.kept, ["c"]);
        assert_eq!(summary.users.kept, ["u"]);
        assert_eq!(root[CURRENT_CONTEXT], "two");
    }

    #[test]
    fn remove_missing_context_is_a_no_op_with_a_note() {
        let (out, summary) = remove_context(USER, "k3d-gone").unwrap();
        assert_eq!(out, USER);
        assert!(!summary.changed);
        assert_eq!(
            summary.note.as_deref(),
            Some("context k3d-gone not found; nothing to remove")
        );
        let (out, summary) = remove_context("", "k3d-gone").unwrap();
        assert_eq!(out, "");
        assert!(!summary.changed);
    }

    #[test]
    fn remove_rejects_malformed_target() {
        let err = remove_context("contexts: nope\n", "a").unwrap_err();
        assert_eq!(err.input, Input::Target);
        assert_eq!(err.problem, "`contexts` is a string, not a list");
    }

    fn files(texts: &[&str]) -> Vec<Map<String, Value>> {
        texts.iter().map(|text| parsed(text)).collect()
    }

    #[test]
    fn merge_view_replaces_entries_where_defined_and_adds_to_the_default_file() {
        // a: the user's own context; b: a stale cluster of the new file; c: missing.
        let before = files(&[
            "contexts:\n- name: mine\n  context: {cluster: c}\n",
            "clusters:\n- name: k3d-a\n  cluster: {server: old}\n",
            "",
        ]);
        let (out, summary) =
            merge_view(&before, 0, &parsed(&k3d("a", "x")), MergeOptions::default()).unwrap();
        assert_eq!(names(&out[0], Section::Contexts), ["mine", "k3d-a"]);
        assert_eq!(names(&out[0], Section::Users), ["admin@k3d-a"]);
        assert!(
            out[0].get(Section::Clusters.key()).is_none(),
            "not touched: no cluster went there"
        );
        assert_eq!(names(&out[1], Section::Clusters), ["k3d-a"]);
        assert_eq!(
            entry(&out[1], Section::Clusters, "k3d-a")["cluster"]["certificate-authority-data"],
            "CA-x"
        );
        assert_eq!(out[2], before[2], "a file nothing goes to stays as it was");
        assert_eq!(
            doc::current_context(&out[0]),
            Some("k3d-a"),
            "no file set one"
        );
        assert_eq!(summary.clusters.replaced, ["k3d-a"]);
        assert_eq!(summary.contexts.added, ["k3d-a"]);
    }

    #[test]
    fn merge_view_uses_the_first_definition_kubectl_sees() {
        let before = files(&[
            "users:\n- name: admin@k3d-a\n  user: {token: first}\n",
            "users:\n- name: admin@k3d-a\n  user: {token: shadowed}\n",
        ]);
        let (out, _) =
            merge_view(&before, 1, &parsed(&k3d("a", "x")), MergeOptions::default()).unwrap();
        assert_eq!(
            entry(&out[0], Section::Users, "admin@k3d-a")["user"]["client-key-data"],
            "KEY-x"
        );
        assert_eq!(
            out[1][Section::Users.key()],
            before[1][Section::Users.key()],
            "shadowed copy left"
        );
        assert_eq!(
            names(&out[1], Section::Clusters),
            ["k3d-a"],
            "new entries to the default"
        );
    }

    #[test]
    fn merge_view_current_context_goes_to_the_default_file_and_wins() {
        let before = files(&[
            "current-context: \"\"\nclusters: []\n",
            "current-context: prod\ncontexts:\n- name: prod\n  context: {}\n",
        ]);
        let (out, summary) =
            merge_view(&before, 0, &parsed(&k3d("a", "x")), MergeOptions::default()).unwrap();
        assert_eq!(
            doc::current_context(&out[0]),
            None,
            "the view has one (prod): kept"
        );
        assert_eq!(summary.current_context.as_deref(), Some("prod"));
        let (out, summary) = merge_view(
            &before,
            0,
            &parsed(&k3d("a", "x")),
            MergeOptions { set_current: true },
        )
        .unwrap();
        assert_eq!(doc::current_context(&out[0]), Some("k3d-a"));
        assert_eq!(
            doc::current_context(&out[1]),
            Some("prod"),
            "shadowed, not edited"
        );
        assert_eq!(summary.current_context.as_deref(), Some("k3d-a"));
        // Already current through another file: nothing to write for it.
        let (again, summary) = merge_view(
            &out,
            0,
            &parsed(&k3d("a", "x")),
            MergeOptions { set_current: true },
        )
        .unwrap();
        assert_eq!(again, out);
        assert!(!summary.changed);
    }

    #[test]
    fn remove_view_takes_each_entry_from_the_file_kubectl_reads_it_from() {
        let before = files(&[
            "contexts:\n- name: k3d-a\n  context: {cluster: k3d-a, user: admin@k3d-a}\ncurrent-context: k3d-a\n",
            "clusters:\n- name: k3d-a\n  cluster: {}\nusers:\n- name: admin@k3d-a\n  user: {}\n- name: shared\n  user: {}\ncontexts:\n- name: other\n  context: {cluster: c, user: shared}\ncurrent-context: other\n",
        ]);
        let (out, summary) = remove_view(&before, "k3d-a").unwrap();
        assert!(names(&out[0], Section::Contexts).is_empty());
        assert_eq!(out[0][CURRENT_CONTEXT], "", "cleared where it was set");
        assert!(names(&out[1], Section::Clusters).is_empty());
        assert_eq!(names(&out[1], Section::Users), ["shared"]);
        assert_eq!(
            out[1][CURRENT_CONTEXT], "other",
            "a shadowed current-context is left"
        );
        assert_eq!(
            summary.current_context.as_deref(),
            Some("other"),
            "what kubectl now sees"
        );
        assert_eq!(summary.clusters.removed, ["k3d-a"]);
        assert_eq!(summary.users.removed, ["admin@k3d-a"]);
    }

    #[test]
    fn remove_view_keeps_credentials_a_context_in_another_file_still_uses() {
        let before = files(&[
            "clusters:\n- name: c\n  cluster: {}\ncontexts:\n- name: one\n  context: {cluster: c}\n",
            "contexts:\n- name: two\n  context: {cluster: c}\n",
        ]);
        let (out, summary) = remove_view(&before, "one").unwrap();
        assert_eq!(names(&out[0], Section::Clusters), ["c"]);
        assert_eq!(summary.clusters.kept, ["c"]);
        assert_eq!(out[1], before[1]);
    }

    #[test]
    fn remove_view_of_a_context_no_file_defines_changes_nothing() {
        let before = files(&[USER, ""]);
        let (out, summary) = remove_view(&before, "k3d-gone").unwrap();
        assert_eq!(out, before);
        assert!(!summary.changed);
        assert_eq!(summary.current_context.as_deref(), Some("prod"));
    }
}
