// Package hash computes the pod-template-hash that names a Rollout's ReplicaSets and the
// hash of its canary steps. The algorithm is part of the compatibility contract: the same
// template must give the same ReplicaSet name here as under any other controller that
// serves this API, or a switch of controller would redeploy every workload.
package hash

import (
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/rand"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// PodTemplate returns the pod-template-hash of a template as the API server returned it.
// The hash covers the JSON encoding of the typed template, so structural defaults the
// server applied (ports[].protocol and friends) are part of it; collisionCount, when set,
// is mixed in to find a fresh name after a collision.
func PodTemplate(template *corev1.PodTemplateSpec, collisionCount *int32) string {
	// Marshalling a typed PodTemplateSpec cannot fail: it holds no channels, funcs or
	// cyclic values. Panicking keeps the impossible case loud instead of hashing garbage.
	data, err := json.Marshal(template)
	if err != nil {
		panic("hash: cannot encode pod template: " + err.Error())
	}
	return sum(data, collisionCount)
}

// Steps returns the hash of a canary's steps, recorded as status.currentStepHash so that
// a change of steps mid-update can be told apart from a change of template.
func Steps(steps []v1alpha1.CanaryStep) string {
	data, err := json.Marshal(steps)
	if err != nil {
		panic("hash: cannot encode canary steps: " + err.Error())
	}
	return sum(data, nil)
}

func sum(data []byte, collisionCount *int32) string {
	h := fnv.New32a()
	h.Write(data)
	if collisionCount != nil {
		// Eight bytes: the count as a little-endian uint32 and four zero bytes, as the
		// contract specifies.
		var buf [8]byte
		binary.LittleEndian.PutUint32(buf[:4], uint32(*collisionCount))
		h.Write(buf[:])
	}
	return rand.SafeEncodeString(strconv.FormatUint(uint64(h.Sum32()), 10))
}
