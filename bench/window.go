package main

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// controllerUser is the API user of the controller under test (bench/cluster.sh): one of the
// few names kube-apiserver's authenticated_user_requests reports verbatim.
const controllerUser = "client"

// ownedGroups and ownedResources are the resources nobody but the rollout controller and
// the harness writes on the bench cluster: kube-controller-manager only writes ReplicaSets'
// status subresource, kwok and the scheduler touch pods, nodes and leases. So the API
// server's counts for these, less the harness's own, are the controller's requests.
var (
	ownedGroups    = map[string]bool{"argoproj.io": true}
	ownedResources = map[string]bool{"apps/replicasets": true, "/services": true}
)

func attributable(k reqKey) bool {
	if ownedGroups[k.Group] {
		return true
	}
	return k.Subresource == "" && ownedResources[k.Group+"/"+k.Resource]
}

// snapshot is every counter the figures of a window are differences of.
type snapshot struct {
	at        time.Time
	apiserver counts             // apiserver_request_total, all clients
	users     map[string]float64 // authenticated_user_requests by user name
	own       counts             // the harness's requests
	client    map[string]float64 // controller's rest_client_requests_total, "METHOD code"
	reconcile map[string]float64 // controller_runtime_reconcile_total, "controller/result"
	cpu       float64
	throttled int
	hasCtl    bool
}

func (r *run) snapshot(ctx context.Context) (snapshot, error) {
	s := snapshot{at: time.Now(), own: r.k.own.snapshot()}
	m, err := scrapeURL(r.k.metrics, strings.TrimRight(r.k.host, "/")+"/metrics")
	if err != nil {
		return s, fmt.Errorf("API server metrics: %w", err)
	}
	s.apiserver = counts{}
	for _, x := range m["apiserver_request_total"] {
		k := reqKey{Verb: x.labels["verb"], Group: x.labels["group"], Resource: x.labels["resource"],
			Subresource: x.labels["subresource"], Code: x.labels["code"]}
		if k.Resource == "" {
			continue // non-resource URLs: /metrics, /readyz, discovery
		}
		s.apiserver[k] += x.value
	}
	s.users = map[string]float64{}
	for _, x := range m["authenticated_user_requests"] {
		s.users[x.labels["username"]] += x.value
	}
	if r.ctl != nil {
		s.hasCtl = true
		s.cpu, _, _ = treeUsage(r.ctl.cmd.Process.Pid)
		s.throttled = r.ctl.throttleMessages()
		cm, err := r.ctl.scrape()
		if err != nil {
			r.note("controller metrics: %v", err)
		}
		if cm != nil {
			s.client = map[string]float64{}
			for _, x := range cm["rest_client_requests_total"] {
				s.client[x.labels["method"]+" "+x.labels["code"]] += x.value
			}
			s.reconcile = map[string]float64{}
			for _, x := range cm["controller_runtime_reconcile_total"] {
				s.reconcile[x.labels["controller"]+"/"+x.labels["result"]] += x.value
			}
		}
	}
	return s, nil
}

// window is a measured stretch of a run.
type window struct {
	r      *run
	start  snapshot
	peakOK bool
	began  time.Time
}

