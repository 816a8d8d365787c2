package deploy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// workload is a pod template found in a rendered object.
type workload struct {
	obj    object
	spec   map[string]any
	labels map[string]any
}

func (w workload) String() string { return w.obj.String() }

// containers returns every container of the pod, init containers included.
func (w workload) containers() []map[string]any {
	var cs []map[string]any
	for _, key := range []string{"initContainers", "containers", "ephemeralContainers"} {
		for _, c := range list(w.spec, key) {
			if m, ok := c.(map[string]any); ok {
				cs = append(cs, m)
			}
		}
	}
	return cs
}

func (w workload) volume(name string) map[string]any {
	for _, v := range list(w.spec, "volumes") {
		if str(v, "name") == name {
			return v.(map[string]any)
		}
	}
	return nil
}

func workloads(objs []object) []workload {
	var ws []workload
	for _, o := range objs {
		var tmpl any
		switch o.kind() {
		case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job":
			tmpl = dig(o, "spec", "template")
		case "CronJob":
			tmpl = dig(o, "spec", "jobTemplate", "spec", "template")
		case "Pod":
			tmpl = map[string]any(o)
		default:
			continue
		}
		ws = append(ws, workload{obj: o, spec: mapping(tmpl, "spec"), labels: mapping(tmpl, "metadata", "labels")})
	}
	return ws
}

// app returns the artifactapi Deployment and its container.
func app(t *testing.T, objs []object) (workload, map[string]any) {
	t.Helper()
	for _, w := range workloads(objs) {
		if w.obj.kind() != "Deployment" {
			continue
		}
		for _, c := range w.containers() {
			if str(c, "name") == "artifactapi" {
				return w, c
			}
		}
	}
	t.Fatal("no Deployment with an artifactapi container")
	return workload{}, nil
}

func env(c map[string]any, name string) map[string]any {
	for _, e := range list(c, "env") {
		if str(e, "name") == name {
			return e.(map[string]any)
		}
	}
	return nil
}

// selects reports whether a label selector (matchLabels, matchExpressions
// with In) selects labels. An empty selector selects everything.
func selects(sel map[string]any, labels map[string]any) bool {
	for k, v := range mapping(sel, "matchLabels") {
		if labels[k] != v {
			return false
		}
	}
	for _, e := range list(sel, "matchExpressions") {
		if str(e, "operator") != "In" || !slices.Contains(list(e, "values"), labels[str(e, "key")]) {
			return false
		}
	}
	return true
}

func checkKinds(t *testing.T, r render, objs []object) {
	have := map[string]bool{}
	var secrets []string
	for _, o := range objs {
		have[o.kind()] = true
		if o.kind() == "Secret" {
			secrets = append(secrets, o.name())
		}
	}
	for _, k := range append([]string{"Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"}, r.kinds...) {
		if !have[k] {
			t.Errorf("no %s rendered", k)
		}
	}
	if !slices.Equal(secrets, r.secrets) {
		t.Errorf("rendered Secrets %v, want %v: credentials come from Secrets the operator creates", secrets, r.secrets)
	}
	for _, o := range objs {
		if o.kind() == "Namespace" && str(o, "metadata", "labels", "pod-security.kubernetes.io/enforce") != "restricted" {
			t.Errorf("%s does not enforce the restricted Pod Security profile", o)
		}
	}
	for _, w := range workloads(objs) {
		if w.obj.kind() != "Job" {
			continue
		}
		hook := str(w.obj, "metadata", "annotations", "helm.sh/hook")
		if !strings.Contains(hook, "pre-install") || !strings.Contains(hook, "pre-upgrade") {
			t.Errorf("%s: helm.sh/hook %q, want pre-install,pre-upgrade", w, hook)
		}
		if c := w.containers()[0]; fmt.Sprint(list(c, "args")) != "[migrate]" {
			t.Errorf("%s runs %v, want [migrate]", w, list(c, "args"))
		}
	}
}

