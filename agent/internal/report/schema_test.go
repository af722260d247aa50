package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
)

// docs/report.schema.json is generated: go test -update rewrites it.
func TestSchemaFileUpToDate(t *testing.T) {
	golden(t, "../../../docs/report.schema.json", JSONSchema())
}

// Every fixture's JSON validates against the schema.
func TestReportsValidateAgainstSchema(t *testing.T) {
	var schema map[string]any
	if err := json.Unmarshal(JSONSchema(), &schema); err != nil {
		t.Fatal(err)
	}
	for _, name := range fixtures {
		var buf bytes.Buffer
		if err := JSON(&buf, loadFixture(t, name)); err != nil {
			t.Fatal(err)
		}
		var doc any
		dec := json.NewDecoder(&buf)
		dec.UseNumber()
		if err := dec.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		if errs := validate(schema, schema, doc, ""); len(errs) > 0 {
			t.Errorf("%s: %s", name, strings.Join(errs, "\n"))
		}
	}
	// And the validator does catch a violation.
	bad := map[string]any{"schemaVersion": "1"}
	if errs := validate(schema, schema, bad, ""); len(errs) == 0 {
		t.Error("the validator accepted a string schemaVersion and missing fields")
	}
}

// validate checks the subset of JSON Schema that JSONSchema generates:
// $ref, type, properties, required, items, additionalProperties, anyOf.
func validate(root, s map[string]any, v any, path string) []string {
	if ref, ok := s["$ref"].(string); ok {
		def := root["$defs"].(map[string]any)[strings.TrimPrefix(ref, "#/$defs/")].(map[string]any)
		return validate(root, def, v, path)
	}
	if alts, ok := s["anyOf"].([]any); ok {
		for _, alt := range alts {
			if len(validate(root, alt.(map[string]any), v, path)) == 0 {
				return nil
			}
		}
		return []string{path + ": matches no alternative"}
	}
	var errs []string
	if ty, ok := s["type"]; ok {
		var types []string
		switch x := ty.(type) {
		case string:
			types = []string{x}
		case []any:
			for _, e := range x {
				types = append(types, e.(string))
			}
		}
		if !typeOK(types, v) {
			return []string{fmt.Sprintf("%s: %T is not %v", path, v, types)}
		}
	}
	switch x := v.(type) {
	case map[string]any:
		if req, ok := s["required"].([]any); ok {
			for _, r := range req {
				if _, ok := x[r.(string)]; !ok {
					errs = append(errs, path+"."+r.(string)+": missing")
				}
			}
		}
		props, _ := s["properties"].(map[string]any)
		for k, e := range x {
			if ps, ok := props[k].(map[string]any); ok {
				errs = append(errs, validate(root, ps, e, path+"."+k)...)
			} else if ap, ok := s["additionalProperties"].(map[string]any); ok {
				errs = append(errs, validate(root, ap, e, path+"."+k)...)
			}
		}
	case []any:
		if items, ok := s["items"].(map[string]any); ok {
			for i, e := range x {
				errs = append(errs, validate(root, items, e, fmt.Sprintf("%s[%d]", path, i))...)
			}
		}
	}
	return errs
}

func typeOK(types []string, v any) bool {
	for _, ty := range types {
		switch x := v.(type) {
		case nil:
			if ty == "null" {
				return true
			}
		case bool:
			if ty == "boolean" {
				return true
			}
		case string:
			if ty == "string" {
				return true
			}
		case json.Number:
			if ty == "number" {
				return true
			}
			if _, err := x.Int64(); err == nil && ty == "integer" {
				return true
			}
		case map[string]any:
			if ty == "object" {
				return true
			}
		case []any:
			if ty == "array" {
				return true
			}
		}
	}
	return false
}

// docs/cluster.schema.json is generated: go test -update rewrites it; the
// cluster package's golden cluster report validates against it.
func TestClusterSchemaFileUpToDate(t *testing.T) {
	golden(t, "../../../docs/cluster.schema.json", ClusterJSONSchema())
	var schema map[string]any
	if err := json.Unmarshal(ClusterJSONSchema(), &schema); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("../cluster/testdata/cluster.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if errs := validate(schema, schema, doc, ""); len(errs) > 0 {
		t.Errorf("cluster.golden.json: %s", strings.Join(errs, "\n"))
	}
}
