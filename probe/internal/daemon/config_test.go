package daemon

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/types/known/structpb"
)

var configCases = []struct {
	file    string
	wantErr error
	// errHas are substrings the error must contain: position and quote.
	errHas []string
	// check looks into a parsed config.
	check func(t *testing.T, v *structpb.Value)
}{
	{
		file: "desktop.json",
		check: func(t *testing.T, v *structpb.Value) {
			gc := v.GetStructValue().GetFields()["builder"].GetStructValue().GetFields()["gc"].GetStructValue().GetFields()
			if gc["defaultKeepStorage"].GetStringValue() != "20GB" || !gc["enabled"].GetBoolValue() {
				t.Errorf("builder.gc = %v", gc)
			}
		},
	},
	{
		file: "linux.json",
		check: func(t *testing.T, v *structpb.Value) {
			s := Resolve(nil, v)
			if s.DataRoot != "/mnt/docker-data" || len(s.Hosts) != 2 || s.Hosts[1] != "tcp://127.0.0.1:2375" {
				t.Errorf("Resolve from config = %+v", s)
			}
			pools := v.GetStructValue().GetFields()["default-address-pools"].GetListValue().GetValues()
			if len(pools) != 1 || pools[0].GetStructValue().GetFields()["size"].GetNumberValue() != 24 {
				t.Errorf("default-address-pools = %v", pools)
			}
		},
	},
	{
		file:    "trailing-comma.json",
		wantErr: ErrConfigSyntax,
		errHas:  []string{"line 4, column 1", `"}"`},
	},
	{
		file:    "minified-missing-comma.json",
		wantErr: ErrConfigSyntax,
		errHas:  []string{"line 1, column 105", `..."`, `"experimental`},
	},
	{
		file: "bom-crlf.json",
		check: func(t *testing.T, v *structpb.Value) {
			if !v.GetStructValue().GetFields()["debug"].GetBoolValue() {
				t.Errorf("debug not true in %v", v)
			}
		},
	},
	{
		file:  "empty.json",
		check: func(t *testing.T, v *structpb.Value) { expectNil(t, v) },
	},
	{
		file:    "array.json",
		wantErr: ErrConfigNotObject,
		errHas:  []string{"an array"},
	},
	{
		file:    "truncated.json",
		wantErr: ErrConfigSyntax,
		errHas:  []string{"line 3", "unexpected end of JSON input"},
	},
}

func expectNil(t *testing.T, v *structpb.Value) {
	t.Helper()
	if v != nil {
		t.Errorf("config = %v, want nil", v)
	}
}

func TestParseConfig(t *testing.T) {
	for _, tt := range configCases {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata/config", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			v, err := ParseConfig(f)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseConfig error = %v, want %v", err, tt.wantErr)
				}
				for _, s := range tt.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseConfig: %v", err)
			}
			tt.check(t, v)
		})
	}
}

func TestParseConfigTooLarge(t *testing.T) {
	big := `{"labels":["` + strings.Repeat("x", MaxConfigSize) + `"]}`
	if _, err := ParseConfig(strings.NewReader(big)); !errors.Is(err, ErrConfigTooLarge) {
		t.Fatalf("error = %v, want ErrConfigTooLarge", err)
	}
}

func TestPosition(t *testing.T) {
	tests := []struct {
		in     string
		offset int
		line   int
		col    int
		quoted string
	}{
		{in: "{\n  \"a\": 1,\n}", offset: 13, line: 3, col: 1, quoted: `"}"`},
		{in: "{\"a\":}", offset: 6, line: 1, col: 6, quoted: `"{\"a\":}"`},
		{in: "", offset: 0, line: 1, col: 1, quoted: `""`},
		{in: "é}", offset: 3, line: 1, col: 2, quoted: `"é}"`},
		{in: "x\n", offset: 2, line: 1, col: 2, quoted: `"x"`},
		{in: "a\n\nb", offset: 3, line: 2, col: 1, quoted: `""`},
	}
	for _, tt := range tests {
		line, col, q := position([]byte(tt.in), tt.offset)
		if line != tt.line || col != tt.col || q != tt.quoted {
			t.Errorf("position(%q, %d) = %d, %d, %s; want %d, %d, %s", tt.in, tt.offset, line, col, q, tt.line, tt.col, tt.quoted)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, tt := range configCases {
		if b, err := os.ReadFile(filepath.Join("testdata/config", tt.file)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"a":1e400}`))
	f.Add([]byte("{\"\xff\":\"\xfe\"}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ParseConfig(strings.NewReader(string(b)))
		if err != nil && v == nil && errors.Is(err, ErrConfigSyntax) && !strings.Contains(err.Error(), "line ") &&
			!strings.Contains(err.Error(), "invalid UTF-8") {
			t.Errorf("syntax error without a position: %v", err)
		}
		if v != nil {
			Resolve(nil, v)
		}
	})
}

func BenchmarkParseConfig(b *testing.B) {
	raw, err := os.ReadFile("testdata/config/linux.json")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseConfig(strings.NewReader(string(raw))); err != nil {
			b.Fatal(err)
		}
	}
}
