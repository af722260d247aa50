package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// fakeUsage answers Usage's three calls; a nil df blocks until the
// context ends (an engine that takes minutes over /system/df).
type fakeUsage struct {
	df       *client.DiskUsageResult
	list     []container.Summary
	inspects map[string]container.InspectResponse
}

func (f *fakeUsage) DiskUsage(ctx context.Context, _ client.DiskUsageOptions) (client.DiskUsageResult, error) {
	if f.df == nil {
		<-ctx.Done()
		return client.DiskUsageResult{}, ctx.Err()
	}
	return *f.df, nil
}

func (f *fakeUsage) ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error) {
	return client.ContainerListResult{Items: f.list}, nil
}

func (f *fakeUsage) ContainerInspect(_ context.Context, id string, _ client.ContainerInspectOptions) (client.ContainerInspectResult, error) {
	in, ok := f.inspects[id]
	if !ok {
		return client.ContainerInspectResult{}, errors.New("no such container")
	}
	return client.ContainerInspectResult{Container: in}, nil
}

func TestUsage(t *testing.T) {
	f := &fakeUsage{
		df: &client.DiskUsageResult{Images: client.ImagesDiskUsage{TotalSize: 3 << 30, Reclaimable: 1 << 30}, BuildCache: client.BuildCacheDiskUsage{TotalSize: 2 << 30}},
		list: []container.Summary{
			{ID: "aaa", Names: []string{"/web"}, Image: "node:22", State: "running", Mounts: []container.MountPoint{
				{Type: "bind", Source: "/run/desktop/mnt/host/c/src/app", Destination: "/app"},
				{Type: "bind", Source: "/home/me/app", Destination: "/other"},
				{Type: "volume", Source: "/mnt/host/c/x", Destination: "/vol"},
			}},
			{ID: "bbb", Names: []string{"/hog"}, Image: "hog:1", State: "exited"},
			{ID: "ccc", Names: []string{"/gone"}, Image: "x", State: "exited"},
		},
		inspects: map[string]container.InspectResponse{
			"aaa": {State: &container.State{Status: "running"}},
			"bbb": {State: &container.State{Status: "exited", OOMKilled: true}, HostConfig: &container.HostConfig{Resources: container.Resources{Memory: 16 << 20}}},
		},
	}
	u := Usage(context.Background(), f, time.Second)
	if !u.GetDfMeasured() || u.GetImagesBytes() != 3<<30 || u.GetBuildCacheBytes() != 2<<30 || u.GetImagesReclaimableBytes() != 1<<30 {
		t.Errorf("df = %v", u)
	}
	if len(u.GetShareBinds()) != 1 || u.GetShareBinds()[0].GetName() != "web" || u.GetShareBinds()[0].GetDestination() != "/app" {
		t.Errorf("share binds = %v", u.GetShareBinds())
	}
	if len(u.GetOomKilled()) != 1 || u.GetOomKilled()[0].GetName() != "hog" || u.GetOomKilled()[0].GetMemoryLimitBytes() != 16<<20 {
		t.Errorf("oom killed = %v", u.GetOomKilled())
	}
	if u.GetContainersInspected() != 2 {
		t.Errorf("inspected %d (one was removed meanwhile)", u.GetContainersInspected())
	}

	// /system/df past its deadline: "not measured", the rest still there.
	f.df = nil
	u = Usage(context.Background(), f, 50*time.Millisecond)
	if u.GetDfMeasured() || !strings.HasPrefix(u.GetDfError(), "not measured: /system/df did not answer within 50ms") || len(u.GetOomKilled()) != 1 {
		t.Errorf("slow df: %v", u)
	}
}

func TestFromShare(t *testing.T) {
	for in, want := range map[string]bool{"/run/desktop/mnt/host/c/x": true, "/mnt/host/d": true, "/mnt/host/": false, "/run/desktop/mnt/hostx": false, "/home/me": false} {
		if FromShare(in) != want {
			t.Errorf("FromShare(%q) = %v", in, !want)
		}
	}
}
