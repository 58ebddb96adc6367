//go:build !unix

package remote_test

import "time"

// selfCPU is unknown here (no rusage): the benchmark's CPU columns read 0.
func selfCPU() time.Duration { return 0 }

// selfFaults is unknown here.
func selfFaults() int64 { return 0 }
