package k8s

import (
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// The contract the manifests implement (see docs/design.md and deploy/k8s/README.md).
const (
	statefulSetName = "meshkv"
	headlessName    = "meshkv-peers"
	clientSvcName   = "meshkv"
	grpcPort        = 50051
	meshPort        = 4444
	metricsPort     = 9464
	replicas        = 3
	// A fresh node must be given at least this long to finish its initial sync before liveness may act.
	minSyncBudget = 5 * time.Minute
)

// image is the tag deploy/docker/build.sh gives the image: meshkv:<the project() version of CMakeLists.txt>.
var image = "meshkv:" + projectVersion()

// projectVersion is the version on the project() line of the root CMakeLists.txt ("" when unreadable, which fails
// every comparison with a clear message).
func projectVersion() string {
	b, err := os.ReadFile(filepath.Join("..", "..", "CMakeLists.txt"))
	if err != nil {
		return ""
	}
	m := regexp.MustCompile(`(?m)^project\(meshkv VERSION ([0-9.]+)`).FindSubmatch(b)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// manifestDir is deploy/k8s, or $MESHKV_K8S_DIR.
func manifestDir() string {
	if d := os.Getenv("MESHKV_K8S_DIR"); d != "" {
		return d
	}
	return filepath.Join("..", "..", "deploy", "k8s")
}

var (
	loadOnce sync.Once
	loaded   *Set
	loadErr  error
)

// load strictly decodes the manifests once; every test starts from it.
func load(t *testing.T) *Set {
	t.Helper()
	loadOnce.Do(func() { loaded, loadErr = Load(manifestDir()) })
	if loadErr != nil {
		t.Fatalf("loading %s: %v", manifestDir(), loadErr)
	}
	return loaded
}

// The single StatefulSet and its single container.
func theStatefulSet(t *testing.T, s *Set) *appsv1.StatefulSet {
	t.Helper()
	sts := s.StatefulSets()
	if len(sts) != 1 {
		t.Fatalf("want exactly 1 StatefulSet, got %d", len(sts))
	}
	return sts[0]
}

func theContainer(t *testing.T, sts *appsv1.StatefulSet) *corev1.Container {
	t.Helper()
	cs := sts.Spec.Template.Spec.Containers
	if len(cs) != 1 {
		t.Fatalf("want exactly 1 container in the pod template, got %d", len(cs))
	}
	return &cs[0]
}

func containerPort(c *corev1.Container, name string) *corev1.ContainerPort {
	for i := range c.Ports {
		if c.Ports[i].Name == name {
			return &c.Ports[i]
		}
	}
	return nil
}

func selects(t *testing.T, sel *metav1.LabelSelector, podLabels map[string]string) bool {
	t.Helper()
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		t.Errorf("empty selector would select every pod in the namespace")
		return false
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Errorf("invalid selector %v: %v", sel, err)
		return false
	}
	return s.Matches(labels.Set(podLabels))
}

func TestKustomizationListsExactlyTheManifestFiles(t *testing.T) {
	s := load(t)
	k := s.Kustomization
	seen := map[string]bool{}
	for _, r := range k.Resources {
		if seen[r] {
			t.Errorf("resource %q listed twice", r)
		}
		seen[r] = true
		if strings.Contains(r, "://") || filepath.IsAbs(r) || strings.Contains(r, "..") || strings.Contains(r, "/") {
			t.Errorf("resource %q: want a plain file name in %s", r, s.Dir)
			continue
		}
		fi, err := os.Stat(filepath.Join(s.Dir, r))
		if err != nil {
			t.Errorf("resource %q listed in %s does not exist: %v", r, KustomizationFile, err)
		} else if !fi.Mode().IsRegular() {
			t.Errorf("resource %q is not a regular file", r)
		}
	}
	files, err := ManifestFiles(s.Dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !seen[f] {
			t.Errorf("manifest %q is not listed in %s resources (it would never be applied)", f, KustomizationFile)
		}
	}
	if len(files) == 0 {
		t.Errorf("no manifest files found in %s", s.Dir)
	}
	// Files referenced by other kustomize fields must exist too.
	var refs []string
	for _, p := range k.Patches {
		if p.Path != "" {
			refs = append(refs, p.Path)
		}
	}
	for _, g := range k.ConfigMapGenerator {
		refs = append(refs, g.FileSources...)
		refs = append(refs, g.EnvSources...)
	}
	for _, g := range k.SecretGenerator {
		refs = append(refs, g.FileSources...)
		refs = append(refs, g.EnvSources...)
	}
	for _, r := range refs {
		if i := strings.IndexByte(r, '='); i >= 0 { // key=path form of fileSources
			r = r[i+1:]
		}
		if _, err := os.Stat(filepath.Join(s.Dir, r)); err != nil {
			t.Errorf("file %q referenced by %s does not exist: %v", r, KustomizationFile, err)
		}
	}
	// Namespace-agnostic base: no namespace pinned, and no commonLabels (they would rewrite selectors).
	if k.Namespace != "" {
		t.Errorf("kustomization pins namespace %q; the base must stay namespace-agnostic (use an overlay)", k.Namespace)
	}
	if len(k.CommonLabels) != 0 {
		t.Errorf("commonLabels also rewrite selectors (immutable on a StatefulSet); use labels: instead")
	}
}

func TestObjectsAreWellFormed(t *testing.T) {
	s := load(t)
	allowed := map[string]bool{
		"apps/v1/StatefulSet": true, "v1/Service": true, "v1/ConfigMap": true, "policy/v1/PodDisruptionBudget": true,
	}
	names := map[string]string{}
	for _, o := range s.Objects {
		gv := o.GVK.GroupVersion().String()
		if !allowed[gv+"/"+o.GVK.Kind] {
			t.Errorf("%s: unexpected kind %s/%s", o, gv, o.GVK.Kind)
		}
		m, ok := o.Obj.(metav1.Object)
		if !ok {
			t.Fatalf("%s: no object metadata", o)
		}
		if m.GetName() == "" {
			t.Errorf("%s: no metadata.name", o)
		}
		for _, msg := range validation.IsDNS1123Subdomain(m.GetName()) {
			t.Errorf("%s: name %q: %s", o, m.GetName(), msg)
		}
		if m.GetNamespace() != "" {
			t.Errorf("%s: hard-codes namespace %q; manifests must be namespace-agnostic", o, m.GetNamespace())
		}
		key := o.GVK.Kind + "/" + m.GetName()
		if prev, dup := names[key]; dup {
			t.Errorf("%s: %s already defined in %s", o, key, prev)
		}
		names[key] = o.String()
		if cm, ok := o.Obj.(*corev1.ConfigMap); ok {
			for k := range cm.Data {
				for _, msg := range validation.IsConfigMapKey(k) {
					t.Errorf("%s: key %q: %s", o, k, msg)
				}
				for _, msg := range validation.IsEnvVarName(k) {
					t.Errorf("%s: key %q is loaded with envFrom but is not an environment variable name: %s", o, k, msg)
				}
			}
		}
		for k, v := range m.GetLabels() {
			for _, msg := range validation.IsQualifiedName(k) {
				t.Errorf("%s: label key %q: %s", o, k, msg)
			}
			for _, msg := range validation.IsValidLabelValue(v) {
				t.Errorf("%s: label %s=%q: %s", o, k, v, msg)
			}
		}
	}
	for _, want := range []string{
		"StatefulSet/" + statefulSetName, "Service/" + headlessName, "Service/" + clientSvcName, "PodDisruptionBudget/" + statefulSetName,
	} {
		if _, ok := names[want]; !ok {
			t.Errorf("missing %s", want)
		}
	}
}

func TestStatefulSet(t *testing.T) {
	s := load(t)
	sts := theStatefulSet(t, s)
	spec := sts.Spec
	if sts.Name != statefulSetName {
		t.Errorf("StatefulSet name %q, want %q", sts.Name, statefulSetName)
	}
	if spec.Replicas == nil || *spec.Replicas != replicas {
		t.Errorf("replicas = %v, want %d", spec.Replicas, replicas)
	}
	if spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("podManagementPolicy = %q, want Parallel", spec.PodManagementPolicy)
	}
	if spec.ServiceName != headlessName {
		t.Errorf("serviceName = %q, want the headless Service %q", spec.ServiceName, headlessName)
	}
	if svc := s.Service(spec.ServiceName); svc == nil {
		t.Errorf("serviceName %q names no Service in the manifests", spec.ServiceName)
	} else if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("serviceName %q is not headless", spec.ServiceName)
	}
	if !selects(t, spec.Selector, spec.Template.Labels) {
		t.Errorf("StatefulSet selector %v does not match its pod template labels %v", spec.Selector, spec.Template.Labels)
	}
	// The data volume: TestDataSurvivesRestarts (data_test.go).
	pod := spec.Template.Spec
	if pod.EnableServiceLinks == nil || *pod.EnableServiceLinks {
		t.Errorf("enableServiceLinks must be false: the service env vars MESHKV_PORT, MESHKV_SERVICE_HOST, ... collide with meshkv's MESHKV_* configuration")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Errorf("automountServiceAccountToken should be false: meshkv does not use the Kubernetes API")
	}
	c := theContainer(t, sts)
	if c.Image != image {
		t.Errorf("image = %q, want %q", c.Image, image)
	}
	for _, p := range []struct {
		name string
		port int32
	}{{"grpc", grpcPort}, {"mesh", meshPort}, {"metrics", metricsPort}} {
		cp := containerPort(c, p.name)
		if cp == nil {
			t.Errorf("container has no port named %q", p.name)
			continue
		}
		if cp.ContainerPort != p.port || (cp.Protocol != "" && cp.Protocol != corev1.ProtocolTCP) {
			t.Errorf("port %q = %d/%s, want %d/TCP", p.name, cp.ContainerPort, cp.Protocol, p.port)
		}
	}
	portNames := map[string]bool{}
	for _, cp := range c.Ports {
		for _, msg := range validation.IsValidPortName(cp.Name) {
			t.Errorf("container port name %q: %s", cp.Name, msg)
		}
		if portNames[cp.Name] {
			t.Errorf("container port name %q used twice", cp.Name)
		}
		portNames[cp.Name] = true
	}
}

