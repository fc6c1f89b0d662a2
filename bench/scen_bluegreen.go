package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

func blueGreenRollout(name string, replicas int, img string) string {
	return rolloutYAML(name, replicas, img, fmt.Sprintf(`    blueGreen:
      activeService: %[1]s-active
      previewService: %[1]s-preview
      autoPromotionEnabled: false`, name), service(name+"-active", name), service(name+"-preview", name))
}

func selects(s *corev1.Service, hash string) bool {
	return s != nil && hash != "" && s.Spec.Selector[v1alpha1.DefaultRolloutUniqueLabelKey] == hash
}

// runBlueGreen: a blue-green rollout without auto-promotion; each repeat updates the image,
// waits for the pause with the preview Service on the new version, promotes, and times the
// promote until the active Service selects the new pod-template-hash (and until Healthy).
func runBlueGreen(ctx context.Context, r *run) error {
	const name = "bg"
	const replicas = 4
	r.res.Params["replicas"], r.res.Params["repeats"] = replicas, r.o.bluegreenRepeat
	if err := r.k.applyYAML(ctx, r.ns, blueGreenRollout(name, replicas, image("v0"))); err != nil {
		return err
	}
	if _, err := r.waitRollout(ctx, name, 2*time.Minute, "Healthy", func(ro *v1alpha1.Rollout) bool { return healthyAt(ro, "") }); err != nil {
		return err
	}
	for i := 1; i <= r.o.bluegreenRepeat; i++ {
		old := r.w.rollout(ctx, r.ns, name).Status.StableRS
		if err := r.setImage(ctx, name, image(fmt.Sprintf("v%d", i))); err != nil {
			return err
		}
		ro, err := r.waitRollout(ctx, name, time.Minute, "paused with the preview on the new version", func(ro *v1alpha1.Rollout) bool {
			return ro != nil && ro.Status.CurrentPodHash != old && len(ro.Status.PauseConditions) > 0 &&
				selects(r.w.service(ctx, r.ns, name+"-preview"), ro.Status.CurrentPodHash)
		})
		if err != nil {
			return err
		}
		hash := ro.Status.CurrentPodHash
		r.w.settle(ctx, 500*time.Millisecond, 10*time.Second)
		w, err := r.begin(ctx)
		if err != nil {
			return err
		}
		var (
			mu                sync.Mutex
			switched, healthy time.Time
		)
		unhook := r.w.hook(func(obj client.Object, at time.Time) {
			mu.Lock()
			defer mu.Unlock()
			switch o := obj.(type) {
			case *corev1.Service:
				if switched.IsZero() && o.Name == name+"-active" && selects(o, hash) {
					switched = at
				}
			case *v1alpha1.Rollout:
				if healthy.IsZero() && o.Name == name && healthyAtHash(o, hash) {
					healthy = at
				}
			}
		})
		t0, err := r.promoteAndWait(ctx, name, "active Service switched and Healthy",
			func(ro *v1alpha1.Rollout) bool {
				return ro != nil && len(ro.Status.PauseConditions) > 0 && ro.Status.StableRS == old
			},
			func() bool {
				mu.Lock()
				defer mu.Unlock()
				return !switched.IsZero() && !healthy.IsZero()
			})
		unhook()
		if err != nil {
			return err
		}
		r.sample("promote_to_switch", switched.Sub(t0))
		r.sample("promote_to_healthy", healthy.Sub(t0))
		fig, err := w.end(ctx, 1, true)
		if err != nil {
			return err
		}
		r.window(fig)
	}
	return nil
}

func healthyAtHash(ro *v1alpha1.Rollout, hash string) bool {
	return healthyAt(ro, "") && ro.Status.StableRS == hash
}
