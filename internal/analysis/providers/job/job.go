// Package job measures a metric by running a Kubernetes Job: the measurement is Running
// while the Job runs, Successful when it completes (exit 0), Failed when it fails. Jobs
// are owned by their AnalysisRun (deleted with it), labelled with its UID, and deleted
// when a terminating run stops them or when their measurement is trimmed.
package job

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tern-rollouts/tern/api/v1alpha1"
	"github.com/tern-rollouts/tern/internal/analysis"
)

// Labels, annotations and metadata keys of analysis Jobs, as upstream names them.
const (
	Type = "Job"
	// RunUIDLabel selects the Jobs of a run.
	RunUIDLabel = "analysisrun.argoproj.io/uid"
	// RunNameAnnotation, RunNamespaceAnnotation and MetricAnnotation say where a Job
	// comes from.
	RunNameAnnotation      = "analysisrun.argoproj.io/name"
	RunNamespaceAnnotation = "analysisrun.argoproj.io/namespace"
	MetricAnnotation       = "analysisrun.argoproj.io/metric-name"
	// JobNameKey and JobNamespaceKey are the measurement metadata naming its Job.
	JobNameKey      = "job-name"
	JobNamespaceKey = "job-namespace"
	// maxNameLength keeps Job names usable as label values (the job-name label on pods).
	maxNameLength = 63
)

// Provider runs Jobs.
type Provider struct {
	c   client.Client
	now func() time.Time
}

// New returns a job provider writing through c and reading the clock with now.
func New(c client.Client, now func() time.Time) *Provider { return &Provider{c: c, now: now} }

// Type names the provider.
func (p *Provider) Type() string { return Type }

// Metadata has nothing to record.
func (p *Provider) Metadata(v1alpha1.Metric) map[string]string { return nil }

// Name is the name of the Job of a run's n-th measurement of a metric (n from 1):
// <run uid>.<metric>.<n>, with the metric shortened and hashed when the whole would be too
// long for a label value.
func Name(runUID, metric string, n int) string {
	suffix := "." + strconv.Itoa(n)
	name := string(runUID) + "." + metric + suffix
	if len(name) <= maxNameLength && validName(metric) {
		return name
	}
	sum := sha256.Sum256([]byte(metric))
	hash := hex.EncodeToString(sum[:])[:8]
	keep := maxNameLength - len(runUID) - 2 - len(hash) - 1 - len(suffix)
	short := sanitize(metric)
	if len(short) > keep {
		short = short[:max(keep, 0)]
	}
	short = strings.Trim(short, "-.")
	if short == "" {
		return runUID + "." + hash + suffix
	}
	return runUID + "." + short + "-" + hash + suffix
}

func validName(s string) bool {
	return s != "" && sanitize(s) == s && s[0] != '-' && s[len(s)-1] != '-'
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, s)
}

// Run creates the Job of the next measurement. If it exists already (the controller
// restarted after creating it), it is taken over instead of failing.
func (p *Provider) Run(ctx context.Context, run *v1alpha1.AnalysisRun, metric v1alpha1.Metric) v1alpha1.Measurement {
	start := metav1.NewTime(p.now())
	m := v1alpha1.Measurement{StartedAt: &start}
	n := 1
	for _, r := range run.Status.MetricResults {
		if r.Name == metric.Name {
			n += int(r.Count + r.Error)
		}
	}
	job := newJob(run, metric, Name(string(run.UID), metric.Name, n))
	m.Metadata = map[string]string{JobNameKey: job.Name, JobNamespaceKey: job.Namespace}
	err := p.c.Create(ctx, job)
	if apierrors.IsAlreadyExists(err) {
		existing := &batchv1.Job{}
		if gerr := p.c.Get(ctx, client.ObjectKeyFromObject(job), existing); gerr != nil {
			return analysis.MarkError(m, fmt.Errorf("job %s exists but cannot be read: %w", job.Name, gerr), p.now())
		}
		if existing.Labels[RunUIDLabel] != string(run.UID) {
			return analysis.MarkError(m, fmt.Errorf("job %s exists and belongs to another run", job.Name), p.now())
		}
		err = nil
	}
	if err != nil {
		return analysis.MarkError(m, fmt.Errorf("creating job %s: %w", job.Name, err), p.now())
	}
	m.Phase = v1alpha1.AnalysisPhaseRunning
	return m
}

