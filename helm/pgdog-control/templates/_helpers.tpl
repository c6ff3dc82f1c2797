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

{{/* The routing in effect: control.routing, with "auto" resolved to
     leader-label when several replicas elect a leader through the built-in
     kubernetes plugin (the one known to implement the pod_label option),
     else readiness. A single replica gains nothing from leader-label (its
     only pod is the leader), and a third-party plugin that ignored pod_label
     would leave the Service without endpoints: both stay on readiness unless
     leader-label is asked for. */}}
{{- define "pgdog-control.routing" -}}
{{- $c := .Values.control -}}
{{- if ne $c.routing "auto" -}}
{{- $c.routing -}}
{{- else if and (gt (int $c.replicas) 1) $c.config.leader.enabled (eq $c.config.leader.backend "kubernetes") -}}
leader-label
{{- else -}}
readiness
{{- end -}}
{{- end -}}

{{- define "pgdog-control.leaderLabelRouting" -}}
{{- if eq (include "pgdog-control.routing" .) "leader-label" -}}true{{- end -}}
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
{{- if include "pgdog-control.leaderLabelRouting" . -}}
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

{{/* The stop-work timeout the daemon will use (docs/configuration.md): the
     value when set, else min(2, (lease_duration_secs - renew_deadline_secs) / 2)
     with the renew deadline's own default. A float. */}}
{{- define "pgdog-control.stopWorkTimeoutSecs" -}}
{{- $l := .Values.control.config.leader -}}
{{- if not (kindIs "invalid" $l.stop_work_timeout_secs) -}}
{{- $l.stop_work_timeout_secs | float64 -}}
{{- else -}}
{{- $duration := $l.lease_duration_secs | float64 -}}
{{- $deadline := subf $duration (maxf ($l.lease_interval_secs | float64) (maxf 1.0 (divf $duration 10.0))) -}}
{{- if not (kindIs "invalid" $l.renew_deadline_secs) -}}
{{- $deadline = $l.renew_deadline_secs | float64 -}}
{{- end -}}
{{- minf 2.0 (divf (subf $duration $deadline) 2.0) -}}
{{- end -}}
{{- end -}}

{{/* Seconds Kubernetes waits after SIGTERM, unless set: the daemon's whole
     shutdown path, each step at its bound (core/daemon/app.cpp): pending
     state written (stop-work timeout), leader work stopped (stop-work
     timeout), the plugin's release or handover (release timeout, plus the
     1 s the daemon grants a plugin's stop()), the HTTP drain, and a 5 s
     margin. Kubernetes' SIGKILL must never cut a release short: a lease
     that is not released is waited out by every other replica. */}}
{{- define "pgdog-control.terminationGracePeriodSeconds" -}}
{{- if not (kindIs "invalid" .Values.control.terminationGracePeriodSeconds) -}}
{{- .Values.control.terminationGracePeriodSeconds | int -}}
{{- else -}}
{{- $stopWork := include "pgdog-control.stopWorkTimeoutSecs" . | float64 -}}
{{- $release := addf (.Values.control.config.leader.release_timeout_secs | float64) (mulf 2.0 $stopWork) | ceil | int -}}
{{- $drainMs := 5000 -}}
{{- if and .Values.control.config.http (hasKey .Values.control.config.http "drain_timeout_ms") -}}
{{- $drainMs = .Values.control.config.http.drain_timeout_ms | int -}}
{{- end -}}
{{- $drain := divf $drainMs 1000 | ceil | int -}}
{{- add $release $drain 1 5 -}}
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
