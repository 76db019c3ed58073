package tray

import (
	"fmt"
	"path"
	"sync"
	"time"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

// NoticeKind groups notifications for rate limiting.
type NoticeKind string

// Notification kinds.
const (
	NoticeConflict     NoticeKind = "conflict"
	NoticeUploadFailed NoticeKind = "upload_failed"
	NoticeQuotaFull    NoticeKind = "quota_full"
	NoticeLicence      NoticeKind = "licence"
	NoticeCheckedOut   NoticeKind = "checked_out" // a file someone else has checked out
)

// Notice is one desktop notification to show.
type Notice struct {
	Kind    NoticeKind
	Title   string
	Content string
}

// DefaultNoticeInterval is how often each kind of notification may be
// shown at most.
const DefaultNoticeInterval = 10 * time.Minute

// Notifier turns status changes into desktop notifications for conflicts,
// failed uploads, a full quota and licence problems, at most one per kind
// per interval; what it holds back is counted into the next one of the
// kind. It is safe for concurrent use.
type Notifier struct {
	interval time.Duration    // constant after construction
	now      func() time.Time // constant after construction
	send     func(Notice)     // constant after construction

	mu      sync.Mutex               // guards the fields below
	primed  bool                     // a first status has been seen
	seen    map[string]bool          // conflicts and problems already told
	last    map[NoticeKind]time.Time // when each kind was last shown
	held    map[NoticeKind]int       // notices held back since
	licence apitype.LicenceState
}

// NewNotifier returns a Notifier that calls send for each notification.
// now is the clock (time.Now when nil); interval <= 0 means
// DefaultNoticeInterval.
func NewNotifier(send func(Notice), now func() time.Time, interval time.Duration) *Notifier {
	if now == nil {
		now = time.Now
	}
	if interval <= 0 {
		interval = DefaultNoticeInterval
	}
	return &Notifier{interval: interval, now: now, send: send,
		seen: map[string]bool{}, last: map[NoticeKind]time.Time{}, held: map[NoticeKind]int{}}
}

// Observe looks at a new status and sends what is new in it. The first
// status only records what exists (its problems are on the tray badge
// already), except for a licence problem, which is always told.
func (n *Notifier) Observe(st apitype.Status) {
	n.mu.Lock()
	var out []Notice
	first := !n.primed
	n.primed = true
	for _, c := range st.Conflicts {
		key := "c|" + c.Drive + "|" + c.Path + "|" + c.ConflictPath + "|" + c.Time.String()
		if n.seen[key] {
			continue
		}
		n.seen[key] = true
		if !first {
			out = n.admitLocked(out, Notice{Kind: NoticeConflict, Title: "Both versions kept",
				Content: fmt.Sprintf("%s in %s was changed here and online. Mapdrive kept both; open the Mapdrive window to see them.",
					path.Base(c.Path), driveName(st.Drives, c.Drive))})
		}
	}
	for _, p := range st.Errors {
		kind, ok := noticeKindOf(p.Code)
		if !ok || kind == NoticeLicence {
			continue
		}
		key := "p|" + p.Code + "|" + p.Drive + "|" + p.Message + "|" + p.Time.String()
		if n.seen[key] {
			continue
		}
		n.seen[key] = true
		if first {
			continue
		}
		title := "Upload failed"
		switch kind {
		case NoticeQuotaFull:
			title = "Storage full"
		case NoticeCheckedOut:
			title = "File checked out by someone else"
		}
		out = n.admitLocked(out, Notice{Kind: kind, Title: title, Content: ProblemText(p)})
	}
	lic := st.Licence.State
	if lic != n.licence {
		n.licence = lic
		switch lic {
		case apitype.LicenceRefused, apitype.LicenceExpired:
			title, code := "Mapdrive licence refused", apitype.CodeLicenceRefused
			if lic == apitype.LicenceExpired {
				title, code = "Mapdrive licence expired", apitype.CodeLicenceExpired
			}
			msg := st.Licence.Message
			if msg == "" {
				msg = problemHint(code)
			}
			out = n.admitLocked(out, Notice{Kind: NoticeLicence, Title: title, Content: msg})
		}
	}
	n.mu.Unlock()
	for _, no := range out {
		n.send(no)
	}
}

// admitLocked appends no to out unless its kind was shown within the
// interval, in which case it is counted into the next one.
func (n *Notifier) admitLocked(out []Notice, no Notice) []Notice {
	now := n.now()
	if last, ok := n.last[no.Kind]; ok && now.Sub(last) < n.interval {
		n.held[no.Kind]++
		return out
	}
	if h := n.held[no.Kind]; h > 0 {
		no.Content += fmt.Sprintf(" (%s since the last notice.)", plural(h, "more", "more"))
		n.held[no.Kind] = 0
	}
	n.last[no.Kind] = now
	return append(out, no)
}

// noticeKindOf maps a problem code to the notification it causes.
func noticeKindOf(code string) (NoticeKind, bool) {
	switch code {
	case apitype.CodeUploadFailed:
		return NoticeUploadFailed, true
	case apitype.CodeQuotaFull:
		return NoticeQuotaFull, true
	case apitype.CodeLicenceRefused, apitype.CodeLicenceExpired:
		return NoticeLicence, true
	case apitype.CodeCheckedOut:
		return NoticeCheckedOut, true
	}
	return "", false
}
