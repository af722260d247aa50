// Package procs scans the process table of a procfs once and keeps the
// processes the probe cares about (dockerd, containerd, shims, kubelet...).
// It reads each process's stat (its comm and parent, for the whole table)
// and reads cmdline only for the processes it keeps, so a host with
// thousands of processes costs thousands of small reads, not thousands of
// argv copies, and the parentage the probe needs later (a shim's children)
// comes from the same pass.
//
// It never reads environ. Parsers for stat and cmdline are pure and take
// bytes; Scan is the only part that touches the filesystem, through hostfs.
package procs

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// ErrParse marks malformed /proc content.
var ErrParse = errors.New("malformed proc file")

// Process is one kept process.
type Process struct {
	PID  int
	PPID int
	// Comm is the kernel's name for the process (at most 15 bytes).
	Comm string
	// Argv is the command line; empty for kernel threads and zombies.
	Argv []string
}

// Interesting reports whether a process named comm is one the report lists:
// the engine's daemons, runtimes and Docker Desktop's helpers. comm is
// truncated to 15 bytes by the kernel ("containerd-shim-runc-v2" reads
// "containerd-shim"), hence the prefixes.
func Interesting(comm string) bool {
	switch comm {
	case "dockerd", "containerd", "kubelet", "buildkitd", "rootlesskit":
		return true
	}
	for _, prefix := range []string{"containerd-", "k3s", "vpnkit", "com.docker."} {
		if strings.HasPrefix(comm, prefix) {
			return true
		}
	}
	return false
}

// Scan lists the processes of fsys whose comm keep accepts (Interesting when
// keep is nil), in pid order, with their ppid and argv. Processes that exit
// during the scan are skipped; other failures skip the process and the first
// is returned along with everything that could be read.
func Scan(fsys *hostfs.FS, keep func(comm string) bool) ([]Process, error) {
	kept, _, err := ScanTable(fsys, keep)
	return kept, err
}

// Table is the whole process table as one scan saw it: every process's
// pid, ppid and comm (no argv), in pid order.
type Table []Process

// ScanTable is Scan that also returns the whole table, from the same one
// read of stat per process.
func ScanTable(fsys *hostfs.FS, keep func(comm string) bool) (kept []Process, all Table, err error) {
	if keep == nil {
		keep = Interesting
	}
	err = eachPID(fsys, func(pid int) error {
		b, err := fsys.ReadProcFile(pid, "stat")
		if err != nil {
			return err
		}
		st, err := ParseStat(b)
		if err != nil {
			return fmt.Errorf("pid %d: %w", pid, err)
		}
		p := Process{PID: pid, PPID: st.PPID, Comm: st.Comm}
		all = append(all, p)
		if !keep(st.Comm) {
			return nil
		}
		b, err = fsys.ReadProcFile(pid, "cmdline")
		if err != nil {
			return err
		}
		p.Argv = ParseCmdline(b)
		kept = append(kept, p)
		return nil
	})
	return kept, all, err
}

// Children lists the processes of t whose parent parent accepts, in pid
// order.
func (t Table) Children(parent func(ppid int) bool) []Process {
	var out []Process
	for _, p := range t {
		if parent(p.PPID) {
			out = append(out, p)
		}
	}
	return out
}

// eachPID calls read for every process of fsys in pid order. A process that
// exits meanwhile is skipped silently; one that cannot be read (hidepid, a
// race) must not hide the rest, so the first such error is returned after
// all of them were tried. Failing to list the processes is returned at once.
func eachPID(fsys *hostfs.FS, read func(pid int) error) error {
	pids, err := fsys.PIDs()
	if err != nil {
		return fmt.Errorf("list processes: %w", err)
	}
	var firstErr error
	for _, pid := range pids {
		if err := read(pid); err != nil && !gone(err) && firstErr == nil {
			firstErr = err
		}
	}
	return firstErr
}

// Read reads one process's stat and cmdline.
func Read(fsys *hostfs.FS, pid int) (Process, error) {
	b, err := fsys.ReadProcFile(pid, "stat")
	if err != nil {
		return Process{}, err
	}
	st, err := ParseStat(b)
	if err != nil {
		return Process{}, fmt.Errorf("pid %d: %w", pid, err)
	}
	b, err = fsys.ReadProcFile(pid, "cmdline")
	if err != nil {
		return Process{}, err
	}
	return Process{PID: pid, PPID: st.PPID, Comm: st.Comm, Argv: ParseCmdline(b)}, nil
}

