package reaper

import (
	"os"
	"testing"
)

func hostnameForTest(t *testing.T) string {
	t.Helper()
	h, err := os.Hostname()
	if err != nil {
		t.Skip("no hostname")
	}
	return h
}

func TestAliveSeesItself(t *testing.T) {
	if !Alive(os.Getpid()) {
		t.Fatal("Alive(own pid) = false")
	}
	if Alive(1 << 30) {
		t.Fatal("Alive(absurd pid) = true")
	}
}
