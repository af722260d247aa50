package report

import (
	"encoding/json"
	"strconv"

	"google.golang.org/protobuf/reflect/protoreflect"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// SchemaID names the JSON Schema of the report; docs/report.schema.json is
// its committed copy and bundles carry it as report.schema.json.
const SchemaID = "https://github.com/dockprobe/dockprobe/docs/report.schema.json"

// JSONSchema is the JSON Schema (2020-12) of `agent probe -o json`,
// generated from the proto so it can never drift from the renderer: every
// field is required (the renderer writes them all), nested messages may be
// null, and additional properties are allowed because fields are added
// within a schema version (docs/json.md).
func JSONSchema() []byte {
	g := &schemaGen{defs: map[string]any{}}
	root := g.message((&probev1.Report{}).ProtoReflect().Descriptor())
	doc := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         SchemaID,
		"title":       "dockprobe report, schema version " + strconv.Itoa(int(probev1.SchemaVersion)),
		"description": "The output of `agent probe -o json` (proto/probe/v1/probe.proto, message Report, rendered by protojson with lowerCamelCase names and every field present). Rules: fields are only added within a schema version; a documented path is never renamed, removed or retyped.",
		"$ref":        root["$ref"],
		"$defs":       g.defs,
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return append(b, '\n')
}

type schemaGen struct {
	defs map[string]any
}

func (g *schemaGen) message(md protoreflect.MessageDescriptor) map[string]any {
	name := string(md.FullName())
	ref := map[string]any{"$ref": "#/$defs/" + name}
	switch name {
	case "google.protobuf.Timestamp":
		g.defs[name] = map[string]any{"type": []string{"string", "null"}, "format": "date-time"}
		return ref
	case "google.protobuf.Value":
		g.defs[name] = map[string]any{"description": "any JSON value"}
		return ref
	case "google.protobuf.Struct":
		g.defs[name] = map[string]any{"type": []string{"object", "null"}}
		return ref
	}
	if _, done := g.defs[name]; done {
		return ref
	}
	props := map[string]any{}
	required := []string{}
	def := map[string]any{"type": "object", "properties": props, "required": &required}
	g.defs[name] = def // placeholder first: messages may recurse
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		props[fd.JSONName()] = g.field(fd)
		required = append(required, fd.JSONName())
	}
	def["required"] = required
	return ref
}

func (g *schemaGen) field(fd protoreflect.FieldDescriptor) any {
	switch {
	case fd.IsMap():
		return map[string]any{"type": "object", "additionalProperties": g.scalar(fd.MapValue())}
	case fd.IsList():
		return map[string]any{"type": "array", "items": g.scalar(fd)}
	}
	s := g.scalar(fd)
	if fd.Kind() == protoreflect.MessageKind {
		// A nested message that was never set is written as null.
		switch fd.Message().FullName() {
		case "google.protobuf.Value", "google.protobuf.Timestamp", "google.protobuf.Struct":
			return s
		}
		return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
	}
	return s
}

func (g *schemaGen) scalar(fd protoreflect.FieldDescriptor) map[string]any {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return g.message(fd.Message())
	case protoreflect.BoolKind:
		return map[string]any{"type": "boolean"}
	case protoreflect.StringKind, protoreflect.EnumKind:
		return map[string]any{"type": "string"}
	case protoreflect.BytesKind:
		return map[string]any{"type": "string", "contentEncoding": "base64"}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind,
		protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		// protojson quotes 64-bit integers.
		return map[string]any{"type": "string", "pattern": "^-?[0-9]+$"}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return map[string]any{"type": "number"}
	default:
		return map[string]any{"type": "integer"}
	}
}

// ClusterSchemaID names the JSON Schema of the cluster report;
// docs/cluster.schema.json is its committed copy.
const ClusterSchemaID = "https://github.com/dockprobe/dockprobe/docs/cluster.schema.json"

// ClusterJSONSchema is the JSON Schema of `agent probe --runtime kubernetes
// -o json` (message ClusterReport of proto/probe/v1/cluster.proto), made
// like JSONSchema: each node's report is the same Report.
func ClusterJSONSchema() []byte {
	g := &schemaGen{defs: map[string]any{}}
	root := g.message((&probev1.ClusterReport{}).ProtoReflect().Descriptor())
	doc := map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         ClusterSchemaID,
		"title":       "dockprobe cluster report, schema version " + strconv.Itoa(int(probev1.SchemaVersion)),
		"description": "The output of `agent probe --runtime kubernetes -o json` (proto/probe/v1/cluster.proto, message ClusterReport, rendered by protojson with lowerCamelCase names and every field present; nodes[].report is the single-engine Report). Rules: fields are only added within a schema version; a documented path is never renamed, removed or retyped.",
		"$ref":        root["$ref"],
		"$defs":       g.defs,
	}
	b, _ := json.MarshalIndent(doc, "", "  ")
	return append(b, '\n')
}