func TestHeadlessPeerService(t *testing.T) {
	s := load(t)
	sts := theStatefulSet(t, s)
	svc := s.Service(headlessName)
	if svc == nil {
		t.Fatalf("no Service %q", headlessName)
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		t.Errorf("%s: clusterIP = %q, want None (headless: per-pod DNS names)", headlessName, svc.Spec.ClusterIP)
	}
	if !svc.Spec.PublishNotReadyAddresses {
		t.Errorf("%s: publishNotReadyAddresses must be true: pods are not Ready until synced, so peers must find each other before", headlessName)
	}
	if !selects(t, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, sts.Spec.Template.Labels) {
		t.Errorf("%s: selector %v does not select the meshkv pods %v", headlessName, svc.Spec.Selector, sts.Spec.Template.Labels)
	}
	var mesh *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if svc.Spec.Ports[i].Name == "mesh" {
			mesh = &svc.Spec.Ports[i]
		}
	}
	if mesh == nil || mesh.Port != meshPort {
		t.Errorf("%s: want a port named mesh = %d, got %+v", headlessName, meshPort, svc.Spec.Ports)
	}
}

func TestClientService(t *testing.T) {
	s := load(t)
	sts := theStatefulSet(t, s)
	svc := s.Service(clientSvcName)
	if svc == nil {
		t.Fatalf("no Service %q", clientSvcName)
	}
	if svc.Spec.Type != "" && svc.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("%s: type %q, want ClusterIP", clientSvcName, svc.Spec.Type)
	}
	if svc.Spec.ClusterIP == corev1.ClusterIPNone {
		t.Errorf("%s: must not be headless", clientSvcName)
	}
	if svc.Spec.PublishNotReadyAddresses {
		t.Errorf("%s: clients must only reach Ready (synced) pods", clientSvcName)
	}
	if !selects(t, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, sts.Spec.Template.Labels) {
		t.Errorf("%s: selector %v does not select the meshkv pods %v", clientSvcName, svc.Spec.Selector, sts.Spec.Template.Labels)
	}
	want := map[string]int32{"grpc": grpcPort, "metrics": metricsPort}
	for _, p := range svc.Spec.Ports {
		if w, ok := want[p.Name]; ok && p.Port == w {
			delete(want, p.Name)
		}
	}
	if len(want) != 0 {
		t.Errorf("%s: missing ports %v (have %+v)", clientSvcName, want, svc.Spec.Ports)
	}
}

