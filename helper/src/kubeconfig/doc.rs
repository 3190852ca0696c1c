// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! A kubeconfig as an ordered `serde_json` map. We never deserialize into typed structs: fields
//! this helper does not know (exec plugins, extensions, `preferences`, future keys) must survive
//! a rewrite untouched, and `preserve_order` keeps the file's key order.

use std::fmt;

use serde_json::{Map, Value};

/// Which input of an edit was at fault, so the caller can name the file and the right fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The kubeconfig being edited.
    Target,
    /// The kubeconfig whose entries are merged in.
    New,
}

/// An input that is not a usable kubeconfig. The message never quotes values, only key and
/// entry names, so credentials cannot leak into logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub input: Input,
    pub problem: String,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let which = match self.input {
            Input::Target => "target",
            Input::New => "new",
        };
        write!(f, "{which} kubeconfig: {}", self.problem)
    }
}

impl std::error::Error for Invalid {}

fn invalid(input: Input, problem: impl Into<String>) -> Invalid {
    Invalid {
        input,
        problem: problem.into(),
    }
}

/// The three lists of named entries a kubeconfig holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Clusters,
    Users,
    Contexts,
}

impl Section {
    pub const ALL: [Section; 3] = [Section::Clusters, Section::Users, Section::Contexts];

    pub fn key(self) -> &'static str {
        match self {
            Section::Clusters => "clusters",
            Section::Users => "users",
            Section::Contexts => "contexts",
        }
    }

    pub fn singular(self) -> &'static str {
        match self {
            Section::Clusters => "cluster",
            Section::Users => "user",
            Section::Contexts => "context",
        }
    }
}

pub const CURRENT_CONTEXT: &str = "current-context";

/// Parse a kubeconfig. Empty text (or only comments) is an empty config, as kubectl treats it.
pub fn parse(text: &str, input: Input) -> Result<Map<String, Value>, Invalid> {
    let options = serde_saphyr::options! {
        // Read `0755` or `1_000` back as the text they are, not as numbers: kubectl's YAML
        // reader keeps the spelling for string fields, and re-emitting `493` would change it.
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        // One-line errors: the CLI prints `error: …` on a single line.
        with_snippet: false,
    };
    let value: Value = serde_saphyr::from_str_with_options(text, options).map_err(|err| {
        // The parser's duplicate-key hint names a Rust API option; drop it for users.
        let message = err
            .to_string()
            .replace(", set DuplicateKeyPolicy in Options if acceptable", "");
        invalid(input, format!("invalid YAML: {message}"))
    })?;
    let root = match value {
        Value::Null => Map::new(),
        Value::Object(map) => map,
        other => {
            return Err(invalid(
                input,
                format!("the document is {}, not a mapping", kind_of(&other)),
            ));
        }
    };
    if let Some(kind) = root.get("kind")
        && kind.as_str() != Some("Config")
    {
        let shown = kind
            .as_str()
            .map_or_else(|| kind_of(kind).to_owned(), str::to_owned);
        return Err(invalid(input, format!("`kind` is {shown}, not Config")));
    }
    match root.get(CURRENT_CONTEXT) {
        None | Some(Value::Null | Value::String(_)) => {}
        Some(other) => {
            return Err(invalid(
                input,
                format!("`current-context` is {}, not a string", kind_of(other)),
            ));
        }
    }
    for section in Section::ALL {
        entries(&root, section, input)?;
    }
    Ok(root)
}

/// The named entries of one section, validated: a missing or `null` section is empty, every
/// entry is a mapping with a non-empty string `name`.
pub fn entries(
    root: &Map<String, Value>,
    section: Section,
    input: Input,
) -> Result<Vec<(String, Value)>, Invalid> {
    let key = section.key();
    let list = match root.get(key) {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(list)) => list,
        Some(other) => {
            return Err(invalid(
                input,
                format!("`{key}` is {}, not a list", kind_of(other)),
            ));
        }
    };
    list.iter()
        .enumerate()
        .map(|(index, entry)| {
            let name = entry
                .as_object()
                .and_then(|map| map.get("name"))
                .and_then(Value::as_str)
                .filter(|name| !name.is_empty())
                .ok_or_else(|| {
                    invalid(input, format!("entry {} of `{key}` has no name", index + 1))
                })?;
            Ok((name.to_owned(), entry.clone()))
        })
        .collect()
}

/// The non-empty `current-context`, if any.
pub fn current_context(root: &Map<String, Value>) -> Option<&str> {
    root.get(CURRENT_CONTEXT)
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
}

/// The map kubectl writes for a fresh file, in its key order.
pub fn skeleton() -> Map<String, Value> {
    let mut root = Map::new();
    root.insert("apiVersion".into(), "v1".into());
    root.insert("clusters".into(), Value::Array(Vec::new()));
    root.insert("contexts".into(), Value::Array(Vec::new()));
    root.insert(CURRENT_CONTEXT.into(), "".into());
    root.insert("kind".into(), "Config".into());
    root.insert("preferences".into(), Value::Object(Map::new()));
    root.insert("users".into(), Value::Array(Vec::new()));
    root
}

