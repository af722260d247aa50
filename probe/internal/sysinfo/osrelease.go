package sysinfo

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strconv"
	"strings"

	"github.com/dockprobe/dockprobe/probe/internal/hostfs"
)

// maxOSRelease caps os-release; real ones are under 1 KiB.
const maxOSRelease = 64 << 10

// OSRelease reads os-release inside pid's root: /etc/os-release, else
// /usr/lib/os-release, as os-release(5) says.
func OSRelease(fsys *hostfs.FS, pid int) (map[string]string, error) {
	b, err := fsys.ReadInRoot(pid, "/etc/os-release", maxOSRelease)
	if errors.Is(err, fs.ErrNotExist) {
		b, err = fsys.ReadInRoot(pid, "/usr/lib/os-release", maxOSRelease)
	}
	if err != nil {
		return nil, err
	}
	return ParseOSRelease(strings.NewReader(string(b)))
}

// ParseOSRelease parses os-release(5): KEY=value lines where the value is a
// shell word (double quotes with \" \\ \$ \` escapes, single quotes taken
// literally, backslash escapes outside quotes), plus blank and # comment
// lines. It keeps every good line; the error names the first bad one.
func ParseOSRelease(r io.Reader) (map[string]string, error) {
	out := map[string]string{}
	var firstErr error
	s := bufio.NewScanner(r)
	for n := 1; s.Scan(); n++ {
		line := strings.TrimSpace(s.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		key, raw, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		var err error
		switch {
		case !ok:
			err = errors.New("no '='")
		case !validKey(key):
			err = fmt.Errorf("bad variable name %q", key)
		default:
			var v string
			if v, err = shellWord(strings.TrimLeft(raw, " \t")); err == nil {
				out[key] = v
			}
		}
		if err != nil && firstErr == nil {
			firstErr = lineError(n, s.Text(), err)
		}
	}
	if err := s.Err(); err != nil && firstErr == nil {
		firstErr = err
	}
	return out, firstErr
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// shellWord unquotes one shell word. Whitespace outside quotes ends it, and
// only a comment may follow.
func shellWord(s string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			closed := false
			for i++; i < len(s); i++ {
				if s[i] == '"' {
					closed = true
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					i++
				}
				b.WriteByte(s[i])
			}
			if !closed {
				return "", errors.New("unterminated double quote")
			}
		case '\'':
			end := strings.IndexByte(s[i+1:], '\'')
			if end < 0 {
				return "", errors.New("unterminated single quote")
			}
			b.WriteString(s[i+1 : i+1+end])
			i += end + 1
		case '\\':
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case ' ', '\t':
			if rest := strings.TrimLeft(s[i:], " \t"); rest != "" && rest[0] != '#' {
				return "", fmt.Errorf("unquoted whitespace before %q", rest)
			}
			return b.String(), nil
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// lineError quotes line n of a file in an error.
func lineError(n int, line string, err error) error {
	const max = 120
	if len(line) > max {
		line = line[:max] + "..."
	}
	return fmt.Errorf("%w: line %d: %s: %s", ErrParse, n, strconv.Quote(line), err)
}
