package tray

import (
	"strings"
	"testing"
	"time"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

func TestNotifierRateLimit(t *testing.T) {
	clock := &fakeClock{t: t0}
	var got []Notice
	n := NewNotifier(func(no Notice) { got = append(got, no) }, clock.Now, 10*time.Minute)

	st := demoStatus()
	st.Conflicts = []apitype.Conflict{{Drive: "d-sales", Path: "/old.docx", Time: t0.Add(-time.Hour)}}
	n.Observe(st)
	if len(got) != 0 {
		t.Fatalf("first status sent %v, want nothing (it only primes)", got)
	}

	conflict := func(name string) apitype.Conflict {
		return apitype.Conflict{Drive: "d-sales", Path: "/" + name, ConflictPath: "/" + name + " (conflict)", Time: clock.t}
	}
	st.Conflicts = append(st.Conflicts, conflict("a.docx"))
	n.Observe(st)
	n.Observe(st) // the same status again: nothing new
	if len(got) != 1 || got[0].Kind != NoticeConflict || !strings.Contains(got[0].Content, "a.docx in Sales") {
		t.Fatalf("after a new conflict got %+v, want one conflict notice about a.docx in Sales", got)
	}

	clock.Advance(time.Minute)
	st.Conflicts = append(st.Conflicts, conflict("b.docx"), conflict("c.docx"))
	st.Errors = []apitype.Problem{{Code: apitype.CodeUploadFailed, Message: "could not upload x", Drive: "d-sales", Time: clock.t}}
	n.Observe(st)
	if len(got) != 2 || got[1].Kind != NoticeUploadFailed {
		t.Fatalf("within the interval got %+v, want only the upload-failed notice added", got)
	}

	clock.Advance(10 * time.Minute)
	st.Conflicts = append(st.Conflicts, conflict("d.docx"))
	n.Observe(st)
	if len(got) != 3 || got[2].Kind != NoticeConflict || !strings.Contains(got[2].Content, "2 more since the last notice") {
		t.Fatalf("after the interval got %+v, want a conflict notice counting the 2 held back", got)
	}

	st.Errors = append(st.Errors, apitype.Problem{Code: apitype.CodeQuotaFull, Message: "the drive is full", Time: clock.t})
	st.Licence = apitype.Licence{State: apitype.LicenceRefused, Message: "No Mapdrive seats are left."}
	n.Observe(st)
	if len(got) != 5 || got[3].Kind != NoticeQuotaFull || got[4].Kind != NoticeLicence || got[4].Content != "No Mapdrive seats are left." {
		t.Fatalf("quota and licence: got %+v", got)
	}
	n.Observe(st)
	if len(got) != 5 {
		t.Fatalf("an unchanged licence state was told again: %+v", got[5:])
	}
}

// TestNotifierCheckedOut: a file someone else has checked out is told
// once, under its own title, naming the holder.
func TestNotifierCheckedOut(t *testing.T) {
	clock := &fakeClock{t: t0}
	var got []Notice
	n := NewNotifier(func(no Notice) { got = append(got, no) }, clock.Now, 10*time.Minute)
	st := demoStatus()
	n.Observe(st)
	st.Errors = []apitype.Problem{{Code: apitype.CodeCheckedOut, Message: "/plan.docx: checked out by Bob Berg", Drive: "d-sales",
		Action: "Open it read-only.", Time: clock.t}}
	n.Observe(st)
	n.Observe(st)
	if len(got) != 1 || got[0].Kind != NoticeCheckedOut || got[0].Title != "File checked out by someone else" || !strings.Contains(got[0].Content, "Bob Berg") {
		t.Fatalf("got %+v, want one checked-out notice naming Bob Berg", got)
	}
}

func TestNotifierLicenceAtStart(t *testing.T) {
	var got []Notice
	n := NewNotifier(func(no Notice) { got = append(got, no) }, nil, 0)
	st := demoStatus()
	st.Licence = apitype.Licence{State: apitype.LicenceExpired}
	n.Observe(st)
	if len(got) != 1 || got[0].Title != "Mapdrive licence expired" || got[0].Content == "" {
		t.Fatalf("licence expired at start: got %+v, want one licence notice with advice", got)
	}
}
