package cli

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/rolloutinfo"
)

// childSelectors narrow what is listed around a rollout. ReplicaSets and pods carry
// the rollout's template labels, so they match its full selector. AnalysisRuns and
// Experiments only get its matchLabels copied, so they are selected by those alone.
// Ownership is still checked when the view is built; the selectors only keep a busy
// namespace from being read whole.
type childSelectors struct {
	pods labels.Selector
	runs labels.Selector
}

func selectorsFor(ro *v1alpha1.Rollout) (childSelectors, error) {
	sel := childSelectors{pods: labels.Everything(), runs: labels.Everything()}
	if ro.Spec.Selector == nil {
		// A workloadRef rollout may leave its selector to the referenced workload.
		return sel, nil
	}
	pods, err := metav1.LabelSelectorAsSelector(ro.Spec.Selector)
	if err != nil {
		return sel, fmt.Errorf("rollout %q has an invalid selector: %w", ro.Name, err)
	}
	sel.pods = pods
	if len(ro.Spec.Selector.MatchLabels) > 0 {
		sel.runs = labels.SelectorFromSet(ro.Spec.Selector.MatchLabels)
	}
	return sel, nil
}

// source is one kind of object to list and watch.
type source struct {
	name    string
	newList func() client.ObjectList
	opts    []client.ListOption
	// keep filters events in memory too: a watch may deliver more than asked for.
	keep func(client.Object) bool
}

func childSources(ro *v1alpha1.Rollout) ([]source, error) {
	sel, err := selectorsFor(ro)
	if err != nil {
		return nil, err
	}
	ns := client.InNamespace(ro.Namespace)
	all := func(client.Object) bool { return true }
	return []source{
		{"ReplicaSets", func() client.ObjectList { return &appsv1.ReplicaSetList{} }, []client.ListOption{ns, client.MatchingLabelsSelector{Selector: sel.pods}}, all},
		{"Pods", func() client.ObjectList { return &corev1.PodList{} }, []client.ListOption{ns, client.MatchingLabelsSelector{Selector: sel.pods}}, all},
		{"AnalysisRuns", func() client.ObjectList { return &v1alpha1.AnalysisRunList{} }, []client.ListOption{ns, client.MatchingLabelsSelector{Selector: sel.runs}}, all},
		{"Experiments", func() client.ObjectList { return &v1alpha1.ExperimentList{} }, []client.ListOption{ns, client.MatchingLabelsSelector{Selector: sel.runs}}, all},
	}, nil
}

func rolloutSource(key types.NamespacedName) source {
	return namedSource("Rollout", func() client.ObjectList { return &v1alpha1.RolloutList{} }, key)
}

// namedSource follows one object by name: the API server selects by metadata.name, so a
// busy namespace is not streamed whole.
func namedSource(kind string, newList func() client.ObjectList, key types.NamespacedName) source {
	return source{
		name:    kind,
		newList: newList,
		opts:    []client.ListOption{client.InNamespace(key.Namespace), client.MatchingFields{"metadata.name": key.Name}},
		keep:    func(o client.Object) bool { return o.GetName() == key.Name },
	}
}

// fetch lists each source once.
func fetch(ctx context.Context, c client.Client, sources []source) ([][]client.Object, error) {
	out := make([][]client.Object, len(sources))
	for i, s := range sources {
		list := s.newList()
		if err := c.List(ctx, list, s.opts...); err != nil {
			if meta.IsNoMatchError(err) {
				// The kind is not served here (e.g. no Experiment CRD): nothing to show.
				continue
			}
			return nil, fmt.Errorf("listing %s: %w", s.name, err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return nil, err
		}
		for _, it := range items {
			if o, ok := it.(client.Object); ok && s.keep(o) {
				out[i] = append(out[i], o)
			}
		}
	}
	return out, nil
}

// objectsOf sorts listed objects into the renderer's input. The lists are a rollout's or an
// experiment's children: they hold no Rollout.
func objectsOf(ro *v1alpha1.Rollout, lists ...[]client.Object) rolloutinfo.Objects {
	objs := rolloutinfo.Objects{Rollout: ro}
	for _, list := range lists {
		for _, o := range list {
			objs.Add(o)
		}
	}
	return objs
}

// mirror is an in-memory copy of the objects of one source, kept current by a watch.
type mirror struct {
	mu   sync.Mutex
	objs map[types.NamespacedName]client.Object
}

func (m *mirror) items() []client.Object {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]client.Object, 0, len(m.objs))
	for _, o := range m.objs {
		out = append(out, o)
	}
	return out
}

