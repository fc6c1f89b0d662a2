package plan

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// clientPackage matches the packages that talk to an API server. The planner must stay a
// pure function of its snapshot: a dependency on one of these is how I/O would creep in.
var clientPackage = regexp.MustCompile(`^(sigs\.k8s\.io/controller-runtime|k8s\.io/client-go/(rest|kubernetes|tools|dynamic|discovery|informers|listers))(/|$)`)

func TestPlannerImportsNoClient(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list is not available here: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if clientPackage.MatchString(pkg) {
			t.Errorf("internal/plan depends on the client package %s (run go list -deps ./internal/plan to see through what)", pkg)
		}
	}
}
