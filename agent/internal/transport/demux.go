// Package transport carries gRPC over a container's attach stream: it
// demultiplexes the engine's stdout/stderr frames strictly (size cap, known
// stream types, no silently truncated frame), exposes stdout+stdin as a
// net.Conn, and dials it exactly once. It knows nothing of Docker's API
// beyond the frame format, so it serves any engine that multiplexes stdio
// the same way. Its Carrier and SingleUseDialer also serve stream conns
// that are not attach streams (kube's pods/exec conn).
package transport

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Stream types of the engine's multiplexed attach format: an 8-byte header
// {type, 0, 0, 0, size (big-endian uint32)} followed by size bytes.
const (
	StreamStdin  = 0
	StreamStdout = 1
	StreamStderr = 2
	// StreamSystemErr is sent by newer engines for errors of the engine
	// itself (not of the container).
	StreamSystemErr = 3

	headerLen = 8
	// MaxFrame is the largest frame accepted. Engines write at most 32 KiB
	// per frame; anything far larger is a corrupt stream, not data.
	MaxFrame = 1 << 20
)

// Errors of a malformed attach stream.
var (
	ErrFrameTooLarge   = errors.New("attach stream frame exceeds size cap")
	ErrUnknownStream   = errors.New("attach stream frame has unknown stream type")
	ErrTruncatedFrame  = errors.New("attach stream ended inside a frame")
	ErrEngineStreamErr = errors.New("engine reported an error on the attach stream")
)

// Demux copies the payloads of stdout frames to stdout and of stderr frames
// to stderr until src ends. It returns nil only when src ends exactly on a
// frame boundary; a stream cut short inside a header or payload returns
// ErrTruncatedFrame (the library stdcopy accepts that silently, and a gRPC
// message cut in half must never look like a clean end).
func Demux(stdout, stderr io.Writer, src io.Reader) error {
	var hdr [headerLen]byte
	buf := make([]byte, 32<<10)
	for {
		n, err := io.ReadFull(src, hdr[:])
		if err != nil {
			if err == io.EOF && n == 0 {
				return nil
			}
			if err == io.ErrUnexpectedEOF {
				return fmt.Errorf("%w: %d of %d header bytes", ErrTruncatedFrame, n, headerLen)
			}
			return err
		}
		size := binary.BigEndian.Uint32(hdr[4:])
		if size > MaxFrame {
			return fmt.Errorf("%w: %d bytes (cap %d)", ErrFrameTooLarge, size, MaxFrame)
		}
		var dst io.Writer
		switch hdr[0] {
		case StreamStdout:
			dst = stdout
		case StreamStderr:
			dst = stderr
		case StreamSystemErr:
			msg := make([]byte, size)
			if _, err := io.ReadFull(src, msg); err != nil {
				return fmt.Errorf("%w: %w", ErrTruncatedFrame, err)
			}
			return fmt.Errorf("%w: %q", ErrEngineStreamErr, msg)
		default:
			return fmt.Errorf("%w: %d", ErrUnknownStream, hdr[0])
		}
		if hdr[1] != 0 || hdr[2] != 0 || hdr[3] != 0 {
			return fmt.Errorf("%w: header % x", ErrUnknownStream, hdr)
		}
		remaining := int(size)
		for remaining > 0 {
			chunk := buf
			if remaining < len(chunk) {
				chunk = chunk[:remaining]
			}
			m, err := io.ReadFull(src, chunk)
			remaining -= m
			if m > 0 {
				if _, werr := dst.Write(chunk[:m]); werr != nil {
					return werr
				}
			}
			if err != nil {
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					return fmt.Errorf("%w: %d payload bytes missing", ErrTruncatedFrame, remaining)
				}
				return err
			}
		}
	}
}

// Mux writes p as frames of the given stream type, splitting at MaxFrame.
// The engine does this for real; tests and fakes use it.
func Mux(w io.Writer, stream byte, p []byte) error {
	var hdr [headerLen]byte
	hdr[0] = stream
	for len(p) > 0 {
		n := min(len(p), MaxFrame)
		binary.BigEndian.PutUint32(hdr[4:], uint32(n))
		if _, err := w.Write(hdr[:]); err != nil {
			return err
		}
		if _, err := w.Write(p[:n]); err != nil {
			return err
		}
		p = p[n:]
	}
	return nil
}
