package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// fleet is N canary rollouts named r-0000... that the scenarios update together.
type fleet struct {
	names []string
	// hash is each rollout's stable pod-template-hash before the current update.
	hash map[string]string
}

// createFleet creates n rollouts (and their Services) and waits until all are Healthy.
func (r *run) createFleet(ctx context.Context, n, replicas int, steps []string) (*fleet, error) {
	f := &fleet{hash: map[string]string{}}
	for i := 0; i < n; i++ {
		f.names = append(f.names, fmt.Sprintf("r-%04d", i))
	}
	t0 := time.Now()
	if err := parallel(n, 16, func(i int) error {
		return r.k.applyYAML(ctx, r.ns, canaryRollout(f.names[i], replicas, image("v0"), steps, ""))
	}); err != nil {
		return nil, err
	}
	// The first revision is not measured: creating objects at this rate says more about the
	// harness and the API server than about the controller.
	if err := r.waitAll(ctx, f, setupTimeout(n)); err != nil {
		return nil, fmt.Errorf("creating %d rollouts: %w", n, err)
	}
	logf("  %d rollouts Healthy after %s", n, time.Since(t0).Round(100*time.Millisecond))
	return f, nil
}

// setupTimeout is generous: at N=1000 the control plane of a loaded 2-core machine takes
// minutes to create and delete the pods (about 9000 pod changes per update), and a timeout
// would hide how long it takes.
func setupTimeout(n int) time.Duration { return 5*time.Minute + time.Duration(n)*1500*time.Millisecond }

// waitAll waits until every rollout of f is Healthy on a revision other than f.hash, then
// records the new hashes.
func (r *run) waitAll(ctx context.Context, f *fleet, timeout time.Duration) error {
	err := r.w.until(ctx, timeout, "all rollouts Healthy", func() bool {
		for _, n := range f.names {
			if !healthyAt(r.w.rollout(ctx, r.ns, n), f.hash[n]) {
				return false
			}
		}
		return true
	})
	if err != nil {
		return r.explainFleet(ctx, f, err)
	}
	for _, n := range f.names {
		f.hash[n] = r.w.rollout(ctx, r.ns, n).Status.StableRS
	}
	return nil
}

func (r *run) explainFleet(ctx context.Context, f *fleet, err error) error {
	phases := map[string]int{}
	var example string
	for _, n := range f.names {
		ro := r.w.rollout(ctx, r.ns, n)
		if ro == nil {
			phases["missing"]++
			continue
		}
		if !healthyAt(ro, f.hash[n]) {
			phases[string(ro.Status.Phase)+"/"+ro.Status.Message]++
			if example == "" {
				example = fmt.Sprintf("%s: phase %q message %q step %v stable %s current %s", n, ro.Status.Phase, ro.Status.Message,
					ptrStr(ro.Status.CurrentStepIndex), ro.Status.StableRS, ro.Status.CurrentPodHash)
			}
		}
	}
	return fmt.Errorf("%w; not done: %v; e.g. %s", err, phases, example)
}

func ptrStr(p *int32) string {
	if p == nil {
		return "nil"
	}
	return fmt.Sprint(*p)
}

// updateFleet sets a new image on every rollout at once and waits until all are Healthy on
// it; it records the time until the last one (one sample of the scenario) and each rollout's.
func (r *run) updateFleet(ctx context.Context, f *fleet, tag string) error {
	var (
		mu   sync.Mutex
		sent = map[string]time.Time{}
		done = map[string]time.Time{}
	)
	old := map[string]string{}
	for k, v := range f.hash {
		old[k] = v
	}
	unhook := r.w.hook(func(obj client.Object, at time.Time) {
		ro, ok := obj.(*v1alpha1.Rollout)
		if !ok || !healthyAt(ro, old[ro.Name]) {
			return
		}
		mu.Lock()
		if _, seen := done[ro.Name]; !seen {
			done[ro.Name] = at
		}
		mu.Unlock()
	})
	defer unhook()
	t0 := time.Now()
	// All at once: as many writers as the API server takes without queueing them for long.
	if err := parallel(len(f.names), 32, func(i int) error {
		n := f.names[i]
		mu.Lock()
		sent[n] = time.Now()
		mu.Unlock()
		return r.setImage(ctx, n, image(tag))
	}); err != nil {
		return err
	}
	issued := time.Since(t0)
	err := r.w.until(ctx, setupTimeout(len(f.names)), "all rollouts Healthy on "+tag, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(done) == len(f.names)
	})
	if err != nil {
		return r.explainFleet(ctx, f, err)
	}
	var last time.Time
	for _, n := range f.names {
		if done[n].After(last) {
			last = done[n]
		}
		r.sample("per_rollout", done[n].Sub(sent[n]))
	}
	r.sample("complete", last.Sub(t0))
	r.sample("issue_updates", issued)
	for _, n := range f.names {
		f.hash[n] = r.w.rollout(ctx, r.ns, n).Status.StableRS
	}
	return nil
}

