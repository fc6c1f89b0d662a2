package service

import (
	"context"
	"errors"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/scheme"
	"github.com/tern-rollouts/tern/internal/traffic"
)

const hashKey = v1alpha1.DefaultRolloutUniqueLabelKey

func newClient(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	s, err := scheme.New()
	if err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
}

// svc is a Service of the app; hash, when not empty, is its pod-template-hash selector.
func svc(name, hash string) *corev1.Service {
	sel := map[string]string{"app": "web"}
	if hash != "" {
		sel[hashKey] = hash
	}
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}, Spec: corev1.ServiceSpec{Selector: sel}}
}

func blueGreen(active, preview string) *v1alpha1.Rollout {
	return &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
		Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: active, PreviewService: preview}}}}
}

func canary(canarySvc, stableSvc string, pingPong *v1alpha1.PingPongSpec) *v1alpha1.Rollout {
	return &v1alpha1.Rollout{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "web"},
		Spec: v1alpha1.RolloutSpec{Strategy: v1alpha1.RolloutStrategy{Canary: &v1alpha1.CanaryStrategy{
			CanaryService: canarySvc, StableService: stableSvc, PingPong: pingPong}}}}
}

// failingReader answers every read with an error other than not found.
type failingReader struct{ client.Reader }

func (failingReader) Get(context.Context, client.ObjectKey, client.Object, ...client.GetOption) error {
	return errors.New("cache unavailable")
}

// Observe reports each Service the strategy names that exists, under its role, with the
// hash it selects ("" when it selects no version); a missing one is left out.
func TestObserve(t *testing.T) {
	cases := []struct {
		name string
		ro   *v1alpha1.Rollout
		objs []client.Object
		want map[string]traffic.Selection
	}{{
		name: "blue-green, preview missing",
		ro:   blueGreen("active", "preview"),
		objs: []client.Object{svc("active", "abc"), svc("other", "zzz")},
		want: map[string]traffic.Selection{"active": {Service: "active", Role: traffic.RoleActive, Hash: "abc"}},
	}, {
		name: "canary with a Service not yet managed",
		ro:   canary("canary", "stable", nil),
		objs: []client.Object{svc("canary", ""), svc("stable", "abc")},
		want: map[string]traffic.Selection{
			"canary": {Service: "canary", Role: traffic.RoleCanary},
			"stable": {Service: "stable", Role: traffic.RoleStable, Hash: "abc"},
		},
	}, {
		name: "ping-pong",
		ro:   canary("", "", &v1alpha1.PingPongSpec{PingService: "ping", PongService: "pong"}),
		objs: []client.Object{svc("ping", "a"), svc("pong", "b")},
		want: map[string]traffic.Selection{
			"ping": {Service: "ping", Role: traffic.RolePing, Hash: "a"},
			"pong": {Service: "pong", Role: traffic.RolePong, Hash: "b"},
		},
	}, {
		name: "no Services named",
		ro:   canary("", "", nil),
		objs: []client.Object{svc("stable", "abc")},
		want: map[string]traffic.Selection{},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			obs := traffic.Observed{Services: map[string]traffic.Selection{}}
			if err := (Router{}).Observe(context.Background(), newClient(t, tc.objs...), tc.ro, &obs); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(obs.Services, tc.want) {
				t.Errorf("observed %+v, want %+v", obs.Services, tc.want)
			}
			if obs.Weight != nil || obs.Routes != nil {
				t.Errorf("the Service router reported a weight or routes: %+v", obs)
			}
		})
	}

	obs := traffic.Observed{Services: map[string]traffic.Selection{}}
	if err := (Router{}).Observe(context.Background(), failingReader{}, blueGreen("active", ""), &obs); err == nil {
		t.Error("a failed read was not reported")
	}
}

