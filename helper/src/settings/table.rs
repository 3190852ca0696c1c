// SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
// SPDX-License-Identifier: Apache-2.0

//! Every `K8S_DEV_*` setting, in one table: the only place a default, a derivation or a rule is
//! written. The README's settings table and `usage()` of `k8s-dev.sh` are generated from it.
//!
//! To add a setting, add one [`Spec`] here (a [`Rule`] from `rules.rs`, or a new rule there).
//! A derived default reads only settings above it in the table.

use super::{Ctx, Default, Spec};
use crate::provider::Provider;
use crate::settings::rules::Rule;

/// The table. Order matters: derivations read earlier entries, and docs list them in this order.
pub static TABLE: &[Spec] = &[
    // --- cluster and registry -------------------------------------------------------------------
    Spec {
        name: "K8S_DEV_PROVIDER",
        default: Default::Value("k3d"),
        rule: Rule::Provider,
        help: "where the cluster comes from: k3d (k3s in containers), kind, or k3s (attach to the \
               host's running k3s, never created or deleted)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_CLUSTER_PER_WORKTREE",
        default: Default::Value("0"),
        rule: Rule::Flag,
        help: "1: a cluster per git worktree, named from its branch as OpenShell's helm:k3s tasks \
               name theirs, with host ports derived from that name (k3d and kind)",
        openshell: Some("1 in a git worktree of its own"),
    },
    Spec {
        name: "K8S_DEV_CLUSTER",
        default: Default::Derived {
            doc: "openshell-dev; per worktree: openshell-dev-<last part of the branch, lower-case, \
                  runs of other characters as '-'>",
            derive: |ctx| {
                Some(if per_worktree(ctx) {
                    crate::worktree::cluster_name(ctx.env.git_branch.as_deref())
                } else {
                    crate::worktree::BASE.to_string()
                })
            },
        },
        rule: Rule::ClusterName,
        help: "cluster name",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_AGENTS",
        default: Default::Value("1"),
        rule: Rule::Count { min: 0, max: 9 },
        help: "nodes besides the one server (k3d agents, kind workers; k3s: not used)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_K3S_IMAGE",
        default: Default::Value("docker.io/rancher/k3s:v1.32.5-k3s1"),
        rule: Rule::ImageRef,
        help: "k3d only: k3s node image",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_KIND_IMAGE",
        default: Default::Unset {
            doc: "the kindest/node image deploy/kind/cluster.yaml pins by digest",
        },
        rule: Rule::ImageRef,
        help: "kind only: node image of every node (kind supports the images of its own release)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_NETWORK",
        default: Default::Value("k3d"),
        rule: Rule::Network,
        help: "k3d only: container network shared by cluster and registry (kind's is always kind)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_BIND_ADDRESS",
        default: Default::Value("127.0.0.1"),
        rule: Rule::Ipv4,
        help: "host address of every published port; 0.0.0.0 exposes them",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_API_PORT",
        default: Default::Derived {
            doc: "6550; per worktree: 16550 + the cluster name's slot (0-999)",
            derive: |ctx| worktree_port(ctx, 6550, crate::worktree::API_PORT_BASE),
        },
        rule: Rule::Port,
        help: "host port of the Kubernetes API (k3s: not used, its kubeconfig says)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_API_HOST",
        // k3d writes kubeAPI.host into the kubeconfig as the server's address, and serves the
        // API only on the bind address: a fixed 127.0.0.1 pointed at nothing for any other.
        default: Default::Derived {
            doc: "K8S_DEV_BIND_ADDRESS; 127.0.0.1 when that is 0.0.0.0",
            derive: |ctx| {
                let bind = ctx.get("K8S_DEV_BIND_ADDRESS")?;
                Some(if bind == "0.0.0.0" { "127.0.0.1" } else { bind }.to_string())
            },
        },
        rule: Rule::Ipv4,
        help: "address of the Kubernetes API in the cluster's kubeconfig (k3d's kubeAPI.host)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_LB_PORT",
        default: Default::Derived {
            doc: "8080; per worktree: 18100 + the cluster name's slot (0-999)",
            derive: |ctx| worktree_port(ctx, 8080, crate::worktree::LB_PORT_BASE),
        },
        rule: Rule::Port,
        help: "host port mapped to K8S_DEV_NODEPORT (k3d: its load balancer; kind: the control \
               plane's; k3s: not used, the NodePort itself is on the host)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_NODEPORT",
        default: Default::Value("30051"),
        rule: Rule::NodePort,
        help: "NodePort of the gateway Service behind K8S_DEV_LB_PORT",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_REGISTRY_NAME",
        default: Default::Value("openshell-registry"),
        rule: Rule::RegistryName,
        help: "registry name, as pods pull from it (<name>:5000); k3d names its container \
               k3d-<name>",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_REGISTRY_PORT",
        default: Default::Value("5000"),
        rule: Rule::Port,
        help: "host port of the registry",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_REGISTRY_IMAGE",
        // k3d's own registry image (k3d registry create), which kind's local-registry recipe
        // uses too.
        default: Default::Value("docker.io/library/registry:2"),
        rule: Rule::ImageRef,
        help: "kind and k3s: image of the registry container the kit runs (k3d runs its own)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_CONTEXT",
        default: Default::Unset {
            doc: "unset: the kit's cluster",
        },
        rule: Rule::Context,
        help: "an existing context to use instead: remote mode, up/down create and delete nothing",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_REGISTRY",
        default: Default::Derived {
            doc: "localhost:<K8S_DEV_REGISTRY_PORT>; remote mode: none",
            derive: |ctx| {
                let port = ctx.get("K8S_DEV_REGISTRY_PORT")?;
                (!remote(ctx)).then(|| format!("localhost:{port}"))
            },
        },
        rule: Rule::Registry,
        help: "registry as the host pushes to it (Skaffold's default repo)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_REGISTRY_PULL",
        default: Default::Derived {
            doc: "<K8S_DEV_REGISTRY_NAME>:5000; remote mode: none",
            derive: |ctx| {
                let name = ctx.get("K8S_DEV_REGISTRY_NAME")?;
                (!remote(ctx)).then(|| format!("{name}:5000"))
            },
        },
        rule: Rule::Registry,
        help: "registry as the cluster pulls from it",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_SWITCH_CONTEXT",
        default: Default::Value("1"),
        rule: Rule::Flag,
        help: "1: make the cluster's context current in the default kubeconfig after up",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_TIMEOUT",
        default: Default::Value("180s"),
        rule: Rule::Duration,
        help: "limit of each readiness wait",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_LOCK_TIMEOUT",
        default: Default::Value("10m"),
        rule: Rule::Duration,
        help: "how long up/down wait for another up/down of this user to finish",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_K3D_CONFIG",
        default: Default::Derived {
            doc: "<kit>/deploy/k3d/cluster.yaml",
            derive: |ctx| in_kit(ctx, "deploy/k3d/cluster.yaml"),
        },
        rule: Rule::Path,
        help: "k3d only: config the cluster is created from",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_KIND_CONFIG",
        default: Default::Derived {
            doc: "<kit>/deploy/kind/cluster.yaml",
            derive: |ctx| in_kit(ctx, crate::provider::kind::TEMPLATE),
        },
        rule: Rule::Path,
        help: "kind only: the config template the helper renders with these settings for kind",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_K3S_KUBECONFIG",
        default: Default::Derived {
            doc: "/etc/rancher/k3s/k3s.yaml",
            derive: |ctx| {
                let root = crate::provider::k3s::Layout::of(ctx.env);
                Some(root.kubeconfig().display().to_string())
            },
        },
        rule: Rule::Path,
        help: "k3s only: the host k3s's kubeconfig, or a copy of it you can read",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_ENGINE",
        default: Default::Derived {
            doc: "$CONTAINER_ENGINE, else detected",
            // Env::engine is K8S_DEV_ENGINE, else CONTAINER_ENGINE: here only the latter.
            derive: |ctx| {
                ctx.env
                    .var("K8S_DEV_ENGINE")
                    .is_none()
                    .then(|| ctx.env.engine.clone())
                    .flatten()
            },
        },
        rule: Rule::OneOf(&["docker", "podman"]),
        help: "restrict engine detection to docker or podman",
        openshell: None,
    },
    // --- the workload ---------------------------------------------------------------------------
    Spec {
        name: "K8S_DEV_NAMESPACE",
        default: Default::Value("openshell"),
        rule: Rule::DnsLabel { max: 63 },
        help: "namespace of the Helm release",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_SANDBOX_NAMESPACE",
        default: Default::Value("openshell"),
        rule: Rule::DnsLabel { max: 63 },
        help: "namespace the gateway creates sandbox pods in",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_RELEASE",
        default: Default::Value("openshell"),
        rule: Rule::DnsLabel { max: 53 },
        help: "Helm release name",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_CHART",
        default: Default::Value("deploy/helm/openshell"),
        rule: Rule::Path,
        help: "Helm chart directory",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_VALUES",
        // In the kit, so an adopter's chart directory gets nothing added; it fits OpenShell's
        // chart and the stand-in's.
        default: Default::Derived {
            doc: "<kit>/deploy/values/dev.yaml",
            derive: |ctx| in_kit(ctx, "deploy/values/dev.yaml"),
        },
        rule: Rule::Path,
        help: "Helm values file for development (TLS off, images from the kit's registry)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_ROLLOUT",
        default: Default::Value("statefulset/openshell"),
        rule: Rule::Rollout,
        help: "workload bootstrap waits for",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_CRDS",
        default: Default::Unset { doc: "none" },
        rule: Rule::Sources,
        help: "CRD manifests bootstrap and watch apply first (files, directories or http(s) \
               URLs, space-separated), waiting until every CRD is Established and every \
               workload in them (a controller) has rolled out",
        openshell: Some("the Agent Sandbox v0.5.0 release manifest URL"),
    },
    Spec {
        name: "K8S_DEV_SERVICE_TYPE",
        // A fixed NodePort is one per cluster: on a shared cluster two users' releases would
        // collide on it, and nothing maps it to the user's host anyway.
        default: Default::Derived {
            doc: "NodePort (K8S_DEV_NODEPORT, behind the load balancer); remote mode: ClusterIP",
            derive: |ctx| Some(if remote(ctx) { "ClusterIP" } else { "NodePort" }.into()),
        },
        rule: Rule::ServiceType,
        help: "type of the gateway Service the chart gets",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_PULL_SECRET",
        default: Default::Value("k8s-dev-pull"),
        rule: Rule::DnsLabel { max: 63 },
        help: "image pull secret bootstrap and watch make in the release and sandbox \
               namespaces when you have a login for the registry (remote mode), and hand the \
               chart",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_SKAFFOLD_FILE",
        // The kit's own config takes its paths from the environment, so it runs from any
        // repository's root; an adopter's own (OpenShell's deploy/helm/openshell/skaffold.yaml)
        // needs the directory it was written for, K8S_DEV_SKAFFOLD_DIR.
        default: Default::Derived {
            doc: "<kit>/skaffold.yaml",
            derive: |ctx| in_kit(ctx, "skaffold.yaml"),
        },
        rule: Rule::Path,
        help: "Skaffold config watch runs (relative to the repository root)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_SKAFFOLD_DIR",
        default: Default::Unset {
            doc: "the repository root",
        },
        rule: Rule::Path,
        help: "directory watch runs Skaffold in, for a config whose relative paths start \
               there (OpenShell's own: deploy/helm/openshell)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_GATEWAY_PACKAGE",
        default: Default::Value("openshell-server"),
        rule: Rule::CargoName,
        help: "cargo package of the gateway",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_GATEWAY_BIN",
        default: Default::Value("openshell-gateway"),
        rule: Rule::CargoName,
        help: "gateway binary",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_GATEWAY_IMAGE",
        default: Default::Value("openshell-gateway"),
        rule: Rule::ImageName,
        help: "gateway image repository in the registry",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_GATEWAY_DOCKERFILE",
        default: Default::Value("deploy/docker/Dockerfile.gateway"),
        rule: Rule::Path,
        help: "gateway Dockerfile (relative to the repository root)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_GATEWAY_BUILD_ARGS",
        default: Default::Unset { doc: "none" },
        rule: Rule::BuildArgs,
        help: "build args of the gateway Dockerfile, e.g. its base from a mirror you can reach",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_GATEWAY_FEATURES",
        default: Default::Unset { doc: "none" },
        rule: Rule::Features,
        help: "cargo features of the gateway package in image builds",
        openshell: Some("bundled-z3"),
    },
    Spec {
        name: "K8S_DEV_GATEWAY_COMMAND",
        // The adopter's own runner (OpenShell's tasks/scripts/gateway.sh, the stand-in's
        // example/scripts/gateway.sh): it knows the gateway's flags and config file.
        default: Default::Value("mise run gateway -- --driver kubernetes"),
        rule: Rule::Command,
        help: "command k8s:dev:gateway runs in the repository root, with KUBECONFIG and the \
               OPENSHELL_* variables set for the cluster",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_GATEWAY_PORT",
        // Not 8080: that is the load balancer's, where the in-cluster gateway answers; not
        // 18080/18081 either, OpenShell's own Docker/Podman and VM gateways, nor 8090, where
        // OpenShell's Helm dev environment port-forwards the in-cluster gateway.
        default: Default::Value("18082"),
        rule: Rule::Port,
        help: "host port of the out-of-cluster gateway (k8s:dev:gateway)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_SUPERVISOR_PACKAGE",
        default: Default::Value("openshell-sandbox"),
        rule: Rule::CargoName,
        help: "cargo package of the supervisor",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_SUPERVISOR_BIN",
        default: Default::Value("openshell-sandbox"),
        rule: Rule::CargoName,
        help: "supervisor binary",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_SUPERVISOR_IMAGE",
        default: Default::Value("openshell-supervisor"),
        rule: Rule::ImageName,
        help: "supervisor image repository in the registry",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_SUPERVISOR_DOCKERFILE",
        default: Default::Value("deploy/docker/Dockerfile.supervisor"),
        rule: Rule::Path,
        help: "supervisor Dockerfile (relative to the repository root); its steps up to the \
               last RUN are built by the container engine once, the binary goes on top \
               without it",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_SUPERVISOR_BUILD_ARGS",
        default: Default::Unset { doc: "none" },
        rule: Rule::BuildArgs,
        help: "build args of the supervisor Dockerfile",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_SUPERVISOR_FEATURES",
        default: Default::Unset { doc: "none" },
        rule: Rule::Features,
        help: "cargo features of the supervisor package in image builds",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_SKIP_SYNC",
        default: Default::Value("0"),
        rule: Rule::Flag,
        help: "1: bootstrap installs the images of the last sync instead of syncing first",
        openshell: None,
    },
    // --- images ---------------------------------------------------------------------------------
    Spec {
        name: "K8S_DEV_RUST_TARGET",
        default: Default::Unset {
            doc: "the host triple, on Linux",
        },
        rule: Rule::TargetTriple,
        help: "Linux target triple of the image binaries",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_GATEWAY_RUST_TARGET",
        default: Default::Derived {
            doc: "K8S_DEV_RUST_TARGET",
            derive: |ctx| ctx.get("K8S_DEV_RUST_TARGET").map(String::from),
        },
        rule: Rule::TargetTriple,
        help: "target triple of the gateway binary (zigbuild's glibc floor: \
               x86_64-unknown-linux-gnu.2.28)",
        openshell: Some("x86_64-unknown-linux-gnu.2.28"),
    },
    Spec {
        name: "K8S_DEV_SUPERVISOR_RUST_TARGET",
        default: Default::Derived {
            doc: "K8S_DEV_RUST_TARGET",
            derive: |ctx| ctx.get("K8S_DEV_RUST_TARGET").map(String::from),
        },
        rule: Rule::TargetTriple,
        help: "target triple of the supervisor binary",
        openshell: Some("x86_64-unknown-linux-musl"),
    },
    Spec {
        name: "K8S_DEV_GATEWAY_LINKAGE",
        // The stand-in links statically to run FROM scratch; OpenShell's gateway links glibc
        // dynamically for its distroless cc base, so nothing may force crt-static on it.
        default: Default::Value("static"),
        rule: Rule::OneOf(&["static", "dynamic"]),
        help: "static: glibc targets get +crt-static (musl is static anyway); dynamic: as the \
               target links by default",
        openshell: Some("dynamic"),
    },
    Spec {
        name: "K8S_DEV_SUPERVISOR_LINKAGE",
        default: Default::Value("static"),
        rule: Rule::OneOf(&["static", "dynamic"]),
        help: "linkage of the supervisor binary (static: it runs inside any sandbox image)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_CARGO_BUILD",
        default: Default::Value("cargo build"),
        rule: Rule::Command,
        help: "command that builds the image binaries (macOS: cargo zigbuild)",
        openshell: Some("cargo zigbuild"),
    },
    Spec {
        name: "K8S_DEV_CARGO_PROFILE",
        default: Default::Value("dev"),
        rule: Rule::CargoName,
        help: "cargo profile of the image binaries (dev builds into debug/)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_IMAGE_CONTEXT",
        default: Default::Value("."),
        rule: Rule::Path,
        help: "build context of both Dockerfiles: the repository root, where their COPY \
               sources start",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_IMAGE_STAGING_DIR",
        default: Default::Value("deploy/docker/.build/prebuilt-binaries/{arch}"),
        rule: Rule::RelativePath,
        help: "where sync puts each binary in the build context, for the Dockerfile's COPY \
               ({arch}: amd64 or arm64, as BuildKit's TARGETARCH)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_IMAGE_BUILDER",
        default: Default::Value("helper"),
        rule: Rule::OneOf(&["helper", "engine"]),
        help: "helper: daemonless publish; engine: docker/podman build and push",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_IMAGE_COMPRESSION",
        default: Default::Value("zstd"),
        rule: Rule::OneOf(&["zstd", "gzip"]),
        help: "layer compression: zstd (k3s, Podman, Docker >= 23) or gzip (older Docker)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_INSECURE_REGISTRIES",
        default: Default::Unset {
            doc: "none; loopback registries always are",
        },
        rule: Rule::RegistryList,
        help: "registries image publish and Skaffold reach over plain HTTP",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_REGISTRY_CERTS",
        default: Default::Unset {
            doc: "the certs.d directories Docker and Podman read",
        },
        rule: Rule::Path,
        help: "certs.d-style directory of registry CAs (DIR/HOST:PORT/ca.crt) for image publish",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_CACHE_DIR",
        default: Default::Unset {
            doc: "$XDG_CACHE_HOME/k8s-dev, else ~/.cache/k8s-dev",
        },
        rule: Rule::Path,
        help: "layer cache of image publish",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_STATE_DIR",
        default: Default::Derived {
            doc: "$CARGO_TARGET_DIR/k8s-dev, else target/k8s-dev",
            derive: |ctx| {
                let target = match (&ctx.env.cargo_target_dir, &ctx.env.cwd) {
                    (Some(dir), Some(cwd)) => cwd.join(dir),
                    (Some(dir), None) => dir.clone(),
                    (None, Some(cwd)) => cwd.join("target"),
                    (None, None) => "target".into(),
                };
                Some(target.join("k8s-dev").display().to_string())
            },
        },
        rule: Rule::Path,
        help: "sync's staged binaries, image tags and publish reports",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_HELPER",
        default: Default::Unset {
            doc: "k8s-dev-helper on PATH, else built from the kit",
        },
        rule: Rule::Path,
        help: "the k8s-dev-helper binary the tasks run",
        openshell: None,
    },
    // --- derived, read-only ---------------------------------------------------------------------
    Spec {
        name: "K8S_DEV_KIT_DIR",
        default: Default::Computed {
            doc: "where the kit is (OpenShell: tools/k8s-dev)",
            derive: |ctx| ctx.kit_dir.map(|d| d.display().to_string()),
        },
        rule: Rule::Path,
        help: "the kit's directory, whose files (dev values, skaffold.yaml, k3d config) the \
               tasks pass on",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_CLUSTER_CONTEXT",
        default: Default::Computed {
            doc: "<K8S_DEV_PROVIDER>-<K8S_DEV_CLUSTER>: k3d-, kind- (kind's own) or k3s-",
            derive: |ctx| Some(context_of(ctx)?.context),
        },
        rule: Rule::Context,
        help: "context, cluster and user name of the cluster in kubeconfigs (k3d's user: admin@…)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_REGISTRY_CONTAINER",
        default: Default::Computed {
            doc: "k3d-<K8S_DEV_REGISTRY_NAME> on k3d, else <K8S_DEV_REGISTRY_NAME>",
            derive: |ctx| {
                let name = ctx.get("K8S_DEV_REGISTRY_NAME")?;
                Some(match provider(ctx) {
                    Provider::K3d => format!("k3d-{name}"),
                    Provider::Kind | Provider::K3s => name.to_string(),
                })
            },
        },
        rule: Rule::Network,
        help: "the registry's container",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_CLUSTER_KUBECONFIG",
        default: Default::Computed {
            doc: "~/.kube/<K8S_DEV_CLUSTER_CONTEXT>.yaml",
            derive: |ctx| {
                let home = ctx.env.home.as_ref()?;
                let file = format!("{}.yaml", ctx.get("K8S_DEV_CLUSTER_CONTEXT")?);
                Some(home.join(".kube").join(file).display().to_string())
            },
        },
        rule: Rule::Path,
        help: "the cluster's own kubeconfig (0600), the one kubectl, helm and skaffold get",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_KIND_KUBECONFIG",
        default: Default::Computed {
            doc: "<K8S_DEV_STATE_DIR>/kind/<K8S_DEV_CLUSTER>.kubeconfig",
            derive: |ctx| {
                let dir = std::path::Path::new(ctx.get("K8S_DEV_STATE_DIR")?).join("kind");
                let file = format!("{}.kubeconfig", ctx.get("K8S_DEV_CLUSTER")?);
                Some(dir.join(file).display().to_string())
            },
        },
        rule: Rule::Path,
        help: "kind only: the file kind create/delete write (--kubeconfig), so kind never edits \
               yours; up merges from kind get kubeconfig",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_DEFAULT_KUBECONFIG",
        // kubectl's files, not one of them: which one a merge writes depends on what each file
        // holds and which exist (the store's rule, as `kubectl config`).
        default: Default::Computed {
            doc: "the files of KUBECONFIG, else ~/.kube/config",
            derive: |ctx| {
                crate::kubeconfig::Files::from_env(ctx.env)
                    .ok()
                    .map(|files| files.display())
            },
        },
        rule: Rule::Path,
        help: "the kubeconfig files up merges the cluster into, as kubectl config writes them: an \
               entry where it is defined, a new one into the first file that exists, else the \
               last (OpenShell: its repo-local KUBECONFIG)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_REMOTE",
        default: Default::Computed {
            doc: "1 when K8S_DEV_CONTEXT names another context than K8S_DEV_CLUSTER_CONTEXT",
            derive: |ctx| Some(if remote(ctx) { "1" } else { "0" }.into()),
        },
        rule: Rule::Flag,
        help: "remote mode: the tasks use K8S_DEV_CONTEXT and create or delete nothing",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_NODES",
        default: Default::Computed {
            doc: "1 + K8S_DEV_AGENTS; k3s: 1",
            derive: |ctx| {
                if provider(ctx) == Provider::K3s {
                    return Some("1".into());
                }
                let agents: u32 = ctx.get("K8S_DEV_AGENTS")?.parse().ok()?;
                Some((1 + agents).to_string())
            },
        },
        rule: Rule::Count { min: 1, max: 10 },
        help: "nodes up waits for, at least (every node there must be Ready)",
        openshell: None,
    },
    Spec {
        name: "K8S_DEV_LOCK_FILE",
        default: Default::Computed {
            doc: "$XDG_RUNTIME_DIR/k8s-dev/up.lock, else ~/.local/state/k8s-dev/up.lock",
            derive: lock_file,
        },
        rule: Rule::Path,
        help: "the per-user lock that keeps two up/down from racing",
        openshell: None,
    },
];

