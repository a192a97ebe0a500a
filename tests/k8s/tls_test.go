package k8s

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The Secret the pods mount; deploy/k8s/certs.sh makes it (it is not one of the manifests: it holds keys).
const certsSecretName = "meshkv-certs"

// tlsProblems lists why the StatefulSet would not run its mesh with mutual TLS: no --insecure anywhere, a certs dir
// that is a read-only mount of the Secret, and per pod a certificate and key of its own from that Secret.
func tlsProblems(s *Set) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	sts := s.StatefulSets()
	if len(sts) != 1 || len(sts[0].Spec.Template.Spec.Containers) != 1 {
		return []string{"want one StatefulSet with one container"}
	}
	pod := &sts[0].Spec.Template.Spec
	c := &pod.Containers[0]
	for _, cm := range s.ConfigMaps() {
		if _, ok := cm.Data["MESHKV_INSECURE"]; ok {
			bad("ConfigMap %s sets MESHKV_INSECURE: the mesh would run without authentication", cm.Name)
		}
	}
	for _, e := range c.Env {
		if e.Name == "MESHKV_INSECURE" {
			bad("the container sets MESHKV_INSECURE")
		}
	}
	if slices.ContainsFunc(c.Args, func(a string) bool { return strings.HasPrefix(a, "--insecure") }) {
		bad("the container passes --insecure")
	}
	env, err := s.PodEnv(c, sts[0].Name+"-0", "ns")
	if err != nil {
		return append(out, err.Error())
	}
	dir := env["MESHKV_CERTS_DIR"]
	if dir == "" {
		return append(out, "MESHKV_CERTS_DIR is not set: a node without certificates refuses to start")
	}
	var mount *corev1.VolumeMount
	for i := range c.VolumeMounts {
		if path.Clean(c.VolumeMounts[i].MountPath) == path.Clean(dir) {
			mount = &c.VolumeMounts[i]
		}
	}
	if mount == nil {
		return append(out, fmt.Sprintf("MESHKV_CERTS_DIR %s is not a volume mount", dir))
	}
	if !mount.ReadOnly {
		bad("the certificates at %s are mounted read-write", dir)
	}
	if mount.SubPath != "" || mount.SubPathExpr != "" {
		bad("the certificates are mounted with a subPath, which never sees a renewed Secret")
	}
	var vol *corev1.Volume
	for i := range pod.Volumes {
		if pod.Volumes[i].Name == mount.Name {
			vol = &pod.Volumes[i]
		}
	}
	switch {
	case vol == nil:
		bad("volume %s of the certificates mount is not defined", mount.Name)
	case vol.Secret == nil:
		bad("volume %s is not a Secret", mount.Name)
	default:
		if vol.Secret.SecretName != certsSecretName {
			bad("volume %s mounts Secret %q, want %q (what deploy/k8s/certs.sh makes)", mount.Name,
				vol.Secret.SecretName, certsSecretName)
		}
		if vol.Secret.Optional != nil && *vol.Secret.Optional {
			bad("the certificates Secret is optional: a pod would start without its certificate")
		}
		if m := vol.Secret.DefaultMode; m == nil || *m&0o007 != 0 {
			bad("the certificates (keys among them) are readable by every user in the pod: defaultMode %v", m)
		}
		if len(vol.Secret.Items) != 0 {
			bad("the Secret volume picks items: new pods' certificates would not appear")
		}
	}
	// Each pod presents its own certificate: distinct files of the Secret, named by the pod.
	seen := map[string]string{}
	for ord := 0; ord < int(*sts[0].Spec.Replicas); ord++ {
		name := fmt.Sprintf("%s-%d", sts[0].Name, ord)
		env, err := s.PodEnv(c, name, "ns")
		if err != nil {
			return append(out, err.Error())
		}
		for _, f := range []struct{ env, def, want string }{
			{"MESHKV_TLS_CA", "ca.crt", "ca.crt"},
			{"MESHKV_TLS_CERT", "node.crt", name + ".crt"},
			{"MESHKV_TLS_KEY", "node.key", name + ".key"},
		} {
			file := env[f.env]
			if file == "" {
				file = path.Join(dir, f.def)
			}
			if file != path.Join(dir, f.want) {
				bad("%s: %s is %s, want %s: the Secret holds ca.crt and <pod>.crt/.key", name, f.env, file,
					path.Join(dir, f.want))
			}
			if f.env != "MESHKV_TLS_CA" {
				if other, dup := seen[file]; dup {
					bad("%s and %s present the same %s", other, name, file)
				}
				seen[file] = name
			}
		}
	}
	return out
}

func TestMeshRunsMutualTLS(t *testing.T) {
	for _, p := range tlsProblems(load(t)) {
		t.Error(p)
	}
}

