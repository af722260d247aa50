package k8s

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a running test cluster, as `cluster.sh env` describes it.
type Cluster struct {
	ID         string // DOCKPROBE_E2E_ID: names the netns, cgroups, state dir and nodes
	Kubeconfig string // the admin's (system:masters)
	Server     string // https://127.0.0.1:PORT
	State      string // state dir, removed by Down
	KubectlBin string // kubectl v1.35, built by install-k8s.sh
	Version    string // the Kubernetes version install-k8s.sh pins, e.g. v1.35.4
	Nodes      []Node

	pki      string
	toolsBin string
}

// Node is one of the cluster's nodes: its kubelet and containerd live in
// their own network namespace and mount namespace.
type Node struct {
	Name           string // the Node object's name
	IP             string // InternalIP, inside the cluster's namespaces
	NetNS          string // /var/run/netns/NAME
	Cgroup         string // the kubelet's cgroupRoot (every v1 hierarchy)
	ContainerdSock string // the node's containerd socket, reachable from the host
	HolderPID      int    // keeps the node's mount namespace
	ContainerdPID  int
	KubeletPID     int
}

// Script is the path of cluster.sh.
func Script() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "cluster.sh")
}

// Up brings the cluster up (cluster.sh up; nothing to do when it is already
// up) and describes it. Settings come from the environment:
// DOCKPROBE_E2E_ID, K8S_NODES, K8S_BIN, ENGINE_BIN (see cluster.sh).
func Up(ctx context.Context) (*Cluster, error) {
	cmd := exec.CommandContext(ctx, "bash", Script(), "up")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("cluster.sh up: %w\n%s", err, out.Bytes())
	}
	return Current(ctx)
}

// Current describes the cluster that is up (cluster.sh env).
func Current(ctx context.Context) (*Cluster, error) {
	cmd := exec.CommandContext(ctx, "bash", Script(), "env")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("cluster.sh env: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return parseEnv(out)
}

func parseEnv(b []byte) (*Cluster, error) {
	env := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimPrefix(strings.TrimSpace(sc.Text()), "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		// bash %q: our values are paths, names and numbers; a list is
		// backslash-escaped spaces or single-quoted.
		if uq, err := strconv.Unquote(v); err == nil && strings.HasPrefix(v, `"`) {
			v = uq
		}
		v = strings.Trim(v, "'")
		env[k] = strings.ReplaceAll(v, `\ `, " ")
	}
	c := &Cluster{
		ID:         env["K8S_ID"],
		Kubeconfig: env["KUBECONFIG"],
		Server:     env["K8S_SERVER"],
		State:      env["K8S_STATE"],
		KubectlBin: env["K8S_KUBECTL"],
		Version:    env["K8S_VERSION"],
		pki:        env["K8S_PKI"],
		toolsBin:   env["K8S_TOOLS_BIN"],
	}
	n, err := strconv.Atoi(env["K8S_NODES"])
	if err != nil || n < 1 || c.Kubeconfig == "" || c.KubectlBin == "" || c.Version == "" || c.pki == "" {
		return nil, fmt.Errorf("cluster.sh env is incomplete:\n%s", b)
	}
	for i := 1; i <= n; i++ {
		p := fmt.Sprintf("K8S_NODE%d_", i)
		node := Node{
			Name:           env[p+"NAME"],
			IP:             env[p+"IP"],
			NetNS:          env[p+"NETNS"],
			Cgroup:         env[p+"CGROUP"],
			ContainerdSock: env[p+"CONTAINERD_SOCK"],
		}
		for _, f := range []struct {
			dst *int
			key string
		}{{&node.HolderPID, "HOLDER_PID"}, {&node.ContainerdPID, "CONTAINERD_PID"}, {&node.KubeletPID, "KUBELET_PID"}} {
			if *f.dst, err = strconv.Atoi(env[p+f.key]); err != nil {
				return nil, fmt.Errorf("cluster.sh env: %s%s: %w", p, f.key, err)
			}
		}
		if node.Name == "" {
			return nil, fmt.Errorf("cluster.sh env: no %sNAME", p)
		}
		c.Nodes = append(c.Nodes, node)
	}
	return c, nil
}

// Down takes the cluster down; nothing of it is left (cluster.sh down).
func (c *Cluster) Down(ctx context.Context) error {
	out, err := exec.CommandContext(ctx, "bash", Script(), "down").CombinedOutput()
	if err != nil {
		return fmt.Errorf("cluster.sh down: %w\n%s", err, out)
	}
	return nil
}

// Main is for a TestMain: it brings the cluster up, hands it to use, runs
// the tests and takes the cluster down again (kept up when
// DOCKPROBE_K8S_KEEP=1, for debugging). It returns the exit code.
func Main(m *testing.M, use func(*Cluster)) int {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	c, err := Up(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "k8s e2e setup failed:", err)
		return 1
	}
	code := 0
	func() {
		if os.Getenv("DOCKPROBE_K8S_KEEP") != "1" {
			defer func() {
				if err := c.Down(context.Background()); err != nil {
					fmt.Fprintln(os.Stderr, err)
					code = 1
				}
			}()
		}
		use(c)
		code = m.Run()
	}()
	return code
}

