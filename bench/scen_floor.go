package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// runFloor plays, with no controller running, the least a controller must do for one canary
// step of step-latency, with the same observation of the same objects:
//
//  1. the promote: the status patch clearing the pause conditions;
//  2. seeing it arrive on a watch (a controller learns of it no sooner);
//  3. one write of the ReplicaSet that grows; waiting on a watch until its pods are available;
//  4. one write of the ReplicaSet that shrinks; waiting on a watch until it has shrunk (the
//     step is complete only when both ReplicaSets are at their counts);
//  5. one status write recording the next pause.
//
// The time from 1 to the echo of 3 is the floor of "promote to ReplicaSet counts written",
// from 1 to the echo of 5 the floor of "promote to next pause": the API server, etcd, the
// scheduler and kwok at work, and nothing else.
func runFloor(ctx context.Context, r *run) error {
	const name = "floor"
	const total = 4
	promotes := r.o.floorSteps
	steps := stepLatencySteps(promotes)
	r.res.Params["replicas"], r.res.Params["promotes"] = total, promotes
	// Only the Rollout: its Services would be idle, and nobody runs its steps.
	doc := canaryRollout(name, total, image("v1"), steps, "")
	if err := r.k.applyYAML(ctx, r.ns, firstDoc(doc)); err != nil {
		return err
	}
	ro := &v1alpha1.Rollout{}
	if err := r.k.c.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: name}, ro); err != nil {
		return err
	}
	canary0 := int32(total * zigzag(0) / 100)
	stable, err := r.floorReplicaSet(ctx, ro, "stable0", "v0", total-canary0)
	if err != nil {
		return err
	}
	canary, err := r.floorReplicaSet(ctx, ro, "canary1", "v1", canary0)
	if err != nil {
		return err
	}
	if err := r.floorStatus(ctx, name, 1); err != nil {
		return err
	}
	if err := r.w.until(ctx, 2*time.Minute, "floor ReplicaSets available", func() bool {
		return r.available(ctx, stable, total-canary0) && r.available(ctx, canary, canary0)
	}); err != nil {
		return err
	}
	w, err := r.begin(ctx)
	if err != nil {
		return err
	}
	for i := 0; i < promotes; i++ {
		cur, next := int32(total*zigzag(i)/100), int32(total*zigzag(i+1)/100)
		toRS, toPause, err := r.floorStep(ctx, name, stable, canary, cur, next, int32(2*i+3))
		if err != nil {
			return fmt.Errorf("floor step %d: %w", i+1, err)
		}
		r.sample("promote_to_rs", toRS)
		r.sample("promote_to_pause", toPause)
	}
	fig, err := w.end(ctx, float64(promotes), false)
	if err != nil {
		return err
	}
	r.window(fig)
	return nil
}

func firstDoc(manifest string) string {
	for i := 0; i+5 <= len(manifest); i++ {
		if manifest[i:i+5] == "\n---\n" {
			return manifest[:i]
		}
	}
	return manifest
}

// floorReplicaSet creates a ReplicaSet as a controller would for the rollout.
func (r *run) floorReplicaSet(ctx context.Context, ro *v1alpha1.Rollout, hash, tag string, n int32) (string, error) {
	labels := map[string]string{"app": ro.Name, v1alpha1.DefaultRolloutUniqueLabelKey: hash}
	t := true
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: ro.Name + "-" + hash, Namespace: r.ns, Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: v1alpha1.GroupVersion.String(), Kind: "Rollout",
				Name: ro.Name, UID: ro.UID, Controller: &t, BlockOwnerDeletion: &t}}},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &n,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image(tag)}}},
			},
		},
	}
	return rs.Name, r.k.c.Create(ctx, rs)
}

func (r *run) available(ctx context.Context, name string, n int32) bool {
	rs := &appsv1.ReplicaSet{}
	if err := r.w.cache.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: name}, rs); err != nil {
		return false
	}
	return rs.Status.ObservedGeneration == rs.Generation && rs.Status.AvailableReplicas == n && rs.Status.Replicas == n && replicas(rs) == n
}

