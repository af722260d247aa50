// Package probeimage carries the probe binaries inside the agent and turns
// one of them into a one-layer image archive in memory (the `docker save`
// format that ImageLoad accepts), so the probe image never comes from a
// registry. It owns the image's name, labels and content identity; it does
// not talk to any engine.
package probeimage

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"time"
)

//go:embed bins
var bins embed.FS

// Repository is the image name; the tag is the tool's version.
const Repository = "dockprobe/probe"

// Labels on the image and on every probe container.
const (
	// LabelContent holds the sha256 of the probe binary; an image whose
	// label differs from the embedded binary is stale and is reloaded.
	LabelContent = "io.dockprobe.probe.sha256"
	LabelVersion = "io.dockprobe.version"
)

// ErrNoBinary means the agent was built without the probe for an
// architecture.
var ErrNoBinary = errors.New("this agent carries no probe binary for that architecture")

// epoch is the fixed timestamp in every archive, so the same binary always
// yields the same image ID.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Image is one architecture's probe image, ready to load.
type Image struct {
	Ref    string // dockprobe/probe:<version>
	Arch   string // GOARCH
	Digest string // sha256 of the probe binary, hex
	binary []byte
}

var digests sync.Map // arch -> hex digest

// Lookup returns the probe image for a GOARCH (amd64, arm64).
func Lookup(arch, version string) (*Image, error) {
	b, err := fs.ReadFile(bins, "bins/probe-linux-"+arch)
	if err != nil {
		return nil, fmt.Errorf("%w: linux/%s (build it with `make`)", ErrNoBinary, arch)
	}
	d, ok := digests.Load(arch)
	if !ok {
		sum := sha256.Sum256(b)
		d, _ = digests.LoadOrStore(arch, hex.EncodeToString(sum[:]))
	}
	return &Image{Ref: Repository + ":" + tagFor(version), Arch: arch, Digest: d.(string), binary: b}, nil
}

// tagFor makes a version usable as an image tag ([A-Za-z0-9_.-], ≤128).
func tagFor(v string) string {
	out := make([]byte, 0, len(v))
	for i := 0; i < len(v) && len(out) < 128; i++ {
		c := v[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '-':
			out = append(out, c)
		default:
			out = append(out, '-')
		}
	}
	if len(out) == 0 || out[0] == '.' || out[0] == '-' {
		out = append([]byte("v"), out...)
	}
	return string(out)
}

// Labels returns the labels the image carries.
func (im *Image) Labels(version string) map[string]string {
	return map[string]string{LabelContent: im.Digest, LabelVersion: version}
}

// Archive builds the image as a docker-archive (what `docker save` writes):
// manifest.json, the image config and one layer holding /probe.
func (im *Image) Archive(version string) ([]byte, error) {
	layer, err := im.layer()
	if err != nil {
		return nil, err
	}
	layerSum := sha256.Sum256(layer)
	layerHex := hex.EncodeToString(layerSum[:])

	config := imageConfig{
		Architecture: im.Arch,
		OS:           "linux",
		Created:      epoch,
		Config: containerConfig{
			Entrypoint: []string{"/probe"},
			User:       "0:0",
			WorkingDir: "/",
			Labels:     im.Labels(version),
		},
		RootFS:  rootFS{Type: "layers", DiffIDs: []string{"sha256:" + layerHex}},
		History: []history{{Created: epoch, CreatedBy: "dockprobe agent: probe image built in memory"}},
	}
	configJSON, err := json.Marshal(config)
	if err != nil {
		return nil, fmt.Errorf("encode image config: %w", err)
	}
	configSum := sha256.Sum256(configJSON)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	layerName := layerHex + "/layer.tar"
	manifest, err := json.Marshal([]manifestEntry{{Config: configName, RepoTags: []string{im.Ref}, Layers: []string{layerName}}})
	if err != nil {
		return nil, fmt.Errorf("encode manifest: %w", err)
	}

	var buf bytes.Buffer
	buf.Grow(len(layer) + 8<<10)
	tw := tar.NewWriter(&buf)
	for _, f := range []struct {
		name string
		data []byte
	}{
		{configName, configJSON},
		{layerHex + "/", nil},
		{layerName, layer},
		{"manifest.json", manifest},
	} {
		if err := writeEntry(tw, f.name, f.data, 0o644); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close image archive: %w", err)
	}
	return buf.Bytes(), nil
}

// layer is the image's only layer: a tar holding /probe.
func (im *Image) layer() ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(len(im.binary) + 4<<10)
	tw := tar.NewWriter(&buf)
	if err := writeEntry(tw, "probe", im.binary, 0o555); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close layer: %w", err)
	}
	return buf.Bytes(), nil
}

func writeEntry(tw *tar.Writer, name string, data []byte, mode int64) error {
	hdr := &tar.Header{Name: name, Mode: mode, Size: int64(len(data)), ModTime: epoch, Format: tar.FormatPAX, Typeflag: tar.TypeReg}
	if name[len(name)-1] == '/' {
		hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeDir, 0o755, 0
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write %s header: %w", name, err)
	}
	if len(data) > 0 {
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

type manifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

type imageConfig struct {
	Architecture string          `json:"architecture"`
	OS           string          `json:"os"`
	Created      time.Time       `json:"created"`
	Config       containerConfig `json:"config"`
	RootFS       rootFS          `json:"rootfs"`
	History      []history       `json:"history"`
}

type containerConfig struct {
	Entrypoint []string          `json:"Entrypoint"`
	User       string            `json:"User"`
	WorkingDir string            `json:"WorkingDir"`
	Labels     map[string]string `json:"Labels"`
}

type rootFS struct {
	Type    string   `json:"type"`
	DiffIDs []string `json:"diff_ids"`
}

type history struct {
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
}