// checkRestricted: every pod meets the "restricted" Pod Security Standard
// (https://kubernetes.io/docs/concepts/security/pod-security-standards/),
// with a read-only root filesystem and writable volumes only where the app
// writes.
func checkRestricted(t *testing.T, r render, objs []object) {
	allowedVolumes := []string{"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
	ws := workloads(objs)
	if len(ws) == 0 {
		t.Fatal("no workloads rendered")
	}
	for _, w := range ws {
		for _, host := range []string{"hostNetwork", "hostPID", "hostIPC", "hostUsers"} {
			if boolean(w.spec, host) {
				t.Errorf("%s: %s", w, host)
			}
		}
		podSC := mapping(w.spec, "securityContext")
		if len(list(podSC, "sysctls")) > 0 {
			t.Errorf("%s: sysctls", w)
		}
		volumeType := map[string]string{}
		for _, v := range list(w.spec, "volumes") {
			for k := range v.(map[string]any) {
				if k == "name" {
					continue
				}
				volumeType[str(v, "name")] = k
				if !slices.Contains(allowedVolumes, k) {
					t.Errorf("%s: volume %s of type %s", w, str(v, "name"), k)
				}
			}
		}
		for _, c := range w.containers() {
			where := fmt.Sprintf("%s container %s", w, str(c, "name"))
			sc := mapping(c, "securityContext")
			if !(boolean(podSC, "runAsNonRoot") || boolean(sc, "runAsNonRoot")) || dig(sc, "runAsNonRoot") == false {
				t.Errorf("%s: runAsNonRoot is not true", where)
			}
			for _, ctx := range []map[string]any{podSC, sc} {
				if uid, ok := number(ctx, "runAsUser"); ok && uid == 0 {
					t.Errorf("%s: runAsUser 0", where)
				}
			}
			seccomp := str(sc, "seccompProfile", "type")
			if seccomp == "" {
				seccomp = str(podSC, "seccompProfile", "type")
			}
			if seccomp != "RuntimeDefault" && seccomp != "Localhost" {
				t.Errorf("%s: seccompProfile %q, want RuntimeDefault", where, seccomp)
			}
			if boolean(sc, "privileged") {
				t.Errorf("%s: privileged", where)
			}
			if dig(sc, "allowPrivilegeEscalation") != false {
				t.Errorf("%s: allowPrivilegeEscalation is not false", where)
			}
			if !slices.Contains(list(sc, "capabilities", "drop"), any("ALL")) {
				t.Errorf("%s: capabilities do not drop ALL", where)
			}
			for _, add := range list(sc, "capabilities", "add") {
				if add != "NET_BIND_SERVICE" {
					t.Errorf("%s: adds capability %v", where, add)
				}
			}
			if !boolean(sc, "readOnlyRootFilesystem") {
				t.Errorf("%s: root filesystem is writable", where)
			}
			for _, p := range list(c, "ports") {
				if n, _ := number(p, "hostPort"); n != 0 {
					t.Errorf("%s: hostPort %d", where, n)
				}
			}
			for _, m := range list(c, "volumeMounts") {
				typ := volumeType[str(m, "name")]
				writable := !boolean(m, "readOnly")
				switch {
				case typ == "":
					t.Errorf("%s: mounts undeclared volume %s", where, str(m, "name"))
				case writable && !slices.Contains([]string{"emptyDir", "ephemeral", "persistentVolumeClaim"}, typ):
					t.Errorf("%s: %s volume %s mounted writable", where, typ, str(m, "name"))
				}
				if writable && str(c, "name") == "artifactapi" && !slices.Contains([]string{"/data", "/cache", "/tmp"}, str(m, "mountPath")) {
					t.Errorf("%s: writable %s; the app writes only /data, the hot tier at /cache and /tmp", where, str(m, "mountPath"))
				}
			}
		}
	}
}

// checkImages: every image is pinned by an explicit tag or a digest, never latest.
func checkImages(t *testing.T, r render, objs []object) {
	for _, w := range workloads(objs) {
		for _, c := range w.containers() {
			image := str(c, "image")
			ref, digest, _ := strings.Cut(image, "@")
			last := ref[strings.LastIndex(ref, "/")+1:]
			_, tag, hasTag := strings.Cut(last, ":")
			switch {
			case image == "":
				t.Errorf("%s container %s: no image", w, str(c, "name"))
			case tag == "latest":
				t.Errorf("%s: image %s is latest", w, image)
			case !hasTag && digest == "":
				t.Errorf("%s: image %s has neither a tag nor a digest", w, image)
			case digest != "" && !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(digest):
				t.Errorf("%s: image %s has a malformed digest", w, image)
			}
		}
	}
}

// credentialEnv names variables that carry a credential, in the app and the
// bundled backends.
var credentialEnv = regexp.MustCompile(`^(ADMIN_TOKEN|METRICS_TOKEN|DBPASS|DATABASE_URL|REDIS_URL|MINIO_ACCESS_KEY|MINIO_ROOT_USER|.*PASSWORD|.*_SECRET.*|.*_TOKEN)$`)

// checkCredentials: every credential reaches a container from a Secret
// (secretKeyRef or envFrom), and only Secrets the render declares are created.
func checkCredentials(t *testing.T, r render, objs []object) {
	for _, w := range workloads(objs) {
		for _, c := range w.containers() {
			for _, e := range list(c, "env") {
				name := str(e, "name")
				if !credentialEnv.MatchString(name) {
					continue
				}
				if dig(e, "value") != nil || str(e, "valueFrom", "secretKeyRef", "name") == "" {
					t.Errorf("%s container %s: %s is not read from a Secret", w, str(c, "name"), name)
				}
			}
			for _, from := range list(c, "envFrom") {
				if dig(from, "configMapRef") != nil {
					t.Errorf("%s container %s: environment from a ConfigMap (credentials belong in a Secret)", w, str(c, "name"))
				}
			}
		}
	}
	_, c := app(t, objs)
	fromSecret := str(env(c, "ADMIN_TOKEN"), "valueFrom", "secretKeyRef", "name") != ""
	for _, from := range list(c, "envFrom") {
		fromSecret = fromSecret || str(from, "secretRef", "name") != ""
	}
	if !fromSecret {
		t.Error("the app reads ADMIN_TOKEN from no Secret")
	}
}

// checkAppPod: probes on the app's real endpoints, a startup probe long
// enough for migrations, and a drain that fits the grace period.
func checkAppPod(t *testing.T, r render, objs []object) {
	w, c := app(t, objs)
	for probe, path := range map[string]string{"livenessProbe": "/health", "readinessProbe": "/ready", "startupProbe": "/health"} {
		if got := str(c, probe, "httpGet", "path"); got != path {
			t.Errorf("%s: httpGet %q, want %q", probe, got, path)
		}
	}
	period, _ := number(c, "startupProbe", "periodSeconds")
	failures, _ := number(c, "startupProbe", "failureThreshold")
	if period*failures < 60 {
		t.Errorf("startupProbe allows %ds before liveness starts; migrations need minutes", period*failures)
	}
	preStop, ok := number(c, "lifecycle", "preStop", "sleep", "seconds")
	if !ok || preStop <= 0 {
		t.Errorf("no preStop sleep: %v", dig(c, "lifecycle"))
	}
	shutdown := 60 * time.Second
	if v := str(env(c, "SHUTDOWN_TIMEOUT"), "value"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SHUTDOWN_TIMEOUT %q: %v", v, err)
		}
		shutdown = d
	}
	grace, _ := number(w.spec, "terminationGracePeriodSeconds")
	if need := preStop + int(shutdown.Seconds()) + 5; grace < need {
		t.Errorf("terminationGracePeriodSeconds %d < preStop %ds + SHUTDOWN_TIMEOUT %s + 5s: running downloads would be killed", grace, preStop, shutdown)
	}
	// The app builds ADVERTISE_URL from POD_IP (bracketing an IPv6
	// address); a manifest spelling it "http://$(POD_IP):8000" would be
	// refused at start-up on IPv6 clusters.
	if str(env(c, "POD_IP"), "valueFrom", "fieldRef", "fieldPath") != "status.podIP" || env(c, "ADVERTISE_URL") != nil {
		t.Errorf("the advertised URL is not left to the app to build from the pod IP: POD_IP %v, ADVERTISE_URL %v", env(c, "POD_IP"), env(c, "ADVERTISE_URL"))
	}
}

