package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The planted secrets: each is a distinct marker, so a leak names its
// source. PLANTED never appears in anything else the tests produce.
const (
	secretArgToken  = "PLANTEDargtoken1"  // dockerd --label token=... (argv, engine labels)
	secretUnparse   = "PLANTEDunparse3"   // a URL that does not parse, in a label
	secretJWTSig    = "PLANTEDjwtsig6"    // a JWT in a label
	secretBearer    = "PLANTEDbearer2xyz" // Bearer token in daemon.json
	secretCfgURL    = "PLANTEDcfgpw4"     // URL userinfo in daemon.json
	secretCfgPass   = "PLANTEDcfgpw7"     // password=... in daemon.json
	secretMarker    = "PLANTED"           // any of them
	plantedJWT      = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0." + secretJWTSig
	plantedUnparsed = "http://bob:" + secretUnparse + "@[bad"
)

// Docker 20.10 refuses unknown daemon.json keys and a key given both as a
// flag and in the file, and rejects credentials in registry mirrors: the
// secrets sit where dockerd accepts free text (log-opts in the file,
// labels on the command line, which the engine reports as its labels).
var plantedDaemonJSON = `{"builder":{"gc":{"defaultKeepStorage":"20GB","enabled":true}},"experimental":false,` +
	`"log-driver":"json-file","log-opts":{"tag":"auth=Bearer ` + secretBearer + `",` +
	`"env":"https://carol:` + secretCfgURL + `@mirror.example.com","labels":"password=` + secretCfgPass + `"}}`

var plantedArgs = "--label token=" + secretArgToken + " --label mirror=" + plantedUnparsed + " --label jwt=" + plantedJWT

// The secrets really are where the test says: otherwise finding none in
// the output would prove nothing.
func checkPlanted(t *testing.T, s *engineEnv) {
	t.Helper()
	host, env := s.Host, s.Env
	labels := docker(t, host, "info", "--format", "{{json .Labels}}")
	for _, s := range []string{secretArgToken, secretUnparse, secretJWTSig} {
		if !strings.Contains(labels, s) {
			t.Fatalf("the engine's labels lack the planted %s: %s", s, labels)
		}
	}
	cmdline, err := os.ReadFile("/proc/" + env["LK_DOCKERD_PID"] + "/cmdline")
	if err != nil || !bytes.Contains(cmdline, []byte(secretArgToken)) {
		t.Fatalf("dockerd's argv lacks the planted secret (%v)", err)
	}
	cfg, err := os.ReadFile(filepath.Join(env["LK_STATE"], "daemon.json"))
	if err != nil || !bytes.Contains(cfg, []byte(secretBearer)) || !bytes.Contains(cfg, []byte(secretCfgURL)) {
		t.Fatalf("the daemon config lacks the planted secrets (%v)", err)
	}
}

// One engine with planted secrets serves the redaction, anonymization and
// diff tests; the suite's own engine stays as the other tests expect it.
func TestPlantedSecretEngine(t *testing.T) {
	forEachEngine(t, func(t *testing.T, e *engineEnv) {
		s := e.sibling(t, "sec", "LK_DAEMON_JSON="+plantedDaemonJSON, "LK_EXTRA_DOCKERD_ARGS="+plantedArgs)
		checkPlanted(t, s)
		t.Run("NeverLeave", func(t *testing.T) { testSecretsNeverLeave(t, s) })
		t.Run("DiffBeforeAfterVPN", func(t *testing.T) { testDiffBeforeAfter(t, s) })
	})
}

// Every output format and the whole unzipped bundle: zero planted secrets.
func testSecretsNeverLeave(t *testing.T, s *engineEnv) {
	host := s.Host

	outputs := map[string]string{}
	for _, args := range [][]string{
		{"probe"}, {"probe", "-o", "json"}, {"probe", "-o", "yaml"}, {"probe", "-o", "html"},
		{"probe", "--format", "{{json .}}"}, {"probe", "--anonymize", "-o", "json"}, {"--debug", "probe", "-o", "json"},
	} {
		r := agent(t, host, args...)
		if r.code != 0 {
			t.Fatalf("agent %v: exit %d\n%s", args, r.code, r.stderr)
		}
		outputs[strings.Join(args, " ")+" (stdout)"] = r.stdout
		if !strings.Contains(strings.Join(args, " "), "--debug") {
			outputs[strings.Join(args, " ")+" (stderr)"] = r.stderr
		}
	}
	// The report did see the secrets' places: the labels and log-opts are in it.
	if j := outputs["probe -o json (stdout)"]; !strings.Contains(j, "token=REDACTED") || !strings.Contains(j, "Bearer REDACTED") ||
		!strings.Contains(j, "carol") && !strings.Contains(j, "REDACTED@mirror.example.com") {
		t.Errorf("the JSON report does not show the redacted places (token=REDACTED, Bearer REDACTED, REDACTED@mirror...)")
	}

	dir := t.TempDir()
	for _, args := range [][]string{{"bundle", "-o", filepath.Join(dir, "plain.zip")}, {"bundle", "--anonymize", "-o", filepath.Join(dir, "anon.zip")}} {
		r := agent(t, host, args...)
		if r.code != 0 {
			t.Fatalf("agent %v: exit %d\n%s", args, r.code, r.stderr)
		}
		outputs[strings.Join(args, " ")+" (stderr)"] = r.stderr
	}
	for _, name := range []string{"plain.zip", "anon.zip"} {
		files, m := openBundle(t, filepath.Join(dir, name))
		for path, content := range files {
			outputs[name+":"+path] = string(content)
			if strings.Contains(path, secretMarker) {
				t.Errorf("%s: a file name holds a planted secret: %s", name, path)
			}
		}
		if m.Redaction.Rules["key-value"] == 0 || m.Redaction.Rules["url-userinfo"] == 0 || m.Redaction.Rules["bearer"] == 0 || m.Redaction.Rules["jwt"] == 0 {
			t.Errorf("%s: the manifest does not record the redactions: %v", name, m.Redaction.Rules)
		}
		if name == "anon.zip" && !m.Redaction.Anonymized {
			t.Error("anon.zip: manifest says not anonymized")
		}
	}
	// The anonymization mapping stays beside the bundle, outside it.
	if _, err := os.Stat(filepath.Join(dir, "anon.zip.mapping.json")); err != nil {
		t.Errorf("no mapping file beside the anonymized bundle: %v", err)
	}
	if _, ok := outputs["anon.zip:anon.zip.mapping.json"]; ok {
		t.Error("the mapping is inside the bundle")
	}

	for where, text := range outputs {
		if i := strings.Index(text, secretMarker); i >= 0 {
			t.Errorf("%s leaks a planted secret: ...%s...", where, text[max(0, i-60):min(len(text), i+40)])
		}
	}
	t.Logf("checked %d outputs and bundle files for planted secrets", len(outputs))
}

