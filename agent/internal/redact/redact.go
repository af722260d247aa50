// Package redact removes secrets from everything the agent writes: reports,
// bundles and their raw files. Every output path goes through one Scrubber,
// so a rule added here applies to text, JSON, YAML, HTML, templates and
// bundles at once.
//
// Redaction is on by default and is not optional: URL userinfo (also in URLs
// that do not parse), values of secret-looking keys in key=value, JSON and
// argv (--password x), Bearer/Basic credentials, JWTs, PEM blocks and cloud
// access keys. An Anonymizer (see anon.go) may be added for --anonymize.
//
// Do not use it to decide what to collect: it only rewrites what is about
// to be written.
package redact

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/structpb"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Mask replaces every secret.
const Mask = "REDACTED"

// secretKey matches names whose values are secrets (password, token, ...).
// It is searched inside the name, so "registry_password", "X-Api-Key" and
// "aws_secret_access_key" all match.
var secretKey = regexp.MustCompile(`(?i)(pass(word|wd|phrase)?|pwd|token|secret|api[_-]?key|access[_-]?key|account[_-]?key|private[_-]?key|credential|auth|session[_-]?key|signature|cookie)`)

// notSecretKey are names that contain a secret word but carry none.
var notSecretKey = regexp.MustCompile(`(?i)^(authorization[_-]?plugins?|auth[_-]?method|token[_-]?type|passthrough|.*-path|.*_path|.*[_-]file|.*sig[_-]?proxy)$`)

// IsSecretKey reports whether values under this key name are secrets.
func IsSecretKey(name string) bool {
	name = strings.TrimLeft(name, "-")
	return secretKey.MatchString(name) && !notSecretKey.MatchString(name)
}

type rule struct {
	name string
	re   *regexp.Regexp
	// repl builds the replacement from the submatches; nil masks the match.
	repl func(m []string) string
	// may is a cheap necessary condition for re to match an ASCII string
	// (lower is that string lowercased): every report string passes
	// through every rule, and running the regexps on all of them cost
	// tens of milliseconds per report after the probe had answered.
	// Strings with non-ASCII bytes always run the regexp, since (?i)
	// folds some non-ASCII letters (K, ſ) onto ASCII ones.
	may func(v, lower string) bool
	// fast, when set: starts lists in order every position of an ASCII
	// string (lower, lowercased) at or after which a match may begin,
	// and anchored is re matching only at the start of its input: the
	// rule then runs re only from those positions (replaceAt) instead of
	// scanning the whole string, which on a rendered HTML report (one
	// long text that passes may) cost ~75 ms for key-value alone.
	fast *fastPath
}

type fastPath struct {
	starts   func(lower string) []int
	anchored *regexp.Regexp
}

// contains is a may: v holds one of subs.
func contains(subs ...string) func(v, lower string) bool {
	return func(v, _ string) bool { return containsAny(v, subs) }
}

func containsAny(v string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(v, sub) {
			return true
		}
	}
	return false
}

// secretWords are lowercase words one of which every key-value match
// holds (api key, access key, ... all hold "key"; "pass" covers
// password, passwd and passphrase).
var secretWords = []string{"pass", "pwd", "token", "secret", "key", "credential", "signature"}