// checkStorage: the spool (and hot tier) volumes are bounded, and the pod
// asks for the node disk its emptyDirs may fill.
func checkStorage(t *testing.T, r render, objs []object) {
	w, c := app(t, objs)
	data := w.volume(mountVolume(c, "/data"))
	switch {
	case r.embedded:
		if dig(data, "persistentVolumeClaim") == nil {
			t.Errorf("embedded mode keeps its database in /data: want a PersistentVolumeClaim, got %v", data)
		}
	case dig(data, "emptyDir") != nil:
		if str(data, "emptyDir", "sizeLimit") == "" {
			t.Errorf("spool emptyDir without sizeLimit")
		}
	case dig(data, "ephemeral") != nil:
		if str(data, "ephemeral", "volumeClaimTemplate", "spec", "resources", "requests", "storage") == "" {
			t.Errorf("spool ephemeral volume without a storage request")
		}
	default:
		t.Errorf("spool /data: want an emptyDir with sizeLimit or a generic ephemeral volume, got %v", data)
	}
	if dir := str(env(c, "HOT_CACHE_DIR"), "value"); dir != "" {
		hot := w.volume(mountVolume(c, dir))
		size := str(hot, "emptyDir", "sizeLimit")
		if size == "" {
			size = str(hot, "ephemeral", "volumeClaimTemplate", "spec", "resources", "requests", "storage")
		}
		vol, err1 := quantity(size)
		bound, err2 := quantity(strings.TrimSuffix(str(env(c, "HOT_CACHE_SIZE"), "value"), "B"))
		if err1 != nil || err2 != nil || bound > vol {
			t.Errorf("hot tier HOT_CACHE_SIZE %q does not fit its volume %q", str(env(c, "HOT_CACHE_SIZE"), "value"), size)
		}
	}
	for _, w := range workloads(objs) {
		var emptyDirs, requests, limits float64
		for _, v := range list(w.spec, "volumes") {
			if e := dig(v, "emptyDir"); e != nil {
				q, err := quantity(str(e, "sizeLimit"))
				if err != nil || q == 0 {
					t.Errorf("%s: emptyDir %s without sizeLimit", w, str(v, "name"))
				}
				if str(e, "medium") != "Memory" {
					emptyDirs += q
				}
			}
		}
		for _, c := range w.containers() {
			req, err1 := quantity(str(c, "resources", "requests", "ephemeral-storage"))
			lim, err2 := quantity(str(c, "resources", "limits", "ephemeral-storage"))
			if err1 != nil || err2 != nil {
				t.Errorf("%s container %s: no ephemeral-storage request and limit", w, str(c, "name"))
			}
			requests, limits = requests+req, limits+lim
		}
		if requests < emptyDirs || limits < emptyDirs {
			t.Errorf("%s: ephemeral-storage requests %.0f / limits %.0f below its emptyDirs' %.0f bytes", w, requests, limits, emptyDirs)
		}
	}
}

