package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

var scheme = runtime.NewScheme()

func init() {
	_ = clientgoscheme.AddToScheme(scheme)
	_ = v1alpha1.AddToScheme(scheme)
}

// reqKey names one kind of API request the way kube-apiserver's apiserver_request_total
// does, so that the harness's own requests can be subtracted from the API server's counts.
type reqKey struct {
	Verb        string `json:"verb"`
	Group       string `json:"group,omitempty"`
	Resource    string `json:"resource"`
	Subresource string `json:"subresource,omitempty"`
	Code        string `json:"code"`
}

func (k reqKey) String() string {
	r := k.Resource
	if k.Group == "events.k8s.io" {
		r = k.Group + "/" + r
	}
	if k.Subresource != "" {
		r += "/" + k.Subresource
	}
	s := k.Verb + " " + r
	if k.Code != "" && k.Code != "200" && k.Code != "201" {
		s += " (" + k.Code + ")"
	}
	return s
}

// counts is a set of request counters.
type counts map[reqKey]float64

func (c counts) clone() counts {
	out := make(counts, len(c))
	for k, v := range c {
		out[k] = v
	}
	return out
}

// sub returns c - o, dropping zeros.
func (c counts) sub(o counts) counts {
	out := counts{}
	for k, v := range c {
		if d := v - o[k]; d != 0 {
			out[k] = d
		}
	}
	for k, v := range o {
		if _, ok := c[k]; !ok && v != 0 {
			out[k] = -v
		}
	}
	return out
}

func (c counts) total() float64 {
	var t float64
	for _, v := range c {
		t += v
	}
	return t
}

// sorted lists the counters by decreasing count, then name.
func (c counts) sorted() []reqKey {
	keys := make([]reqKey, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if c[keys[i]] != c[keys[j]] {
			return c[keys[i]] > c[keys[j]]
		}
		return keys[i].String() < keys[j].String()
	})
	return keys
}

// classify maps an HTTP request to the apiserver_request_total labels it is counted under.
// ok is false for non-resource URLs (/metrics, /healthz, discovery).
func classify(method string, u *url.URL, contentType string) (k reqKey, ok bool) {
	p := strings.Trim(u.Path, "/")
	var rest []string
	switch {
	case strings.HasPrefix(p, "api/v1/"):
		rest = strings.Split(strings.TrimPrefix(p, "api/v1/"), "/")
	case strings.HasPrefix(p, "apis/"):
		parts := strings.Split(strings.TrimPrefix(p, "apis/"), "/")
		if len(parts) < 3 {
			return k, false
		}
		k.Group, rest = parts[0], parts[2:]
	default:
		return k, false
	}
	var name string
	if len(rest) >= 3 && rest[0] == "namespaces" {
		rest = rest[2:]
	}
	k.Resource = rest[0]
	if len(rest) > 1 {
		name = rest[1]
	}
	if len(rest) > 2 {
		k.Subresource = rest[2]
	}
	switch method {
	case http.MethodGet:
		switch {
		case u.Query().Get("watch") == "true" || u.Query().Get("watch") == "1":
			k.Verb = "WATCH"
		case name == "":
			k.Verb = "LIST"
		default:
			k.Verb = "GET"
		}
	case http.MethodDelete:
		k.Verb = "DELETE"
		if name == "" {
			k.Verb = "DELETECOLLECTION"
		}
	case http.MethodPatch:
		k.Verb = "PATCH"
		if strings.HasPrefix(contentType, "application/apply-patch") {
			k.Verb = "APPLY"
		}
	default:
		k.Verb = method
	}
	return k, true
}

// counter counts the harness's own API requests, as seen by every transport it wraps.
type counter struct {
	mu sync.Mutex
	c  counts
}

type countingTransport struct {
	next http.RoundTripper
	*counter
}

func (t countingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	k, ok := classify(req.Method, req.URL, req.Header.Get("Content-Type"))
	if !ok {
		return resp, err
	}
	k.Code = "<error>"
	if resp != nil {
		k.Code = fmt.Sprint(resp.StatusCode)
	}
	t.mu.Lock()
	t.c[k]++
	t.mu.Unlock()
	return resp, err
}

func (t *counter) snapshot() counts {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.c.clone()
}

// kube is the harness's access to the cluster: a client whose requests are counted, and the
// raw config to scrape the API server's /metrics.
type kube struct {
	cfg     *rest.Config
	c       client.Client
	own     *counter
	metrics *http.Client // the API server's /metrics, not counted (non-resource URL anyway)
	host    string
}

func newKube(kubeconfig string) (*kube, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	// The harness must never be the one waiting on a client-side rate limit: its requests
	// start the clock, and a throttled harness would be charged to the controller.
	cfg.QPS, cfg.Burst = 5000, 10000
	cfg.UserAgent = "tern-bench"
	k := &kube{host: cfg.Host, own: &counter{c: counts{}}}
	plain := rest.CopyConfig(cfg)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { return countingTransport{next: rt, counter: k.own} }
	k.cfg = cfg
	if k.c, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}
	if k.metrics, err = rest.HTTPClientFor(plain); err != nil {
		return nil, err
	}
	return k, nil
}

// createNamespace creates a fresh namespace for one run.
func (k *kube) createNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"tern.dev/bench": "true"}}}
	if err := k.c.Create(ctx, ns); err != nil {
		return err
	}
	// Pods need the namespace's default ServiceAccount, which kube-controller-manager adds.
	return poll(ctx, 30*time.Second, func() (bool, error) {
		err := k.c.Get(ctx, client.ObjectKey{Namespace: name, Name: "default"}, &corev1.ServiceAccount{})
		return err == nil, client.IgnoreNotFound(err)
	})
}