// Every Service port must reach a container port of the pods it selects (same protocol), and every Service must
// select the meshkv pods.
func TestServicePortsExistInPods(t *testing.T) {
	s := load(t)
	sts := theStatefulSet(t, s)
	c := theContainer(t, sts)
	for _, svc := range s.Services() {
		if !selects(t, &metav1.LabelSelector{MatchLabels: svc.Spec.Selector}, sts.Spec.Template.Labels) {
			t.Errorf("Service %s selects no meshkv pod", svc.Name)
			continue
		}
		names := map[string]bool{}
		for _, sp := range svc.Spec.Ports {
			if len(svc.Spec.Ports) > 1 && sp.Name == "" {
				t.Errorf("Service %s: multi-port Services need port names", svc.Name)
			}
			if names[sp.Name] {
				t.Errorf("Service %s: port name %q twice", svc.Name, sp.Name)
			}
			names[sp.Name] = true
			proto := sp.Protocol
			if proto == "" {
				proto = corev1.ProtocolTCP
			}
			var found *corev1.ContainerPort
			for i := range c.Ports {
				cp := &c.Ports[i]
				switch {
				case sp.TargetPort.Type == intstr.String && sp.TargetPort.StrVal != "":
					if cp.Name == sp.TargetPort.StrVal {
						found = cp
					}
				case sp.TargetPort.Type == intstr.Int && sp.TargetPort.IntVal != 0:
					if cp.ContainerPort == sp.TargetPort.IntVal {
						found = cp
					}
				default: // targetPort defaults to port
					if cp.ContainerPort == sp.Port {
						found = cp
					}
				}
			}
			if found == nil {
				t.Errorf("Service %s port %q: targetPort %s matches no container port", svc.Name, sp.Name, sp.TargetPort.String())
				continue
			}
			cproto := found.Protocol
			if cproto == "" {
				cproto = corev1.ProtocolTCP
			}
			if cproto != proto {
				t.Errorf("Service %s port %q: protocol %s, container port %s is %s", svc.Name, sp.Name, proto, found.Name, cproto)
			}
			if found.ContainerPort != sp.Port {
				t.Errorf("Service %s port %q: service port %d differs from container port %d (confusing for peers/clients)", svc.Name, sp.Name, sp.Port, found.ContainerPort)
			}
		}
	}
}