// floorStatus records a pause at step i: one merge patch of the status.
// The Rollout's spec never changes here, so observedGeneration stays "1".
func (r *run) floorStatus(ctx context.Context, name string, i int32) error {
	patch := fmt.Sprintf(`{"status":{"observedGeneration":"1","currentStepIndex":%d,"controllerPause":true,"pauseConditions":[{"reason":"CanaryPauseStep","startTime":%q}]}}`,
		i, time.Now().UTC().Format(time.RFC3339))
	ro := &v1alpha1.Rollout{}
	ro.Namespace, ro.Name = r.ns, name
	return r.k.c.Status().Patch(ctx, ro, client.RawPatch(types.MergePatchType, []byte(patch)))
}

func (r *run) scale(ctx context.Context, name string, n int32) error {
	rs := &appsv1.ReplicaSet{}
	rs.Namespace, rs.Name = r.ns, name
	return r.k.c.Patch(ctx, rs, client.RawPatch(types.MergePatchType, []byte(fmt.Sprintf(`{"spec":{"replicas":%d}}`, n))))
}

func (r *run) floorStep(ctx context.Context, name, stable, canary string, cur, next, pauseIdx int32) (toRS, toPause time.Duration, err error) {
	const total = 4
	var (
		mu                        sync.Mutex
		promoted, rsAt, pausedAtT time.Time
	)
	unhook := r.w.hook(func(obj client.Object, at time.Time) {
		mu.Lock()
		defer mu.Unlock()
		switch o := obj.(type) {
		case *v1alpha1.Rollout:
			if promoted.IsZero() && len(o.Status.PauseConditions) == 0 {
				promoted = at
			}
			if pausedAtT.IsZero() && pausedAt(o, pauseIdx) {
				pausedAtT = at
			}
		case *appsv1.ReplicaSet:
			if rsAt.IsZero() && ((o.Name == canary && replicas(o) == next) || (o.Name == stable && replicas(o) == total-next)) {
				rsAt = at
			}
		}
	})
	defer unhook()
	seen := func(t *time.Time) func() bool { return seenAt(&mu, t) }
	t0, err := r.floorPromote(ctx, name, seen(&promoted))
	if err != nil {
		return 0, 0, err
	}
	grow, growTo, shrink, shrinkTo := canary, next, stable, total-next
	if next < cur {
		grow, growTo, shrink, shrinkTo = stable, total-next, canary, next
	}
	if err := r.scale(ctx, grow, growTo); err != nil {
		return 0, 0, err
	}
	if err := r.w.until(ctx, time.Minute, grow+" available", func() bool { return r.available(ctx, grow, growTo) }); err != nil {
		return 0, 0, err
	}
	if err := r.scale(ctx, shrink, shrinkTo); err != nil {
		return 0, 0, err
	}
	// A setWeight step is complete only when both ReplicaSets are seen at their counts, the
	// shrunk one included: recording the pause sooner would call the step done while pods
	// it removes still run.
	if err := r.w.until(ctx, time.Minute, shrink+" scaled down", func() bool { return r.available(ctx, shrink, shrinkTo) }); err != nil {
		return 0, 0, err
	}
	if err := r.floorStatus(ctx, name, pauseIdx); err != nil {
		return 0, 0, err
	}
	if err := r.w.until(ctx, time.Minute, "the pause on the watch", seen(&pausedAtT)); err != nil {
		return 0, 0, err
	}
	mu.Lock()
	defer mu.Unlock()
	return rsAt.Sub(t0), pausedAtT.Sub(t0), nil
}

// seenAt reports whether *t, guarded by mu, has been set.
func seenAt(mu *sync.Mutex, t *time.Time) func() bool {
	return func() bool { mu.Lock(); defer mu.Unlock(); return !t.IsZero() }
}

// floorPromote sends the promote and waits until the watch shows it (seen), as a controller
// learns of it no sooner; it returns when the promote was sent.
func (r *run) floorPromote(ctx context.Context, name string, seen func() bool) (time.Time, error) {
	t0 := time.Now()
	if err := r.promote(ctx, name); err != nil {
		return t0, err
	}
	return t0, r.w.until(ctx, time.Minute, "the promote on the watch", seen)
}
