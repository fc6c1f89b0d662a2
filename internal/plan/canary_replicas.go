package plan

import (
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The replica arithmetic of a basic canary (no traffic router): the weight is carried
// by how many pods each version runs, so the split must be as close to the weight as
// whole pods allow, and moving towards it must respect maxSurge and maxUnavailable.
// Everything here is pure and table-tested (canary_replicas_test.go).

// surgeAndUnavailable resolves maxSurge (rounded up) and maxUnavailable (rounded down)
// against replicas. When both come out as zero, one pod may be unavailable, as for a
// Deployment: otherwise nothing could ever move, whatever the percentages intended.
func surgeAndUnavailable(replicas int32, maxSurge, maxUnavailable intstr.IntOrString) (surge, unavailable int32) {
	s, err := intstr.GetScaledValueFromIntOrPercent(&maxSurge, int(replicas), true)
	if err != nil || s < 0 {
		s = 0
	}
	u, err := intstr.GetScaledValueFromIntOrPercent(&maxUnavailable, int(replicas), false)
	if err != nil || u < 0 {
		u = 0
	}
	if s == 0 && u == 0 {
		u = 1
	}
	if u > int(replicas) {
		u = int(replicas)
	}
	return int32(s), int32(u)
}

// canaryCounts splits replicas between the canary and the stable version for a weight
// (0-100). The split is the one whose share of canary pods is nearest the weight, among
// those of replicas pods and, when a surge is allowed, of replicas+1 pods. On a tie the
// smaller total wins (no surge for nothing), then the larger canary (x.5 rounds up).
// For a weight strictly between 0 and 100 neither version may be left without pods,
// unless a single replica and no surge make that impossible.
func canaryCounts(replicas, weight, maxSurge int32) (canary, stable int32) {
	if replicas <= 0 {
		return 0, 0
	}
	if weight <= 0 {
		return 0, replicas
	}
	if weight >= 100 {
		return replicas, 0
	}
	zeroAllowed := replicas == 1 && maxSurge == 0
	totals := []int32{replicas}
	if maxSurge > 0 {
		totals = append(totals, replicas+1)
	}
	found := false
	var bestC, bestT int32
	for _, t := range totals {
		floor := t * weight / 100
		for _, c := range []int32{floor + 1, floor} {
			if c > t || (!zeroAllowed && (c == 0 || c == t)) {
				continue
			}
			if !found || closer(weight, c, t, bestC, bestT) {
				bestC, bestT, found = c, t, true
			}
		}
	}
	if !found {
		// Unreachable for replicas >= 1 (see the rules above); keep the stable version.
		return 0, replicas
	}
	return bestC, bestT - bestC
}

// closer reports whether c1 of t1 pods is strictly nearer the weight than c2 of t2.
// The candidates are visited smaller total first and larger canary first, so keeping
// the first of equals applies the tie rules. Integer cross-multiplication keeps the
// comparison exact.
func closer(weight, c1, t1, c2, t2 int32) bool {
	d1 := abs64(int64(100*c1) - int64(weight*t1)) // share error × t1
	d2 := abs64(int64(100*c2) - int64(weight*t2))
	return d1*int64(t2) < d2*int64(t1)
}

func abs64(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// rsCount is one ReplicaSet as the scaling arithmetic sees it.
type rsCount struct {
	current   int32 // spec.replicas now
	available int32 // available pods now
	desired   int32 // the size the weight asks for
}

// scaleLimits are the bounds every scaling decision stays within.
type scaleLimits struct {
	replicas, maxSurge, maxUnavailable int32
}

// nextCounts moves the canary, the stable and the older ReplicaSets one safe step
// towards their desired sizes and returns the sizes to set now:
//   - scaling up never takes the total of pods above replicas+maxSurge; the stable
//     version is filled first, since restoring known-good capacity beats adding new pods;
//   - scaling down never takes available pods below replicas-maxUnavailable. Removing
//     a pod that is not available costs nothing (the ReplicaSet controller deletes
//     not-ready pods first), so a broken version can always be drained;
//   - older ReplicaSets (neither stable nor canary, oldest first) are drained before the
//     canary, and the canary before the stable version.
//
// Scale-up and scale-down are decided on the same observed state, so applying both in
// one go (up first) keeps both bounds.
func nextCounts(l scaleLimits, canary, stable rsCount, olds []rsCount) (int32, int32, []int32) {
	all := make([]rsCount, 0, 2+len(olds))
	all = append(all, olds...)
	all = append(all, canary, stable)
	ic, is := len(olds), len(olds)+1
	next := make([]int32, len(all))
	var total, avail int32
	for i, r := range all {
		next[i] = r.current
		total += r.current
		avail += min(r.available, r.current)
	}

	room := l.replicas + l.maxSurge - total
	for _, i := range []int{is, ic} {
		if grow := min(room, all[i].desired-next[i]); grow > 0 {
			next[i] += grow
			room -= grow
		}
	}

	budget := max(avail-(l.replicas-l.maxUnavailable), 0)
	for i, r := range all { // olds, then canary, then stable
		excess := next[i] - r.desired
		if excess <= 0 {
			continue
		}
		free := min(excess, r.current-min(r.available, r.current))
		paid := min(excess-free, budget)
		budget -= paid
		next[i] -= free + paid
	}
	return next[ic], next[is], next[:len(olds)]
}
