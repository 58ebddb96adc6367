package repo

// The helpers of repo's tests for its external test package (repo_test),
// whose tests use packages beside repo (proving).
var (
	NewTestRepo  = newTestRepo
	StartServer  = startServer
	CommitSeeded = commitSeeded
	KeyN         = keyN
)
