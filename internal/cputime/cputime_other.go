//go:build !unix

// Package cputime measures the CPU time a process has used, for the
// benchmarks' and the example's reports.
package cputime

import "time"

// Used returns 0: the CPU time is not measured on this platform.
func Used() time.Duration { return 0 }
