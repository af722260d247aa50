// Package probeimage carries the probe binaries inside the agent and turns
// one of them into a one-layer image archive, streamed (the `docker save`
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
	"io"
	"io/fs"
	"strings"
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
	// path and size name the embedded binary; its bytes are read only
	// when an archive is written (embed.FS hands out copies, and the
	// agent's footprint must not carry the 12 MB probe when the image is
	// already on the engine).
	path string
	size int64
}

var digests sync.Map // arch -> hex digest

// Lookup returns the probe image for a GOARCH (amd64, arm64).
func Lookup(arch, version string) (*Image, error) {
	path := "bins/probe-linux-" + arch
	st, err := fs.Stat(bins, path)
	if err != nil {
		return nil, fmt.Errorf("%w: linux/%s (build it with `make`)", ErrNoBinary, arch)
	}
	d, ok := digests.Load(arch)
	if !ok {
		sum, err := binaryDigest(path)
		if err != nil {
			return nil, err
		}
		d, _ = digests.LoadOrStore(arch, sum)
	}
	return &Image{Ref: Repository + ":" + tagFor(version), Arch: arch, Digest: d.(string), path: path, size: st.Size()}, nil
}

// binaryDigest is the probe binary's sha256: the one make wrote next to
// it at build time (probe-linux-ARCH.sha256, as sha256sum prints it), or,
// for an agent built by plain `go build` without that file, hashed now.
// TestEmbeddedDigest keeps the two in agreement.
func binaryDigest(path string) (string, error) {
	if b, err := fs.ReadFile(bins, path+".sha256"); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 && len(f[0]) == sha256.Size*2 {
			if _, err := hex.DecodeString(f[0]); err == nil {
				return strings.ToLower(f[0]), nil
			}
		}
	}
	f, err := bins.Open(path)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrNoBinary, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hash the embedded probe: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Tag is the image tag for a tool version: Lookup's Ref is
// Repository + ":" + Tag(version) for every architecture.
func Tag(version string) string { return tagFor(version) }

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

// Archive builds the image as a docker-archive (what `docker save` writes)
// in memory: see WriteArchive. Loaders that take a stream should use
// WriteArchive instead and hold no copy of the archive.
func (im *Image) Archive(version string) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(im.size) + 8<<10)
	if err := im.WriteArchive(&buf, version); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteArchive streams the image as a docker-archive: one layer holding
// /probe, the image config and manifest.json. The layer comes first so
// that its sha256 (the config's diff_id) is computed while it is written,
// in the same single pass over the binary; `docker load` (moby's
// tarexport unpacks the whole archive before reading manifest.json) and
// containerd's importer (which stores every entry as a blob first) do not
// depend on the order. The config, and so the image ID, is the same as
// long as the binary is.
func (im *Image) WriteArchive(w io.Writer, version string) error {
	layerHdr, err := im.layerHeader()
	if err != nil {
		return err
	}
	// The layer tar: its header, the binary padded to a block, and the
	// two zero blocks that end a tar; exactly what tar.Writer produces,
	// laid out by hand so that its size is known before it is written.
	pad := (blockSize - im.size%blockSize) % blockSize
	layerSize := int64(len(layerHdr)) + im.size + pad + 2*blockSize

	f, err := bins.Open(im.path)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNoBinary, err)
	}
	defer f.Close()

	tw := tar.NewWriter(w)
	// The directory's name is the layer's sha256, unknown until it has
	// been written; docker load only requires that manifest.json names
	// the right path, so the layer goes under a fixed name.
	const layerName = "layer/layer.tar"
	if err := writeEntry(tw, "layer/", nil, 0o755); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: layerName, Mode: 0o644, Size: layerSize, ModTime: epoch, Format: tar.FormatPAX, Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("write %s header: %w", layerName, err)
	}
	h := sha256.New()
	lw := io.MultiWriter(tw, h)
	if _, err := lw.Write(layerHdr); err != nil {
		return fmt.Errorf("write layer: %w", err)
	}
	if n, err := io.Copy(lw, f); err != nil || n != im.size {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("write layer: copied %d of %d bytes of the probe: %w", n, im.size, err)
	}
	if _, err := lw.Write(make([]byte, pad+2*blockSize)); err != nil {
		return fmt.Errorf("write layer: %w", err)
	}
	layerHex := hex.EncodeToString(h.Sum(nil))

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
		return fmt.Errorf("encode image config: %w", err)
	}
	configSum := sha256.Sum256(configJSON)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	manifest, err := json.Marshal([]manifestEntry{{Config: configName, RepoTags: []string{im.Ref}, Layers: []string{layerName}}})
	if err != nil {
		return fmt.Errorf("encode manifest: %w", err)
	}
	if err := writeEntry(tw, configName, configJSON, 0o644); err != nil {
		return err
	}
	if err := writeEntry(tw, "manifest.json", manifest, 0o644); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("close image archive: %w", err)
	}
	return nil
}

const blockSize = 512

// layerHeader is the tar header of /probe in the layer, as tar.Writer
// writes it for the binary's size.
func (im *Image) layerHeader() ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Name: "probe", Mode: 0o555, Size: im.size, ModTime: epoch, Format: tar.FormatPAX, Typeflag: tar.TypeReg}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("write probe header: %w", err)
	}
	// No Close: it would pad and end the tar, which the caller does.
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
