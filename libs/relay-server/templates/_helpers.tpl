{{/*
Expand the name of the chart.
*/}}
{{- define "relay-server.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "relay-server.fullname" -}}
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
Create chart name and version as used by the chart label.
*/}}
{{- define "relay-server.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels
*/}}
{{- define "relay-server.labels" -}}
helm.sh/chart: {{ include "relay-server.chart" . }}
{{ include "relay-server.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels. They never change after install: a Deployment's selector is immutable.
*/}}
{{- define "relay-server.selectorLabels" -}}
app.kubernetes.io/name: {{ include "relay-server.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Create the name of the service account to use
*/}}
{{- define "relay-server.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "relay-server.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The public URL, required: the server compares it to the token audience character for character.
*/}}
{{- define "relay-server.url" -}}
{{- required "relay.url is required: set it to the public URL users register in Obsidian, e.g. https://relay.example.com (no path, no trailing slash)" .Values.relay.url }}
{{- end }}

{{/*
The host part of relay.url (for the Ingress).
*/}}
{{- define "relay-server.host" -}}
{{- (urlParse (include "relay-server.url" .)).hostname }}
{{- end }}

{{/*
Image reference. A digest pins the bytes; the tag (default appVersion) is kept beside it only when set explicitly.
*/}}
{{- define "relay-server.image" -}}
{{- $repo := .Values.image.repository }}
{{- if .Values.image.digest }}
{{- if .Values.image.tag }}
{{- printf "%s:%s@%s" $repo .Values.image.tag .Values.image.digest }}
{{- else }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- end }}
{{- else }}
{{- printf "%s:%s" $repo (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
Whether the chart renders its own S3 Secret (secret.yaml): inline keys, storage.type s3,
no existingSecret. The one place this is decided; the Deployment's checksum asks it too.
*/}}
{{- define "relay-server.rendersS3Secret" -}}
{{- $s3 := .Values.storage.s3 }}
{{- if and (eq .Values.storage.type "s3") (not $s3.existingSecret) (or $s3.accessKeyId $s3.secretAccessKey) }}true{{ end }}
{{- end }}

{{/*
Name of the Secret holding the S3 credentials: the existing one, or the one this chart renders.
Empty with the filesystem store, or when no credentials are configured (the server then
needs AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY from extraEnv).
*/}}
{{- define "relay-server.s3SecretName" -}}
{{- if eq .Values.storage.type "s3" }}
{{- if .Values.storage.s3.existingSecret }}
{{- .Values.storage.s3.existingSecret }}
{{- else if include "relay-server.rendersS3Secret" . }}
{{- printf "%s-s3" (include "relay-server.fullname" .) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The PersistentVolumeClaim of the filesystem store: the existing one, or <fullname>-data.
*/}}
{{- define "relay-server.pvcName" -}}
{{- .Values.storage.filesystem.existingClaim | default (printf "%s-data" (include "relay-server.fullname" .)) }}
{{- end }}

{{/*
Seconds the preStop hook waits before SIGINT: preStopSleepSeconds, and at least one
checkpoint interval and a second, so the periodic save has run since the stop began.
*/}}
{{- define "relay-server.preStopSeconds" -}}
{{- max (int .Values.preStopSleepSeconds) (add (int .Values.relay.checkpointFreqSeconds) 1) -}}
{{- end }}

{{/*
The wrapper that applies the open-files limit before run.sh, one command a line. `sh -c`
makes the first following argument $0, so the Deployment passes "relay-server" as $0 and
the URL arrives at run.sh as $1. The limit is checked against the hard limit first, so an
impossible value fails at once with both numbers instead of starting a starved server.
*/}}
{{- define "relay-server.ulimitScript" -}}
{{- $n := int .Values.ulimits.nofile -}}
hard="$(ulimit -Hn)"
if [ "$hard" != unlimited ] && [ "$hard" -lt {{ $n }} ]; then
  echo "relay-server: cannot set the open-files limit (ulimits.nofile) to {{ $n }}: the hard limit is $hard; lower ulimits.nofile or raise the runtime's hard limit" >&2
  exit 1
fi
ulimit -n {{ $n }} || { echo "relay-server: ulimit -n {{ $n }} failed (hard limit $hard)" >&2; exit 1; }
exec ./run.sh "$@"
{{- end }}

{{/*
Every value check that needs more than the schema, together: a combination the server
or Kubernetes would refuse later, refused at render time with what to change.
*/}}
{{- define "relay-server.validate" -}}
{{- $s3 := .Values.storage.s3 }}
{{- if and (eq .Values.storage.type "s3") (not $s3.existingSecret) (or $s3.accessKeyId $s3.secretAccessKey) (not (and $s3.accessKeyId $s3.secretAccessKey)) }}
{{- fail "storage.s3.accessKeyId and storage.s3.secretAccessKey go together: set both, or neither and use storage.s3.existingSecret" }}
{{- end }}
{{- if and .Values.relay.metrics.enabled (eq (int .Values.relay.metrics.port) (int .Values.relay.port)) }}
{{- fail "relay.metrics.port must differ from relay.port: the server refuses to start when they are equal" }}
{{- end }}
{{- if and .Values.serviceMonitor.enabled (not .Values.relay.metrics.enabled) }}
{{- fail "serviceMonitor.enabled needs relay.metrics.enabled: true (the server serves /metrics only when [metrics] is set)" }}
{{- end }}
{{- if and (eq .Values.storage.type "filesystem") (not (.Values.podSecurityContext | default dict).fsGroup) }}
{{- fail "storage.type filesystem needs podSecurityContext.fsGroup (e.g. 10001): without it the volume stays owned by root and the non-root server cannot write it" }}
{{- end }}
{{- if le (int .Values.terminationGracePeriodSeconds) (add (include "relay-server.preStopSeconds" . | int) 10 | int) }}
{{- fail (printf "terminationGracePeriodSeconds (%d) must exceed the preStop pause (%s s: preStopSleepSeconds, or relay.checkpointFreqSeconds + 1 when longer) by more than 10 s, or the server is killed before it saves" (int .Values.terminationGracePeriodSeconds) (include "relay-server.preStopSeconds" .)) }}
{{- end }}
{{- end }}

{{/*
A probe from values: httpGet on the named port (default) or tcpSocket.
*/}}
{{- define "relay-server.probe" -}}
{{- if eq .type "tcpSocket" }}
tcpSocket:
  port: http
{{- else }}
httpGet:
  path: {{ .path }}
  port: http
{{- end }}
initialDelaySeconds: {{ .initialDelaySeconds }}
periodSeconds: {{ .periodSeconds }}
timeoutSeconds: {{ .timeoutSeconds }}
failureThreshold: {{ .failureThreshold }}
successThreshold: {{ .successThreshold }}
{{- end }}
