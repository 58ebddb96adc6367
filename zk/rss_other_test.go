//go:build !unix

package zk

// peakRSSMB is unknown here (no getrusage(2)); the benchmark leaves the
// metric out.
func peakRSSMB() float64 { return 0 }
