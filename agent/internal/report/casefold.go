package report

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// foldCollision returns the path and keys of the first object in v (in
// sorted key order, so the answer is stable) with two keys that differ only
// in case, or ok false.
func foldCollision(v *structpb.Value, path string) (where, a, b string, ok bool) {
	switch k := v.GetKind().(type) {
	case *structpb.Value_StructValue:
		fields := k.StructValue.GetFields()
		keys := make([]string, 0, len(fields))
		for key := range fields {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		seen := map[string]string{}
		for _, key := range keys {
			if prev, dup := seen[strings.ToLower(key)]; dup {
				return path, prev, key, true
			}
			seen[strings.ToLower(key)] = key
		}
		for _, key := range keys {
			if w, a, b, ok := foldCollision(fields[key], path+"."+key); ok {
				return w, a, b, true
			}
		}
	case *structpb.Value_ListValue:
		for _, e := range k.ListValue.GetValues() {
			if w, a, b, ok := foldCollision(e, path+"[]"); ok {
				return w, a, b, true
			}
		}
	}
	return "", "", "", false
}

// foldSafeConfig keeps daemon.json content that PowerShell cannot read out
// of .daemon.config. dockerd accepts objects with keys that differ only in
// case (a "features" map, say), but ConvertFrom-Json rejects the whole
// document for one such object, so a Windows user's script would get no
// report at all. Such a config is written as text in .daemon.configRaw with
// .daemon.configError saying why, as an unparsable one is; r is not changed.
func foldSafeConfig(r *probev1.Report) *probev1.Report {
	cfg := r.GetDaemon().GetConfig()
	if cfg == nil {
		return r
	}
	where, a, b, ok := foldCollision(cfg, ".daemon.config")
	if !ok {
		return r
	}
	raw, err := json.Marshal(cfg.AsInterface())
	if err != nil {
		return r
	}
	c := proto.CloneOf(r)
	c.Daemon.Config = nil
	if c.Daemon.ConfigRaw == "" {
		c.Daemon.ConfigRaw = string(raw)
	}
	c.Daemon.ConfigError = fmt.Sprintf("object %s has keys %q and %q, which differ only in case: kept as text, since PowerShell's ConvertFrom-Json rejects such an object", where, a, b)
	return c
}