// Apply points the listed Services at their versions, in order, marks them managed by the
// Rollout and leaves the rest of the selector; it returns them as written. A weight or
// routes alone write nothing: the pods are the weight.
func TestApply(t *testing.T) {
	sel := func(name string, role traffic.Role, hash string) traffic.Selection {
		return traffic.Selection{Service: name, Role: role, Hash: hash}
	}
	weight := int32(30)
	cases := []struct {
		name string
		objs []client.Object
		want traffic.Desired
		// selectors are the hash each Service selects afterwards ("" for none).
		selectors map[string]string
		// managed are the Services that carry the managed-by annotation afterwards.
		managed []string
		written []string
		err     bool
	}{{
		name:      "one Service",
		objs:      []client.Object{svc("active", "old"), svc("preview", "old")},
		want:      traffic.Desired{Services: []traffic.Selection{sel("active", traffic.RoleActive, "new")}},
		selectors: map[string]string{"active": "new", "preview": "old"},
		managed:   []string{"active"},
		written:   []string{"active"},
	}, {
		name: "two Services, in order",
		objs: []client.Object{svc("canary", ""), svc("stable", "old")},
		want: traffic.Desired{Services: []traffic.Selection{
			sel("stable", traffic.RoleStable, "new"), sel("canary", traffic.RoleCanary, "new")}},
		selectors: map[string]string{"canary": "new", "stable": "new"},
		managed:   []string{"canary", "stable"},
		written:   []string{"stable", "canary"},
	}, {
		name:      "an empty hash selects every pod again",
		objs:      []client.Object{svc("canary", "old")},
		want:      traffic.Desired{Services: []traffic.Selection{sel("canary", traffic.RoleCanary, "")}},
		selectors: map[string]string{"canary": ""},
		managed:   []string{"canary"},
		written:   []string{"canary"},
	}, {
		name:      "weight and routes are not the Service router's",
		objs:      []client.Object{svc("canary", "old")},
		want:      traffic.Desired{Weight: &weight, Routes: &traffic.Routes{Header: []traffic.HeaderRoute{{Name: "h"}}}},
		selectors: map[string]string{"canary": "old"},
	}, {
		name: "a missing Service stops the rest, after the writes before it",
		objs: []client.Object{svc("stable", "old"), svc("canary", "old")},
		want: traffic.Desired{Services: []traffic.Selection{
			sel("stable", traffic.RoleStable, "new"), sel("gone", traffic.RoleCanary, "new"), sel("canary", traffic.RoleCanary, "new")}},
		selectors: map[string]string{"stable": "new", "canary": "old"},
		managed:   []string{"stable"},
		written:   []string{"stable"},
		err:       true,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			c := newClient(t, tc.objs...)
			ro := canary("canary", "stable", nil)
			got, err := (Router{}).Apply(ctx, c, ro, tc.want)
			if tc.err != (err != nil) {
				t.Fatalf("error %v, want one: %v", err, tc.err)
			}
			if tc.err && !apierrors.IsNotFound(err) {
				t.Errorf("error %v does not wrap the API's not found", err)
			}
			var written []string
			for _, o := range got {
				live := &corev1.Service{}
				if err := c.Get(ctx, client.ObjectKeyFromObject(o), live); err != nil {
					t.Fatal(err)
				}
				if _, ok := o.(*corev1.Service); !ok || o.GetResourceVersion() != live.ResourceVersion {
					t.Errorf("returned %T %s at resourceVersion %q, live at %q", o, o.GetName(), o.GetResourceVersion(), live.ResourceVersion)
				}
				written = append(written, o.GetName())
			}
			if !reflect.DeepEqual(written, tc.written) {
				t.Errorf("written %v, want %v", written, tc.written)
			}
			managed := map[string]bool{}
			for _, m := range tc.managed {
				managed[m] = true
			}
			for name, hash := range tc.selectors {
				live := &corev1.Service{}
				if err := c.Get(ctx, types.NamespacedName{Namespace: "ns", Name: name}, live); err != nil {
					t.Fatal(err)
				}
				if h, ok := live.Spec.Selector[hashKey]; h != hash || ok != (hash != "") {
					t.Errorf("service %s selects hash %q (set: %v), want %q", name, h, ok, hash)
				}
				if live.Spec.Selector["app"] != "web" {
					t.Errorf("service %s lost the rest of its selector: %v", name, live.Spec.Selector)
				}
				if got := live.Annotations[v1alpha1.ManagedByRolloutsKey]; (got == "web") != managed[name] || got != "" && got != "web" {
					t.Errorf("service %s managed-by annotation %q, managed: %v", name, got, managed[name])
				}
			}
		})
	}
}

// The Service router wakes the Rollouts that name a Service, by namespace and name, and
// asks only for what it uses on Services.
func TestWatchesAndRules(t *testing.T) {
	ws := (Router{}).Watches()
	if len(ws) != 1 {
		t.Fatalf("%d watches, want one of Services", len(ws))
	}
	if _, ok := ws[0].Object.(*corev1.Service); !ok {
		t.Fatalf("watches %T, want Services", ws[0].Object)
	}
	got := ws[0].Refs(blueGreen("active", "preview"))
	want := []types.NamespacedName{{Namespace: "ns", Name: "active"}, {Namespace: "ns", Name: "preview"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("refs %v, want %v", got, want)
	}
	if refs := ws[0].Refs(canary("", "", nil)); len(refs) != 0 {
		t.Errorf("a rollout naming no Service refers to %v", refs)
	}
	rules := (Router{}).Rules()
	if len(rules) != 1 || !reflect.DeepEqual(rules[0].Resources, []string{"services"}) || !reflect.DeepEqual(rules[0].Verbs, []string{"get", "list", "watch", "patch"}) {
		t.Errorf("rules %+v", rules)
	}
}
