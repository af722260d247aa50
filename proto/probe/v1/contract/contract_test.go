package contract

import (
	"strings"
	"testing"
)

func TestContractPathsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, cp := range Paths {
		if _, err := splitPath(cp.Path); err != nil {
			t.Error(err)
		}
		if seen[cp.Path] {
			t.Errorf("duplicate contract path %s", cp.Path)
		}
		seen[cp.Path] = true
		for _, typ := range strings.Split(cp.Type, "|") {
			switch typ {
			case "string", "number", "boolean", "object", "array", "null":
			default:
				t.Errorf("%s: unknown type %q", cp.Path, typ)
			}
		}
	}
}

func TestCheckMinimal(t *testing.T) {
	// Empty arrays pass Check but not CheckStrict.
	doc := []byte(`{"schemaVersion":1,"engine":{"serverVersion":"","apiVersion":"","networks":[],"hostGatewayIp":""},
"target":{"pid":0},"daemon":{"pid":0,"argv":[],"flags":[],"configFile":"","config":null},
"interfaces":[],"routes":[],"mounts":[],"errors":[]}`)
	if err := Check(doc); err != nil {
		t.Errorf("Check(minimal) = %v", err)
	}
	if err := CheckStrict(doc); err == nil {
		t.Error("CheckStrict(minimal) = nil, want an error for paths that reach no value")
	}
}
