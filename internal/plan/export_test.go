package plan

// SurgeAndUnavailable lets the external tests bound a simulated rolling update by the
// same rounding the planner uses, without making it part of the package's API.
var SurgeAndUnavailable = surgeAndUnavailable
