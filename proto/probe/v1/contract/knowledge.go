package contract

// KnowledgePaths are the JSON paths of the agent's findings and knowledge
// (issue 3) that scripts may rely on. They are kept apart from Paths until
// every fixture the renderer tests check strictly carries findings; then
// they belong in Paths. Add only.
var KnowledgePaths = []Path{
	{".findings[].id", "string"},
	{".findings[].severity", "string"},
	{".findings[].status", "string"},
	{".findings[].summary", "string"},
	{".findings[].evidence[]", "string"},
	{".findings[].fix", "string"},
	{".interfaces[].role", "string"},
	{".interfaces[].meaning", "string"},
	{".knowledge.dockerSubnet", "object|null"},
	{".knowledge.nextNetworkSubnet", "string"},
	{".knowledge.shares[].path", "string"},
	{".knowledge.shares[].propagation", "string"},
	{".host.routes[].destination", "string"},
	{".names[].name", "string"},
	{".names[].source", "string"},
}

// CheckKnowledge is Check for KnowledgePaths: for a report made by
// `agent probe` or `agent doctor` (which always have findings).
func CheckKnowledge(doc []byte) error { return check(doc, KnowledgePaths, false) }
