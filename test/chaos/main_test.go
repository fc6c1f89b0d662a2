// Package chaos injects faults while Tern rolls out, and checks with the invariant monitor
// (test/e2e/framework/monitor.go) that none of them promotes a bad version, loses progress,
// scales past the surge bound or leaves a Service without a Ready pod.
//
// Two forms:
//
//   - `make chaos` (TERN_CHAOS=1): the long form. The suite starts a control plane of its
//     own on private ports (TERN_CHAOS_STATE_DIR, TERN_CHAOS_API_PORT, ...; defaults below),
//     so restarting its API server disturbs nobody, runs every scenario with many kill
//     points, prints the report table and stops that control plane again.
//   - `make test` (TERN_E2E_KUBECONFIG set, TERN_CHAOS unset): a short form on the shared
//     control plane, with a few kill points; the API server restart only runs there with
//     TERN_E2E_DISRUPTIVE=1, since other packages use that control plane at the same time.
//
// Without either, every test skips (or fails with TERN_E2E_REQUIRED=1), so a plain
// `go test ./...` stays quick.
//
// Knobs: TERN_CHAOS_KILLS (kill points per kill scenario), TERN_CHAOS_KILLS_LEADER (leader
// kills; none in the short form), TERN_CHAOS_UPDATES (updates per scenario), TERN_CHAOS_SEED (random seed, printed), TERN_CHAOS_REPORT (also write the table
// to this file), TERN_CHAOS_KEEP=1 (leave the suite's control plane running).
package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tern-rollouts/tern/test/e2e/fixture"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

// Environment of the suite.
const (
	envChaos   = "TERN_CHAOS"
	envKills   = "TERN_CHAOS_KILLS"
	envUpdates = "TERN_CHAOS_UPDATES"
	envSeed    = "TERN_CHAOS_SEED"
	envReport  = "TERN_CHAOS_REPORT"
	envKeep    = "TERN_CHAOS_KEEP"
)

// clusterEnv maps the suite's variables to test/cluster/up.sh's, with the private defaults
// of the long form. Own names, so that a STATE_DIR exported for a developer's cluster is
// never the one the suite purges.
var clusterEnv = []struct{ ours, theirs, def string }{
	{"TERN_CHAOS_STATE_DIR", "STATE_DIR", "/tmp/chaos-cluster"},
	{"TERN_CHAOS_API_PORT", "API_PORT", "49443"},
	{"TERN_CHAOS_ETCD_PORT", "ETCD_PORT", "49379"},
	{"TERN_CHAOS_ETCD_PEER_PORT", "ETCD_PEER_PORT", "49380"},
	{"TERN_CHAOS_KCM_PORT", "KCM_PORT", "49257"},
	{"TERN_CHAOS_SCHED_PORT", "SCHED_PORT", "49259"},
	{"TERN_CHAOS_KWOK_PORT", "KWOK_PORT", "49247"},
}

var (
	// long is true under `make chaos`.
	long bool
	// seed makes the kill points of a run reproducible (as far as timing allows).
	seed uint64
)

func TestMain(m *testing.M) {
	long = os.Getenv(envChaos) == "1"
	seed = uint64(time.Now().UnixNano())
	if s := os.Getenv(envSeed); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s=%q: %v\n", envSeed, s, err)
			os.Exit(2)
		}
		seed = n
	}
	fixture.Main(m, fixture.Options{
		Name: "chaos",
		// Under make chaos, the suite's own control plane; each scenario starts its own
		// controllers (startController).
		Before: func() (func(), error) {
			if !long {
				return nil, nil
			}
			stop, err := startOwnCluster()
			if err != nil {
				return nil, fmt.Errorf("chaos: starting the suite's control plane: %w", err)
			}
			return stop, nil
		},
		Setup: func(string) error {
			fmt.Fprintf(os.Stderr, "chaos: %s form, seed %d (%s=%d repeats the kill points)\n", form(), seed, envSeed, seed)
			return nil
		},
		After: printReport,
	})
}

// printReport prints the report table, or writes it to TERN_CHAOS_REPORT.
func printReport(code int) int {
	table := report.table()
	path := os.Getenv(envReport)
	if path == "" {
		fmt.Println(table)
	} else if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
		// make chaos prints the file last, after go test's own output.
		fmt.Fprintln(os.Stderr, err)
		fmt.Println(table)
		return 1
	}
	return code
}

func form() string {
	if long {
		return "long"
	}
	return "short"
}

// intEnv reads a positive integer knob, with one default per form.
func intEnv(name string, short, longDefault int) int {
	if s := os.Getenv(name); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			return n
		}
	}
	if long {
		return longDefault
	}
	return short
}

// startOwnCluster starts (or reuses) the long form's control plane, installs the CRDs and
// points the framework at it. The returned func stops it, unless it was running already
// (then it is someone's, and stays) or TERN_CHAOS_KEEP=1.
func startOwnCluster() (func(), error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	env := os.Environ()
	var stateDir string
	for _, e := range clusterEnv {
		v := os.Getenv(e.ours)
		if v == "" {
			v = e.def
		}
		if e.theirs == "STATE_DIR" {
			stateDir = v
		}
		env = append(env, e.theirs+"="+v)
	}
	env = append(env, "BIN_DIR="+framework.BinDir())
	script := func(name string, args ...string) (string, error) {
		cmd := exec.Command(filepath.Join(root, "test", "cluster", name), args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			return string(out), fmt.Errorf("test/cluster/%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out), nil
	}
	fmt.Fprintf(os.Stderr, "chaos: starting a control plane of the suite's own in %s\n", stateDir)
	out, err := script("up.sh")
	if err != nil {
		return nil, err
	}
	reused := strings.Contains(out, "already running")
	stop := func() {
		switch {
		case reused:
			fmt.Fprintf(os.Stderr, "chaos: leaving the control plane in %s running (it was running before)\n", stateDir)
		case os.Getenv(envKeep) == "1":
			fmt.Fprintf(os.Stderr, "chaos: control plane kept (%s=1): export KUBECONFIG=%s/kubeconfig\n", envKeep, stateDir)
		default:
			if _, err := script("down.sh", "--purge"); err != nil {
				fmt.Fprintln(os.Stderr, "chaos:", err)
			}
		}
	}
	kubeconfig := filepath.Join(stateDir, "kubeconfig")
	kubectl := filepath.Join(framework.BinDir(), "kubectl")
	crds := filepath.Join(root, "config", "crd", "bases")
	for _, args := range [][]string{
		{"apply", "--server-side", "--force-conflicts", "-f", crds},
		{"wait", "--for=condition=Established", "--timeout=120s", "-f", crds},
	} {
		cmd := exec.Command(kubectl, append([]string{"--kubeconfig", kubeconfig}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			stop()
			return nil, fmt.Errorf("kubectl %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	// The control plane is the suite's alone: restarting its API server disturbs nobody.
	os.Setenv(framework.EnvKubeconfig, kubeconfig)
	os.Setenv(framework.EnvDisruptive, "1")
	os.Setenv(framework.EnvRequired, "1")
	return stop, nil
}

func repoRoot() (string, error) {
	root := fixture.RepoRoot()
	if _, err := os.Stat(filepath.Join(root, "test", "cluster", "up.sh")); err != nil {
		return "", err
	}
	return root, nil
}
