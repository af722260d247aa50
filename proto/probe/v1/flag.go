package probev1

import "strings"

// Option is the flag as it is written on a command line: "-H" for a
// one-letter name, "--config-file" otherwise. Name is stored without its
// dashes, so every renderer spells it here rather than prefixing "--"
// (which printed dockerd's -H as "--H").
func (x *Flag) Option() string { return FlagOption(x.GetName()) }

// FlagOption spells a flag name (with or without leading dashes) the way
// it is written on a command line.
func FlagOption(name string) string {
	name = strings.TrimLeft(name, "-")
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}