/// `REL` in the kit's directory (relative to the working directory when it is not known), for
/// files the kit ships: an adopter's tree does not have them.
fn in_kit(ctx: &Ctx, rel: &str) -> Option<String> {
    Some(match ctx.kit_dir {
        Some(kit) => kit.join(rel).display().to_string(),
        None => rel.to_string(),
    })
}

/// Remote mode: K8S_DEV_CONTEXT names another context than the kit's cluster. Its registry is
/// not this machine's, so no registry name is derived for it.
fn remote(ctx: &Ctx) -> bool {
    match (ctx.get("K8S_DEV_CONTEXT"), context_of(ctx)) {
        (Some(context), Some(names)) => context != names.context,
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// The provider setting (validated above every use; k3d when it was refused, as in `lenient`).
fn provider(ctx: &Ctx) -> Provider {
    ctx.get("K8S_DEV_PROVIDER")
        .and_then(|p| p.parse().ok())
        .unwrap_or(Provider::K3d)
}

/// The kubeconfig names the provider gives the cluster.
fn context_of(ctx: &Ctx) -> Option<crate::provider::KubeconfigNames> {
    Some(provider(ctx).kubeconfig_names(ctx.get("K8S_DEV_CLUSTER")?))
}

fn per_worktree(ctx: &Ctx) -> bool {
    ctx.get("K8S_DEV_CLUSTER_PER_WORKTREE") == Some("1")
}

/// A host port of the cluster: `single` for the one cluster of a checkout; per worktree, `base`
/// plus the cluster name's slot, so two worktrees' clusters ask for different ports (and the
/// same worktree always for the same ones).
fn worktree_port(ctx: &Ctx, single: u32, base: u32) -> Option<String> {
    if !per_worktree(ctx) {
        return Some(single.to_string());
    }
    let slot = crate::worktree::port_slot(ctx.get("K8S_DEV_CLUSTER")?);
    Some((base + slot).to_string())
}

/// A per-user directory, never a shared one such as /tmp: another user must not be able to
/// hold or plant the lock. The runtime directory is private and cleared at boot; without one
/// (macOS), the XDG state directory.
fn lock_file(ctx: &Ctx) -> Option<String> {
    let env = ctx.env;
    let dir = match (&env.xdg_runtime_dir, &env.xdg_state_home, &env.home) {
        (Some(run), _, _) => run.join("k8s-dev"),
        (None, Some(state), _) => state.join("k8s-dev"),
        (None, None, Some(home)) => home.join(".local/state/k8s-dev"),
        (None, None, None) => return None,
    };
    Some(dir.join("up.lock").display().to_string())
}
