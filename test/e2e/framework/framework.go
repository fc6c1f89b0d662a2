// Package framework holds the helpers of tern's end-to-end tests, which run against the local
// control plane of test/cluster (etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
// kwok fake nodes; see test/cluster/README.md).
//
// The suites use it through test/e2e/fixture (their TestMain and the Rollout fixture); this
// package holds what lies beneath. A test calls Config (or any helper, which calls it) first:
// without TERN_E2E_KUBECONFIG the test is skipped, or fails when TERN_E2E_REQUIRED=1. Then:
//
//	ns := framework.NewNamespace(t, "canary")
//	framework.Apply(t, ns, manifest)
//	framework.Eventually(t, 30*time.Second, func() (bool, string) { ... })
//
// Pod behaviour on the kwok nodes is chosen by the image tag: a tag starting with "bad-ready"
// gives pods that run but never become Ready, "bad-crash" gives crash-looping pods, any other
// image becomes Running and Ready within about a second. The annotations tern.dev/behavior,
// tern.dev/ready-delay and tern.dev/fail-after on the pod template do the same per pod.
//
// Environment:
//
//	TERN_E2E_KUBECONFIG   kubeconfig of the cluster (test/cluster/up.sh writes $STATE_DIR/kubeconfig)
//	TERN_E2E_REQUIRED=1   fail instead of skip when TERN_E2E_KUBECONFIG is unset
//	TERN_E2E_KEEP_NAMESPACES=1  do not delete the namespaces of failed tests (for debugging)
//	TERN_E2E_DISRUPTIVE=1 run the tests that restart the API server (Disruptive); they disturb
//	                      every other test using the cluster at the same time, so they are
//	                      skipped unless asked for
//	BIN_DIR               where kubectl is (default $HOME/.cache/tern/bin-v1.37.2)
package framework

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Environment variables read by this package.
const (
	EnvKubeconfig     = "TERN_E2E_KUBECONFIG"
	EnvRequired       = "TERN_E2E_REQUIRED"
	EnvKeepNamespaces = "TERN_E2E_KEEP_NAMESPACES"
	EnvDisruptive     = "TERN_E2E_DISRUPTIVE"
	EnvBinDir         = "BIN_DIR"
)

// FieldManager is the server-side apply field manager used by Apply.
const FieldManager = "tern-e2e"

// DefaultBinDir is where test/cluster/build.sh puts kubectl and the servers unless BIN_DIR is set.
const DefaultBinDir = "$HOME/.cache/tern/bin-v1.37.2"

// cluster is what all tests of a process share: the config and the clients built from it.
type cluster struct {
	path    string
	config  *rest.Config
	clients *kubernetes.Clientset
	dynamic *dynamic.DynamicClient
	mapper  *mapper
}

var (
	sharedMu sync.Mutex
	shared   *cluster
)

// Kubeconfig returns the path of the kubeconfig in TERN_E2E_KUBECONFIG. It skips the test when
// the variable is unset, or fails it when TERN_E2E_REQUIRED=1.
func Kubeconfig(t testing.TB) string {
	t.Helper()
	path := os.Getenv(EnvKubeconfig)
	if path != "" {
		return path
	}
	msg := "e2e test needs the local control plane: run `make cluster-up` and set " + EnvKubeconfig +
		" (make test does)"
	if os.Getenv(EnvRequired) == "1" {
		t.Fatal(msg + "; " + EnvRequired + "=1 forbids skipping")
	}
	t.Skip(msg)
	return ""
}

func getCluster(t testing.TB) *cluster {
	t.Helper()
	path := Kubeconfig(t)
	sharedMu.Lock()
	defer sharedMu.Unlock()
	if shared != nil && shared.path == path {
		return shared
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		t.Fatalf("%s=%s: %v", EnvKubeconfig, path, err)
	}
	// Tests create many objects quickly; client-side throttling would only slow them down.
	cfg.QPS, cfg.Burst = 200, 400
	cfg.UserAgent = "tern-e2e"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("clientset: %v", err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("dynamic client: %v", err)
	}
	shared = &cluster{path: path, config: cfg, clients: cs, dynamic: dc, mapper: newMapper(cs.Discovery())}
	return shared
}

// Config returns a REST config for the cluster in TERN_E2E_KUBECONFIG (a copy: callers may
// change it). Without that variable the test is skipped (or fails when TERN_E2E_REQUIRED=1).
func Config(t testing.TB) *rest.Config {
	t.Helper()
	return rest.CopyConfig(getCluster(t).config)
}