func mountVolume(c map[string]any, path string) string {
	for _, m := range list(c, "volumeMounts") {
		if str(m, "mountPath") == path {
			return str(m, "name")
		}
	}
	return ""
}

// checkPDB: a PodDisruptionBudget covers the app and still lets a node drain.
func checkPDB(t *testing.T, r render, objs []object) {
	w, _ := app(t, objs)
	replicas, ok := number(w.obj, "spec", "replicas")
	for _, o := range objs {
		if o.kind() == "HorizontalPodAutoscaler" {
			replicas, ok = number(o, "spec", "minReplicas")
		}
	}
	if !ok {
		replicas = 1
	}
	for _, o := range objs {
		if o.kind() != "PodDisruptionBudget" || !selects(mapping(o, "spec", "selector"), w.labels) {
			continue
		}
		if min, ok := number(o, "spec", "minAvailable"); ok && min >= replicas {
			t.Errorf("%s: minAvailable %d with %d replicas blocks every drain", o, min, replicas)
		}
		if _, ok := number(o, "spec", "maxUnavailable"); !ok && dig(o, "spec", "minAvailable") == nil {
			t.Errorf("%s: neither maxUnavailable nor minAvailable", o)
		}
		return
	}
	t.Error("no PodDisruptionBudget selects the app's pods")
}

// checkNetworkPolicies: every pod is under a default-deny policy (ingress
// and egress); the app's lets clients in on 8000, replicas reach each other
// on 8000, and DNS, the backends and the upstreams out.
func checkNetworkPolicies(t *testing.T, r render, objs []object) {
	var policies []object
	for _, o := range objs {
		if o.kind() == "NetworkPolicy" {
			policies = append(policies, o)
		}
	}
	covering := func(labels map[string]any) []object {
		var ps []object
		for _, p := range policies {
			types := list(p, "spec", "policyTypes")
			if selects(mapping(p, "spec", "podSelector"), labels) && slices.Contains(types, any("Ingress")) && slices.Contains(types, any("Egress")) {
				ps = append(ps, p)
			}
		}
		return ps
	}
	for _, w := range workloads(objs) {
		if len(covering(w.labels)) == 0 {
			t.Errorf("%s: no NetworkPolicy denies its traffic by default (policyTypes Ingress and Egress)", w)
		}
	}
	w, _ := app(t, objs)
	// allows reports whether a rule opens port (and protocol) to peers that
	// include the app's own pods (an empty peer list is everyone).
	allows := func(direction, peers string, port int, protocol string, toApp bool) bool {
		for _, p := range covering(w.labels) {
			for _, rule := range list(p, "spec", direction) {
				portOK := false
				for _, rp := range list(rule, "ports") {
					n, _ := number(rp, "port")
					proto := str(rp, "protocol")
					if n == port && (proto == protocol || (proto == "" && protocol == "TCP")) {
						portOK = true
					}
				}
				if !portOK {
					continue
				}
				if !toApp || len(list(rule, peers)) == 0 {
					return true
				}
				for _, peer := range list(rule, peers) {
					if ps := mapping(peer, "podSelector"); ps != nil && dig(peer, "namespaceSelector") == nil && selects(ps, w.labels) {
						return true
					}
				}
			}
		}
		return false
	}
	if !allows("ingress", "from", 8000, "TCP", false) {
		t.Error("no ingress to port 8000")
	}
	if !allows("ingress", "from", 8000, "TCP", true) {
		t.Error("replicas cannot reach each other on 8000 (ingress)")
	}
	if !allows("egress", "to", 8000, "TCP", true) {
		t.Error("replicas cannot reach each other on 8000 (egress)")
	}
	for _, proto := range []string{"UDP", "TCP"} {
		if !allows("egress", "to", 53, proto, false) {
			t.Errorf("no DNS egress over %s", proto)
		}
	}
	for _, port := range append([]int{443}, r.backendPorts...) {
		if !allows("egress", "to", port, "TCP", false) {
			t.Errorf("no egress to port %d", port)
		}
	}
}

