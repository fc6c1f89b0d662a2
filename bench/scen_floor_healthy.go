package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// runFloorHealthy plays, with no controller running, the least a controller must do between
// the promote at the last pause of promote-healthy (2 replicas: 2 new pods, 1 old pod, the
// stable Service on the old version) and the rollout being Healthy:
//
//  1. the promote: the status patch clearing the pause conditions;
//  2. seeing it arrive on a watch;
//  3. the stable Service switched to the new version, and only once that is acknowledged,
//     the old ReplicaSet scaled to 0 (the other order leaves the Service selecting a
//     version that is going away);
//  4. waiting on a watch until the old ReplicaSet's status counts no pods: Healthy requires
//     status.replicas == status.updatedReplicas (compat §2.2), and only the ReplicaSet
//     controller and kwok remove the pod;
//  5. one status write recording Healthy.
//
// The time from 1 to the echo of 5 is the floor of promote-healthy's promote_to_healthy.
// Between repeats (not timed) the two ReplicaSets swap roles: the one scaled away comes back
// as the next version with 2 pods and the other shrinks to 1 pod, as at the last pause.
func runFloorHealthy(ctx context.Context, r *run) error {
	const name = "fh"
	repeats := r.o.promoteRepeats
	r.res.Params["replicas"], r.res.Params["repeats"] = 2, repeats
	doc := canaryRollout(name, 2, image("v1"), []string{setWeight(25), pauseForever, setWeight(75), pauseForever}, "")
	if err := r.k.applyYAML(ctx, r.ns, doc); err != nil {
		return err
	}
	ro := &v1alpha1.Rollout{}
	if err := r.k.c.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: name}, ro); err != nil {
		return err
	}
	oldRS, err := r.floorReplicaSet(ctx, ro, "va", "va", 1)
	if err != nil {
		return err
	}
	newRS, err := r.floorReplicaSet(ctx, ro, "vb", "vb", 2)
	if err != nil {
		return err
	}
	oldHash, newHash := "va", "vb"
	if err := r.selectVersion(ctx, name+"-stable", oldHash); err != nil {
		return err
	}
	for i := 0; i < repeats; i++ {
		if err := r.floorLastPause(ctx, name, oldRS, newRS, oldHash); err != nil {
			return fmt.Errorf("floor-healthy repeat %d: %w", i+1, err)
		}
		// one window per promote, the reset before it left out, as in promote-healthy
		w, err := r.begin(ctx)
		if err != nil {
			return err
		}
		d, err := r.floorPromoteToHealthy(ctx, name, oldRS, newHash)
		if err != nil {
			return fmt.Errorf("floor-healthy repeat %d: %w", i+1, err)
		}
		r.sample("promote_to_healthy", d)
		fig, err := w.end(ctx, 1, false)
		if err != nil {
			return err
		}
		r.window(fig)
		oldRS, newRS, oldHash, newHash = newRS, oldRS, newHash, oldHash
	}
	return nil
}

// selectVersion points a Service at one pod-template-hash, as a controller does.
func (r *run) selectVersion(ctx context.Context, svc, hash string) error {
	s := &corev1.Service{}
	s.Namespace, s.Name = r.ns, svc
	patch := fmt.Sprintf(`{"spec":{"selector":{%q:%q}}}`, v1alpha1.DefaultRolloutUniqueLabelKey, hash)
	return r.k.c.Patch(ctx, s, client.RawPatch(types.MergePatchType, []byte(patch)))
}

// floorLastPause brings the pair to the state of promote-healthy's last pause: the new
// version at 2 available pods, the old at 1, the rollout paused at step 3 with the old
// version stable.
func (r *run) floorLastPause(ctx context.Context, name, oldRS, newRS, oldHash string) error {
	if err := r.scale(ctx, newRS, 2); err != nil {
		return err
	}
	if err := r.w.until(ctx, time.Minute, newRS+" available", func() bool { return r.available(ctx, newRS, 2) }); err != nil {
		return err
	}
	if err := r.scale(ctx, oldRS, 1); err != nil {
		return err
	}
	if err := r.w.until(ctx, time.Minute, oldRS+" at 1", func() bool { return r.available(ctx, oldRS, 1) }); err != nil {
		return err
	}
	patch := fmt.Sprintf(`{"status":{"observedGeneration":"1","phase":"Paused","stableRS":%q,"currentStepIndex":3,"controllerPause":true,"pauseConditions":[{"reason":"CanaryPauseStep","startTime":%q}]}}`,
		oldHash, time.Now().UTC().Format(time.RFC3339))
	ro := &v1alpha1.Rollout{}
	ro.Namespace, ro.Name = r.ns, name
	if err := r.k.c.Status().Patch(ctx, ro, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return err
	}
	if err := r.w.until(ctx, time.Minute, "the pause on the watch", func() bool { return pausedAt(r.w.rollout(ctx, r.ns, name), 3) }); err != nil {
		return err
	}
	// start from a quiet control plane, as promote-healthy does
	r.w.settle(ctx, 500*time.Millisecond, 10*time.Second)
	return nil
}

func (r *run) floorPromoteToHealthy(ctx context.Context, name, oldRS, newHash string) (time.Duration, error) {
	var (
		mu                   sync.Mutex
		promoted, healthyAtT time.Time
	)
	unhook := r.w.hook(func(obj client.Object, at time.Time) {
		o, ok := obj.(*v1alpha1.Rollout)
		if !ok || o.Name != name {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if promoted.IsZero() && len(o.Status.PauseConditions) == 0 {
			promoted = at
		}
		if healthyAtT.IsZero() && o.Status.Phase == v1alpha1.RolloutPhaseHealthy && o.Status.StableRS == newHash {
			healthyAtT = at
		}
	})
	defer unhook()
	t0, err := r.floorPromote(ctx, name, seenAt(&mu, &promoted))
	if err != nil {
		return 0, err
	}
	if err := r.selectVersion(ctx, name+"-stable", newHash); err != nil {
		return 0, err
	}
	if err := r.scale(ctx, oldRS, 0); err != nil {
		return 0, err
	}
	if err := r.w.until(ctx, time.Minute, oldRS+" without pods", func() bool {
		rs := &appsv1.ReplicaSet{}
		if err := r.w.cache.Get(ctx, client.ObjectKey{Namespace: r.ns, Name: oldRS}, rs); err != nil {
			return false
		}
		return rs.Status.ObservedGeneration == rs.Generation && rs.Status.Replicas == 0
	}); err != nil {
		return 0, err
	}
	patch := fmt.Sprintf(`{"status":{"phase":"Healthy","message":"","stableRS":%q,"currentPodHash":%q,"currentStepIndex":4,"controllerPause":null,"replicas":2,"updatedReplicas":2,"availableReplicas":2,"readyReplicas":2}}`,
		newHash, newHash)
	ro := &v1alpha1.Rollout{}
	ro.Namespace, ro.Name = r.ns, name
	if err := r.k.c.Status().Patch(ctx, ro, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		return 0, err
	}
	if err := r.w.until(ctx, time.Minute, "Healthy on the watch", seenAt(&mu, &healthyAtT)); err != nil {
		return 0, err
	}
	mu.Lock()
	defer mu.Unlock()
	return healthyAtT.Sub(t0), nil
}
