// Package imagesave hands the embedded probe image to places the agent
// cannot load it into itself: an archive for a Kubernetes node
// (`agent image save -o probe.tar`, which both `ctr -n k8s.io images
// import` and `docker load` accept) and a registry the user controls
// (`agent image push REF`). The image is the one probeimage builds for
// `docker load`, read back with go-containerregistry, so its config and
// image ID are the same everywhere. Registry code is go-containerregistry's;
// this package only chooses what to write.
package imagesave

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/distribution/reference"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/dockprobe/dockprobe/agent/internal/probeimage"
)

// Arches are the architectures an agent may carry a probe for.
var Arches = []string{"amd64", "arm64"}

// Probe is one architecture's probe image and the reference it is saved
// under (dockprobe/probe:<version>).
type Probe struct {
	Arch  string
	Ref   string
	Image v1.Image
}

// Load returns the embedded probe image for arch as a go-containerregistry
// image, built from the docker-archive probeimage writes (held in memory:
// about the probe's size).
func Load(arch, version string) (*Probe, error) {
	im, err := probeimage.Lookup(arch, version)
	if err != nil {
		return nil, err
	}
	archive, err := im.Archive(version)
	if err != nil {
		return nil, err
	}
	img, err := FromDockerArchive(archive, im.Ref)
	if err != nil {
		return nil, err
	}
	return &Probe{Arch: arch, Ref: im.Ref, Image: img}, nil
}

// FromDockerArchive reads a docker-archive (`docker save` format) holding
// ref as a go-containerregistry image.
func FromDockerArchive(archive []byte, ref string) (v1.Image, error) {
	tag, err := name.NewTag(ref)
	if err != nil {
		return nil, fmt.Errorf("image reference %q: %w", ref, err)
	}
	img, err := tarball.Image(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(archive)), nil
	}, &tag)
	if err != nil {
		return nil, fmt.Errorf("read the probe image archive: %w", err)
	}
	return img, nil
}

// epoch is the archive entries' fixed time, so the same image always
// yields the same archive.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Save writes img as one tar that both loaders accept, as `docker save`
// has written since Docker 25: an OCI image layout (oci-layout,
// index.json, blobs/sha256/…), which `ctr images import` reads (the
// io.containerd.image.name annotation names the image), and docker's
// manifest.json naming the same blobs, which `docker load` reads (older
// Docker included: it decompresses the gzip layers). go-containerregistry
// writes each format alone but not the two in one archive; the blobs are
// its.
func Save(w io.Writer, img v1.Image, ref string) error {
	tag, err := name.NewTag(ref)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	// containerd names images in the normalized form (docker.io/...,
	// where go-containerregistry says index.docker.io).
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return fmt.Errorf("image reference %q: %w", ref, err)
	}
	rawManifest, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("image manifest: %w", err)
	}
	manifestDigest, err := img.Digest()
	if err != nil {
		return err
	}
	mediaType, err := img.MediaType()
	if err != nil {
		return err
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("image config: %w", err)
	}
	configName, err := img.ConfigName()
	if err != nil {
		return err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return err
	}

	tw := tar.NewWriter(w)
	file := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		return nil
	}
	blob := func(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }
	dir := func(name string) error {
		return tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, ModTime: epoch, Typeflag: tar.TypeDir, Format: tar.FormatPAX})
	}
	if err := dir("blobs/"); err != nil {
		return err
	}
	if err := dir("blobs/sha256/"); err != nil {
		return err
	}
	if err := file("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	var layerPaths []string
	for _, l := range layers {
		d, err := l.Digest()
		if err != nil {
			return err
		}
		size, err := l.Size()
		if err != nil {
			return err
		}
		rc, err := l.Compressed()
		if err != nil {
			return err
		}
		err = tw.WriteHeader(&tar.Header{Name: blob(d), Mode: 0o644, Size: size, ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX})
		if err == nil {
			var n int64
			n, err = io.Copy(tw, rc)
			if err == nil && n != size {
				err = fmt.Errorf("layer %s: %d of %d bytes", d, n, size)
			}
		}
		rc.Close()
		if err != nil {
			return fmt.Errorf("write layer: %w", err)
		}
		layerPaths = append(layerPaths, blob(d))
	}
	if err := file(blob(configName), rawConfig); err != nil {
		return err
	}
	if err := file(blob(manifestDigest), rawManifest); err != nil {
		return err
	}
	index := v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType: mediaType,
			Digest:    manifestDigest,
			Size:      int64(len(rawManifest)),
			Annotations: map[string]string{
				"io.containerd.image.name":          named.String(),
				"org.opencontainers.image.ref.name": tag.TagStr(),
			},
			Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture},
		}},
	}
	ij, err := json.Marshal(index)
	if err != nil {
		return err
	}
	if err := file("index.json", ij); err != nil {
		return err
	}
	mj, err := json.Marshal([]dockerManifest{{Config: blob(configName), RepoTags: []string{ref}, Layers: layerPaths}})
	if err != nil {
		return err
	}
	if err := file("manifest.json", mj); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("close archive: %w", err)
	}
	return nil
}

// dockerManifest is one entry of docker's manifest.json.
type dockerManifest struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// ErrPush wraps every failure to push.
var ErrPush = errors.New("push the probe image")

// Push writes the probes to ref as one multi-architecture index (a node
// of any architecture pulls its own), with the credentials docker uses
// (~/.docker/config.json and its helpers). It returns the index's digest:
// pin it as REF@DIGEST in --image.
func Push(ctx context.Context, ref string, probes []*Probe, opts ...remote.Option) (string, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return "", fmt.Errorf("%w: reference %q: %w", ErrPush, ref, err)
	}
	if len(probes) == 0 {
		return "", fmt.Errorf("%w: this agent carries no probe image (build it with `make`)", ErrPush)
	}
	var adds []mutate.IndexAddendum
	for _, p := range probes {
		adds = append(adds, mutate.IndexAddendum{Add: p.Image, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: p.Arch}}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.DockerManifestList), adds...)
	opts = append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)}, opts...)
	if err := remote.WriteIndex(r, idx, opts...); err != nil {
		return "", fmt.Errorf("%w to %s: %w", ErrPush, ref, err)
	}
	d, err := idx.Digest()
	if err != nil {
		return "", err
	}
	return d.String(), nil
}