// Clientset returns a typed client for the cluster (shared by all tests of the process).
func Clientset(t testing.TB) kubernetes.Interface {
	t.Helper()
	return getCluster(t).clients
}

// Dynamic returns a dynamic client for the cluster (shared by all tests of the process).
func Dynamic(t testing.TB) dynamic.Interface {
	t.Helper()
	return getCluster(t).dynamic
}

// Eventually calls cond every 100 ms until it returns true, and fails the test with the last
// message cond returned when that has not happened within timeout.
func Eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	if msg, ok := poll(timeout, cond); !ok {
		t.Fatalf("not true after %s: %s", timeout, msg)
	}
}

// Consistently calls cond every 100 ms for the duration d and fails the test, with cond's
// message, the first time it returns false.
func Consistently(t testing.TB, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	end := time.Now().Add(d)
	for {
		ok, msg := cond()
		if !ok {
			t.Fatalf("stopped being true after %s of %s: %s", d-time.Until(end).Round(time.Millisecond), d, msg)
		}
		if time.Now().After(end) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// poll is Eventually without the testing.TB: it reports the last message and whether cond held.
func poll(timeout time.Duration, cond func() (bool, string)) (string, bool) {
	end := time.Now().Add(timeout)
	var msg string
	for {
		var ok bool
		ok, msg = cond()
		if ok {
			return msg, true
		}
		if time.Now().After(end) {
			if msg == "" {
				msg = "(no message)"
			}
			return msg, false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// BinDir returns $BIN_DIR, or $HOME/.cache/tern/bin-v1.37.2 when it is unset.
func BinDir() string {
	if d := os.Getenv(EnvBinDir); d != "" {
		return d
	}
	return os.ExpandEnv(DefaultBinDir)
}

// Kubectl runs $BIN_DIR/kubectl with the test cluster's kubeconfig and returns its standard
// output; it fails the test (with stderr) when kubectl fails or runs longer than a minute.
func Kubectl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := KubectlE(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// KubectlE is Kubectl returning the error (which includes kubectl's stderr) instead of failing.
func KubectlE(t testing.TB, args ...string) (string, error) {
	t.Helper()
	path := Kubeconfig(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	kubectl := filepath.Join(BinDir(), "kubectl")
	cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", path}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err,
			strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// Disruptive skips the test unless TERN_E2E_DISRUPTIVE=1. Tests that restart the API server call
// it first: go test runs packages in parallel, so a restart disturbs every other e2e test.
func Disruptive(t testing.TB) {
	t.Helper()
	Kubeconfig(t)
	if os.Getenv(EnvDisruptive) != "1" {
		t.Skip("restarts the API server, which disturbs other tests: set " + EnvDisruptive + "=1 to run it")
	}
}

// RestartAPIServer stops the cluster's kube-apiserver (SIGTERM) and starts it again on the same
// etcd data (test/cluster/up.sh --restart-apiserver), for tests of behaviour across an API server
// outage; down is how long it stays stopped beyond the ~1 s of its shutdown. It returns when the
// new API server is ready (~4 s); controllers (kube-controller-manager, kwok, tern) resume when
// their watches reconnect, ~2-3 s later after a single restart, up to ~30 s after restarts in
// quick succession (client-go's watch back-off, reset after 2 quiet minutes). Calls Disruptive.
// The cluster must have been started by up.sh with the kubeconfig in its STATE_DIR (the default).
func RestartAPIServer(t testing.TB, down time.Duration) {
	t.Helper()
	Disruptive(t)
	path := Kubeconfig(t)
	script := filepath.Join(repoRoot(t), "test", "cluster", "up.sh")
	cmd := exec.Command(script, "--restart-apiserver")
	cmd.Env = append(os.Environ(),
		"STATE_DIR="+filepath.Dir(path),
		"BIN_DIR="+BinDir(),
		fmt.Sprintf("APISERVER_DOWNTIME=%.3f", down.Seconds()))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s --restart-apiserver: %v\n%s", script, err, out)
	}
	t.Logf("kube-apiserver restarted:\n%s", out)
}

// repoRoot is the directory of the module holding this file.
func repoRoot(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot find the framework's source path")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	if _, err := os.Stat(filepath.Join(root, "test", "cluster", "up.sh")); err != nil {
		t.Fatalf("cannot find test/cluster/up.sh from %s: %v", file, err)
	}
	return root
}
