// Package install_test installs Tern from manifests/install.yaml and
// manifests/namespace-install.yaml on the local control plane, then runs tern-controller with
// nothing but the installed ServiceAccount's token (not the admin's) through the seed
// blue-green walkthrough: if a permission the controller needs is missing from config/rbac,
// the walkthrough stalls or the controller logs a "forbidden".
package install_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/test/e2e/fixture"
	"github.com/tern-rollouts/tern/test/e2e/framework"
)

const (
	timeout  = 90 * time.Second
	repoRoot = "../../.."
	// The seed walkthrough's first ReplicaSet (compat.md §6.1: the hash of the template as
	// the API server stores it).
	firstRS   = "rollout-bluegreen-558dcdc6d"
	firstHash = "558dcdc6d"
)

// Each test starts its own controller, with the installed ServiceAccount's token.
func TestMain(m *testing.M) {
	fixture.Main(m, fixture.Options{Name: "install-e2e"})
}

// The cluster-wide install: ClusterRole and ClusterRoleBinding, CRDs, leader election in the
// install namespace.
func TestClusterWideInstallRunsTheWalkthrough(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "install")
	manifest := readManifest(t, "install.yaml")

	// `kubectl apply -n <ns> -f install.yaml` (client-side, as the README says) is accepted
	// as is, CRDs and their last-applied annotations included.
	framework.Kubectl(t, "apply", "--dry-run=server", "-n", ns, "-f", filepath.Join(repoRoot, "manifests", "install.yaml"))

	// The cluster-scoped RBAC objects get this test's own names, and the binding this
	// namespace, so that the test neither meets nor disturbs an install of the same cluster.
	clusterName := "tern-controller-" + ns
	objs := decode(t, manifest)
	for _, o := range objs {
		switch o.GetKind() {
		case "ClusterRole":
			o.SetName(clusterName)
		case "ClusterRoleBinding":
			o.SetName(clusterName)
			must(t, unstructured.SetNestedField(o.Object, clusterName, "roleRef", "name"))
			subjects, _, _ := unstructured.NestedSlice(o.Object, "subjects")
			if len(subjects) != 1 || subjects[0].(map[string]any)["namespace"] != "tern" {
				t.Fatalf("ClusterRoleBinding subjects %v: want the one ServiceAccount in namespace tern", subjects)
			}
			subjects[0].(map[string]any)["namespace"] = ns
			must(t, unstructured.SetNestedSlice(o.Object, subjects, "subjects"))
		}
	}
	t.Cleanup(func() {
		framework.KubectlE(t, "delete", "clusterrolebinding,clusterrole", clusterName, "--ignore-not-found", "--wait=false")
	})
	install(t, ns, objs)

	kubeconfig := serviceAccountKubeconfig(t, ns)
	// The token is the ServiceAccount's and no more: it cannot do what only an admin can.
	if out, _ := framework.KubectlE(t, "--kubeconfig", kubeconfig, "auth", "can-i", "create", "clusterroles"); strings.TrimSpace(out) != "no" {
		t.Fatalf("the ServiceAccount may create ClusterRoles (%q): the test would prove nothing", out)
	}
	ctl := startController(t, ns, kubeconfig, "install-e2e", "--leader-election-namespace", ns)
	walkthrough(t, ns, "install-e2e", ctl)
}

// The namespaced install: only a Role and RoleBindings, `--namespace` from the downward API
// in the Deployment, and the controller out of cluster given the same flag.
func TestNamespaceInstallRunsTheWalkthrough(t *testing.T) {
	t.Parallel()
	ns := framework.NewNamespace(t, "ns-install")
	objs := decode(t, readManifest(t, "namespace-install.yaml"))
	for _, o := range objs {
		if o.GetNamespace() != "" || isClusterScoped(o.GetKind()) {
			t.Fatalf("namespace-install.yaml has %s %s/%s: it must need only namespace-level privileges", o.GetKind(), o.GetNamespace(), o.GetName())
		}
	}
	install(t, ns, objs)

	kubeconfig := serviceAccountKubeconfig(t, ns)
	if out, _ := framework.KubectlE(t, "--kubeconfig", kubeconfig, "auth", "can-i", "list", "rollouts.argoproj.io", "--all-namespaces"); strings.TrimSpace(out) != "no" {
		t.Fatalf("the namespaced ServiceAccount may list Rollouts everywhere (%q)", out)
	}
	ctl := startController(t, ns, kubeconfig, "install-e2e-ns", "--namespace", ns)
	walkthrough(t, ns, "install-e2e-ns", ctl)

	// Cluster-scoped templates are out of this install's reach: a Rollout naming one is
	// told so, rather than waiting on a read it is not allowed.
	framework.Apply(t, ns, []byte(`apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata:
  name: wants-cluster-template
  labels: {argo-rollouts.argoproj.io/controller-instance-id: install-e2e-ns}
spec:
  replicas: 1
  selector: {matchLabels: {app: wants-cluster-template}}
  template:
    metadata: {labels: {app: wants-cluster-template}}
    spec: {containers: [{name: app, image: nginx:1}]}
  strategy:
    canary:
      analysis: {templates: [{templateName: shared-checks, clusterScope: true}]}
      steps: [{setWeight: 50}, {pause: {}}]
`))
	cr := fixture.On(t, ns, "wants-cluster-template").Retrying(timeout)
	cr.Until("InvalidSpec naming the unreadable ClusterAnalysisTemplate", timeout, func(r *v1alpha1.Rollout) bool {
		return r.Status.Phase == v1alpha1.RolloutPhaseDegraded &&
			strings.Contains(r.Status.Message, `clusteranalysistemplates.argoproj.io "shared-checks" cannot be read`)
	})
}

