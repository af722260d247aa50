package kube

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"k8s.io/streaming/pkg/httpstream"
	"k8s.io/streaming/pkg/httpstream/spdy"
	"k8s.io/streaming/pkg/httpstream/wsstream"

	"github.com/dockprobe/dockprobe/agent/internal/transport"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// execServer is an API server's pods/exec endpoint on loopback, speaking
// the real streaming protocols (WebSocket v5.channel.k8s.io, and SPDY
// v4.channel.k8s.io for the fallback) around a "process": the probe's gRPC
// server over the exec'd stdin and stdout.
type execServer struct {
	websocket bool // accept the WebSocket upgrade; else refuse it, as a server without v5
	forbid    bool // answer 403, as RBAC without pods/exec create

	mu       sync.Mutex
	via      []string // the protocol each exec used
	stdinEOF atomic.Int32
	command  []string
}

func (s *execServer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if s.forbid {
		st := apierrors.NewForbidden(schema.GroupResource{Resource: "pods/exec"}, "p", errors.New(`User "carol" cannot create resource "pods/exec" in API group "" in the namespace "dockprobe"`)).Status()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		json.NewEncoder(w).Encode(st)
		return
	}
	s.mu.Lock()
	s.command = req.URL.Query()["command"]
	s.mu.Unlock()
	if wsstream.IsWebSocketRequest(req) {
		if !s.websocket {
			http.Error(w, "websocket: unsupported protocol", http.StatusBadRequest)
			return
		}
		conn := wsstream.NewConn(map[string]wsstream.ChannelProtocolConfig{
			"v5.channel.k8s.io": {Binary: true, Channels: []wsstream.ChannelType{
				wsstream.ReadChannel, wsstream.WriteChannel, wsstream.WriteChannel, wsstream.WriteChannel, wsstream.ReadChannel,
			}},
		})
		conn.SetIdleTimeout(time.Minute)
		_, streams, err := conn.Open(w, req)
		if err != nil {
			return
		}
		defer conn.Close()
		streams[1].Write([]byte{}) // tells the client the streams are up
		s.record("websocket")
		s.process(streams[0], streams[1])
		writeSuccess(streams[3])
		return
	}
	if _, err := httpstream.Handshake(req, w, []string{"v4.channel.k8s.io"}); err != nil {
		return
	}
	type got struct {
		s     httpstream.Stream
		reply <-chan struct{}
	}
	ch := make(chan got, 4)
	conn := spdy.NewResponseUpgrader().UpgradeResponse(w, req, func(st httpstream.Stream, reply <-chan struct{}) error {
		ch <- got{st, reply}
		return nil
	})
	if conn == nil {
		return
	}
	defer conn.Close()
	byType := map[string]httpstream.Stream{}
	for len(byType) < 4 {
		g := <-ch
		<-g.reply
		byType[g.s.Headers().Get(corev1.StreamType)] = g.s
	}
	s.record("spdy")
	s.process(byType[corev1.StreamTypeStdin], byType[corev1.StreamTypeStdout])
	writeSuccess(byType[corev1.StreamTypeError])
}

func (s *execServer) record(via string) {
	s.mu.Lock()
	s.via = append(s.via, via)
	s.mu.Unlock()
}

func writeSuccess(w io.Writer) {
	b, _ := json.Marshal(metav1.Status{Status: metav1.StatusSuccess})
	w.Write(b)
}

// process serves the probe's handshake over stdin/stdout until stdin ends,
// as the exec'd probe does, and counts stdin EOFs (the agent's half-close).
func (s *execServer) process(stdin io.Reader, stdout io.Writer) {
	sc := &stdioConn{Carrier: "stdio", Reader: eofCounter{stdin, &s.stdinEOF}, Writer: stdout, closed: make(chan struct{})}
	l := &oneConnListener{conn: make(chan net.Conn, 1), closed: make(chan struct{})}
	l.conn <- sc
	srv := grpc.NewServer()
	probev1.RegisterProbeServer(srv, probeServer{})
	go srv.Serve(l)
	<-sc.closed // gRPC closes the transport when stdin ends
	srv.Stop()
}

type eofCounter struct {
	r io.Reader
	n *atomic.Int32
}

func (e eofCounter) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.n.Add(1)
	}
	return n, err
}

func TestExecOverRealStreamingProtocols(t *testing.T) {
	for _, tc := range []struct {
		name      string
		websocket bool
		want      string
	}{
		{"websocket v5", true, "websocket"},
		{"spdy fallback", false, "spdy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := &execServer{websocket: tc.websocket}
			srv := httptest.NewServer(es)
			defer srv.Close()
			cfg := &rest.Config{Host: srv.URL}
			var log strings.Builder
			c, err := Exec(context.Background(), cfg, ExecOptions{Namespace: "dockprobe", Pod: "dockprobe-n-1", Command: ServeCommand(time.Minute, false), Stderr: &log})
			if err != nil {
				t.Fatal(err)
			}
			cc, err := grpc.NewClient("passthrough:///dockprobe-probe", grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithContextDialer(transport.SingleUseDialer(c)))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			resp, err := probev1.NewProbeClient(cc).Handshake(ctx, &probev1.HandshakeRequest{ProtocolVersion: probev1.ProtocolVersion})
			if err != nil || resp.GetProbeVersion() != "test" {
				t.Fatalf("handshake over %s: %v %v", tc.name, resp, err)
			}
			cc.Close() // closes the Conn: stdin EOF first
			if err := c.Err(); err != nil {
				t.Errorf("stream end: %v", err)
			}
			es.mu.Lock()
			defer es.mu.Unlock()
			if strings.Join(es.via, ",") != tc.want {
				t.Errorf("served over %v, want %s", es.via, tc.want)
			}
			if es.stdinEOF.Load() != 1 {
				t.Errorf("the exec'd process saw stdin EOF %d times; the agent's Close must half-close stdin", es.stdinEOF.Load())
			}
			if strings.Join(es.command, " ") != "/probe --deadline=1m0s --notify-wait" {
				t.Errorf("command %q", es.command)
			}
		})
	}
}

func TestExecForbidden(t *testing.T) {
	srv := httptest.NewServer(&execServer{forbid: true})
	defer srv.Close()
	c, err := Exec(context.Background(), &rest.Config{Host: srv.URL}, ExecOptions{Namespace: "dockprobe", Pod: "p", Command: []string{"/probe"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read succeeded")
	}
	var fe *ForbiddenError
	if err := c.Err(); !errors.As(err, &fe) || fe.Verb != "create" || fe.Resource != "pods/exec" || !strings.Contains(err.Error(), "create pods/exec in namespace dockprobe") {
		t.Errorf("Err = %v, want the forbidden create pods/exec", err)
	}
}
