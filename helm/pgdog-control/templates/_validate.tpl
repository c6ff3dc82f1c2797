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
{{- if le ($c.terminationGracePeriodSeconds | float64) ($l.release_timeout_secs | float64) -}}
{{- fail (printf "control.terminationGracePeriodSeconds (%v) must be greater than control.config.leader.release_timeout_secs (%v), or Kubernetes kills the leader before it has released the lease. Leave it unset for release_timeout + drain + 5 s." $c.terminationGracePeriodSeconds $l.release_timeout_secs) -}}
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
{{- end -}}
