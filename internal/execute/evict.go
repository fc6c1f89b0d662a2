package execute

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tern-rollouts/tern/internal/plan"
)

// errEvictionRefused means the Eviction API answered 429: a PodDisruptionBudget does not
// allow the disruption now. It is a reason to wait, not a failure.
var errEvictionRefused = errors.New("eviction refused by a disruption budget")

// evictionRetry is how soon to try a refused eviction again when the API server does not
// say; budgets free up as soon as replacement pods are ready.
const evictionRetry = 2 * time.Second

// maxEvictionRetry caps the delay the API server suggests, so that a restart does not
// stall on a budget that freed up long before.
const maxEvictionRetry = 10 * time.Second

// evict asks the Eviction API to evict a pod. done is false when the pod is gone
// already or was replaced by another of the same name.
func (e *Executor) evict(ctx context.Context, ns string, a plan.EvictPod) (bool, time.Duration, error) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: a.Name}}
	opts := &metav1.DeleteOptions{}
	if a.UID != "" {
		uid := types.UID(a.UID)
		opts.Preconditions = &metav1.Preconditions{UID: &uid}
	}
	ev := &policyv1.Eviction{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: a.Name}, DeleteOptions: opts}
	err := e.Client.SubResource("eviction").Create(ctx, pod, ev)
	switch {
	case err == nil:
		return true, 0, nil
	case apierrors.IsNotFound(err), apierrors.IsConflict(err):
		// Gone, or the UID precondition failed: a new pod took the name.
		return false, 0, nil
	case apierrors.IsTooManyRequests(err):
		wait := evictionRetry
		if s, ok := apierrors.SuggestsClientDelay(err); ok && s > 0 {
			wait = min(time.Duration(s)*time.Second, maxEvictionRetry)
		}
		return false, wait, fmt.Errorf("evicting pod %s/%s: %w: %v", ns, a.Name, errEvictionRefused, err)
	}
	return false, 0, fmt.Errorf("evicting pod %s/%s: %w", ns, a.Name, err)
}