// Not vacuous: the real manifests with one defect each are refused by tlsProblems.
func TestTLSProblemsRefusesBrokenManifests(t *testing.T) {
	s := load(t)
	files := map[string]string{"statefulset.yaml": readManifest(t, "statefulset.yaml"),
		"configmap.yaml": readManifest(t, "configmap.yaml")}
	cases := []struct{ name, file, old, new string }{
		{"insecure in the ConfigMap", "configmap.yaml", `  MESHKV_LOG_LEVEL: "info"`,
			"  MESHKV_LOG_LEVEL: \"info\"\n  MESHKV_INSECURE: \"true\""},
		{"insecure in the env", "statefulset.yaml", "            - name: MESHKV_CERTS_DIR\n",
			"            - name: MESHKV_INSECURE\n              value: \"true\"\n            - name: MESHKV_CERTS_DIR\n"},
		{"no certs dir", "statefulset.yaml", "- name: MESHKV_CERTS_DIR\n", "- name: MESHKV_UNUSED_CERTS_DIR\n"},
		{"not mounted", "statefulset.yaml", "              mountPath: /etc/meshkv/certs\n", "              mountPath: /etc/other\n"},
		{"read-write", "statefulset.yaml", "              mountPath: /etc/meshkv/certs\n              readOnly: true\n",
			"              mountPath: /etc/meshkv/certs\n"},
		{"another Secret", "statefulset.yaml", "secretName: meshkv-certs", "secretName: other"},
		{"optional", "statefulset.yaml", "secretName: meshkv-certs\n", "secretName: meshkv-certs\n            optional: true\n"},
		{"world-readable", "statefulset.yaml", "defaultMode: 0440", "defaultMode: 0444"},
		{"one certificate for all", "statefulset.yaml", "MESHKV_TLS_CERT\n              value: \"/etc/meshkv/certs/$(POD_NAME).crt\"",
			"MESHKV_TLS_CERT\n              value: \"/etc/meshkv/certs/meshkv-0.crt\""},
		{"key not the pod's", "statefulset.yaml", "MESHKV_TLS_KEY\n              value: \"/etc/meshkv/certs/$(POD_NAME).key\"",
			"MESHKV_TLS_KEY\n              value: \"/etc/meshkv/certs/node.key\""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bad := mutate(t, files[tc.file], tc.old, tc.new)
			objs, err := DecodeStream(tc.file, []byte(bad))
			if err != nil {
				t.Fatalf("mutated manifest does not decode: %v", err)
			}
			mut := &Set{Dir: s.Dir, Kustomization: s.Kustomization}
			for _, o := range s.Objects {
				if o.File != tc.file {
					mut.Objects = append(mut.Objects, o)
				}
			}
			mut.Objects = append(mut.Objects, objs...)
			problems := tlsProblems(mut)
			if len(problems) == 0 {
				t.Fatalf("manifests with %s pass the TLS checks", tc.name)
			}
			t.Logf("refused as expected: %v", problems)
		})
	}
}

// deploy/k8s/certs.sh, run for real (openssl), makes the Secret the pods mount: for every pod of the StatefulSet, the
// files its environment names exist in the Secret, its key matches its certificate, which chains to ca.crt for both
// server and client use and names the pod's node ID (URI SAN) and its advertised host (DNS SAN).
func TestCertsScriptMakesTheSecretThePodsUse(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not installed")
	}
	s := load(t)
	sts := theStatefulSet(t, s)
	c := theContainer(t, sts)
	const ns = "certs-test"
	dir := t.TempDir()
	cmd := exec.Command("bash", filepath.Join(s.Dir, "certs.sh"), "--namespace", ns, "--dir", dir)
	outb, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("certs.sh: %v\n%s", err, outb)
	}
	if out := string(outb); !strings.Contains(out, "kubectl apply -n "+ns+" -f "+dir+"/secret.yaml") {
		t.Errorf("certs.sh does not print how to apply the Secret:\n%s", out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "secret.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := DecodeStream("secret.yaml", raw)
	if err != nil {
		t.Fatalf("secret.yaml does not decode strictly: %v", err)
	}
	if len(objs) != 1 {
		t.Fatalf("secret.yaml holds %d objects, want 1", len(objs))
	}
	secret, ok := objs[0].Obj.(*corev1.Secret)
	if !ok || secret.Name != certsSecretName || secret.Namespace != "" {
		t.Fatalf("secret.yaml holds %s, want Secret %s without a namespace", objs[0], certsSecretName)
	}
	if _, leaked := secret.Data["ca.key"]; leaked {
		t.Errorf("the Secret holds the CA's key")
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(secret.Data["ca.crt"]) {
		t.Fatalf("ca.crt in the Secret is no PEM certificate")
	}
	for ord := 0; ord < int(*sts.Spec.Replicas); ord++ {
		pod := fmt.Sprintf("%s-%d", sts.Name, ord)
		env, err := s.PodEnv(c, pod, ns)
		if err != nil {
			t.Fatal(err)
		}
		file := func(name string) []byte {
			rel, err := filepath.Rel(env["MESHKV_CERTS_DIR"], env[name])
			if err != nil || strings.Contains(rel, "/") {
				t.Fatalf("%s: %s %s is not in the certs dir", pod, name, env[name])
			}
			data, ok := secret.Data[rel]
			if !ok {
				t.Fatalf("%s: %s names %s, which the Secret does not hold", pod, name, rel)
			}
			return data
		}
		certPEM, keyPEM := file("MESHKV_TLS_CERT"), file("MESHKV_TLS_KEY")
		if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
			t.Errorf("%s: key and certificate do not match: %v", pod, err)
		}
		block, _ := pem.Decode(certPEM)
		if block == nil {
			t.Fatalf("%s: no PEM certificate", pod)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("%s: certificate does not verify against ca.crt for usage %v: %v", pod, usage, err)
			}
		}
		wantURI := "urn:meshkv:node:" + env["MESHKV_NODE_ID"]
		if len(cert.URIs) != 1 || cert.URIs[0].String() != wantURI {
			t.Errorf("%s: URI SANs %v, want exactly %s (the node ID the pod claims)", pod, cert.URIs, wantURI)
		}
		host, _, _ := strings.Cut(env["MESHKV_ADVERTISE_ADDR"], ":")
		for _, h := range []string{host, "meshkv." + ns + ".svc", "localhost"} {
			if err := cert.VerifyHostname(h); err != nil {
				t.Errorf("%s: certificate does not name host %s: %v", pod, h, err)
			}
		}
	}
}
