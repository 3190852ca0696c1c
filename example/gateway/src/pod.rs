// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! The sandbox pod, built as plain data so tests check it without a cluster.
//!
//! The supervisor reaches the pod the way OpenShell's `init-container` sideload does it: an
//! init container from the supervisor image puts the binary into an emptyDir, and the sandbox
//! container runs it from there. The images are `FROM scratch` (no `cp`, no shell), so the
//! supervisor copies itself: `openshell-sandbox install /opt/openshell/bin`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, EnvVarSource, LocalObjectReference,
    ObjectFieldSelector, Pod, PodSecurityContext, PodSpec, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::driver::{Placement, Sandbox};
use crate::settings::SandboxSettings;

/// Where the supervisor binary sits in its own image (`deploy/docker/Dockerfile.supervisor`).
pub const SUPERVISOR_IN_IMAGE: &str = "/openshell-sandbox";
/// The emptyDir mount the init container installs into.
pub const SUPERVISOR_DIR: &str = "/opt/openshell/bin";
pub const SUPERVISOR_VOLUME: &str = "openshell-supervisor";
/// Prefix of generated names (the API server appends five random characters).
pub const GENERATE_NAME: &str = "sandbox-";

const LABEL_NAME: &str = "app.kubernetes.io/name";
const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
const LABEL_SANDBOX: &str = "openshell.io/sandbox";
const NAME: &str = "openshell-sandbox";
const MANAGED_BY: &str = "openshell-gateway";
/// The distroless `nonroot` user, as in the images' `USER`.
const UID: i64 = 65532;

/// Label selector matching every sandbox pod this gateway creates.
pub fn selector() -> String {
    format!("{LABEL_NAME}={NAME},{LABEL_MANAGED_BY}={MANAGED_BY}")
}

/// Check a requested sandbox name: it becomes the pod name, so it must be a DNS-1123 label
/// (the API server would reject it with a less direct message).
pub fn validate_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "invalid sandbox name {name:?}: use at most 63 lowercase letters, digits and '-', \
             starting and ending with a letter or digit"
        ))
    }
}

/// The pod for one sandbox. `name: None` uses `generateName`.
pub fn sandbox_pod(
    settings: &SandboxSettings,
    name: Option<&str>,
    placement: &Placement,
) -> Result<Pod, String> {
    let (supervisor_image, image) = settings.images()?;
    let mut labels = BTreeMap::from([
        (LABEL_NAME.to_string(), NAME.to_string()),
        (LABEL_MANAGED_BY.to_string(), MANAGED_BY.to_string()),
    ]);
    if let Some(name) = name {
        labels.insert(LABEL_SANDBOX.to_string(), name.to_string());
    }
    let mount = VolumeMount {
        name: SUPERVISOR_VOLUME.into(),
        mount_path: SUPERVISOR_DIR.into(),
        ..VolumeMount::default()
    };
    let supervisor = format!("{SUPERVISOR_DIR}/openshell-sandbox");

    Ok(Pod {
        metadata: ObjectMeta {
            name: name.map(str::to_string),
            generate_name: name.is_none().then(|| GENERATE_NAME.to_string()),
            namespace: Some(settings.namespace.clone()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            init_containers: Some(vec![Container {
                name: "install-supervisor".into(),
                image: Some(supervisor_image.into()),
                image_pull_policy: settings.supervisor_pull_policy.clone(),
                command: Some(vec![
                    SUPERVISOR_IN_IMAGE.into(),
                    "install".into(),
                    SUPERVISOR_DIR.into(),
                ]),
                volume_mounts: Some(vec![mount.clone()]),
                security_context: Some(restricted()),
                ..Container::default()
            }]),
            containers: vec![Container {
                name: "sandbox".into(),
                image: Some(image.into()),
                image_pull_policy: settings.pull_policy.clone(),
                command: Some(vec![supervisor]),
                env: Some(vec![
                    EnvVar {
                        name: "OPENSHELL_SANDBOX_NAME".into(),
                        value_from: Some(EnvVarSource {
                            field_ref: Some(ObjectFieldSelector {
                                field_path: "metadata.name".into(),
                                ..ObjectFieldSelector::default()
                            }),
                            ..EnvVarSource::default()
                        }),
                        ..EnvVar::default()
                    },
                    EnvVar {
                        name: "SUPERVISOR_HEARTBEAT_SECS".into(),
                        value: Some("5".into()),
                        ..EnvVar::default()
                    },
                ]),
                volume_mounts: Some(vec![VolumeMount {
                    read_only: Some(true),
                    ..mount
                }]),
                security_context: Some(restricted()),
                ..Container::default()
            }],
            volumes: Some(vec![Volume {
                name: SUPERVISOR_VOLUME.into(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Volume::default()
            }]),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(UID),
                run_as_group: Some(UID),
                ..PodSecurityContext::default()
            }),
            // A stand-in sandbox has no state worth a long goodbye; quick deletes keep the
            // dev loop quick, and the supervisor exits on SIGTERM anyway.
            termination_grace_period_seconds: Some(5),
            automount_service_account_token: Some(false),
            image_pull_secrets: (!settings.pull_secrets.is_empty()).then(|| {
                settings
                    .pull_secrets
                    .iter()
                    .map(|name| LocalObjectReference { name: name.clone() })
                    .collect()
            }),
            node_selector: (!placement.node_selector.is_empty())
                .then(|| placement.node_selector.clone()),
            tolerations: (!placement.tolerations.is_empty()).then(|| placement.tolerations.clone()),
            ..PodSpec::default()
        }),
        status: None,
    })
}

