package execute

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/internal/replicaset"
)

// ErrCollision means a ReplicaSet of the planned name exists and is not this version:
// another owner's, or another template under the same hash. The owner must pick another
// name; for a Rollout, Apply has bumped status.collisionCount, which changes the hash.
var ErrCollision = errors.New("replicaset name collision")

// CreateReplicaSet creates rs (as built by replicaset.Build) and reports whether it did.
// It is safe to repeat: a ReplicaSet of that name that exists already, controlled by
// the same owner and running the same pod template, is this one made by an earlier try,
// so there is nothing to do and created is false. Any other is ErrCollision. It needs
// no Rollout, so any owner of ReplicaSets (an Experiment) can use it.
func CreateReplicaSet(ctx context.Context, c client.Client, rs *appsv1.ReplicaSet) (created bool, err error) {
	err = c.Create(ctx, rs.DeepCopy(), client.FieldOwner(FieldOwner))
	if err == nil {
		return true, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		return false, fmt.Errorf("creating replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	live := &appsv1.ReplicaSet{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(rs), live); err != nil {
		return false, fmt.Errorf("reading existing replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	if replicaset.Same(live, rs) {
		return false, nil
	}
	return false, fmt.Errorf("%w: replicaset %s/%s exists with another template", ErrCollision, rs.Namespace, rs.Name)
}
