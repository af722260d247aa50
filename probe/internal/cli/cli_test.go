package cli

import (
	"errors"
	"io"
	"testing"
	"time"
)

// The probe ends by itself at its --deadline even when stdin stays open
// (an agent that hangs without hanging up), well before the backstop.
func TestRunEndsAtDeadlineWithStdinOpen(t *testing.T) {
	stdinR, stdinW := io.Pipe()
	defer stdinW.Close()
	_, stdoutW := io.Pipe()
	start := time.Now()
	err := Run(t.Context(), []string{"--deadline", "300ms"}, stdinR, stdoutW, io.Discard)
	if !errors.Is(err, ErrDeadline) || ExitCode(err) != ExitDeadline {
		t.Fatalf("Run = %v, want ErrDeadline", err)
	}
	if d := time.Since(start); d > 300*time.Millisecond+drainTimeout+2*time.Second {
		t.Fatalf("Run took %s at a 300ms deadline", d)
	}
}

// Stdin EOF (the agent died) ends the probe within 5 s.
func TestRunEndsOnStdinEOF(t *testing.T) {
	stdinR, stdinW := io.Pipe()
	stdoutR, stdoutW := io.Pipe()
	go io.Copy(io.Discard, stdoutR)
	done := make(chan error, 1)
	go func() { done <- Run(t.Context(), []string{"--deadline", "1m"}, stdinR, stdoutW, io.Discard) }()
	time.Sleep(100 * time.Millisecond)
	stdinW.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after stdin EOF = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run still serving 5 s after stdin EOF")
	}
}
