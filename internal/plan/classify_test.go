package plan

import (
	"reflect"
	"runtime"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestClassify(t *testing.T) {
	bad := field.ErrorList{field.Required(field.NewPath("spec", "selector"), "")}
	updating := observation{stableHash: "aaa", currentHash: "bbb"}
	with := func(f func(*observation)) observation { o := updating; f(&o); return o }
	cases := []struct {
		name string
		o    observation
		want rolloutState
	}{
		{"deleting", with(func(o *observation) { o.deleting = true }), stateDeleting},
		{"deleting wins over a wrong spec", with(func(o *observation) { o.deleting, o.invalid = true, bad }), stateDeleting},
		{"references pending", with(func(o *observation) { o.invalid, o.referencesPending = bad, true }), stateAwaitingReferences},
		{"invalid", with(func(o *observation) { o.invalid = bad }), stateInvalid},
		{"invalid wins over a manual pause", with(func(o *observation) { o.invalid, o.manuallyPaused = bad, true }), stateInvalid},
		{"manually paused", with(func(o *observation) { o.manuallyPaused = true }), stateManuallyPaused},
		{"manual pause wins over an abort", with(func(o *observation) { o.manuallyPaused, o.aborted = true, true }), stateManuallyPaused},
		{"initial deploy", observation{currentHash: "bbb"}, stateInitialDeploy},
		{"at stable", observation{stableHash: "aaa", currentHash: "aaa"}, stateAtStable},
		{"at stable wins over an abort", observation{stableHash: "aaa", currentHash: "aaa", aborted: true}, stateAtStable},
		{"aborted", with(func(o *observation) { o.aborted = true }), stateAborted},
		{"updating", updating, stateUpdating},
	}
	seen := map[rolloutState]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := classify(&tc.o); got != tc.want {
				t.Fatalf("classify(%+v) = %v, want %v", tc.o, got, tc.want)
			}
		})
		seen[tc.want] = true
	}
	for s := rolloutState(0); s < numStates; s++ {
		if !seen[s] {
			t.Errorf("no row classifies as %v", s)
		}
	}
}

// TestStrategyActs pins which handler each strategy runs in each state: the states
// before ManuallyPaused are handled alike for every strategy, by act itself.
func TestStrategyActs(t *testing.T) {
	want := map[rolloutState][2]string{
		stateDeleting:           {"", ""},
		stateAwaitingReferences: {"", ""},
		stateInvalid:            {"", ""},
		stateManuallyPaused:     {"blueGreenPaused", "canaryPaused"},
		stateInitialDeploy:      {"blueGreenInitialDeploy", "canaryInitialDeploy"},
		stateAtStable:           {"blueGreenAtStable", "canaryBackAtStable"},
		stateAborted:            {"blueGreenAborted", "canaryAborted"},
		stateUpdating:           {"blueGreenUpdate", "canaryUpdate"},
	}
	name := func(f func(*planner)) string {
		if f == nil {
			return ""
		}
		full := runtime.FuncForPC(reflect.ValueOf(f).Pointer()).Name()
		full = strings.TrimSuffix(full, "-fm")
		return full[strings.LastIndex(full, ".")+1:]
	}
	for s := rolloutState(0); s < numStates; s++ {
		w, ok := want[s]
		if !ok {
			t.Errorf("state %v has no expected handlers", s)
			continue
		}
		if got := name(blueGreenActs[s]); got != w[0] {
			t.Errorf("blue-green in %v runs %q, want %q", s, got, w[0])
		}
		if got := name(canaryActs[s]); got != w[1] {
			t.Errorf("canary in %v runs %q, want %q", s, got, w[1])
		}
	}
}
