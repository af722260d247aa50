package contract

import (
	"errors"
	"os"
	"strings"
	"testing"
)

func TestCheckKnowledge(t *testing.T) {
	doc, err := os.ReadFile("../../../../agent/internal/checks/testdata/lkenv-user-network.report.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckKnowledge(doc); err != nil {
		t.Errorf("real report: %v", err)
	}
	bad := strings.Replace(string(doc), `"severity": "ok"`, `"severity": 3`, 1)
	if err := CheckKnowledge([]byte(bad)); !errors.Is(err, ErrViolation) {
		t.Errorf("severity as a number: %v", err)
	}
}