func readManifest(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "manifests", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func decode(t *testing.T, manifest []byte) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(manifest), -1) {
		obj := map[string]any{}
		if err := yaml.Unmarshal([]byte(doc), &obj); err != nil {
			t.Fatal(err)
		}
		if len(obj) > 0 {
			out = append(out, &unstructured.Unstructured{Object: obj})
		}
	}
	return out
}

func isClusterScoped(kind string) bool {
	switch kind {
	case "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding", "Namespace":
		return true
	}
	return false
}

// install server-side applies the objects into ns with kubectl, as a user would. CRDs are
// shared by every test of the cluster; they are the same bytes, so taking them over
// (--force-conflicts) changes nothing.
func install(t *testing.T, ns string, objs []*unstructured.Unstructured) {
	t.Helper()
	var buf bytes.Buffer
	for _, o := range objs {
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	path := filepath.Join(t.TempDir(), "install.yaml")
	must(t, os.WriteFile(path, buf.Bytes(), 0o644))
	framework.Kubectl(t, "apply", "--server-side", "--force-conflicts", "--field-manager", "tern-install-e2e", "-n", ns, "-f", path)

	// The Deployment is valid as written (security context, probes, resources) and its
	// pods come up on the kwok nodes; nothing runs in them there.
	c := fixture.Client(t)
	framework.Eventually(t, timeout, func() (bool, string) {
		d := &appsv1.Deployment{}
		if err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "tern-controller"}, d); err != nil {
			return false, err.Error()
		}
		return d.Status.ReadyReplicas == 2, fmt.Sprintf("Deployment tern-controller: %d/2 ready", d.Status.ReadyReplicas)
	})
}

// serviceAccountKubeconfig writes a kubeconfig for the tern-controller ServiceAccount of ns:
// the cluster's address and CA, and a token from the TokenRequest API.
func serviceAccountKubeconfig(t *testing.T, ns string) string {
	t.Helper()
	token := strings.TrimSpace(framework.Kubectl(t, "create", "token", "tern-controller", "-n", ns, "--duration", "1h"))
	if token == "" {
		t.Fatal("kubectl create token returned nothing")
	}
	admin, err := clientcmd.LoadFromFile(framework.Kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx := admin.Contexts[admin.CurrentContext]
	if ctx == nil || admin.Clusters[ctx.Cluster] == nil {
		t.Fatalf("%s has no current context with a cluster", framework.Kubeconfig(t))
	}
	cluster := admin.Clusters[ctx.Cluster].DeepCopy()
	if cluster.CertificateAuthority != "" && !filepath.IsAbs(cluster.CertificateAuthority) {
		cluster.CertificateAuthority = filepath.Join(filepath.Dir(framework.Kubeconfig(t)), cluster.CertificateAuthority)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["local"] = cluster
	cfg.AuthInfos["tern-controller"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["tern-controller"] = &clientcmdapi.Context{Cluster: "local", AuthInfo: "tern-controller", Namespace: ns}
	cfg.CurrentContext = "tern-controller"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	must(t, clientcmd.WriteToFile(*cfg, path))
	return path
}

// startController starts tern-controller out of cluster with kubeconfig (the installed
// ServiceAccount's token), leader election on, and waits until it holds the Lease.
func startController(t *testing.T, ns, kubeconfig, instanceID string, extra ...string) *controller {
	t.Helper()
	// --leader-elect after framework.ControllerArgs' --leader-elect=false: the last one holds.
	ctl := &controller{fixture.StartController(t, "controller", kubeconfig,
		append([]string{"--instance-id", instanceID, "--leader-elect"}, extra...)...)}
	t.Cleanup(func() {
		// Runs before the fixture stops the controller and dumps its log.
		if !t.Failed() {
			return
		}
		// A walkthrough that stalls on a missing permission says so only in the log.
		if lines := ctl.forbidden(t); len(lines) > 0 {
			t.Logf("the API server refused the controller %d time(s), first: %s", len(lines), lines[0])
		}
	})
	// Leader election runs on the token too: the Lease appears in ns.
	c := fixture.Client(t)
	framework.Eventually(t, timeout, func() (bool, string) {
		if p := ctl.Process(); p.Exited() {
			p.DumpLog(40)
			t.Fatal("tern-controller exited")
		}
		lease := &coordinationv1.Lease{}
		err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: "tern-controller-lock"}, lease)
		if err != nil {
			return false, "waiting for the leader-election Lease: " + err.Error()
		}
		return lease.Spec.HolderIdentity != nil && *lease.Spec.HolderIdentity != "", "Lease tern-controller-lock has no holder"
	})
	return ctl
}

type controller struct {
	*fixture.Controller
}

// forbidden returns the lines where the API server refused the controller something. In
// --namespace mode the one expected refusal is the probe of ClusterAnalysisTemplates,
// which a Role cannot grant.
func (c *controller) forbidden(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(c.Log)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(strings.ToLower(line), "forbidden") && !strings.Contains(line, "not watching ClusterAnalysisTemplates") {
			out = append(out, line)
		}
	}
	return out
}

