{{/* The name of every object of the release (tern-controller unless overridden). */}}
{{- define "tern.fullname" -}}
{{- default "tern-controller" .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: the same as manifests/install.yaml's, so that a Helm release can take
over objects applied from it. */}}
{{- define "tern.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tern.fullname" . }}
{{- end -}}

{{- define "tern.labels" -}}
{{ include "tern.selectorLabels" . }}
app.kubernetes.io/component: controller
app.kubernetes.io/part-of: tern
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ include "tern.tag" . | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "tern.tag" -}}
{{- default .Chart.AppVersion .Values.image.tag -}}
{{- end -}}
