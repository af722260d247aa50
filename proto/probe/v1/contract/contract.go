// Package contract is the JSON contract of probev1.Report: the jq-style
// paths that scripts may rely on (Paths) and a checker (Check) that the
// renderer tests and the end-to-end suite both run against real output.
// Paths are only ever added; removing one or changing its type is a new
// schema version (docs/json.md).
package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Path is a JSON path scripts may rely on, written jq-style
// (".engine.networks[].name"; "[]" walks every element), and the JSON type
// its values have: string, number, boolean, object or array, or several
// joined with "|".
type Path struct {
	Path string
	Type string
}

// Paths lists the JSON paths that schema version 1 promises. Paths
// are only ever added; removing one or changing its type is a new schema
// version. int32 fields stay JSON numbers (protojson would quote int64).
var Paths = []Path{
	{".schemaVersion", "number"},
	{".engine.serverVersion", "string"},
	{".engine.apiVersion", "string"},
	{".engine.networks[].name", "string"},
	{".engine.networks[].driver", "string"},
	{".engine.networks[].subnets[].subnet", "string"},
	{".engine.networks[].subnets[].gateway", "string"},
	{".engine.hostGatewayIp", "string"},
	{".target.pid", "number"},
	{".daemon.pid", "number"},
	{".daemon.argv[]", "string"},
	{".daemon.flags[].name", "string"},
	{".daemon.flags[].value", "string"},
	{".daemon.configFile", "string"},
	// The parsed daemon.json; null when there is none or it is not JSON.
	{".daemon.config", "object|null"},
	{".interfaces[].name", "string"},
	{".interfaces[].mtu", "number"},
	{".interfaces[].kind", "string"},
	{".interfaces[].addresses[].cidr", "string"},
	{".interfaces[].addresses[].broadcast", "string"},
	{".routes[]", "object"},
	{".mounts[].mountPoint", "string"},
	{".mounts[].fsType", "string"},
	{".mounts[].source", "string"},
	{".mounts[].root", "string"},
	{".mounts[].propagation", "string"},
	{".errors[].section", "string"},
	{".errors[].message", "string"},
}

// ErrViolation is matched by every Check failure.
var ErrViolation = errors.New("JSON contract violated")

// Check verifies that doc (a JSON report) has every path in
// Paths with the promised type. Every list on a path must be a JSON
// array; an empty one satisfies the rest of the path (a report without
// errors has no .errors[].section to check).
func Check(doc []byte) error {
	return check(doc, Paths, false)
}

// check verifies doc against paths; with strict set it also requires every path to reach at least
// one value, which a complete fixture must.
func check(doc []byte, paths []Path, strict bool) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return fmt.Errorf("%w: not JSON: %w", ErrViolation, err)
	}
	var errs []error
	for _, cp := range paths {
		segs, err := splitPath(cp.Path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		reached := 0
		for _, msg := range walk(root, segs, "", cp.Type, &reached) {
			errs = append(errs, fmt.Errorf("%w: %s", ErrViolation, msg))
		}
		if strict && reached == 0 {
			errs = append(errs, fmt.Errorf("%w: %s: no value (every list on the path is empty)", ErrViolation, cp.Path))
		}
	}
	return errors.Join(errs...)
}

type segment struct {
	key  string // object member; "" for the root
	each bool   // followed by []
}

func splitPath(p string) ([]segment, error) {
	if !strings.HasPrefix(p, ".") {
		return nil, fmt.Errorf("contract path %q does not start with '.'", p)
	}
	var segs []segment
	for _, part := range strings.Split(p[1:], ".") {
		s := segment{key: strings.TrimSuffix(part, "[]")}
		s.each = s.key != part
		if s.key == "" || strings.ContainsAny(s.key, "[]") {
			return nil, fmt.Errorf("contract path %q: bad segment %q", p, part)
		}
		segs = append(segs, s)
	}
	return segs, nil
}

// walk follows segs from v and returns one message per violation. at is the
// concrete path so far (".interfaces[2].mtu") for the messages.
func walk(v any, segs []segment, at, want string, reached *int) []string {
	if len(segs) == 0 {
		*reached++
		if got := jsonType(v); !typeAllowed(got, want) {
			return []string{fmt.Sprintf("%s: want %s, got %s", at, want, got)}
		}
		return nil
	}
	s := segs[0]
	obj, ok := v.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: want object, got %s", orRoot(at), jsonType(v))}
	}
	child, ok := obj[s.key]
	at += "." + s.key
	if !ok {
		return []string{fmt.Sprintf("%s: missing", at)}
	}
	if !s.each {
		return walk(child, segs[1:], at, want, reached)
	}
	list, ok := child.([]any)
	if !ok {
		return []string{fmt.Sprintf("%s: want array, got %s", at, jsonType(child))}
	}
	var msgs []string
	for i, el := range list {
		msgs = append(msgs, walk(el, segs[1:], fmt.Sprintf("%s[%d]", at, i), want, reached)...)
	}
	return msgs
}

func orRoot(at string) string {
	if at == "" {
		return "."
	}
	return at
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number, float64:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return fmt.Sprintf("%T", v)
}

func typeAllowed(got, want string) bool {
	for _, w := range strings.Split(want, "|") {
		if got == w {
			return true
		}
	}
	return false
}

// CheckStrict is Check that also requires every path to reach at least one
// value (so empty arrays do not pass vacuously).
func CheckStrict(doc []byte) error { return check(doc, Paths, true) }
