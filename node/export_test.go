package node

// Hooks for the external tests in package node_test (the pattern of the standard
// library's export_test.go files): they see these, production code does not.

// IgnoredViews is how many answers older than the applied view a ignored.
func IgnoredViews(a *Agent) int64 { return a.ignoredViews.Load() }