func newJob(run *v1alpha1.AnalysisRun, metric v1alpha1.Metric, name string) *batchv1.Job {
	jm := metric.Provider.Job
	labels := maps.Clone(jm.Metadata.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[RunUIDLabel] = string(run.UID)
	annotations := maps.Clone(jm.Metadata.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[RunNameAnnotation] = run.Name
	annotations[RunNamespaceAnnotation] = run.Namespace
	annotations[MetricAnnotation] = metric.Name
	owner := metav1.NewControllerRef(run, v1alpha1.SchemeGroupVersion.WithKind("AnalysisRun"))
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            name,
			Namespace:       run.Namespace,
			Labels:          labels,
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{*owner},
		},
		Spec: *jm.Spec.DeepCopy(),
	}
}

// Resume reads the measurement's Job: Successful once it completed, Failed once it failed,
// unchanged while it runs.
func (p *Provider) Resume(ctx context.Context, _ *v1alpha1.AnalysisRun, _ v1alpha1.Metric, m v1alpha1.Measurement) v1alpha1.Measurement {
	key := client.ObjectKey{Namespace: m.Metadata[JobNamespaceKey], Name: m.Metadata[JobNameKey]}
	if key.Name == "" {
		return analysis.MarkError(m, fmt.Errorf("measurement names no job"), p.now())
	}
	job := &batchv1.Job{}
	if err := p.c.Get(ctx, key, job); err != nil {
		if apierrors.IsNotFound(err) {
			return analysis.MarkError(m, fmt.Errorf("job %s was deleted before it finished", key.Name), p.now())
		}
		// Read errors are transient: keep the measurement in flight and look again.
		return m
	}
	for _, c := range job.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return p.finish(m, v1alpha1.AnalysisPhaseSuccessful, "")
		case batchv1.JobFailed:
			msg := "job failed"
			if c.Message != "" {
				msg = "job failed: " + c.Message
			} else if c.Reason != "" {
				msg = "job failed: " + c.Reason
			}
			return p.finish(m, v1alpha1.AnalysisPhaseFailed, msg)
		}
	}
	return m
}

func (p *Provider) finish(m v1alpha1.Measurement, phase v1alpha1.AnalysisPhase, msg string) v1alpha1.Measurement {
	t := metav1.NewTime(p.now())
	m.Phase, m.Message, m.FinishedAt, m.ResumeAt = phase, msg, &t, nil
	return m
}

// Terminate deletes the measurement's Job with its pods.
func (p *Provider) Terminate(ctx context.Context, _ *v1alpha1.AnalysisRun, _ v1alpha1.Metric, m v1alpha1.Measurement) v1alpha1.Measurement {
	if err := p.delete(ctx, m.Metadata[JobNamespaceKey], m.Metadata[JobNameKey]); err != nil {
		return analysis.MarkError(m, err, p.now())
	}
	return p.finish(m, v1alpha1.AnalysisPhaseSuccessful, "")
}

func (p *Provider) delete(ctx context.Context, ns, name string) error {
	if name == "" {
		return nil
	}
	job := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	err := p.c.Delete(ctx, job, client.PropagationPolicy(metav1.DeletePropagationBackground))
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting job %s: %w", name, err)
	}
	return nil
}

// GarbageCollect deletes the metric's Jobs but the newest limit.
func (p *Provider) GarbageCollect(ctx context.Context, run *v1alpha1.AnalysisRun, metric v1alpha1.Metric, limit int) error {
	list := &batchv1.JobList{}
	if err := p.c.List(ctx, list, client.InNamespace(run.Namespace), client.MatchingLabels{RunUIDLabel: string(run.UID)}); err != nil {
		return err
	}
	var jobs []batchv1.Job
	for _, j := range list.Items {
		if j.Annotations[MetricAnnotation] == metric.Name && j.DeletionTimestamp == nil {
			jobs = append(jobs, j)
		}
	}
	if len(jobs) <= limit {
		return nil
	}
	// Newest first by the measurement number in the name, then by creation time.
	sort.SliceStable(jobs, func(i, j int) bool {
		ni, nj := ordinal(jobs[i].Name), ordinal(jobs[j].Name)
		if ni != nj {
			return ni > nj
		}
		return jobs[j].CreationTimestamp.Before(&jobs[i].CreationTimestamp)
	})
	for _, j := range jobs[limit:] {
		if err := p.delete(ctx, j.Namespace, j.Name); err != nil {
			return err
		}
	}
	return nil
}

func ordinal(name string) int {
	n, _ := strconv.Atoi(name[strings.LastIndex(name, ".")+1:])
	return n
}
