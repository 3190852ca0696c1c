{{/*
SPDX-FileCopyrightText: Copyright (c) 2026 k8s-dev contributors
SPDX-License-Identifier: Apache-2.0
*/}}

{{/*
Expand the name of the chart.
*/}}
{{- define "openshell.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name, at most 63 characters (DNS label). With nameOverride `openshell`, a
release named `openshell` (the dev loop's) gives plain `openshell`, hence
`statefulset/openshell`, as OpenShell's chart does.
*/}}
{{- define "openshell.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version for the helm.sh/chart label.
*/}}
{{- define "openshell.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels.
*/}}
{{- define "openshell.labels" -}}
helm.sh/chart: {{ include "openshell.chart" . }}
{{ include "openshell.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels: stable across upgrades (a StatefulSet's selector is immutable).
*/}}
{{- define "openshell.selectorLabels" -}}
app.kubernetes.io/name: {{ include "openshell.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Name of the gateway's service account.
*/}}
{{- define "openshell.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "openshell.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Gateway image. An empty tag means the chart's appVersion. Skaffold sets the tag to
`<tag>@<digest>`, which is still a valid reference after the colon.
*/}}
{{- define "openshell.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
Supervisor image. An empty tag follows the gateway's effective tag, so one chart version
pins a matching pair.
*/}}
{{- define "openshell.supervisorImage" -}}
{{- $tag := .Values.supervisor.image.tag | default .Values.image.tag | default .Chart.AppVersion }}
{{- printf "%s:%s" .Values.supervisor.image.repository $tag }}
{{- end }}

{{/*
Namespace of sandbox pods: server.sandboxNamespace, else the release namespace.
*/}}
{{- define "openshell.sandboxNamespace" -}}
{{- .Values.server.sandboxNamespace | default .Release.Namespace }}
{{- end }}

{{/*
URL sandboxes call back into the gateway: server.grpcEndpoint, else the Service's DNS name
with http or https after server.disableTls (OpenShell's derivation).
*/}}
{{- define "openshell.grpcEndpoint" -}}
{{- if .Values.server.grpcEndpoint -}}
{{- .Values.server.grpcEndpoint -}}
{{- else -}}
{{- $scheme := ternary "http" "https" (default false .Values.server.disableTls) -}}
{{- printf "%s://%s.%s.svc.cluster.local:%d" $scheme (include "openshell.fullname" .) .Release.Namespace (int .Values.service.port) -}}
{{- end -}}
{{- end }}

{{/*
Values the stand-in cannot honour fail the render with the fix, rather than a pod that never
becomes ready.
*/}}
{{- define "openshell.validateValues" -}}
{{- if not .Values.server.disableTls -}}
{{- fail "server.disableTls=false: the stand-in gateway serves plaintext HTTP only (OpenShell's chart mounts the certificates of its certgen hook here); set server.disableTls=true" -}}
{{- end -}}
{{- $method := .Values.supervisor.sideloadMethod | default "init-container" -}}
{{- if ne $method "init-container" -}}
{{- fail (printf "supervisor.sideloadMethod=%s: the stand-in only copies the supervisor with an init container; leave it empty or set init-container" $method) -}}
{{- end -}}
{{- if gt (int .Values.replicaCount) 1 -}}
{{- fail "replicaCount > 1: the gateway runs as a single-replica StatefulSet, as OpenShell's does with its default SQLite database" -}}
{{- end -}}
{{- end }}
