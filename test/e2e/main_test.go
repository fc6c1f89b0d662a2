// Package e2e holds the end-to-end scenarios of Tern, run against the local control plane
// (test/cluster) with the controller built from this tree, written as Given/When/Then on
// the rollout fixture of test/e2e/fixture.
package e2e

import (
	"testing"

	"github.com/tern-rollouts/tern/test/e2e/fixture"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

func TestMain(m *testing.M) {
	// One controller for the whole package, handling unlabelled objects; the analysis
	// environment starts with the first test that needs it (fixture.NeedAnalysis).
	fixture.Main(m, fixture.Options{Name: "e2e", Controller: true, LogLines: 200})
}

// rollout is the fixture every scenario of the package speaks through.
type rollout = fixture.Rollout

// startOwnController starts a tern-controller of one test, for the tests that kill it: it
// handles only the test's namespace and the Rollouts labelled with its instance id
// (framework.WithInstanceID), so that killing it disturbs no other test and the suite's
// controller does not finish the test's updates in its place.
func startOwnController(t *testing.T, ns, id string) *fixture.Controller {
	t.Helper()
	return fixture.StartController(t, "controller", framework.Kubeconfig(t), "--instance-id", id, "--namespace", ns)
}
