// Package bundle writes the diagnostics zip a support engineer receives:
// the report in every format, the raw sources it was made from, the
// engine's API answers, the agent's log, a manifest (size, sha256 and
// producer of every file; versions; timestamps; what was redacted) and a
// README for the reader.
//
// Every file and every file name goes through one redact.Scrubber in Add,
// so nothing reaches the zip unredacted. Entries are written in path order
// with the collection time as their time: the same inputs give the same
// zip.
package bundle

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dockprobe/dockprobe/agent/internal/redact"
)

// ManifestVersion is the version of manifest.json's layout.
const ManifestVersion = 1

// File is one entry of the bundle.
type File struct {
	Path     string `json:"path"`
	Size     int    `json:"size"`
	SHA256   string `json:"sha256"`
	Producer string `json:"producer"`
	// deflated is the content compressed as the zip stores it; crc is
	// its CRC-32. Both are made in Add, on the caller's goroutine, so
	// that files added concurrently are also compressed concurrently.
	deflated []byte
	crc      uint32
}

// Tool says what made the bundle.
type Tool struct {
	AgentVersion    string `json:"agentVersion"`
	ProbeVersion    string `json:"probeVersion"`
	ProtocolVersion uint32 `json:"protocolVersion"`
	ProbeImage      string `json:"probeImage"`
	ReportSchema    int32  `json:"reportSchemaVersion"`
}

// Redaction says what was hidden, never the values.
type Redaction struct {
	Enabled    bool           `json:"enabled"`
	Anonymized bool           `json:"anonymized"`
	Rules      map[string]int `json:"rules"`
	Locations  []string       `json:"locations"`
	Note       string         `json:"note"`
}

// Manifest is manifest.json.
type Manifest struct {
	ManifestVersion int       `json:"manifestVersion"`
	Tool            Tool      `json:"tool"`
	CreatedAt       string    `json:"createdAt"`
	CollectedAt     string    `json:"collectedAt"`
	Command         string    `json:"command"`
	Engine          string    `json:"engine"`
	Reduced         bool      `json:"reduced"`
	Reason          string    `json:"reason"`
	Redaction       Redaction `json:"redaction"`
	Files           []File    `json:"files"`
}

// Builder collects the files of one bundle. Add is safe for concurrent
// use; with an anonymizer, identities first seen in files added
// concurrently get their pseudonyms' numbers in whichever order the files
// are scrubbed, so callers add such files one after the other.
type Builder struct {
	scrub *redact.Scrubber
	mu    sync.Mutex
	files map[string]*File
}

// New returns a Builder whose files go through scrub (Add), but for the
// renderings of the report, which was scrubbed before it was rendered
// (AddRendered).
func New(scrub *redact.Scrubber) *Builder {
	return &Builder{scrub: scrub, files: map[string]*File{}}
}

// Add scrubs data and its name and keeps it under name, recording who
// produced it (e.g. "engine API GET /info", "agent probe -o json").
func (b *Builder) Add(name, producer string, data []byte) {
	name = cleanName(b.scrub.String(name))
	b.add(name, producer, b.scrub.Bytes(data, name))
}

// AddRendered keeps data, a rendering of the already scrubbed report by
// the agent's own renderers (byte for byte what `agent probe -o FORMAT`
// prints, and proven free of secrets the same way), or a constant of the
// agent's, without scrubbing it a second time: for the 80 kB report.json
// that second pass cost 25-30 ms, most of a bundle's rendering time, and
// it re-encoded the JSON with its keys sorted.
func (b *Builder) AddRendered(name, producer string, data []byte) {
	b.add(cleanName(name), producer, data)
}

func (b *Builder) add(name, producer string, data []byte) {
	sum := sha256.Sum256(data)
	f := &File{Path: name, Size: len(data), SHA256: hex.EncodeToString(sum[:]), Producer: producer,
		deflated: deflate(data), crc: crc32.ChecksumIEEE(data)}
	b.mu.Lock()
	b.files[name] = f
	b.mu.Unlock()
}

// deflaters are reused: each holds several hundred kB of tables. The
// fastest level: a bundle holds ~0.5 MB of text, and the default level
// cost 3x the CPU (~5 ms, on the bundle's critical path) for a zip ~20%
// smaller.
var deflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

