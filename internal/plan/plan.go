package plan

import (
	"fmt"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/hash"
	"github.com/tern-rollouts/tern/internal/phase"
	"github.com/tern-rollouts/tern/internal/snapshot"
	"github.com/tern-rollouts/tern/internal/validation"
)

const hashKey = v1alpha1.DefaultRolloutUniqueLabelKey

var sprintf = fmt.Sprintf

// Plan decides what to do next for the Rollout in the snapshot. It is pure: it reads
// only the snapshot (whose Now stands in for the clock) and returns the writes to make.
func Plan(s *snapshot.Snapshot) Decision {
	p := newPlanner(s)
	p.run()
	p.holdCounts()
	markAfterStatus(p.actions)
	return Decision{Actions: p.actions, Status: p.st, RequeueAfter: p.requeue}
}

// planner carries the working state of one Plan call; it never outlives it.
type planner struct {
	s   *snapshot.Snapshot
	ro  *v1alpha1.Rollout
	now metav1.Time
	old *v1alpha1.RolloutStatus
	st  v1alpha1.RolloutStatus

	actions []Action
	// tail holds the events of status transitions; they follow the writes that caused them
	// (and, like every transition event, go out only once the status is written).
	tail    []Action
	requeue time.Duration

	all    []*appsv1.ReplicaSet
	newRS  *appsv1.ReplicaSet
	newRev int64
	// created is true when this decision creates the new ReplicaSet.
	created bool
	// scaled records the replica count each ReplicaSet will have once the actions ran.
	scaled map[string]int32
	// completionReason explains a promotion made by this decision.
	completionReason string
	// notCompletedSent is true once the RolloutNotCompleted event has been placed.
	notCompletedSent bool
	// selects is what each Service of the strategy selects once the actions ran.
	selects serviceHashes
	// delayed holds the ReplicaSets this decision gives a scale-down deadline.
	delayed map[string]bool
	// retried is true when this decision clears an earlier abort.
	retried bool
	// revisionBumped is true when an existing ReplicaSet becomes the latest revision.
	revisionBumped bool
	// abortMessage says why the controller itself aborted.
	abortMessage string
	// resumeAt is where in the actions a RolloutResumed event goes: first (0) unless
	// the strategy records the step whose completion resumed the rollout.
	resumeAt int
	// openEndedWait is true while the rollout waits on something with no end of its own
	// (an analysis or experiment still running): the progress deadline does not run.
	openEndedWait bool
	// holdStable keeps the stable ReplicaSet of a blue-green up while the
	// post-promotion analysis judges the new version: it is what an abort switches back to.
	holdStable bool
	// runs is what this decision did with the analysis runs (analysis.go).
	runs runsFollowed
}

// serviceHashes are the pod-template hashes the strategy's Services select, by role
// ("" for a Service that selects no version yet, or that the strategy does not name).
type serviceHashes struct {
	active, preview string // blue-green
	canary, stable  string // canary
}

func newPlanner(s *snapshot.Snapshot) *planner {
	ro := s.Rollout
	return &planner{
		s:       s,
		ro:      ro,
		now:     metav1.NewTime(s.Now.UTC().Truncate(time.Second)),
		old:     &ro.Status,
		st:      *ro.Status.DeepCopy(),
		scaled:  map[string]int32{},
		delayed: map[string]bool{},
	}
}

func (p *planner) add(a ...Action) { p.actions = append(p.actions, a...) }

// requeueAt asks to plan again at t (if it is earlier than any wake-up asked before).
func (p *planner) requeueAt(t time.Time) {
	d := t.Sub(p.now.Time)
	if d < time.Second {
		d = time.Second
	}
	if p.requeue == 0 || d < p.requeue {
		p.requeue = d
	}
}

func (p *planner) run() {
	var o observation
	p.observe(&o)
	if !p.act(classify(&o), &o) {
		return
	}
	p.restart()
	p.collectGarbage()
	p.finishAnalysis()
	p.finishStatus()
	p.scaleDownWorkload()
	p.actions = append(p.actions, p.tail...)
}

// observe reads the snapshot into o, once: it stops at a deletion or a wrong spec;
// otherwise it finds the new ReplicaSet and its revision and lines the strategy's
// record of where it is (Services, steps) up with the template.
func (p *planner) observe(o *observation) {
	if p.ro.DeletionTimestamp != nil {
		o.deleting = true
		return
	}
	p.st.ObservedGeneration = strconv.FormatInt(p.ro.Generation, 10)
	p.all = append(p.all, p.s.ReplicaSets...)
	for _, rs := range p.s.Orphans {
		p.add(AdoptReplicaSet{Name: rs.Name, UID: string(rs.UID)})
		p.all = append(p.all, rs)
	}

	errs, onlyMissing := p.validate()
	if len(errs) > 0 {
		o.invalid = errs
		o.graceEnd = p.ro.CreationTimestamp.Time.Add(serviceGrace)
		o.referencesPending = onlyMissing && p.now.Time.Before(o.graceEnd)
		return
	}
	p.clearCondition(v1alpha1.InvalidSpec)

	p.findNewRS()
	p.syncRevision()
	if rev := strconv.FormatInt(p.newRev, 10); p.ro.Annotations[v1alpha1.RevisionAnnotation] != rev {
		p.add(SetRolloutRevision{Revision: rev})
	}
	if p.newRS == nil && !p.ro.Spec.Paused || p.revisionBumped {
		// A new revision begins: a new ReplicaSet, or an old one made current again.
		p.add(normalEvent(v1alpha1.EventReasonRolloutUpdated, "Rollout updated to revision %d", p.newRev))
	}

	switch s := p.ro.Spec.Strategy; {
	case s.BlueGreen != nil:
		p.observeBlueGreen(s.BlueGreen)
	case s.Canary != nil:
		p.observeCanary(s.Canary)
	}
	o.manuallyPaused = p.ro.Spec.Paused
	o.stableHash, o.currentHash, o.aborted = p.st.StableRS, p.st.CurrentPodHash, p.st.Abort
}

