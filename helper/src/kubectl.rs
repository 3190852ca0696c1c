// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! kubectl as the helper runs it: the readiness probes of `wait` and `up`, and the node list of
//! `status`. They run the user's `kubectl` (so its auth plugins, proxies and kubeconfig rules
//! apply unchanged) and judge its JSON with pure functions below.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Result, bail};
use serde_json::Value;

/// kubectl's `--request-timeout` for one probe; the wait loop retries after it.
const REQUEST_LIMIT: Duration = Duration::from_secs(5);

/// How to reach the cluster: the kubectl binary plus the flags passed through.
#[derive(Debug, Clone)]
pub struct Kubectl {
    bin: PathBuf,
    kubeconfig: Option<PathBuf>,
    context: Option<String>,
}

impl Kubectl {
    /// Find `kubectl` on PATH. A missing `--kubeconfig` file fails here rather than after a
    /// whole timeout of identical errors.
    pub fn find(kubeconfig: Option<PathBuf>, context: Option<String>) -> Result<Kubectl> {
        let Ok(bin) = which::which("kubectl") else {
            bail!("kubectl not found on PATH; fix: run `mise install` (or install kubectl)");
        };
        if let Some(path) = &kubeconfig
            && !path.is_file()
        {
            bail!(
                "kubeconfig {} does not exist; fix: pass an existing file with --kubeconfig",
                path.display()
            );
        }
        Ok(Kubectl {
            bin,
            kubeconfig,
            context,
        })
    }

    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }

    pub fn kubeconfig(&self) -> Option<&Path> {
        self.kubeconfig.as_deref()
    }

    /// Run kubectl; stdout on success, else the most telling line of its stderr.
    fn run(&self, args: &[&str], left: Duration) -> Result<String, String> {
        self.run_with_input(args, None, left)
    }

    /// [`Kubectl::run`] with `input` on kubectl's stdin.
    fn run_with_input(
        &self,
        args: &[&str],
        input: Option<&str>,
        left: Duration,
    ) -> Result<String, String> {
        let mut cmd = Command::new(&self.bin);
        if let Some(path) = &self.kubeconfig {
            cmd.arg("--kubeconfig").arg(path);
        }
        if let Some(context) = &self.context {
            cmd.arg("--context").arg(context);
        }
        let seconds = left.min(REQUEST_LIMIT).as_secs().max(1);
        cmd.args(args).arg(format!("--request-timeout={seconds}s"));
        let running = |err: std::io::Error| format!("running {}: {err}", self.bin.display());
        let output = match input {
            None => cmd.output().map_err(running)?,
            Some(input) => {
                let mut child = cmd
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(running)?;
                let mut stdin = child.stdin.take().expect("stdin is piped");
                stdin.write_all(input.as_bytes()).map_err(running)?;
                drop(stdin);
                child.wait_with_output().map_err(running)?
            }
        };
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        Err(failure_reason(
            &String::from_utf8_lossy(&output.stderr),
            output.status,
        ))
    }

    /// `kubectl apply -f -` of `manifest`.
    pub fn apply(&self, manifest: &str, left: Duration) -> Result<(), String> {
        self.run_with_input(&["apply", "-f", "-"], Some(manifest), left)
            .map(drop)
    }

    /// Whether the kubeconfig kubectl reads has `context` (`kubectl config get-contexts`).
    pub fn has_context(&self, context: &str) -> bool {
        Command::new(&self.bin)
            .args(["config", "get-contexts", "-o", "name", context])
            .stdin(Stdio::null())
            .output()
            .is_ok_and(|out| out.status.success())
    }

    /// The apiserver's own readiness endpoint (all its post-start hooks done).
    pub fn probe_apiserver(&self, left: Duration) -> Result<(), String> {
        self.run(&["get", "--raw=/readyz"], left).map(drop)
    }

    pub fn probe_nodes(&self, count: usize, left: Duration) -> Result<(), String> {
        nodes_ready(&self.nodes(left)?, count)
    }

    /// `kubectl get nodes -o json`, parsed.
    pub fn nodes(&self, left: Duration) -> Result<Value, String> {
        parse_json(&self.run(&["get", "nodes", "-o", "json"], left)?)
    }

    /// `kubectl get pods -o json` in `namespace`, parsed.
    pub fn pods(&self, namespace: &str, left: Duration) -> Result<Value, String> {
        parse_json(&self.run(
            &["get", "pods", "--namespace", namespace, "-o", "json"],
            left,
        )?)
    }

    /// The namespace `name` as JSON, `None` when it does not exist (a list filtered by name:
    /// no error text to tell apart from a failure).
    /// The namespace objects of `names` (`None` for each that does not exist), in one list.
    pub fn namespaces(&self, names: &[&str], left: Duration) -> Result<Vec<Option<Value>>, String> {
        let list = parse_json(&self.run(&["get", "namespaces", "-o", "json"], left)?)?;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        Ok(names
            .iter()
            .map(|name| {
                items
                    .iter()
                    .find(|ns| ns.pointer("/metadata/name").and_then(Value::as_str) == Some(name))
                    .cloned()
            })
            .collect())
    }

    /// `VERSION STATUS` of each revision of a Helm release, from the labels of the Secrets Helm
    /// 3 keeps them in (its default storage driver). Only the labels leave kubectl: a release
    /// Secret also holds the chart's values.
    pub fn release_revisions(
        &self,
        namespace: &str,
        release: &str,
        left: Duration,
    ) -> Result<String, String> {
        let selector = format!("owner=helm,name={release}");
        self.run(
            &[
                "get",
                "secrets",
                "--namespace",
                namespace,
                "--selector",
                &selector,
                "-o",
                r#"jsonpath={range .items[*]}{.metadata.labels.version}{" "}{.metadata.labels.status}{"\n"}{end}"#,
            ],
            left,
        )
    }

    pub fn probe_crd(&self, name: &str, left: Duration) -> Result<(), String> {
        // The full resource name: the `crd` short name needs discovery to list it.
        let json = self.run(
            &[
                "get",
                "customresourcedefinitions.apiextensions.k8s.io",
                name,
                "-o",
                "json",
            ],
            left,
        )?;
        crd_established(&parse_json(&json)?)
    }

    pub fn probe_rollout(&self, target: &Rollout, left: Duration) -> Result<(), String> {
        let resource = format!("{}/{}", target.kind.resource(), target.name);
        let obj = parse_json(&self.run(
            &self.in_namespace(target, &["get", &resource, "-o", "json"]),
            left,
        )?)?;
        let not_done = match rollout_done(target.kind, &obj) {
            Ok(()) => return Ok(()),
            Err(why) => why,
        };
        if !(target.delete_stuck && target.kind == Kind::StatefulSet) {
            return Err(not_done);
        }
        let Some(selector) = label_selector(&obj) else {
            return Err(not_done);
        };
        let pods = parse_json(&self.run(
            &self.in_namespace(
                target,
                &["get", "pods", "--selector", &selector, "-o", "json"],
            ),
            left,
        )?)?;
        let mut deleted = Vec::new();
        for pod in stuck_pods(&obj, &pods) {
            eprintln!(
                "[k8s-dev] pod {pod} is not Ready and of an older revision: the StatefulSet would \
                 wait for it forever (kubernetes/kubernetes#67250); deleting it"
            );
            self.run(
                &self.in_namespace(target, &["delete", "pod", &pod, "--wait=false"]),
                left,
            )?;
            deleted.push(pod);
        }
        if deleted.is_empty() {
            Err(not_done)
        } else {
            Err(format!(
                "{not_done}; deleted stuck pod {}",
                deleted.join(", ")
            ))
        }
    }

    /// `args` with the rollout's `--namespace`, when it names one.
    fn in_namespace<'a>(&self, target: &'a Rollout, args: &[&'a str]) -> Vec<&'a str> {
        let mut args = args.to_vec();
        if let Some(namespace) = &target.namespace {
            args.extend(["--namespace", namespace.as_str()]);
        }
        args
    }
}

