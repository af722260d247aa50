package vmstate

import (
	"errors"
	"strings"
	"testing"
)

func TestParseKeyValues(t *testing.T) {
	meminfo := "MemTotal:        8130860 kB\nMemFree:          123456 kB\nMemAvailable:    4065430 kB\nHugePages_Total:       0\n"
	kv, err := ParseKeyValues(strings.NewReader(meminfo), ':')
	if err != nil || kv["MemTotal"] != 8130860 || kv["MemAvailable"] != 4065430 || kv["HugePages_Total"] != 0 {
		t.Errorf("meminfo = %v, %v", kv, err)
	}
	kv, err = ParseKeyValues(strings.NewReader("nr_free_pages 30864\noom_kill 2\n\n"), ' ')
	if err != nil || kv["oom_kill"] != 2 {
		t.Errorf("vmstat = %v, %v", kv, err)
	}
	for _, bad := range []string{"MemTotal kB\n", "MemTotal: lots kB\n", ": 12\n"} {
		if _, err := ParseKeyValues(strings.NewReader(bad), ':'); !errors.Is(err, ErrParse) || !strings.Contains(err.Error(), strings.TrimSpace(bad)) {
			t.Errorf("%q: error %v does not quote the line", bad, err)
		}
	}
}

func FuzzParseKeyValues(f *testing.F) {
	f.Add("MemTotal:        8130860 kB\n", byte(':'))
	f.Add("oom_kill 2\n", byte(' '))
	f.Fuzz(func(t *testing.T, s string, sep byte) {
		kv, err := ParseKeyValues(strings.NewReader(s), sep)
		if kv == nil {
			t.Fatal("nil map")
		}
		if err != nil && !errors.Is(err, ErrParse) && !strings.Contains(err.Error(), "token too long") {
			t.Fatalf("unexpected error kind: %v", err)
		}
	})
}
