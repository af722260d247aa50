package daemon

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/structpb"
)

// MaxConfigSize is the most of a daemon.json the probe reads; dockerd's own
// are a few hundred bytes.
const MaxConfigSize = 1 << 20

// Sentinel errors for a daemon.json that cannot be used.
var (
	// ErrConfigSyntax marks a daemon.json that is not valid JSON.
	ErrConfigSyntax = errors.New("invalid JSON")
	// ErrConfigNotObject marks valid JSON that is not an object, which
	// dockerd refuses.
	ErrConfigNotObject = errors.New("not a JSON object")
	// ErrConfigTooLarge marks a daemon.json over MaxConfigSize.
	ErrConfigTooLarge = errors.New("config file too large")
)

// ParseConfig reads a daemon.json. Valid JSON comes back as a Value even
// when it is not an object (the error then says so). For invalid JSON the
// error gives the line and column and quotes the offending line. An empty
// file, which dockerd accepts, is a nil Value and no error.
func ParseConfig(r io.Reader) (*structpb.Value, error) {
	b, err := io.ReadAll(io.LimitReader(r, MaxConfigSize+1))
	if err != nil {
		return nil, err
	}
	if len(b) > MaxConfigSize {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrConfigTooLarge, MaxConfigSize)
	}
	// dockerd strips a UTF-8 byte order mark, which Windows editors add.
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, describeJSONError(b, err)
	}
	val, err := structpb.NewValue(v)
	if err != nil {
		// encoding/json already replaced invalid UTF-8, so this is not
		// expected; say so rather than lose the config silently.
		return nil, fmt.Errorf("%w: %w", ErrConfigSyntax, err)
	}
	if _, ok := v.(map[string]any); !ok {
		return val, fmt.Errorf("%w: the top level is %s", ErrConfigNotObject, jsonKind(v))
	}
	return val, nil
}

// describeJSONError turns encoding/json's byte offset into "line L, column
// C" and quotes the line it points into.
func describeJSONError(b []byte, err error) error {
	var offset int64 = -1
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		offset = syn.Offset
	case errors.As(err, &typ):
		offset = typ.Offset
	}
	if offset < 0 {
		return fmt.Errorf("%w: %w", ErrConfigSyntax, err)
	}
	line, col, text := position(b, int(offset))
	return fmt.Errorf("%w: line %d, column %d: %w: %s", ErrConfigSyntax, line, col, err, text)
}

// position returns the 1-based line and column (in characters) of the byte
// just before offset, where encoding/json reports errors, and the text of
// that line quoted, cut around the column when it is long (minified JSON is
// one long line).
func position(b []byte, offset int) (line, col int, quoted string) {
	offset = max(0, min(offset, len(b)))
	at := max(offset-1, 0)
	start := bytes.LastIndexByte(b[:at], '\n') + 1
	end := bytes.IndexByte(b[at:], '\n')
	if end < 0 {
		end = len(b)
	} else {
		end += at
	}
	if at < start { // offset sits right after a newline
		at = start
	}
	line = bytes.Count(b[:start], []byte("\n")) + 1
	col = utf8.RuneCount(b[start:at]) + 1
	text := bytes.TrimRight(b[start:end], "\r")
	const window = 40
	lo, hi := 0, len(text)
	if rel := at - start; len(text) > 2*window {
		lo = max(0, rel-window)
		hi = min(len(text), rel+window)
		// Do not cut a UTF-8 sequence in half.
		for lo > 0 && !utf8.RuneStart(text[lo]) {
			lo--
		}
		for hi < len(text) && !utf8.RuneStart(text[hi]) {
			hi++
		}
	}
	q := strconv.Quote(string(text[lo:hi]))
	if lo > 0 {
		q = "..." + q
	}
	if hi < len(text) {
		q += "..."
	}
	return line, col, q
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "an array"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}
