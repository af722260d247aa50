package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall"
	"testing"
)

func TestInterruptedCodes(t *testing.T) {
	for _, tc := range []struct {
		sig  os.Signal
		code int
		text string
	}{
		{os.Interrupt, ExitInterrupted, "interrupted (SIGINT)"},
		{syscall.SIGTERM, ExitTerminated, "interrupted (SIGTERM)"},
	} {
		in := &Interrupted{Signal: tc.sig}
		if in.Code() != tc.code || in.Error() != tc.text {
			t.Errorf("%v: Code %d, Error %q; want %d, %q", tc.sig, in.Code(), in.Error(), tc.code, tc.text)
		}
	}
}

// An engine call cut short by the interrupt surfaces as whatever error
// the client made of it; interrupted looks at the cause, not the error.
func TestInterruptedSeesTheCause(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	child, stop := context.WithTimeout(ctx, 1<<40)
	defer stop()
	if interrupted(child) {
		t.Fatal("interrupted before any signal")
	}
	cancel(&Interrupted{Signal: os.Interrupt})
	if !interrupted(child) {
		t.Fatal("a context cancelled by a signal is not seen as interrupted")
	}
	plain, cancelPlain := context.WithCancel(context.Background())
	cancelPlain()
	if interrupted(plain) {
		t.Fatal("a plain cancellation is seen as an interrupt")
	}
	wrapped := fmt.Errorf("engine unreachable: %w", context.Cause(child))
	var in *Interrupted
	if !errors.As(wrapped, &in) {
		t.Fatal("the cause does not unwrap to *Interrupted")
	}
}
