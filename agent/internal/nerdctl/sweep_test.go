package nerdctl

import (
	"slices"
	"testing"
	"time"
)

func TestStaleNames(t *testing.T) {
	now := time.Unix(2000, 0)
	out := []byte(`{"ID":"a1","Names":"dockprobe-probe-old","Labels":{"io.dockprobe.probe":"true","io.dockprobe.deadline":"1999"}}
{"ID":"b2","Names":"dockprobe-probe-running","Labels":{"io.dockprobe.probe":"true","io.dockprobe.deadline":"2100"}}
{"ID":"c3","Names":"dockprobe-probe-nolabel","Labels":{"io.dockprobe.probe":"true"}}
{"ID":"d4","Names":"someone-else","Labels":{"io.dockprobe.deadline":"1"}}
{"ID":"e5","Names":"","Labels":{"io.dockprobe.probe":"true","io.dockprobe.deadline":"2000"}}

`)
	got, err := staleNames(out, now)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"dockprobe-probe-old", "e5"}; !slices.Equal(got, want) {
		t.Errorf("stale %q, want %q", got, want)
	}
	if _, err := staleNames([]byte("{\n"), now); err == nil {
		t.Error("no error for a bad line")
	}
}
