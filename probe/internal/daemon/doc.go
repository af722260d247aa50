// Package daemon understands dockerd from the outside: it parses a dockerd
// command line into flags, reads and parses the daemon.json it uses, derives
// the settings that follow from both (data-root, exec-root, containerd
// address, hosts, pidfile), and chooses which process is the probe's target
// when several dockerd run on one host.
//
// Parsing and choosing are pure functions over argv, bytes and records, so
// they are table-tested on captures; only Inspect touches the filesystem, and
// only through hostfs. The daemon.json may hold secrets (registry
// credentials, proxy passwords): this package never logs it, and the agent
// redacts it before rendering.
package daemon
