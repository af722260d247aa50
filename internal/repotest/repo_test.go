package repotest

import (
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

type pkg struct {
	ImportPath string
	Doc        string
	Dir        string
	Imports    []string
	Deps       []string
	GoFiles    []string
}

// list runs `go list -json` with args and decodes every package.
func list(t *testing.T, args ...string) []pkg {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return pkgs
}

const module = "github.com/dockprobe/dockprobe"

func TestEveryPackageHasADocComment(t *testing.T) {
	for _, p := range list(t, "./...") {
		if len(p.GoFiles) == 0 {
			continue // test-only packages
		}
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("package %s has no doc comment (say what it owns and when not to use it)", p.ImportPath)
		}
	}
}

func TestDependencyRules(t *testing.T) {
	rules := []struct {
		root      string
		forbidden []string
		why       string
	}{
		{"./probe/cmd/probe", []string{module + "/agent/", "github.com/moby/moby/client", "github.com/spf13/cobra", "github.com/docker/"},
			"the probe is minimal: it never imports the agent, an engine SDK or the CLI library"},
		{"./agent/cmd/agent", []string{module + "/probe/", "github.com/docker/docker/"},
			"the agent shares only proto/ with the probe and uses github.com/moby/moby/client, not the frozen docker/docker client"},
		{"./agent/cmd/agent", []string{"k8s.io/client-go/kubernetes", "k8s.io/client-go/gentype", "k8s.io/client-go/testing", "k8s.io/client-go/discovery"},
			"the agent talks to Kubernetes through kube.API (two API groups): client-go's clientset, discovery and gentype register or carry every group and the OpenAPI code, 26 MB of the binary that every run, Docker's too, pages in at start"},
	}
	for _, r := range rules {
		for _, p := range list(t, "-deps", r.root) {
			for _, f := range r.forbidden {
				if strings.HasPrefix(p.ImportPath, f) || p.ImportPath == strings.TrimSuffix(f, "/") {
					t.Errorf("%s depends on %s: %s", r.root, p.ImportPath, r.why)
				}
			}
		}
	}
}

// TestShippedBinariesLeaveOutGRPCTrace keeps the Makefile's GOTAGS doing
// its job: built as shipped, neither binary carries grpc's request tracing
// (golang.org/x/net/trace pulls in html/template; 3.2 MB of the probe
// image, which has a 12 MB budget).
func TestShippedBinariesLeaveOutGRPCTrace(t *testing.T) {
	mk, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	var tags string
	for _, line := range strings.Split(string(mk), "\n") {
		if name, value, ok := strings.Cut(line, ":="); ok && strings.TrimSpace(name) == "GOTAGS" {
			tags = strings.TrimSpace(value)
		}
	}
	if !strings.Contains(tags, "grpcnotrace") {
		t.Fatalf("the Makefile's GOTAGS is %q: it must hold grpcnotrace", tags)
	}
	for _, root := range []string{"./probe/cmd/probe", "./agent/cmd/agent"} {
		for _, p := range list(t, "-tags", tags, "-deps", root) {
			if p.ImportPath == "golang.org/x/net/trace" || p.ImportPath == "html/template" && root == "./probe/cmd/probe" {
				t.Errorf("%s built with -tags %s still depends on %s", root, tags, p.ImportPath)
			}
		}
	}
}

func TestOnlyTheCLIImportsCobra(t *testing.T) {
	for _, p := range list(t, "./...") {
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "github.com/spf13/cobra") && !strings.HasSuffix(p.ImportPath, "/agent/internal/cli") {
				t.Errorf("%s imports %s; only agent/internal/cli may import the CLI library", p.ImportPath, imp)
			}
		}
	}
}
