package simulate

import (
	"fmt"
	"strconv"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/plan"
	"github.com/tern-rollouts/tern/internal/snapshot"
)

// The Sim's side of analysis: templates, and AnalysisRuns that the planner creates and
// whose outcome the caller sets, as the AnalysisRun controller would.

// RunKind is what an AnalysisRun of a rollout is for; its value is the run's
// rollout-type label.
type RunKind string

// The kinds of run a rollout follows, one each at most.
const (
	StepRun          RunKind = v1alpha1.RolloutTypeStepLabel
	BackgroundRun    RunKind = v1alpha1.RolloutTypeBackgroundRunLabel
	PrePromotionRun  RunKind = v1alpha1.RolloutTypePrePromotionLabel
	PostPromotionRun RunKind = v1alpha1.RolloutTypePostPromotionLabel
)

var runKinds = []RunKind{StepRun, BackgroundRun, PrePromotionRun, PostPromotionRun}

// recorded is the run of a kind a status follows, or nil.
func recorded(st *v1alpha1.RolloutStatus, k RunKind) *v1alpha1.RolloutAnalysisRunStatus {
	switch k {
	case StepRun:
		return st.Canary.CurrentStepAnalysisRunStatus
	case BackgroundRun:
		return st.Canary.CurrentBackgroundAnalysisRunStatus
	case PrePromotionRun:
		return st.BlueGreen.PrePromotionAnalysisRunStatus
	default:
		return st.BlueGreen.PostPromotionAnalysisRunStatus
	}
}

// SetAnalysisTemplate creates or replaces the AnalysisTemplate of a name, in the
// Rollout's namespace.
func (s *Sim) SetAnalysisTemplate(name string, spec *v1alpha1.AnalysisTemplateSpec) {
	s.ats[name] = spec
}

// AnalysisTemplate is the spec of the AnalysisTemplate of a name, or nil; the spec
// itself, not a copy.
func (s *Sim) AnalysisTemplate(name string) *v1alpha1.AnalysisTemplateSpec { return s.ats[name] }

// SetClusterAnalysisTemplate creates or replaces the ClusterAnalysisTemplate of a name.
func (s *Sim) SetClusterAnalysisTemplate(name string, spec *v1alpha1.AnalysisTemplateSpec) {
	s.cats[name] = spec
}

// SetClusterTemplatesUnreadable plays a namespaced install, which is not granted
// ClusterAnalysisTemplates (true), or a cluster-wide one (false, the default).
func (s *Sim) SetClusterTemplatesUnreadable(unreadable bool) { s.catsUnreadable = unreadable }

func (s *Sim) snapshotTemplates(snap *snapshot.Snapshot) {
	snap.AnalysisTemplates = map[string]*v1alpha1.AnalysisTemplate{}
	for name, spec := range s.ats {
		snap.AnalysisTemplates[name] = &v1alpha1.AnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.ro.Namespace}, Spec: *spec.DeepCopy()}
	}
	snap.ClusterAnalysisTemplates = map[string]*v1alpha1.ClusterAnalysisTemplate{}
	snap.ClusterTemplatesUnreadable = s.catsUnreadable
	for name, spec := range s.cats {
		snap.ClusterAnalysisTemplates[name] = &v1alpha1.ClusterAnalysisTemplate{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: *spec.DeepCopy()}
	}
}

func (s *Sim) applyAnalysis(a plan.Action) error {
	switch a := a.(type) {
	case plan.CreateAnalysisRun:
		if ar := s.AnalysisRun(a.Run.Name); ar != nil {
			// The executor accepts this only for our own run still measuring.
			if ar.Status.Phase.Completed() || ar.Spec.Terminate {
				return fmt.Errorf("CreateAnalysisRun %s: a finished run of that name exists", a.Run.Name)
			}
			return nil
		}
		ar := a.Run.DeepCopy()
		s.uid++
		ar.UID = types.UID("ar-" + strconv.Itoa(s.uid))
		ar.CreationTimestamp = metav1.NewTime(s.now)
		s.runs = append(s.runs, ar)
	case plan.TerminateAnalysisRun:
		ar := s.AnalysisRun(a.Name)
		if ar == nil {
			return nil
		}
		ar.Spec.Terminate = true
		if !ar.Status.Phase.Completed() {
			// A terminated run keeps what it measured: with no failure that is success,
			// which must never count for the rollout that stopped it.
			ar.Status.Phase, ar.Status.Message = v1alpha1.AnalysisPhaseSuccessful, "Run Terminated"
		}
	case plan.DeleteAnalysisRun:
		for i, ar := range s.runs {
			if ar.Name == a.Name {
				if string(ar.UID) != a.UID {
					return fmt.Errorf("DeleteAnalysisRun %s: uid %s, the run has %s", a.Name, a.UID, ar.UID)
				}
				for _, k := range runKinds {
					if rec := recorded(&s.last.Status, k); rec != nil && rec.Name == a.Name && !s.last.Status.Abort {
						return fmt.Errorf("DeleteAnalysisRun %s: the rollout follows it", a.Name)
					}
				}
				s.runs = append(s.runs[:i], s.runs[i+1:]...)
				return nil
			}
		}
	}
	return nil
}

// AnalysisRuns are every AnalysisRun, oldest first; the objects themselves, not copies.
func (s *Sim) AnalysisRuns() []*v1alpha1.AnalysisRun {
	return append([]*v1alpha1.AnalysisRun(nil), s.runs...)
}

// AnalysisRun is the AnalysisRun of a name, or nil; the object itself, not a copy: set
// its status to play the AnalysisRun controller.
func (s *Sim) AnalysisRun(name string) *v1alpha1.AnalysisRun {
	for _, ar := range s.runs {
		if ar.Name == name {
			return ar
		}
	}
	return nil
}

// AddAnalysisRun adds a run as it is, as if another writer had created it.
func (s *Sim) AddAnalysisRun(ar *v1alpha1.AnalysisRun) { s.runs = append(s.runs, ar) }

// RemoveAnalysisRun takes a run away, as a deletion by someone else would, or a cache
// that has not seen it yet.
func (s *Sim) RemoveAnalysisRun(name string) {
	for i, ar := range s.runs {
		if ar.Name == name {
			s.runs = append(s.runs[:i], s.runs[i+1:]...)
			return
		}
	}
}

// CurrentRun is the run of a kind the rollout's status follows. It fails when the
// status records none, or records one that does not exist.
func (s *Sim) CurrentRun(k RunKind) (*v1alpha1.AnalysisRun, error) {
	rec := recorded(&s.ro.Status, k)
	if rec == nil {
		return nil, fmt.Errorf("no %s run recorded in the status", k)
	}
	ar := s.AnalysisRun(rec.Name)
	if ar == nil {
		return nil, fmt.Errorf("the recorded %s run %s does not exist", k, rec.Name)
	}
	return ar, nil
}

// FinishRun ends the current run of a kind with a phase and message, as the AnalysisRun
// controller would.
func (s *Sim) FinishRun(k RunKind, phase v1alpha1.AnalysisPhase, msg string) (*v1alpha1.AnalysisRun, error) {
	ar, err := s.CurrentRun(k)
	if err != nil {
		return nil, err
	}
	ar.Status.Phase, ar.Status.Message = phase, msg
	return ar, nil
}
