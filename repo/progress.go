package repo

// Progress receives reports of long operations. Implementations must be
// safe for concurrent use; the CLI draws bars from them.
type Progress interface {
	// Start begins a phase of total units (bytes, or items when unit is
	// not "B"); total 0 when unknown.
	Start(label string, total int64, unit string)
	// Add reports n more units done.
	Add(n int64)
	// Done ends the phase.
	Done()
}

// NoProgress discards reports.
type NoProgress struct{}

func (NoProgress) Start(string, int64, string) {}
func (NoProgress) Add(int64)                   {}
func (NoProgress) Done()                       {}
