// Command tern-trafficsim pretends to be the traffic of the rollout pods of a cluster
// whose pods run no containers (the local control plane's kwok nodes): it watches Pods and,
// for every Ready pod carrying rollouts-pod-template-hash, serves Prometheus counters on
// /metrics, http_requests_total{namespace,pod,rollouts_pod_template_hash,app,code},
// growing by --rate requests per second per pod. Pods running an image whose tag starts
// with "bad-" fail --bad-error-ratio of them with code 500 (default half), others
// --good-error-ratio (default none), so a success-rate query tells good from bad versions.
//
// Point Prometheus at it (test/prometheus/up.sh does) to run Prometheus analysis against
// the local control plane. It is a tool of the tests (test/e2e, test/chaos), the bench and
// `make demo`, and no part of a Tern install: it lives under test/ and is not released.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

type options struct {
	kubeconfig string
	listen     string
	namespace  string
	rate       float64
	goodErrors float64
	badErrors  float64
}

func main() {
	var o options
	flag.StringVar(&o.kubeconfig, "kubeconfig", os.Getenv("KUBECONFIG"), "Path to the cluster's kubeconfig (default $KUBECONFIG).")
	flag.StringVar(&o.listen, "listen", "127.0.0.1:19091", "Address of the /metrics endpoint.")
	flag.StringVar(&o.namespace, "namespace", "", "Watch only this namespace (default: all).")
	flag.Float64Var(&o.rate, "rate", 10, "Requests per second per Ready pod.")
	flag.Float64Var(&o.goodErrors, "good-error-ratio", 0, "Share of requests failing with 500 on pods of good images.")
	flag.Float64Var(&o.badErrors, "bad-error-ratio", 0.5, "Share of requests failing with 500 on pods of images tagged bad-*.")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, nil); err != nil {
		fmt.Fprintln(os.Stderr, "tern-trafficsim:", err)
		os.Exit(1)
	}
}

// run serves until ctx ends. ready, when not nil, receives the listening address once the
// pod cache is synced.
func run(ctx context.Context, o options, ready chan<- string) error {
	if o.kubeconfig == "" {
		return errors.New("no kubeconfig: pass --kubeconfig or set KUBECONFIG")
	}
	if o.rate <= 0 || o.goodErrors < 0 || o.goodErrors > 1 || o.badErrors < 0 || o.badErrors > 1 {
		return errors.New("--rate must be positive and the error ratios within [0, 1]")
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", o.kubeconfig)
	if err != nil {
		return err
	}
	cfg.UserAgent = "tern-trafficsim"
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	sim := NewSimulator(o.rate, o.goodErrors, o.badErrors, time.Now)
	factory := informers.NewSharedInformerFactoryWithOptions(cs, 0,
		informers.WithNamespace(o.namespace),
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) { lo.LabelSelector = v1alpha1.DefaultRolloutUniqueLabelKey }))
	inf := factory.Core().V1().Pods().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { observe(sim, obj) },
		UpdateFunc: func(_, obj any) { observe(sim, obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				sim.Forget(pod.Namespace, pod.Name)
			}
		},
	}); err != nil {
		return err
	}
	factory.Start(ctx.Done())
	defer factory.Shutdown()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		return errors.New("pod cache never synced")
	}

	lis, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = sim.WriteMetrics(w)
	})
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(lis) }()
	fmt.Fprintf(os.Stderr, "tern-trafficsim: serving http://%s/metrics (namespace %q)\n", lis.Addr(), o.namespace)
	if ready != nil {
		ready <- lis.Addr().String()
	}
	select {
	case <-ctx.Done():
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdown)
	case err := <-errc:
		return err
	}
}

func observe(sim *Simulator, obj any) {
	if pod, ok := obj.(*corev1.Pod); ok {
		sim.Observe(pod)
	}
}
