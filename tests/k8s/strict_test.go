package k8s

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	sigsyaml "sigs.k8s.io/yaml"
)

func readManifest(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(manifestDir(), name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mutate replaces exactly one occurrence of old in s, so a test cannot silently stop testing anything.
func mutate(t *testing.T, s, old, new string) string {
	t.Helper()
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("mutation anchor %q occurs %d times, want 1", old, n)
	}
	return strings.Replace(s, old, new, 1)
}

// The negative tests: the real StatefulSet with one defect each must be refused by the same decoder that accepts the
// real manifests. For the typo cases we also show that a lenient decoder would have accepted the broken manifest
// silently (dropping the field), i.e. that the strictness is what catches it.
func TestStrictDecodingRefusesBadFields(t *testing.T) {
	orig := readManifest(t, "statefulset.yaml")
	if _, err := DecodeStream("statefulset.yaml", []byte(orig)); err != nil {
		t.Fatalf("the unmodified manifest must decode: %v", err)
	}
	cases := []struct {
		name, old, new string
		lenientOK      bool // a non-strict decoder accepts it
	}{
		{"misspelled field", "  serviceName: meshkv-peers", "  serviceNme: meshkv-peers", true},
		{"wrong case", "  serviceName: meshkv-peers", "  servicename: meshkv-peers", true},
		{"misspelled nested field", "      terminationGracePeriodSeconds: 30", "      terminationGracePeriodSecond: 30", true},
		{"misspelled probe handler", "          readinessProbe:\n            exec:", "          readinessProbe:\n            exce:", true},
		{"misspelled securityContext field", "            readOnlyRootFilesystem: true", "            readOnlyRootFileSystem: true", true},
		{"duplicate field", "  replicas: 3", "  replicas: 3\n  replicas: 5", true},
		{"wrong type", "  replicas: 3", "  replicas: three", false},
		{"unknown kind", "kind: StatefulSet", "kind: StatefulSett", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := mutate(t, orig, tc.old, tc.new)
			_, err := DecodeStream("statefulset.yaml", []byte(bad))
			if err == nil {
				t.Fatalf("strict decoding accepted a manifest with %s", tc.name)
			}
			t.Logf("refused as expected: %v", err)
			if tc.lenientOK {
				var sts appsv1.StatefulSet
				if err := sigsyaml.Unmarshal([]byte(bad), &sts); err != nil {
					t.Errorf("lenient decoding also refused it (%v): this case does not demonstrate strictness", err)
				}
			}
		})
	}
}

// Strictness end to end: Load (what the other tests use) on a copy of deploy/k8s with a misspelled field fails.
func TestLoadRefusesMisspelledManifest(t *testing.T) {
	dir := t.TempDir()
	files, err := ManifestFiles(manifestDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(files, KustomizationFile) {
		data := readManifest(t, f)
		if f == "service-peers.yaml" {
			data = mutate(t, data, "publishNotReadyAddresses: true", "publishNotReadyAdresses: true")
		}
		if err := os.WriteFile(filepath.Join(dir, f), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	_, err = Load(dir)
	if err == nil || !strings.Contains(err.Error(), "publishNotReadyAdresses") {
		t.Fatalf("Load accepted a misspelled field (err = %v)", err)
	}
	t.Logf("refused as expected: %v", err)
}

func TestFixtureWithMisspelledFieldIsRefused(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "misspelled-pdb.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeStream("testdata/misspelled-pdb.yaml", data); err == nil ||
		!strings.Contains(err.Error(), "maxUnavaliable") {
		t.Fatalf("fixture with misspelled maxUnavailable was not refused (err = %v)", err)
	}
}

func TestStrictKustomizationRefusesBadFields(t *testing.T) {
	orig := readManifest(t, KustomizationFile)
	if _, err := DecodeKustomizationStrict([]byte(orig)); err != nil {
		t.Fatalf("the unmodified kustomization must decode: %v", err)
	}
	for name, bad := range map[string]string{
		"misspelled": mutate(t, orig, "resources:", "resource:"),
		"wrong case": mutate(t, orig, "resources:", "Resources:"),
		"wrong kind": mutate(t, orig, "kind: Kustomization", "kind: Kustomisation"),
	} {
		if _, err := DecodeKustomizationStrict([]byte(bad)); err == nil {
			t.Errorf("%s: strict decoding accepted a broken kustomization", name)
		}
	}
}
