package rolloutinfo

import (
	"sort"

	"k8s.io/apimachinery/pkg/types"

	"github.com/tern-rollouts/tern/api/v1alpha1"
)

// jobNameKey is the measurement metadata key under which the job provider records the
// Job it started.
const jobNameKey = "job-name"

// analysisRunsOf builds the views of the AnalysisRuns owned by owner: newest revision
// first, then oldest first within a revision.
func analysisRunsOf(owner types.UID, all []v1alpha1.AnalysisRun) []AnalysisRun {
	var out []AnalysisRun
	for i := range all {
		run := &all[i]
		if !ownedBy(run.OwnerReferences, owner) {
			continue
		}
		info := AnalysisRun{
			Name:     run.Name,
			UID:      run.UID,
			Created:  run.CreationTimestamp.Time,
			Revision: parseRevision(run.Annotations),
			Status:   string(run.Status.Phase),
			Icon:     analysisIcon(run.Status.Phase),
		}
		// Sum per metric rather than reading runSummary: runSummary counts metrics, the
		// tree shows measurements.
		for _, mr := range run.Status.MetricResults {
			info.Successful += mr.Successful
			info.Failed += mr.Failed
			info.Inconclusive += mr.Inconclusive
			info.Error += mr.Error
			for _, m := range mr.Measurements {
				name := m.Metadata[jobNameKey]
				if name == "" {
					continue
				}
				job := Job{Name: name, Status: string(m.Phase), Icon: analysisIcon(m.Phase)}
				if m.StartedAt != nil {
					job.Created = m.StartedAt.Time
				}
				info.Jobs = append(info.Jobs, job)
			}
		}
		out = append(out, info)
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Revision != b.Revision {
			return a.Revision > b.Revision
		}
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		return a.Name > b.Name
	})
	return out
}