// gone reports whether err means the process exited under us: its /proc
// directory vanished (ENOENT) or its task is already reaped (ESRCH).
func gone(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}

// Stat is the part of /proc/<pid>/stat the probe uses.
type Stat struct {
	PID   int
	Comm  string
	State string
	PPID  int
}

// ParseStat parses /proc/<pid>/stat. comm sits in parentheses and may itself
// contain spaces and ")", so the fields after it are found from the last ")".
func ParseStat(b []byte) (Stat, error) {
	s := string(bytes.TrimRight(b, "\n"))
	open := strings.IndexByte(s, '(')
	close := strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return Stat{}, fmt.Errorf("%w: stat %s: no (comm)", ErrParse, quote(s))
	}
	pid, err := strconv.Atoi(strings.TrimSpace(s[:open]))
	if err != nil || pid <= 0 {
		return Stat{}, fmt.Errorf("%w: stat %s: bad pid", ErrParse, quote(s))
	}
	rest := strings.Fields(s[close+1:])
	if len(rest) < 2 {
		return Stat{}, fmt.Errorf("%w: stat %s: missing state and ppid", ErrParse, quote(s))
	}
	ppid, err := strconv.Atoi(rest[1])
	if err != nil || ppid < 0 {
		return Stat{}, fmt.Errorf("%w: stat %s: bad ppid %q", ErrParse, quote(s), rest[1])
	}
	return Stat{PID: pid, Comm: s[open+1 : close], State: rest[0], PPID: ppid}, nil
}

// ParseCmdline splits /proc/<pid>/cmdline at NUL bytes. The kernel ends the
// last argument with a NUL too; a process that rewrote its argv area (as
// setproctitle does) may not, and may pad with NULs, both handled.
func ParseCmdline(b []byte) []string {
	b = bytes.TrimRight(b, "\x00")
	if len(b) == 0 {
		return nil
	}
	parts := bytes.Split(b, []byte{0})
	argv := make([]string, len(parts))
	for i, p := range parts {
		argv[i] = string(p)
	}
	return argv
}

// Base returns the base name of argv[0], or "" without one.
func Base(argv []string) string {
	if len(argv) == 0 || argv[0] == "" {
		return ""
	}
	return path.Base(argv[0])
}

// quote shows malformed input in an error, cut to a readable length.
func quote(s string) string {
	const max = 120
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strconv.Quote(s)
}

// maxAncestry bounds the walk up the process tree (a loop in a corrupt
// or racing /proc must not hang the probe).
const maxAncestry = 64

// Ancestry returns the chain of processes from the first ancestor that
// could be read (normally pid 1) down to pid, each with the namespaces it
// enters: those whose identity differs from its parent's. What could not
// be read (pid 1's namespace links are often protected) is said in the
// step's error, never guessed.
func Ancestry(fsys *hostfs.FS, pid int) []*probev1.AncestryStep {
	var chain []*probev1.AncestryStep
	var nss []map[string]string
	seen := map[int]bool{}
	for p := pid; p > 0 && !seen[p] && len(chain) < maxAncestry; {
		seen[p] = true
		step := &probev1.AncestryStep{Pid: int32(p)}
		b, err := fsys.ReadProcFile(p, "stat")
		var st Stat
		if err == nil {
			st, err = ParseStat(b)
		}
		if err != nil {
			step.Error = "stat: " + err.Error()
			chain = append(chain, step)
			nss = append(nss, nil)
			break
		}
		step.Ppid, step.Comm = int32(st.PPID), st.Comm
		ns, err := fsys.NamespaceIDs(p)
		if err != nil {
			step.Error = "namespaces: " + err.Error()
		}
		chain = append(chain, step)
		nss = append(nss, ns)
		p = st.PPID
	}
	slices.Reverse(chain)
	slices.Reverse(nss)
	for i, step := range chain {
		if i == 0 {
			continue
		}
		parent, own := nss[i-1], nss[i]
		if len(own) == 0 {
			continue
		}
		if len(parent) == 0 {
			if step.Error == "" {
				step.Error = fmt.Sprintf("parent %d's namespaces could not be read: which ones this step enters is unknown", chain[i-1].Pid)
			}
			continue
		}
		for _, kind := range hostfs.Namespaces {
			if id, ok := own[kind]; ok && parent[kind] != "" && id != parent[kind] {
				step.Enters = append(step.Enters, id)
			}
		}
	}
	return chain
}
