// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Attaching to the host's k3s (`K8S_DEV_PROVIDER=k3s`, the design's "on Linux, k3s can be
//! installed and run directly"): the kit never creates, stops or deletes that cluster. It reads
//! the kubeconfig k3s writes, renames its `default` entries to the kit's names for merging, and
//! makes k3s's containerd pull the kit's registry names from the registry container on the
//! host's loopback, through `/etc/rancher/k3s/registries.yaml`.
//!
//! Paths hang off a [`Layout`] root (`/` on the host, a temp directory in tests). Reading and
//! writing are the only IO here; what to write is decided by pure functions.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow, bail};
use serde_json::{Map, Value, json};

use super::{KubeconfigNames, ObjectState, Registry, emit_yaml, parse_yaml};
use crate::kubeconfig::doc::{self, Input, Section};
use crate::plan::{ClusterSeen, Mirrors};

/// Where k3s writes its admin kubeconfig (`--write-kubeconfig`'s default).
pub const KUBECONFIG: &str = "etc/rancher/k3s/k3s.yaml";
/// Where k3s reads registry mirrors from at start.
pub const REGISTRIES: &str = "etc/rancher/k3s/registries.yaml";
/// The setting naming a copy of the kubeconfig when the file k3s writes is root's alone.
pub const KUBECONFIG_SETTING: &str = "K8S_DEV_K3S_KUBECONFIG";
/// The tests' stand-in for `/`: a directory holding a fake host's `etc/rancher/k3s`.
pub const ROOT_VAR: &str = "K8S_DEV_TEST_HOST_ROOT";

/// The host's k3s files under a root directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub root: PathBuf,
}

/// How k3s runs on the host, for the restart command a registries.yaml change needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Systemd,
    OpenRc,
    Unknown,
}

impl Layout {
    pub fn new(root: impl Into<PathBuf>) -> Layout {
        Layout { root: root.into() }
    }

    pub fn host() -> Layout {
        Layout::new("/")
    }

    /// The host's layout, or the fake host's under `K8S_DEV_TEST_HOST_ROOT` (tests only: the
    /// task tests attach to a k3s laid out in a temporary directory).
    pub fn of(env: &crate::env::Env) -> Layout {
        match env.var(ROOT_VAR) {
            Some(root) => Layout::new(root),
            None => Layout::host(),
        }
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.root.join(KUBECONFIG)
    }

    pub fn registries(&self) -> PathBuf {
        self.root.join(REGISTRIES)
    }

    /// The service manager k3s's installer set up: a `k3s.service` unit (get.k3s.io on
    /// systemd) or an OpenRC `/etc/init.d/k3s`.
    pub fn service(&self) -> Service {
        let exists = |p: &str| self.root.join(p).exists();
        if exists("etc/systemd/system/k3s.service") || exists("lib/systemd/system/k3s.service") {
            Service::Systemd
        } else if exists("etc/init.d/k3s") {
            Service::OpenRc
        } else {
            Service::Unknown
        }
    }
}

/// The command that makes k3s read registries.yaml again; `sudo` unless the caller is root.
pub fn restart_command(service: Service, uid: u32) -> String {
    service_command(service, uid, "restart")
}

/// `verb` (start, restart) for the k3s service as its service manager spells it.
fn service_command(service: Service, uid: u32, verb: &str) -> String {
    let sudo = if uid == 0 { "" } else { "sudo " };
    match service {
        Service::Systemd => format!("{sudo}systemctl {verb} k3s"),
        Service::OpenRc => format!("{sudo}rc-service k3s {verb}"),
        Service::Unknown => format!("{sudo}systemctl {verb} k3s (or however k3s runs here)"),
    }
}

/// Read the kubeconfig of the host's k3s from `path` (the layout's, or the copy
/// [`KUBECONFIG_SETTING`] names). Each failure is one line naming the fix.
pub fn read_kubeconfig(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|err| read_error(path, &err))
}

