package chaos

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

// TestConflictingWrites: while a blue-green and a canary rollout update, another client keeps
// editing them as users and tools do: labels and annotations by merge patch, a read-modify-
// write Update of the whole object (as `kubectl edit` does), and spec.replicas patches. The
// updates must complete on the replicas last written, the monitor stay silent, and the
// controller never collide with those writes: its rest_client_requests_total shows no 409,
// since it patches what it owns instead of replacing objects read from a cache.
func TestConflictingWrites(t *testing.T) {
	framework.Kubeconfig(t)
	updates := intEnv(envUpdates, 2, 4)
	res := &result{scenario: "conflicting-writes", faultKinds: "edits by another client"}
	recordResult(t, res)

	ns, id, mon := newScenario(t, "chaos-conflict")
	ctl := startController(t, "controller", ns, id)
	rnd := newRand(t)
	rollouts := givenRollouts(t, ns, id, rnd,
		named{"bg", framework.BlueGreenManifest("bg", "nginx:1", 3, "autoPromotionEnabled: false\nscaleDownDelaySeconds: 2")},
		named{"cn", framework.CanaryManifest("cn", "nginx:1", 4, `steps:
- setWeight: 25
- pause: {duration: 1}
- setWeight: 50
- pause: {}
- setWeight: 75
- pause: {duration: 1}`)})

	var writes, userConflicts atomic.Int64
	var scaling atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ctx.Err() == nil; n++ {
			sleep(ctx, rnd.duration(100*time.Millisecond, 400*time.Millisecond))
			r := rollouts[rnd.intN(len(rollouts))]
			op := rnd.intN(4)
			if op == 3 && !scaling.Load() {
				continue
			}
			var err error
			switch op {
			case 0:
				err = r.TryPatch(false, types.MergePatchType, fmt.Sprintf(`{"metadata":{"labels":{"chaos-edit":"e%d"}}}`, n))
			case 1:
				err = r.TryPatch(false, types.MergePatchType, fmt.Sprintf(`{"metadata":{"annotations":{"chaos.tern.dev/note":"edit %d"}}}`, n))
			case 2:
				err = r.TryEdit(func(ro *v1alpha1.Rollout) {
					if ro.Annotations == nil {
						ro.Annotations = map[string]string{}
					}
					ro.Annotations["chaos.tern.dev/edited"] = fmt.Sprint(n)
				})
				if apierrors.IsConflict(err) {
					userConflicts.Add(1) // the user's stale read loses, as it should
					continue
				}
			case 3:
				err = r.TryPatch(false, types.MergePatchType, fmt.Sprintf(`{"spec":{"replicas":%d}}`, 3+rnd.intN(3)))
			}
			if err == nil {
				writes.Add(1)
			}
		}
	}()
	stopWriter := func() { cancel(); wg.Wait() }
	defer stopWriter()

	for u := 0; u < updates; u++ {
		image := fmt.Sprintf("nginx:%d", u+2)
		scaling.Store(true)
		for _, r := range rollouts {
			r.SetImage(image)
			res.attempted++
		}
		// Replica edits stop for the end of each update, so that it can settle on a count;
		// label and annotation edits go on throughout.
		time.Sleep(rnd.duration(2*time.Second, 6*time.Second))
		scaling.Store(false)
		for _, r := range rollouts {
			r.WaitDone(image, updateTimeout)
			res.completed++
		}
		t.Logf("update %d to %s complete; %d conflicting writes so far", u+1, image, writes.Load())
	}
	stopWriter()
	res.faults = int(writes.Load())

	metrics := ctl.scrape()
	if metricSum(metrics, "rest_client_requests_total") == 0 {
		t.Fatalf("no rest_client_requests_total on the controller's /metrics:\n%s", metrics)
	}
	conflicts := metricSum(metrics, "rest_client_requests_total", `code="409"`)
	if conflicts != 0 {
		t.Errorf("the controller got %v answers 409 Conflict from the API server", conflicts)
	}
	res.violations = monitorResult(t, mon)
	res.note = fmt.Sprintf("controller 409s: %v; the editor's own stale Updates refused: %d; %d changes checked",
		conflicts, userConflicts.Load(), mon.Changes())
}
