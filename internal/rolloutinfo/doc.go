// Package rolloutinfo turns a Rollout and the objects around it (ReplicaSets, Pods,
// AnalysisRuns, Experiments) into a small view model and renders it the way
// `kubectl argo rollouts get rollout` does: a header block and a tree. Experiments get
// the same on their own (`get experiment`), and an AnalysisRun a detailed view of its
// metrics and measurements (`get analysisrun`).
//
// It is pure on purpose: no client, no clock, no environment. Callers pass the objects
// they listed and the time to measure ages against, so the CLI, its watch mode, tests
// and a future dashboard all see the same thing for the same input.
package rolloutinfo
