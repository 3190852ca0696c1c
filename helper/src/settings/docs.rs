// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The settings table as docs: the README's Markdown table and the *Settings* part of
//! `k8s-dev.sh --help`. Both are generated into those files (`k8s-dev-helper settings
//! --markdown|--usage`) and a test keeps them equal to this output, so they cannot drift from
//! the table.

use super::{Default, TABLE};

/// The README's settings table.
pub fn markdown() -> String {
    let mut out = String::from(
        "| setting | what it sets | default | accepted values | OpenShell |\n\
         |---|---|---|---|---|\n",
    );
    for spec in TABLE {
        let default = match spec.default {
            Default::Value(value) => format!("`{value}`"),
            Default::Derived { doc, .. } => format!("{} (derived)", doc_text(doc)),
            Default::Computed { doc, .. } => format!("{} (read-only)", doc_text(doc)),
            Default::Unset { doc } => doc_text(doc),
        };
        let openshell = match spec.openshell {
            // A value as code, a description (`the Agent Sandbox CRDs`) as prose.
            Some(v) if !v.contains(' ') => format!("`{v}`"),
            Some(v) => cell(v),
            None => String::new(),
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {openshell} |\n",
            spec.name,
            cell(spec.help),
            default,
            cell(&spec.rule.expects()),
        ));
    }
    out
}

/// The *Settings* part of `k8s-dev.sh --help`: one line per setting.
pub fn usage() -> String {
    let mut out = String::from(
        "Settings (environment; default in parentheses; `k8s-dev-helper settings` shows the\n\
         values in effect, `k8s-dev-helper settings --json` where each comes from):\n",
    );
    let width = TABLE.iter().map(|s| s.name.len()).max().unwrap_or(0) + 2;
    let mut read_only = false;
    for spec in TABLE {
        if matches!(spec.default, Default::Computed { .. }) && !read_only {
            out.push_str("Derived, read-only:\n");
            read_only = true;
        }
        let text = format!("{} ({})", spec.help, spec.default.doc());
        let mut lines = wrap(&text, USAGE_WIDTH - 2 - width).into_iter();
        out.push_str(&format!(
            "  {:width$}{}\n",
            spec.name,
            lines.next().unwrap_or_default()
        ));
        for line in lines {
            out.push_str(&format!("  {:width$}{line}\n", ""));
        }
    }
    out
}

/// The usage text's right margin, as the rest of `k8s-dev.sh --help`.
const USAGE_WIDTH: usize = 100;

/// Words of `text` in lines of at most `width` characters (a longer word gets a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines.push(line);
    lines
}

/// A derivation's doc: a pattern such as `k3d-<K8S_DEV_CLUSTER>` as code (Markdown would
/// take `<…>` for HTML), else prose with the setting names as code.
fn doc_text(doc: &str) -> String {
    if doc.contains('<') {
        format!("`{doc}`")
    } else {
        code_names(doc)
    }
}

/// `K8S_DEV_X` names in a doc string as code.
fn code_names(doc: &str) -> String {
    let mut out = String::new();
    let mut rest = doc;
    while let Some(at) = rest.find("K8S_DEV_") {
        let end = rest[at..]
            .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
            .map_or(rest.len(), |e| at + e);
        out.push_str(&rest[..at]);
        out.push_str(&format!("`{}`", &rest[at..end]));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Prose in a Markdown table cell: `|` escaped, and `<…>` kept from reading as HTML.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_has_a_row_per_setting() {
        let md = markdown();
        assert_eq!(md.lines().count(), TABLE.len() + 2);
        assert!(md.contains(
            "| `K8S_DEV_REGISTRY` | registry as the host pushes to it (Skaffold's default repo) | `localhost:<K8S_DEV_REGISTRY_PORT>; remote mode: none` (derived) |"
        ), "{md}");
        assert!(md.contains("| `statefulset/openshell` |"), "{md}");
    }

    #[test]
    fn usage_lines_fit_the_help_width() {
        for line in usage().lines() {
            assert!(line.len() <= USAGE_WIDTH, "{line}");
        }
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap("abcdef", 3), ["abcdef"]);
    }

    #[test]
    fn usage_lines_name_the_default() {
        let usage = usage();
        assert!(usage.contains("  K8S_DEV_CLUSTER "), "{usage}");
        assert!(
            usage.contains("  K8S_DEV_REGISTRY_PORT           host port of the registry (5000)\n"),
            "{usage}"
        );
        assert!(
            usage.contains("Derived, read-only:\n  K8S_DEV_KIT_DIR"),
            "{usage}"
        );
    }
}
