// Package faultproxy is a Docker API proxy for the reliability tests: it
// listens on a unix socket, forwards everything (attach upgrades included)
// to the real engine's socket, and lets a test answer, rewrite or observe
// chosen requests to inject one failure class at a time: a refused image
// load, an Enhanced Container Isolation refusal, a Windows engine, a probe
// image swapped for a misbehaving one, a container paused after start.
package faultproxy

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	Socket  string // where clients connect: DOCKER_HOST=unix://<Socket>
	backend string
	srv     *http.Server
	lis     net.Listener

	mu        sync.Mutex
	rules     []Rule
	respRules []RespRule
}

// Rule sees every request first. It may answer it (return true), or
// change it (its body too) and let it through (return false).
type Rule func(w http.ResponseWriter, r *http.Request) bool

// Start serves on socket, forwarding to the engine at backendSocket.
func Start(socket, backendSocket string) (*Proxy, error) {
	os.Remove(socket)
	lis, err := net.Listen("unix", socket)
	if err != nil {
		return nil, err
	}
	p := &Proxy{Socket: socket, backend: backendSocket, lis: lis}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = "http"
			pr.Out.URL.Host = "docker"
			pr.Out.Host = "docker"
		},
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, "unix", backendSocket)
			},
		},
		ModifyResponse: p.modifyResponse,
		FlushInterval:  -1,
		// An engine that is down (restart tests) answers 502 to the
		// client; the proxy need not log it.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	p.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		rules := append([]Rule(nil), p.rules...)
		p.mu.Unlock()
		for _, rule := range rules {
			if rule(w, r) {
				return
			}
		}
		rp.ServeHTTP(w, r)
	})}
	go p.srv.Serve(lis)
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() { p.srv.Close(); os.Remove(p.Socket) }

// Add appends a rule; Reset removes them all.
func (p *Proxy) Add(r Rule) { p.mu.Lock(); p.rules = append(p.rules, r); p.mu.Unlock() }
func (p *Proxy) Reset()     { p.mu.Lock(); p.rules = nil; p.respRules = nil; p.mu.Unlock() }

// RespRule may rewrite a forwarded response's JSON body.
type RespRule func(path string, body map[string]any) bool

// AddResponse appends a response rewrite.
func (p *Proxy) AddResponse(r RespRule) {
	p.mu.Lock()
	p.respRules = append(p.respRules, r)
	p.mu.Unlock()
}

var versionPrefix = regexp.MustCompile(`^/v[0-9.]+`)

// Path is r's path without the API version prefix.
func Path(r *http.Request) string { return versionPrefix.ReplaceAllString(r.URL.Path, "") }

func (p *Proxy) modifyResponse(resp *http.Response) error {
	p.mu.Lock()
	rules := append([]RespRule(nil), p.respRules...)
	p.mu.Unlock()
	if len(rules) == 0 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return nil
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var doc map[string]any
	if json.Unmarshal(b, &doc) == nil {
		changed := false
		for _, r := range rules {
			if r(Path(resp.Request), doc) {
				changed = true
			}
		}
		if changed {
			b, _ = json.Marshal(doc)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
	return nil
}

// Fail answers with the engine's error format.
func Fail(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// EditJSON rewrites a request's JSON body with edit.
func EditJSON(r *http.Request, edit func(map[string]any)) {
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	var doc map[string]any
	if json.Unmarshal(b, &doc) == nil {
		edit(doc)
		b, _ = json.Marshal(doc)
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	r.ContentLength = int64(len(b))
	r.Header.Set("Content-Length", strconv.Itoa(len(b)))
}
