package rolloutinfo

import (
	"sort"

	"k8s.io/apimachinery/pkg/types"
)

// experimentsOf builds the views of the Experiments owned by owner, each with its own
// ReplicaSets, pods and AnalysisRuns.
func experimentsOf(owner types.UID, objs Objects) []Experiment {
	var out []Experiment
	for i := range objs.Experiments {
		exp := &objs.Experiments[i]
		if !ownedBy(exp.OwnerReferences, owner) {
			continue
		}
		out = append(out, Experiment{
			Name:         exp.Name,
			UID:          exp.UID,
			Created:      exp.CreationTimestamp.Time,
			Revision:     parseRevision(exp.Annotations),
			Status:       string(exp.Status.Phase),
			Icon:         analysisIcon(exp.Status.Phase),
			Message:      exp.Status.Message,
			ReplicaSets:  replicaSetsOf(exp.UID, nil, objs.ReplicaSets, objs.Pods),
			AnalysisRuns: analysisRunsOf(exp.UID, objs.AnalysisRuns),
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Revision != b.Revision {
			return a.Revision > b.Revision
		}
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		return a.Name < b.Name
	})
	return out
}