/// kubectl prints klog lines (`E1125 12:00:00 … memcache.go:265] …`) before its verdict; the
/// verdict is the last line.
fn failure_reason(stderr: &str, status: std::process::ExitStatus) -> String {
    stderr
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .map(|line| line.strip_prefix("error: ").unwrap_or(line).to_owned())
        .unwrap_or_else(|| format!("kubectl exited with {status}"))
}

fn parse_json(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|err| format!("reading kubectl output: {err}"))
}

/// The condition of type `kind` in `status.conditions`.
fn condition_entry<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

/// The `status` of condition `kind` (`"True"`, `"False"`, …) and its message or reason.
pub fn condition<'a>(obj: &'a Value, kind: &str) -> Option<(&'a str, &'a str)> {
    let cond = condition_entry(obj, kind)?;
    let status = cond["status"].as_str().unwrap_or("Unknown");
    let why = cond["message"]
        .as_str()
        .filter(|m| !m.is_empty())
        .or_else(|| cond["reason"].as_str())
        .unwrap_or("");
    Some((status, why))
}

pub fn name_of(obj: &Value) -> &str {
    obj.pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("?")
}

/// At least `want` nodes registered, and every one Ready.
pub fn nodes_ready(list: &Value, want: usize) -> Result<(), String> {
    let items = list["items"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let not_ready: Vec<&str> = items
        .iter()
        .filter(|node| condition(node, "Ready").map(|(s, _)| s) != Some("True"))
        .map(name_of)
        .collect();
    let plural = |n: usize| if n == 1 { "node" } else { "nodes" };
    if items.len() < want {
        return Err(format!(
            "{} {} registered, want {want}",
            items.len(),
            plural(items.len())
        ));
    }
    if !not_ready.is_empty() {
        return Err(format!(
            "{} of {} {} ready (not ready: {})",
            items.len() - not_ready.len(),
            items.len(),
            plural(items.len()),
            not_ready.join(", ")
        ));
    }
    Ok(())
}

/// The CRD's `Established` condition is `True`: its API is served.
pub fn crd_established(crd: &Value) -> Result<(), String> {
    match condition(crd, "Established") {
        Some(("True", _)) => Ok(()),
        Some((status, why)) => Err(format!("Established is {status}: {why}")),
        None => match condition(crd, "NamesAccepted") {
            Some(("False", why)) => Err(format!("NamesAccepted is False: {why}")),
            _ => Err("not established yet".into()),
        },
    }
}

/// The workload kinds `kubectl rollout status` understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

impl Kind {
    fn resource(self) -> &'static str {
        match self {
            Kind::Deployment => "deployments.apps",
            Kind::StatefulSet => "statefulsets.apps",
            Kind::DaemonSet => "daemonsets.apps",
        }
    }
}