// runCanaryComplete: N rollouts of 4 replicas, steps 25/pause 0/50/pause 0/75/pause 0, all
// images updated at once; the time until every rollout is Healthy on the new revision.
func runCanaryComplete(ctx context.Context, r *run) error {
	steps := []string{setWeight(25), pauseZero, setWeight(50), pauseZero, setWeight(75), pauseZero}
	repeats := r.o.repeats
	if r.res.Size >= 1000 {
		repeats = r.o.bigRepeats
	}
	return r.fleetUpdates(ctx, 4, steps, repeats)
}

// runCanaryReference is canary-complete in the configuration of the reference figures of
// issue 7: 2 replicas, steps 25/pause 0/75/pause 0.
func runCanaryReference(ctx context.Context, r *run) error {
	steps := []string{setWeight(25), pauseZero, setWeight(75), pauseZero}
	return r.fleetUpdates(ctx, 2, steps, r.o.repeats)
}

func (r *run) fleetUpdates(ctx context.Context, replicas int, steps []string, repeats int) error {
	n := r.res.Size
	r.res.Params["replicas"], r.res.Params["steps"], r.res.Params["repeats"] = replicas, steps, repeats
	f, err := r.createFleet(ctx, n, replicas, steps)
	if err != nil {
		return err
	}
	r.quiesce(ctx, 2*time.Second, time.Minute)
	for i := 1; i <= repeats; i++ {
		w, err := r.begin(ctx)
		if err != nil {
			return err
		}
		if err := r.updateFleet(ctx, f, fmt.Sprintf("v%d", i)); err != nil {
			return err
		}
		fig, err := w.end(ctx, float64(n), true)
		if err != nil {
			return err
		}
		r.window(fig)
		logf("  update %d: all %d Healthy in %.2fs", i, n, r.res.Samples["complete"][i-1])
	}
	return nil
}

// zigzag are the weights of the step-latency rollout: every step changes the canary's pod
// count by one (4 replicas), so every promote leads to ReplicaSet writes.
func zigzag(i int) int { return []int{25, 50, 75, 50}[i%4] }

// stepLatencySteps are setWeight/pause{} pairs enough for promotes promotes and a final pause.
func stepLatencySteps(promotes int) []string {
	var steps []string
	for i := 0; i <= promotes; i++ {
		steps = append(steps, setWeight(zigzag(i)), pauseForever)
	}
	return steps
}

// runStepLatency: one canary paused indefinitely; promote; time until the next step's
// ReplicaSet counts are written (the first change of a ReplicaSet's spec.replicas) and until
// the next pause is recorded. Repeated -steps times, on one revision.
func runStepLatency(ctx context.Context, r *run) error {
	const name = "step"
	promotes := r.o.steps
	steps := stepLatencySteps(promotes)
	r.res.Params["replicas"], r.res.Params["promotes"], r.res.Params["steps"] = 4, promotes, len(steps)
	if err := r.k.applyYAML(ctx, r.ns, canaryRollout(name, 4, image("v0"), steps, "")); err != nil {
		return err
	}
	if _, err := r.waitRollout(ctx, name, 2*time.Minute, "Healthy", func(ro *v1alpha1.Rollout) bool { return healthyAt(ro, "") }); err != nil {
		return err
	}
	if err := r.setImage(ctx, name, image("v1")); err != nil {
		return err
	}
	if _, err := r.waitRollout(ctx, name, 2*time.Minute, "paused at step 1", func(ro *v1alpha1.Rollout) bool { return pausedAt(ro, 1) }); err != nil {
		return err
	}
	r.quiesce(ctx, time.Second, 20*time.Second)
	w, err := r.begin(ctx)
	if err != nil {
		return err
	}
	for i := 0; i < promotes; i++ {
		toRS, toPause, err := r.timedPromote(ctx, name, int32(2*i+3))
		if err != nil {
			return fmt.Errorf("promote %d: %w", i+1, err)
		}
		r.sample("promote_to_rs", toRS)
		r.sample("promote_to_pause", toPause)
	}
	fig, err := w.end(ctx, float64(promotes), true)
	if err != nil {
		return err
	}
	r.window(fig)
	return nil
}

