package portal

import (
	"bytes"
	"fmt"
	"time"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// Chart geometry, in SVG user units.
const (
	chartW, chartH         = 720, 240
	padL, padR, padT, padB = 48, 16, 16, 40
)

// seatChart draws the daily seats in use of the last days days against
// the seats bought, as a standalone SVG document. Days without a record
// are gaps. Only numbers and fixed labels go into it, so it needs no
// escaping beyond what fmt gives.
func seatChart(us []apitype.SeatUsage, seats int, now time.Time, days int) []byte {
	top := max(seats, 1)
	for _, u := range us {
		top = max(top, u.Used)
	}
	top = niceCeil(top)
	start := now.UTC().AddDate(0, 0, -days+1).Truncate(24 * time.Hour)
	plotW, plotH := float64(chartW-padL-padR), float64(chartH-padT-padB)
	x := func(day time.Time) float64 {
		return padL + plotW*day.Sub(start).Hours()/24/float64(max(days-1, 1))
	}
	y := func(v int) float64 { return padT + plotH*(1-float64(v)/float64(top)) }
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-labelledby="t">`, chartW, chartH, chartW, chartH)
	fmt.Fprintf(&b, `<title id="t">Seats in use per day, last %d days</title>`, days)
	b.WriteString(`<rect width="100%" height="100%" fill="#ffffff"/>`)
	// Horizontal grid with labels: 0, half, top.
	for _, v := range []int{0, top / 2, top} {
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#d0d7de" stroke-width="1"/>`, padL, chartW-padR, y(v), y(v))
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-family="sans-serif" font-size="12" fill="#1f2328" text-anchor="end">%d</text>`, padL-6, y(v)+4, v)
	}
	// Seats bought.
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#b35900" stroke-width="2" stroke-dasharray="6 4"/>`, padL, chartW-padR, y(seats), y(seats))
	fmt.Fprintf(&b, `<text x="%d" y="%.1f" font-family="sans-serif" font-size="12" fill="#8a4600" text-anchor="end">%d seats bought</text>`, chartW-padR, y(seats)-6, seats)
	// Seats used: a polyline per run of consecutive days, a dot per day.
	var run []string
	flush := func() {
		if len(run) > 1 {
			fmt.Fprintf(&b, `<polyline fill="none" stroke="#0a58ca" stroke-width="2.5" points="%s"/>`, join(run))
		}
		run = run[:0]
	}
	var prev time.Time
	for _, u := range us {
		day, err := time.Parse("2006-01-02", u.Day)
		if err != nil || day.Before(start) {
			continue
		}
		if !prev.IsZero() && day.Sub(prev) > 24*time.Hour {
			flush()
		}
		prev = day
		pt := fmt.Sprintf("%.1f,%.1f", x(day), y(u.Used))
		run = append(run, pt)
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="#0a58ca"/>`, x(day), y(u.Used))
	}
	flush()
	// Date axis: first, middle, last day.
	for i, d := range []time.Time{start, start.AddDate(0, 0, days/2), start.AddDate(0, 0, days-1)} {
		anchor := [...]string{"start", "middle", "end"}[i]
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" font-family="sans-serif" font-size="12" fill="#1f2328" text-anchor="%s">%s</text>`, x(d), chartH-padB+20, anchor, d.Format("2 Jan"))
	}
	if len(us) == 0 {
		fmt.Fprintf(&b, `<text x="%d" y="%d" font-family="sans-serif" font-size="14" fill="#57606a" text-anchor="middle">No usage recorded yet</text>`, chartW/2, chartH/2)
	}
	b.WriteString(`</svg>`)
	return b.Bytes()
}

func join(pts []string) string {
	var b bytes.Buffer
	for i, p := range pts {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(p)
	}
	return b.String()
}

// niceCeil rounds n up to 1, 2, 2.5 or 5 times a power of ten (2.5
// only from 25 on, to stay whole).
func niceCeil(n int) int {
	if n <= 1 {
		return 1
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{10, 20, 25, 50} {
			if v := m * p; v%10 == 0 && v/10 >= n {
				return v / 10
			}
		}
	}
}