func probeBudget(p *corev1.Probe) time.Duration {
	period, threshold := p.PeriodSeconds, p.FailureThreshold
	if period == 0 {
		period = 10
	}
	if threshold == 0 {
		threshold = 3
	}
	return time.Duration(p.InitialDelaySeconds+period*threshold) * time.Second
}

// gRPC runs TLS (the mesh's certificates), which the kubelet's native gRPC probes do not speak: every probe runs
// `meshkv health` (Health/Check, empty service name; exit 0 only when SERVING) in the container, against the local
// gRPC port, verifying the server against the cluster CA and presenting the pod's own certificate.
func TestProbesCheckHealthAndLivenessSparesSyncingPods(t *testing.T) {
	s := load(t)
	sts := theStatefulSet(t, s)
	c := theContainer(t, sts)
	grpc := containerPort(c, "grpc")
	if grpc == nil || grpc.ContainerPort != grpcPort {
		t.Fatalf("no container port grpc %d (the CLI's default address is 127.0.0.1:%d)", grpcPort, grpcPort)
	}
	env, err := s.PodEnv(c, sts.Name+"-1", "ns")
	if err != nil {
		t.Fatal(err)
	}
	if addr, ok := env["MESHKV_GRPC_ADDR"]; ok && !strings.HasSuffix(addr, ":"+strconv.Itoa(grpcPort)) {
		t.Errorf("MESHKV_GRPC_ADDR %s: the probes dial 127.0.0.1:%d", addr, grpcPort)
	}
	for name, want := range map[string]string{
		"MESHKV_CACERT": path.Join(env["MESHKV_CERTS_DIR"], "ca.crt"),
		"MESHKV_CERT":   env["MESHKV_TLS_CERT"], "MESHKV_KEY": env["MESHKV_TLS_KEY"],
	} {
		if env[name] == "" || env[name] != want {
			t.Errorf("%s = %q, want %q: the probes' CLI must verify the server and may present the pod's certificate",
				name, env[name], want)
		}
	}
	probes := map[string]*corev1.Probe{"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe}
	for kind, p := range probes {
		if p == nil {
			t.Errorf("no %s probe", kind)
			continue
		}
		h := p.ProbeHandler
		if h.Exec == nil || h.HTTPGet != nil || h.TCPSocket != nil || h.GRPC != nil {
			t.Errorf("%s probe must be an exec of `meshkv health` only (gRPC is on TLS), got %+v", kind, h)
			continue
		}
		cmd := h.Exec.Command
		if len(cmd) < 2 || cmd[0] != "meshkv" || cmd[len(cmd)-1] != "health" {
			t.Errorf("%s probe runs %q, want [meshkv ... health] (no shell)", kind, cmd)
			continue
		}
		if slices.Contains(cmd, "--addr") {
			t.Errorf("%s probe: %q; the CLI's default address is the local gRPC port", kind, cmd)
		}
		cli := 5 * time.Second // the CLI's default deadline
		if i := slices.Index(cmd, "--timeout"); i >= 0 && i+1 < len(cmd) {
			if d, err := time.ParseDuration(cmd[i+1]); err == nil {
				cli = d
			}
		}
		timeout := time.Duration(max(p.TimeoutSeconds, 1)) * time.Second
		if cli >= timeout {
			t.Errorf("%s probe: the CLI's deadline %v is not within the probe's timeout %v", kind, cli, timeout)
		}
		if p.TimeoutSeconds != 0 && p.PeriodSeconds != 0 && p.TimeoutSeconds >= p.PeriodSeconds {
			t.Errorf("%s probe: timeout %ds >= period %ds", kind, p.TimeoutSeconds, p.PeriodSeconds)
		}
	}
	if t.Failed() {
		return
	}
	// The health check is NOT_SERVING while a node syncs. Liveness uses the same check, so it must not run during
	// the initial sync: the startup probe gates it and must give the sync a generous budget.
	if b := probeBudget(c.StartupProbe); b < minSyncBudget {
		t.Errorf("startup probe allows only %v for the initial sync, want >= %v (liveness would kill syncing pods)", b, minSyncBudget)
	}
	if c.LivenessProbe.SuccessThreshold > 1 || c.StartupProbe.SuccessThreshold > 1 {
		t.Errorf("liveness and startup probes must have successThreshold 1")
	}
	// After startup, liveness must be more patient than readiness: a brief hiccup takes a pod out of the Service,
	// it does not restart it.
	if probeBudget(c.LivenessProbe) <= probeBudget(c.ReadinessProbe) {
		t.Errorf("liveness budget %v should exceed readiness budget %v", probeBudget(c.LivenessProbe), probeBudget(c.ReadinessProbe))
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	s := load(t)
	sts := theStatefulSet(t, s)
	pdbs := s.PodDisruptionBudgets()
	if len(pdbs) != 1 {
		t.Fatalf("want exactly 1 PodDisruptionBudget, got %d", len(pdbs))
	}
	pdb := pdbs[0]
	if pdb.Spec.MinAvailable != nil {
		t.Errorf("PDB sets minAvailable; want maxUnavailable only")
	}
	if mu := pdb.Spec.MaxUnavailable; mu == nil || mu.Type != intstr.Int || mu.IntVal != 1 {
		t.Errorf("PDB maxUnavailable = %v, want 1", mu)
	}
	if !selects(t, pdb.Spec.Selector, sts.Spec.Template.Labels) {
		t.Errorf("PDB selector %v does not select the meshkv pods %v", pdb.Spec.Selector, sts.Spec.Template.Labels)
	}
	// Same pods as the StatefulSet: the same selector.
	ps, _ := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	ss, _ := metav1.LabelSelectorAsSelector(sts.Spec.Selector)
	if ps.String() != ss.String() {
		t.Errorf("PDB selector %q differs from the StatefulSet selector %q", ps, ss)
	}
	if p := pdb.Spec.UnhealthyPodEvictionPolicy; p == nil || *p != policyv1.AlwaysAllow {
		t.Errorf("unhealthyPodEvictionPolicy should be AlwaysAllow: a not-ready (syncing) pod must not block node drains")
	}
}

func TestPrometheusScrapeAnnotations(t *testing.T) {
	s := load(t)
	sts := theStatefulSet(t, s)
	c := theContainer(t, sts)
	a := sts.Spec.Template.Annotations
	if a["prometheus.io/scrape"] != "true" {
		t.Errorf("pod template annotation prometheus.io/scrape = %q, want \"true\"", a["prometheus.io/scrape"])
	}
	if a["prometheus.io/path"] != "/metrics" {
		t.Errorf("prometheus.io/path = %q, want /metrics", a["prometheus.io/path"])
	}
	port, err := strconv.Atoi(a["prometheus.io/port"])
	if err != nil || port != metricsPort {
		t.Errorf("prometheus.io/port = %q, want \"%d\"", a["prometheus.io/port"], metricsPort)
	}
	if cp := containerPort(c, "metrics"); cp == nil || int(cp.ContainerPort) != port {
		t.Errorf("prometheus.io/port %d is not the container port named metrics", port)
	}
}

func TestSecurityContext(t *testing.T) {
	s := load(t)
	sts := theStatefulSet(t, s)
	pod := sts.Spec.Template.Spec
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("pod securityContext.runAsNonRoot must be true")
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod seccompProfile should be RuntimeDefault")
	}
	for _, c := range append(append([]corev1.Container{}, pod.InitContainers...), pod.Containers...) {
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("container %s: no securityContext", c.Name)
			continue
		}
		nonRoot := (sc.RunAsNonRoot != nil && *sc.RunAsNonRoot) || (sc.RunAsNonRoot == nil && psc != nil && psc.RunAsNonRoot != nil && *psc.RunAsNonRoot)
		if !nonRoot {
			t.Errorf("container %s: runAsNonRoot not set", c.Name)
		}
		uid := sc.RunAsUser
		if uid == nil && psc != nil {
			uid = psc.RunAsUser
		}
		if uid == nil || *uid == 0 {
			t.Errorf("container %s: runAsUser should be a fixed non-zero uid (the image's meshkv user, 10001)", c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: readOnlyRootFilesystem must be true", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s: allowPrivilegeEscalation must be false", c.Name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("container %s: privileged", c.Name)
		}
		if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("container %s: capabilities.drop must contain ALL", c.Name)
		} else if len(sc.Capabilities.Add) != 0 {
			t.Errorf("container %s: adds capabilities %v (ports are unprivileged, none needed)", c.Name, sc.Capabilities.Add)
		}
	}
}

