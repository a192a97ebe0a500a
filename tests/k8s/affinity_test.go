package k8s

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const (
	hostnameKey = "kubernetes.io/hostname"
	// The overlay that softens the anti-affinity for one-node test clusters, beside deploy/k8s.
	singleHostOverlay = "k8s-single-host"
)

// spreadsOverHosts says whether term keeps two of the StatefulSet's pods off one node: its topology is the host and
// its selector matches the pods' own labels (so every replica repels every other).
func spreadsOverHosts(term corev1.PodAffinityTerm, podLabels map[string]string) bool {
	if term.TopologyKey != hostnameKey || term.LabelSelector == nil || term.NamespaceSelector != nil ||
		len(term.Namespaces) != 0 {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(term.LabelSelector)
	return err == nil && !sel.Empty() && sel.Matches(labels.Set(podLabels))
}

// antiAffinityProblems lists why the scheduler could put two replicas of the StatefulSet on one node, or why required
// is not what the manifests say: each replica holds the whole dictionary with the same memory limit, so two on a node
// fail together. With required false it checks the single-host variant instead: a preference, no requirement.
func antiAffinityProblems(sts *appsv1.StatefulSet, required bool) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	pod := sts.Spec.Template
	a := pod.Spec.Affinity
	if a == nil || a.PodAntiAffinity == nil {
		return []string{"the pod template has no podAntiAffinity"}
	}
	req := a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	pref := a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution
	hard, soft := 0, 0
	for _, term := range req {
		if spreadsOverHosts(term, pod.Labels) {
			hard++
		} else {
			bad("required anti-affinity term %+v does not spread the pods over hosts", term)
		}
	}
	for _, w := range pref {
		if spreadsOverHosts(w.PodAffinityTerm, pod.Labels) {
			soft++
		}
	}
	if required {
		if hard == 0 {
			bad("no required anti-affinity over %s: two replicas may share a node (%d preferred terms)", hostnameKey,
				len(pref))
		}
	} else {
		if len(req) != 0 {
			bad("the single-host variant still requires anti-affinity: on one node only one pod would be scheduled")
		}
		if soft == 0 {
			bad("the single-host variant has no preferred anti-affinity over %s: pods would not spread when they can",
				hostnameKey)
		}
	}
	// A DoNotSchedule spread over hosts is a requirement too, which the single-host overlay would not soften.
	for _, c := range pod.Spec.TopologySpreadConstraints {
		if c.TopologyKey == hostnameKey && c.WhenUnsatisfiable == corev1.DoNotSchedule {
			bad("topologySpreadConstraint over %s with DoNotSchedule: the single-host overlay does not soften it",
				hostnameKey)
		}
	}
	return out
}

// The base requires one replica per node.
func TestReplicasRequireDistinctNodes(t *testing.T) {
	for _, p := range antiAffinityProblems(theStatefulSet(t, load(t)), true) {
		t.Error(p)
	}
}

// Not vacuous: the real StatefulSet with a preference instead of a requirement, another topology, or a selector that
// matches other pods, is refused.
func TestAntiAffinityProblemsRefusesBrokenManifests(t *testing.T) {
	orig := readManifest(t, "statefulset.yaml")
	cases := []struct{ name, old, new string }{
		{"preferred only", "          requiredDuringSchedulingIgnoredDuringExecution:\n            - topologyKey: kubernetes.io/hostname\n              labelSelector:\n",
			"          preferredDuringSchedulingIgnoredDuringExecution:\n            - weight: 100\n              podAffinityTerm:\n               topologyKey: kubernetes.io/hostname\n               labelSelector:\n"},
		{"zone, not host", "            - topologyKey: kubernetes.io/hostname\n", "            - topologyKey: topology.kubernetes.io/zone\n"},
		{"other pods", "                matchLabels:\n                  app.kubernetes.io/name: meshkv\n                  app.kubernetes.io/instance: meshkv\n      containers:",
			"                matchLabels:\n                  app.kubernetes.io/name: other\n      containers:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := DecodeStream("statefulset.yaml", []byte(mutate(t, orig, tc.old, tc.new)))
			if err != nil {
				t.Fatalf("mutated manifest does not decode: %v", err)
			}
			set := &Set{Objects: objs}
			problems := antiAffinityProblems(theStatefulSet(t, set), true)
			if len(problems) == 0 {
				t.Fatalf("a StatefulSet with %s passes the anti-affinity check", tc.name)
			}
			t.Logf("refused as expected: %v", problems)
		})
	}
}

// deploy/k8s-single-host builds (kustomize, from disk, as `kubectl apply -k` would), turns the requirement into a
// preference with the same term, and changes nothing else: every other object and every other field of the
// StatefulSet equal the base's.
func TestSingleHostOverlaySoftensOnlyTheAntiAffinity(t *testing.T) {
	// The repository's overlay and the base it names (../k8s), whatever MESHKV_K8S_DIR says.
	deploy := filepath.Join("..", "..", "deploy")
	base := build(t, filesys.MakeFsOnDisk(), filepath.Join(deploy, "k8s"))
	soft := build(t, filesys.MakeFsOnDisk(), filepath.Join(deploy, singleHostOverlay))
	if len(base) != len(soft) {
		t.Fatalf("the overlay yields %d objects, the base %d", len(soft), len(base))
	}
	baseSet, softSet := &Set{Objects: base}, &Set{Objects: soft}
	bsts, ssts := theStatefulSet(t, baseSet), theStatefulSet(t, softSet)
	for _, p := range antiAffinityProblems(ssts, false) {
		t.Error(p)
	}
	// The preferred term is the base's required term, word for word.
	breq := bsts.Spec.Template.Spec.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	spref := ssts.Spec.Template.Spec.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution
	if len(breq) != 1 || len(spref) != 1 || !reflect.DeepEqual(breq[0], spref[0].PodAffinityTerm) {
		t.Errorf("the overlay's preferred terms %+v are not the base's required terms %+v", spref, breq)
	}
	stripped := ssts.DeepCopy()
	stripped.Spec.Template.Spec.Affinity = bsts.Spec.Template.Spec.Affinity
	if !reflect.DeepEqual(stripped, bsts) {
		t.Errorf("the overlay changes the StatefulSet beyond its anti-affinity")
	}
	for i := range base {
		if _, ok := base[i].Obj.(*appsv1.StatefulSet); ok {
			continue
		}
		if !reflect.DeepEqual(base[i].Obj, soft[i].Obj) {
			t.Errorf("the overlay changes %s", base[i])
		}
	}
}

// The README documents the requirement and the overlay by its path.
func TestReadmeDocumentsSingleHostOverlay(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(manifestDir(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kubectl apply -k deploy/" + singleHostOverlay, "requiredDuringScheduling"} {
		if !strings.Contains(string(readme), want) {
			t.Errorf("deploy/k8s/README.md does not mention %q", want)
		}
	}
}
