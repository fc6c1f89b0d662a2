// Command tern-controller runs the Tern controller: it reconciles argoproj.io/v1alpha1
// Rollouts (and their analysis) against the cluster its kubeconfig or in-cluster config
// points at. Flags only; the logic lives in internal/.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/client-go/kubernetes"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/controller"
	ternscheme "github.com/tern-rollouts/tern/internal/scheme"
)

// Set at build time with -ldflags "-X main.version=...".
var version = "v99.99.99+unknown"

type options struct {
	kubeconfig       string
	namespace        string
	instanceID       string
	metricsAddr      string
	healthAddr       string
	pprofAddr        string
	leaderElect      bool
	leaderElectionNS string
	leaderElectionID string
	qps              float64
	burst            int
	rolloutThreads   int
	analysisThreads  int
	resync           time.Duration
	showVersion      bool
	leaseDuration    time.Duration
	renewDeadline    time.Duration
	retryPeriod      time.Duration
}

func main() {
	var o options
	fs := flag.CommandLine
	fs.StringVar(&o.namespace, "namespace", "", "Watch only this namespace (default: all namespaces).")
	fs.StringVar(&o.instanceID, "instance-id", "", "Handle only objects labelled "+v1alpha1.LabelKeyControllerInstanceID+"=<id>; empty handles only objects without that label.")
	fs.StringVar(&o.metricsAddr, "metrics-bind-address", "127.0.0.1:8090", "Address of the /metrics endpoint; \"0\" disables it.")
	fs.StringVar(&o.healthAddr, "health-probe-bind-address", "127.0.0.1:8080", "Address of the /healthz and /readyz endpoints.")
	fs.StringVar(&o.pprofAddr, "pprof-bind-address", "", "Address of Go's /debug/pprof endpoints, for profiling; empty (the default) disables them.")
	fs.BoolVar(&o.leaderElect, "leader-elect", true, "Elect a leader through a Lease so that only one replica acts at a time.")
	fs.StringVar(&o.leaderElectionNS, "leader-election-namespace", "", "Namespace of the leader-election Lease (default: the pod's namespace, or kube-system out of cluster).")
	fs.StringVar(&o.leaderElectionID, "leader-election-id", "tern-controller-lock", "Name of the leader-election Lease.")
	fs.DurationVar(&o.leaseDuration, "leader-election-lease-duration", 15*time.Second, "How long a leader's Lease lasts without renewal.")
	fs.DurationVar(&o.renewDeadline, "leader-election-renew-deadline", 10*time.Second, "How long the leader keeps trying to renew before it gives up.")
	fs.DurationVar(&o.retryPeriod, "leader-election-retry-period", 2*time.Second, "How often candidates try to take the Lease.")
	fs.Float64Var(&o.qps, "qps", 40, "Client queries per second to the API server.")
	fs.IntVar(&o.burst, "burst", 80, "Client burst of queries to the API server.")
	fs.IntVar(&o.rolloutThreads, "rollout-threads", 10, "Rollouts reconciled at once.")
	fs.IntVar(&o.analysisThreads, "analysis-threads", controller.DefaultAnalysisThreads, "AnalysisRuns measured at once.")
	fs.DurationVar(&o.resync, "rollout-resync", 15*time.Minute, "Period of the full resync of the informer caches.")
	fs.BoolVar(&o.showVersion, "version", false, "Print the version and exit.")
	zapOpts := zap.Options{Development: false}
	zapOpts.BindFlags(fs)
	klog.InitFlags(nil)
	flag.Parse()
	if o.showVersion {
		fmt.Println("tern-controller", version)
		return
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if err := run(ctrl.SetupSignalHandler(), o); err != nil {
		ctrl.Log.Error(err, "controller stopped")
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	log := ctrl.Log.WithName("setup")
	// --kubeconfig is registered by controller-runtime; it and KUBECONFIG are honoured,
	// and in a pod the in-cluster configuration is used.
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("no usable kubeconfig (--kubeconfig, KUBECONFIG) and not in a cluster: %w", err)
	}
	cfg.QPS, cfg.Burst = float32(o.qps), o.burst
	cfg.UserAgent = "tern-controller/" + version

	scheme, err := ternscheme.New()
	if err != nil {
		return err
	}
	cacheOpts := cache.Options{SyncPeriod: &o.resync}
	// The only pods Tern reads are those of its ReplicaSets (restarts, ephemeral
	// metadata), which all carry the pod-template-hash label; caching the cluster's other
	// pods would only cost memory.
	hashed, err := labels.NewRequirement(v1alpha1.DefaultRolloutUniqueLabelKey, selection.Exists, nil)
	if err != nil {
		return err
	}
	cacheOpts.ByObject = map[client.Object]cache.ByObject{&corev1.Pod{}: {Label: labels.NewSelector().Add(*hashed)}}
	if o.namespace != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{o.namespace: {}}
	}
	leNS := o.leaderElectionNS
	if leNS == "" && o.namespace != "" {
		leNS = o.namespace
	}
	if leNS == "" {
		if _, err := rest.InClusterConfig(); err != nil {
			leNS = "kube-system"
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         cacheOpts,
		Metrics:                       metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:        o.healthAddr,
		PprofBindAddress:              o.pprofAddr,
		LeaderElection:                o.leaderElect,
		LeaderElectionID:              o.leaderElectionID,
		LeaderElectionNamespace:       leNS,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 &o.leaseDuration,
		RenewDeadline:                 &o.renewDeadline,
		RetryPeriod:                   &o.retryPeriod,
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	// Events are a good part of the controller's requests; protobuf costs both ends less
	// CPU than JSON (the manager's client already uses it for built-in kinds).
	eventsCfg := rest.CopyConfig(cfg)
	eventsCfg.ContentType = runtime.ContentTypeProtobuf
	eventsCfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	clientset, err := kubernetes.NewForConfig(eventsCfg)
	if err != nil {
		return err
	}
	// Our own broadcaster: the default one drops events past 25 per object, and a
	// rollout's event history is part of the contract.
	broadcaster := record.NewBroadcasterWithCorrelatorOptions(record.CorrelatorOptions{BurstSize: 1000, QPS: 10, MaxEvents: 1000})
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: clientset.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	recorder := broadcaster.NewRecorder(scheme, corev1.EventSource{Component: "rollouts-controller"})

	r := &controller.RolloutReconciler{
		Client:     mgr.GetClient(),
		Recorder:   recorder,
		InstanceID: o.instanceID,
		Workers:    o.rolloutThreads,
	}
	if err := r.SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up rollout controller: %w", err)
	}
	ar := &controller.AnalysisRunReconciler{
		Client:     mgr.GetClient(),
		APIReader:  mgr.GetAPIReader(),
		Recorder:   recorder,
		InstanceID: o.instanceID,
		Workers:    o.analysisThreads,
	}
	if err := ar.SetupWithManager(ctx, mgr); err != nil {
		return fmt.Errorf("setting up analysis run controller: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("readyz", func(req *http.Request) error {
		if !mgr.GetCache().WaitForCacheSync(req.Context()) {
			return fmt.Errorf("informer caches not synced")
		}
		return nil
	}); err != nil {
		return err
	}
	log.Info("starting", "version", version, "namespace", o.namespace, "instanceID", o.instanceID, "leaderElect", o.leaderElect)
	return mgr.Start(ctx)
}