func TestResourcesAndTermination(t *testing.T) {
	s := load(t)
	sts := theStatefulSet(t, s)
	pod := sts.Spec.Template.Spec
	for _, c := range pod.Containers {
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, okReq := c.Resources.Requests[r]
			lim, okLim := c.Resources.Limits[r]
			if !okReq || !okLim {
				t.Errorf("container %s: want both request and limit for %s", c.Name, r)
				continue
			}
			if req.Sign() <= 0 || req.Cmp(lim) > 0 {
				t.Errorf("container %s: %s request %s must be > 0 and <= limit %s", c.Name, r, req.String(), lim.String())
			}
		}
	}
	g := pod.TerminationGracePeriodSeconds
	if g == nil {
		t.Fatalf("terminationGracePeriodSeconds not set")
	}
	var preStop int64
	c := theContainer(t, sts)
	if c.Lifecycle != nil && c.Lifecycle.PreStop != nil {
		h := c.Lifecycle.PreStop
		if h.Exec != nil {
			t.Errorf("preStop exec needs a shell in the image; use the native sleep action")
		}
		if h.Sleep != nil {
			preStop = h.Sleep.Seconds
		}
	}
	// SIGTERM -> the node tells its peers and exits within a few seconds; leave at least 10 s after the preStop hook.
	if *g < preStop+10 || *g > 300 {
		t.Errorf("terminationGracePeriodSeconds = %d, want between preStop (%ds)+10 and 300", *g, preStop)
	}
}

