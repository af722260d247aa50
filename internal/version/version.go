// Package version holds the one version string stamped into the agent, the
// probe and the probe image tag (make sets it with -ldflags -X). It is the
// only package besides proto/ that both binaries import; it must stay free of
// dependencies.
package version

// Version is set at build time; "dev" means an unstamped build.
var Version = "dev"
