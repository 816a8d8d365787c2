{{/* Names and labels. */}}
{{- define "artifactapi.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "artifactapi.fullname" -}}
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

{{- define "artifactapi.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "artifactapi.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: artifactapi
{{- end -}}

{{- define "artifactapi.selectorLabels" -}}
app.kubernetes.io/name: {{ include "artifactapi.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* The serving pods (the migration Job's pods carry component=migrate instead). */}}
{{- define "artifactapi.serverSelectorLabels" -}}
{{ include "artifactapi.selectorLabels" . }}
app.kubernetes.io/component: server
{{- end -}}

{{- define "artifactapi.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "artifactapi.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository:tag[@digest]; "latest" and an empty tag are refused. */}}
{{- define "artifactapi.image" -}}
{{- $tag := toString (default .Chart.AppVersion .Values.image.tag) -}}
{{- if or (eq $tag "latest") (eq $tag "") -}}
{{- fail "image.tag: pin an explicit version (or image.digest), never latest" -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- if not (regexMatch "^sha256:[0-9a-f]{64}$" .Values.image.digest) -}}
{{- fail "image.digest: want sha256:<64 hex digits>" -}}
{{- end -}}
{{- printf "%s:%s@%s" .Values.image.repository $tag .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Which backends are external: "true" or "". */}}
{{- define "artifactapi.postgresql" -}}
{{- if or .Values.postgresql.host .Values.postgresql.urlKey -}}true{{- end -}}
{{- end -}}
{{- define "artifactapi.redis" -}}
{{- if .Values.redis.existingSecret -}}true{{- end -}}
{{- end -}}
{{- define "artifactapi.s3" -}}
{{- if .Values.s3.endpoint -}}true{{- end -}}
{{- end -}}
{{/* Metadata or blobs in DATA_DIR: /data must persist, and only one pod may use it. */}}
{{- define "artifactapi.embedded" -}}
{{- if not (and (include "artifactapi.postgresql" .) (include "artifactapi.s3" .)) -}}true{{- end -}}
{{- end -}}
{{- define "artifactapi.hotCache" -}}
{{- if and .Values.hotCache.enabled (include "artifactapi.s3" .) -}}true{{- end -}}
{{- end -}}

{{/* A size in Mi, Gi or Ti as a number of MiB. */}}
{{- define "artifactapi.mebibytes" -}}
{{- $q := toString . -}}
{{- if not (regexMatch "^[0-9]+(Mi|Gi|Ti)$" $q) -}}
{{- fail (printf "size %q: give a whole number of Mi, Gi or Ti" $q) -}}
{{- end -}}
{{- if hasSuffix "Ti" $q -}}{{ mul (trimSuffix "Ti" $q | atoi) 1048576 }}
{{- else if hasSuffix "Gi" $q -}}{{ mul (trimSuffix "Gi" $q | atoi) 1024 }}
{{- else -}}{{ trimSuffix "Mi" $q | atoi }}
{{- end -}}
{{- end -}}

{{/* The hot tier's volume: its bound plus 10%. */}}
{{- define "artifactapi.hotCacheVolumeMi" -}}
{{- $mi := include "artifactapi.mebibytes" .Values.hotCache.size | atoi -}}
{{- add $mi (div (add $mi 9) 10) -}}
{{- end -}}

{{/* ephemeral-storage: the emptyDir volumes (spool, hot tier, /tmp) + 256Mi for logs. */}}
{{- define "artifactapi.ephemeralStorage" -}}
{{- $mi := add 256 (include "artifactapi.mebibytes" .Values.tmp.sizeLimit | atoi) -}}
{{- if and (not (include "artifactapi.embedded" .)) (eq .Values.spool.type "emptyDir") -}}
{{- $mi = add $mi (include "artifactapi.mebibytes" .Values.spool.size | atoi) -}}
{{- end -}}
{{- if and (include "artifactapi.hotCache" .) (eq .Values.hotCache.volume.type "emptyDir") -}}
{{- $mi = add $mi (include "artifactapi.hotCacheVolumeMi" . | atoi) -}}
{{- end -}}
{{- printf "%dMi" $mi -}}
{{- end -}}

{{/* The container resources, with ephemeral-storage filled in unless given. */}}
{{- define "artifactapi.resources" -}}
{{- $r := deepCopy .Values.resources -}}
{{- $eph := include "artifactapi.ephemeralStorage" . -}}
{{- $req := default dict $r.requests -}}
{{- $lim := default dict $r.limits -}}
{{- if not (hasKey $req "ephemeral-storage") -}}{{- $_ := set $req "ephemeral-storage" $eph -}}{{- end -}}
{{- if not (hasKey $lim "ephemeral-storage") -}}{{- $_ := set $lim "ephemeral-storage" $eph -}}{{- end -}}
{{- $_ := set $r "requests" $req -}}
{{- $_ := set $r "limits" $lim -}}
{{- toYaml $r -}}
{{- end -}}

{{/* Backend ports the pods connect to (for the NetworkPolicies). */}}
{{- define "artifactapi.backendPorts" -}}
{{- $ports := list -}}
{{- if include "artifactapi.postgresql" . -}}{{- $ports = append $ports (int .Values.postgresql.port) -}}{{- end -}}
{{- if include "artifactapi.redis" . -}}{{- $ports = append $ports (int .Values.redis.port) -}}{{- end -}}
{{- if include "artifactapi.s3" . -}}
{{- $parts := splitList ":" .Values.s3.endpoint -}}
{{- if gt (len $parts) 1 -}}
{{- $ports = append $ports (last $parts | atoi) -}}
{{- else -}}
{{- $ports = append $ports (ternary 443 80 .Values.s3.secure) -}}
{{- end -}}
{{- end -}}
{{- toJson (uniq $ports) -}}
{{- end -}}

{{/* Refuse values that would deploy something broken. */}}
{{- define "artifactapi.validate" -}}
{{- if not .Values.adminToken.existingSecret -}}
{{- fail "adminToken.existingSecret: name the Secret holding ADMIN_TOKEN (every replica must share it); see values.yaml" -}}
{{- end -}}
{{- if and (include "artifactapi.postgresql" .) (not .Values.postgresql.existingSecret) -}}
{{- fail "postgresql.existingSecret: name the Secret holding the PostgreSQL password (or the DATABASE_URL under postgresql.urlKey)" -}}
{{- end -}}
{{- if and (include "artifactapi.s3" .) (not .Values.s3.existingSecret) -}}
{{- fail "s3.existingSecret: name the Secret holding the S3 access and secret keys" -}}
{{- end -}}
{{- $replicas := ternary 2 (int .Values.replicaCount) .Values.autoscaling.enabled -}}
{{- if and (gt $replicas 1) (not (and (include "artifactapi.postgresql" .) (include "artifactapi.s3" .) (include "artifactapi.redis" .))) -}}
{{- fail "several replicas (replicaCount > 1 or autoscaling) need external PostgreSQL, Redis and S3: set postgresql.host, redis.existingSecret and s3.endpoint" -}}
{{- end -}}
{{- if and .Values.remotes.existingConfigMap .Values.remotes.existingSecret -}}
{{- fail "remotes: set existingConfigMap or existingSecret, not both" -}}
{{- end -}}
{{- if not (has .Values.spool.type (list "emptyDir" "ephemeral")) -}}
{{- fail "spool.type: emptyDir or ephemeral" -}}
{{- end -}}
{{- if not (has .Values.hotCache.volume.type (list "emptyDir" "ephemeral")) -}}
{{- fail "hotCache.volume.type: emptyDir or ephemeral" -}}
{{- end -}}
{{- $secretEnv := list "ADMIN_TOKEN" "DBPASS" "DATABASE_URL" "REDIS_URL" "MINIO_ACCESS_KEY" "MINIO_SECRET_KEY" "METRICS_TOKEN" -}}
{{- range $k, $v := .Values.env -}}
{{- if has $k $secretEnv -}}
{{- fail (printf "env.%s: a credential; set it through its existingSecret value instead" $k) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The container environment, shared by the Deployment and the migration Job.
Call with (dict "root" $ "job" true|false).
*/}}
{{- define "artifactapi.env" -}}
{{- $ := .root -}}
{{- $v := $.Values -}}
{{- if not .job }}
# Replicas stream each other's running downloads pod to pod at this address
# (an IPv6 pod IP is bracketed by the app).
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: REMOTES_CONFIG
  value: /etc/artifactapi/{{ $v.remotes.key }}
{{- end }}
- name: DATA_DIR
  value: /data
- name: SHUTDOWN_TIMEOUT
  value: {{ printf "%ds" (int $v.shutdown.timeoutSeconds) | quote }}
- name: LOG_FORMAT
  value: {{ $v.logFormat | quote }}
- name: ADMIN_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $v.adminToken.existingSecret }}
      key: {{ $v.adminToken.key }}
{{- if include "artifactapi.postgresql" $ }}
{{- if $v.postgresql.urlKey }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ $v.postgresql.existingSecret }}
      key: {{ $v.postgresql.urlKey }}
{{- else }}
- name: DBHOST
  value: {{ $v.postgresql.host | quote }}
- name: DBPORT
  value: {{ $v.postgresql.port | quote }}
- name: DBNAME
  value: {{ $v.postgresql.database | quote }}
- name: DBUSER
{{- if $v.postgresql.userKey }}
  valueFrom:
    secretKeyRef:
      name: {{ $v.postgresql.existingSecret }}
      key: {{ $v.postgresql.userKey }}
{{- else }}
  value: {{ $v.postgresql.user | quote }}
{{- end }}
- name: DBPASS
  valueFrom:
    secretKeyRef:
      name: {{ $v.postgresql.existingSecret }}
      key: {{ $v.postgresql.passwordKey }}
- name: DBSSLMODE
  value: {{ $v.postgresql.sslmode | quote }}
{{- end }}
{{- end }}
{{- if include "artifactapi.redis" $ }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $v.redis.existingSecret }}
      key: {{ $v.redis.urlKey }}
- name: REDIS_PREFIX
  value: {{ $v.redis.prefix | quote }}
{{- end }}
{{- if include "artifactapi.s3" $ }}
- name: MINIO_ENDPOINT
  value: {{ $v.s3.endpoint | quote }}
- name: MINIO_BUCKET
  value: {{ $v.s3.bucket | quote }}
- name: MINIO_SECURE
  value: {{ $v.s3.secure | quote }}
{{- if $v.s3.region }}
- name: MINIO_REGION
  value: {{ $v.s3.region | quote }}
{{- end }}
- name: MINIO_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $v.s3.existingSecret }}
      key: {{ $v.s3.accessKeyKey }}
- name: MINIO_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $v.s3.existingSecret }}
      key: {{ $v.s3.secretKeyKey }}
{{- end }}
{{- if and (include "artifactapi.hotCache" $) (not .job) }}
- name: HOT_CACHE_DIR
  value: /cache
- name: HOT_CACHE_SIZE
  value: {{ printf "%sB" $v.hotCache.size | quote }}
{{- else }}
- name: HOT_CACHE_SIZE
  value: "0"
{{- end }}
{{- if $v.metrics.token.existingSecret }}
- name: METRICS_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $v.metrics.token.existingSecret }}
      key: {{ $v.metrics.token.key }}
{{- end }}
{{- range $k, $val := $v.env }}
- name: {{ $k }}
  value: {{ $val | toString | quote }}
{{- end }}
{{- end -}}

{{/* The container security context (restricted Pod Security profile). */}}
{{- define "artifactapi.securityContext" -}}
{{- toYaml .Values.securityContext -}}
{{- end -}}