// deflate compresses data as a zip entry's Deflate method stores it.
func deflate(data []byte) []byte {
	var buf bytes.Buffer
	w := deflaters.Get().(*flate.Writer)
	defer deflaters.Put(w)
	w.Reset(&buf)
	w.Write(data) // a bytes.Buffer does not fail
	w.Close()
	return buf.Bytes()
}

// cleanName keeps names relative, slash-separated and free of "..".
func cleanName(name string) string {
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Clean("/" + name)
	name = strings.TrimPrefix(name, "/")
	var out []rune
	for _, r := range name {
		if r < 0x20 || strings.ContainsRune(`:*?"<>|`, r) {
			r = '_'
		}
		out = append(out, r)
	}
	return string(out)
}

// Files returns the entries so far, in path order.
func (b *Builder) Files() []File {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]File, 0, len(b.files))
	for _, f := range b.files {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(x, y File) int { return strings.Compare(x.Path, y.Path) })
	return out
}

// Write writes the zip: README.md and manifest.json first, then every
// file in path order. m's Files and Redaction are filled here. The
// manifest lists every other file; README.md and manifest.json describe
// the bundle and are not listed in it. It is called after every Add has
// returned.
func (b *Builder) Write(w io.Writer, m Manifest, readme string, modTime time.Time) error {
	m.ManifestVersion = ManifestVersion
	m.Files = b.Files()
	m.Redaction.Enabled = true
	m.Redaction.Anonymized = b.scrub.Anon != nil
	m.Redaction.Rules = b.scrub.Counts()
	m.Redaction.Locations = b.scrub.Locations()
	if m.Redaction.Locations == nil {
		m.Redaction.Locations = []string{}
	}
	m.Redaction.Note = "Secrets are replaced by " + redact.Mask + "; rules counts redacted values per rule, locations says in which files and report fields, never the values."
	if m.Redaction.Anonymized {
		m.Redaction.Note += " Identities were replaced with pseudonyms; the mapping is kept by the sender only."
	}
	manifest, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("bundle manifest: %w", err)
	}
	manifest = append(manifest, '\n')
	// The README is ours, but may quote the reason (an engine's message):
	// it goes through the scrubber too.
	readmeData := b.scrub.Bytes([]byte(readme), "README.md")

	zw := zip.NewWriter(w)
	put := func(name string, size int, deflated []byte, crc uint32) error {
		hdr := &zip.FileHeader{Name: name, Method: zip.Deflate, Modified: modTime.UTC(),
			CRC32: crc, CompressedSize64: uint64(len(deflated)), UncompressedSize64: uint64(size)}
		hdr.SetMode(0o644)
		fw, err := zw.CreateRaw(hdr)
		if err != nil {
			return err
		}
		_, err = fw.Write(deflated)
		return err
	}
	if err := put("README.md", len(readmeData), deflate(readmeData), crc32.ChecksumIEEE(readmeData)); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	if err := put("manifest.json", len(manifest), deflate(manifest), crc32.ChecksumIEEE(manifest)); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	for _, f := range m.Files {
		kept := b.files[f.Path]
		if err := put(f.Path, f.Size, kept.deflated, kept.crc); err != nil {
			return fmt.Errorf("write bundle: %s: %w", f.Path, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	return nil
}

// Open reads a bundle's files by name (for diff and tests).
func Open(data []byte) (map[string][]byte, error) {
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("open bundle: %w", err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("open bundle: %s: %w", f.Name, err)
		}
		b, err := io.ReadAll(io.LimitReader(rc, 256<<20))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("open bundle: %s: %w", f.Name, err)
		}
		out[f.Name] = b
	}
	return out, nil
}

// AddUnder adds every file of sub under the folder prefix (a cluster
// bundle's nodes/NAME/). Both builders share the run's scrubber, so the
// files are scrubbed already.
func (b *Builder) AddUnder(prefix string, sub *Builder) {
	for _, f := range sub.files {
		g := *f
		g.Path = cleanName(b.scrub.String(prefix + "/" + f.Path))
		b.files[g.Path] = &g
	}
}
