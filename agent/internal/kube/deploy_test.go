package kube

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite deploy/kubernetes from the code")

const deployDir = "../../../deploy/kubernetes"

// TestDeployManifests fails when deploy/kubernetes differs from what the
// code builds; `make deploy` (go test -update) rewrites it.
func TestDeployManifests(t *testing.T) {
	files, err := DeployManifests()
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range files {
		path := filepath.Join(deployDir, name)
		if *update {
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s differs from the code that builds it (%v): run `make deploy` and commit", path, err)
		}
	}
	entries, _ := os.ReadDir(deployDir)
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok {
			t.Errorf("%s/%s is not generated: remove it or generate it", deployDir, e.Name())
		}
	}
}

// The generated files say what they must: read back, the pod is the one
// BuildPod makes, the namespace is privileged, and the roles grant
// exactly Needed.
func TestDeployManifestsContent(t *testing.T) {
	files, err := DeployManifests()
	if err != nil {
		t.Fatal(err)
	}
	docs := func(name string) []string {
		return strings.Split(string(files[name]), "---\n")[1:]
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict([]byte(docs("probe-pod.yaml")[0]), &pod); err != nil {
		t.Fatal(err)
	}
	want := BuildPod(ExamplePodOptions())
	if pod.Spec.NodeName != "NODE" || !pod.Spec.HostPID || pod.Spec.Containers[0].SecurityContext.Capabilities.Add[1] != "SYS_PTRACE" ||
		pod.Spec.SecurityContext.AppArmorProfile.Type != corev1.AppArmorProfileTypeUnconfined || pod.Name != want.Name {
		t.Errorf("example pod: %+v", pod.Spec)
	}
	var ns corev1.Namespace
	if err := yaml.UnmarshalStrict([]byte(docs("namespace.yaml")[0]), &ns); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"enforce", "audit", "warn"} {
		if ns.Labels["pod-security.kubernetes.io/"+mode] != "privileged" {
			t.Errorf("namespace %s label: %v", mode, ns.Labels)
		}
	}
	var granted []string
	for _, d := range docs("rbac.yaml") {
		var r rbacv1.Role // ClusterRole has the same rules shape
		if err := yaml.Unmarshal([]byte(d), &r); err != nil {
			t.Fatal(err)
		}
		for _, rule := range r.Rules {
			for _, res := range rule.Resources {
				for _, v := range rule.Verbs {
					scope := "cluster"
					if r.Namespace != "" {
						scope = r.Namespace
					}
					granted = append(granted, v+" "+res+" "+scope)
				}
			}
		}
	}
	var needed []string
	for _, p := range Needed {
		scope := "cluster"
		if p.Namespaced {
			scope = DefaultNamespace
		}
		needed = append(needed, p.Verb+" "+p.resource()+" "+scope)
	}
	slices.Sort(granted)
	slices.Sort(needed)
	if !slices.Equal(granted, needed) {
		t.Errorf("rbac.yaml grants\n%v\nthe agent needs\n%v", granted, needed)
	}
	if strings.Contains(string(files["rbac.yaml"]), "pods/attach") || strings.Contains(string(files["rbac.yaml"]), "\"*\"") {
		t.Error("no attach, no wildcards")
	}
}
