// Package k8s validates meshkv's Kubernetes manifests (deploy/k8s) offline.
//
// Every YAML document is decoded with strict decoding (unknown, misspelled, wrongly-cased and duplicate fields are
// errors) into the official Kubernetes API types, and kustomization.yaml into kustomize's own Kustomization type.
// The tests in this package then check the properties that make the deployment work.
package k8s

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjsonserializer "k8s.io/apimachinery/pkg/runtime/serializer/json"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	kjson "sigs.k8s.io/json"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	sigsyaml "sigs.k8s.io/yaml"
)

// KustomizationFile is the name of the kustomization in the manifest directory.
const KustomizationFile = "kustomization.yaml"

// NewScheme returns a scheme that knows exactly the API groups meshkv's manifests may use. A document of any other
// kind fails to decode.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		appsv1.AddToScheme, corev1.AddToScheme, policyv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

var strictDecoder = func() runtime.Decoder {
	s := NewScheme()
	return kjsonserializer.NewSerializerWithOptions(kjsonserializer.DefaultMetaFactory, s, s,
		kjsonserializer.SerializerOptions{Yaml: true, Strict: true})
}()

// DecodeStrict decodes one YAML document into its typed Kubernetes object. Strict decoding errors (unknown field,
// case mismatch, duplicate field) are returned as errors, never ignored.
func DecodeStrict(doc []byte) (runtime.Object, schema.GroupVersionKind, error) {
	obj, gvk, err := strictDecoder.Decode(doc, nil, nil)
	if err != nil {
		return nil, schema.GroupVersionKind{}, err
	}
	if gvk == nil {
		return nil, schema.GroupVersionKind{}, errors.New("document has no apiVersion/kind")
	}
	return obj, *gvk, nil
}

// DecodeKustomizationStrict decodes a kustomization.yaml into kustomize's Kustomization type, refusing unknown,
// wrongly-cased and duplicate fields (stricter than kustomize itself, which matches field names case-insensitively).
func DecodeKustomizationStrict(data []byte) (*kusttypes.Kustomization, error) {
	j, err := sigsyaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("kustomization: %w", err)
	}
	var k kusttypes.Kustomization
	strictErrs, err := kjson.UnmarshalStrict(j, &k)
	if err != nil {
		return nil, fmt.Errorf("kustomization: %w", err)
	}
	if len(strictErrs) > 0 {
		return nil, fmt.Errorf("kustomization: strict decoding error: %w", errors.Join(strictErrs...))
	}
	if k.APIVersion != kusttypes.KustomizationVersion || k.Kind != kusttypes.KustomizationKind {
		return nil, fmt.Errorf("kustomization: apiVersion/kind must be %s/%s, got %q/%q",
			kusttypes.KustomizationVersion, kusttypes.KustomizationKind, k.APIVersion, k.Kind)
	}
	return &k, nil
}

// SplitDocuments splits a multi-document YAML stream on "---" lines and drops documents that are empty or hold only
// comments.
func SplitDocuments(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		j, err := sigsyaml.YAMLToJSON(doc)
		if err != nil {
			return nil, err
		}
		if s := strings.TrimSpace(string(j)); s == "null" || s == "" {
			continue
		}
		docs = append(docs, doc)
	}
}

// Object is one decoded document.
type Object struct {
	File  string // path relative to the manifest directory
	Index int    // 0-based position among the non-empty documents of File
	GVK   schema.GroupVersionKind
	Obj   runtime.Object
}

func (o Object) String() string { return fmt.Sprintf("%s#%d (%s)", o.File, o.Index, o.GVK.Kind) }

// Set is the decoded content of a manifest directory.
type Set struct {
	Dir           string
	Kustomization *kusttypes.Kustomization
	Objects       []Object
}

// DecodeStream strictly decodes every document of a YAML stream; name is used in error messages.
func DecodeStream(name string, data []byte) ([]Object, error) {
	docs, err := SplitDocuments(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var out []Object
	for i, d := range docs {
		obj, gvk, err := DecodeStrict(d)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		out = append(out, Object{File: name, Index: i, GVK: gvk, Obj: obj})
	}
	return out, nil
}

// Load strictly decodes dir/kustomization.yaml and every resource file it lists.
func Load(dir string) (*Set, error) {
	data, err := os.ReadFile(filepath.Join(dir, KustomizationFile))
	if err != nil {
		return nil, err
	}
	k, err := DecodeKustomizationStrict(data)
	if err != nil {
		return nil, err
	}
	set := &Set{Dir: dir, Kustomization: k}
	for _, res := range k.Resources {
		data, err := os.ReadFile(filepath.Join(dir, res))
		if err != nil {
			return nil, fmt.Errorf("resource %q listed in %s: %w", res, KustomizationFile, err)
		}
		objs, err := DecodeStream(res, data)
		if err != nil {
			return nil, err
		}
		if len(objs) == 0 {
			return nil, fmt.Errorf("resource %q holds no object", res)
		}
		set.Objects = append(set.Objects, objs...)
	}
	return set, nil
}

// ManifestFiles lists the YAML files of dir (not recursive), kustomization.yaml excluded, sorted.
func ManifestFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || n == KustomizationFile || n == "kustomization.yml" || n == "Kustomization" {
			continue
		}
		if strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml") {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// Typed accessors.

func (s *Set) StatefulSets() []*appsv1.StatefulSet {
	var out []*appsv1.StatefulSet
	for _, o := range s.Objects {
		if v, ok := o.Obj.(*appsv1.StatefulSet); ok {
			out = append(out, v)
		}
	}
	return out
}

func (s *Set) Services() []*corev1.Service {
	var out []*corev1.Service
	for _, o := range s.Objects {
		if v, ok := o.Obj.(*corev1.Service); ok {
			out = append(out, v)
		}
	}
	return out
}

func (s *Set) Service(name string) *corev1.Service {
	for _, v := range s.Services() {
		if v.Name == name {
			return v
		}
	}
	return nil
}

func (s *Set) PodDisruptionBudgets() []*policyv1.PodDisruptionBudget {
	var out []*policyv1.PodDisruptionBudget
	for _, o := range s.Objects {
		if v, ok := o.Obj.(*policyv1.PodDisruptionBudget); ok {
			out = append(out, v)
		}
	}
	return out
}

func (s *Set) ConfigMap(name string) *corev1.ConfigMap {
	for _, o := range s.Objects {
		if v, ok := o.Obj.(*corev1.ConfigMap); ok && v.Name == name {
			return v
		}
	}
	return nil
}

func (s *Set) ConfigMaps() []*corev1.ConfigMap {
	var out []*corev1.ConfigMap
	for _, o := range s.Objects {
		if cm, ok := o.Obj.(*corev1.ConfigMap); ok {
			out = append(out, cm)
		}
	}
	return out
}
