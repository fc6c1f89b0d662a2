package rolloutinfo

import (
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/phase"
)

// Objects is everything the view is built from. The slices may hold objects that do
// not belong to the rollout (a whole namespace, say); ownership is checked here.
type Objects struct {
	Rollout      *v1alpha1.Rollout
	ReplicaSets  []appsv1.ReplicaSet
	Pods         []corev1.Pod
	AnalysisRuns []v1alpha1.AnalysisRun
	Experiments  []v1alpha1.Experiment
}

// Add sorts one listed or loaded object into its slice. A Rollout becomes the rendered one
// when there is none yet; objects of other kinds are not part of the view and are dropped.
func (o *Objects) Add(obj any) {
	switch obj := obj.(type) {
	case *v1alpha1.Rollout:
		if o.Rollout == nil {
			o.Rollout = obj
		}
	case *appsv1.ReplicaSet:
		o.ReplicaSets = append(o.ReplicaSets, *obj)
	case *corev1.Pod:
		o.Pods = append(o.Pods, *obj)
	case *v1alpha1.AnalysisRun:
		o.AnalysisRuns = append(o.AnalysisRuns, *obj)
	case *v1alpha1.Experiment:
		o.Experiments = append(o.Experiments, *obj)
	}
}

// Rollout is the view of one rollout.
type Rollout struct {
	Name      string
	Namespace string
	Created   time.Time

	Phase   v1alpha1.RolloutPhase
	Message string
	Icon    string

	// Strategy is "Canary", "BlueGreen" or "" for a rollout with neither.
	Strategy     string
	Step         string
	SetWeight    string
	ActualWeight string

	Desired   int32
	Current   int32
	Updated   int32
	Ready     int32
	Available int32

	ReplicaSets  []ReplicaSet
	Experiments  []Experiment
	AnalysisRuns []AnalysisRun
}

// ReplicaSet is the view of a ReplicaSet with its pods and the roles it plays.
type ReplicaSet struct {
	Name      string
	UID       types.UID
	Created   time.Time
	Revision  int
	Status    string
	Icon      string
	Replicas  int32
	Available int32

	Stable, Canary, Active, Preview, Ping, Pong bool

	// ScaleDownDeadline is the raw `scale-down-deadline` annotation (RFC3339).
	ScaleDownDeadline string
	// Template is the experiment template this ReplicaSet runs, if any.
	Template string
	Images   []string
	Pods     []Pod
}

// Pod is the view of a pod, with the status kubectl would show for it.
type Pod struct {
	Name     string
	Created  time.Time
	Status   string
	Icon     string
	Ready    string
	Restarts int32
}

// AnalysisRun is the view of an AnalysisRun with the measurement counts of its metrics.
type AnalysisRun struct {
	Name     string
	UID      types.UID
	Created  time.Time
	Revision int
	Status   string
	Icon     string

	Successful, Failed, Inconclusive, Error int32

	Jobs []Job
}

// Job is a Job started by a job metric, known only from the measurement that made it.
type Job struct {
	Name    string
	Created time.Time
	Status  string
	Icon    string
}

// Experiment is the view of an Experiment with its ReplicaSets and AnalysisRuns.
type Experiment struct {
	Name         string
	Namespace    string
	UID          types.UID
	Created      time.Time
	Revision     int
	Status       string
	Icon         string
	Message      string
	ReplicaSets  []ReplicaSet
	AnalysisRuns []AnalysisRun
}

// Image is an image that runs in at least one pod, with the roles it plays.
type Image struct {
	Image string
	Tags  []string
}

// New builds the view of objs.Rollout from objs.
func New(objs Objects) *Rollout {
	ro := objs.Rollout
	info := &Rollout{
		Name:      ro.Name,
		Namespace: ro.Namespace,
		Created:   ro.CreationTimestamp.Time,
		Desired:   ro.GetReplicas(),
		Current:   ro.Status.Replicas,
		Updated:   ro.Status.UpdatedReplicas,
		Ready:     ro.Status.ReadyReplicas,
		Available: ro.Status.AvailableReplicas,
	}
	info.ReplicaSets = replicaSetsOf(ro.UID, ro, objs.ReplicaSets, objs.Pods)
	info.Experiments = experimentsOf(ro.UID, objs)
	info.AnalysisRuns = analysisRunsOf(ro.UID, objs.AnalysisRuns)

	switch {
	case ro.Spec.Strategy.Canary != nil:
		info.Strategy = "Canary"
		info.Step = StepString(ro)
		info.SetWeight = strconv.Itoa(int(SetWeight(ro)))
		info.ActualWeight = actualWeight(ro, info.ReplicaSets)
	case ro.Spec.Strategy.BlueGreen != nil:
		info.Strategy = "BlueGreen"
	}
	info.Phase, info.Message = phase.ForClient(ro)
	info.Icon = rolloutIcon(info.Phase)
	return info
}

// Revisions lists every revision found on the rollout's children, newest first.
func (r *Rollout) Revisions() []int {
	seen := map[int]bool{}
	for _, rs := range r.ReplicaSets {
		seen[rs.Revision] = true
	}
	for _, e := range r.Experiments {
		seen[e.Revision] = true
	}
	for _, ar := range r.AnalysisRuns {
		seen[ar.Revision] = true
	}
	revs := make([]int, 0, len(seen))
	for rev := range seen {
		revs = append(revs, rev)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(revs)))
	return revs
}

// Images lists the images of ReplicaSets that have pods, sorted by name. An image keeps
// the role order of the ReplicaSet running it (canary, stable, active, preview, ping,
// pong); when several ReplicaSets run it, their tags are merged and sorted, as upstream
// does.
func (r *Rollout) Images() []Image {
	var images []Image
	for _, rs := range r.ReplicaSets {
		if rs.Replicas > 0 {
			for _, img := range rs.Images {
				addImage(&images, img, rs.roles())
			}
		}
	}
	for i := range r.Experiments {
		addExperimentImages(&images, &r.Experiments[i])
	}
	sort.SliceStable(images, func(i, j int) bool { return images[i].Image < images[j].Image })
	return images
}

func mergeTags(a, b []string) []string {
	set := map[string]bool{}
	for _, t := range append(append([]string{}, a...), b...) {
		set[t] = true
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// roles are the tags of a ReplicaSet in the Images list.
func (rs *ReplicaSet) roles() []string {
	var tags []string
	for _, r := range []struct {
		on  bool
		tag string
	}{{rs.Canary, TagCanary}, {rs.Stable, TagStable}, {rs.Active, TagActive}, {rs.Preview, TagPreview}, {rs.Ping, TagPing}, {rs.Pong, TagPong}} {
		if r.on {
			tags = append(tags, r.tag)
		}
	}
	return tags
}

// parseRevision reads the revision annotation; a missing or bad one counts as 0.
func parseRevision(annotations map[string]string) int {
	rev, err := strconv.Atoi(annotations[v1alpha1.RevisionAnnotation])
	if err != nil {
		return 0
	}
	return rev
}

// ownedBy reports whether any owner reference points at uid. Controller=true is not
// required: a child is shown as soon as it names the rollout as an owner.
func ownedBy(refs []metav1.OwnerReference, uid types.UID) bool {
	for _, r := range refs {
		if r.UID == uid {
			return true
		}
	}
	return false
}
