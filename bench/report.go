package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// stats summarises samples.
type stats struct {
	N                     int
	Median, P95, Min, Max float64
	present               bool
}

func summarize(v []float64) stats {
	if len(v) == 0 {
		return stats{}
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return stats{N: len(s), Median: quantile(s, 0.5), P95: quantile(s, 0.95), Min: s[0], Max: s[len(s)-1], present: true}
}

// quantile of sorted s: nearest rank for p95 (an observed value, never interpolated past the
// data), the usual mean of the two middle values for the median.
func quantile(s []float64, q float64) float64 {
	n := len(s)
	if q == 0.5 {
		if n%2 == 1 {
			return s[n/2]
		}
		return (s[n/2-1] + s[n/2]) / 2
	}
	i := int(math.Ceil(q*float64(n))) - 1
	if i < 0 {
		i = 0
	}
	return s[i]
}

// group is every run of one scenario, size and controller.
type group struct {
	Scenario, Controller string
	Size                 int
	Runs                 []*runResult
	Samples              map[string][]float64
	Total                figures
	Errors               []string
}

func groups(results []*runResult) []*group {
	var out []*group
	index := map[string]*group{}
	for _, r := range results {
		key := fmt.Sprintf("%s/%d/%s", r.Scenario, r.Size, r.Controller.Name)
		g := index[key]
		if g == nil {
			g = &group{Scenario: r.Scenario, Controller: r.Controller.Name, Size: r.Size, Samples: map[string][]float64{}}
			index[key] = g
			out = append(out, g)
		}
		g.Runs = append(g.Runs, r)
		for k, v := range r.Samples {
			g.Samples[k] = append(g.Samples[k], v...)
		}
		g.Total = g.Total.add(r.Total)
		if r.Error != "" {
			g.Errors = append(g.Errors, r.Error)
		}
	}
	order := map[string]int{}
	for i, s := range scenarios {
		order[s.name] = i
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Scenario != out[j].Scenario {
			return order[out[i].Scenario] < order[out[j].Scenario]
		}
		return out[i].Size < out[j].Size
	})
	return out
}

func (g *group) find(scenario string, size int, controller string, all []*group) *group {
	for _, o := range all {
		if o.Scenario == scenario && (size == 0 || o.Size == size) && (controller == "" || o.Controller == controller) {
			return o
		}
	}
	return nil
}

// perUpdate names what one "update" of a scenario is, for the per-update columns.
var perUpdate = map[string]string{
	"floor":            "step",
	"step-latency":     "promote",
	"floor-healthy":    "promote",
	"promote-healthy":  "promote",
	"bluegreen-switch": "promote",
	"rollback-latency": "rollback",
	"canary-complete":  "rollout update",
	"canary-reference": "rollout update",
	"idle":             "rollout (whole window)",
}

// measureOrder puts the headline sample of each scenario first.
var measureOrder = []string{"complete", "per_rollout", "issue_updates", "promote_to_rs", "promote_to_pause", "promote_to_switch",
	"promote_to_healthy", "failed_to_rolled_back", "failed_to_canary_scaled_0", "failed_to_abort_recorded",
	"failed_to_canary_service_on_stable", "failed_to_canary_pods_gone", "update_to_failed_measurement"}

