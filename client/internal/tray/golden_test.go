package tray

import (
	"bytes"
	"flag"
	"image"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"github.com/mapdrive/mapdrive/shared/apitype"
)

var update = flag.Bool("update", false, "rewrite the golden images in testdata/golden")

// Tolerances of the golden comparison: a pixel differs when a channel is
// off by more than pixelTolerance; an image matches when at most
// maxDifferent of its pixels differ (font hinting, anti-aliasing).
const (
	pixelTolerance = 24
	maxDifferent   = 0.004
)

// assertGolden compares img with testdata/golden/name.png (or writes it
// with -update). A mismatch leaves the image in testdata/failed/.
func assertGolden(t *testing.T, name string, img image.Image) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name+".png")
	if *update {
		if err := writePNG(path, img); err != nil {
			t.Fatal(err)
		}
		return
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden image (run with -update to make it): %v", err)
	}
	want, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	diff, total := imageDiff(img, want)
	if diff < 0 || float64(diff) > maxDifferent*float64(total) {
		failed := filepath.Join("testdata", "failed", name+".png")
		_ = writePNG(failed, img)
		if diff < 0 {
			t.Fatalf("%s: size %v, golden %v; got image in %s", name, img.Bounds().Size(), want.Bounds().Size(), failed)
		}
		t.Fatalf("%s: %d of %d pixels differ from the golden image (at most %.1f%% may); got image in %s",
			name, diff, total, maxDifferent*100, failed)
	}
}

// imageDiff counts the pixels of a and b that differ beyond
// pixelTolerance; -1 when their sizes differ.
func imageDiff(a, b image.Image) (diff, total int) {
	if a.Bounds().Size() != b.Bounds().Size() {
		return -1, 0
	}
	na, nb := toNRGBA(a), toNRGBA(b)
	for i := 0; i < len(na.Pix); i += 4 {
		for c := 0; c < 4; c++ {
			d := int(na.Pix[i+c]) - int(nb.Pix[i+c])
			if d > pixelTolerance || d < -pixelTolerance {
				diff++
				break
			}
		}
	}
	return diff, len(na.Pix) / 4
}

func toNRGBA(img image.Image) *image.NRGBA {
	if n, ok := img.(*image.NRGBA); ok && n.Bounds().Min == (image.Point{}) && n.Stride == 4*n.Bounds().Dx() {
		return n
	}
	n := image.NewNRGBA(image.Rect(0, 0, img.Bounds().Dx(), img.Bounds().Dy()))
	draw.Draw(n, n.Bounds(), img, img.Bounds().Min, draw.Src)
	return n
}

func writePNG(path string, img image.Image) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func TestGoldenWindow(t *testing.T) {
	consent := apitype.NewError(apitype.CodeConsentRequired, "an administrator must approve Mapdrive", "")
	consent.URL = "https://login.example/contoso/adminconsent"
	tests := []struct {
		name  string
		tab   string
		setup func(h *harness)
	}{
		{"drives", "Drives", func(h *harness) { h.ui.SetStatus(demoStatus()) }},
		{"activity", "Activity", func(h *harness) {
			st := demoStatus()
			st.Transfers = append(st.Transfers, apitype.Transfer{ID: "t2", Drive: "d-onedrive", Path: "/Projects/plan.docx",
				Direction: apitype.Download, State: "queued"})
			st.Errors = []apitype.Problem{{Code: apitype.CodeUploadFailed, Message: "could not upload notes.txt", Drive: "d-sales"}}
			st.Conflicts = []apitype.Conflict{{Drive: "d-sales", Path: "/Pitch/deck.pptx", ConflictPath: "/Pitch/deck (conflict).pptx", Time: t0}}
			h.ui.SetStatus(st)
		}},
		{"settings", "Settings", func(h *harness) { h.ui.SetStatus(demoStatus()) }},
		{"consent", "Drives", func(h *harness) {
			st := demoStatus()
			st.SignIn, st.Account, st.Drives, st.Transfers = apitype.SignedOut, nil, nil, nil
			h.ui.SetStatus(st)
			h.agent.loginResp = apitype.LoginResponse{Prompt: &apitype.LoginPrompt{AuthURL: "https://login.example/authorize"}}
			h.agent.waitErr = consent
			h.ui.SignIn()
		}},
		// The first-run message: Windows without WinFsp, Finance's mount
		// refused, the message over the window.
		{"driver-missing", "Drives", func(h *harness) { h.ui.SetStatus(driverMissingStatus()) }},
		// Closed, the message leaves the problem on the drive's row and
		// in the banner, each with a way back to it.
		{"driver-missing-closed", "Drives", func(h *harness) {
			h.ui.SetStatus(driverMissingStatus())
			test.Tap(h.dialogButton(t, LabelClose))
		}},
	}
	// Options beyond newHarness's, by test.
	windows := func(o *Options) { o.GOOS = "windows" }
	opts := map[string]func(*Options){"driver-missing": windows, "driver-missing-closed": windows}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarnessWith(t, opts[tt.name])
			tt.setup(h)
			h.selectTab(tt.tab)
			w := h.ui.Window()
			w.Resize(fyne.NewSize(720, 520))
			w.Content().Refresh() // a second layout pass settles wrapped labels' heights
			assertGolden(t, "window-"+tt.name, w.Canvas().Capture())
		})
	}
}

func TestGoldenTrayIcons(t *testing.T) {
	base, err := png.Decode(bytes.NewReader(mark64))
	if err != nil {
		t.Fatal(err)
	}
	badges := []Badge{BadgeOK, BadgeSyncing, BadgeOffline, BadgeAttention}
	strip := image.NewNRGBA(image.Rect(0, 0, 64*len(badges), 64))
	for i, b := range badges {
		img := BadgedIcon(base, b)
		draw.Draw(strip, image.Rect(64*i, 0, 64*(i+1), 64), img, image.Point{}, draw.Src)
		// The badge corner must differ from the plain mark, and the
		// opposite corner must not.
		if d, _ := imageDiff(img.SubImage(image.Rect(40, 40, 64, 64)), toNRGBA(base).SubImage(image.Rect(40, 40, 64, 64))); d < 100 {
			t.Errorf("badge %v changed only %d pixels of the corner", b, d)
		}
		if d, _ := imageDiff(img.SubImage(image.Rect(0, 0, 24, 24)), toNRGBA(base).SubImage(image.Rect(0, 0, 24, 24))); d != 0 {
			t.Errorf("badge %v changed %d pixels away from the corner", b, d)
		}
	}
	assertGolden(t, "tray-icons", strip)

	icons, err := NewIcons()
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range badges {
		if _, err := png.Decode(bytes.NewReader(icons.Badge[b].Content())); err != nil {
			t.Errorf("tray icon %v is not a PNG: %v", b, err)
		}
	}
}
