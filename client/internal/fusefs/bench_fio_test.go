//go:build linux

package fusefs

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"
)

// fioResult is the part of fio's JSON output the benchmark reads.
type fioResult struct {
	Jobs []struct {
		Read struct {
			IOBytes int64   `json:"io_bytes"`
			IOPS    float64 `json:"iops"`
			ClatNs  struct {
				Percentile map[string]float64 `json:"percentile"`
			} `json:"clat_ns"`
		} `json:"read"`
	} `json:"jobs"`
}

// runFio runs fio with args and JSON output, and decodes it. Options
// before the first --name are global; those after it belong to a job.
func runFio(tb testing.TB, args ...string) fioResult {
	tb.Helper()
	out, err := exec.Command("fio", append([]string{"--output-format=json"}, args...)...).Output()
	if err != nil {
		tb.Fatalf("fio %v: %v (make deps installs fio)", args, err)
	}
	var r fioResult
	if err := json.Unmarshal(out, &r); err != nil || len(r.Jobs) == 0 {
		tb.Fatalf("fio's output: %v: %.200s", err, out)
	}
	return r
}

// randomReadRow is issue 14's target 3: fio randread of 4 KiB blocks in
// the first span bytes of a cold file through the mount, for seconds,
// against the same number of seconds of 4 KiB ranged GETs by the mount's
// own Graph client, one at a time as fio's one job reads. p50 and p99
// each within 1.5x of the direct ones meets it.
func randomReadRow(tb testing.TB, s *simMount, rel, id string, span int64, seconds int) benchRow {
	r := runFio(tb, "--name=randread", "--filename="+s.p(rel), "--rw=randread", "--bs=4k", "--ioengine=psync",
		fmt.Sprintf("--size=%d", span), fmt.Sprintf("--runtime=%d", seconds), "--time_based")
	read := r.Jobs[0].Read
	mp50, mp99 := time.Duration(read.ClatNs.Percentile["50.000000"]), time.Duration(read.ClatNs.Percentile["99.000000"])

	ctx := context.Background()
	u, err := s.graph.DownloadURL(ctx, id)
	if err != nil {
		tb.Fatal(err)
	}
	var lat []time.Duration
	for end := time.Now().Add(time.Duration(seconds) * time.Second); time.Now().Before(end); {
		off := mrand.Int64N(span/4096) * 4096
		start := time.Now()
		rc, err := s.graph.ReadRange(ctx, u, off, 4096)
		if err != nil {
			tb.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, rc)
		rc.Close()
		if n != 4096 {
			tb.Fatalf("ranged GET read %d bytes", n)
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	dp50, dp99 := lat[len(lat)/2], lat[len(lat)*99/100]
	r50, r99 := mp50.Seconds()/dp50.Seconds(), mp99.Seconds()/dp99.Seconds()
	return benchRow{N: 9, Name: fmt.Sprintf("Random 4 KiB reads in a cold %d MiB span (fio randread, %d s)", span>>20, seconds),
		Target: "p50 and p99 each <= 1.5x a direct ranged GET",
		Mount:  fmt.Sprintf("p50 %v, p99 %v, %.0f IOPS", mp50.Round(time.Microsecond), mp99.Round(time.Microsecond), read.IOPS),
		Direct: fmt.Sprintf("p50 %v, p99 %v, %d GETs", dp50.Round(time.Microsecond), dp99.Round(time.Microsecond), len(lat)),
		Ratio:  max(r50, r99), Met: r50 <= 1.5 && r99 <= 1.5,
		Comment: fmt.Sprintf("ratio = the larger of p50 (%.2f) and p99 (%.2f), mount / direct", r50, r99)}
}

// parallelReadRow is issue 14's target 4: four fio jobs each read one of
// four cold files data/par0..3.bin of each bytes (1 MiB blocks), against
// four direct downloads in parallel; aggregate throughput within 0.9x
// meets it.
func parallelReadRow(tb testing.TB, s *simMount, each int64) benchRow {
	args := []string{"--rw=read", "--bs=1M", "--ioengine=psync", "--group_reporting"}
	for i := range 4 {
		args = append(args, fmt.Sprintf("--name=reader%d", i), "--filename="+s.p(fmt.Sprintf("data/par%d.bin", i)), fmt.Sprintf("--size=%d", each))
	}
	start := time.Now()
	r := runFio(tb, args...)
	mount := time.Since(start)
	if got := r.Jobs[0].Read.IOBytes; got != 4*each {
		tb.Fatalf("fio's four readers read %d bytes, want %d", got, 4*each)
	}

	ctx := context.Background()
	var wg sync.WaitGroup
	start = time.Now()
	for i := range 4 {
		it, err := s.other.Get(ctx, s.driveID, "/data/par"+strconv.Itoa(i)+".bin")
		if err != nil {
			tb.Fatal(err)
		}
		wg.Go(func() { directDownload(tb, s, it.ID, each) })
	}
	wg.Wait()
	direct := time.Since(start)
	ratio := direct.Seconds() / mount.Seconds()
	return benchRow{N: 10, Name: fmt.Sprintf("Four parallel readers of four cold %d MiB files (fio)", each>>20),
		Target: ">= 0.9x four direct downloads in parallel", Mount: mbps(4*each, mount), Direct: mbps(4*each, direct),
		Ratio: ratio, Met: ratio >= 0.9, Comment: "aggregate throughput; ratio = mount / direct"}
}
