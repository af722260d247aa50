package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"github.com/Microsoft/go-winio"
	"golang.org/x/sys/windows"
)

func main() {
	pipe := flag.String("pipe", `\\.\pipe\docker_engine`, "the pipe to serve")
	to := flag.String("to", "", "the engine's loopback TCP address (host:port)")
	inbound := flag.Bool("inbound", false, "serve a pipe clients may only write to (PIPE_ACCESS_INBOUND): a read-write open is denied")
	silent := flag.Bool("silent", false, "accept connections and never answer")
	flag.Parse()
	if *to == "" && !*silent && !*inbound {
		fmt.Fprintln(os.Stderr, "npiperelay: -to host:port is required (or -silent, -inbound)")
		os.Exit(2)
	}
	if *inbound {
		// Windows, and Wine, refuse a GENERIC_READ open of an inbound-only
		// pipe with ERROR_ACCESS_DENIED, the error a user outside the
		// docker-users group gets from Docker Desktop's pipe (Wine does not
		// enforce a pipe's DACL, so -deny alone cannot produce it there).
		name, _ := windows.UTF16PtrFromString(*pipe)
		h, err := windows.CreateNamedPipe(name, windows.PIPE_ACCESS_INBOUND, windows.PIPE_TYPE_BYTE|windows.PIPE_WAIT, windows.PIPE_UNLIMITED_INSTANCES, 4096, 4096, 0, nil)
		if err != nil {
			fmt.Fprintln(os.Stderr, "npiperelay: CreateNamedPipe:", err)
			os.Exit(1)
		}
		defer windows.CloseHandle(h)
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
		return
	}
	// As dockerd serves its pipe: message mode, so that a zero-byte
	// message carries a half-close (CloseWrite) both ways.
	cfg := &winio.PipeConfig{MessageMode: true, InputBufferSize: 4096, OutputBufferSize: 4096}
	l, err := winio.ListenPipe(*pipe, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "npiperelay: listen:", err)
		os.Exit(1)
	}
	go serve(l, *to, *silent)
	// go-winio keeps a first, placeholder instance of the pipe that it never
	// connects; Wine 8 hands the first client to it, and that client hangs.
	// Taking that instance ourselves makes every later client reach Accept.
	timeout := 2 * time.Second
	if c, err := winio.DialPipe(*pipe, &timeout); err == nil {
		_ = c.Close()
	} else {
		fmt.Fprintln(os.Stderr, "npiperelay: dialling our own pipe:", err)
	}
	fmt.Println("ready")
	// Run until stdin closes (the test holds it) or the process is killed.
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = l.Close()
}

func serve(l net.Listener, to string, silent bool) {
	var held []net.Conn // -silent: keep them open, answer nothing
	for {
		c, err := l.Accept()
		if errors.Is(err, net.ErrClosed) || errors.Is(err, winio.ErrPipeListenerClosed) {
			return
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "npiperelay: accept:", err)
			continue
		}
		if silent {
			held = append(held, c)
			continue
		}
		go relay(c, to)
	}
}

// relay copies both ways and passes each side's end of input on as a
// half-close, so that HTTP hijacked streams (attach) end cleanly.
func relay(p net.Conn, to string) {
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d net.Dialer
	t, err := d.DialContext(ctx, "tcp", to)
	if err != nil {
		fmt.Fprintln(os.Stderr, "npiperelay: dial engine:", err)
		return
	}
	defer t.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_, _ = io.Copy(t, p)
		_ = t.(*net.TCPConn).CloseWrite()
	}()
	go func() {
		defer wg.Done()
		_, _ = io.Copy(p, t)
		if cw, ok := p.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
	}()
	wg.Wait()
}
