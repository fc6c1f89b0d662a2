package chaos

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
)

// result is one scenario's line of the report.
type result struct {
	scenario   string
	killPoints int    // SIGKILLs of a controller while an update was under way
	faults     int    // every fault injected, kills included
	faultKinds string // what the faults were
	completed  int    // rollouts (updates) that reached their expected end
	attempted  int
	violations int
	note       string
}

type reportT struct {
	mu    sync.Mutex
	lines []result
}

// report collects the scenarios' results for the table TestMain prints.
var report = &reportT{}

func (r *reportT) add(res result) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, res)
}

func (r *reportT) table() string {
	r.mu.Lock()
	lines := append([]result(nil), r.lines...)
	r.mu.Unlock()
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].scenario < lines[j].scenario })
	var b strings.Builder
	fmt.Fprintf(&b, "chaos report (%s form, seed %d)\n", form(), seed)
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "SCENARIO\tKILL POINTS\tFAULTS INJECTED\tROLLOUTS COMPLETED\tINVARIANT VIOLATIONS\tNOTES")
	var total result
	for _, l := range lines {
		faults := fmt.Sprint(l.faults)
		if l.faultKinds != "" {
			faults += " (" + l.faultKinds + ")"
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%d/%d\t%d\t%s\n", l.scenario, l.killPoints, faults, l.completed, l.attempted, l.violations, l.note)
		total.killPoints += l.killPoints
		total.faults += l.faults
		total.completed += l.completed
		total.attempted += l.attempted
		total.violations += l.violations
	}
	fmt.Fprintf(w, "TOTAL\t%d\t%d\t%d/%d\t%d\t\n", total.killPoints, total.faults, total.completed, total.attempted, total.violations)
	w.Flush()
	if len(lines) == 0 {
		b.WriteString("(no scenario ran)\n")
	}
	return b.String()
}

// recordResult adds a scenario's line when the test ends, whatever way it ends, so that a
// failed scenario still shows what it got through.
func recordResult(t *testing.T, res *result) {
	t.Cleanup(func() {
		if t.Skipped() {
			return
		}
		if t.Failed() && !strings.Contains(res.note, "FAILED") {
			res.note = strings.TrimSpace("FAILED " + res.note)
		}
		report.add(*res)
	})
}
