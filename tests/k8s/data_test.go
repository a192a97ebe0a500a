package k8s

import (
	"fmt"
	"path"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Durable data (issue 11): every pod keeps its data directory on its own PersistentVolumeClaim, so that a restart of
// any pod, or of all of them at once, finds the data again.
const (
	dataMountPath = "/var/lib/meshkv" // where the image's /var/lib/meshkv (owned by uid 10001) is
	dataDir       = "/var/lib/meshkv/data"
)

// dataProblems lists what keeps the StatefulSet of s from keeping each pod's data across restarts; empty means none.
func dataProblems(s *Set) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	sts := s.StatefulSets()
	if len(sts) != 1 {
		return []string{fmt.Sprintf("want exactly 1 StatefulSet, got %d", len(sts))}
	}
	spec := sts[0].Spec
	pod := spec.Template.Spec
	if len(pod.Containers) != 1 {
		return []string{fmt.Sprintf("want exactly 1 container, got %d", len(pod.Containers))}
	}
	c := &pod.Containers[0]

	// One claim per pod: ReadWriteOnce, with a storage request.
	if len(spec.VolumeClaimTemplates) != 1 {
		bad("want exactly 1 volumeClaimTemplate (the data directory), got %d", len(spec.VolumeClaimTemplates))
		return out
	}
	claim := spec.VolumeClaimTemplates[0]
	if !slices.Equal(claim.Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce}) {
		bad("claim %q: accessModes %v, want [ReadWriteOnce] (one node's data, one pod)", claim.Name, claim.Spec.AccessModes)
	}
	if req, ok := claim.Spec.Resources.Requests[corev1.ResourceStorage]; !ok || req.Sign() <= 0 {
		bad("claim %q: no positive storage request", claim.Name)
	}
	for _, v := range pod.Volumes {
		if v.Name == claim.Name {
			bad("pod volume %q has the claim's name: the pod would not use its PVC", v.Name)
		}
	}

	// Mounted read-write at /var/lib/meshkv.
	var mount *corev1.VolumeMount
	for i := range c.VolumeMounts {
		if c.VolumeMounts[i].Name == claim.Name {
			mount = &c.VolumeMounts[i]
		}
	}
	switch {
	case mount == nil:
		bad("container %s does not mount the claim %q", c.Name, claim.Name)
	case mount.MountPath != dataMountPath || mount.ReadOnly || mount.SubPath != "" || mount.SubPathExpr != "":
		bad("claim %q mounted at %q (readOnly %v, subPath %q), want read-write at %s", claim.Name, mount.MountPath,
			mount.ReadOnly, mount.SubPath+mount.SubPathExpr, dataMountPath)
	}

	// MESHKV_DATA_DIR is a subdirectory of the mount: a stale data directory is renamed aside, a mount point cannot be.
	env, err := s.PodEnv(c, sts[0].Name+"-0", "any-namespace")
	if err != nil {
		bad("%v", err)
	} else if got := env["MESHKV_DATA_DIR"]; got != dataDir {
		bad("MESHKV_DATA_DIR = %q, want %q (a subdirectory of the volume mounted at %s)", got, dataDir, dataMountPath)
	} else if mount != nil && (path.Clean(got) == path.Clean(mount.MountPath) ||
		!strings.HasPrefix(path.Clean(got), path.Clean(mount.MountPath)+"/")) {
		bad("MESHKV_DATA_DIR %q is not strictly below the mount %q", got, mount.MountPath)
	}
	if v, ok := env["MESHKV_FSYNC"]; ok && v != "always" && v != "interval" && v != "never" {
		bad("MESHKV_FSYNC = %q, want always, interval or never", v)
	}

	// The volume is writable by the server's user: fsGroup is the image's meshkv group.
	if psc := pod.SecurityContext; psc == nil || psc.FSGroup == nil || *psc.FSGroup != 10001 {
		bad("pod securityContext.fsGroup must be 10001 (the image's meshkv group) so the volume is writable")
	}

	// Restarts keep the claims: rolling updates one pod at a time over every pod, pods recreated under the same name.
	if spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		bad("podManagementPolicy %q, want Parallel (all pods come back together after a full stop)", spec.PodManagementPolicy)
	}
	if spec.UpdateStrategy.Type != appsv1.RollingUpdateStatefulSetStrategyType {
		bad("updateStrategy %q, want RollingUpdate", spec.UpdateStrategy.Type)
	} else if ru := spec.UpdateStrategy.RollingUpdate; ru != nil {
		if ru.Partition != nil && *ru.Partition != 0 {
			bad("rollingUpdate.partition %d leaves pods below it on the old revision", *ru.Partition)
		}
		if ru.MaxUnavailable != nil && ru.MaxUnavailable.String() != "1" {
			bad("rollingUpdate.maxUnavailable %s: more than one pod re-syncing at a time", ru.MaxUnavailable.String())
		}
	}
	// Deleting the StatefulSet or scaling it down must not delete data: only deleting a PVC does (the default is
	// Retain; an explicit Delete would wipe a node on `kubectl delete -k`).
	if p := spec.PersistentVolumeClaimRetentionPolicy; p != nil {
		if p.WhenDeleted == appsv1.DeletePersistentVolumeClaimRetentionPolicyType ||
			p.WhenScaled == appsv1.DeletePersistentVolumeClaimRetentionPolicyType {
			bad("persistentVolumeClaimRetentionPolicy %+v deletes data; want Retain", *p)
		}
	}
	return out
}

