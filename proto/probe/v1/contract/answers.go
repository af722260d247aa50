package contract

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// AnswerPaths are the JSON paths of issue 13's facts that scripts may rely
// on: the VM's disk, forwarding and memory, the target's ancestry, the
// clocks, the proxies and the engine's usage. An object on the way may be
// null (a reduced report, an older probe): the paths below it then have
// no value, which is not a violation. Add only.
var AnswerPaths = []Path{
	{".target.ancestry[].pid", "number"},
	{".target.ancestry[].ppid", "number"},
	{".target.ancestry[].comm", "string"},
	{".target.ancestry[].enters[]", "string"},
	{".target.ancestry[].error", "string"},
	{".vmState.dataRoot.path", "string"},
	{".vmState.dataRoot.totalBytes", "number"},
	{".vmState.dataRoot.availableBytes", "number"},
	{".vmState.dataRoot.totalInodes", "number"},
	{".vmState.dataRoot.freeInodes", "number"},
	{".vmState.forwarding.ipv4", "string"},
	{".vmState.forwarding.ipv6", "string"},
	{".vmState.forwarding.ipv6Enabled", "boolean"},
	{".vmState.memory.totalBytes", "number"},
	{".vmState.memory.availableBytes", "number"},
	{".vmState.memory.oomKills", "number"},
	{".engine.httpProxy", "string"},
	{".engine.httpsProxy", "string"},
	{".engine.noProxy", "string"},
	{".engine.clock.remote", "string|null"},
	{".engine.clock.asked", "string|null"},
	{".engine.clock.answered", "string|null"},
	{".probeClock.remote", "string|null"},
	{".engineUsage.dfMeasured", "boolean"},
	{".engineUsage.oomKilled[].name", "string"},
	{".engineUsage.oomKilled[].image", "string"},
	{".engineUsage.oomKilled[].memoryLimitBytes", "number"},
	{".engineUsage.shareBinds[].name", "string"},
	{".engineUsage.shareBinds[].source", "string"},
	{".host.proxies[].source", "string"},
}

// CheckAnswers is Check for AnswerPaths, where a null object on the way
// ends the path without a violation.
func CheckAnswers(doc []byte) error {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return fmt.Errorf("%w: not JSON: %w", ErrViolation, err)
	}
	var errs []error
	for _, cp := range AnswerPaths {
		segs, err := splitPath(cp.Path)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, msg := range walkNullable(root, segs, "", cp.Type) {
			errs = append(errs, fmt.Errorf("%w: %s", ErrViolation, msg))
		}
	}
	return errors.Join(errs...)
}

// walkNullable is walk where a null object in the middle of the path
// ends it without a violation.
func walkNullable(v any, segs []segment, at, want string) []string {
	if len(segs) == 0 {
		if got := jsonType(v); !typeAllowed(got, want) {
			return []string{fmt.Sprintf("%s: want %s, got %s", at, want, got)}
		}
		return nil
	}
	if v == nil && at != "" {
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s: want object, got %s", orRoot(at), jsonType(v))}
	}
	s := segs[0]
	child, ok := obj[s.key]
	at += "." + s.key
	if !ok {
		return []string{fmt.Sprintf("%s: missing", at)}
	}
	if !s.each {
		return walkNullable(child, segs[1:], at, want)
	}
	list, ok := child.([]any)
	if !ok {
		return []string{fmt.Sprintf("%s: want array, got %s", at, jsonType(child))}
	}
	var msgs []string
	for i, el := range list {
		msgs = append(msgs, walkNullable(el, segs[1:], fmt.Sprintf("%s[%d]", at, i), want)...)
	}
	return msgs
}