// checkIngress: TLS (container runtimes pull mirrors over HTTPS) and the
// ingress-nginx settings that stream GiB-sized artifacts.
func checkIngress(t *testing.T, r render, objs []object) {
	var ingresses []object
	for _, o := range objs {
		if o.kind() == "Ingress" {
			ingresses = append(ingresses, o)
		}
	}
	if !r.ingress {
		if len(ingresses) > 0 {
			t.Errorf("unexpected %v", ingresses)
		}
		return
	}
	if len(ingresses) != 1 {
		t.Fatalf("want one Ingress, got %d", len(ingresses))
	}
	ing := ingresses[0]
	annotations := mapping(ing, "metadata", "annotations")
	for key, want := range map[string]string{
		"proxy-buffering": "off", "proxy-request-buffering": "off", "proxy-body-size": "0",
	} {
		if got := annotations["nginx.ingress.kubernetes.io/"+key]; got != want {
			t.Errorf("%s: %s %v, want %q", ing, key, got, want)
		}
	}
	for _, key := range []string{"proxy-read-timeout", "proxy-send-timeout"} {
		if n, _ := number(annotations, "nginx.ingress.kubernetes.io/"+key); n < 600 {
			t.Errorf("%s: %s %v, want at least 600 seconds", ing, key, annotations["nginx.ingress.kubernetes.io/"+key])
		}
	}
	if _, ok := annotations["nginx.ingress.kubernetes.io/rewrite-target"]; ok {
		t.Errorf("%s: rewrite-target would send every request to /", ing)
	}
	tls := list(ing, "spec", "tls")
	if r.ingressTLS {
		if len(tls) == 0 || str(tls[0], "secretName") == "" {
			t.Errorf("%s: no TLS", ing)
		}
		if annotations["cert-manager.io/cluster-issuer"] == nil && annotations["cert-manager.io/issuer"] == nil {
			t.Errorf("%s: TLS without a cert-manager issuer annotation", ing)
		}
	}
	services := map[string]bool{}
	for _, o := range objs {
		if o.kind() == "Service" {
			services[o.name()] = true
		}
	}
	for _, rule := range list(ing, "spec", "rules") {
		for _, p := range list(rule, "http", "paths") {
			if name := str(p, "backend", "service", "name"); !services[name] {
				t.Errorf("%s: backend service %q is not rendered", ing, name)
			}
		}
	}
}

// checkHPA: an autoscaler targets the app, which then sets no replica count
// of its own (each apply would reset it).
func checkHPA(t *testing.T, r render, objs []object) {
	w, _ := app(t, objs)
	for _, o := range objs {
		if o.kind() != "HorizontalPodAutoscaler" {
			continue
		}
		if str(o, "spec", "scaleTargetRef", "name") != w.obj.name() {
			t.Errorf("%s scales %q, not %s", o, str(o, "spec", "scaleTargetRef", "name"), w)
		}
		if dig(w.obj, "spec", "replicas") != nil {
			t.Errorf("%s sets replicas under an autoscaler", w)
		}
		if n, _ := number(o, "spec", "minReplicas"); n < 2 {
			t.Errorf("%s: minReplicas %d", o, n)
		}
	}
}