// deleteNamespace deletes a run's namespace and waits until it is gone, so that the garbage
// collection of one run does not load the control plane during the next.
func (k *kube) deleteNamespace(ctx context.Context, name string, timeout time.Duration) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := k.c.Delete(ctx, ns); client.IgnoreNotFound(err) != nil {
		return err
	}
	return poll(ctx, timeout, func() (bool, error) {
		err := k.c.Get(ctx, client.ObjectKey{Name: name}, &corev1.Namespace{})
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	})
}

// applyYAML creates the objects of a multi-document manifest in namespace ns.
func (k *kube) applyYAML(ctx context.Context, ns, manifest string) error {
	for _, doc := range strings.Split(manifest, "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			return fmt.Errorf("manifest: %w\n%s", err, doc)
		}
		obj.SetNamespace(ns)
		if err := k.c.Create(ctx, obj); err != nil {
			return fmt.Errorf("creating %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

func poll(ctx context.Context, timeout time.Duration, f func() (bool, error)) error {
	end := time.Now().Add(timeout)
	for {
		ok, err := f()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(end) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// parallel runs f(0..n-1) on a few workers and returns the first error.
func parallel(n, workers int, f func(i int) error) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		next  = make(chan int)
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	return first
}

// watcher follows the objects of one namespace through informers and hands every change,
// stamped with the time it arrived, to the hooks of the scenario. Times are taken on the
// harness's side of a watch, as a controller's informer would see them.
type watcher struct {
	cache cache.Cache
	stop  context.CancelFunc

	mu      sync.Mutex
	hooks   map[int]func(obj client.Object, at time.Time)
	nextID  int
	changed chan struct{}
	last    time.Time // of the latest event
}

func newWatcher(ctx context.Context, k *kube, ns string) (*watcher, error) {
	c, err := cache.New(k.cfg, cache.Options{Scheme: scheme, DefaultNamespaces: map[string]cache.Config{ns: {}}})
	if err != nil {
		return nil, err
	}
	w := &watcher{cache: c, changed: make(chan struct{}), hooks: map[int]func(client.Object, time.Time){}}
	for _, obj := range []client.Object{&v1alpha1.Rollout{}, &appsv1.ReplicaSet{}, &corev1.Service{}, &v1alpha1.AnalysisRun{}} {
		inf, err := c.GetInformer(ctx, obj)
		if err != nil {
			return nil, err
		}
		if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    func(o any) { w.event(o) },
			UpdateFunc: func(_, o any) { w.event(o) },
			DeleteFunc: func(o any) {
				if t, ok := o.(toolscache.DeletedFinalStateUnknown); ok {
					o = t.Obj
				}
				w.event(o)
			},
		}); err != nil {
			return nil, err
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	w.stop = cancel
	go func() { _ = c.Start(cctx) }()
	if !c.WaitForCacheSync(ctx) {
		cancel()
		return nil, fmt.Errorf("watch of namespace %s did not sync", ns)
	}
	return w, nil
}

func (w *watcher) event(o any) {
	at := time.Now()
	obj, ok := o.(client.Object)
	if !ok {
		return
	}
	w.mu.Lock()
	hooks := make([]func(client.Object, time.Time), 0, len(w.hooks))
	for _, h := range w.hooks {
		hooks = append(hooks, h)
	}
	ch := w.changed
	w.changed = make(chan struct{})
	w.last = at
	w.mu.Unlock()
	for _, h := range hooks {
		h(obj, at)
	}
	close(ch)
}

// hook adds f to the functions called on every change; the returned func removes it.
func (w *watcher) hook(f func(obj client.Object, at time.Time)) func() {
	w.mu.Lock()
	defer w.mu.Unlock()
	id := w.nextID
	w.nextID++
	w.hooks[id] = f
	return func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		delete(w.hooks, id)
	}
}

// until waits for cond to hold, re-checking it after every change seen by the watcher.
func (w *watcher) until(ctx context.Context, timeout time.Duration, what string, cond func() bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		ch := w.changed
		w.mu.Unlock()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-time.After(time.Second): // a safety net; changes normally wake us
		case <-deadline.C:
			return fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// settle waits until no watched object has changed for quiet (at most max): nothing the
// controller writes is still in flight, as when a user finds a paused rollout.
func (w *watcher) settle(ctx context.Context, quiet, max time.Duration) {
	end := time.Now().Add(max)
	for time.Now().Before(end) {
		w.mu.Lock()
		since := time.Since(w.last)
		w.mu.Unlock()
		if since >= quiet {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(quiet - since):
		}
	}
}

func (w *watcher) rollout(ctx context.Context, ns, name string) *v1alpha1.Rollout {
	ro := &v1alpha1.Rollout{}
	if err := w.cache.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ro); err != nil {
		return nil
	}
	return ro
}

func (w *watcher) service(ctx context.Context, ns, name string) *corev1.Service {
	s := &corev1.Service{}
	if err := w.cache.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		return nil
	}
	return s
}

// replicaSets lists the ReplicaSets of rollout name (by owner), keyed by pod-template-hash.
func (w *watcher) replicaSets(ctx context.Context, ns, name string) map[string]*appsv1.ReplicaSet {
	list := &appsv1.ReplicaSetList{}
	if err := w.cache.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil
	}
	out := map[string]*appsv1.ReplicaSet{}
	for i := range list.Items {
		rs := &list.Items[i]
		if ownedBy(rs, name) {
			out[rs.Labels[v1alpha1.DefaultRolloutUniqueLabelKey]] = rs
		}
	}
	return out
}

func ownedBy(o client.Object, rollout string) bool {
	for _, ref := range o.GetOwnerReferences() {
		if ref.Kind == "Rollout" && ref.Name == rollout {
			return true
		}
	}
	return false
}
