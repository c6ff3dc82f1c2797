{{/* Checks that values.schema.json cannot express (they involve several keys).
     Included by every template, so each problem stops the render with one
     message that says what to change. The timing rule mirrors the daemon's
     (docs/configuration.md#the-timing-rule):
       lease_duration_secs > renew_deadline_secs > 1.2 x lease_interval_secs,
       lease_duration_secs - renew_deadline_secs >= max(1, lease_duration_secs / 10),
       stop_work_timeout_secs < lease_duration_secs - renew_deadline_secs */}}
{{- define "pgdog-control.validate" -}}
{{- $c := .Values.control -}}
{{- $l := $c.config.leader -}}
{{- if and (gt (int $c.replicas) 1) (not $l.enabled) -}}
{{- fail (printf "control.replicas is %d but leader election is off: every replica would act as the leader. Enable it with --set control.config.leader.enabled=true (or run a single replica, control.replicas=1)." (int $c.replicas)) -}}
{{- end -}}
{{- $duration := $l.lease_duration_secs | float64 -}}
{{- $interval := $l.lease_interval_secs | float64 -}}
{{- if le $duration $interval -}}
{{- fail (printf "control.config.leader.lease_duration_secs (%v) must be greater than control.config.leader.lease_interval_secs (%v): the lease must outlive several renewal attempts." $l.lease_duration_secs $l.lease_interval_secs) -}}
{{- end -}}
{{- $minMargin := maxf 1.0 (divf $duration 10.0) -}}
{{- $deadline := subf $duration (maxf $interval $minMargin) -}}
{{- $deadlineText := printf "%v (default: lease_duration_secs - max(lease_interval_secs, the safety margin))" $deadline -}}
{{- if not (kindIs "invalid" $l.renew_deadline_secs) -}}
{{- $deadline = $l.renew_deadline_secs | float64 -}}
{{- $deadlineText = printf "%v" $l.renew_deadline_secs -}}
{{- if ge $deadline $duration -}}
{{- fail (printf "control.config.leader.renew_deadline_secs (%v) must be less than control.config.leader.lease_duration_secs (%v)." $l.renew_deadline_secs $l.lease_duration_secs) -}}
{{- end -}}
{{- end -}}
{{- if le $deadline (mulf 1.2 $interval) -}}
{{- fail (printf "control.config.leader.renew_deadline_secs %s must be greater than 1.2 x control.config.leader.lease_interval_secs (1.2 x %v = %v): set renew_deadline_secs, shorten lease_interval_secs or lengthen lease_duration_secs." $deadlineText $l.lease_interval_secs (mulf 1.2 $interval)) -}}
{{- end -}}
{{- $margin := subf $duration $deadline -}}
{{- if lt $margin $minMargin -}}
{{- fail (printf "control.config.leader.renew_deadline_secs %s leaves %v s below control.config.leader.lease_duration_secs (%v); the safety margin must be at least %v s (the larger of 1 s and 10%% of the lease duration): set renew_deadline_secs to at most %v or lengthen lease_duration_secs." $deadlineText (round $margin 3) $l.lease_duration_secs $minMargin (subf $duration $minMargin)) -}}
{{- end -}}
{{- if not (kindIs "invalid" $l.stop_work_timeout_secs) -}}
{{- if ge ($l.stop_work_timeout_secs | float64) $margin -}}
{{- fail (printf "control.config.leader.stop_work_timeout_secs (%v) must be less than lease_duration_secs - renew_deadline_secs (%v s): leader work must have stopped before another replica can take over." $l.stop_work_timeout_secs (round $margin 3)) -}}
{{- end -}}
{{- end -}}
{{- if eq $c.routing "leader-label" -}}
{{- if not $l.enabled -}}
{{- fail "control.routing: leader-label needs leader election: the leader labels its own pod and the Service selects that label. Set control.config.leader.enabled=true, or use control.routing=readiness." -}}
{{- end -}}
{{- end -}}
{{- if and $l.options (hasKey $l.options "pod_label") -}}
{{- fail "control.config.leader.options.pod_label is set by the chart: use control.routing=leader-label instead (it also selects the label in the Service and grants the pod permissions)." -}}
{{- end -}}
{{- if not (kindIs "invalid" $c.terminationGracePeriodSeconds) -}}
{{- $stopWork := include "pgdog-control.stopWorkTimeoutSecs" . | float64 -}}
{{- $needed := addf ($l.release_timeout_secs | float64) $stopWork -}}
{{- if le ($c.terminationGracePeriodSeconds | float64) $needed -}}
{{- fail (printf "control.terminationGracePeriodSeconds (%v) must be greater than control.config.leader.release_timeout_secs + stop_work_timeout_secs (%v + %v = %v), or Kubernetes kills the leader before it has stopped its work and released the lease. Leave it unset for release_timeout + 2 x stop_work_timeout + drain + 6 s." $c.terminationGracePeriodSeconds $l.release_timeout_secs $stopWork $needed) -}}
{{- end -}}
{{- end -}}
{{- if and $c.plugins.initContainer.image $c.plugins.volume -}}
{{- fail "control.plugins: set either initContainer.image or volume, not both (both would be mounted at control.plugins.mountPath)." -}}
{{- end -}}
{{- if and $l.enabled (not (include "pgdog-control.builtinBackend" .)) (not (contains "/" $l.backend)) (not (include "pgdog-control.pluginsMounted" .)) (not $c.config.plugin_dir) -}}
{{- fail (printf "control.config.leader.backend %q is not a built-in plugin (kubernetes, noop): provide it with control.plugins.initContainer.image or control.plugins.volume, or give the path to its .so." $l.backend) -}}
{{- end -}}
{{- $port := include "pgdog-control.containerPort" . | int -}}
{{- if or (lt $port 1) (gt $port 65535) -}}
{{- fail (printf "control.config.listen %q: the port must be between 1 and 65535 (the container port and the probes use it)." $c.config.listen) -}}
{{- end -}}
{{- include "pgdog-control.validateTokens" . -}}
{{- include "pgdog-control.validatePersistence" . -}}
{{- end -}}

