package plan

import (
	"fmt"
	"testing"

	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestSurgeAndUnavailable(t *testing.T) {
	pct, n := intstr.FromString, intstr.FromInt32
	tests := []struct {
		replicas       int32
		surge, unavail intstr.IntOrString
		wantS, wantU   int32
		why            string
	}{
		{5, pct("25%"), pct("25%"), 2, 1, "defaults: surge rounds up, unavailable down"},
		{4, pct("25%"), pct("25%"), 1, 1, "exact quarter"},
		{1, pct("25%"), pct("25%"), 1, 0, "one replica"},
		{10, n(3), n(0), 3, 0, "absolute values"},
		{10, pct("0%"), pct("0%"), 0, 1, "both zero after rounding: one may be unavailable"},
		{5, n(0), pct("10%"), 0, 1, "10% of 5 rounds down to zero"},
		{3, n(0), n(5), 0, 3, "unavailable capped at replicas"},
		{0, pct("25%"), pct("25%"), 0, 0, "zero replicas"},
		{8, pct("100%"), n(0), 8, 0, "surge 100%"},
	}
	for _, tt := range tests {
		s, u := surgeAndUnavailable(tt.replicas, tt.surge, tt.unavail)
		if s != tt.wantS || u != tt.wantU {
			t.Errorf("%s: surgeAndUnavailable(%d, %s, %s) = %d, %d; want %d, %d", tt.why, tt.replicas, tt.surge.String(), tt.unavail.String(), s, u, tt.wantS, tt.wantU)
		}
	}
}

func TestCanaryCounts(t *testing.T) {
	tests := []struct {
		replicas, weight, surge int32
		canary, stable          int32
		why                     string
	}{
		{5, 20, 2, 1, 4, "getting-started: 20% of 5"},
		{5, 40, 2, 2, 3, "40% of 5"},
		{5, 60, 2, 3, 2, "60% of 5"},
		{5, 80, 2, 4, 1, "80% of 5"},
		{5, 0, 2, 0, 5, "weight 0"},
		{5, 100, 2, 5, 0, "weight 100"},
		{1, 50, 1, 1, 1, "abort-retry-promote: one replica at 50% surges to 1/1"},
		{1, 25, 1, 1, 1, "scaling-when-paused: 25% of one replica"},
		{8, 25, 2, 2, 6, "scaling-when-paused: scaled to 8"},
		{4, 25, 1, 1, 3, "scaling-when-paused: scaled to 4"},
		{2, 50, 1, 1, 1, "exact half"},
		{10, 5, 0, 1, 9, "tie x.5 picks the larger canary"},
		{10, 15, 0, 2, 8, "1.5 ties up"},
		{3, 50, 0, 2, 1, "1.5 of 3 ties up, no surge"},
		{3, 50, 1, 2, 2, "4 pods split evenly beats 2/1 when a surge is allowed"},
		{4, 10, 1, 1, 4, "never 0 canary for a weight in 1-99: 1 of 5 is nearer than 1 of 4"},
		{3, 99, 0, 2, 1, "never 0 stable for a weight in 1-99"},
		{10, 99, 3, 10, 1, "99% of 10 surges to 10/1"},
		{1, 20, 1, 1, 1, "one replica with surge keeps both"},
		{1, 90, 1, 1, 1, "one replica with surge keeps both at 90%"},
		{1, 49, 0, 0, 1, "one replica, no surge: below half stays stable"},
		{1, 50, 0, 1, 0, "one replica, no surge: half ties to the canary"},
		{1, 51, 0, 1, 0, "one replica, no surge: above half goes canary"},
		{0, 50, 1, 0, 0, "zero replicas"},
		{10, 33, 2, 3, 7, "33% of 10"},
		{7, 50, 2, 4, 4, "3.5 of 7: 4/4 of 8 is exact"},
	}
	for _, tt := range tests {
		c, s := canaryCounts(tt.replicas, tt.weight, tt.surge)
		if c != tt.canary || s != tt.stable {
			t.Errorf("%s: canaryCounts(%d, %d%%, surge %d) = %d/%d, want %d/%d", tt.why, tt.replicas, tt.weight, tt.surge, c, s, tt.canary, tt.stable)
		}
	}
}

// Whatever the inputs, the split obeys the contract's rules.
func TestCanaryCountsRules(t *testing.T) {
	for r := int32(1); r <= 25; r++ {
		for _, surge := range []int32{0, 1, 3} {
			for w := int32(0); w <= 100; w++ {
				c, s := canaryCounts(r, w, surge)
				total := c + s
				if total != r && !(surge > 0 && total == r+1) {
					t.Fatalf("%d replicas %d%% surge %d: total %d", r, w, surge, total)
				}
				if w > 0 && w < 100 && !(r == 1 && surge == 0) && (c == 0 || s == 0) {
					t.Fatalf("%d replicas %d%% surge %d: %d/%d leaves a side empty", r, w, surge, c, s)
				}
			}
		}
	}
}

func TestNextCounts(t *testing.T) {
	type rs = rsCount
	tests := []struct {
		why            string
		l              scaleLimits
		canary, stable rs
		olds           []rs
		wantC, wantS   int32
		wantOlds       []int32
	}{
		{
			why: "seed step 1: canary up within surge and stable down within unavailable in one go",
			l:   scaleLimits{5, 2, 1}, canary: rs{0, 0, 1}, stable: rs{5, 5, 4},
			wantC: 1, wantS: 4,
		},
		{
			why: "surge limits the scale-up",
			l:   scaleLimits{10, 2, 0}, canary: rs{0, 0, 3}, stable: rs{10, 10, 7},
			wantC: 2, wantS: 10,
		},
		{
			why: "extra stable pods go once the canary is up",
			l:   scaleLimits{10, 2, 0}, canary: rs{2, 2, 2}, stable: rs{10, 10, 8},
			wantC: 2, wantS: 8,
		},
		{
			why: "no surge: unavailable budget only, canary waits for room",
			l:   scaleLimits{10, 0, 2}, canary: rs{0, 0, 3}, stable: rs{10, 10, 7},
			wantC: 0, wantS: 8,
		},
		{
			why: "surge and unavailable together",
			l:   scaleLimits{10, 2, 1}, canary: rs{0, 0, 5}, stable: rs{10, 10, 5},
			wantC: 2, wantS: 9,
		},
		{
			why: "never-ready canary: stable keeps replicas-maxUnavailable available",
			l:   scaleLimits{5, 2, 1}, canary: rs{3, 0, 5}, stable: rs{4, 4, 0},
			wantC: 3, wantS: 4,
		},
		{
			why: "abort of a broken canary: unavailable canary pods go at once",
			l:   scaleLimits{5, 2, 1}, canary: rs{3, 0, 0}, stable: rs{4, 4, 5},
			wantC: 0, wantS: 4, // no room to add a stable pod until the canary pods are gone
		},
		{
			why: "abort of a healthy canary: the canary drains only as availability allows",
			l:   scaleLimits{5, 2, 1}, canary: rs{3, 3, 0}, stable: rs{2, 2, 5},
			wantC: 2, wantS: 4,
		},
		{
			why: "older ReplicaSets take the unavailable budget first",
			l:   scaleLimits{8, 0, 1}, canary: rs{3, 3, 2}, stable: rs{4, 4, 6}, olds: []rs{{2, 2, 0}},
			wantC: 3, wantS: 4, wantOlds: []int32{0},
		},
		{
			why: "an abandoned canary that never became ready is dropped at no cost",
			l:   scaleLimits{5, 2, 1}, canary: rs{0, 0, 1}, stable: rs{4, 4, 4}, olds: []rs{{1, 0, 0}},
			wantC: 1, wantS: 4, wantOlds: []int32{0},
		},
		{
			why: "stable is filled before the canary",
			l:   scaleLimits{10, 1, 0}, canary: rs{0, 0, 3}, stable: rs{1, 1, 7}, olds: []rs{{3, 3, 0}},
			wantC: 1, wantS: 7, wantOlds: []int32{3},
		},
		{
			why: "scaled up while paused at 25%: 2 -> 8",
			l:   scaleLimits{8, 2, 2}, canary: rs{1, 1, 2}, stable: rs{1, 1, 6},
			wantC: 2, wantS: 6,
		},
		{
			why: "scaled down while paused at 25%: 8 -> 4",
			l:   scaleLimits{4, 1, 1}, canary: rs{2, 2, 1}, stable: rs{6, 6, 3},
			wantC: 1, wantS: 3,
		},
		{
			why: "stable pods not available are not counted as available",
			l:   scaleLimits{10, 0, 3}, canary: rs{4, 4, 3}, stable: rs{8, 5, 7},
			wantC: 3, wantS: 7,
		},
		{
			why: "zero replicas: everything goes",
			l:   scaleLimits{0, 0, 0}, canary: rs{1, 1, 0}, stable: rs{2, 2, 0},
			wantC: 0, wantS: 0,
		},
		{
			why: "available counts above spec are capped at spec",
			l:   scaleLimits{10, 3, 0}, canary: rs{6, 3, 10}, stable: rs{7, 8, 0},
			wantC: 6, wantS: 7,
		},
	}
	for _, tt := range tests {
		c, s, olds := nextCounts(tt.l, tt.canary, tt.stable, tt.olds)
		if c != tt.wantC || s != tt.wantS || len(tt.wantOlds) > 0 && fmt.Sprint(olds) != fmt.Sprint(tt.wantOlds) {
			t.Errorf("%s: got canary %d stable %d olds %v; want %d %d %v", tt.why, c, s, olds, tt.wantC, tt.wantS, tt.wantOlds)
		}
	}
}

// The two bounds hold for every small configuration, whatever the starting point.
func TestNextCountsInvariants(t *testing.T) {
	for r := int32(0); r <= 6; r++ {
		for surge := int32(0); surge <= 2; surge++ {
			for unavail := int32(0); unavail <= 2; unavail++ {
				if surge == 0 && unavail == 0 {
					continue // rejected by validation and resolved to unavailable 1
				}
				l := scaleLimits{r, surge, min(unavail, r)}
				for cc := int32(0); cc <= r+1; cc++ {
					for sc := int32(0); sc <= r+1; sc++ {
						for ca := int32(0); ca <= cc; ca++ {
							for sa := int32(0); sa <= sc; sa++ {
								for w := int32(0); w <= 100; w += 25 {
									dc, ds := canaryCounts(r, w, surge)
									checkBounds(t, l, rsCount{cc, ca, dc}, rsCount{sc, sa, ds})
								}
							}
						}
					}
				}
			}
		}
	}
}

func checkBounds(t *testing.T, l scaleLimits, c, s rsCount) {
	t.Helper()
	nc, ns, _ := nextCounts(l, c, s, nil)
	before := c.current + s.current
	// Scale-ups are applied first: the total after them is the peak.
	peak := max(nc, c.current) + max(ns, s.current)
	if peak > max(l.replicas+l.maxSurge, before) {
		t.Fatalf("%+v canary %+v stable %+v: peak %d pods over %d", l, c, s, peak, l.replicas+l.maxSurge)
	}
	// Pods removed are the unavailable ones first.
	availAfter := min(c.available, nc) + min(s.available, ns)
	availBefore := c.available + s.available
	floor := l.replicas - l.maxUnavailable
	if availAfter < availBefore && availAfter < floor {
		t.Fatalf("%+v canary %+v stable %+v: available %d -> %d below %d", l, c, s, availBefore, availAfter, floor)
	}
	if (nc-c.current)*(nc-c.desired) > 0 || (ns-s.current)*(ns-s.desired) > 0 {
		t.Fatalf("%+v canary %+v stable %+v: moved away from desired (%d, %d)", l, c, s, nc, ns)
	}
}