/// A `kind/name` to wait for, as `kubectl rollout status` takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollout {
    pub kind: Kind,
    pub name: String,
    pub namespace: Option<String>,
    /// StatefulSets: delete the pods [`stuck_pods`] names while waiting.
    pub delete_stuck: bool,
}

impl Rollout {
    pub fn parse(target: &str, namespace: Option<String>) -> Result<Rollout> {
        let Some((kind, name)) = target.split_once('/').filter(|(_, n)| !n.is_empty()) else {
            bail!(
                "rollout target {target:?} is not KIND/NAME; fix: pass e.g. deployment/openshell"
            );
        };
        let kind = match kind.to_ascii_lowercase().trim_end_matches(".apps") {
            "deployment" | "deployments" | "deploy" => Kind::Deployment,
            "statefulset" | "statefulsets" | "sts" => Kind::StatefulSet,
            "daemonset" | "daemonsets" | "ds" => Kind::DaemonSet,
            _ => bail!(
                "rollout of {kind:?} is not supported; fix: use deployment/NAME, statefulset/NAME or daemonset/NAME"
            ),
        };
        Ok(Rollout {
            kind,
            name: name.to_owned(),
            namespace,
            delete_stuck: false,
        })
    }
}

/// `spec.selector.matchLabels` as a label selector (`k=v,k2=v2`); `None` without one.
pub fn label_selector(obj: &Value) -> Option<String> {
    let labels = obj.pointer("/spec/selector/matchLabels")?.as_object()?;
    let mut terms: Vec<String> = labels
        .iter()
        .filter_map(|(k, v)| Some(format!("{k}={}", v.as_str()?)))
        .collect();
    // The order of labels is no part of a selector; sorted, the text is the same however the
    // JSON map keeps keys.
    terms.sort();
    (!terms.is_empty()).then(|| terms.join(","))
}