/// The one-line error for a kubeconfig that could not be read, by what went wrong.
pub fn read_error(path: &Path, err: &io::Error) -> anyhow::Error {
    let path = path.display();
    match err.kind() {
        io::ErrorKind::NotFound => anyhow!(
            "k3s kubeconfig {path} does not exist: k3s is not installed or has not started; install it (curl -sfL https://get.k3s.io | sh -), or set {KUBECONFIG_SETTING} to a copy of its kubeconfig"
        ),
        io::ErrorKind::PermissionDenied => anyhow!(
            "k3s kubeconfig {path} is not readable by you (k3s writes it for root); copy it: sudo install -m 600 -o \"$(id -u)\" {path} ~/.kube/k3s.yaml and set {KUBECONFIG_SETTING}=~/.kube/k3s.yaml (or start k3s with --write-kubeconfig-mode 644)"
        ),
        _ => anyhow!(
            "reading k3s kubeconfig {path}: {err}; check the file, or set {KUBECONFIG_SETTING} to a copy of it"
        ),
    }
}

/// k3s's kubeconfig with its one context, cluster and user (all `default`) renamed to the
/// kit's `names`, and that context current: ready for `kubeconfig merge`, which then replaces
/// an older copy instead of colliding with another `default`. Other keys (namespace,
/// certificates, extensions) are kept; nothing is quoted in errors, the file holds credentials.
pub fn rename_kubeconfig(text: &str, names: &KubeconfigNames) -> Result<String> {
    let fail = |problem: String| {
        anyhow!(
            "k3s kubeconfig: {problem}; point {KUBECONFIG_SETTING} at the file k3s writes (/etc/rancher/k3s/k3s.yaml) or a copy of it"
        )
    };
    let root = doc::parse(text, Input::New).map_err(|err| fail(err.problem))?;
    let contexts =
        doc::entries(&root, Section::Contexts, Input::New).map_err(|e| fail(e.problem))?;
    let [(context_name, context)] = contexts.as_slice() else {
        return Err(fail(format!(
            "it has {} contexts, k3s writes one",
            contexts.len()
        )));
    };
    let reference = |key: &str| {
        context
            .pointer(&format!("/context/{key}"))
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| fail(format!("context {context_name} names no {key}")))
    };
    let (cluster_ref, user_ref) = (reference("cluster")?, reference("user")?);
    let find = |section: Section, name: &str| -> Result<Value> {
        doc::entries(&root, section, Input::New)
            .map_err(|e| fail(e.problem))?
            .into_iter()
            .find(|(n, _)| n == name)
            .map(|(_, entry)| entry)
            .ok_or_else(|| {
                fail(format!(
                    "context {context_name} names {} {name}, which it does not define",
                    section.singular()
                ))
            })
    };
    let renamed = |mut entry: Value, name: &str| {
        entry["name"] = json!(name);
        entry
    };
    let cluster = renamed(find(Section::Clusters, &cluster_ref)?, &names.cluster);
    let user = renamed(find(Section::Users, &user_ref)?, &names.user);
    let mut context = renamed(context.clone(), &names.context);
    context["context"]["cluster"] = json!(names.cluster);
    context["context"]["user"] = json!(names.user);

    let mut out = doc::skeleton();
    out.insert("clusters".into(), json!([cluster]));
    out.insert("contexts".into(), json!([context]));
    out.insert(doc::CURRENT_CONTEXT.into(), json!(names.context));
    out.insert("users".into(), json!([user]));
    Ok(doc::emit(&out))
}

/// The mirror endpoint k3s's containerd uses for the kit's registry: the registry container
/// publishes on the host's loopback, where k3s runs.
pub fn mirror_endpoint(registry: &Registry) -> String {
    format!("http://127.0.0.1:{}", registry.port)
}

/// What registries.yaml needs for the kit's registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistriesPlan {
    /// Both names already mirror to the kit's registry: nothing to write, no restart.
    UpToDate,
    /// Write `content` (which keeps every other mirror and config) and restart k3s.
    Write {
        content: String,
        /// The mirror names added or changed.
        changed: Vec<String>,
    },
}

