package kube

import (
	"errors"
	"fmt"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// ConnOptions says how to reach the cluster, with kubectl's conventions.
type ConnOptions struct {
	// Kubeconfig is --kubeconfig: one file. Empty means KUBECONFIG (a
	// list of files, merged), then ~/.kube/config, then the in-cluster
	// configuration when the agent runs in a pod.
	Kubeconfig string
	// Context is --kube-context (not docker's --context): a context of
	// the kubeconfig; empty means its current-context.
	Context string
	// QPS and Burst bound the client's request rate. client-go's defaults
	// (5 and 10) throttle a fan-out over many nodes; zero means
	// DefaultQPS and DefaultBurst.
	QPS   float32
	Burst int
}

// Request rate for the fan-out: each node costs about four requests
// (create, watch, exec, delete).
const (
	DefaultQPS   = 50
	DefaultBurst = 100
)

// UserAgent identifies the agent in the API server's audit log.
var UserAgent = "dockprobe-agent"

// RESTConfig loads the client configuration. A missing or unusable
// kubeconfig, or an unknown context, is an ErrConfig.
func RESTConfig(o ConnOptions) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = o.Kubeconfig
	overrides := &clientcmd.ConfigOverrides{CurrentContext: o.Context}
	// The deferred loader falls back to the in-cluster configuration when
	// no kubeconfig is found and the process runs in a pod.
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, configError(err, o)
	}
	cfg = rest.CopyConfig(cfg)
	cfg.QPS, cfg.Burst = o.QPS, o.Burst
	if cfg.QPS == 0 {
		cfg.QPS = DefaultQPS
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
	cfg.UserAgent = UserAgent
	return cfg, nil
}

func configError(err error, o ConnOptions) error {
	switch {
	case clientcmd.IsEmptyConfig(err) || errors.Is(err, clientcmd.ErrEmptyConfig):
		return fmt.Errorf("%w: no Kubernetes configuration: pass --kubeconfig, set KUBECONFIG, or create ~/.kube/config", ErrConfig)
	case o.Context != "" && clientcmd.IsContextNotFound(err):
		return fmt.Errorf("%w: kube context %q is not in the kubeconfig (list them with `kubectl config get-contexts`)", ErrConfig, o.Context)
	}
	return fmt.Errorf("%w: %w", ErrConfig, err)
}

// Client is a connection to one cluster: the REST configuration (exec needs
// it) and the API calls the agent makes.
type Client struct {
	Config *rest.Config
	CS     API
}

// Connect loads the configuration and builds the clientset. It does not
// talk to the server.
func Connect(o ConnOptions) (*Client, error) {
	cfg, err := RESTConfig(o)
	if err != nil {
		return nil, err
	}
	cs, err := newClientset(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return &Client{Config: cfg, CS: cs}, nil
}