func TestClusterConfig(t *testing.T) {
	s := load(t)
	sts := theStatefulSet(t, s)
	c := theContainer(t, sts)
	env, err := s.PodEnv(c, statefulSetName+"-0", "any-namespace")
	if err != nil {
		t.Fatal(err)
	}
	if env["MESHKV_CLUSTER"] == "" {
		t.Errorf("MESHKV_CLUSTER not set (ConfigMap or env)")
	}
	if v, ok := env["MESHKV_LEASING"]; !ok {
		t.Errorf("MESHKV_LEASING not set (ConfigMap or env)")
	} else if _, err := strconv.ParseBool(v); err != nil || (v != "true" && v != "false") {
		t.Errorf("MESHKV_LEASING = %q, want true or false", v)
	}
	if v, ok := env["MESHKV_LEASE_DURATION"]; ok {
		if d, err := time.ParseDuration(v); err != nil || d <= 0 {
			t.Errorf("MESHKV_LEASE_DURATION = %q is not a positive duration", v)
		}
	}
	for _, ef := range c.EnvFrom {
		if ef.ConfigMapRef != nil && ef.ConfigMapRef.Optional != nil && *ef.ConfigMapRef.Optional {
			t.Errorf("ConfigMap %s is optional: a missing cluster name would silently form a different cluster", ef.ConfigMapRef.Name)
		}
	}
	for k := range env {
		if strings.HasPrefix(k, "MESHKV_") && !knownEnv[k] {
			t.Errorf("unknown configuration variable %s (typo?)", k)
		}
	}
	for addr, port := range map[string]int{"MESHKV_GRPC_ADDR": grpcPort, "MESHKV_MESH_ADDR": meshPort, "MESHKV_METRICS_ADDR": metricsPort} {
		v, ok := env[addr]
		if !ok {
			continue // server default
		}
		_, p, err := net.SplitHostPort(v)
		if err != nil || p != strconv.Itoa(port) {
			t.Errorf("%s = %q, want host:%d (the container port)", addr, v, port)
		}
	}
}