/// Pod Security "restricted" container settings: the sandbox needs no privileges.
fn restricted() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Capabilities::default()
        }),
        seccomp_profile: Some(k8s_openapi::api::core::v1::SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..Default::default()
        }),
        ..SecurityContext::default()
    }
}

/// The API view of a sandbox pod.
pub fn sandbox_from_pod(pod: &Pod) -> Sandbox {
    let status = pod.status.as_ref();
    let ready = status
        .and_then(|s| s.container_statuses.as_ref())
        .is_some_and(|cs| !cs.is_empty() && cs.iter().all(|c| c.ready));
    Sandbox {
        name: pod.metadata.name.clone().unwrap_or_default(),
        namespace: pod.metadata.namespace.clone().unwrap_or_default(),
        phase: status
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Pending".into()),
        ready,
        image: pod
            .spec
            .as_ref()
            .and_then(|s| s.containers.first())
            .and_then(|c| c.image.clone())
            .unwrap_or_default(),
        created: pod
            .metadata
            .creation_timestamp
            .as_ref()
            .map(|t| t.0.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerStatus, PodStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn settings() -> SandboxSettings {
        SandboxSettings {
            namespace: "sandboxes".into(),
            image: None,
            supervisor_image: Some("openshell-registry:5000/openshell-supervisor:dev".into()),
            pull_policy: Some("Always".into()),
            supervisor_pull_policy: Some("IfNotPresent".into()),
            pull_secrets: Vec::new(),
        }
    }

    fn spec(pod: &Pod) -> &PodSpec {
        pod.spec.as_ref().unwrap()
    }

    #[test]
    fn init_container_installs_supervisor_into_the_shared_volume() {
        let pod = sandbox_pod(&settings(), Some("demo"), &Placement::default()).unwrap();
        let init = &spec(&pod).init_containers.as_ref().unwrap()[0];
        assert_eq!(
            init.image.as_deref(),
            Some("openshell-registry:5000/openshell-supervisor:dev")
        );
        assert_eq!(
            init.command.as_ref().unwrap(),
            &["/openshell-sandbox", "install", "/opt/openshell/bin"]
        );
        let mounts = init.volume_mounts.as_ref().unwrap();
        assert_eq!(mounts[0].name, SUPERVISOR_VOLUME);
        assert_eq!(mounts[0].mount_path, SUPERVISOR_DIR);
        assert_eq!(mounts[0].read_only, None);
    }

    #[test]
    fn the_placement_goes_into_the_pod_spec_as_given() {
        let unplaced = sandbox_pod(&settings(), Some("demo"), &Placement::default()).unwrap();
        assert_eq!(spec(&unplaced).node_selector, None);
        assert_eq!(spec(&unplaced).tolerations, None);

        let placement = Placement {
            node_selector: [("kubernetes.io/hostname".to_string(), "node-1".to_string())].into(),
            tolerations: vec![k8s_openapi::api::core::v1::Toleration {
                key: Some("dedicated".into()),
                operator: Some("Exists".into()),
                effect: Some("NoSchedule".into()),
                ..Default::default()
            }],
        };
        let placed = sandbox_pod(&settings(), Some("demo"), &placement).unwrap();
        assert_eq!(
            spec(&placed).node_selector.as_ref(),
            Some(&placement.node_selector)
        );
        assert_eq!(
            spec(&placed).tolerations.as_ref(),
            Some(&placement.tolerations)
        );
    }

    #[test]
    fn sandbox_container_runs_the_copied_binary() {
        let pod = sandbox_pod(&settings(), Some("demo"), &Placement::default()).unwrap();
        let main = &spec(&pod).containers[0];
        assert_eq!(
            main.command.as_ref().unwrap(),
            &["/opt/openshell/bin/openshell-sandbox"]
        );
        let mount = &main.volume_mounts.as_ref().unwrap()[0];
        assert_eq!(
            (
                mount.name.as_str(),
                mount.mount_path.as_str(),
                mount.read_only
            ),
            (SUPERVISOR_VOLUME, SUPERVISOR_DIR, Some(true))
        );
        let volume = &spec(&pod).volumes.as_ref().unwrap()[0];
        assert_eq!(volume.name, SUPERVISOR_VOLUME);
        assert!(volume.empty_dir.is_some());
    }

    #[test]
    fn env_passes_the_pod_name_and_heartbeat() {
        let pod = sandbox_pod(&settings(), Some("demo"), &Placement::default()).unwrap();
        let env = spec(&pod).containers[0].env.as_ref().unwrap();
        let name = env
            .iter()
            .find(|e| e.name == "OPENSHELL_SANDBOX_NAME")
            .unwrap();
        let field = name
            .value_from
            .as_ref()
            .unwrap()
            .field_ref
            .as_ref()
            .unwrap();
        assert_eq!(field.field_path, "metadata.name");
        let beat = env
            .iter()
            .find(|e| e.name == "SUPERVISOR_HEARTBEAT_SECS")
            .unwrap();
        assert_eq!(beat.value.as_deref(), Some("5"));
    }

    #[test]
    fn pull_secrets_reach_the_pod_only_when_given() {
        let mut s = settings();
        assert_eq!(
            spec(&sandbox_pod(&s, None, &Placement::default()).unwrap()).image_pull_secrets,
            None
        );
        s.pull_secrets = vec!["k8s-dev-pull".into()];
        let pod = sandbox_pod(&s, None, &Placement::default()).unwrap();
        let names: Vec<&str> = spec(&pod)
            .image_pull_secrets
            .iter()
            .flatten()
            .map(|r| r.name.as_str())
            .collect();
        assert_eq!(names, ["k8s-dev-pull"]);
    }

    #[test]
    fn pull_policies_are_per_image() {
        let pod = sandbox_pod(&settings(), Some("demo"), &Placement::default()).unwrap();
        let init = &spec(&pod).init_containers.as_ref().unwrap()[0];
        assert_eq!(init.image_pull_policy.as_deref(), Some("IfNotPresent"));
        assert_eq!(
            spec(&pod).containers[0].image_pull_policy.as_deref(),
            Some("Always")
        );
    }

    #[test]
    fn empty_pull_policies_leave_the_choice_to_kubernetes() {
        let mut s = settings();
        (s.pull_policy, s.supervisor_pull_policy) = (None, None);
        let pod = sandbox_pod(&s, Some("demo"), &Placement::default()).unwrap();
        let init = &spec(&pod).init_containers.as_ref().unwrap()[0];
        assert_eq!(init.image_pull_policy, None);
        assert_eq!(spec(&pod).containers[0].image_pull_policy, None);
    }

    #[test]
    fn sandbox_image_defaults_to_the_supervisor_image_and_can_differ() {
        let mut s = settings();
        s.supervisor_image = Some("sup:1".into());
        s.image = Some("base:2".into());
        let pod = sandbox_pod(&s, Some("demo"), &Placement::default()).unwrap();
        let init = &spec(&pod).init_containers.as_ref().unwrap()[0];
        assert_eq!(init.image.as_deref(), Some("sup:1"));
        assert_eq!(spec(&pod).containers[0].image.as_deref(), Some("base:2"));
    }

    #[test]
    fn labels_match_the_list_selector() {
        let pod = sandbox_pod(&settings(), Some("demo"), &Placement::default()).unwrap();
        let labels = pod.metadata.labels.as_ref().unwrap();
        for pair in selector().split(',') {
            let (k, v) = pair.split_once('=').unwrap();
            assert_eq!(labels.get(k).map(String::as_str), Some(v), "label {k}");
        }
        assert_eq!(labels.get("openshell.io/sandbox").unwrap(), "demo");
        assert_eq!(pod.metadata.name.as_deref(), Some("demo"));
        assert_eq!(pod.metadata.namespace.as_deref(), Some("sandboxes"));
        assert_eq!(pod.metadata.generate_name, None);
    }

    #[test]
    fn missing_name_uses_generate_name() {
        let pod = sandbox_pod(&settings(), None, &Placement::default()).unwrap();
        assert_eq!(pod.metadata.name, None);
        assert_eq!(pod.metadata.generate_name.as_deref(), Some("sandbox-"));
        assert!(
            !pod.metadata
                .labels
                .unwrap()
                .contains_key("openshell.io/sandbox")
        );
    }

    #[test]
    fn pod_runs_as_non_root_without_privileges() {
        let pod = sandbox_pod(&settings(), None, &Placement::default()).unwrap();
        let psc = spec(&pod).security_context.as_ref().unwrap();
        assert_eq!(
            (psc.run_as_non_root, psc.run_as_user),
            (Some(true), Some(65532))
        );
        let sc = spec(&pod).containers[0].security_context.as_ref().unwrap();
        assert_eq!(sc.allow_privilege_escalation, Some(false));
        assert_eq!(
            sc.capabilities.as_ref().unwrap().drop.as_ref().unwrap(),
            &["ALL"]
        );
    }

    #[test]
    fn no_supervisor_image_is_an_error_naming_the_key() {
        let mut s = settings();
        s.supervisor_image = None;
        let err = sandbox_pod(&s, None, &Placement::default()).unwrap_err();
        assert!(err.contains("supervisor_image"), "{err}");
    }

    #[test]
    fn names_must_be_dns_labels() {
        assert!(validate_name("sandbox-1").is_ok());
        assert!(validate_name(&"a".repeat(63)).is_ok());
        for bad in ["", "Upper", "-lead", "trail-", "dot.ted", &"a".repeat(64)] {
            let err = validate_name(bad).unwrap_err();
            assert!(err.starts_with("invalid sandbox name"), "{bad}: {err}");
        }
    }

    #[test]
    fn sandbox_view_reads_status() {
        let mut pod = sandbox_pod(&settings(), Some("demo"), &Placement::default()).unwrap();
        assert_eq!(sandbox_from_pod(&pod).phase, "Pending");
        pod.metadata.creation_timestamp = Some(Time(
            k8s_openapi::jiff::Timestamp::from_second(1_700_000_000).unwrap(),
        ));
        pod.status = Some(PodStatus {
            phase: Some("Running".into()),
            container_statuses: Some(vec![ContainerStatus {
                ready: true,
                ..ContainerStatus::default()
            }]),
            ..PodStatus::default()
        });
        let sandbox = sandbox_from_pod(&pod);
        assert_eq!(
            sandbox,
            Sandbox {
                name: "demo".into(),
                namespace: "sandboxes".into(),
                phase: "Running".into(),
                ready: true,
                image: "openshell-registry:5000/openshell-supervisor:dev".into(),
                created: Some("2023-11-14T22:13:20Z".into()),
            }
        );
    }
}
