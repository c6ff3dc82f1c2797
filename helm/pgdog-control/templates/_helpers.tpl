{{/* Names ------------------------------------------------------------------ */}}

{{- define "pgdog-control.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "pgdog-control.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "pgdog-control.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels ----------------------------------------------------------------- */}}

{{- define "pgdog-control.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pgdog-control.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pgdog-control.labels" -}}
helm.sh/chart: {{ include "pgdog-control.chart" . }}
{{ include "pgdog-control.selectorLabels" . }}
app.kubernetes.io/version: {{ (.Values.control.image.tag | default .Chart.AppVersion) | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/component: control-plane
app.kubernetes.io/part-of: pgdog
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The label the leader puts on its own pod in leader-label routing (the
     plugin option pod_label; the plugin sets the value "true"). */}}
{{- define "pgdog-control.leaderLabelKey" -}}
pgdog.dev/control-leader
{{- end -}}

{{/* Leader election --------------------------------------------------------- */}}

{{- define "pgdog-control.election" -}}
{{- if .Values.control.config.leader.enabled -}}true{{- end -}}
{{- end -}}

{{- define "pgdog-control.leaseName" -}}
{{- .Values.control.config.leader.lease_name | default (include "pgdog-control.fullname" .) -}}
{{- end -}}

{{- define "pgdog-control.leaseNamespace" -}}
{{- .Values.control.config.leader.namespace | default .Release.Namespace -}}
{{- end -}}

{{- define "pgdog-control.builtinBackend" -}}
{{- if has .Values.control.config.leader.backend (list "kubernetes" "noop") -}}true{{- end -}}
{{- end -}}

{{- define "pgdog-control.pluginsMounted" -}}
{{- if or .Values.control.plugins.initContainer.image .Values.control.plugins.volume -}}true{{- end -}}
{{- end -}}

{{- define "pgdog-control.serviceAccountName" -}}
{{- if and (include "pgdog-control.election" .) .Values.serviceAccount.create -}}
{{- default (include "pgdog-control.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Port of control.config.listen ("host:port"). */}}
{{- define "pgdog-control.containerPort" -}}
{{- regexFind "[0-9]+$" .Values.control.config.listen -}}
{{- end -}}

{{/* Tokens ------------------------------------------------------------------ */}}

{{/* Where the token Secrets' keys appear in the container (one projected
     volume, read-only). Fixed: the chart writes every token_file path. */}}
{{- define "pgdog-control.tokensDir" -}}
/etc/pgdog-control/tokens
{{- end -}}

{{/* Every token source of control.api as a YAML list, in config order:
     {what: the values key, secret, key, path: the file under tokensDir, and
     deployment (its name), webKey (admin_token_file, read_token_file) or
     apiKey (forward_secret_file: the replicas' shared secret)}.
     The single place that maps values to files: the volume, the config and
     the checks all read it. */}}
{{- define "pgdog-control.tokenSources" -}}
{{- $api := default (dict) .Values.control.api -}}
{{- $out := list -}}
{{- range $i, $d := $api.deployments -}}
{{- $out = append $out (dict "what" (printf "control.api.deployments[%d] (%s)" $i $d.name) "secret" (default "" $d.existingSecret) "key" (default "tokens" $d.key) "path" (printf "deployment-%s" $d.name) "deployment" $d.name) -}}
{{- end -}}
{{- range $role := list "admin" "read" -}}
{{- $src := get $api (printf "%sTokens" $role) | default (dict) -}}
{{- if $src.existingSecret -}}
{{- $out = append $out (dict "what" (printf "control.api.%sTokens" $role) "secret" $src.existingSecret "key" (default "tokens" $src.key) "path" (printf "web-%s" $role) "webKey" (printf "%s_token_file" $role)) -}}
{{- end -}}
{{- end -}}
{{- $fs := $api.forwardSecret | default (dict) -}}
{{- if $fs.existingSecret -}}
{{- $out = append $out (dict "what" "control.api.forwardSecret" "secret" $fs.existingSecret "key" (default "secret" $fs.key) "path" "forward-secret" "apiKey" "forward_secret_file") -}}
{{- end -}}
{{- toYaml $out -}}
{{- end -}}

{{/* The daemon's config file. Keys left empty in the values are left out, so
     the daemon applies its own defaults (docs/configuration.md). api gets its
     deployments and *_token_file paths from control.api (tokenSources): the
     file never holds a token (the checks refuse tokens in control.config). */}}
{{- define "pgdog-control.configYaml" -}}
{{- $c := deepCopy .Values.control.config -}}
{{- range $k := list "plugin_dir" "advertise_address" -}}
{{- if not (get $c $k) }}{{ $_ := unset $c $k }}{{ end -}}
{{- end -}}
{{- $l := $c.leader -}}
{{- $_ := set $l "lease_name" (include "pgdog-control.leaseName" .) -}}
{{- range $k := list "namespace" "identity" "renew_deadline_secs" "stop_work_timeout_secs" -}}
{{- if kindIs "invalid" (get $l $k) }}{{ $_ := unset $l $k }}{{ else if eq (toString (get $l $k)) "" }}{{ $_ := unset $l $k }}{{ end -}}
{{- end -}}
{{- $opts := deepCopy (default (dict) $l.options) -}}
{{- if eq .Values.control.routing "leader-label" -}}
{{- $_ := set $opts "pod_label" (include "pgdog-control.leaderLabelKey" .) -}}
{{- end -}}
{{- if $opts }}{{ $_ := set $l "options" $opts }}{{ else }}{{ $_ := unset $l "options" }}{{ end -}}
{{- if and (include "pgdog-control.pluginsMounted" .) (not (include "pgdog-control.builtinBackend" .)) (not (contains "/" $l.backend)) -}}
{{- $_ := set $l "backend" (printf "%s/%s.so" (trimSuffix "/" .Values.control.plugins.mountPath) $l.backend) -}}
{{- end -}}
{{- if .Values.control.persistence.enabled -}}
{{- $_ := set $c "state_dir" (include "pgdog-control.stateDir" .) -}}
{{- end -}}
{{- if not $c.http }}{{ $_ := unset $c "http" }}{{ end -}}
{{- if not $c.log }}{{ $_ := unset $c "log" }}{{ end -}}
{{- $api := default (dict) $c.api -}}
{{- $dir := include "pgdog-control.tokensDir" . -}}
{{- $deployments := list -}}
{{- $web := default (dict) $api.web -}}
{{- range (include "pgdog-control.tokenSources" . | fromYamlArray) -}}
{{- $file := printf "%s/%s" $dir .path -}}
{{- if .deployment -}}
{{- $deployments = append $deployments (dict "name" .deployment "token_file" $file) -}}
{{- else if .webKey -}}
{{- $_ := set $web .webKey $file -}}
{{- else -}}
{{- $_ := set $api .apiKey $file -}}
{{- end -}}
{{- end -}}
{{- if $deployments }}{{ $_ := set $api "deployments" $deployments }}{{ end -}}
{{- if $web }}{{ $_ := set $api "web" $web }}{{ end -}}
{{- if $api }}{{ $_ := set $c "api" $api }}{{ else }}{{ $_ := unset $c "api" }}{{ end -}}
{{- toYaml $c -}}
{{- end -}}

{{/* Seconds Kubernetes waits after SIGTERM: the release, the HTTP drain and a
     margin, unless set. */}}
{{- define "pgdog-control.terminationGracePeriodSeconds" -}}
{{- if not (kindIs "invalid" .Values.control.terminationGracePeriodSeconds) -}}
{{- .Values.control.terminationGracePeriodSeconds | int -}}
{{- else -}}
{{- $release := .Values.control.config.leader.release_timeout_secs | float64 | ceil | int -}}
{{- $drainMs := 5000 -}}
{{- if and .Values.control.config.http (hasKey .Values.control.config.http "drain_timeout_ms") -}}
{{- $drainMs = .Values.control.config.http.drain_timeout_ms | int -}}
{{- end -}}
{{- $drain := divf $drainMs 1000 | ceil | int -}}
{{- add $release $drain 5 -}}
{{- end -}}
{{- end -}}

{{- define "pgdog-control.image" -}}
{{- $img := .Values.control.image -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (toString ($img.tag | default .Chart.AppVersion)) -}}
{{- end -}}
{{- end -}}

{{/* Where the persistent volume is mounted and the config's state_dir. */}}
{{- define "pgdog-control.stateDir" -}}
/var/lib/pgdog-control/state
{{- end -}}

{{/* The PersistentVolumeClaim behind state_dir: the user's, or the chart's. */}}
{{- define "pgdog-control.stateClaimName" -}}
{{- .Values.control.persistence.existingClaim | default (printf "%s-state" (include "pgdog-control.fullname" .)) -}}
{{- end -}}
