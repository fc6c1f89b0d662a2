// Package expectations gives reconcilers read-your-writes over an informer cache. A
// reconciler that plans on a cache which has not yet seen its own last writes would plan
// them again: measure twice, create a ReplicaSet twice, or undo a Service switched a
// moment ago. So after each write it records what the cache must show, and before the
// next plan asks whether the cache shows it. An expectation lapses after Expiry, so that a
// lost watch event can never wedge an object.
package expectations

import (
	"context"
	"strconv"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	// Expiry is how long an expectation is waited for at most.
	Expiry = 10 * time.Second
	// Wait is how long to wait for an object other than the reconciled one; its watch
	// event usually wakes the reconciler first.
	Wait = 200 * time.Millisecond
)

// Writes are what one reconcile wrote and the cache must show before the next plan.
type Writes struct {
	// ResourceVersion is the reconciled object's own, as its last write (of its status)
	// returned it; "" when it was not written.
	ResourceVersion string
	// Created must be in the cache.
	Created []client.Object
	// Deleted must be gone from the cache or terminating.
	Deleted []client.Object
	// Written must be in the cache at the resourceVersion they carry, or later, or gone
	// (deleted since, which is news enough).
	Written []client.Object
}

func (w Writes) empty() bool {
	return w.ResourceVersion == "" && len(w.Created) == 0 && len(w.Deleted) == 0 && len(w.Written) == 0
}

type entry struct {
	resourceVersion uint64
	created         []client.Object
	deleted         []client.Object
	written         []written
	at              time.Time
}

// written is one object patched, at the resourceVersion the API server gave it.
type written struct {
	obj             client.Object
	resourceVersion uint64
}

// Set holds the expectations of one reconciler, by object.
type Set struct {
	clock clock.PassiveClock
	// ownWait is how long to wait when the reconciled object itself lags.
	ownWait time.Duration

	mu sync.Mutex
	m  map[types.NamespacedName]entry
}

// New returns an empty Set on clk. ownWait is how long Satisfied asks to wait while the
// cache shows the reconciled object older than its last write.
func New(clk clock.PassiveClock, ownWait time.Duration) *Set {
	return &Set{clock: clk, ownWait: ownWait, m: map[types.NamespacedName]entry{}}
}

// Expect records the writes of a reconcile of key, replacing what was expected before.
// A reconcile that wrote nothing leaves the earlier expectation in place.
func (s *Set) Expect(key types.NamespacedName, w Writes) {
	if w.empty() {
		return
	}
	e := entry{created: w.Created, deleted: w.Deleted, at: s.clock.Now()}
	e.resourceVersion, _ = strconv.ParseUint(w.ResourceVersion, 10, 64)
	for _, o := range w.Written {
		if rv, err := strconv.ParseUint(o.GetResourceVersion(), 10, 64); err == nil {
			e.written = append(e.written, written{obj: o, resourceVersion: rv})
		}
	}
	s.mu.Lock()
	s.m[key] = e
	s.mu.Unlock()
}

// Forget drops what is expected of key (the object is gone).
func (s *Set) Forget(key types.NamespacedName) {
	s.mu.Lock()
	delete(s.m, key)
	s.mu.Unlock()
}

// Satisfied reports whether the cache, read through c, shows the last writes of obj (as
// the cache shows obj). When it does not, wait is when to look again.
func (s *Set) Satisfied(ctx context.Context, c client.Reader, obj client.Object) (ok bool, wait time.Duration) {
	key := client.ObjectKeyFromObject(obj)
	s.mu.Lock()
	e, found := s.m[key]
	s.mu.Unlock()
	if !found {
		return true, 0
	}
	if s.clock.Since(e.at) > Expiry {
		s.Forget(key)
		return true, 0
	}
	if rv, err := strconv.ParseUint(obj.GetResourceVersion(), 10, 64); err == nil && rv < e.resourceVersion {
		return false, s.ownWait
	}
	for _, o := range e.created {
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), o.DeepCopyObject().(client.Object)); err != nil {
			return false, Wait
		}
	}
	for _, o := range e.deleted {
		live := o.DeepCopyObject().(client.Object)
		if err := c.Get(ctx, client.ObjectKeyFromObject(o), live); err == nil && live.GetDeletionTimestamp() == nil {
			return false, Wait
		}
	}
	for _, w := range e.written {
		if !cacheHas(ctx, c, w) {
			return false, Wait
		}
	}
	s.Forget(key)
	return true, 0
}

// cacheHas reports whether the cache shows w at its written resourceVersion or later. An
// object gone from the cache was deleted since, which is news enough.
func cacheHas(ctx context.Context, c client.Reader, w written) bool {
	o := w.obj.DeepCopyObject().(client.Object)
	if err := c.Get(ctx, client.ObjectKeyFromObject(w.obj), o); err != nil {
		return apierrors.IsNotFound(err)
	}
	rv, err := strconv.ParseUint(o.GetResourceVersion(), 10, 64)
	return err != nil || rv >= w.resourceVersion
}
