package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// Interrupted is why a run's context was cancelled when a signal ended it:
// Ctrl-C (SIGINT; Ctrl-Break on Windows), SIGTERM (kill, a service
// manager, a closed console window on Windows) or, on Unix, SIGHUP (a
// closed terminal).
type Interrupted struct{ Signal os.Signal }

func (e *Interrupted) Error() string { return fmt.Sprintf("interrupted (%s)", signalName(e.Signal)) }

// Code is the shell's convention for a process ended by a signal: 128 plus
// its number (130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP).
func (e *Interrupted) Code() int {
	if s, ok := e.Signal.(syscall.Signal); ok && s > 0 && s < 64 {
		return 128 + int(s)
	}
	return ExitInterrupted
}

func signalName(s os.Signal) string {
	switch s {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	if n, ok := unixSignalName(s); ok {
		return n
	}
	return s.String()
}

// interrupted reports whether ctx was cancelled by a signal.
func interrupted(ctx context.Context) bool {
	var in *Interrupted
	return errors.As(context.Cause(ctx), &in)
}

// Main runs the agent as a process: the signals that end a run cancel its
// context, an error is printed as one line on Stderr, and the exit code is
// returned. An interrupted run exits with the signal's code whatever error
// the cancellation caused on its way out (a version request or a create
// cut short is not an engine failure), and prints one line saying so. The
// probe container, if one was asked for, is the watchdog's to remove
// (package reaper), so a second signal exits at once.
func Main(args []string) int {
	sigc := make(chan os.Signal, 2)
	signal.Notify(sigc, interruptSignals...)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	var got atomic.Pointer[Interrupted]
	go func() {
		in := &Interrupted{Signal: <-sigc}
		got.Store(in)
		cancel(in)
		again := &Interrupted{Signal: <-sigc}
		fmt.Fprintf(Stderr, "agent: %s again; exiting now\n", again)
		os.Exit(again.Code())
	}()
	err := Run(ctx, args)
	if in := got.Load(); in != nil && err != nil {
		fmt.Fprintln(Stderr, "agent:", in)
		return in.Code()
	}
	if err != nil && !Silent(err) {
		fmt.Fprintln(Stderr, "agent:", err)
	}
	return ExitCode(err)
}