/// Compare the current registries.yaml (`None`: no file) with what the kit needs: each of the
/// registry's names mirrored to exactly [`mirror_endpoint`], with no rewrite. Everything else in
/// the file is kept as it is; comments are not (the file is re-emitted).
pub fn plan_registries(existing: Option<&str>, registry: &Registry) -> Result<RegistriesPlan> {
    let path = format!("/{REGISTRIES}");
    let mut root = match existing.map(parse_yaml).transpose() {
        Err(err) => {
            bail!("{path} is not valid YAML ({err}); fix or remove it: k3s cannot read it either")
        }
        Ok(None | Some(Value::Null)) => Map::new(),
        Ok(Some(Value::Object(map))) => map,
        Ok(Some(_)) => {
            bail!("{path} is not a mapping; fix or remove it: k3s cannot read it either")
        }
    };
    let mirrors = root
        .entry("mirrors")
        .or_insert_with(|| Value::Object(Map::new()));
    if mirrors.is_null() {
        *mirrors = Value::Object(Map::new());
    }
    let mirrors = mirrors
        .as_object_mut()
        .ok_or_else(|| anyhow!("{path}: `mirrors` is not a mapping; fix or remove it"))?;
    let want = json!({ "endpoint": [mirror_endpoint(registry)] });
    let mut changed = Vec::new();
    for name in registry.mirrored_names() {
        if mirrors.get(name) != Some(&want) {
            mirrors.insert(name.to_string(), want.clone());
            changed.push(name.to_string());
        }
    }
    if changed.is_empty() {
        return Ok(RegistriesPlan::UpToDate);
    }
    let body = emit_yaml(&root)?;
    Ok(RegistriesPlan::Write {
        content: format!(
            "# k8s-dev: the mirrors of {} go to its registry at {}; k3s reads this file at start.\n{body}",
            changed.join(" and "),
            mirror_endpoint(registry)
        ),
        changed,
    })
}

/// What the user runs when the kit may not write registries.yaml itself: the exact file and
/// the restart, as one block to print.
pub fn manual_steps(layout: &Layout, content: &str, uid: u32) -> String {
    let sudo = if uid == 0 { "" } else { "sudo " };
    let path = layout.registries();
    format!(
        "{sudo}tee {} >/dev/null <<'EOF'\n{content}EOF\n{}\n",
        path.display(),
        restart_command(layout.service(), uid)
    )
}

/// What [`apply_registries`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    UpToDate,
    /// Written; k3s must be restarted with this command to read it.
    Written {
        restart: String,
    },
    /// The file (or its directory) is not writable by this user: print `steps`.
    NotWritable {
        steps: String,
    },
}

/// Bring registries.yaml up to date when this user may write it (root, usually), atomically
/// and keeping the file's mode (0600 for a new file: it may hold registry credentials). When
/// it may not, hand back the steps to print. Never restarts k3s: that stays the user's call.
pub fn apply_registries(layout: &Layout, registry: &Registry, uid: u32) -> Result<Applied> {
    let path = layout.registries();
    let existing = match fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
            // Unreadable means unwritable too, and what it holds is unknown: the steps add the
            // kit's mirrors to it rather than replace it.
            return Ok(Applied::NotWritable {
                steps: merge_steps(layout, registry, uid)?,
            });
        }
        Err(err) => bail!("reading {}: {err}; check the file", path.display()),
    };
    let RegistriesPlan::Write { content, .. } = plan_registries(existing.as_deref(), registry)?
    else {
        return Ok(Applied::UpToDate);
    };
    let mode = fs::metadata(&path)
        .map(|m| m.permissions().mode() & 0o7777)
        .unwrap_or(0o600);
    match write_atomic(&path, &content, mode) {
        Ok(()) => Ok(Applied::Written {
            restart: restart_command(layout.service(), uid),
        }),
        Err(err) if not_writable(&err) => Ok(Applied::NotWritable {
            steps: manual_steps(layout, &content, uid),
        }),
        Err(err) => bail!(
            "writing {}: {err}; write it by hand:\n{}",
            path.display(),
            manual_steps(layout, &content, uid)
        ),
    }
}

/// A write refused for this user or this mount (a read-only bind mount of /etc/rancher/k3s).
fn not_writable(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    )
}