// serviceGrace is how long after its creation a Rollout may wait for its Services.
const serviceGrace = 5 * time.Second

// validate checks the spec and the objects it refers to; onlyMissing is true when the
// sole problem is referenced objects (Services, workloadRef) that do not exist (yet).
func (p *planner) validate() (errs field.ErrorList, onlyMissing bool) {
	errs = validation.ValidateRollout(p.ro)
	if len(errs) > 0 {
		return errs, false
	}
	werrs, missing := p.resolveWorkload()
	if len(werrs) > 0 && !missing {
		return werrs, false
	}
	errs = append(errs, werrs...)
	for _, ref := range referencedServices(p.ro) {
		if _, ok := p.s.Traffic.Services[ref.name]; !ok {
			errs = append(errs, field.Invalid(ref.path, ref.name, fmt.Sprintf("service %q not found", ref.name)))
		}
	}
	aerrs, onlyMissingTemplates := p.validateAnalysis()
	return append(errs, aerrs...), len(aerrs) == 0 || onlyMissingTemplates
}

type serviceRef struct {
	path *field.Path
	name string
}

// referencedServices lists the Services the strategy names, with where it names them.
func referencedServices(ro *v1alpha1.Rollout) []serviceRef {
	var refs []serviceRef
	s := field.NewPath("spec", "strategy")
	if bg := ro.Spec.Strategy.BlueGreen; bg != nil {
		refs = append(refs, serviceRef{s.Child("blueGreen", "activeService"), bg.ActiveService})
		if bg.PreviewService != "" {
			refs = append(refs, serviceRef{s.Child("blueGreen", "previewService"), bg.PreviewService})
		}
	}
	if c := ro.Spec.Strategy.Canary; c != nil {
		if c.CanaryService != "" {
			refs = append(refs, serviceRef{s.Child("canary", "canaryService"), c.CanaryService})
		}
		if c.StableService != "" {
			refs = append(refs, serviceRef{s.Child("canary", "stableService"), c.StableService})
		}
	}
	return refs
}

// invalid records the InvalidSpec condition and leaves every workload object as it is:
// a bad edit must never take running pods away.
func (p *planner) invalid(errs field.ErrorList) {
	msg := fmt.Sprintf("The Rollout %q is invalid: %s", p.ro.Name, validation.InvalidSpecMessage(errs))
	if p.setCondition(v1alpha1.InvalidSpec, corev1.ConditionTrue, v1alpha1.InvalidSpecReason, msg) {
		p.add(warningEvent(v1alpha1.EventReasonInvalidSpec, "%s", msg))
	}
	countReplicas(&p.st, p.ro, p.all, p.newRS, p.created, p.selects.active)
	p.st.Phase, p.st.Message = phase.Of(p.ro, &p.st)
}

// findNewRS finds the ReplicaSet of the current template, or plans its creation.
func (p *planner) findNewRS() {
	h := hash.PodTemplate(&p.ro.Spec.Template, p.st.CollisionCount)
	p.st.CurrentPodHash = h
	for _, rs := range p.all {
		if rs.Labels[hashKey] == h {
			p.newRS = rs
			return
		}
	}
	// A ReplicaSet made from the same template under another hash (an older hash
	// function, or a collision count since reset) is still the same version: re-using it
	// avoids a needless redeploy.
	for _, rs := range p.all {
		if sameTemplateOf(&p.ro.Spec.Template, rs) {
			p.newRS = rs
			p.st.CurrentPodHash = rs.Labels[hashKey]
			return
		}
	}
}

