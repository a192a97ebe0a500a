package k8s

import (
	"fmt"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// PodEnv computes the environment the kubelet would give container c of a pod named podName in namespace ns:
// envFrom ConfigMaps first (looked up in the set), then env in order, with $(VAR) references expanded against the
// variables defined so far, as the kubelet does (a reference to an undefined variable stays literally "$(VAR)";
// "$$" is an escaped "$"). Downward API fields metadata.name and metadata.namespace, and resourceFieldRef to the
// container's own limits and requests, are supported; any other
// valueFrom is reported as an error so that the test notices it.
func (s *Set) PodEnv(c *corev1.Container, podName, ns string) (map[string]string, error) {
	env := map[string]string{}
	for _, ef := range c.EnvFrom {
		switch {
		case ef.ConfigMapRef != nil:
			cm := s.ConfigMap(ef.ConfigMapRef.Name)
			if cm == nil {
				return nil, fmt.Errorf("envFrom references ConfigMap %q which is not in the manifests", ef.ConfigMapRef.Name)
			}
			for k, v := range cm.Data {
				env[ef.Prefix+k] = v
			}
		default:
			return nil, fmt.Errorf("unsupported envFrom source %+v", ef)
		}
	}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = Expand(e.Value, env)
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name":
			env[e.Name] = podName
		case e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			env[e.Name] = ns
		case e.ValueFrom.ConfigMapKeyRef != nil:
			cm := s.ConfigMap(e.ValueFrom.ConfigMapKeyRef.Name)
			if cm == nil {
				return nil, fmt.Errorf("env %s references ConfigMap %q which is not in the manifests", e.Name, e.ValueFrom.ConfigMapKeyRef.Name)
			}
			v, ok := cm.Data[e.ValueFrom.ConfigMapKeyRef.Key]
			if !ok {
				return nil, fmt.Errorf("env %s references missing key %q of ConfigMap %q", e.Name, e.ValueFrom.ConfigMapKeyRef.Key, cm.Name)
			}
			env[e.Name] = v
		case e.ValueFrom.ResourceFieldRef != nil:
			v, err := resourceField(c, e.ValueFrom.ResourceFieldRef)
			if err != nil {
				return nil, fmt.Errorf("env %s: %v", e.Name, err)
			}
			env[e.Name] = v
		default:
			return nil, fmt.Errorf("env %s: unsupported valueFrom %+v", e.Name, e.ValueFrom)
		}
	}
	return env, nil
}

// Expand implements the kubelet's $(VAR) expansion (k8s.io/kubernetes third_party/forked/golang/expansion).
func Expand(in string, vars map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		if in[i] != '$' || i+1 >= len(in) {
			b.WriteByte(in[i])
			continue
		}
		switch in[i+1] {
		case '$': // escaped
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(in[i+2:], ')')
			if end < 0 { // unterminated: kept as is
				b.WriteString(in[i:])
				return b.String()
			}
			name := in[i+2 : i+2+end]
			if v, ok := vars[name]; ok && name != "" {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

// resourceField is the kubelet's value of a resourceFieldRef to this container's own limits or requests:
// ceil(quantity / divisor), divisor 1 by default.
func resourceField(c *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	if ref.ContainerName != "" && ref.ContainerName != c.Name {
		return "", fmt.Errorf("resourceFieldRef names container %q, not its own (%q)", ref.ContainerName, c.Name)
	}
	var list corev1.ResourceList
	var name string
	switch {
	case strings.HasPrefix(ref.Resource, "limits."):
		list, name = c.Resources.Limits, strings.TrimPrefix(ref.Resource, "limits.")
	case strings.HasPrefix(ref.Resource, "requests."):
		list, name = c.Resources.Requests, strings.TrimPrefix(ref.Resource, "requests.")
	default:
		return "", fmt.Errorf("unsupported resourceFieldRef %q", ref.Resource)
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		return "", fmt.Errorf("resourceFieldRef %q: the container sets no such resource", ref.Resource)
	}
	divisor := int64(1)
	if !ref.Divisor.IsZero() {
		divisor = ref.Divisor.Value()
	}
	return strconv.FormatInt((q.Value()+divisor-1)/divisor, 10), nil
}