{{/* Persistence: state_dir is for one process (the daemon locks it and
     refuses it with leader election), so the chart's volume is only for a
     single replica without election, and the old pod must be gone before the
     new one starts (Recreate). state_dir itself is written by the chart only,
     so it always names the mounted volume. */}}
{{- define "pgdog-control.validatePersistence" -}}
{{- $c := .Values.control -}}
{{- $p := $c.persistence -}}
{{- if hasKey $c.config "state_dir" -}}
{{- fail (printf "control.config.state_dir is written by the chart: set control.persistence.enabled=true and it mounts a PersistentVolumeClaim at %s and names it in the config (docs/helm.md#persistence-single-replica)." (include "pgdog-control.stateDir" .)) -}}
{{- end -}}
{{- if $p.enabled -}}
{{- if gt (int $c.replicas) 1 -}}
{{- fail (printf "control.persistence.enabled keeps the control state of a single replica in one volume, but control.replicas is %d: two processes must never share it. Run one replica, or several with leader election and without persistence (the coordination plugin's state store keeps the state)." (int $c.replicas)) -}}
{{- end -}}
{{- if $c.config.leader.enabled -}}
{{- fail "control.persistence.enabled is for a single replica without leader election: with control.config.leader.enabled=true the coordination plugin's state store keeps the state (the daemon refuses state_dir then). Turn off one of the two." -}}
{{- end -}}
{{- if and $c.updateStrategy (ne (toString $c.updateStrategy.type) "Recreate") -}}
{{- fail (printf "control.updateStrategy.type %q with control.persistence.enabled: a rolling update would start the new pod while the old one still holds the volume (and state_dir). Leave control.updateStrategy empty (the chart uses Recreate) or set its type to Recreate." (toString $c.updateStrategy.type)) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Tokens: the chart never writes a token into the ConfigMap (ConfigMaps are
     not secret), and every token file it names has a Secret key mounted
     behind it. Rule: token files are written by the chart only, from
     control.api; control.config.api may hold neither tokens nor token_file
     paths nor deployments (a hand-written path could point at nothing). */}}
{{- define "pgdog-control.validateTokens" -}}
{{- $c := .Values.control -}}
{{- if hasKey $c "tokens" -}}
{{- fail "control.tokens was removed: name each token source's Secret instead and the chart mounts it and writes the token_file paths: control.api.deployments: [{name, existingSecret, key}], control.api.adminTokens: {existingSecret, key}, control.api.readTokens: {existingSecret, key} (docs/helm.md#tokens)." -}}
{{- end -}}
{{- $api := default (dict) $c.config.api -}}
{{- /* Inline tokens first (the worst), then hand-written paths, then the rest. */ -}}
{{- range $pass := list "tokens" "token_file" "" -}}
{{- range $i, $d := $api.deployments -}}
{{- $name := "<name>" -}}
{{- if and (kindIs "map" $d) $d.name }}{{ $name = $d.name }}{{ end -}}
{{- $to := printf "list the deployment under control.api.deployments with the Secret that holds its tokens (one per line): {name: %s, existingSecret: <Secret>, key: <key, default tokens>}" $name -}}
{{- $has := and (kindIs "map" $d) (hasKey $d $pass) -}}
{{- if and (eq $pass "tokens") $has -}}
{{- fail (printf "control.config.api.deployments[%d].tokens: the chart never writes a token into the ConfigMap (ConfigMaps are not secret). Put the tokens in a Secret and %s." $i $to) -}}
{{- else if and (eq $pass "token_file") $has -}}
{{- fail (printf "control.config.api.deployments[%d].token_file: token files are written by the chart, which mounts the Secret behind each one; %s." $i $to) -}}
{{- else if eq $pass "" -}}
{{- fail (printf "control.config.api.deployments[%d]: deployments are written by the chart: %s." $i $to) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $web := default (dict) $api.web -}}
{{- range $role := list "admin" "read" -}}
{{- $set := printf "put the tokens in a Secret (one per line) and set control.api.%sTokens.existingSecret (and .key, default tokens)" $role -}}
{{- if hasKey $web (printf "%s_tokens" $role) -}}
{{- fail (printf "control.config.api.web.%s_tokens: the chart never writes a token into the ConfigMap (ConfigMaps are not secret): %s." $role $set) -}}
{{- end -}}
{{- if hasKey $web (printf "%s_token_file" $role) -}}
{{- fail (printf "control.config.api.web.%s_token_file is written by the chart, which mounts the Secret behind it: %s." $role $set) -}}
{{- end -}}
{{- end -}}
{{- $forward := printf "put a random string of at least 32 characters in a Secret (e.g. kubectl create secret generic pgdog-control-forward --from-literal=secret=\"$(head -c 32 /dev/urandom | base64)\") and set control.api.forwardSecret.existingSecret (and .key, default secret)" -}}
{{- if hasKey $api "forward_secret_file" -}}
{{- fail (printf "control.config.api.forward_secret_file is written by the chart, which mounts the Secret behind it: %s." $forward) -}}
{{- end -}}
{{- if and $api.forward_to_leader (not (($c.api | default (dict)).forwardSecret | default (dict)).existingSecret) -}}
{{- fail (printf "control.config.api.forward_to_leader needs the replicas' shared secret, so a follower forwards requests and their tokens only to a leader that proves it holds it: %s." $forward) -}}
{{- end -}}
{{- $seenNames := dict -}}
{{- $seenKeys := dict -}}
{{- range (include "pgdog-control.tokenSources" . | fromYamlArray) -}}
{{- if not .secret -}}
{{- fail (printf "%s names no Secret: set its existingSecret to the Secret that holds its tokens (one per line) and key to the key in it (default tokens)." .what) -}}
{{- end -}}
{{- if .deployment -}}
{{- if hasKey $seenNames .deployment -}}
{{- fail (printf "%s: the deployment %q is listed twice in control.api.deployments." .what .deployment) -}}
{{- end -}}
{{- $_ := set $seenNames .deployment true -}}
{{- end -}}
{{- $ref := printf "%s/%s" .secret .key -}}
{{- if hasKey $seenKeys $ref -}}
{{- fail (printf "%s and %s both read Secret %s key %s: a token identifies exactly one deployment or web role, so give each its own key." (get $seenKeys $ref) .what .secret .key) -}}
{{- end -}}
{{- $_ := set $seenKeys $ref .what -}}
{{- end -}}
{{- end -}}
