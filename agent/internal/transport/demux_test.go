package transport

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

func frame(stream byte, payload string) []byte {
	var b bytes.Buffer
	if err := Mux(&b, stream, []byte(payload)); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func header(stream byte, size uint32) []byte {
	h := make([]byte, 8)
	h[0] = stream
	binary.BigEndian.PutUint32(h[4:], size)
	return h
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestDemux(t *testing.T) {
	tests := []struct {
		name       string
		in         []byte
		wantOut    string
		wantErr    string
		wantErrIs  error
		wantStderr string
	}{
		{name: "empty stream is a clean end", in: nil},
		{name: "stdout and stderr split", in: cat(frame(1, "hello "), frame(2, "log line\n"), frame(1, "world")), wantOut: "hello world", wantStderr: "log line\n"},
		{name: "detach and line-ending bytes pass through", in: frame(1, "\x10\x11\r\n\x00"), wantOut: "\x10\x11\r\n\x00"},
		{name: "zero-length frame", in: cat(frame(1, "a"), header(1, 0), frame(1, "b")), wantOut: "ab"},
		{name: "truncated header", in: cat(frame(1, "ok"), []byte{1, 0, 0}), wantOut: "ok", wantErrIs: ErrTruncatedFrame},
		{name: "truncated payload", in: cat(header(1, 10), []byte("abc")), wantOut: "abc", wantErrIs: ErrTruncatedFrame},
		{name: "frame over the cap", in: header(1, MaxFrame+1), wantErrIs: ErrFrameTooLarge},
		{name: "unknown stream type", in: cat(header(7, 1), []byte("x")), wantErrIs: ErrUnknownStream},
		{name: "nonzero padding", in: cat([]byte{1, 1, 0, 0, 0, 0, 0, 1}, []byte("x")), wantErrIs: ErrUnknownStream},
		{name: "engine system error", in: cat(frame(1, "a"), frame(3, "boom")), wantOut: "a", wantErrIs: ErrEngineStreamErr, wantErr: `"boom"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := Demux(&out, &errOut, bytes.NewReader(tt.in))
			if tt.wantErrIs == nil && err != nil {
				t.Fatalf("Demux() error = %v, want nil", err)
			}
			if tt.wantErrIs != nil && !errors.Is(err, tt.wantErrIs) {
				t.Fatalf("Demux() error = %v, want %v", err, tt.wantErrIs)
			}
			if tt.wantErr != "" && !bytes.Contains([]byte(err.Error()), []byte(tt.wantErr)) {
				t.Fatalf("Demux() error = %q, want it to contain %q", err, tt.wantErr)
			}
			if out.String() != tt.wantOut {
				t.Errorf("stdout = %q, want %q", out.String(), tt.wantOut)
			}
			if errOut.String() != tt.wantStderr {
				t.Errorf("stderr = %q, want %q", errOut.String(), tt.wantStderr)
			}
		})
	}
}

// TestMuxDemuxRoundTrip pushes random data, larger than one frame, through
// Mux and Demux and compares digests.
func TestMuxDemuxRoundTrip(t *testing.T) {
	data := make([]byte, 3*MaxFrame+12345)
	rand.Read(data)
	var wire bytes.Buffer
	if err := Mux(&wire, StreamStdout, data); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if err := Demux(h, io.Discard, &wire); err != nil {
		t.Fatal(err)
	}
	want := sha256.Sum256(data)
	if !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("round trip changed the data")
	}
}

func FuzzDemux(f *testing.F) {
	f.Add(cat(frame(1, "hello"), frame(2, "err")))
	f.Add(cat(header(1, 10), []byte("abc")))
	f.Add(header(1, MaxFrame+1))
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 2, 'x'})
	f.Fuzz(func(t *testing.T, in []byte) {
		var out, errOut bytes.Buffer
		err := Demux(&out, &errOut, bytes.NewReader(in))
		if out.Len()+errOut.Len() > len(in) {
			t.Fatalf("demux produced more bytes (%d) than it read (%d)", out.Len()+errOut.Len(), len(in))
		}
		if err == nil {
			// A clean end means the input was whole frames: re-muxing
			// what came out of stdout alone must not exceed the input.
			var again bytes.Buffer
			if err := Demux(&again, io.Discard, bytes.NewReader(in)); err != nil || !bytes.Equal(again.Bytes(), out.Bytes()) {
				t.Fatalf("demux is not deterministic")
			}
		}
	})
}

func TestSingleUseDialer(t *testing.T) {
	c1, c2 := netPipe()
	defer c1.Close()
	defer c2.Close()
	dial := SingleUseDialer(c1)
	got, err := dial(t.Context(), "x")
	if err != nil || got != c1 {
		t.Fatalf("first dial = %v, %v; want the conn", got, err)
	}
	if _, err := dial(t.Context(), "x"); !errors.Is(err, ErrAlreadyDialed) {
		t.Fatalf("second dial error = %v, want ErrAlreadyDialed", err)
	}
}