var rules = []rule{
	// PEM blocks first: their body would otherwise be cut up by other rules.
	{"pem-block", regexp.MustCompile(`-----BEGIN [A-Z0-9 ]+-----(?s:.*?)(-----END [A-Z0-9 ]+-----|\z)`),
		func([]string) string { return "-----BEGIN " + Mask + "-----" }, contains("-----BEGIN "), nil},
	// scheme://userinfo@ — by pattern, so URLs that net/url rejects are
	// caught too.
	{"url-userinfo", regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://)([^\s/?#@"'<>]+|[^\s@"'<>]*:[^\s@"'<>]*)@`),
		func(m []string) string { return m[1] + Mask + "@" },
		func(v, _ string) bool { return strings.Contains(v, "://") && strings.Contains(v, "@") }, nil},
	{"bearer", regexp.MustCompile(`(?i)\b(bearer|basic|token)(\s+)([A-Za-z0-9\-._~+/]{8,}=*)`),
		func(m []string) string { return m[1] + m[2] + Mask },
		func(v, lower string) bool {
			return strings.ContainsAny(v, " \t\n\v\f\r") && containsAny(lower, []string{"bearer", "basic", "token"})
		}, nil},
	{"jwt", regexp.MustCompile(`\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*`), nil, contains("eyJ"), nil},
	{"aws-access-key", regexp.MustCompile(`\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA)[A-Z0-9]{16}\b`), nil, contains("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA"), nil},
	{"gcp-api-key", regexp.MustCompile(`\bAIza[0-9A-Za-z_\-]{35}\b`), nil, contains("AIza"), nil},
	{"github-token", regexp.MustCompile(`\b(gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})\b`), nil, contains("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"), nil},
	{"slack-token", regexp.MustCompile(`\bxox[abposr]-[A-Za-z0-9-]{10,}\b`), nil, contains("xox"), nil},
	{"private-key-hex", regexp.MustCompile(`\b(sk|rk)_(live|test)_[A-Za-z0-9]{16,}\b`), nil, contains("k_live_", "k_test_"), nil},
	// key=value and key: value, quoted or not, in any text (argv, labels,
	// env, config lines, JSON written as text).
	{"key-value", keyValue,
		func(m []string) string {
			if notSecretKey.MatchString(m[1]) || isMask(m[3]) {
				return m[0]
			}
			q := ""
			if strings.HasPrefix(m[3], `"`) {
				q = `"`
			} else if strings.HasPrefix(m[3], `'`) {
				q = `'`
			}
			return m[1] + m[2] + q + Mask + q
		},
		func(v, lower string) bool { return strings.ContainsAny(v, "=:") && containsAny(lower, secretWords) },
		&fastPath{secretWordsAt, anchor(keyValue)}},
}

// keyValue is the key-value rule's pattern. Its key holds one of
// secretWords, so a match begins at a run of key characters holding one.
var keyValue = regexp.MustCompile(`(?i)([A-Za-z0-9_.\-]*(?:pass(?:word|wd|phrase)?|pwd|token|secret|api[_-]?key|access[_-]?key|account[_-]?key|private[_-]?key|credentials?|session[_-]?key|signature)[A-Za-z0-9_.\-]*)("?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s"',;&}\]]+)`)

func anchor(re *regexp.Regexp) *regexp.Regexp { return regexp.MustCompile(`^(?:` + re.String() + `)`) }

// secretWordsAt returns, in order, where each of secretWords occurs in
// lower: a key-value match holds one in its key.
func secretWordsAt(lower string) []int {
	var at []int
	for _, w := range secretWords {
		for i := 0; ; {
			j := strings.Index(lower[i:], w)
			if j < 0 {
				break
			}
			at = append(at, i+j)
			i += j + 1
		}
	}
	slices.Sort(at)
	return at
}

func isKeyChar(c byte) bool {
	return isASCIILetter(c) || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-'
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// replaceAt is re.ReplaceAllStringFunc(v, f) for a rule with starts: from
// each secret word it steps back over the key characters before it (not
// past the previous match, where the unanchored scan would resume) and
// tries the anchored pattern there. That is where the leftmost match
// holding that word begins, if there is one: an earlier start would need
// key characters before the run, and a later one only shortens the key.
func (r rule) replaceAt(v, lower string, f func(string) string) string {
	var b strings.Builder
	last := 0
	for _, at := range r.fast.starts(lower) {
		if at < last {
			continue
		}
		s := at
		for s > last && isKeyChar(v[s-1]) {
			s--
		}
		loc := r.fast.anchored.FindStringIndex(v[s:])
		if loc == nil {
			continue
		}
		b.WriteString(v[last:s])
		b.WriteString(f(v[s : s+loc[1]]))
		last = s + loc[1]
	}
	if last == 0 {
		return v
	}
	b.WriteString(v[last:])
	return b.String()
}

func isMask(v string) bool { return strings.Trim(v, `"'`) == Mask }

// Scrubber rewrites strings, JSON documents and reports. It counts what it
// redacted, per rule, for the bundle's manifest. It is safe for concurrent
// use.
type Scrubber struct {
	// Anon, when set, also replaces identities with pseudonyms.
	Anon *Anonymizer

	mu     sync.Mutex
	counts map[string]int
	where  map[string]bool
}

// New returns a Scrubber; anon may be nil.
func New(anon *Anonymizer) *Scrubber {
	return &Scrubber{Anon: anon, counts: map[string]int{}, where: map[string]bool{}}
}

func (s *Scrubber) count(rule, where string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[rule]++
	if where != "" {
		s.where[where] = true
	}
}

// Counts returns how many values each rule redacted so far.
func (s *Scrubber) Counts() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.counts))
	for k, v := range s.counts {
		out[k] = v
	}
	return out
}