/// The steps when the file could not be read: add the kit's mirrors to it by hand, keeping
/// what it has, then restart k3s.
pub fn merge_steps(layout: &Layout, registry: &Registry, uid: u32) -> Result<String> {
    let sudo = if uid == 0 { "" } else { "sudo " };
    let mut mirrors = Map::new();
    for name in registry.mirrored_names() {
        mirrors.insert(
            name.to_string(),
            json!({ "endpoint": [mirror_endpoint(registry)] }),
        );
    }
    let fragment = emit_yaml(&json!({ "mirrors": mirrors }))?;
    Ok(format!(
        "# add these mirrors to {} (keep what it has; {sudo}cat it to see it):\n{fragment}{}\n",
        layout.registries().display(),
        restart_command(layout.service(), uid)
    ))
}

/// Whether this user may replace `path` (write it and rename into its directory), or create it
/// in the nearest directory that exists. Asks the kernel (`access`), so a read-only mount
/// counts too.
pub fn may_write(path: &Path) -> bool {
    use rustix::fs::{Access, access};
    let writable = |p: &Path| access(p, Access::WRITE_OK).is_ok();
    let mut dir = path.parent();
    while let Some(d) = dir {
        if d.exists() {
            return d.is_dir() && writable(d) && (!path.exists() || writable(path));
        }
        dir = d.parent();
    }
    false
}

/// What registries.yaml holds of the kit's mirrors, for the plan: up to date, to be written, or
/// to be written by the user (the steps to print).
pub fn mirrors_seen(layout: &Layout, registry: &Registry, uid: u32) -> Result<Mirrors> {
    let path = layout.registries();
    let file = path.display().to_string();
    let existing = match fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(err) if err.kind() == io::ErrorKind::NotFound => None,
        Err(err) if err.kind() == io::ErrorKind::PermissionDenied => {
            return Ok(Mirrors::NotWritable {
                file,
                steps: merge_steps(layout, registry, uid)?,
            });
        }
        Err(err) => bail!("reading {file}: {err}; check the file"),
    };
    Ok(match plan_registries(existing.as_deref(), registry)? {
        RegistriesPlan::UpToDate => Mirrors::UpToDate,
        RegistriesPlan::Write { .. } if may_write(&path) => Mirrors::Stale,
        RegistriesPlan::Write { content, .. } => Mirrors::NotWritable {
            file,
            steps: manual_steps(layout, &content, uid),
        },
    })
}

/// The command that starts the host's k3s; `sudo` unless the caller is root.
pub fn start_command(service: Service, uid: u32) -> String {
    service_command(service, uid, "start")
}

/// The attached k3s as the kit finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    /// Its kubeconfig cannot be read or is not k3s's: the one-line error, with its fix.
    NoKubeconfig(String),
    /// The API at `server` does not answer.
    Down {
        server: String,
        reason: String,
    },
    Up,
}

/// The server of the kubeconfig's one context (k3s writes `https://127.0.0.1:6443`).
pub fn server_of(text: &str) -> Option<String> {
    let root = doc::parse(text, Input::New).ok()?;
    let contexts = doc::entries(&root, Section::Contexts, Input::New).ok()?;
    let [(_, context)] = contexts.as_slice() else {
        return None;
    };
    let cluster = context.pointer("/context/cluster")?.as_str()?;
    doc::entries(&root, Section::Clusters, Input::New)
        .ok()?
        .into_iter()
        .find(|(n, _)| n == cluster)?
        .1
        .pointer("/cluster/server")?
        .as_str()
        .map(str::to_string)
}

/// What the plans see of the attached k3s: running when its API answers; otherwise a defect
/// naming what to do, for the kit never creates or starts it.
pub fn cluster_seen(attached: &Attached, start: &str) -> ClusterSeen {
    let (state, defects) = match attached {
        Attached::Up => (ObjectState::Running, Vec::new()),
        Attached::NoKubeconfig(line) => (ObjectState::Missing, vec![line.clone()]),
        Attached::Down { server, reason } => (
            ObjectState::Stopped,
            vec![format!(
                "k3s does not answer at {server} ({reason}); start it: {start}, then run up again"
            )],
        ),
    };
    ClusterSeen {
        state,
        servers: (0, 0),
        agents: (0, 0),
        api_port: None,
        holds_ports: false,
        foreign: Vec::new(),
        defects,
    }
}