// figures are what a window cost. Requests are counted by the API server; see README.md.
type figures struct {
	Seconds float64 `json:"seconds"`
	// ActiveSeconds ends when the awaited state was reached, before the wait for the
	// controller to fall quiet: the time the requests were made in.
	ActiveSeconds float64 `json:"active_seconds"`
	// Updates is what the per-update figures divide by (rollout updates, promotes, steps).
	Updates float64 `json:"updates"`
	// ControllerRequests: every request of the controller's API user, counted by the API
	// server (authenticated_user_requests{username="client"}).
	ControllerRequests float64 `json:"controller_requests"`
	// ByRequest: the controller's requests to resources only it writes, by verb, resource and
	// code (apiserver_request_total less the harness's own requests).
	ByRequest map[string]float64 `json:"by_request"`
	// Shared: ControllerRequests less ByRequest, requests to resources other components use
	// too (events, pods), which the API server's counts cannot tell apart by client.
	Shared float64 `json:"shared_resources_requests"`
	// StatusWrites: PATCH/PUT of rollouts/status.
	StatusWrites float64 `json:"status_writes"`
	// Conflicts: 409 answers to the controller, the larger of the API server's count on
	// its resources and the controller's own client metrics (all resources), when it has them.
	Conflicts float64 `json:"conflicts_409"`
	// ClientByMethod is the controller's rest_client_requests_total, when it exposes it.
	// ControllerMetrics: the controller exposed client and reconcile metrics in this window.
	ControllerMetrics bool               `json:"controller_metrics"`
	ClientByMethod    map[string]float64 `json:"client_requests_by_method,omitempty"`
	ClientTotal       float64            `json:"client_requests_total,omitempty"`
	Reconciles        map[string]float64 `json:"reconciles,omitempty"`
	// RolloutReconciles is the sum over results of the "rollout" controller's reconciles.
	RolloutReconciles float64 `json:"rollout_reconciles,omitempty"`
	HarnessRequests   float64 `json:"harness_requests"`
	ClusterRequests   float64 `json:"cluster_requests"`
	CPUSeconds        float64 `json:"cpu_seconds"`
	PeakRSSMiB        float64 `json:"peak_rss_mib"`
	EndRSSMiB         float64 `json:"end_rss_mib"`
	// Throttled counts client-go's "Waited ... due to client-side throttling" log lines.
	Throttled int `json:"throttle_messages"`
}

func (r *run) begin(ctx context.Context) (*window, error) {
	w := &window{r: r}
	if r.ctl != nil {
		w.peakOK = r.ctl.sampler.resetPeak()
	}
	s, err := r.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	w.start, w.began = s, s.at
	return w, nil
}

// end closes the window. With quiesce it first waits until the controller has made no
// request for a second (at most 20 s), so that writes trailing the awaited condition (an old
// ReplicaSet scaled down after the rollout is Healthy) are counted in this window.
func (w *window) end(ctx context.Context, updates float64, quiesce bool) (figures, error) {
	r := w.r
	active := time.Since(w.began).Seconds()
	if quiesce && r.ctl != nil {
		r.quiesce(ctx, time.Second, 20*time.Second)
	}
	e, err := r.snapshot(ctx)
	if err != nil {
		return figures{}, err
	}
	s := w.start
	f := figures{Seconds: e.at.Sub(s.at).Seconds(), ActiveSeconds: active, Updates: updates, ByRequest: map[string]float64{}}
	f.ControllerRequests = e.users[controllerUser] - s.users[controllerUser]
	own := e.own.sub(s.own)
	all := e.apiserver.sub(s.apiserver)
	f.HarnessRequests = own.total()
	f.ClusterRequests = all.total()
	ctl := counts{}
	if e.hasCtl {
		for k, v := range all {
			if attributable(k) {
				if d := v - own[k]; d != 0 {
					ctl[k] = d
				}
			}
		}
	} else {
		// the floor: the harness plays the controller, its own requests are the figures
		for k, v := range own {
			if attributable(k) {
				ctl[k] = v
			}
		}
	}
	var attributed, conflicts float64
	for _, k := range ctl.sorted() {
		v := ctl[k]
		f.ByRequest[k.String()] = v
		if k.Verb != "WATCH" {
			// the API server counts a watch when it ends, authentication when it starts:
			// leave watches out of the reconciliation with the per-user total
			attributed += v
		}
		if k.Code == "409" {
			conflicts += v
		}
		if k.Group == "argoproj.io" && k.Resource == "rollouts" && k.Subresource == "status" &&
			(k.Verb == "PATCH" || k.Verb == "PUT" || k.Verb == "APPLY") && strings.HasPrefix(k.Code, "2") {
			f.StatusWrites += v
		}
	}
	if e.hasCtl {
		f.Shared = f.ControllerRequests - attributed
		f.CPUSeconds = e.cpu - s.cpu
		f.Throttled = e.throttled - s.throttled
		samples := r.ctl.sampler.since(w.began)
		for _, p := range samples {
			if p.RSSMiB > f.PeakRSSMiB {
				f.PeakRSSMiB = p.RSSMiB
			}
		}
		if w.peakOK {
			if hwm := r.ctl.sampler.peakMiB(); hwm > f.PeakRSSMiB {
				f.PeakRSSMiB = hwm
			}
		}
		f.EndRSSMiB = r.ctl.sampler.take().RSSMiB
	}
	if e.client != nil {
		f.ControllerMetrics = true
		f.ClientByMethod = map[string]float64{}
		for k, v := range e.client {
			if d := v - s.client[k]; d != 0 {
				f.ClientByMethod[k] = d
				f.ClientTotal += d
				if strings.HasSuffix(k, " 409") && d > conflicts {
					conflicts = d
				}
			}
		}
		f.Reconciles = map[string]float64{}
		for k, v := range e.reconcile {
			if d := v - s.reconcile[k]; d != 0 {
				f.Reconciles[k] = d
				if strings.HasPrefix(k, "rollout/") {
					f.RolloutReconciles += d
				}
			}
		}
	}
	f.Conflicts = conflicts
	return f, nil
}