// live keeps mirrors of a rollout and its children and says when any of them changed.
// It lists each kind once and then follows a watch from that list's resourceVersion;
// it never polls.
type live struct {
	c       client.WithWatch
	sources []source
	mirrors []*mirror
	// changed receives a value after any change; it is buffered so that a burst of
	// events collapses into one redraw.
	changed chan struct{}
	// synced is closed once every source has been listed once.
	synced chan struct{}
}

func newLive(c client.WithWatch, sources []source) *live {
	l := &live{c: c, sources: sources, changed: make(chan struct{}, 1), synced: make(chan struct{})}
	for range sources {
		l.mirrors = append(l.mirrors, &mirror{objs: map[types.NamespacedName]client.Object{}})
	}
	return l
}

func (l *live) notify() {
	select {
	case l.changed <- struct{}{}:
	default:
	}
}

// start runs one list-and-watch loop per source until ctx ends.
func (l *live) start(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(len(l.sources))
	for i := range l.sources {
		var once sync.Once
		go l.follow(ctx, l.sources[i], l.mirrors[i], func() { once.Do(wg.Done) })
	}
	go func() {
		wg.Wait()
		close(l.synced)
	}()
}

// follow lists, then watches from the list's resourceVersion; when the watch ends (the
// server closes watches every few minutes, or the resourceVersion is too old) it lists
// again. listed is called after the first list, successful or not.
func (l *live) follow(ctx context.Context, s source, m *mirror, listed func()) {
	defer listed()
	backoff := time.Second
	for ctx.Err() == nil {
		list := s.newList()
		err := l.c.List(ctx, list, s.opts...)
		if meta.IsNoMatchError(err) {
			return
		}
		if err != nil {
			listed()
			slog.Debug("list failed, retrying", "kind", s.name, "err", err, "in", backoff)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 30*time.Second)
			continue
		}
		items, _ := meta.ExtractList(list)
		m.mu.Lock()
		clear(m.objs)
		for _, it := range items {
			if o, ok := it.(client.Object); ok && s.keep(o) {
				m.objs[client.ObjectKeyFromObject(o)] = o
			}
		}
		m.mu.Unlock()
		listed()
		l.notify()

		from := &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.GetResourceVersion()}}
		w, err := l.c.Watch(ctx, s.newList(), append(append([]client.ListOption{}, s.opts...), from)...)
		if err != nil {
			slog.Debug("watch failed, relisting", "kind", s.name, "err", err, "in", backoff)
			if !sleep(ctx, backoff) {
				return
			}
			continue
		}
		backoff = time.Second
		l.consume(ctx, w, s, m)
		w.Stop()
	}
}

// consume applies watch events to m until the watch ends or fails.
func (l *live) consume(ctx context.Context, w watch.Interface, s source, m *mirror) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-w.ResultChan():
			if !ok || ev.Type == watch.Error {
				return
			}
			o, isObj := ev.Object.(client.Object)
			if !isObj || ev.Type == watch.Bookmark || !s.keep(o) {
				continue
			}
			key := client.ObjectKeyFromObject(o)
			m.mu.Lock()
			if ev.Type == watch.Deleted {
				delete(m.objs, key)
			} else {
				m.objs[key] = o
			}
			m.mu.Unlock()
			l.notify()
		}
	}
}

// sleep waits for d unless ctx ends first, and reports whether it waited.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