// timedPromote promotes rollout name and measures the time until the first write to one of
// its ReplicaSets' replica counts and until it is paused at step next.
func (r *run) timedPromote(ctx context.Context, name string, next int32) (toRS, toPause time.Duration, err error) {
	before := map[string]int32{}
	for h, rs := range r.w.replicaSets(ctx, r.ns, name) {
		before[h] = replicas(rs)
	}
	var (
		mu            sync.Mutex
		rsAt, pauseAt time.Time
	)
	unhook := r.w.hook(func(obj client.Object, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		switch o := obj.(type) {
		case *appsv1.ReplicaSet:
			if rsAt.IsZero() && ownedBy(o, name) {
				if b, ok := before[o.Labels[v1alpha1.DefaultRolloutUniqueLabelKey]]; !ok || b != replicas(o) {
					rsAt = at
				}
			}
		case *v1alpha1.Rollout:
			if pauseAt.IsZero() && o.Name == name && pausedAt(o, next) {
				pauseAt = at
			}
		}
	})
	defer unhook()
	// A settled rollout, as a user finds it: no write of the last step still in flight.
	r.w.settle(ctx, 300*time.Millisecond, 5*time.Second)
	t0, err := r.promoteAndWait(ctx, name, fmt.Sprintf("paused at step %d", next),
		func(ro *v1alpha1.Rollout) bool { return pausedAt(ro, next-2) },
		func() bool {
			mu.Lock()
			defer mu.Unlock()
			return !pauseAt.IsZero() && !rsAt.IsZero()
		})
	if err != nil {
		return 0, 0, err
	}
	mu.Lock()
	defer mu.Unlock()
	return rsAt.Sub(t0), pauseAt.Sub(t0), nil
}

func replicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// runPromoteHealthy: the last promote of an update, to Healthy. 2 replicas, steps 25/pause/
// 75/pause (the reference configuration with indefinite pauses); each repeat updates the
// image, promotes past the first pause, and times the promote from the last pause until the
// rollout is Healthy on the new revision.
func runPromoteHealthy(ctx context.Context, r *run) error {
	const name = "ph"
	steps := []string{setWeight(25), pauseForever, setWeight(75), pauseForever}
	r.res.Params["replicas"], r.res.Params["steps"], r.res.Params["repeats"] = 2, steps, r.o.promoteRepeats
	if err := r.k.applyYAML(ctx, r.ns, canaryRollout(name, 2, image("v0"), steps, "")); err != nil {
		return err
	}
	ro, err := r.waitRollout(ctx, name, 2*time.Minute, "Healthy", func(ro *v1alpha1.Rollout) bool { return healthyAt(ro, "") })
	if err != nil {
		return err
	}
	for i := 1; i <= r.o.promoteRepeats; i++ {
		old := ro.Status.StableRS
		if err := r.setImage(ctx, name, image(fmt.Sprintf("v%d", i))); err != nil {
			return err
		}
		if _, err := r.waitRollout(ctx, name, time.Minute, "paused at step 1", func(ro *v1alpha1.Rollout) bool { return pausedAt(ro, 1) }); err != nil {
			return err
		}
		if err := r.promote(ctx, name); err != nil {
			return err
		}
		if _, err := r.waitRollout(ctx, name, time.Minute, "paused at step 3", func(ro *v1alpha1.Rollout) bool { return pausedAt(ro, 3) }); err != nil {
			return err
		}
		r.w.settle(ctx, 500*time.Millisecond, 10*time.Second)
		w, err := r.begin(ctx)
		if err != nil {
			return err
		}
		var (
			mu sync.Mutex
			at time.Time
		)
		unhook := r.w.hook(func(obj client.Object, t time.Time) {
			if o, ok := obj.(*v1alpha1.Rollout); ok && o.Name == name && healthyAt(o, old) {
				mu.Lock()
				if at.IsZero() {
					at = t
				}
				mu.Unlock()
			}
		})
		t0, err := r.promoteAndWait(ctx, name, "Healthy", func(ro *v1alpha1.Rollout) bool { return pausedAt(ro, 3) }, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return !at.IsZero()
		})
		unhook()
		if err != nil {
			return err
		}
		ro = r.w.rollout(ctx, r.ns, name)
		r.sample("promote_to_healthy", at.Sub(t0))
		fig, err := w.end(ctx, 1, true)
		if err != nil {
			return err
		}
		r.window(fig)
	}
	return nil
}
