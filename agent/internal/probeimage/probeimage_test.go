package probeimage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"strings"
	"testing"
)

// lookupOrSkip returns the amd64 image, or skips when the agent was built
// without the probe (go test before make).
func lookupOrSkip(t *testing.T) *Image {
	t.Helper()
	im, err := Lookup("amd64", "dev")
	if err != nil {
		t.Skipf("no embedded probe (run make probe): %v", err)
	}
	return im
}

// TestEmbeddedDigest: the digest make writes at build time is the
// binary's sha256, so the image label (and the stale-image check) tells
// the truth.
func TestEmbeddedDigest(t *testing.T) {
	for _, arch := range []string{"amd64", "arm64"} {
		path := "bins/probe-linux-" + arch
		bin, err := fs.ReadFile(bins, path)
		if err != nil {
			continue
		}
		sum := sha256.Sum256(bin)
		want := hex.EncodeToString(sum[:])
		if side, err := fs.ReadFile(bins, path+".sha256"); err == nil {
			if got := strings.Fields(string(side)); len(got) == 0 || got[0] != want {
				t.Errorf("%s.sha256 = %q, the binary's sha256 is %s: rebuild with make", path, side, want)
			}
		}
		got, err := binaryDigest(path)
		if err != nil || got != want {
			t.Errorf("binaryDigest(%s) = %s, %v; want %s", path, got, err, want)
		}
	}
}

// TestArchive: the streamed archive is a valid docker-archive whose
// config names the layer's real sha256, whose layer is exactly what
// tar.Writer writes for /probe, and which is the same on every run.
func TestArchive(t *testing.T) {
	im := lookupOrSkip(t)
	a, err := im.Archive("dev")
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(a))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		files[h.Name] = b
	}
	var manifest []manifestEntry
	if err := json.Unmarshal(files["manifest.json"], &manifest); err != nil || len(manifest) != 1 || len(manifest[0].Layers) != 1 {
		t.Fatalf("manifest.json: %s (%v)", files["manifest.json"], err)
	}
	m := manifest[0]
	if len(m.RepoTags) != 1 || m.RepoTags[0] != im.Ref {
		t.Errorf("RepoTags = %v", m.RepoTags)
	}
	configJSON := files[m.Config]
	if sum := sha256.Sum256(configJSON); m.Config != hex.EncodeToString(sum[:])+".json" {
		t.Errorf("config %s does not hash to its name", m.Config)
	}
	var config imageConfig
	if err := json.Unmarshal(configJSON, &config); err != nil {
		t.Fatal(err)
	}
	layer := files[m.Layers[0]]
	if sum := sha256.Sum256(layer); len(config.RootFS.DiffIDs) != 1 || config.RootFS.DiffIDs[0] != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Errorf("diff_ids %v, layer sha256 %x", config.RootFS.DiffIDs, sum)
	}
	if config.Config.Labels[LabelContent] != im.Digest || config.Architecture != "amd64" {
		t.Errorf("config: %s", configJSON)
	}

	bin, _ := fs.ReadFile(bins, im.path)
	var want bytes.Buffer
	tw := tar.NewWriter(&want)
	if err := writeEntry(tw, "probe", bin, 0o555); err != nil {
		t.Fatal(err)
	}
	tw.Close()
	if !bytes.Equal(layer, want.Bytes()) {
		t.Errorf("layer: %d bytes, tar.Writer writes %d", len(layer), want.Len())
	}

	b, err := im.Archive("dev")
	if err != nil || !bytes.Equal(a, b) {
		t.Errorf("a second archive differs (%v)", err)
	}
}