func TestDataSurvivesRestarts(t *testing.T) {
	for _, p := range dataProblems(load(t)) {
		t.Error(p)
	}
}

// The README's way to wipe one node names the PVC the StatefulSet controller really creates:
// <claim template>-<StatefulSet>-<ordinal>.
func TestReadmeWipesTheRealClaim(t *testing.T) {
	sts := theStatefulSet(t, load(t))
	if len(sts.Spec.VolumeClaimTemplates) != 1 {
		t.Fatalf("want 1 volumeClaimTemplate, got %d", len(sts.Spec.VolumeClaimTemplates))
	}
	pvc := fmt.Sprintf("%s-%s-1", sts.Spec.VolumeClaimTemplates[0].Name, sts.Name)
	readme := readManifest(t, "README.md")
	for _, want := range []string{"delete pvc " + pvc, "delete pod " + sts.Name + "-1"} {
		if !strings.Contains(readme, want) {
			t.Errorf("deploy/k8s/README.md does not say `kubectl ... %s` (how to wipe one node)", want)
		}
	}
}

// Not vacuous: the real StatefulSet with one defect each is refused by dataProblems.
func TestDataProblemsRefusesBrokenManifests(t *testing.T) {
	s := load(t)
	orig := readManifest(t, "statefulset.yaml")
	claims := strings.Index(orig, "  # One PVC per pod")
	if claims < 0 {
		t.Fatalf("statefulset.yaml: the volumeClaimTemplates block no longer starts with the expected comment")
	}
	cases := []struct{ name, old, new string }{
		{"no claim templates", orig[claims:], ""},
		{"ReadWriteMany", "          - ReadWriteOnce", "          - ReadWriteMany"},
		{"no storage request", "            storage: 10Gi", "            storage: \"0\""},
		{"data dir is the mount point", `value: "/var/lib/meshkv/data"`, `value: "/var/lib/meshkv"`},
		{"data dir outside the volume", `value: "/var/lib/meshkv/data"`, `value: "/tmp/data"`},
		{"volume not mounted", "            - name: data\n              mountPath: /var/lib/meshkv\n", ""},
		{"mounted read-only", "              mountPath: /var/lib/meshkv\n", "              mountPath: /var/lib/meshkv\n              readOnly: true\n"},
		{"OrderedReady", "  podManagementPolicy: Parallel", "  podManagementPolicy: OrderedReady"},
		{"OnDelete", "    type: RollingUpdate", "    type: OnDelete"},
		{"partition", "      partition: 0", "      partition: 2"},
		{"PVCs deleted with the StatefulSet", "    whenDeleted: Retain", "    whenDeleted: Delete"},
		{"no fsGroup", "        fsGroup: 10001\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := mutate(t, orig, tc.old, tc.new)
			objs, err := DecodeStream("statefulset.yaml", []byte(bad))
			if err != nil {
				t.Fatalf("mutated manifest does not decode: %v", err)
			}
			mut := &Set{Dir: s.Dir, Kustomization: s.Kustomization}
			for _, o := range s.Objects {
				if o.File != "statefulset.yaml" {
					mut.Objects = append(mut.Objects, o)
				}
			}
			mut.Objects = append(mut.Objects, objs...)
			problems := dataProblems(mut)
			if len(problems) == 0 {
				t.Fatalf("a StatefulSet with %s passes the data checks", tc.name)
			}
			t.Logf("refused as expected: %v", problems)
		})
	}
}
