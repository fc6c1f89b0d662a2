package plan

import "github.com/tern-rollouts/tern/api/v1alpha1"

// CreateAnalysisRun creates an AnalysisRun owned by the Rollout. A run of that name that
// exists already, is ours and still runs is the one meant: there is nothing to do.
type CreateAnalysisRun struct {
	Run *v1alpha1.AnalysisRun
}

// TerminateAnalysisRun asks a running AnalysisRun to stop (spec.terminate), keeping what
// it measured so far. A run already gone needs nothing.
type TerminateAnalysisRun struct {
	Name string
}

// DeleteAnalysisRun deletes a completed AnalysisRun beyond the history limits, or one
// whose ReplicaSet is gone.
type DeleteAnalysisRun struct {
	Name string
	UID  string
}

func (CreateAnalysisRun) isAction()    {}
func (TerminateAnalysisRun) isAction() {}
func (DeleteAnalysisRun) isAction()    {}
