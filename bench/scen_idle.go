package main

import (
	"context"
	"sort"
	"time"
)

// runIdle: N Healthy rollouts (canary-complete's) left alone for -idle-duration. What a
// controller costs while nothing happens: CPU, requests, reconciles, and whether its memory
// grows. One sample of CPU and RSS every half second.
func runIdle(ctx context.Context, r *run) error {
	steps := []string{setWeight(25), pauseZero, setWeight(50), pauseZero, setWeight(75), pauseZero}
	r.res.Params["replicas"], r.res.Params["steps"], r.res.Params["duration_s"] = 4, steps, r.o.idleDuration.Seconds()
	if _, err := r.createFleet(ctx, r.res.Size, 4, steps); err != nil {
		return err
	}
	// The controller's start-up work (one reconcile per rollout) must not count as idle.
	r.quiesce(ctx, 3*time.Second, 2*time.Minute)
	w, err := r.begin(ctx)
	if err != nil {
		return err
	}
	logf("  idle for %s", r.o.idleDuration)
	select {
	case <-time.After(r.o.idleDuration):
	case <-ctx.Done():
		return ctx.Err()
	}
	fig, err := w.end(ctx, float64(r.res.Size), false)
	if err != nil {
		return err
	}
	r.window(fig)
	r.res.Series = r.ctl.sampler.since(w.began)
	first, last := rssEnds(r.res.Series)
	r.res.Samples["rss_first_tenth_mib"] = []float64{first}
	r.res.Samples["rss_last_tenth_mib"] = []float64{last}
	if fig.Seconds > 0 {
		r.res.Samples["cpu_percent"] = []float64{100 * fig.CPUSeconds / fig.Seconds}
	}
	return nil
}

// rssEnds are the medians of the RSS samples of the first and last tenth of the window: a
// growth shows as last > first, beyond the garbage collector's saw-tooth.
func rssEnds(series []procSample) (first, last float64) {
	if len(series) == 0 {
		return 0, 0
	}
	n := len(series) / 10
	if n == 0 {
		n = 1
	}
	med := func(ps []procSample) float64 {
		v := make([]float64, len(ps))
		for i, p := range ps {
			v[i] = p.RSSMiB
		}
		sort.Float64s(v)
		return v[len(v)/2]
	}
	return med(series[:n]), med(series[len(series)-n:])
}
