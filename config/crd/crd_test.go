// Package crd_test installs the generated CRDs into a real kube-apiserver (envtest) with
// server-side apply and checks what the server then stores for a Rollout: the structural
// defaults and pruning that decide the pod-template-hash (compat.md §6.1), the fields
// kept opaque, and the immutable selector.
package crd_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/hash"
)

// blueGreenExample is upstream's examples/rollout-bluegreen.yaml: its ports have no
// protocol, so its hash changes once the CRD default fills it in.
const blueGreenExample = `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: rollout-bluegreen
  namespace: default
spec:
  replicas: 2
  revisionHistoryLimit: 2
  selector:
    matchLabels:
      app: rollout-bluegreen
  template:
    metadata:
      labels:
        app: rollout-bluegreen
    spec:
      containers:
      - name: rollouts-demo
        image: argoproj/rollouts-demo:blue
        imagePullPolicy: Always
        ports:
        - containerPort: 8080
  strategy:
    blueGreen:
      activeService: rollout-bluegreen-active
      previewService: rollout-bluegreen-preview
      autoPromotionEnabled: false
`

// shapeProbe exercises every place where the patched schema differs from controller-gen's.
const shapeProbe = `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: shape-probe
  namespace: default
spec:
  selector:
    matchLabels:
      app: probe
  template:
    metadata:
      name: dropped-by-pruning
      labels:
        app: probe
      annotations:
        team: a
    spec:
      notAPodField: pruned
      containers:
      - name: app
        image: example/app:1
        env:
        - name: FROM_CM
          valueFrom:
            configMapKeyRef:
              key: k
        readinessProbe:
          grpc:
            port: 9000
        resources:
          limits:
            cpu: 500m
            example.com/gpu: "1"
          requests:
            memory: 64Mi
      volumes:
      - name: cfg
        configMap:
          items:
          - key: a
            path: b
        futureVolumeSource:
          kept: true
  strategy:
    canary:
      canaryService: probe-canary
      stableService: probe-stable
      trafficRouting:
        plugins:
          argoproj-labs/gatewayAPI:
            httpRoute: probe
            namespace: default
      steps:
      - plugin:
          name: example/step
          config:
            anything: [1, "two", {three: 3}]
`

func TestCRDsOnAPIServer(t *testing.T) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		home, _ := os.UserHomeDir()
		assets = filepath.Join(home, ".cache", "tern", "bin-v1.37.2")
	}
	for _, bin := range []string{"etcd", "kube-apiserver"} {
		if _, err := os.Stat(filepath.Join(assets, bin)); err != nil {
			t.Skipf("needs %s in %s (KUBEBUILDER_ASSETS); build it with test/cluster/build.sh", bin, assets)
		}
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })

	scheme := runtime.NewScheme()
	if err := apiextensionsv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	applyCRDs(ctx, t, c)

	t.Run("upstream bluegreen example hashes as upstream once stored", func(t *testing.T) {
		local := decodeRollout(t, mustUnstructured(t, blueGreenExample))
		if got := hash.PodTemplate(&local.Spec.Template, nil); got != "6c64d55fdf" {
			t.Fatalf("hash of the manifest as written = %s, want 6c64d55fdf (compat.md §6.1)", got)
		}
		stored := createAndGet(ctx, t, c, blueGreenExample)
		ro := decodeRollout(t, stored)
		if p := ro.Spec.Template.Spec.Containers[0].Ports[0].Protocol; p != "TCP" {
			t.Errorf("ports[0].protocol = %q, want the CRD default TCP", p)
		}
		if got := hash.PodTemplate(&ro.Spec.Template, nil); got != "558dcdc6d" {
			t.Errorf("hash of the stored template = %s, want 558dcdc6d as upstream's CRD gives", got)
		}
	})

	t.Run("pod template defaults, pruning and preserved fields", func(t *testing.T) {
		u := createAndGet(ctx, t, c, shapeProbe)
		tmpl := nested(t, u.Object, "spec", "template").(map[string]any)
		container := nested(t, tmpl, "spec", "containers").([]any)[0].(map[string]any)
		volume := nested(t, tmpl, "spec", "volumes").([]any)[0].(map[string]any)
		checks := []struct {
			what string
			got  any
			want any
		}{
			{"configMapKeyRef.name default", lookup(container, "env", 0, "valueFrom", "configMapKeyRef", "name"), ""},
			{"grpc.service default", lookup(container, "readinessProbe", "grpc", "service"), ""},
			{"resources.limits.cpu", lookup(container, "resources", "limits", "cpu"), "500m"},
			{"extended resource limit", lookup(container, "resources", "limits", "example.com/gpu"), "1"},
			{"resources.requests.memory", lookup(container, "resources", "requests", "memory"), "64Mi"},
			{"template labels", lookup(tmpl, "metadata", "labels", "app"), "probe"},
			{"template annotations", lookup(tmpl, "metadata", "annotations", "team"), "a"},
			{"template metadata.name (pruned like upstream)", lookup(tmpl, "metadata", "name"), nil},
			{"unknown pod field (pruned)", lookup(tmpl, "spec", "notAPodField"), nil},
			{"volume configMap.name (no controller-gen default)", lookup(volume, "configMap", "name"), nil},
			{"unknown volume field (preserved)", lookup(volume, "futureVolumeSource", "kept"), true},
			{"traffic router plugin config", lookup(u.Object, "spec", "strategy", "canary", "trafficRouting", "plugins", "argoproj-labs/gatewayAPI", "httpRoute"), "probe"},
			{"step plugin config", lookup(u.Object, "spec", "strategy", "canary", "steps", 0, "plugin", "config", "anything", 2, "three"), int64(3)},
		}
		for _, ch := range checks {
			if ch.got != ch.want {
				t.Errorf("%s = %#v, want %#v", ch.what, ch.got, ch.want)
			}
		}
	})

	t.Run("workloadRef rollout written by a typed Go client", func(t *testing.T) {
		// encoding/json writes the empty template as {"spec":{"containers":null}}; the
		// server must accept it, or every controller or CLI write of such a rollout fails.
		ro := v1alpha1.Rollout{
			TypeMeta:   metav1.TypeMeta{APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout"},
			ObjectMeta: metav1.ObjectMeta{Name: "workload-ref", Namespace: "default"},
			Spec: v1alpha1.RolloutSpec{
				WorkloadRef: &v1alpha1.ObjectRef{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", ScaleDown: v1alpha1.ScaleDownProgressively},
				Strategy:    v1alpha1.RolloutStrategy{BlueGreen: &v1alpha1.BlueGreenStrategy{ActiveService: "web-active"}},
			},
		}
		raw, err := json.Marshal(ro)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(raw), `"containers":null`) {
			t.Fatalf("typed JSON no longer has containers:null, the case this checks: %s", raw)
		}
		u := createAndGet(ctx, t, c, string(raw))
		if got := lookup(u.Object, "spec", "workloadRef", "name"); got != "web" {
			t.Errorf("stored workloadRef.name = %v, want web", got)
		}
	})

	t.Run("selector is immutable", func(t *testing.T) {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("argoproj.io/v1alpha1")
		u.SetKind("Rollout")
		if err := c.Get(ctx, client.ObjectKey{Namespace: "default", Name: "rollout-bluegreen"}, u); err != nil {
			t.Fatal(err)
		}
		if err := unstructured.SetNestedStringMap(u.Object, map[string]string{"app": "other"}, "spec", "selector", "matchLabels"); err != nil {
			t.Fatal(err)
		}
		err := c.Update(ctx, u)
		if err == nil || !strings.Contains(err.Error(), "Rollout selector is immutable") {
			t.Fatalf("update of the selector: error %v, want the CEL message", err)
		}
	})
}

