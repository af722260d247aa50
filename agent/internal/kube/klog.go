package kube

import (
	"flag"
	"io"

	"k8s.io/klog/v2"
)

// RouteLogs sends client-go's own log lines (klog: client-side throttling
// notes, watch errors, "Unhandled Error") to w instead of the agent's
// stderr, where they would break the one-line-error rule. Pass the debug
// log under --debug and io.Discard otherwise. Call it once, before any
// client is made.
func RouteLogs(w io.Writer) {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	fs.Set("logtostderr", "false")
	fs.Set("alsologtostderr", "false")
	fs.Set("stderrthreshold", "FATAL")
	klog.SetOutput(w)
}
