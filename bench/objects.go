package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// imageRepo is the image of every bench pod; kwok runs nothing, the tag only picks the pod's
// behaviour (test/cluster/README.md) and, for tags starting "bad-", the traffic simulator's
// error ratio.
const imageRepo = "example.com/bench/app"

func image(tag string) string { return imageRepo + ":" + tag }

// canaryRollout is a canary Rollout with its canary and stable Services.
func canaryRollout(name string, replicas int, img string, steps []string, extra string) string {
	return rolloutYAML(name, replicas, img, fmt.Sprintf(`    canary:
      canaryService: %[1]s-canary
      stableService: %[1]s-stable
      steps: [%[2]s]
%[3]s`, name, strings.Join(steps, ", "), extra), service(name+"-canary", name), service(name+"-stable", name))
}

// rolloutYAML is the Rollout every scenario runs, replicas pods of img labelled app=name,
// with strategy (its lines indented under "strategy:") and the Services it names, each
// document after the Rollout in the same stream.
func rolloutYAML(name string, replicas int, img, strategy string, services ...string) string {
	doc := fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: %[1]s
spec:
  replicas: %[2]d
  revisionHistoryLimit: 2
  selector:
    matchLabels: {app: %[1]s}
  template:
    metadata:
      labels: {app: %[1]s}
    spec:
      containers:
      - name: app
        image: %[3]q
  strategy:
%[4]s
`, name, replicas, img, strategy)
	for _, s := range services {
		doc += "---\n" + s + "\n"
	}
	return doc
}

// service is headless: test/cluster's API server has a /24 Service range, too small for the
// 2000 Services of 1000 canaries, and the controller's work on a Service (its selector) is
// the same with or without a cluster IP.
func service(name, app string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: %s}
spec:
  clusterIP: None
  selector: {app: %s}
  ports: [{port: 80}]`, name, app)
}

func setWeight(w int) string { return fmt.Sprintf("{setWeight: %d}", w) }

const (
	pauseZero    = "{pause: {duration: 0}}"
	pauseForever = "{pause: {}}"
)

// setImage changes the rollout's image: a merge patch of the pod template, the smallest
// write a user (or CD tool) makes to start an update.
func (r *run) setImage(ctx context.Context, name, img string) error {
	patch := fmt.Sprintf(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":%q}]}}}}`, img)
	ro := &v1alpha1.Rollout{}
	ro.Namespace, ro.Name = r.ns, name
	return r.k.c.Patch(ctx, ro, client.RawPatch(types.MergePatchType, []byte(patch)))
}

// promote is what `kubectl argo rollouts promote` sends for a rollout paused by a pause
// step or a blue-green pause: a merge patch of the status clearing the pause conditions.
func (r *run) promote(ctx context.Context, name string) error {
	ro := &v1alpha1.Rollout{}
	ro.Namespace, ro.Name = r.ns, name
	return r.k.c.Status().Patch(ctx, ro, client.RawPatch(types.MergePatchType, []byte(`{"status":{"pauseConditions":null}}`)))
}

// promoteAndWait promotes rollout name and waits for done. A promote the controller loses
// (the rollout still paused where it was 10 s later: its status write raced the promote and
// put the pause back) is counted and sent again, as a user would; t0 is the time of the
// promote that worked.
func (r *run) promoteAndWait(ctx context.Context, name, what string, stillPaused func(*v1alpha1.Rollout) bool, done func() bool) (t0 time.Time, err error) {
	for attempt := 0; ; attempt++ {
		t0 = time.Now()
		if err := r.promote(ctx, name); err != nil {
			return t0, err
		}
		if err = r.w.until(ctx, 10*time.Second, what, done); err == nil {
			return t0, nil
		}
		if ro := r.w.rollout(ctx, r.ns, name); !stillPaused(ro) || attempt == 2 {
			// moving, only slowly: give it its time
			_, err := r.waitRollout(ctx, name, time.Minute, what, func(*v1alpha1.Rollout) bool { return done() })
			return t0, err
		}
		r.lostPromotes++
		r.note("a promote was lost: %s still paused 10 s after it; promoting again", name)
	}
}

// healthyAt reports whether ro is Healthy on a revision other than old: the controller has
// seen the latest spec, the new ReplicaSet is the stable one and the phase says so.
func healthyAt(ro *v1alpha1.Rollout, old string) bool {
	return ro != nil && ro.Status.Phase == v1alpha1.RolloutPhaseHealthy &&
		ro.Status.ObservedGeneration == strconv.FormatInt(ro.Generation, 10) &&
		ro.Status.CurrentPodHash != "" && ro.Status.StableRS == ro.Status.CurrentPodHash &&
		ro.Status.CurrentPodHash != old
}

// pausedAt reports whether ro is paused at step index i of its current revision.
func pausedAt(ro *v1alpha1.Rollout, i int32) bool {
	return ro != nil && len(ro.Status.PauseConditions) > 0 && ro.Status.CurrentStepIndex != nil &&
		*ro.Status.CurrentStepIndex == i && ro.Status.ObservedGeneration == strconv.FormatInt(ro.Generation, 10)
}

// waitRollout waits until cond holds for the rollout.
func (r *run) waitRollout(ctx context.Context, name string, timeout time.Duration, what string, cond func(*v1alpha1.Rollout) bool) (*v1alpha1.Rollout, error) {
	var last *v1alpha1.Rollout
	err := r.w.until(ctx, timeout, name+" "+what, func() bool {
		last = r.w.rollout(ctx, r.ns, name)
		return cond(last)
	})
	if err != nil && last != nil {
		st, _ := json.Marshal(last.Status)
		err = fmt.Errorf("%w; status %s", err, st)
	}
	return last, err
}

func discardLogger() logr.Logger { return logr.Discard() }