// walkthrough is the seed blue-green walkthrough (README, `make demo`): apply, Healthy on
// the first ReplicaSet, set image, Paused with the preview Service switched, promote, the
// active Service switched.
func walkthrough(t *testing.T, ns, instanceID string, ctl *controller) {
	t.Helper()
	objs := decode(t, fixture.ReadFixture(t, "seed-bluegreen.yaml"))
	var buf bytes.Buffer
	for _, o := range objs {
		if o.GetKind() == "Rollout" {
			// Only this test's controller acts on it; the other suites' controllers skip it.
			o.SetLabels(map[string]string{v1alpha1.LabelKeyControllerInstanceID: instanceID})
		}
		data, err := yaml.Marshal(o.Object)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("---\n")
		buf.Write(data)
	}
	framework.Apply(t, ns, buf.Bytes())
	c := fixture.Client(t)
	ro := fixture.On(t, ns, "rollout-bluegreen").Retrying(timeout)

	ro.Until("Healthy on "+firstRS, timeout, func(r *v1alpha1.Rollout) bool {
		return r.Status.Phase == v1alpha1.RolloutPhaseHealthy && r.Status.CurrentPodHash == firstHash &&
			ro.Selector("rollout-bluegreen-active") == firstHash
	})
	rs := &appsv1.ReplicaSet{}
	if err := c.Get(context.Background(), types.NamespacedName{Namespace: ns, Name: firstRS}, rs); err != nil {
		t.Fatalf("the first ReplicaSet: %v", err)
	}

	ro.SetImage("argoproj/rollouts-demo:yellow")
	paused := ro.Until("Paused with the preview Service on the new version", timeout, func(r *v1alpha1.Rollout) bool {
		return r.Status.Phase == v1alpha1.RolloutPhasePaused && r.Status.CurrentPodHash != firstHash &&
			ro.Selector("rollout-bluegreen-preview") == r.Status.CurrentPodHash &&
			ro.Selector("rollout-bluegreen-active") == firstHash
	})
	newHash := paused.Status.CurrentPodHash

	ro.Promote()
	ro.Until("Healthy with the active Service on "+newHash, timeout, func(r *v1alpha1.Rollout) bool {
		return r.Status.Phase == v1alpha1.RolloutPhaseHealthy && r.Status.StableRS == newHash &&
			ro.Selector("rollout-bluegreen-active") == newHash
	})

	// Events were recorded with the token (create and patch on events).
	events := &corev1.EventList{}
	must(t, c.List(context.Background(), events, client.InNamespace(ns)))
	found := false
	for _, e := range events.Items {
		if e.InvolvedObject.Kind == "Rollout" && e.Source.Component == "rollouts-controller" {
			found = true
		}
	}
	if !found {
		t.Error("no Event on the Rollout from the controller")
	}
	if lines := ctl.forbidden(t); len(lines) > 0 {
		t.Errorf("the API server refused the controller %d time(s); config/rbac lacks a permission:\n%s", len(lines), strings.Join(lines, "\n"))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