// Locations returns where something was redacted (report field paths and
// file names), sorted; never the values.
func (s *Scrubber) Locations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.where))
	for k := range s.where {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// String scrubs one piece of text.
func (s *Scrubber) String(v string) string { return s.string(v, "") }

func (s *Scrubber) string(v, where string) string {
	if v == "" {
		return v
	}
	ascii := foldsASCII(v)
	lower := asciiLower(v)
	for _, r := range rules {
		if ascii && !r.may(v, lower) {
			continue
		}
		before := v
		replace := func(match string) string {
			var out string
			if r.repl == nil {
				out = Mask
			} else {
				out = r.repl(r.re.FindStringSubmatch(match))
			}
			if out != match {
				s.count(r.name, where)
			}
			return out
		}
		if ascii && r.fast != nil {
			v = r.replaceAt(v, lower, replace)
		} else {
			v = r.re.ReplaceAllStringFunc(v, replace)
		}
		if v != before {
			// Replacements are ASCII: v still folds as ASCII if it did.
			lower = asciiLower(v)
		}
	}
	if s.Anon != nil {
		v = s.Anon.String(v)
	}
	return v
}

// foldsASCII reports whether case-insensitive matching in v involves
// ASCII letters only, so that the prefilters (may) and the fast paths,
// which look at v's ASCII bytes lowercased, see every match: the only
// runes outside ASCII whose case folds reach ASCII letters are K (U+212A,
// to k) and ſ (U+017F, to s). A rendered HTML report holds a "·" and
// would otherwise run every regexp over its whole text (~150 ms).
func foldsASCII(v string) bool {
	return !strings.ContainsRune(v, '\u212A') && !strings.ContainsRune(v, '\u017F')
}

// asciiLower lowercases v's ASCII letters and keeps every other byte, so
// offsets in it are offsets in v.
func asciiLower(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= 'A' && c <= 'Z' {
			b := []byte(v)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return v
}

// Argv scrubs a command line: besides String on every word, the word after
// a secret-named flag given without "=" (--password x) is masked.
func (s *Scrubber) Argv(argv []string, where string) []string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if i > 0 && isSecretFlag(argv[i-1]) && !strings.HasPrefix(a, "-") && a != Mask {
			out[i] = Mask
			s.count("argv-flag", where)
			continue
		}
		out[i] = s.string(a, where)
	}
	return out
}

func isSecretFlag(a string) bool {
	return strings.HasPrefix(a, "-") && !strings.Contains(a, "=") && IsSecretKey(a)
}

// Bytes scrubs a file: a JSON document is scrubbed value by value (secret
// keys masked whatever their value) and re-indented; anything else as text.
func (s *Scrubber) Bytes(b []byte, where string) []byte {
	trim := bytes.TrimSpace(b)
	if len(trim) > 0 && (trim[0] == '{' || trim[0] == '[') && json.Valid(trim) {
		if out, ok := s.jsonBytes(trim, where); ok {
			return out
		}
	}
	return []byte(s.string(string(b), where))
}

func (s *Scrubber) jsonBytes(b []byte, where string) ([]byte, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	v = s.Value(v, where)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, false
	}
	return buf.Bytes(), true
}

