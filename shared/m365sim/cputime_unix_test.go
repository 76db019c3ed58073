//go:build unix

package m365sim

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time (user + system) this process has used,
// so benchmarks can report cost independent of how busy the machine is.
func processCPU() time.Duration { return rusage(syscall.RUSAGE_SELF) }

// childrenCPU returns the CPU time used by this process's waited-for
// children, such as curl run as a client.
func childrenCPU() time.Duration { return rusage(syscall.RUSAGE_CHILDREN) }

func rusage(who int) time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(who, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
