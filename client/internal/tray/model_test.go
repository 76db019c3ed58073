package tray

import (
	"errors"
	"strings"
	"testing"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

func TestBadgeAndSummary(t *testing.T) {
	mod := func(f func(*apitype.Status)) apitype.Status {
		st := demoStatus()
		f(&st)
		return st
	}
	idle := mod(func(s *apitype.Status) { s.Transfers = nil })
	tests := []struct {
		name    string
		st      apitype.Status
		badge   Badge
		summary string
	}{
		{"up to date", idle, BadgeOK, "Up to date"},
		{"syncing", demoStatus(), BadgeSyncing, "Syncing 1 file"},
		{"offline", mod(func(s *apitype.Status) { s.Online = false }), BadgeOffline, "Offline: changes will upload later"},
		{"signed out", mod(func(s *apitype.Status) { s.SignIn = apitype.SignedOut; s.Account = nil }), BadgeAttention, "Not signed in"},
		{"expired", mod(func(s *apitype.Status) { s.SignIn = apitype.SignInExpired }), BadgeAttention, "Sign-in expired: sign in again"},
		{"licence refused", mod(func(s *apitype.Status) { s.Licence.State = apitype.LicenceRefused }), BadgeAttention, "Licence refused"},
		{"problems", mod(func(s *apitype.Status) {
			s.Errors = []apitype.Problem{{Code: apitype.CodeUploadFailed}, {Code: apitype.CodeQuotaFull}}
		}), BadgeAttention, "2 problems need attention"},
		{"drive error", mod(func(s *apitype.Status) { s.Drives[0].State = apitype.DriveError }), BadgeAttention, "Syncing 1 file"},
		{"paused", mod(func(s *apitype.Status) { s.UploadsPaused = true; s.Transfers[0].State = "paused" }), BadgeOK, "Uploads paused (1 file waiting)"},
		{"paused idle", mod(func(s *apitype.Status) { s.UploadsPaused = true; s.Transfers = nil }), BadgeOK, "Uploads paused"},
		{"bandwidth limited", mod(func(s *apitype.Status) {
			s.Bandwidth = apitype.Bandwidth{DownloadLimit: 20_000_000, DownloadLimited: true}
		}), BadgeSyncing, "Syncing 1 file, slowed by your organisation's bandwidth limit"},
		{"limit set, not limiting", mod(func(s *apitype.Status) { s.Bandwidth = apitype.Bandwidth{DownloadLimit: 20_000_000} }), BadgeSyncing, "Syncing 1 file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := BadgeFor(tt.st); got != tt.badge {
				t.Errorf("BadgeFor = %v, want %v", got, tt.badge)
			}
			if got := Summary(tt.st); got != tt.summary {
				t.Errorf("Summary = %q, want %q", got, tt.summary)
			}
		})
	}
}

func TestLabels(t *testing.T) {
	st := demoStatus()
	tests := []struct {
		name, got, want string
	}{
		{"target onedrive", TargetLabel(st.Drives[0]), "OneDrive"},
		{"target sharepoint", TargetLabel(st.Drives[1]), "SharePoint · Finance › Documents"},
		{"target team", TargetLabel(st.Drives[2]), "Teams · Sales › General"},
		{"target combined", TargetLabel(apitype.Drive{Kind: "combined", Target: "2 libraries: Finance, Sales"}), "Combined drive · 2 libraries: Finance, Sales"},
		{"menu mounted", MenuLabel(st.Drives[0]), "OneDrive (/home/alice/Mapdrive/OneDrive) — Connected"},
		{"menu unmounted", MenuLabel(st.Drives[1]), "Finance — Not connected"},
		{"menu letter", MenuLabel(apitype.Drive{Name: "HR", State: apitype.DriveMounted, Mountpoint: "H:", ReadOnly: true}), "HR (H:) — Connected (read-only)"},
		{"state error", StateLabel(apitype.Drive{State: apitype.DriveError, Error: &apitype.Problem{Message: "the mount point is busy"}}), "Problem: the mount point is busy"},
		{"bytes small", Bytes(512), "512 B"},
		{"bytes KB", Bytes(1536), "1.5 KB"},
		{"bytes MB", Bytes(3 << 20), "3.0 MB"},
		{"bytes GB", Bytes(5 << 30), "5.0 GB"},
		{"transfer", TransferLabel(st.Transfers[0], "Sales"), "Uploading deck.pptx in Sales (3.0 MB of 8.0 MB)"},
		{"transfer queued", TransferLabel(apitype.Transfer{Path: "/a/b.txt", Direction: apitype.Download, State: "queued"}, ""), "Waiting to download b.txt"},
		{"transfer retry", TransferLabel(apitype.Transfer{Path: "x", Direction: apitype.Upload, State: "retrying", Attempts: 2}, "D"), "Retrying (attempt 3) x in D"},
		{"problem with action", ProblemText(apitype.Problem{Code: apitype.CodeMountFailed, Message: "mount failed", Action: "Close programs using it."}), "Mount failed. Close programs using it."},
		{"problem hint", ProblemText(apitype.Problem{Code: apitype.CodeQuotaFull, Message: "the drive is full"}), "The drive is full. Free some space in the drive, or ask your IT administrator for more."},
		{"problem bare", ProblemText(apitype.Problem{Code: apitype.CodeInternal, Message: "boom"}), "Boom."},
		{"conflict folder", ConflictFolder(apitype.Conflict{Drive: "d-sales", Path: "/Pitch/deck.pptx"}, st.Drives), "/home/alice/Mapdrive/Sales/Pitch"},
		{"conflict unmounted", ConflictFolder(apitype.Conflict{Drive: "m-finance", Path: "/a.xlsx"}, st.Drives), ""},
		{"conflict root", ConflictFolder(apitype.Conflict{Drive: "d-onedrive", Path: "a.docx"}, st.Drives), "/home/alice/Mapdrive/OneDrive"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s = %q, want %q", tt.name, tt.got, tt.want)
		}
	}
	if f, ok := Progress(st.Transfers[0]); !ok || f != 0.375 {
		t.Errorf("Progress = %v, %v, want 0.375, true", f, ok)
	}
	if _, ok := Progress(apitype.Transfer{Done: 5}); ok {
		t.Errorf("Progress of unknown total reports known")
	}
}

func TestSignInMessage(t *testing.T) {
	consent := apitype.NewError(apitype.CodeConsentRequired, "an administrator must approve Mapdrive", "")
	consent.URL = "https://login.example/adminconsent?client_id=x"
	tests := []struct {
		name      string
		err       error
		want, url string
	}{
		{"consent", consent, "An IT administrator must grant consent", consent.URL},
		{"licence", apitype.NewError(apitype.CodeLicenceRefused, "no seats left", ""), "could not get a licence for you: no seats left. Ask your IT administrator for a Mapdrive licence.", ""},
		{"other agent error", apitype.NewError(apitype.CodeOffline, "the sign-in service did not answer", "Check the network."), "Sign-in failed: The sign-in service did not answer. Check the network.", ""},
		{"plain error", errors.New("socket closed"), "Sign-in failed: socket closed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, url := SignInMessage(tt.err)
			if !strings.Contains(got, tt.want) || url != tt.url {
				t.Errorf("SignInMessage = %q, %q; want it to contain %q, url %q", got, url, tt.want, tt.url)
			}
		})
	}
}