// applyCRDs installs every CRD with server-side apply, the way the install docs ask users
// to, and waits until they serve.
func applyCRDs(ctx context.Context, t *testing.T, c client.Client) {
	t.Helper()
	files, err := filepath.Glob("bases/*.yaml")
	if err != nil || len(files) != 5 {
		t.Fatalf("want 5 CRDs in bases/, got %v (%v)", files, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		u := mustUnstructured(t, string(raw))
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("tern-crd-test"), client.ForceOwnership); err != nil {
			t.Fatalf("server-side apply of %s: %v", f, err)
		}
		waitEstablished(ctx, t, c, u.GetName())
	}
}

func waitEstablished(ctx context.Context, t *testing.T, c client.Client, name string) {
	t.Helper()
	for {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := c.Get(ctx, client.ObjectKey{Name: name}, &crd); err == nil {
			for _, cond := range crd.Status.Conditions {
				if cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("CRD %s not established", name)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func createAndGet(ctx context.Context, t *testing.T, c client.Client, manifest string) *unstructured.Unstructured {
	t.Helper()
	u := mustUnstructured(t, manifest)
	// The CRD may be established a moment before its REST mapping is served.
	var err error
	for range 50 {
		if err = c.Create(ctx, u.DeepCopy()); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("creating %s: %v", u.GetName(), err)
	}
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(u.GroupVersionKind())
	if err := c.Get(ctx, client.ObjectKeyFromObject(u), got); err != nil {
		t.Fatal(err)
	}
	return got
}

func mustUnstructured(t *testing.T, manifest string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
		t.Fatal(err)
	}
	return u
}

func decodeRollout(t *testing.T, u *unstructured.Unstructured) *v1alpha1.Rollout {
	t.Helper()
	raw, err := json.Marshal(u.Object)
	if err != nil {
		t.Fatal(err)
	}
	ro := &v1alpha1.Rollout{}
	if err := json.Unmarshal(raw, ro); err != nil {
		t.Fatal(err)
	}
	return ro
}

func nested(t *testing.T, obj map[string]any, keys ...string) any {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(obj, keys...)
	if err != nil || !ok {
		t.Fatalf("%v missing from stored object (%v)", keys, err)
	}
	return v
}

// lookup walks maps by string key and lists by int index; nil when absent.
func lookup(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}
