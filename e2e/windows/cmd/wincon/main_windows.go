package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"golang.org/x/sys/windows"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	switch os.Args[1] {
	case "ping":
		fmt.Println("pong")
	case "ctrlc":
		os.Exit(ctrlc(os.Args[2:]))
	case "wait":
		// A minimal Go program that waits for Ctrl-C as the agent does
		// (signal.Notify), to tell the Go runtime's and Wine's part in an
		// interrupt apart from the agent's.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, os.Interrupt)
		select {
		case <-sig:
			os.Exit(130)
		case <-time.After(5 * time.Second):
		}
	default:
		usage()
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: wincon ping | wincon wait | wincon ctrlc [-event c|break] [-after 100ms] [-console] [-result FILE] -- PROGRAM ARGS...")
	os.Exit(2)
}

// ctrlc runs the program, waits, sends the console control event and
// prints "exit=N" with the program's exit code. Ctrl-C goes to every
// process on the console (group 0), as a key press does; Ctrl-Break goes to
// the program's own process group.
func ctrlc(args []string) int {
	fs := flag.NewFlagSet("ctrlc", flag.ExitOnError)
	event := fs.String("event", "c", "c (CTRL_C_EVENT to the console) or break (CTRL_BREAK_EVENT to the program's group)")
	after := fs.Duration("after", 100*time.Millisecond, "how long after the start to send the event")
	console := fs.Bool("console", false, "allocate a console first (when started without one)")
	stdout := fs.String("stdout", "", "send the program's stdout to this file (stderr stays on the console)")
	result := fs.String("result", "", "also write \"event=sent|failed exit=N\" to this file")
	_ = fs.Parse(args)
	if fs.NArg() == 0 {
		usage()
	}
	if *console {
		if err := allocConsole(); err != nil {
			fmt.Fprintln(os.Stderr, "wincon: AllocConsole:", err)
		}
	}
	// Our own Ctrl-C must not end us: we report the program's exit code.
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, os.Interrupt)

	cmd := exec.Command(fs.Arg(0), fs.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if *stdout != "" {
		f, err := os.Create(*stdout)
		if err != nil {
			fmt.Fprintln(os.Stderr, "wincon:", err)
			return 125
		}
		defer f.Close()
		cmd.Stdout = f
	}
	if *event == "break" {
		cmd.SysProcAttr = &syscall.SysProcAttr{CreationFlags: syscall.CREATE_NEW_PROCESS_GROUP}
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "wincon: start:", err)
		return 125
	}
	time.Sleep(*after)
	var err error
	evt := "sent"
	switch *event {
	case "c":
		err = windows.GenerateConsoleCtrlEvent(windows.CTRL_C_EVENT, 0)
	case "break":
		err = windows.GenerateConsoleCtrlEvent(windows.CTRL_BREAK_EVENT, uint32(cmd.Process.Pid))
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wincon: GenerateConsoleCtrlEvent:", err)
		evt = "failed"
	}
	fmt.Fprintln(os.Stderr, "event="+evt)
	err = cmd.Wait()
	var ee *exec.ExitError
	code := 0
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "wincon: wait:", err)
		return 125
	}
	fmt.Fprintf(os.Stderr, "exit=%d\n", code)
	if *result != "" {
		if err := os.WriteFile(*result, []byte(fmt.Sprintf("event=%s exit=%d\n", evt, code)), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "wincon:", err)
		}
	}
	return code
}

var procAllocConsole = windows.NewLazySystemDLL("kernel32.dll").NewProc("AllocConsole")

func allocConsole() error {
	if r, _, err := procAllocConsole.Call(); r == 0 {
		return err
	}
	return nil
}
