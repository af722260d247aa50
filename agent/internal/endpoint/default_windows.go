//go:build windows

package endpoint

// DefaultHost is the engine the docker CLI uses when nothing names another.
const DefaultHost = defaultNpipeHost

const (
	defaultUnixHost  = "unix:///var/run/docker.sock"
	defaultNpipeHost = "npipe:////./pipe/docker_engine"
)
