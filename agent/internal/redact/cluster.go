package redact

import (
	"google.golang.org/protobuf/proto"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Cluster returns a scrubbed copy of a cluster report: the API server's
// URL (its userinfo), every node's report as Report scrubs one, the nodes'
// errors and labels. With an Anonymizer, every node's report teaches it
// first, so that a name is the same pseudonym on every node.
func (s *Scrubber) Cluster(r *probev1.ClusterReport) *probev1.ClusterReport {
	if r == nil {
		return nil
	}
	c := proto.CloneOf(r)
	if s.Anon != nil {
		for _, n := range c.GetNodes() {
			if n.GetReport() != nil {
				s.Anon.Learn(n.GetReport())
			}
		}
	}
	s.message(c.ProtoReflect(), "")
	return c
}
