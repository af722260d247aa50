package bench

import (
	"os"
	"strings"
	"testing"
	"time"
)

const twoEngines = `# Benchmarks

## Targets

| target | Docker 20.10 | | Docker 29 | |
|---|---|---|---|---|
| (a)/(e) ≤ 1.05 | 1.24 | **not met** | 1.44 | **not met** |
| scale: collection ≤ 300 ms | 139 ms | **met** | | |

Columns ...

## Docker 20.10, Debian's

deb rows

## Scale

scale rows

## How to reproduce

make bench
`

func kRow(measured string, ok bool) []target {
	return []target{{"(k)/kubectl ≤ 0.90: x", measured, is(ok)}}
}

func TestMergeKubeInsertsRowAndSection(t *testing.T) {
	got, err := mergeKube(twoEngines, kRow("0.80", true), "## Kubernetes: (k)\n\nk rows\n")
	if err != nil {
		t.Fatal(err)
	}
	// The row goes at the end of the table, padded to both engines'
	// columns; the section before ## Scale; nothing else changes.
	want := strings.Replace(twoEngines, "| scale: collection ≤ 300 ms | 139 ms | **met** | | |\n",
		"| scale: collection ≤ 300 ms | 139 ms | **met** | | |\n| (k)/kubectl ≤ 0.90: x | 0.80 | **met** | | |\n", 1)
	want = strings.Replace(want, "## Scale\n", "## Kubernetes: (k)\n\nk rows\n\n## Scale\n", 1)
	if got != want {
		t.Errorf("merged:\n%s\nwant:\n%s", got, want)
	}
}

func TestMergeKubeReplacesItsOwnOnly(t *testing.T) {
	first, err := mergeKube(twoEngines, kRow("0.80", true), "## Kubernetes: (k)\n\nold rows\nmore\n")
	if err != nil {
		t.Fatal(err)
	}
	got, err := mergeKube(first, kRow("1.10", false), "## Kubernetes: (k)\n\nnew rows\n")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(got, "| (k)") != 1 || !strings.Contains(got, "| (k)/kubectl ≤ 0.90: x | 1.10 | **not met** | | |") {
		t.Errorf("want exactly the new (k) row:\n%s", got)
	}
	if strings.Contains(got, "old rows") || strings.Count(got, "## Kubernetes") != 1 || !strings.Contains(got, "new rows\n\n## Scale") {
		t.Errorf("want the section replaced in place:\n%s", got)
	}
	for _, keep := range []string{"deb rows", "scale rows", "| (a)/(e) ≤ 1.05 | 1.24 |", "make bench"} {
		if !strings.Contains(got, keep) {
			t.Errorf("lost %q:\n%s", keep, got)
		}
	}
}

func TestMergeKubeWithoutScaleOrTable(t *testing.T) {
	doc := "# B\n\n## Targets\n\n| target | measured | |\n|---|---|---|\n\n## How to reproduce\n\nx\n"
	got, err := mergeKube(doc, kRow("0.50", true), "## Kubernetes\n\nk\n")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got, "|---|---|---|\n| (k)/kubectl ≤ 0.90: x | 0.50 | **met** |\n") || !strings.Contains(got, "k\n\n## How to reproduce") {
		t.Errorf("merged:\n%s", got)
	}
	if _, err := mergeKube("# B\n\nno table\n", kRow("0.50", true), "## Kubernetes\n"); err == nil {
		t.Error("a file without a Targets table merged; want an error")
	}
}

func TestNodeTook(t *testing.T) {
	// protojson writes int64 as a string.
	took, err := nodeTook([]byte(`{"nodes":[{"name":"n1","durationMs":"1234","report":{}}]}`))
	if err != nil || took != 1234*time.Millisecond {
		t.Errorf("nodeTook = %v, %v; want 1.234s", took, err)
	}
	if _, err := nodeTook([]byte(`{"nodes":[{"name":"n1","durationMs":"9","error":{"kind":"timeout","message":"late"}}]}`)); err == nil || !strings.Contains(err.Error(), "late") {
		t.Errorf("a node's error: %v; want it named", err)
	}
	if _, err := nodeTook([]byte(`{"nodes":[]}`)); err == nil {
		t.Error("no node: want an error")
	}
}

func TestKubectlRequests(t *testing.T) {
	log := "I1201 08:11:23.100000   77 loader.go:402] Config loaded from file\n" +
		"I1201 08:11:23.150500   77 round_trippers.go:632] \"Response\" verb=\"POST\" status=\"201 Created\" milliseconds=5\n" +
		"pod \"x\" deleted\n"
	got := kubectlRequests([]byte(log))
	want := []string{"   +50.5ms \"Response\" verb=\"POST\" status=\"201 Created\" milliseconds=5"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("kubectlRequests =\n%q\nwant\n%q", got, want)
	}
}

func TestAgentSteps(t *testing.T) {
	got := agentSteps([]byte("agent:   12.0ms connect\nprobe n1: log line\nagent: node n1:    3.0ms exec\n"))
	if len(got) != 2 || got[0] != "12.0ms connect" || got[1] != "node n1:    3.0ms exec" {
		t.Errorf("agentSteps = %q", got)
	}
}

// A file of (k) alone (-only kubernetes with no earlier file) is whole:
// its Targets table, its section, no engine columns.
func TestWriteKubeAlone(t *testing.T) {
	out := t.TempDir() + "/benchmarks.md"
	ms := func(v ...int) []time.Duration {
		var d []time.Duration
		for _, x := range v {
			d = append(d, time.Duration(x)*time.Millisecond)
		}
		return d
	}
	k := &kubeBench{o: options{k8sID: "t"}, res: &kubeResults{
		Node: "t-node1", K: ms(1000, 1200), Anchor: ms(2000, 1000), KFirst: []bool{true, false},
		NodeTook: ms(900, 1100), AgentRSS: []int64{40000, 41000},
	}}
	s := &suite{o: options{out: out, agent: "bin/agent", k8sID: "t", only: "kubernetes"}, kube: k}
	if err := s.merge(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	// Ratios 0.50 and 1.20: the median is 0.85, met.
	for _, want := range []string{"| target | measured | |\n|---|---|---|\n| (k)/kubectl ≤ 0.90", "| 0.85 | **met** |\n", "## Kubernetes", "| 2 | kubectl | 1200 ms | 1000 ms | 1.20 | 1100 ms | 100 ms |"} {
		if !strings.Contains(doc, want) {
			t.Errorf("no %q in:\n%s", want, doc)
		}
	}
	if strings.Contains(doc, "Columns of the engine sections") {
		t.Errorf("engine columns described with no engine:\n%s", doc)
	}
}
