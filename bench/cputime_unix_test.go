//go:build unix

package bench_test

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system) the process has used so
// far, or 0 where the system does not say.
func cpuTime() time.Duration {
	var r syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &r) != nil {
		return 0
	}
	return time.Duration(r.Utime.Nano() + r.Stime.Nano())
}