// Kubectl runs kubectl as the admin and returns its stdout; a failure's
// error carries stderr.
func (c *Cluster) Kubectl(ctx context.Context, args ...string) (string, error) {
	return c.KubectlAs(ctx, c.Kubeconfig, args...)
}

// KubectlAs runs kubectl with another kubeconfig (a user's from NewUser).
func (c *Cluster) KubectlAs(ctx context.Context, kubeconfig string, args ...string) (string, error) {
	var stdout, stderr bytes.Buffer
	err := c.KubectlIO(ctx, kubeconfig, nil, &stdout, &stderr, args...)
	if err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.String(), nil
}

// KubectlIO runs kubectl with the given streams (stdin may be nil); an empty
// kubeconfig means the admin's.
func (c *Cluster) KubectlIO(ctx context.Context, kubeconfig string, stdin io.Reader, stdout, stderr io.Writer, args ...string) error {
	if kubeconfig == "" {
		kubeconfig = c.Kubeconfig
	}
	cmd := exec.CommandContext(ctx, c.KubectlBin, append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, stdout, stderr
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	return cmd.Run()
}

// Apply creates or updates objects from a manifest (YAML or JSON) as the admin.
func (c *Cluster) Apply(ctx context.Context, manifest string) error {
	var stderr bytes.Buffer
	if err := c.KubectlIO(ctx, "", strings.NewReader(manifest), io.Discard, &stderr, "apply", "-f", "-"); err != nil {
		return fmt.Errorf("kubectl apply: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}

// LoadImage imports an image archive (OCI layout or docker save tar, e.g.
// from `agent image save`) into the containerd (namespace k8s.io) of the
// named nodes, or of every node when none is named, so pods with
// imagePullPolicy: Never can use it there.
func (c *Cluster) LoadImage(ctx context.Context, archive string, nodes ...string) error {
	out, err := exec.CommandContext(ctx, "bash", append([]string{Script(), "load-image", archive}, nodes...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("cluster.sh load-image %s: %w\n%s", archive, err, out)
	}
	return nil
}

// RemoveImage removes image ref from the named nodes (every node when none
// is named): a pod there that needs it fails with ErrImageNeverPull.
func (c *Cluster) RemoveImage(ctx context.Context, ref string, nodes ...string) error {
	out, err := exec.CommandContext(ctx, "bash", append([]string{Script(), "remove-image", ref}, nodes...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("cluster.sh remove-image %s: %w\n%s", ref, err, out)
	}
	return nil
}

// BuildImage writes an image archive named ref holding the cluster's small
// static tool (/pause: no argument waits for SIGTERM, `echo` copies stdin to
// stdout, `comm PID` prints /proc/PID/comm) for workload pods in tests.
func (c *Cluster) BuildImage(ctx context.Context, ref, out string) error {
	return c.PackImage(ctx, filepath.Join(c.toolsBin, "pause"), "/pause", ref, out)
}

// PackImage writes an image archive named ref holding one static binary,
// bin, at path (the image's entrypoint), for LoadImage: an image built
// here and never pulled (the benchmark's no-op pod uses it).
func (c *Cluster) PackImage(ctx context.Context, bin, path, ref, out string) error {
	b, err := exec.CommandContext(ctx, filepath.Join(c.toolsBin, "ociimage"),
		"-bin", bin, "-path", path, "-name", ref, "-o", out).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ociimage %s: %w\n%s", ref, err, b)
	}
	return nil
}

// Namespace creates namespace name (when missing) with the given labels,
// plus what the absent controller-manager would add and pods need: the
// `default` ServiceAccount and the kube-root-ca.crt ConfigMap. There is no
// namespace controller either: a deleted namespace stays Terminating, so
// tests use fresh names.
func (c *Cluster) Namespace(ctx context.Context, name string, labels map[string]string) error {
	if out, err := exec.CommandContext(ctx, "bash", Script(), "namespace", name).CombinedOutput(); err != nil {
		return fmt.Errorf("cluster.sh namespace %s: %w\n%s", name, err, out)
	}
	if len(labels) == 0 {
		return nil
	}
	args := []string{"label", "--overwrite", "namespace", name}
	for k, v := range labels {
		args = append(args, k+"="+v)
	}
	_, err := c.Kubectl(ctx, args...)
	return err
}

// NewUser makes a user the API server knows by client certificate (CN=name,
// O=groups, signed by the cluster CA) and returns the path of a kubeconfig
// for it. The user can do nothing until bound: BindRole, BindClusterRole.
func (c *Cluster) NewUser(name string, groups ...string) (string, error) {
	caCert, caKey, err := c.loadCA()
	if err != nil {
		return "", err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: groups},
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		return "", err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(c.State, "users", name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	certFile, keyFile, kubeconfig := filepath.Join(dir, "user.crt"), filepath.Join(dir, "user.key"), filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", err
	}
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: %[1]s
  cluster:
    server: %[2]s
    certificate-authority: %[3]s
users:
- name: %[4]s
  user:
    client-certificate: %[5]s
    client-key: %[6]s
contexts:
- name: %[4]s@%[1]s
  context:
    cluster: %[1]s
    user: %[4]s
    namespace: default
current-context: %[4]s@%[1]s
`, c.ID, c.Server, filepath.Join(c.pki, "ca.crt"), name, certFile, keyFile)
	if err := os.WriteFile(kubeconfig, []byte(cfg), 0o600); err != nil {
		return "", err
	}
	return kubeconfig, nil
}

func (c *Cluster) loadCA() (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(filepath.Join(c.pki, "ca.crt"))
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(c.pki, "ca.key"))
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("cluster CA in %s: no PEM block", c.pki)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster CA certificate: %w", err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("cluster CA key: %w", err)
	}
	return cert, key, nil
}

// BindRole binds user to the Role role in namespace (a RoleBinding named
// after both).
func (c *Cluster) BindRole(ctx context.Context, user, namespace, role string) error {
	_, err := c.Kubectl(ctx, "-n", namespace, "create", "rolebinding", bindingName(user, role),
		"--role="+role, "--user="+user)
	return err
}

// BindClusterRole binds user to the ClusterRole role cluster-wide (a
// ClusterRoleBinding), e.g. for nodes get/list.
func (c *Cluster) BindClusterRole(ctx context.Context, user, role string) error {
	_, err := c.Kubectl(ctx, "create", "clusterrolebinding", bindingName(user, role),
		"--clusterrole="+role, "--user="+user)
	return err
}

// UserWithRole is NewUser plus BindRole: a kubeconfig for a user who may do
// exactly what Role role in namespace allows.
func (c *Cluster) UserWithRole(ctx context.Context, name, namespace, role string) (string, error) {
	kc, err := c.NewUser(name)
	if err != nil {
		return "", err
	}
	return kc, c.BindRole(ctx, name, namespace, role)
}

func bindingName(user, role string) string {
	return strings.ToLower(strings.NewReplacer(":", "-", "@", "-", "/", "-").Replace(user + "-" + role))
}
