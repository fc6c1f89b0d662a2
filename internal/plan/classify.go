package plan

import (
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// A decision has the shape of the Kubernetes Deployment controller's sync: observe the
// snapshot once (observe, in plan.go), classify what state the rollout is in
// (classify), act in that one place for that state (act), and derive the status from
// what the decision decided (calculateStatus, status.go). The states are tried in a
// fixed priority; a strategy acts only in the states past Invalid, through its row of
// strategyActs.

// rolloutState is what a decision found the rollout doing; each state has one handler.
type rolloutState int

const (
	// stateDeleting: the Rollout is being deleted; its objects go with it through
	// garbage collection, so nothing is done.
	stateDeleting rolloutState = iota
	// stateAwaitingReferences: the spec names objects (Services, a workloadRef, analysis
	// templates) that do not exist yet, within the grace after the Rollout's creation.
	stateAwaitingReferences
	// stateInvalid: the spec, or what it refers to, is wrong.
	stateInvalid
	// stateManuallyPaused: spec.paused freezes the workload, but for a change of size.
	stateManuallyPaused
	// stateInitialDeploy: no version is stable yet; the first one becomes it at once.
	stateInitialDeploy
	// stateAtStable: the template is the stable version's: steady state, the promotion
	// of a previous decision, or a return to the stable version during an update.
	stateAtStable
	// stateAborted: an update was aborted; traffic and pods go back to the stable version.
	stateAborted
	// stateUpdating: an update moves along the strategy towards promotion.
	stateUpdating
	numStates
)

var stateNames = [numStates]string{
	"Deleting", "AwaitingReferences", "Invalid", "ManuallyPaused", "InitialDeploy", "AtStable", "Aborted", "Updating",
}

func (s rolloutState) String() string { return stateNames[s] }

// observation is what a decision read of the snapshot, once, before anything acts.
type observation struct {
	deleting bool
	// invalid lists what is wrong with the spec and the objects it refers to.
	invalid field.ErrorList
	// referencesPending is true when every problem is a referenced object that does not
	// exist yet, and the Rollout is young enough to wait for it (until graceEnd).
	referencesPending bool
	graceEnd          time.Time
	// manuallyPaused is spec.paused.
	manuallyPaused bool
	// stableHash and currentHash are the pod-template hashes of the stable version and
	// of the template now; aborted is status.abort. They are read once the steps are in
	// line with the template (syncSteps), since a new template ends an abort.
	stableHash, currentHash string
	aborted                 bool
}

// classify names the state of the rollout, in the priority the handlers need: a
// deletion before anything, a wrong spec before any workload change, a manual pause
// before any strategy, and within a strategy the initial deploy, the stable version,
// an abort, then an update.
func classify(o *observation) rolloutState {
	switch {
	case o.deleting:
		return stateDeleting
	case len(o.invalid) > 0 && o.referencesPending:
		return stateAwaitingReferences
	case len(o.invalid) > 0:
		return stateInvalid
	case o.manuallyPaused:
		return stateManuallyPaused
	case o.stableHash == "":
		return stateInitialDeploy
	case o.currentHash == o.stableHash:
		return stateAtStable
	case o.aborted:
		return stateAborted
	default:
		return stateUpdating
	}
}

// strategyActs is what a strategy does in each state it acts in.
type strategyActs [numStates]func(*planner)

var (
	blueGreenActs = strategyActs{
		stateManuallyPaused: (*planner).blueGreenPaused,
		stateInitialDeploy:  (*planner).blueGreenInitialDeploy,
		stateAtStable:       (*planner).blueGreenAtStable,
		stateAborted:        (*planner).blueGreenAborted,
		stateUpdating:       (*planner).blueGreenUpdate,
	}
	canaryActs = strategyActs{
		stateManuallyPaused: (*planner).canaryPaused,
		stateInitialDeploy:  (*planner).canaryInitialDeploy,
		stateAtStable:       (*planner).canaryBackAtStable,
		stateAborted:        (*planner).canaryAborted,
		stateUpdating:       (*planner).canaryUpdate,
	}
)

// actsOf is the row of the rollout's strategy (nil for a spec without one, which
// validation rejects).
func (p *planner) actsOf() *strategyActs {
	switch s := p.ro.Spec.Strategy; {
	case s.BlueGreen != nil:
		return &blueGreenActs
	case s.Canary != nil:
		return &canaryActs
	}
	return nil
}

// act is the one place a state turns into what the decision does. It reports whether
// the decision goes on to the steps every valid rollout takes (restart, garbage
// collection, analysis, status).
func (p *planner) act(state rolloutState, o *observation) bool {
	switch state {
	case stateDeleting:
		return false
	case stateAwaitingReferences:
		// `kubectl apply -f` of a file with the Rollout before its Services (or its
		// workloadRef) creates them a moment apart; only an object still missing
		// after that is an error.
		p.requeueAt(o.graceEnd)
		return false
	case stateInvalid:
		p.invalid(o.invalid)
		return false
	}
	if acts := p.actsOf(); acts != nil {
		acts[state](p)
	}
	return true
}
