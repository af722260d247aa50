package contract

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestCheckAnswers(t *testing.T) {
	doc, err := os.ReadFile("../../../../agent/internal/report/testdata/desktop.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckAnswers(doc); err != nil {
		t.Errorf("desktop golden: %v", err)
	}
	if !strings.Contains(string(doc), `"ancestry"`) || !strings.Contains(string(doc), `"oomKills"`) {
		t.Fatal("the golden report lost its issue 13 facts")
	}
	bad := strings.Replace(string(doc), `"oomKills": 0`, `"oomKills": "0"`, 1)
	if err := CheckAnswers([]byte(bad)); !errors.Is(err, ErrViolation) {
		t.Errorf("oomKills as a string: %v", err)
	}
	if err := CheckAnswers([]byte(`{"target": null, "vmState": null, "engine": {"httpProxy": "", "httpsProxy": "", "noProxy": "", "clock": null}, "probeClock": null, "engineUsage": null, "host": null}`)); err != nil {
		t.Errorf("a reduced report: %v", err)
	}
	if err := CheckAnswers([]byte(`{"engine": {}}`)); !errors.Is(err, ErrViolation) {
		t.Errorf("engine without its proxy fields: %v", err)
	}
}