var knownEnv = map[string]bool{
	"MESHKV_NODE_ID": true, "MESHKV_GRPC_ADDR": true, "MESHKV_MESH_ADDR": true, "MESHKV_ADVERTISE_ADDR": true,
	"MESHKV_JOIN": true, "MESHKV_METRICS_ADDR": true, "MESHKV_CLUSTER": true, "MESHKV_LEASING": true,
	"MESHKV_LEASE_DURATION": true, "MESHKV_LOG_LEVEL": true,
	"MESHKV_INSECURE": true, "MESHKV_CERTS_DIR": true, "MESHKV_TLS_CA": true, "MESHKV_TLS_CERT": true,
	"MESHKV_TLS_KEY": true, "MESHKV_DATA_DIR": true, "MESHKV_FSYNC": true, "MESHKV_FSYNC_INTERVAL": true,
	"MESHKV_TOMBSTONE_RETENTION": true, "MESHKV_CLIENT_CA": true, "MESHKV_CLIENT_ROLES": true,
	"MESHKV_REQUIRE_CLIENT_CERT": true, "MESHKV_MAX_DATA_BYTES": true, "MESHKV_MEMORY_LIMIT_BYTES": true,
	// The CLI's (clients/tls): for the probes and kubectl exec.
	"MESHKV_CACERT": true, "MESHKV_CERT": true, "MESHKV_KEY": true,
}

// Each pod advertises (and is identified by) its stable DNS name under the headless Service, and the join seeds
// are such names of pods that exist. Checked for every ordinal, in namespaces the manifests cannot know.
func TestStableIdentityAndSeeds(t *testing.T) {
	s := load(t)
	for _, ns := range []string{"default", "meshkv-test-ns"} {
		checkIdentity(t, s, ns)
	}
}

func checkIdentity(t *testing.T, s *Set, ns string) {
	t.Helper()
	sts := theStatefulSet(t, s)
	c := theContainer(t, sts)
	headless := s.Service(sts.Spec.ServiceName)
	if headless == nil {
		t.Fatalf("serviceName %q names no Service", sts.Spec.ServiceName)
	}
	mesh := containerPort(c, "mesh")
	if mesh == nil {
		t.Fatal("no container port named mesh")
	}
	n := int(*sts.Spec.Replicas)
	seen := map[string]int{}
	for ord := 0; ord < n; ord++ {
		pod := fmt.Sprintf("%s-%d", sts.Name, ord)
		env, err := s.PodEnv(c, pod, ns)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range env {
			if strings.Contains(v, "$(") {
				t.Errorf("%s: %s = %q has an unresolved reference (variables must be defined before use)", pod, k, v)
			}
		}
		domain := env["K8S_CLUSTER_DOMAIN"]
		if msgs := validation.IsDNS1123Subdomain(domain); len(msgs) != 0 {
			t.Fatalf("K8S_CLUSTER_DOMAIN = %q: %v", domain, msgs)
		}
		want := fmt.Sprintf("%s.%s.%s.svc.%s:%d", pod, headless.Name, ns, domain, mesh.ContainerPort)
		if got := env["MESHKV_ADVERTISE_ADDR"]; got != want {
			t.Errorf("%s in %s: MESHKV_ADVERTISE_ADDR = %q, want %q", pod, ns, got, want)
		}
		if got := env["MESHKV_NODE_ID"]; got != want {
			t.Errorf("%s in %s: MESHKV_NODE_ID = %q, want the stable address %q", pod, ns, got, want)
		}
		if prev, dup := seen[env["MESHKV_NODE_ID"]]; dup {
			t.Errorf("pods %d and %d share node ID %q", prev, ord, env["MESHKV_NODE_ID"])
		}
		seen[env["MESHKV_NODE_ID"]] = ord
		checkSeeds(t, sts, headless, mesh.ContainerPort, ns, domain, pod, env["MESHKV_JOIN"])
	}
}