func sampleNames(g *group) []string {
	var names []string
	seen := map[string]bool{}
	for _, n := range measureOrder {
		if _, ok := g.Samples[n]; ok {
			names = append(names, n)
			seen[n] = true
		}
	}
	var rest []string
	for n := range g.Samples {
		if !seen[n] && !strings.HasPrefix(n, "rss_") && n != "cpu_percent" {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(names, rest...)
}

func ms(s float64) string {
	if s < 10 {
		return fmt.Sprintf("%.0f ms", s*1000)
	}
	return fmt.Sprintf("%.1f s", s)
}

func num(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	if math.Abs(v) >= 100 {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}

func div(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

func oneLine(r *runResult) string {
	var parts []string
	for _, n := range measureOrder {
		if v, ok := r.Samples[n]; ok && len(v) > 0 {
			s := summarize(v)
			parts = append(parts, fmt.Sprintf("%s median %s p95 %s (n=%d)", n, ms(s.Median), ms(s.P95), s.N))
			if len(parts) == 2 {
				break
			}
		}
	}
	t := r.Total
	if t.Updates > 0 && r.Controller.Name != "none" {
		parts = append(parts, fmt.Sprintf("%.1f requests, %.1f status writes per %s, %v conflicts, %.2f CPU s, peak RSS %.0f MiB",
			t.ControllerRequests/t.Updates, t.StatusWrites/t.Updates, perUpdate[r.Scenario], t.Conflicts, t.CPUSeconds, t.PeakRSSMiB))
	}
	return strings.Join(parts, "; ")
}

func loadResults(dir string) ([]*runResult, []machine, error) {
	var ms []machine
	data, err := os.ReadFile(filepath.Join(dir, "machine.json"))
	if err == nil {
		err = json.Unmarshal(data, &ms)
	}
	if err != nil && !os.IsNotExist(err) {
		return nil, nil, fmt.Errorf("%s/machine.json: %w", dir, err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "runs", "*.json"))
	var out []*runResult
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, ms, err
		}
		r := &runResult{}
		if err := json.Unmarshal(data, r); err != nil {
			return nil, ms, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, r)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Started.Before(out[j].Started) })
	return out, ms, nil
}

// report writes summary.md and the plots.
func report(dir string, results []*runResult, invocations []machine) error {
	gs := groups(results)
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	short := len(invocations) > 0 && invocations[0].Short
	mode := "full (`make bench`)"
	if short {
		mode = "short (`make bench-short`: small sizes, few repeats; for the trend, not the record)"
	}
	p("# Benchmark results\n\n")
	p("Written by `bench/` (see [bench/README.md](../../README.md) for what each figure means and how to reproduce it). Mode: %s.\n\n", mode)
	p("## Machine and control plane\n\n")
	for i, m := range invocations {
		if len(invocations) > 1 {
			p("Invocation %d:\n\n", i+1)
		}
		p("- started %s UTC, took %.0f s; %d CPUs, %s, %s\n", m.Date.Format("2006-01-02 15:04"), m.Seconds, m.CPUs, m.Kernel, m.GoVersion)
		p("- load average (1/5/15 min): **%s** before, **%s** after", m.LoadBefore, m.LoadAfter)
		p(" (the machine is shared with other builds: compare ratios taken in one run, not absolute times across runs; each run's JSON has its own load averages)\n")
		switch {
		case m.Source != "":
			p("- controller built from: %s (tree at commit %s)\n", m.Source, m.Commit)
		case m.Dirty:
			p("- tree: commit %s plus uncommitted changes under cmd/, internal/ or api/\n", m.Commit)
		default:
			p("- tree: commit %s\n", m.Commit)
		}
		p("- control plane (test/cluster via bench/cluster.sh): %d kwok nodes, etcd data on %s", m.Nodes, m.StateDirFS)
		var cp []string
		for _, k := range []string{"etcd", "kube-controller-manager", "kube-scheduler"} {
			cp = append(cp, fmt.Sprintf("%s `%s`", k, m.ControlPlane[k]))
		}
		p(", %s\n", strings.Join(cp, ", "))
		for _, c := range m.Controllers {
			p("- controller **%s**: `%s`\n", c.Name, c.Command)
		}
		p("\n")
	}
	p("## Latencies\n\n")
	p("Times from the harness's write (image update or promote) to the state seen on the harness's watch; median and p95 over every sample of every run.\n\n")
	p("| scenario | N | controller | measure | samples | median | p95 | min | max |\n|---|---:|---|---|---:|---:|---:|---:|---:|\n")
	for _, g := range gs {
		for _, n := range sampleNames(g) {
			s := summarize(g.Samples[n])
			p("| %s | %d | %s | %s | %d | %s | %s | %s | %s |\n", g.Scenario, g.Size, g.Controller, n, s.N, ms(s.Median), ms(s.P95), ms(s.Min), ms(s.Max))
		}
	}
	p("\n## Cost\n\n")
	p("Per update (what an update is: last column). Requests: every request of the controller's API user, counted by the API server. ")
	p("Status writes: PATCH/PUT rollouts/status. Reconciles: controller_runtime_reconcile_total of the rollout controller (blank: the controller exposes none). ")
	p("CPU: user+system seconds of the controller's process tree from /proc. Peak RSS: VmHWM, reset at each window's start.\n\n")
	p("Req/s: the controller's requests over the time until the awaited state, the rate its client limits (QPS) cap.\n\n")
	p("| scenario | N | controller | updates | requests | status writes | 409s (total) | reconciles | status writes / reconcile | CPU s | peak RSS MiB | req/s | throttled (total) | update = |\n")
	p("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, g := range gs {
		t := g.Total
		if g.Controller == "none" && t.Updates > 0 {
			p("| %s | %d | %s | %s | %s (harness) | %s | %s | | | | | | | %s |\n", g.Scenario, g.Size, g.Controller, num(t.Updates),
				num(div(t.HarnessRequests, t.Updates)), num(div(t.StatusWrites, t.Updates)), num(t.Conflicts), perUpdate[g.Scenario])
			continue
		}
		if t.Updates == 0 {
			p("| %s | %d | %s | 0 | failed (see below) | | | | | | | | | %s |\n", g.Scenario, g.Size, g.Controller, perUpdate[g.Scenario])
			continue
		}
		rec, ratio := "", ""
		if t.ControllerMetrics {
			rec = num(div(t.RolloutReconciles, t.Updates))
			if r := div(t.StatusWrites, t.RolloutReconciles); !math.IsNaN(r) {
				ratio = fmt.Sprintf("%.2f", r)
			}
		}
		p("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %.0f | %.0f | %d | %s |\n", g.Scenario, g.Size, g.Controller, num(t.Updates),
			num(div(t.ControllerRequests, t.Updates)), num(div(t.StatusWrites, t.Updates)), num(t.Conflicts), rec, ratio,
			fmt.Sprintf("%.2f", div(t.CPUSeconds, t.Updates)), t.PeakRSSMiB, div(t.ControllerRequests, t.ActiveSeconds), t.Throttled, perUpdate[g.Scenario])
	}
	p("\n## Requests by verb and resource, per update\n\n")
	p("The controller's requests to resources only it writes (Rollouts, AnalysisRuns, ReplicaSets, Services): the API server's apiserver_request_total less the harness's own requests. ")
	p("*shared*: the rest of the controller's requests (events, pods: resources the control plane writes too, so the API server's counts cannot attribute them); ")
	p("*client*: the controller's own rest_client_requests_total by method and code, when it exposes it (a cross-check of the total).\n\n")
	for _, g := range gs {
		t := g.Total
		if t.Updates == 0 {
			continue
		}
		var parts []string
		for _, k := range sortedByValue(t.ByRequest) {
			if strings.HasPrefix(k, "WATCH") || strings.HasPrefix(k, "LIST") {
				continue
			}
			parts = append(parts, fmt.Sprintf("%s %s", k, num(t.ByRequest[k]/t.Updates)))
		}
		if g.Controller == "none" {
			p("- **%s** (the harness alone, per %s): %s\n", g.Scenario, perUpdate[g.Scenario], strings.Join(parts, " · "))
			continue
		}
		parts = append(parts, fmt.Sprintf("*shared* %s", num(t.Shared/t.Updates)))
		if t.ClientByMethod != nil {
			var c []string
			for _, k := range sortedByValue(t.ClientByMethod) {
				c = append(c, fmt.Sprintf("%s %s", k, num(t.ClientByMethod[k]/t.Updates)))
			}
			parts = append(parts, "*client* "+strings.Join(c, ", "))
		}
		p("- **%s N=%d %s** (per %s): %s\n", g.Scenario, g.Size, g.Controller, perUpdate[g.Scenario], strings.Join(parts, " · "))
	}
	if idle := filterScenario(gs, "idle"); len(idle) > 0 {
		p("\n## Idle\n\n| N | controller | window | CPU s | CPU %% | requests | reconciles | RSS first tenth MiB | RSS last tenth MiB | peak RSS MiB |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, g := range idle {
			t := g.Total
			p("| %d | %s | %.0f s | %.2f | %.2f | %s | %s | %s | %s | %.0f |\n", g.Size, g.Controller, t.Seconds, t.CPUSeconds,
				100*div(t.CPUSeconds, t.Seconds), num(t.ControllerRequests), num(t.RolloutReconciles),
				num(first(g.Samples["rss_first_tenth_mib"])), num(first(g.Samples["rss_last_tenth_mib"])), t.PeakRSSMiB)
		}
	}
	p("\n## Targets of issue 7\n\n")
	writeTargets(&b, gs, short)
	var failures []string
	for _, g := range gs {
		for _, e := range g.Errors {
			failures = append(failures, fmt.Sprintf("- %s N=%d %s: %s", g.Scenario, g.Size, g.Controller, e))
		}
		for _, r := range g.Runs {
			for _, n := range r.Notes {
				failures = append(failures, fmt.Sprintf("- note, %s N=%d %s: %s", g.Scenario, g.Size, g.Controller, n))
			}
		}
	}
	if len(failures) > 0 {
		p("\n## Failed runs and notes\n\n%s\n", strings.Join(failures, "\n"))
	}
	plots, err := writePlots(dir, gs)
	if err != nil {
		p("\n(plots failed: %v)\n", err)
	}
	if len(plots) > 0 {
		p("\n## Plots\n\n")
		for _, f := range plots {
			p("![%s](%s)\n\n", f, f)
		}
	}
	return os.WriteFile(filepath.Join(dir, "summary.md"), []byte(b.String()), 0o644)
}

func first(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	return v[0]
}

func filterScenario(gs []*group, name string) []*group {
	var out []*group
	for _, g := range gs {
		if g.Scenario == name {
			out = append(out, g)
		}
	}
	return out
}

func sortedByValue(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}

// writeTargets checks the measured figures against issue 7's targets, per controller.
func writeTargets(b *strings.Builder, gs []*group, short bool) {
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	p("Reference (another implementation, same control plane, client QPS 40): N=50 rollouts of 2 replicas, steps 25/pause 0/75/pause 0, ")
	p("all Healthy in 18 s; 33 requests per rollout update, 14 of them status patches; promote → Healthy 0.13 s median. Tern must halve each.\n\n")
	p("| controller | target | measured | verdict |\n|---|---|---|---|\n")
	verdict := func(ok bool, have bool) string {
		switch {
		case !have:
			return "not measured"
		case ok:
			return "met"
		}
		return "**missed**"
	}
	var ctls []string
	seen := map[string]bool{}
	for _, g := range gs {
		if g.Controller != "none" && !seen[g.Controller] {
			seen[g.Controller] = true
			ctls = append(ctls, g.Controller)
		}
	}
	floor := (&group{}).find("floor", 0, "", gs)
	for _, c := range ctls {
		step := (&group{}).find("step-latency", 0, c, gs)
		if step != nil && floor != nil {
			s, f := summarize(step.Samples["promote_to_pause"]), summarize(floor.Samples["promote_to_pause"])
			p("| %s | step latency (promote → next pause) within 2× the floor | %s vs floor %s (%.2f×) | %s |\n", c, ms(s.Median), ms(f.Median),
				div(s.Median, f.Median), verdict(s.Median <= 2*f.Median, s.present && f.present))
			s, f = summarize(step.Samples["promote_to_rs"]), summarize(floor.Samples["promote_to_rs"])
			p("| %s | promote → next step's ReplicaSet write within 2× the floor | %s vs floor %s (%.2f×) | %s |\n", c, ms(s.Median), ms(f.Median),
				div(s.Median, f.Median), verdict(s.Median <= 2*f.Median, s.present && f.present))
		}
		if step != nil {
			s := summarize(step.Samples["promote_to_rs"])
			p("| %s | promote → next step under 100 ms median | %s | %s |\n", c, ms(s.Median), verdict(s.Median < 0.1, s.present))
		}
		for _, g := range gs {
			if g.Scenario != "canary-complete" || g.Controller != c {
				continue
			}
			t := g.Total
			if t.ControllerMetrics {
				ratio := div(t.StatusWrites, t.RolloutReconciles)
				p("| %s | canary-complete N=%d: at most one status write per reconcile | %.0f status writes / %.0f reconciles = %.2f (an average: a per-reconcile check needs the controller's own count) | %s |\n",
					c, g.Size, t.StatusWrites, t.RolloutReconciles, ratio, verdict(ratio <= 1, true))
			}
			p("| %s | canary-complete N=%d: zero 409 conflicts | %s | %s |\n", c, g.Size, num(t.Conflicts), verdict(t.Conflicts == 0, len(g.Runs) > 0 && t.Updates > 0))
			if g.Size >= 1000 {
				rate := div(t.ControllerRequests, t.ActiveSeconds)
				// the limiter dominates when the client runs near its cap: half of it leaves
				// room for bursts and says the time went elsewhere
				qps := commandQPS(g)
				ok, limit := t.Throttled == 0, "no --qps in the command line"
				if qps > 0 {
					ok, limit = rate <= qps/2, fmt.Sprintf("%.0f%% of its --qps %.0f", 100*rate/qps, qps)
				}
				p("| %s | canary-complete N=%d finishes without client rate limits dominating | %s; %.0f requests/s on average (%s); %d client-side throttling messages | %s |\n",
					c, g.Size, completion(g), rate, limit, t.Throttled, verdict(ok && len(g.Errors) == 0, t.Updates > 0))
			}
		}
		if ref := (&group{}).find("canary-reference", 0, c, gs); ref != nil {
			t := ref.Total
			s := summarize(ref.Samples["complete"])
			p("| %s | N=%d all Healthy in ≤ 9 s (reference 18 s at N=50) | %s median | %s |\n", c, ref.Size, ms(s.Median),
				verdict(s.Median <= 9, s.present && ref.Size == 50))
			// canary-reference touches no pods: its shared requests are the controller's Events
			p("| %s | ≤ 16.5 requests per rollout update (reference 33) | %s: %s to Events, %s to Rollouts, ReplicaSets and Services | %s |\n", c,
				num(div(t.ControllerRequests, t.Updates)), num(div(t.Shared, t.Updates)), num(div(t.ControllerRequests-t.Shared, t.Updates)),
				verdict(div(t.ControllerRequests, t.Updates) <= 16.5, t.Updates > 0))
			p("| %s | ≤ 7 status patches per rollout update (reference 14) | %s | %s |\n", c, num(div(t.StatusWrites, t.Updates)),
				verdict(div(t.StatusWrites, t.Updates) <= 7, t.Updates > 0))
		}
		if ph := (&group{}).find("promote-healthy", 0, c, gs); ph != nil {
			s := summarize(ph.Samples["promote_to_healthy"])
			measured := ms(s.Median)
			if fh := (&group{}).find("floor-healthy", 0, "", gs); fh != nil {
				f := summarize(fh.Samples["promote_to_healthy"])
				measured = fmt.Sprintf("%s vs floor %s (%.2f×)", ms(s.Median), ms(f.Median), div(s.Median, f.Median))
			}
			p("| %s | promote → Healthy ≤ 65 ms median (reference 130 ms) | %s | %s |\n", c, measured, verdict(s.Median <= 0.065, s.present))
		}
		if idle := (&group{}).find("idle", 0, c, gs); idle != nil {
			f, l := first(idle.Samples["rss_first_tenth_mib"]), first(idle.Samples["rss_last_tenth_mib"])
			// a growth under 5% or 2 MiB is the garbage collector's saw-tooth, not a leak
			ok := l <= f*1.05 || l-f < 2
			p("| %s | idle N=%d: RSS does not grow over %.0f s | %s → %s MiB; CPU %.2f s (%.2f%%) | %s |\n", c, idle.Size, idle.Total.Seconds,
				num(f), num(l), idle.Total.CPUSeconds, 100*div(idle.Total.CPUSeconds, idle.Total.Seconds), verdict(ok, !math.IsNaN(f)))
		}
	}
	if short {
		p("\nShort mode: sizes and repeats are small (the reference row is at N=%s, not 50), so these verdicts are indicative only; `make bench` gives the record.\n",
			refSize(gs))
	}
}

// commandQPS is the --qps of the group's controller command line, 0 if it has none.
func commandQPS(g *group) float64 {
	if len(g.Runs) == 0 {
		return 0
	}
	f := strings.Fields(strings.ReplaceAll(g.Runs[0].Controller.Command, "=", " "))
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "--qps" || f[i] == "-qps" {
			if v, err := strconv.ParseFloat(f[i+1], 64); err == nil {
				return v
			}
		}
	}
	return 0
}

func refSize(gs []*group) string {
	if g := (&group{}).find("canary-reference", 0, "", gs); g != nil {
		return fmt.Sprint(g.Size)
	}
	return "?"
}

func completion(g *group) string {
	if len(g.Errors) > 0 {
		return "did not finish: " + g.Errors[0]
	}
	s := summarize(g.Samples["complete"])
	return "all Healthy in " + ms(s.Median)
}
