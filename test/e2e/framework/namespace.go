package framework

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// NamespaceLabel marks the namespaces NewNamespace creates (value: the sanitized test name).
const NamespaceLabel = "tern.dev/e2e"

// NewNamespace creates a namespace named "<prefix>-<random>" for this test, waits until its
// default ServiceAccount exists (pods cannot be created before), and deletes it when the test
// ends (kept if the test failed and TERN_E2E_KEEP_NAMESPACES=1). An empty prefix uses the
// test's name.
func NewNamespace(t testing.TB, prefix string) string {
	t.Helper()
	cs := Clientset(t)
	if prefix == "" {
		prefix = t.Name()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		GenerateName: namespacePrefix(prefix),
		Labels:       map[string]string{NamespaceLabel: dnsLabel(t.Name(), 63)},
	}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	name := ns.Name
	t.Cleanup(func() {
		if t.Failed() && os.Getenv(EnvKeepNamespaces) == "1" {
			t.Logf("keeping namespace %s (%s=1)", name, EnvKeepNamespaces)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		// no waiting for the namespace controller: the next test uses another namespace
		err := cs.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %s: %v", name, err)
		}
	})
	Eventually(t, 30*time.Second, func() (bool, string) {
		_, err := cs.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		if err != nil {
			return false, fmt.Sprintf("default ServiceAccount of namespace %s: %v", name, err)
		}
		return true, ""
	})
	return name
}

// namespacePrefix turns prefix into a GenerateName: a DNS label of at most 57 characters
// ending in "-" (the API server appends 5 random characters).
func namespacePrefix(prefix string) string {
	p := dnsLabel(prefix, 57)
	if p == "" {
		p = "e2e"
	}
	return p + "-"
}

// dnsLabel lowercases s, turns every run of characters other than [a-z0-9] into one "-", trims
// "-" at both ends and cuts the result to max characters.
func dnsLabel(s string, max int) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	out := b.String()
	if len(out) > max {
		out = strings.TrimRight(out[:max], "-")
	}
	return out
}