// syncRevision gives the new ReplicaSet the highest revision, as a rollback to an older
// ReplicaSet must count as the latest revision.
func (p *planner) syncRevision() {
	var maxOld int64
	for _, rs := range p.all {
		if rs == p.newRS {
			continue
		}
		if r := revisionOf(rs); r > maxOld {
			maxOld = r
		}
	}
	if p.newRS == nil {
		p.newRev = maxOld + 1
		return
	}
	cur := revisionOf(p.newRS)
	if cur > maxOld {
		p.newRev = cur
		return
	}
	p.newRev = maxOld + 1
	p.revisionBumped = true
	ann := map[string]*string{v1alpha1.RevisionAnnotation: ptrTo(strconv.FormatInt(p.newRev, 10))}
	if cur > 0 {
		hist := p.newRS.Annotations[v1alpha1.RevisionHistoryAnnotation]
		if hist != "" {
			hist += ","
		}
		hist += strconv.FormatInt(cur, 10)
		ann[v1alpha1.RevisionHistoryAnnotation] = &hist
	}
	p.add(AnnotateReplicaSet{Name: p.newRS.Name, Annotations: ann})
}

// ensureNewRS creates the new ReplicaSet with the given size, or scales it to that size.
func (p *planner) ensureNewRS(replicas int32, metadata *v1alpha1.PodTemplateMetadata) {
	if p.newRS == nil {
		rs := p.buildReplicaSet(replicas, metadata)
		p.newRS = rs
		p.created = true
		p.scaled[rs.Name] = replicas
		p.add(CreateReplicaSet{ReplicaSet: rs},
			normalEvent(v1alpha1.EventReasonNewReplicaSetCreated, "Created ReplicaSet %s (revision %d)", rs.Name, p.newRev))
		p.noteNotCompleted()
		if replicas > 0 {
			p.add(normalEvent(v1alpha1.EventReasonScalingReplicaSet, "Scaled up ReplicaSet %s (revision %d) from 0 to %d", rs.Name, p.newRev, replicas))
		}
		return
	}
	p.noteNotCompleted()
	p.scale(p.newRS, replicas)
	if _, ok := p.newRS.Annotations[v1alpha1.DefaultReplicaSetScaleDownDeadlineAnnotationKey]; ok && replicas > 0 {
		p.add(AnnotateReplicaSet{Name: p.newRS.Name, Annotations: map[string]*string{v1alpha1.DefaultReplicaSetScaleDownDeadlineAnnotationKey: nil}})
	}
	p.syncMetadata(p.newRS, metadata)
}

// noteNotCompleted places the RolloutNotCompleted event right after the creation of the
// new ReplicaSet, where the contract's event order has it.
func (p *planner) noteNotCompleted() {
	// A canary's initial deploy reports the update too, as upstream's event order has it.
	initialCanary := p.old.StableRS == "" && p.ro.Spec.Strategy.BlueGreen == nil
	if p.notCompletedSent || p.old.StableRS == "" && !initialCanary || p.st.CurrentPodHash == p.old.StableRS {
		return
	}
	if c := findCondition(p.old.Conditions, v1alpha1.RolloutCompleted); c != nil && c.Status == corev1.ConditionFalse {
		return
	}
	p.notCompletedSent = true
	p.add(normalEvent(v1alpha1.EventReasonRolloutNotCompleted, "Rollout not completed, started update to revision %d (%s)", p.newRev, p.st.CurrentPodHash))
}

// scale sets a ReplicaSet's size (and its desired-replicas record) if it differs.
func (p *planner) scale(rs *appsv1.ReplicaSet, replicas int32) {
	p.scaled[rs.Name] = replicas
	desired := p.ro.GetReplicas()
	if specReplicas(rs) == replicas && rs.Annotations[v1alpha1.DesiredReplicasAnnotation] == strconv.Itoa(int(desired)) {
		return
	}
	p.add(ScaleReplicaSet{Name: rs.Name, Replicas: replicas, DesiredReplicas: desired})
	if cur := specReplicas(rs); cur != replicas {
		dir := "up"
		if replicas < cur {
			dir = "down"
		}
		p.add(normalEvent(v1alpha1.EventReasonScalingReplicaSet, "Scaled %s ReplicaSet %s (revision %d) from %d to %d", dir, rs.Name, p.revisionFor(rs), cur, replicas))
	}
}

func (p *planner) revisionFor(rs *appsv1.ReplicaSet) int64 {
	if rs == p.newRS {
		return p.newRev
	}
	return revisionOf(rs)
}

// replicasOf is the size a ReplicaSet will have once this decision's actions ran.
func (p *planner) replicasOf(rs *appsv1.ReplicaSet) int32 {
	if n, ok := p.scaled[rs.Name]; ok {
		return n
	}
	return specReplicas(rs)
}

// collectGarbage deletes scaled-down ReplicaSets beyond the revision history limit,
// oldest first, never the new or the stable one.
func (p *planner) collectGarbage() {
	limit := int(p.ro.GetRevisionHistoryLimit())
	var idle []*appsv1.ReplicaSet
	for _, rs := range p.all {
		if rs == p.newRS || rs.Labels[hashKey] == p.st.StableRS || p.replicasOf(rs) != 0 || rs.Status.Replicas != 0 {
			continue
		}
		if rs.DeletionTimestamp != nil {
			continue
		}
		idle = append(idle, rs)
	}
	if len(idle) <= limit {
		return
	}
	sortByRevision(idle)
	for _, rs := range idle[:len(idle)-limit] {
		p.add(DeleteReplicaSet{Name: rs.Name, UID: string(rs.UID)})
	}
}
