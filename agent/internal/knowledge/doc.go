// Package knowledge turns a Report's facts into the conclusions a person
// who knows Docker Desktop would draw: what each interface is for, which
// range is the Docker subnet, which subnet the next network gets, what
// dockerd's effective configuration is and where each value came from,
// and what the host-share mounts really are. It completes one fact an
// engine may leave out (a bridge network's gateway, from its bridge's
// address). Otherwise it only reads facts already
// in the report (and, for the settings file, bytes handed to it); it does
// not judge them: package checks turns knowledge into findings.
package knowledge