/// The pods of a StatefulSet that block its rollout for good: not Ready, not being deleted,
/// and of another revision than the one it rolls out. With the default OrderedReady policy the
/// controller waits for every pod to be Running and Ready before it replaces one, so a pod of a
/// broken template (an unschedulable spec, a crashing binary) keeps a fixed template from ever
/// reaching it; the StatefulSet docs' "Forced rollback" (kubernetes/kubernetes#67250) says to
/// delete it. Nothing is named until the controller has observed the current spec.
pub fn stuck_pods(sts: &Value, pods: &Value) -> Vec<String> {
    let generation = int(sts, "/metadata/generation").unwrap_or(0);
    let observed = int(sts, "/status/observedGeneration").unwrap_or(0);
    let Some(update) = sts
        .pointer("/status/updateRevision")
        .and_then(Value::as_str)
    else {
        return Vec::new();
    };
    if observed < generation {
        return Vec::new();
    }
    let items = pods["items"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    items
        .iter()
        .filter(|pod| {
            let revision = pod
                .pointer("/metadata/labels/controller-revision-hash")
                .and_then(Value::as_str);
            let ready = condition(pod, "Ready").is_some_and(|(status, _)| status == "True");
            let deleting = pod.pointer("/metadata/deletionTimestamp").is_some();
            revision.is_some_and(|r| r != update) && !ready && !deleting
        })
        .map(|pod| name_of(pod).to_string())
        .collect()
}

fn int(obj: &Value, pointer: &str) -> Option<i64> {
    obj.pointer(pointer).and_then(Value::as_i64)
}

/// kubectl's rollout rule (`kubectl/pkg/polymorphichelpers/rollout_status.go`), applied to the
/// object's JSON. An unset update strategy counts as RollingUpdate, the apiserver's default.
pub fn rollout_done(kind: Kind, obj: &Value) -> Result<(), String> {
    let get = |p: &str| int(obj, p).unwrap_or(0);
    let generation = get("/metadata/generation");
    let observed = get("/status/observedGeneration");
    let replicas = int(obj, "/spec/replicas");
    let strategy = obj
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        .unwrap_or("RollingUpdate");
    match kind {
        Kind::Deployment => {
            if generation > observed {
                return Err("waiting for the spec update to be observed".into());
            }
            if condition_entry(obj, "Progressing")
                .is_some_and(|c| c["reason"] == "ProgressDeadlineExceeded")
            {
                return Err("exceeded its progress deadline".into());
            }
            let updated = get("/status/updatedReplicas");
            if let Some(replicas) = replicas
                && updated < replicas
            {
                return Err(format!("{updated} of {replicas} new replicas updated"));
            }
            let current = get("/status/replicas");
            if current > updated {
                return Err(format!(
                    "{} old replicas pending termination",
                    current - updated
                ));
            }
            let available = get("/status/availableReplicas");
            if available < updated {
                return Err(format!(
                    "{available} of {updated} updated replicas available"
                ));
            }
            Ok(())
        }
        Kind::StatefulSet => {
            if strategy != "RollingUpdate" {
                return Err(format!(
                    "rollout status needs the RollingUpdate strategy, not {strategy}"
                ));
            }
            if observed == 0 || generation > observed {
                return Err("waiting for the spec update to be observed".into());
            }
            let ready = get("/status/readyReplicas");
            if let Some(replicas) = replicas
                && ready < replicas
            {
                return Err(format!("{ready} of {replicas} pods ready"));
            }
            if obj
                .pointer("/spec/updateStrategy/rollingUpdate")
                .is_some_and(|r| !r.is_null())
            {
                let updated = get("/status/updatedReplicas");
                if let (Some(replicas), Some(partition)) = (
                    replicas,
                    int(obj, "/spec/updateStrategy/rollingUpdate/partition"),
                ) && updated < replicas - partition
                {
                    return Err(format!(
                        "partitioned rollout: {updated} of {} new pods updated",
                        replicas - partition
                    ));
                }
                return Ok(());
            }
            let update_rev = obj
                .pointer("/status/updateRevision")
                .and_then(Value::as_str);
            let current_rev = obj
                .pointer("/status/currentRevision")
                .and_then(Value::as_str);
            if update_rev != current_rev {
                return Err(format!(
                    "{} pods at revision {}",
                    get("/status/updatedReplicas"),
                    update_rev.unwrap_or("?")
                ));
            }
            Ok(())
        }
        Kind::DaemonSet => {
            if strategy != "RollingUpdate" {
                return Err(format!(
                    "rollout status needs the RollingUpdate strategy, not {strategy}"
                ));
            }
            if generation > observed {
                return Err("waiting for the spec update to be observed".into());
            }
            let desired = get("/status/desiredNumberScheduled");
            let updated = get("/status/updatedNumberScheduled");
            if updated < desired {
                return Err(format!("{updated} of {desired} new pods updated"));
            }
            let available = get("/status/numberAvailable");
            if available < desired {
                return Err(format!("{available} of {desired} updated pods available"));
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(name: &str, ready: &str) -> Value {
        json!({"metadata": {"name": name}, "status": {"conditions": [
            {"type": "MemoryPressure", "status": "False"},
            {"type": "Ready", "status": ready, "reason": "KubeletReady"}]}})
    }

    fn sts(generation: i64, observed: i64, update: &str) -> Value {
        json!({"metadata": {"name": "openshell", "generation": generation},
               "spec": {"selector": {"matchLabels": {"app.kubernetes.io/name": "openshell",
                                                     "app.kubernetes.io/instance": "openshell"}}},
               "status": {"observedGeneration": observed, "updateRevision": update}})
    }

    fn pod(name: &str, revision: &str, ready: &str, deleting: bool) -> Value {
        let mut pod = json!({"metadata": {"name": name, "labels": {"controller-revision-hash": revision}},
                             "status": {"conditions": [{"type": "Ready", "status": ready}]}});
        if deleting {
            pod["metadata"]["deletionTimestamp"] = json!("2026-12-07T12:00:00Z");
        }
        pod
    }

    #[test]
    fn a_pod_of_an_older_revision_that_never_got_ready_is_stuck() {
        let pods = json!({"items": [
            pod("openshell-0", "openshell-bad", "False", false),
            pod("openshell-1", "openshell-good", "False", false),
            pod("openshell-2", "openshell-bad", "True", false),
            pod("openshell-3", "openshell-bad", "False", true),
        ]});
        assert_eq!(
            stuck_pods(&sts(3, 3, "openshell-good"), &pods),
            ["openshell-0"],
            "not the updated one still starting, not a Ready one, not one already going"
        );
        assert!(
            stuck_pods(&sts(4, 3, "openshell-good"), &pods).is_empty(),
            "the controller has not seen the fixed spec yet"
        );
        let no_status = json!({"metadata": {"generation": 1}});
        assert!(stuck_pods(&no_status, &pods).is_empty());
    }

    #[test]
    fn a_statefulsets_selector_is_its_match_labels() {
        assert_eq!(
            label_selector(&sts(1, 1, "x")).as_deref(),
            Some("app.kubernetes.io/instance=openshell,app.kubernetes.io/name=openshell")
        );
        assert_eq!(label_selector(&json!({"spec": {}})), None);
    }

    #[test]
    fn nodes_need_count_and_all_ready() {
        let list = |items: Vec<Value>| json!({"kind": "List", "items": items});
        assert_eq!(
            nodes_ready(&list(vec![]), 1),
            Err("0 nodes registered, want 1".into())
        );
        assert_eq!(
            nodes_ready(&list(vec![node("a", "True")]), 2),
            Err("1 node registered, want 2".into())
        );
        assert_eq!(
            nodes_ready(&list(vec![node("a", "True"), node("b", "False")]), 2),
            Err("1 of 2 nodes ready (not ready: b)".into())
        );
        assert_eq!(
            nodes_ready(&list(vec![node("a", "True"), node("b", "True")]), 2),
            Ok(())
        );
        assert_eq!(
            nodes_ready(&list(vec![node("a", "True"), node("b", "True")]), 1),
            Ok(()),
            "more nodes than asked for is fine"
        );
        let no_status = json!({"items": [{"metadata": {"name": "x"}}]});
        assert_eq!(
            nodes_ready(&no_status, 1),
            Err("0 of 1 node ready (not ready: x)".into())
        );
    }

    #[test]
    fn crd_needs_established_true() {
        let crd = |conds: Value| json!({"status": {"conditions": conds}});
        assert_eq!(
            crd_established(&json!({})),
            Err("not established yet".into())
        );
        assert_eq!(
            crd_established(&crd(
                json!([{"type": "NamesAccepted", "status": "False", "message": "plural taken"}])
            )),
            Err("NamesAccepted is False: plural taken".into())
        );
        assert_eq!(
            crd_established(&crd(
                json!([{"type": "Established", "status": "False", "reason": "Installing"}])
            )),
            Err("Established is False: Installing".into())
        );
        assert_eq!(
            crd_established(&crd(json!([{"type": "Established", "status": "True"}]))),
            Ok(())
        );
    }

    #[test]
    fn rollout_targets_parse_like_kubectl() {
        let r = Rollout::parse("deployment/web", Some("ns".into())).unwrap();
        assert_eq!(
            (r.kind, r.name.as_str(), r.namespace.as_deref()),
            (Kind::Deployment, "web", Some("ns"))
        );
        assert_eq!(
            Rollout::parse("sts/db", None).unwrap().kind,
            Kind::StatefulSet
        );
        assert_eq!(
            Rollout::parse("statefulsets.apps/db", None).unwrap().kind,
            Kind::StatefulSet
        );
        assert_eq!(
            Rollout::parse("ds/agent", None).unwrap().kind,
            Kind::DaemonSet
        );
        let err = Rollout::parse("web", None).unwrap_err().to_string();
        assert!(err.contains("is not KIND/NAME; fix:"), "{err}");
        let err = Rollout::parse("pod/web", None).unwrap_err().to_string();
        assert!(err.contains("\"pod\" is not supported; fix:"), "{err}");
    }

    fn deployment(generation: i64, status: Value) -> Value {
        json!({"metadata": {"name": "web", "generation": generation}, "spec": {"replicas": 2}, "status": status})
    }

    #[test]
    fn deployment_rollout_follows_kubectl_rule() {
        let d = Kind::Deployment;
        assert_eq!(
            rollout_done(d, &deployment(2, json!({"observedGeneration": 1}))),
            Err("waiting for the spec update to be observed".into())
        );
        assert_eq!(
            rollout_done(
                d,
                &deployment(1, json!({"observedGeneration": 1, "updatedReplicas": 1}))
            ),
            Err("1 of 2 new replicas updated".into())
        );
        assert_eq!(
            rollout_done(
                d,
                &deployment(
                    1,
                    json!({"observedGeneration": 1, "updatedReplicas": 2, "replicas": 3})
                )
            ),
            Err("1 old replicas pending termination".into())
        );
        assert_eq!(
            rollout_done(
                d,
                &deployment(
                    1,
                    json!({"observedGeneration": 1, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 1})
                )
            ),
            Err("1 of 2 updated replicas available".into())
        );
        assert_eq!(
            rollout_done(
                d,
                &deployment(
                    1,
                    json!({"observedGeneration": 1, "updatedReplicas": 2, "replicas": 2, "availableReplicas": 2})
                )
            ),
            Ok(())
        );
        let stuck = deployment(
            1,
            json!({"observedGeneration": 1, "conditions": [
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}),
        );
        assert_eq!(
            rollout_done(d, &stuck),
            Err("exceeded its progress deadline".into())
        );
    }

    fn statefulset(spec_extra: Value, status: Value) -> Value {
        let mut spec = json!({"replicas": 3});
        spec.as_object_mut()
            .unwrap()
            .extend(spec_extra.as_object().unwrap().clone());
        json!({"metadata": {"name": "db", "generation": 1}, "spec": spec, "status": status})
    }

    #[test]
    fn statefulset_rollout_follows_kubectl_rule() {
        let s = Kind::StatefulSet;
        assert_eq!(
            rollout_done(s, &statefulset(json!({}), json!({}))),
            Err("waiting for the spec update to be observed".into()),
            "observedGeneration 0 means not observed yet"
        );
        assert_eq!(
            rollout_done(
                s,
                &statefulset(
                    json!({}),
                    json!({"observedGeneration": 1, "readyReplicas": 2})
                )
            ),
            Err("2 of 3 pods ready".into())
        );
        let partitioned =
            json!({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}});
        assert_eq!(
            rollout_done(
                s,
                &statefulset(
                    partitioned.clone(),
                    json!({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 1})
                )
            ),
            Err("partitioned rollout: 1 of 2 new pods updated".into())
        );
        assert_eq!(
            rollout_done(
                s,
                &statefulset(
                    partitioned,
                    json!({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 2})
                )
            ),
            Ok(())
        );
        let revisions = |update: &str| {
            json!({"observedGeneration": 1, "readyReplicas": 3, "updatedReplicas": 1,
            "currentRevision": "db-1", "updateRevision": update})
        };
        assert_eq!(
            rollout_done(s, &statefulset(json!({}), revisions("db-2"))),
            Err("1 pods at revision db-2".into())
        );
        assert_eq!(
            rollout_done(s, &statefulset(json!({}), revisions("db-1"))),
            Ok(())
        );
        let on_delete = json!({"updateStrategy": {"type": "OnDelete"}});
        assert_eq!(
            rollout_done(s, &statefulset(on_delete, revisions("db-1"))),
            Err("rollout status needs the RollingUpdate strategy, not OnDelete".into())
        );
    }

    #[test]
    fn daemonset_rollout_follows_kubectl_rule() {
        let ds =
            |status: Value| json!({"metadata": {"generation": 1}, "spec": {}, "status": status});
        assert_eq!(
            rollout_done(
                Kind::DaemonSet,
                &ds(
                    json!({"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 1})
                )
            ),
            Err("1 of 2 new pods updated".into())
        );
        assert_eq!(
            rollout_done(
                Kind::DaemonSet,
                &ds(
                    json!({"observedGeneration": 1, "desiredNumberScheduled": 2, "updatedNumberScheduled": 2, "numberAvailable": 2})
                )
            ),
            Ok(())
        );
    }

    #[test]
    fn failure_reason_is_the_last_stderr_line() {
        use std::os::unix::process::ExitStatusExt;
        let status = std::process::ExitStatus::from_raw(256);
        let stderr = "E1125 12:00:00.000 1 memcache.go:265] couldn't get current server API group list\nerror: the server doesn't have a resource type \"crd\"\n\n";
        assert_eq!(
            failure_reason(stderr, status),
            "the server doesn't have a resource type \"crd\""
        );
        assert_eq!(
            failure_reason("", status),
            "kubectl exited with exit status: 1"
        );
    }
}