// Value scrubs a decoded JSON value (map[string]any, []any, string, ...).
// Values under secret keys are masked entirely, and key names themselves
// are scrubbed (a label may be "token=abc" as a key).
func (s *Scrubber) Value(v any, where string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			nk := s.string(k, where)
			if IsSecretKey(k) && !isEmptyJSON(val) {
				if str, ok := val.(string); !ok || str != Mask {
					s.count("json-key", where)
				}
				out[nk] = Mask
				continue
			}
			out[nk] = s.Value(val, where)
		}
		return out
	case []any:
		strs := make([]string, 0, len(x))
		allStr := true
		for _, e := range x {
			str, ok := e.(string)
			if !ok {
				allStr = false
				break
			}
			strs = append(strs, str)
		}
		out := make([]any, len(x))
		if allStr && len(strs) > 0 {
			for i, str := range s.Argv(strs, where) {
				out[i] = str
			}
			return out
		}
		for i, e := range x {
			out[i] = s.Value(e, where)
		}
		return out
	case string:
		return s.string(x, where)
	}
	return v
}

func isEmptyJSON(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return true
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// Report returns a scrubbed copy of r: every string field, map key and
// value, list and embedded JSON (daemon.config) is scrubbed; argv lists are
// scrubbed as command lines and flags whose name is secret lose their
// value.
func (s *Scrubber) Report(r *probev1.Report) *probev1.Report {
	if r == nil {
		return nil
	}
	c := proto.CloneOf(r)
	if s.Anon != nil {
		s.Anon.Learn(c)
	}
	s.message(c.ProtoReflect(), "")
	return c
}

var structValueName = (&structpb.Value{}).ProtoReflect().Descriptor().FullName()

func (s *Scrubber) message(m protoreflect.Message, path string) {
	if m.Descriptor().FullName() == structValueName {
		return // handled by the parent (whole Value replaced)
	}
	// A flag named like a secret keeps its name and loses its value.
	if f, ok := m.Interface().(*probev1.Flag); ok && IsSecretKey(f.GetName()) && f.GetValue() != "" && f.GetValue() != Mask {
		f.Value = Mask
		s.count("flag", path)
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		fp := join(path, string(fd.JSONName()))
		switch {
		case fd.IsMap():
			s.mapField(m, fd, v.Map(), fp)
		case fd.IsList():
			l := v.List()
			if fd.Kind() == protoreflect.StringKind {
				strs := make([]string, l.Len())
				for i := range strs {
					strs[i] = l.Get(i).String()
				}
				for i, str := range s.Argv(strs, fp) {
					l.Set(i, protoreflect.ValueOfString(str))
				}
			} else if fd.Kind() == protoreflect.MessageKind {
				for i := 0; i < l.Len(); i++ {
					s.message(l.Get(i).Message(), fp+"[]")
				}
			}
		case fd.Kind() == protoreflect.StringKind:
			m.Set(fd, protoreflect.ValueOfString(s.string(v.String(), fp)))
		case fd.Kind() == protoreflect.MessageKind && fd.Message().FullName() == structValueName:
			pv := v.Message().Interface().(*structpb.Value)
			nv, err := structpb.NewValue(s.Value(pv.AsInterface(), fp))
			if err == nil {
				m.Set(fd, protoreflect.ValueOfMessage(nv.ProtoReflect()))
			} else {
				m.Clear(fd)
			}
		case fd.Kind() == protoreflect.MessageKind:
			s.message(v.Message(), fp)
		}
		return true
	})
}

func (s *Scrubber) mapField(m protoreflect.Message, fd protoreflect.FieldDescriptor, mp protoreflect.Map, path string) {
	type kv struct {
		k string
		v protoreflect.Value
	}
	var entries []kv
	mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		entries = append(entries, kv{k.String(), v})
		return true
	})
	nm := m.NewField(fd).Map()
	for _, e := range entries {
		nk := s.string(e.k, path)
		v := e.v
		if fd.MapValue().Kind() == protoreflect.StringKind {
			str := v.String()
			if IsSecretKey(e.k) && str != "" && str != Mask {
				s.count("map-key", path)
				str = Mask
			} else {
				str = s.string(str, path)
			}
			v = protoreflect.ValueOfString(str)
		} else if fd.MapValue().Kind() == protoreflect.MessageKind {
			s.message(v.Message(), path)
		}
		nm.Set(protoreflect.ValueOfString(nk).MapKey(), v)
	}
	m.Set(fd, protoreflect.ValueOfMap(nm))
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
