// Package probev1 is the gRPC contract between the dockprobe agent and the
// probe: generated messages and service stubs (probe.pb.go, probe_grpc.pb.go,
// never edited by hand; `make proto` regenerates them), the protocol
// constants both sides compare in the handshake, and ArgsDiff, which both
// sides use to fill a watch event's changed arguments.
package probev1

// ProtocolVersion changes when a message or RPC changes in a way the other
// side cannot read. Adding fields does not change it.
const ProtocolVersion uint32 = 1

// SchemaVersion is the version of the JSON report (Report.schema_version).
// It changes only when a documented JSON path is removed or changes meaning,
// which the rules in docs/json.md forbid within a major version.
const SchemaVersion int32 = 1
