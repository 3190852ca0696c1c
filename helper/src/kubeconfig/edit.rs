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
    let existing = doc::parse(target, Input::Target)?;
    let incoming = doc::parse(new, Input::New)?;
    let mut root = if existing.is_empty() {
        doc::skeleton()
    } else {
        existing.clone()
    };
    let mut summary = Summary::default();

    let mut incoming_total = 0;
    for section in Section::ALL {
        let entries = doc::entries(&incoming, section, Input::New)?;
        if let Some(name) = first_duplicate(&entries) {
            return Err(Invalid {
                input: Input::New,
                problem: format!("{} {name} is defined twice", section.singular()),
            });
        }
        incoming_total += entries.len();
        let mut list: Vec<Value> = doc::entries(&root, section, Input::Target)?
            .into_iter()
            .map(|(_, entry)| entry)
            .collect();
        let changes = summary.section_mut(section);
        for (name, entry) in entries {
            match replace_named(&mut list, &name, entry.clone()) {
                Some(old) if old == entry => changes.unchanged.push(name),
                Some(_) => changes.replaced.push(name),
                None => {
                    list.push(entry);
                    changes.added.push(name);
                }
            }
        }
        // `insert` on an existing key keeps its position (preserve_order).
        root.insert(section.key().into(), Value::Array(list));
    }
    if incoming_total == 0 {
        return Err(Invalid {
            input: Input::New,
            problem: "it has no clusters, users or contexts".into(),
        });
    }

    let wanted = new_current_context(&incoming)?;
    if options.set_current && wanted.is_none() {
        return Err(Invalid {
            input: Input::New,
            problem: "it has no current-context to make current (--set-current) and more than one context".into(),
        });
    }
    if let Some(name) = wanted
        && (options.set_current || doc::current_context(&root).is_none())
    {
        root.insert(CURRENT_CONTEXT.into(), Value::String(name));
    }

    summary.current_context = doc::current_context(&root).map(str::to_owned);
    summary.changed = root != existing;
    let text = if summary.changed {
        doc::emit(&root)
    } else {
        target.to_owned()
    };
    Ok((text, summary))
}

/// Remove context `name` from `target`, with its cluster and user when no remaining context
/// uses them, and clear `current-context` if it named it. A missing context is not an error
/// (so `down` can run twice): the target comes back unchanged with a note.
pub fn remove_context(target: &str, name: &str) -> Result<(String, Summary), Invalid> {
    let existing = doc::parse(target, Input::Target)?;
    let mut root = existing.clone();
    let mut summary = Summary::default();

    let contexts = doc::entries(&root, Section::Contexts, Input::Target)?;
    let Some((_, removed)) = contexts.iter().find(|(n, _)| n == name) else {
        summary.current_context = doc::current_context(&root).map(str::to_owned);
        summary.note = Some(format!("context {name} not found; nothing to remove"));
        return Ok((target.to_owned(), summary));
    };
    let refers_to = |entry: &Value, field: &str| -> Option<String> {
        entry
            .get("context")?
            .get(field)?
            .as_str()
            .map(str::to_owned)
    };
    let cluster = refers_to(removed, "cluster");
    let user = refers_to(removed, "user");
    let remaining: Vec<&Value> = contexts
        .iter()
        .filter(|(n, _)| n != name)
        .map(|(_, entry)| entry)
        .collect();

    remove_named(&mut root, Section::Contexts, name, &mut summary);
    for (section, field, target_name) in [
        (Section::Clusters, "cluster", cluster),
        (Section::Users, "user", user),
    ] {
        let Some(target_name) = target_name else {
            continue;
        };
        let shared = remaining
            .iter()
            .any(|entry| refers_to(entry, field).as_deref() == Some(&target_name));
        if shared {
            summary.section_mut(section).kept.push(target_name);
        } else {
            remove_named(&mut root, section, &target_name, &mut summary);
        }
    }
    if doc::current_context(&root) == Some(name) {
        root.insert(CURRENT_CONTEXT.into(), Value::String(String::new()));
    }

    summary.current_context = doc::current_context(&root).map(str::to_owned);
    summary.changed = root != existing;
    Ok((doc::emit(&root), summary))
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
    let is_named = |v: &Value| v.get("name").and_then(Value::as_str) == Some(name);
    let first = list.iter().position(is_named)?;
    let old = std::mem::replace(&mut list[first], entry);
    let mut index = 0;
    list.retain(|v| {
        let keep = index <= first || !is_named(v);
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
    list.retain(|v| v.get("name").and_then(Value::as_str) != Some(name));
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
}
