package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/moby/moby/client"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// UsageAPI is the part of the Docker client that Usage reads.
type UsageAPI interface {
	DiskUsage(context.Context, client.DiskUsageOptions) (client.DiskUsageResult, error)
	ContainerList(context.Context, client.ContainerListOptions) (client.ContainerListResult, error)
	ContainerInspect(context.Context, string, client.ContainerInspectOptions) (client.ContainerInspectResult, error)
}

// DFDeadline bounds /system/df: the engine walks every layer and volume
// to answer it, which takes minutes on a big engine. Past it the totals
// are "not measured", never waited for.
const DFDeadline = 3 * time.Second

// MaxInspect bounds the containers inspected for OOMKilled.
const MaxInspect = 64

// ShareRoots are where Docker Desktop mounts the host's drives in the VM:
// a bind mount from one of them crosses the VM boundary on every access.
var ShareRoots = []string{"/run/desktop/mnt/host/", "/mnt/host/"}

// Usage asks the engine what the issue 13 checks need beyond Facts: the
// disk usage totals (bounded by dfDeadline), the containers it marks
// OOMKilled (up to MaxInspect, newest first) and the running containers'
// bind mounts from a host drive share. It never fails: what could not be
// asked is said in the result.
func Usage(ctx context.Context, api UsageAPI, dfDeadline time.Duration) *probev1.EngineUsage {
	u := &probev1.EngineUsage{}
	dfc := make(chan *probev1.EngineUsage, 1)
	go func() {
		dctx, cancel := context.WithTimeout(ctx, dfDeadline)
		defer cancel()
		d := &probev1.EngineUsage{}
		res, err := api.DiskUsage(dctx, client.DiskUsageOptions{Images: true, BuildCache: true, Containers: true, Volumes: true})
		switch {
		case errors.Is(dctx.Err(), context.DeadlineExceeded):
			d.DfError = fmt.Sprintf("not measured: /system/df did not answer within %s", dfDeadline)
		case err != nil:
			d.DfError = "not measured: " + err.Error()
		default:
			d.DfMeasured = true
			d.ImagesBytes, d.ImagesReclaimableBytes = float64(res.Images.TotalSize), float64(res.Images.Reclaimable)
			d.BuildCacheBytes, d.BuildCacheReclaimableBytes = float64(res.BuildCache.TotalSize), float64(res.BuildCache.Reclaimable)
			d.ContainersBytes, d.VolumesBytes = float64(res.Containers.TotalSize), float64(res.Volumes.TotalSize)
		}
		dfc <- d
	}()

	list, err := api.ContainerList(ctx, client.ContainerListOptions{All: true})
	if err != nil {
		u.Error = "list containers: " + err.Error()
	}
	for _, c := range list.Items {
		if c.State != "running" {
			continue
		}
		for _, m := range c.Mounts {
			if string(m.Type) == "bind" && FromShare(m.Source) {
				u.ShareBinds = append(u.ShareBinds, &probev1.ContainerRef{Id: c.ID, Name: containerName(c.Names), Image: c.Image,
					Source: m.Source, Destination: m.Destination, State: string(c.State)})
			}
		}
	}
	for i, c := range list.Items {
		if i >= MaxInspect {
			u.Error = strings.TrimPrefix(u.Error+fmt.Sprintf("; only the newest %d of %d containers were inspected for OOMKilled", MaxInspect, len(list.Items)), "; ")
			break
		}
		res, err := api.ContainerInspect(ctx, c.ID, client.ContainerInspectOptions{})
		if err != nil {
			continue // removed meanwhile
		}
		u.ContainersInspected++
		in := res.Container
		if in.State == nil || !in.State.OOMKilled {
			continue
		}
		ref := &probev1.ContainerRef{Id: c.ID, Name: containerName(c.Names), Image: c.Image, State: string(in.State.Status)}
		if in.HostConfig != nil {
			ref.MemoryLimitBytes = float64(in.HostConfig.Memory)
		}
		u.OomKilled = append(u.OomKilled, ref)
	}

	d := <-dfc
	u.DfMeasured, u.DfError = d.DfMeasured, d.DfError
	u.ImagesBytes, u.ImagesReclaimableBytes = d.ImagesBytes, d.ImagesReclaimableBytes
	u.BuildCacheBytes, u.BuildCacheReclaimableBytes = d.BuildCacheBytes, d.BuildCacheReclaimableBytes
	u.ContainersBytes, u.VolumesBytes = d.ContainersBytes, d.VolumesBytes
	return u
}

// FromShare reports whether a path in the VM lies on a host drive share.
func FromShare(source string) bool {
	for _, r := range ShareRoots {
		if strings.HasPrefix(source, r) && len(source) > len(r) {
			return true
		}
	}
	return false
}

func containerName(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return strings.TrimPrefix(names[0], "/")
}
