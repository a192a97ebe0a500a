package k8s

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// build runs kustomize (the same library `kubectl apply -k` embeds) on dir of fs and strictly decodes the result.
func build(t *testing.T, fs filesys.FileSystem, dir string) []Object {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(fs, dir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	out, err := rm.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := DecodeStream("kustomize build "+dir, out)
	if err != nil {
		t.Fatalf("kustomize output does not decode strictly: %v", err)
	}
	return objs
}

// `kustomize build deploy/k8s` works and yields exactly the objects of the files.
func TestKustomizeBuild(t *testing.T) {
	s := load(t)
	objs := build(t, filesys.MakeFsOnDisk(), manifestDir())
	if len(objs) != len(s.Objects) {
		t.Errorf("kustomize build yields %d objects, the files hold %d", len(objs), len(s.Objects))
	}
}

// The base is namespace-agnostic: the example overlay of deploy/k8s/README.md (namespace, image, replicas, cluster
// DNS domain) builds, puts every object in its namespace, and every pod still gets a correct stable address and seeds.
func TestReadmeOverlayExample(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(manifestDir(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	overlay := readmeBlock(t, string(readme), "<!-- overlay-example")
	fs := filesys.MakeFsInMemory()
	files, err := ManifestFiles(manifestDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(files, KustomizationFile) {
		data, err := os.ReadFile(filepath.Join(manifestDir(), f))
		if err != nil {
			t.Fatal(err)
		}
		if err := fs.WriteFile(filepath.Join("/deploy/k8s", f), data); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.WriteFile("/overlays/prod/kustomization.yaml", []byte(overlay)); err != nil {
		t.Fatal(err)
	}
	objs := build(t, fs, "/overlays/prod")
	const ns = "prod"
	for _, o := range objs {
		if got := o.Obj.(metav1.Object).GetNamespace(); got != ns {
			t.Errorf("%s: namespace %q after overlay, want %q", o, got, ns)
		}
	}
	set := &Set{Dir: "/overlays/prod", Objects: objs}
	sts := theStatefulSet(t, set)
	if sts.Spec.ServiceName != headlessName {
		t.Errorf("overlay changed serviceName to %q", sts.Spec.ServiceName)
	}
	if *sts.Spec.Replicas <= replicas {
		t.Errorf("the example overlay should scale beyond %d replicas, got %d", replicas, *sts.Spec.Replicas)
	}
	if c := theContainer(t, sts); c.Image == image {
		t.Errorf("the example overlay should pin an image, still %q", c.Image)
	}
	env, err := set.PodEnv(theContainer(t, sts), "meshkv-0", ns)
	if err != nil {
		t.Fatal(err)
	}
	if env["K8S_CLUSTER_DOMAIN"] == "cluster.local" {
		t.Errorf("the example overlay should show how to change the cluster domain")
	}
	checkIdentity(t, set, ns)
}

// readmeBlock returns the first fenced code block after marker.
func readmeBlock(t *testing.T, doc, marker string) string {
	t.Helper()
	i := strings.Index(doc, marker)
	if i < 0 {
		t.Fatalf("README.md has no %s marker", marker)
	}
	rest := doc[i:]
	open := strings.Index(rest, "```")
	if open < 0 {
		t.Fatalf("no code block after %s", marker)
	}
	rest = rest[open:]
	rest = rest[strings.Index(rest, "\n")+1:]
	end := strings.Index(rest, "```")
	if end < 0 {
		t.Fatalf("unterminated code block after %s", marker)
	}
	return rest[:end]
}