fn write_atomic(path: &Path, content: &str, mode: u32) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".registries.yaml.k8s-dev.{}", std::process::id()));
    let result = (|| {
        fs::write(&tmp, content)?;
        fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::Provider;

    /// The kubeconfig k3s v1.32 writes (certificates shortened).
    const K3S_YAML: &str = "apiVersion: v1
clusters:
- cluster:
    certificate-authority-data: Q0EtREFUQQ==
    server: https://127.0.0.1:6443
  name: default
contexts:
- context:
    cluster: default
    user: default
  name: default
current-context: default
kind: Config
preferences: {}
users:
- name: default
  user:
    client-certificate-data: Q0VSVC1EQVRB
    client-key-data: S0VZLURBVEE=
";

    use crate::provider::example_registry as registry;

    fn names() -> KubeconfigNames {
        Provider::K3s.kubeconfig_names("openshell-dev")
    }

    /// A host root with k3s's files, as the installer leaves them.
    fn host(kubeconfig: Option<&str>, registries: Option<&str>) -> tempfile::TempDir {
        let root = tempfile::tempdir().unwrap();
        let layout = Layout::new(root.path());
        fs::create_dir_all(layout.kubeconfig().parent().unwrap()).unwrap();
        if let Some(text) = kubeconfig {
            fs::write(layout.kubeconfig(), text).unwrap();
        }
        if let Some(text) = registries {
            fs::write(layout.registries(), text).unwrap();
        }
        root
    }

    #[test]
    fn kubeconfig_is_renamed_to_the_kits_names_and_keeps_credentials() {
        let root = host(Some(K3S_YAML), None);
        let text = read_kubeconfig(&Layout::new(root.path()).kubeconfig()).unwrap();
        let out = rename_kubeconfig(&text, &names()).unwrap();
        let doc = doc::parse(&out, Input::New).unwrap();
        assert_eq!(doc["current-context"], "k3s-openshell-dev");
        assert_eq!(
            doc["contexts"],
            json!([{"context": {"cluster": "k3s-openshell-dev", "user": "admin@k3s-openshell-dev"}, "name": "k3s-openshell-dev"}])
        );
        assert_eq!(doc["clusters"][0]["name"], "k3s-openshell-dev");
        assert_eq!(
            doc["clusters"][0]["cluster"]["server"],
            "https://127.0.0.1:6443"
        );
        assert_eq!(doc["users"][0]["name"], "admin@k3s-openshell-dev");
        assert_eq!(doc["users"][0]["user"]["client-key-data"], "S0VZLURBVEE=");
    }

    #[test]
    fn renamed_kubeconfig_merges_next_to_the_users_own_default_context() {
        let user = K3S_YAML.replace("127.0.0.1:6443", "prod.example:6443");
        let renamed = rename_kubeconfig(K3S_YAML, &names()).unwrap();
        let (merged, _) =
            crate::kubeconfig::merge(&user, &renamed, crate::kubeconfig::MergeOptions::default())
                .unwrap();
        let doc = doc::parse(&merged, Input::Target).unwrap();
        let contexts: Vec<&str> = doc["contexts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(contexts, ["default", "k3s-openshell-dev"]);
        assert_eq!(
            doc["clusters"][0]["cluster"]["server"],
            "https://prod.example:6443"
        );
    }

    #[test]
    fn a_context_namespace_survives_the_rename() {
        let text = K3S_YAML.replace(
            "    user: default\n  name: default",
            "    namespace: dev\n    user: default\n  name: default",
        );
        let out = rename_kubeconfig(&text, &names()).unwrap();
        let doc = doc::parse(&out, Input::New).unwrap();
        assert_eq!(doc["contexts"][0]["context"]["namespace"], "dev");
    }

    #[test]
    fn kubeconfig_not_shaped_like_k3s_is_one_line_naming_the_setting() {
        for (text, says) in [
            (
                K3S_YAML.replace(
                    "- context:\n    cluster: default\n    user: default\n  name: default\n",
                    "",
                ),
                "it has 0 contexts, k3s writes one",
            ),
            (
                K3S_YAML.replace(
                    "    user: default\n  name: default",
                    "    user: nobody\n  name: default",
                ),
                "names user nobody, which it does not define",
            ),
            ("kind: Deployment\n".to_string(), "`kind` is Deployment"),
        ] {
            let err = rename_kubeconfig(&text, &names()).unwrap_err().to_string();
            assert!(err.contains(says), "{err}");
            assert!(err.contains("K8S_DEV_K3S_KUBECONFIG"), "{err}");
            assert!(
                !err.contains("S0VZLURBVEE="),
                "never quotes the file: {err}"
            );
            assert!(!err.contains('\n'));
        }
    }

    #[test]
    fn missing_kubeconfig_says_install_k3s() {
        let root = host(None, None);
        let err = read_kubeconfig(&Layout::new(root.path()).kubeconfig())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("etc/rancher/k3s/k3s.yaml does not exist"),
            "{err}"
        );
        assert!(err.contains("get.k3s.io"), "{err}");
        assert!(!err.contains('\n'));
    }

    #[test]
    fn unreadable_kubeconfig_says_how_to_copy_it() {
        let path = Path::new("/etc/rancher/k3s/k3s.yaml");
        let err = read_error(path, &io::Error::from(io::ErrorKind::PermissionDenied)).to_string();
        assert!(
            err.starts_with("k3s kubeconfig /etc/rancher/k3s/k3s.yaml is not readable by you"),
            "{err}"
        );
        assert!(err.contains("sudo install -m 600"), "{err}");
        assert!(
            err.contains("K8S_DEV_K3S_KUBECONFIG=~/.kube/k3s.yaml"),
            "{err}"
        );
        assert!(!err.contains('\n'));
        // root reads a mode-0 file, so only an unprivileged run can provoke the real error.
        if unsafe { libc::getuid() } != 0 {
            let root = host(Some(K3S_YAML), None);
            let path = Layout::new(root.path()).kubeconfig();
            fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
            let err = read_kubeconfig(&path).unwrap_err().to_string();
            assert!(err.contains("is not readable by you"), "{err}");
        }
    }

    #[test]
    fn no_registries_file_gets_both_mirrors() {
        let RegistriesPlan::Write { content, changed } =
            plan_registries(None, &registry()).unwrap()
        else {
            panic!("expected a write");
        };
        assert_eq!(changed, ["openshell-registry:5000", "localhost:5000"]);
        let doc = parse_yaml(&content).unwrap();
        assert_eq!(
            doc,
            json!({"mirrors": {
                "openshell-registry:5000": {"endpoint": ["http://127.0.0.1:5000"]},
                "localhost:5000": {"endpoint": ["http://127.0.0.1:5000"]}
            }})
        );
        assert!(content.starts_with("# k8s-dev: "));
    }

    #[test]
    fn registries_file_with_both_mirrors_is_up_to_date() {
        let RegistriesPlan::Write { content, .. } = plan_registries(None, &registry()).unwrap()
        else {
            panic!("expected a write");
        };
        assert_eq!(
            plan_registries(Some(&content), &registry()).unwrap(),
            RegistriesPlan::UpToDate
        );
    }

    #[test]
    fn other_mirrors_and_configs_are_kept_and_a_wrong_endpoint_replaced() {
        let existing = "mirrors:\n  docker.io:\n    endpoint: [\"https://mirror.example\"]\n  localhost:5000:\n    endpoint: [\"http://elsewhere:5000\"]\nconfigs:\n  mirror.example:\n    auth: {username: u, password: p}\n";
        let RegistriesPlan::Write { content, changed } =
            plan_registries(Some(existing), &registry()).unwrap()
        else {
            panic!("expected a write");
        };
        assert_eq!(changed, ["openshell-registry:5000", "localhost:5000"]);
        let doc = parse_yaml(&content).unwrap();
        assert_eq!(
            doc["mirrors"]["docker.io"]["endpoint"][0],
            "https://mirror.example"
        );
        assert_eq!(
            doc["mirrors"]["localhost:5000"]["endpoint"],
            json!(["http://127.0.0.1:5000"])
        );
        assert_eq!(doc["configs"]["mirror.example"]["auth"]["password"], "p");
    }

    #[test]
    fn a_mirror_with_a_rewrite_is_not_up_to_date() {
        let existing = "mirrors:\n  localhost:5000:\n    endpoint: [\"http://127.0.0.1:5000\"]\n    rewrite: {\"^(.*)$\": \"x/$1\"}\n  openshell-registry:5000:\n    endpoint: [\"http://127.0.0.1:5000\"]\n";
        let RegistriesPlan::Write { changed, .. } =
            plan_registries(Some(existing), &registry()).unwrap()
        else {
            panic!("expected a write");
        };
        assert_eq!(changed, ["localhost:5000"]);
    }

    #[test]
    fn a_broken_registries_file_is_refused_not_overwritten() {
        for bad in ["mirrors: [\n", "- a\n", "mirrors: [a]\n"] {
            let err = plan_registries(Some(bad), &registry())
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("/etc/rancher/k3s/registries.yaml"), "{err}");
            assert!(err.contains("fix or remove it"), "{err}");
        }
        assert!(matches!(
            plan_registries(Some(""), &registry()).unwrap(),
            RegistriesPlan::Write { .. }
        ));
    }

    #[test]
    fn apply_writes_the_file_atomically_once_and_names_the_restart() {
        let root = host(Some(K3S_YAML), None);
        fs::create_dir_all(root.path().join("etc/systemd/system")).unwrap();
        fs::write(root.path().join("etc/systemd/system/k3s.service"), "").unwrap();
        let layout = Layout::new(root.path());
        assert_eq!(
            apply_registries(&layout, &registry(), 1000).unwrap(),
            Applied::Written {
                restart: "sudo systemctl restart k3s".into()
            }
        );
        let mode = fs::metadata(layout.registries())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(
            apply_registries(&layout, &registry(), 1000).unwrap(),
            Applied::UpToDate
        );
        let leftovers: Vec<_> = fs::read_dir(layout.registries().parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn apply_keeps_an_existing_files_mode() {
        let root = host(Some(K3S_YAML), Some("mirrors: {}\n"));
        let layout = Layout::new(root.path());
        fs::set_permissions(layout.registries(), fs::Permissions::from_mode(0o640)).unwrap();
        apply_registries(&layout, &registry(), 0).unwrap();
        let mode = fs::metadata(layout.registries())
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o640);
    }

    #[test]
    fn unwritable_registries_file_gives_the_exact_file_and_restart_to_print() {
        let root = host(Some(K3S_YAML), None);
        let layout = Layout::new(root.path());
        fs::create_dir_all(root.path().join("etc/init.d")).unwrap();
        fs::write(root.path().join("etc/init.d/k3s"), "").unwrap();
        let RegistriesPlan::Write { content, .. } = plan_registries(None, &registry()).unwrap()
        else {
            panic!("expected a write");
        };
        let steps = manual_steps(&layout, &content, 1000);
        assert_eq!(
            steps,
            format!(
                "sudo tee {} >/dev/null <<'EOF'\n{content}EOF\nsudo rc-service k3s restart\n",
                layout.registries().display()
            )
        );
        if unsafe { libc::getuid() } != 0 {
            let dir = layout.registries().parent().unwrap().to_path_buf();
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o555)).unwrap();
            let applied = apply_registries(&layout, &registry(), 1000).unwrap();
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
            assert_eq!(applied, Applied::NotWritable { steps });
        }
    }

    #[test]
    fn mirrors_seen_is_stale_until_written_then_up_to_date() {
        let root = host(Some(K3S_YAML), None);
        let layout = Layout::new(root.path());
        assert_eq!(
            mirrors_seen(&layout, &registry(), 0).unwrap(),
            Mirrors::Stale
        );
        assert_eq!(
            apply_registries(&layout, &registry(), 0).unwrap(),
            Applied::Written {
                restart: "systemctl restart k3s (or however k3s runs here)".into()
            }
        );
        assert_eq!(
            mirrors_seen(&layout, &registry(), 0).unwrap(),
            Mirrors::UpToDate
        );
        fs::write(layout.registries(), "mirrors: [\n").unwrap();
        let err = mirrors_seen(&layout, &registry(), 0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not valid YAML"), "{err}");
    }

    #[test]
    fn may_write_asks_for_the_nearest_directory_that_exists() {
        let root = tempfile::tempdir().unwrap();
        assert!(may_write(
            &root.path().join("etc/rancher/k3s/registries.yaml")
        ));
        // Refusals (a read-only mount; root bypasses modes) are test-providers.sh's
        // k3s_registries_not_writable, on a read-only bind mount.
        let file = root.path().join("f");
        fs::write(&file, "").unwrap();
        assert!(
            !may_write(&file.join("registries.yaml")),
            "a file is no directory to write in"
        );
    }

    #[test]
    fn a_read_only_mount_is_not_writable_like_a_refused_write() {
        assert!(not_writable(&io::Error::from(
            io::ErrorKind::ReadOnlyFilesystem
        )));
        assert!(not_writable(&io::Error::from(
            io::ErrorKind::PermissionDenied
        )));
        assert!(!not_writable(&io::Error::from(io::ErrorKind::StorageFull)));
    }

    #[test]
    fn an_unreadable_file_gets_steps_that_add_to_it_not_replace_it() {
        let root = host(Some(K3S_YAML), None);
        let steps = merge_steps(&Layout::new(root.path()), &registry(), 1000).unwrap();
        assert!(!steps.contains("tee"), "{steps}");
        assert!(
            steps.starts_with(&format!(
                "# add these mirrors to {} (keep what it has; sudo cat it to see it):\nmirrors:\n",
                Layout::new(root.path()).registries().display()
            )),
            "{steps}"
        );
        assert!(steps.contains("http://127.0.0.1:5000"), "{steps}");
        assert!(
            steps.ends_with("sudo systemctl restart k3s (or however k3s runs here)\n"),
            "{steps}"
        );
    }

    #[test]
    fn the_attached_cluster_runs_or_says_what_to_do() {
        let up = cluster_seen(&Attached::Up, "systemctl start k3s");
        assert_eq!((up.state, up.defects.len()), (ObjectState::Running, 0));
        let down = cluster_seen(
            &Attached::Down {
                server: "https://127.0.0.1:6443".into(),
                reason: "connection refused".into(),
            },
            "sudo systemctl start k3s",
        );
        assert_eq!(down.state, ObjectState::Stopped);
        assert_eq!(
            down.defects,
            [
                "k3s does not answer at https://127.0.0.1:6443 (connection refused); start it: sudo systemctl start k3s, then run up again"
            ]
        );
        let none = cluster_seen(
            &Attached::NoKubeconfig("k3s kubeconfig … does not exist".into()),
            "x",
        );
        assert_eq!(none.state, ObjectState::Missing);
        assert_eq!(
            server_of(K3S_YAML).as_deref(),
            Some("https://127.0.0.1:6443")
        );
        assert_eq!(server_of("- a\n"), None);
        assert_eq!(
            start_command(Service::OpenRc, 1000),
            "sudo rc-service k3s start"
        );
        assert_eq!(start_command(Service::Systemd, 0), "systemctl start k3s");
    }

    #[test]
    fn the_test_root_stands_in_for_the_host() {
        let env = crate::env::Env::empty(crate::env::Os::Linux);
        assert_eq!(
            Layout::of(&env).kubeconfig(),
            Path::new("/etc/rancher/k3s/k3s.yaml")
        );
        let env = env.with(&[(ROOT_VAR, "/tmp/host")]);
        assert_eq!(
            Layout::of(&env).registries(),
            Path::new("/tmp/host/etc/rancher/k3s/registries.yaml")
        );
    }

    #[test]
    fn restart_command_follows_the_service_manager_and_user() {
        assert_eq!(
            restart_command(Service::Systemd, 0),
            "systemctl restart k3s"
        );
        assert_eq!(
            restart_command(Service::OpenRc, 1000),
            "sudo rc-service k3s restart"
        );
        assert!(restart_command(Service::Unknown, 1000).starts_with("sudo systemctl restart k3s"));
        let root = host(None, None);
        assert_eq!(Layout::new(root.path()).service(), Service::Unknown);
    }
}
