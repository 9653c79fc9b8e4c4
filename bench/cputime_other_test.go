//go:build !unix

package bench_test

import "time"

// cpuTime is the CPU time the process has used so far, or 0 where the
// system does not say (here).
func cpuTime() time.Duration { return 0 }
