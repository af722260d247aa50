package launch

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/moby/moby/client"

	"github.com/dockprobe/dockprobe/agent/internal/endpoint"
)

// countingEngine answers /_ping, /version, /info and /networks like a
// Docker 29 engine and counts the requests per path.
type countingEngine struct {
	mu    sync.Mutex
	count map[string]int
}

func (e *countingEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Api-Version", "1.52")
	w.Header().Set("Ostype", "linux")
	path := r.URL.Path
	if i := strings.Index(path[1:], "/"); strings.HasPrefix(path, "/v1.") && i > 0 {
		path = path[i+1:]
	}
	e.mu.Lock()
	e.count[path]++
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch path {
	case "/_ping":
		_, _ = w.Write([]byte("OK"))
	case "/version":
		_, _ = w.Write([]byte(`{"Version":"29.8.1","ApiVersion":"1.52","MinAPIVersion":"1.24","Os":"linux","Arch":"amd64"}`))
	case "/info":
		_, _ = w.Write([]byte(`{"ID":"X","Name":"vm","ServerVersion":"29.8.1","OSType":"linux","DockerRootDir":"/var/lib/docker"}`))
	case "/networks":
		_, _ = w.Write([]byte(`[]`))
	default:
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"message":"not here"}`))
	}
}

// openCounting opens a Docker launcher on a new countingEngine.
func openCounting(t *testing.T) (*countingEngine, *Docker) {
	t.Helper()
	eng := &countingEngine{count: map[string]int{}}
	srv := httptest.NewServer(eng)
	t.Cleanup(srv.Close)
	d, err := Open(context.Background(), Config{Endpoint: endpoint.Endpoint{Host: "tcp://" + srv.Listener.Addr().String()}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return eng, d
}

func (e *countingEngine) n(path string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.count[path]
}

// TestFactsReuseStartsVersion: once Start has read /version, Facts (which
// runs while the probe starts) does not ask the engine again; before any
// Start it asks itself.
func TestFactsReuseStartsVersion(t *testing.T) {
	eng, d := openCounting(t)

	e, errs := d.Facts(context.Background())
	if len(errs) != 0 || e.GetServerVersion() != "29.8.1" {
		t.Fatalf("Facts before a start = %v, %v", e, errs)
	}
	if got := eng.n("/version"); got != 1 {
		t.Fatalf("Facts before a start asked /version %d times, want 1", got)
	}

	// What Start records once the engine answered /version.
	d.seen.version = &client.ServerVersionResult{Version: "29.8.1", APIVersion: "1.52", MinAPIVersion: "1.24", Os: "linux", Arch: "amd64"}
	e, errs = d.Facts(context.Background())
	if len(errs) != 0 || e.GetServerVersion() != "29.8.1" || e.GetMinApiVersion() != "1.24" {
		t.Fatalf("Facts after a start = %v, %v", e, errs)
	}
	if got := eng.n("/version"); got != 1 {
		t.Fatalf("Facts after a start asked /version again (%d requests in all)", got)
	}
	if got := eng.n("/info"); got != 2 {
		t.Fatalf("/info asked %d times, want 2", got)
	}

	// A bundle's engine answers are those Facts already read.
	answers := d.Answers(context.Background())
	if got := eng.n("/version") + eng.n("/info") + eng.n("/networks"); got != 1+2+2 {
		t.Fatalf("Answers asked the engine again (%d requests in all)", got)
	}
	for _, a := range answers {
		if a.Err != nil || len(a.JSON) == 0 {
			t.Errorf("answer %s: %v %q", a.Name, a.Err, a.JSON)
		}
	}
	if !strings.Contains(string(answers[1].JSON), `"ServerVersion": "29.8.1"`) {
		t.Errorf("engine/info = %s", answers[1].JSON)
	}
}

// TestAnswersWithoutFacts: a launcher that never read the facts asks all
// three.
func TestAnswersWithoutFacts(t *testing.T) {
	eng, d := openCounting(t)
	for _, a := range d.Answers(context.Background()) {
		if a.Err != nil {
			t.Errorf("answer %s: %v", a.Name, a.Err)
		}
	}
	if eng.n("/version") != 1 || eng.n("/info") != 1 || eng.n("/networks") != 1 {
		t.Fatalf("requests %v", eng.count)
	}
}