// Before and after "a VPN": a tun-like interface with its own subnet and
// route, and a new Docker network. `agent diff` names each change and its
// exit status says they differ; anonymized, the VPN subnet becomes one
// fake subnet holding both the address and its route.
func testDiffBeforeAfter(t *testing.T, s *engineEnv) {
	host := s.Host
	dir := t.TempDir()
	before, after := filepath.Join(dir, "before.zip"), filepath.Join(dir, "after.zip")
	if r := agent(t, host, "bundle", "-o", before); r.code != 0 {
		t.Fatalf("bundle before: exit %d\n%s", r.code, r.stderr)
	}
	same := agent(t, host, "diff", before, before)
	if same.code != 0 || !strings.Contains(same.stdout, "no differences") {
		t.Errorf("a bundle against itself: exit %d\n%s%s", same.code, same.stdout, same.stderr)
	}
	for _, args := range [][]string{
		{"ip", "tuntap", "add", "dev", "tun0", "mode", "tun"},
		{"ip", "addr", "add", "10.20.30.40/16", "dev", "tun0"},
		{"ip", "link", "set", "tun0", "up"},
		{"ip", "route", "add", "10.30.0.0/24", "via", "10.20.0.1", "dev", "tun0"},
	} {
		s.exec(t, args...)
	}
	docker(t, host, "network", "create", "--subnet", "172.29.0.0/16", "vpn_test")
	defer docker(t, host, "network", "rm", "vpn_test")
	if r := agent(t, host, "bundle", "-o", after); r.code != 0 {
		t.Fatalf("bundle after: exit %d\n%s", r.code, r.stderr)
	}
	r := agent(t, host, "diff", before, after)
	// 12 is ExitDiffers; the differences are the output, nothing on stderr.
	if r.code != 12 || strings.TrimSpace(r.stderr) != "" {
		t.Errorf("agent diff of different bundles: exit %d, want 12 and an empty stderr\n%s", r.code, r.stderr)
	}
	for _, want := range []string{"  + tun0  kind tun", "  + tun0 10.20.30.40/16", "  + 10.20.0.0/16  dev tun0", "  + 10.30.0.0/24  via 10.20.0.1 dev tun0",
		"  + vpn_test  driver bridge"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("agent diff lacks %q:\n%s", want, r.stdout)
		}
	}
	rj := agent(t, host, "diff", "-o", "json", before, after)
	if !strings.Contains(rj.stdout, `"differ": true`) || !strings.Contains(rj.stdout, `"section": "routes"`) {
		t.Errorf("agent diff -o json:\n%s", rj.stdout)
	}

	// Anonymized: the VPN subnet is one fake subnet; Docker's stay.
	anon := filepath.Join(dir, "after-anon.zip")
	if r := agent(t, host, "bundle", "--anonymize", "-o", anon); r.code != 0 {
		t.Fatalf("bundle --anonymize: exit %d\n%s", r.code, r.stderr)
	}
	files, _ := openBundle(t, anon)
	addrs, routes := string(files["raw/net/ip-addr.txt"]), string(files["raw/net/ip-route.txt"])
	if strings.Contains(addrs+routes, "10.20.") || strings.Contains(routes, "10.30.") {
		t.Errorf("the VPN addresses survived anonymization:\n%s\n%s", addrs, routes)
	}
	if !strings.Contains(addrs, "inet 192.168.65.3/24") || !strings.Contains(addrs, "inet 172.17.0.1/16") || !strings.Contains(addrs, "inet 10.1.0.1/16") {
		t.Errorf("Docker's own ranges were anonymized:\n%s", addrs)
	}
	mapping, err := os.ReadFile(anon + ".mapping.json")
	if err != nil {
		t.Fatal(err)
	}
	fake := fakeSubnet(t, mapping, "10.20.0.0/16")
	prefix := strings.Join(strings.Split(fake, ".")[:2], ".") + "."
	if !strings.Contains(addrs, "inet "+prefix+"30.40/16") || !strings.Contains(routes, fake+" dev tun0") || !strings.Contains(routes, "via "+prefix+"0.1 dev tun0") {
		t.Errorf("the VPN subnet did not map into one fake subnet %s:\n%s\n%s", fake, addrs, routes)
	}
}

func fakeSubnet(t *testing.T, mapping []byte, real string) string {
	t.Helper()
	var m map[string]map[string]string
	if err := json.Unmarshal(mapping, &m); err != nil {
		t.Fatal(err)
	}
	fake := m["subnets"][real]
	if fake == "" {
		t.Fatalf("the mapping has no subnet %s: %s", real, mapping)
	}
	return fake
}
