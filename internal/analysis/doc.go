// Package analysis is the AnalysisRun engine: pure functions that decide which metrics are
// due for a measurement, fold measurement results into the run's status, and judge metrics
// and runs by the rules of the argoproj.io/v1alpha1 contract (compat.md §3). It never talks
// to the API server or a metric provider and never reads the clock: the caller passes the
// run, the resolved arguments and the current time, carries out the measurements it is told
// to take (internal/analysis/providers), and hands their results back.
//
// It also builds AnalysisRuns from templates (NewRunFromTemplates) for the rollout side.
package analysis