// controllerUserRequests reads the API server's count of the controller user's requests.
func (r *run) controllerUserRequests() (float64, error) {
	m, err := scrapeURL(r.k.metrics, strings.TrimRight(r.k.host, "/")+"/metrics")
	if err != nil {
		return 0, err
	}
	var n float64
	for _, x := range m["authenticated_user_requests"] {
		if x.labels["username"] == controllerUser {
			n += x.value
		}
	}
	return n, nil
}

// checkUserIdle fails when something is already using the controller's API user: every
// figure would then count another process's requests (a controller left running from an
// earlier run, typically) and it would fight the controller under test.
func (r *run) checkUserIdle(ctx context.Context) error {
	before, err := r.controllerUserRequests()
	if err != nil {
		return err
	}
	select {
	case <-time.After(time.Second):
	case <-ctx.Done():
		return ctx.Err()
	}
	after, err := r.controllerUserRequests()
	if err != nil {
		return err
	}
	if after != before {
		return fmt.Errorf("the controller's API user %q made %.0f requests in 1 s before the controller under test started: "+
			"another process uses its kubeconfig (a controller left from an earlier run?); stop it first", controllerUser, after-before)
	}
	return nil
}

// quiesce waits until the controller has made no request for quiet (at most max). The API
// server's /metrics is several MB, so it is read once per quiet period, after the watch
// has shown no change for that long, not polled.
func (r *run) quiesce(ctx context.Context, quiet, max time.Duration) {
	end := time.Now().Add(max)
	last := -1.0
	for time.Now().Before(end) && ctx.Err() == nil {
		if r.w != nil {
			r.w.settle(ctx, quiet, time.Until(end))
		}
		n, err := r.controllerUserRequests()
		if err != nil {
			return
		}
		if n == last {
			return
		}
		last = n
		// the next reading is at least quiet later, even when nothing watched changes
		select {
		case <-ctx.Done():
		case <-time.After(quiet):
		}
	}
}

// add sums two figures (the windows of one run).
func (f figures) add(o figures) figures {
	out := f
	out.Seconds += o.Seconds
	out.ActiveSeconds += o.ActiveSeconds
	out.Updates += o.Updates
	out.ControllerRequests += o.ControllerRequests
	out.Shared += o.Shared
	out.StatusWrites += o.StatusWrites
	out.Conflicts += o.Conflicts
	out.ClientTotal += o.ClientTotal
	out.ControllerMetrics = out.ControllerMetrics || o.ControllerMetrics
	out.RolloutReconciles += o.RolloutReconciles
	out.HarnessRequests += o.HarnessRequests
	out.ClusterRequests += o.ClusterRequests
	out.CPUSeconds += o.CPUSeconds
	out.Throttled += o.Throttled
	out.ByRequest = addMaps(f.ByRequest, o.ByRequest)
	out.ClientByMethod = addMaps(f.ClientByMethod, o.ClientByMethod)
	out.Reconciles = addMaps(f.Reconciles, o.Reconciles)
	if o.PeakRSSMiB > out.PeakRSSMiB {
		out.PeakRSSMiB = o.PeakRSSMiB
	}
	out.EndRSSMiB = o.EndRSSMiB
	return out
}

func addMaps(a, b map[string]float64) map[string]float64 {
	if a == nil && b == nil {
		return nil
	}
	out := map[string]float64{}
	for k, v := range a {
		out[k] += v
	}
	for k, v := range b {
		out[k] += v
	}
	return out
}
