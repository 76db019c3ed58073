//go:build !unix

package graph

import "time"

// cpuTime is not measured here; the cpu-s/GiB metric reads 0.
func cpuTime() time.Duration { return 0 }
