package imagesave

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
)

// loadOrSkip returns the amd64 probe, or skips when the agent was built
// without it (go test before make; `make unit` builds it first).
func loadOrSkip(t *testing.T, arch string) *Probe {
	t.Helper()
	p, err := Load(arch, "dev")
	if errors.Is(err, probeimage.ErrNoBinary) {
		t.Skipf("no embedded probe (run make probe): %v", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// untar writes the archive's files under dir.
func untar(t *testing.T, archive []byte, dir string) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		p := filepath.Join(dir, h.Name)
		if h.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			continue
		}
		b, _ := io.ReadAll(tr)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSaveReadsBackBothWays reads the archive as docker load does
// (manifest.json) and as ctr import does (the OCI layout's index.json):
// both find the same image, whose config (the image ID) is the one the
// agent's own docker-archive has.
func TestSaveReadsBackBothWays(t *testing.T) {
	p := loadOrSkip(t, "amd64")
	var a, b bytes.Buffer
	if err := Save(&a, p.Image, p.Ref); err != nil {
		t.Fatal(err)
	}
	if err := Save(&b, p.Image, p.Ref); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two saves of one image differ")
	}
	dir := t.TempDir()
	names := untar(t, a.Bytes(), dir)
	for _, want := range []string{"oci-layout", "index.json", "manifest.json"} {
		if !strings.Contains(strings.Join(names, " "), want) {
			t.Errorf("archive lacks %s: %v", want, names)
		}
	}
	wantID, err := p.Image.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	// The agent's docker-archive names its config by the same digest.
	im, _ := probeimage.Lookup("amd64", "dev")
	raw, _ := im.Archive("dev")
	if !bytes.Contains(raw, []byte(wantID.Hex+".json")) {
		t.Errorf("image ID %s differs from the docker-archive's", wantID)
	}

	// docker load's view.
	path := filepath.Join(t.TempDir(), "probe.tar")
	os.WriteFile(path, a.Bytes(), 0o644)
	tag, _ := name.NewTag(p.Ref)
	dimg, err := tarball.ImageFromPath(path, &tag)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := dimg.ConfigName(); id != wantID {
		t.Errorf("manifest.json: config %s, want %s", id, wantID)
	}
	// ctr import's view.
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	im2, err := idx.IndexManifest()
	if err != nil || len(im2.Manifests) != 1 {
		t.Fatalf("index %v %v", im2, err)
	}
	d := im2.Manifests[0]
	if d.Annotations["io.containerd.image.name"] != "docker.io/dockprobe/probe:dev" || d.Platform.Architecture != "amd64" {
		t.Errorf("index entry %+v", d)
	}
	oimg, err := idx.Image(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := oimg.ConfigName(); id != wantID {
		t.Errorf("index.json: config %s, want %s", id, wantID)
	}
	layers, err := oimg.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %v %v", layers, err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	h, err := tar.NewReader(rc).Next()
	rc.Close()
	if err != nil || h.Name != "probe" || h.Mode&0o111 == 0 {
		t.Errorf("layer's first entry %+v %v", h, err)
	}
}

// TestPush pushes to an in-memory registry on loopback and pulls the
// index back: one manifest per architecture carried, each the saved image.
func TestPush(t *testing.T) {
	p := loadOrSkip(t, "amd64")
	probes := []*Probe{p}
	if arm, err := Load("arm64", "dev"); err == nil {
		probes = append(probes, arm)
	}
	srv := httptest.NewServer(registry.New(registry.Logger(nilLogger())))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	ref := u.Host + "/team/dockprobe-probe:dev"
	digest, err := Push(context.Background(), ref, probes)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := name.ParseReference(ref + "@" + digest)
	idx, err := remote.Index(r)
	if err != nil {
		t.Fatal(err)
	}
	m, err := idx.IndexManifest()
	if err != nil || len(m.Manifests) != len(probes) {
		t.Fatalf("%d manifests for %d probes: %v", len(m.Manifests), len(probes), err)
	}
	for i, d := range m.Manifests {
		if d.Platform.Architecture != probes[i].Arch || d.Platform.OS != "linux" {
			t.Errorf("platform %+v", d.Platform)
		}
		want, _ := probes[i].Image.Digest()
		if d.Digest != want {
			t.Errorf("%s: pushed %s, saved %s", probes[i].Arch, d.Digest, want)
		}
	}
	if _, err := Push(context.Background(), "not a ref!", probes); !errors.Is(err, ErrPush) {
		t.Errorf("bad reference: %v", err)
	}
}

func TestRunImageUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"load"}, {"save"}, {"save", "-o", "x", "extra"}, {"push"}, {"push", "a", "b"}, {"save", "-o", "x", "--arch", "s390x"}, {"save", "--bogus"}} {
		err := RunImage(context.Background(), args, io.Discard, io.Discard)
		if !errors.Is(err, ErrUsage) {
			if errors.Is(err, probeimage.ErrNoBinary) {
				continue // --arch s390x on an agent without probes
			}
			t.Errorf("%q: %v, want a usage error", args, err)
		}
	}
}

func TestRunImageSave(t *testing.T) {
	loadOrSkip(t, "amd64")
	path := filepath.Join(t.TempDir(), "probe.tar")
	var stderr strings.Builder
	if err := RunImage(context.Background(), []string{"save", "-o", path, "--arch", "amd64"}, io.Discard, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "ctr -n k8s.io images import probe.tar") {
		t.Errorf("stderr %q", stderr.String())
	}
	if _, err := tarball.ImageFromPath(path, nil); err != nil {
		t.Errorf("the written archive: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}