/// Render a kubeconfig as YAML that kubectl (a YAML 1.1 reader) reads back to the same values.
pub fn emit(root: &Map<String, Value>) -> String {
    let options = serde_saphyr::ser_options! {
        // Long single-line values (base64 certificates, tokens) stay plain scalars on one
        // line, as kubectl writes them, instead of becoming folded `>` blocks.
        prefer_block_scalars: false,
    };
    let mut text = serde_saphyr::to_string_with_options(root, options)
        .expect("a JSON value always serializes to YAML");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkekNDQVIyZ0F3SUJBZ0lCQURBS0JnZ3Foa2pPUFFRREFqQWpNU0V3SHdZRFZRUUREQmhyTTNNdGMyVnkKZG1WeUxXTmhRREUzTURBd01EQXdNREF3SGhjTk1qUXdNVEF4TURBd01EQXdXaGNOTXpRd01UQXhNREF3TURBdwo=";

    fn round_trip(text: &str) -> String {
        emit(&parse(text, Input::Target).unwrap())
    }

    #[test]
    fn round_trip_keeps_quoted_numbers_empty_maps_order_and_long_base64() {
        let text = format!(
            "apiVersion: v1\nkind: Config\nzz-unknown:\n  port: \"6550\"\n  octal: 0755\npreferences: {{}}\nclusters:\n- cluster:\n    certificate-authority-data: {CA}\n    server: https://127.0.0.1:6550\n  name: k3d-a\ncontexts: []\nusers: []\ncurrent-context: \"\"\n"
        );
        let out = round_trip(&text);
        assert_eq!(
            out,
            format!(
                "apiVersion: v1\nkind: Config\nzz-unknown:\n  port: \"6550\"\n  octal: \"0755\"\npreferences: {{}}\nclusters:\n- cluster:\n    certificate-authority-data: {CA}\n    server: https://127.0.0.1:6550\n  name: k3d-a\ncontexts: []\nusers: []\ncurrent-context: \"\"\n"
            )
        );
        assert_eq!(round_trip(&out), out, "a second round trip changes nothing");
    }

    #[test]
    fn round_trip_quotes_strings_a_yaml_1_1_reader_would_retype() {
        let out = round_trip("a: 'yes'\nb: 'null'\nc: '2024-01-01'\nd: 'line1\n\n  line2'\n");
        let back = parse(&out, Input::Target).unwrap();
        assert_eq!(back["a"], "yes");
        assert_eq!(back["b"], "null");
        assert_eq!(back["c"], "2024-01-01");
        assert_eq!(back["d"], "line1\nline2");
        assert!(out.contains("a: \"yes\""), "{out}");
    }

    #[test]
    fn json_kubeconfig_is_read() {
        let root = parse(
            r#"{"kind":"Config","clusters":[{"name":"c","cluster":{"server":"x"}}]}"#,
            Input::New,
        )
        .unwrap();
        assert_eq!(
            entries(&root, Section::Clusters, Input::New).unwrap()[0].0,
            "c"
        );
    }

    #[test]
    fn empty_and_comment_only_files_are_empty_configs() {
        assert!(parse("", Input::Target).unwrap().is_empty());
        assert!(parse("# nothing yet\n", Input::Target).unwrap().is_empty());
    }

    #[test]
    fn null_sections_are_empty() {
        let root = parse("clusters: null\ncontexts:\n", Input::Target).unwrap();
        assert!(
            entries(&root, Section::Clusters, Input::Target)
                .unwrap()
                .is_empty()
        );
        assert!(
            entries(&root, Section::Contexts, Input::Target)
                .unwrap()
                .is_empty()
        );
    }

    fn problem(text: &str) -> String {
        let err = parse(text, Input::New).unwrap_err();
        assert_eq!(err.input, Input::New);
        err.problem
    }

    #[test]
    fn malformed_documents_are_named_precisely() {
        assert!(problem("clusters: [\n").starts_with("invalid YAML: "));
        assert_eq!(
            problem("- a\n- b\n"),
            "the document is a list, not a mapping"
        );
        assert_eq!(
            problem("clusters: {}\n"),
            "`clusters` is a mapping, not a list"
        );
        assert_eq!(
            problem("users:\n- user: {}\n"),
            "entry 1 of `users` has no name"
        );
        assert_eq!(
            problem("contexts:\n- name: a\n- name: ''\n"),
            "entry 2 of `contexts` has no name"
        );
        assert_eq!(
            problem("kind: Deployment\n"),
            "`kind` is Deployment, not Config"
        );
        assert_eq!(
            problem("current-context: [a]\n"),
            "`current-context` is a list, not a string"
        );
        assert_eq!(
            problem("users: []\nusers: []\n"),
            "invalid YAML: duplicate mapping key: users at line 2, column 1"
        );
    }

    #[test]
    fn invalid_names_the_input() {
        let err = parse("- a\n", Input::Target).unwrap_err();
        assert_eq!(
            err.to_string(),
            "target kubeconfig: the document is a list, not a mapping"
        );
    }
}