func checkSeeds(t *testing.T, sts *appsv1.StatefulSet, headless *corev1.Service, port int32, ns, domain, pod, join string) {
	t.Helper()
	if strings.TrimSpace(join) == "" {
		t.Errorf("%s: MESHKV_JOIN is empty", pod)
		return
	}
	re := regexp.MustCompile("^" + regexp.QuoteMeta(sts.Name) + `-(0|[1-9][0-9]*)\.` + regexp.QuoteMeta(headless.Name) +
		`\.` + regexp.QuoteMeta(ns) + `\.svc\.` + regexp.QuoteMeta(domain) + "$")
	seeds := strings.Split(join, ",")
	uniq := map[string]bool{}
	for _, seed := range seeds {
		if seed != strings.TrimSpace(seed) || seed == "" {
			t.Errorf("%s: seed %q has blanks or is empty", pod, seed)
			continue
		}
		if uniq[seed] {
			t.Errorf("%s: seed %q listed twice", pod, seed)
		}
		uniq[seed] = true
		host, p, err := net.SplitHostPort(seed)
		if err != nil {
			t.Errorf("%s: seed %q is not host:port: %v", pod, seed, err)
			continue
		}
		if p != strconv.Itoa(int(port)) {
			t.Errorf("%s: seed %q: port %s, want the mesh port %d", pod, seed, p, port)
		}
		var headlessPortOK bool
		for _, sp := range headless.Spec.Ports {
			headlessPortOK = headlessPortOK || strconv.Itoa(int(sp.Port)) == p
		}
		if !headlessPortOK {
			t.Errorf("%s: seed %q: port %s is not a port of Service %s", pod, seed, p, headless.Name)
		}
		m := re.FindStringSubmatch(host)
		if m == nil {
			t.Errorf("%s: seed host %q is not <pod>.%s.%s.svc.%s of a pod of StatefulSet %s", pod, host, headless.Name, ns, domain, sts.Name)
			continue
		}
		ord, _ := strconv.Atoi(m[1])
		if ord >= int(*sts.Spec.Replicas) {
			t.Errorf("%s: seed %q names pod ordinal %d but replicas = %d", pod, seed, ord, *sts.Spec.Replicas)
		}
	}
}

// Every replica holds the same data, so without a quota they would all grow into their memory limit and be
// OOM-killed together: the data quota is a share of the container's own memory limit (downward API), low
// enough that the store's overhead (about 1.8x the data, plus the watch history and buffers) fits under it.
func TestDataQuotaFollowsTheMemoryLimit(t *testing.T) {
	s := load(t)
	sts := theStatefulSet(t, s)
	c := theContainer(t, sts)
	env, err := s.PodEnv(c, statefulSetName+"-0", "any-namespace")
	if err != nil {
		t.Fatal(err)
	}
	limit := c.Resources.Limits.Memory().Value()
	if got := env["MESHKV_MEMORY_LIMIT_BYTES"]; got != strconv.FormatInt(limit, 10) {
		t.Errorf("MESHKV_MEMORY_LIMIT_BYTES = %q, want the memory limit in bytes (%d) from resourceFieldRef limits.memory", got, limit)
	}
	quota := env["MESHKV_MAX_DATA_BYTES"]
	pct, err := strconv.Atoi(strings.TrimSuffix(quota, "%"))
	if !strings.HasSuffix(quota, "%") || err != nil || pct < 10 || pct > 50 {
		t.Errorf("MESHKV_MAX_DATA_BYTES = %q, want a percentage of the memory limit between 10%% and 50%%", quota)
	}
}
