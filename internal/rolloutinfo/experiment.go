package rolloutinfo

import (
	"sort"

	"k8s.io/apimachinery/pkg/types"

	"github.com/tern-rollouts/tern/api/v1alpha1"
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
		out = append(out, *NewExperiment(exp, objs))
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

// NewExperiment builds the view of exp with its own ReplicaSets, pods and AnalysisRuns
// found in objs (objs.Rollout and objs.Experiments are not used).
func NewExperiment(exp *v1alpha1.Experiment, objs Objects) *Experiment {
	phase := exp.Status.Phase
	if phase == "" {
		// Not picked up by a controller yet: say so rather than show nothing.
		phase = v1alpha1.AnalysisPhasePending
	}
	return &Experiment{
		Name:         exp.Name,
		Namespace:    exp.Namespace,
		UID:          exp.UID,
		Created:      exp.CreationTimestamp.Time,
		Revision:     parseRevision(exp.Annotations),
		Status:       string(phase),
		Icon:         analysisIcon(phase),
		Message:      exp.Status.Message,
		ReplicaSets:  replicaSetsOf(exp.UID, nil, objs.ReplicaSets, objs.Pods),
		AnalysisRuns: analysisRunsOf(exp.UID, objs.AnalysisRuns),
	}
}

// Images lists the images of the experiment's ReplicaSets that have pods, each tagged
// with the template running it ("Σ:baseline"), sorted by image.
func (e *Experiment) Images() []Image {
	var images []Image
	addExperimentImages(&images, e)
	sort.SliceStable(images, func(i, j int) bool { return images[i].Image < images[j].Image })
	return images
}

// addExperimentImages adds the images of e's ReplicaSets to images, merging the tags of
// an image already listed.
func addExperimentImages(images *[]Image, e *Experiment) {
	for _, rs := range e.ReplicaSets {
		if rs.Replicas <= 0 {
			continue
		}
		var tags []string
		if rs.Template != "" {
			tags = []string{"Σ:" + rs.Template}
		}
		for _, img := range rs.Images {
			addImage(images, img, tags)
		}
	}
}

func addImage(images *[]Image, image string, tags []string) {
	for i := range *images {
		if (*images)[i].Image == image {
			(*images)[i].Tags = mergeTags((*images)[i].Tags, tags)
			return
		}
	}
	*images = append(*images, Image{Image: image, Tags: tags})
}
