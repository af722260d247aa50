package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"text/template"

	probev1 "github.com/dockprobe/dockprobe/proto/probe/v1"
)

// Formats are the names -o accepts.
var Formats = []string{"text", "json", "yaml", "html", "svg"}

// Options selects how Write renders a report.
type Options struct {
	// Format is one of Formats; Template, when set, wins over it.
	Format string
	// Template is a Go text/template, as docker's --format: it sees the
	// JSON document (lowerCamelCase keys), e.g. '{{json .interfaces}}'.
	Template string
	// Color is for the text format only.
	Color bool
}

// Write renders r as opts say. It does not redact: callers pass a report
// that went through redact.Scrubber.
func Write(w io.Writer, r *probev1.Report, opts Options) error {
	if opts.Template != "" {
		return Template(w, r, opts.Template)
	}
	switch opts.Format {
	case "", "text":
		return Text(w, r, TextOptions{Color: opts.Color})
	case "json":
		return JSON(w, r)
	case "yaml":
		return YAML(w, r)
	case "html":
		return HTML(w, r)
	case "svg":
		return SVG(w, r)
	}
	return fmt.Errorf("unknown format %q (want one of %s)", opts.Format, strings.Join(Formats, ", "))
}

// WriteAll renders r in each of formats (names of Formats) at once, each
// on its own goroutine, and hands each rendering to put as soon as it is
// done (put is called concurrently). Nothing is rendered twice: the JSON
// document is marshalled once, and YAML is converted from it and the HTML
// page embeds it, where Write would marshal it again for each. Text is
// uncoloured. It returns once every rendering has ended, with their
// errors joined.
func WriteAll(r *probev1.Report, formats []string, put func(format string, data []byte) error) error {
	js, err := MarshalJSON(r)
	if err != nil {
		return err
	}
	render := func(format string) ([]byte, error) {
		var (
			buf bytes.Buffer
			err error
		)
		switch format {
		case "json":
			return js, nil
		case "yaml":
			return JSONToYAML(js)
		case "html":
			err = htmlWith(&buf, r, js)
		default:
			err = Write(&buf, r, Options{Format: format})
		}
		return buf.Bytes(), err
	}
	errs := make([]error, len(formats))
	var wg sync.WaitGroup
	for i, f := range formats {
		wg.Go(func() {
			data, err := render(f)
			if err == nil {
				err = put(f, data)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Document is the report as the JSON contract shapes it: maps with
// lowerCamelCase keys, lists, strings, json.Number, bools and nils.
func Document(r *probev1.Report) (map[string]any, error) {
	b, err := MarshalJSON(r)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode report JSON: %w", err)
	}
	return doc, nil
}

// templateFuncs are the docker CLI's --format functions.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return "", err
		}
		return strings.TrimSuffix(buf.String(), "\n"), nil
	},
	// join takes any list: the document's lists are []any.
	"join": func(v any, sep string) string {
		switch l := v.(type) {
		case []string:
			return strings.Join(l, sep)
		case []any:
			parts := make([]string, len(l))
			for i, e := range l {
				parts[i] = fmt.Sprint(e)
			}
			return strings.Join(parts, sep)
		}
		return fmt.Sprint(v)
	},
	"split": strings.Split,
	"lower": strings.ToLower,
	"upper": strings.ToUpper,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
	"pad": func(s string, pre, post int) string {
		return strings.Repeat(" ", pre) + s + strings.Repeat(" ", post)
	},
	"truncate": func(s string, n int) string {
		if len(s) <= n {
			return s
		}
		return s[:n]
	},
	"println": fmt.Sprintln,
}

// ParseTemplate checks a --format template before any work is done.
func ParseTemplate(text string) (*template.Template, error) {
	// docker accepts "table ..." too; we have one document, not rows.
	t, err := template.New("format").Funcs(templateFuncs).Option("missingkey=zero").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	return t, nil
}

// Template executes a Go template against the JSON document and ends the
// output with a newline, as docker does.
func Template(w io.Writer, r *probev1.Report, text string) error {
	t, err := ParseTemplate(text)
	if err != nil {
		return err
	}
	doc, err := Document(r)
	if err != nil {
		return err
	}
	return ExecTemplate(w, t, doc)
}

// ExecTemplate runs a parsed --format template over a JSON document and
// writes its output, ended by a newline (as docker's --format does).
func ExecTemplate(w io.Writer, t *template.Template, doc any) error {
	var buf bytes.Buffer
	if err := t.Execute(&buf, doc); err != nil {
		return fmt.Errorf("template: %w", err)
	}
	if !bytes.HasSuffix(buf.Bytes(), []byte("\n")) {
		buf.WriteByte('\n')
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// YAML writes the JSON document as YAML 1.2, keys in the JSON order.
// Strings are always double-quoted with JSON escapes (valid YAML), so no
// value is ever read back as another type.
func YAML(w io.Writer, r *probev1.Report) error {
	b, err := MarshalJSON(r)
	if err != nil {
		return err
	}
	out, err := JSONToYAML(b)
	if err != nil {
		return err
	}
	_, err = w.Write(out)
	return err
}

// JSONToYAML converts one JSON document into block-style YAML.
func JSONToYAML(b []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var buf bytes.Buffer
	y := &yamlWriter{dec: dec, buf: &buf}
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("yaml: %w", err)
	}
	if err := y.value(tok, 0, ""); err != nil {
		return nil, fmt.Errorf("yaml: %w", err)
	}
	return buf.Bytes(), nil
}

type yamlWriter struct {
	dec *json.Decoder
	buf *bytes.Buffer
}

var plainKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_./-]*$`)

// yamlReserved are plain words YAML 1.1 readers would not take as strings.
var yamlReserved = map[string]bool{"y": true, "n": true, "yes": true, "no": true, "on": true, "off": true, "true": true, "false": true, "null": true}

func yamlKey(k string) string {
	if plainKey.MatchString(k) && !yamlReserved[strings.ToLower(k)] {
		return k
	}
	return yamlScalar(k)
}

func yamlScalar(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// value writes the value that starts with tok. prefix is what goes before
// a scalar or an empty collection on the current line ("key:" or "-").
func (y *yamlWriter) value(tok json.Token, indent int, prefix string) error {
	pad := strings.Repeat("  ", indent)
	sep := func() string {
		if prefix == "" {
			return ""
		}
		return prefix + " "
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			first := true
			for y.dec.More() {
				kt, err := y.dec.Token()
				if err != nil {
					return err
				}
				k, _ := kt.(string)
				if first && prefix != "" {
					y.buf.WriteString(prefix + "\n")
				}
				first = false
				vt, err := y.dec.Token()
				if err != nil {
					return err
				}
				y.buf.WriteString(pad)
				if err := y.value(vt, indent+1, yamlKey(k)+":"); err != nil {
					return err
				}
			}
			if _, err := y.dec.Token(); err != nil { // '}'
				return err
			}
			if first {
				y.buf.WriteString(sep() + "{}\n")
			}
		case '[':
			first := true
			for y.dec.More() {
				if first && prefix != "" {
					y.buf.WriteString(prefix + "\n")
				}
				first = false
				vt, err := y.dec.Token()
				if err != nil {
					return err
				}
				y.buf.WriteString(pad)
				if err := y.value(vt, indent+1, "-"); err != nil {
					return err
				}
			}
			if _, err := y.dec.Token(); err != nil { // ']'
				return err
			}
			if first {
				y.buf.WriteString(sep() + "[]\n")
			}
		}
	case string:
		y.buf.WriteString(sep() + yamlScalar(v) + "\n")
	case json.Number:
		y.buf.WriteString(sep() + v.String() + "\n")
	case bool:
		y.buf.WriteString(sep() + fmt.Sprint(v) + "\n")
	case nil:
		y.buf.WriteString(sep() + "null\n")
	}
	return nil
}
