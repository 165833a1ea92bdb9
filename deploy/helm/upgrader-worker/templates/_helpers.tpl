{{/* The release's full name, cut to 63 characters (a DNS label). */}}
{{- define "upgrader-worker.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "upgrader-worker.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "upgrader-worker.labels" -}}
{{ include "upgrader-worker.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "upgrader-worker.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "upgrader-worker.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name: name an existing ServiceAccount when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
The worker's config (config/worker.example.yaml), built from the values:
secrets are files the Deployment mounts from Kubernetes Secrets, the local
cluster is reached with the pod's ServiceAccount.
*/}}
{{- define "upgrader-worker.config" -}}
{{- $t := .Values.temporal -}}
{{- $temporal := dict "address" $t.address "namespace" $t.namespace "taskQueue" $t.taskQueue -}}
{{- with $t.uiAddress }}{{ $_ := set $temporal "uiAddress" . }}{{ end -}}
{{- if $t.tls.enabled -}}
{{- $tls := dict "enabled" true -}}
{{- with $t.tls.serverName }}{{ $_ := set $tls "serverName" . }}{{ end -}}
{{- if $t.tls.secretName -}}
{{- $_ := set $tls "caFile" "/etc/upgrader/tls/ca.crt" -}}
{{- $_ := set $tls "certFile" "/etc/upgrader/tls/tls.crt" -}}
{{- $_ := set $tls "keyFile" "/etc/upgrader/tls/tls.key" -}}
{{- end -}}
{{- $_ := set $temporal "tls" $tls -}}
{{- end -}}
{{- if $t.codec.secretName -}}
{{- $_ := set $temporal "codec" (dict "keyEnv" "UPGRADER_CODEC_KEYS") -}}
{{- end -}}
{{- $clusters := dict .Values.cluster.name (dict "inCluster" true) -}}
{{- range $name, $c := .Values.clusters -}}
{{- $entry := dict "kubeconfig" (printf "/etc/upgrader/kube/%s" $name) -}}
{{- with $c.context }}{{ $_ := set $entry "context" . }}{{ end -}}
{{- $_ := set $clusters $name $entry -}}
{{- end -}}
{{- $secrets := dict -}}
{{- range $name, $s := .Values.secrets -}}
{{- $entry := dict "file" (printf "/etc/upgrader/secrets/%s" $name) -}}
{{- with $s.uses }}{{ $_ := set $entry "uses" . }}{{ end -}}
{{- with $s.hosts }}{{ $_ := set $entry "hosts" . }}{{ end -}}
{{- $_ := set $secrets $name $entry -}}
{{- end -}}
{{- $known := list -}}
{{- if .Values.knownHosts.secretName }}{{ $known = list "/etc/upgrader/ssh/known_hosts" }}{{ end -}}
{{- $cfg := dict "temporal" $temporal
    "artifactDir" "/var/lib/upgrader/artifacts"
    "chartCache" "/var/cache/upgrader/charts"
    "logLevel" .Values.logLevel
    "metrics" (dict "address" (printf "0.0.0.0:%d" (int .Values.metrics.port)))
    "ssh" (dict "knownHostsFiles" $known)
    "clusters" $clusters
    "secrets" $secrets -}}
{{- with .Values.notify }}{{ $_ := set $cfg "notify" . }}{{ end -}}
{{- with .Values.trustedHosts }}{{ $_ := set $cfg "trustedHosts" . }}{{ end -}}
{{- with .Values.chartRepos }}{{ $_ := set $cfg "chartRepos" . }}{{ end -}}
{{- $cfg = mustMergeOverwrite $cfg (deepCopy .Values.extraConfig) -}}
{{- toYaml $cfg -}}
{{- end -}}
