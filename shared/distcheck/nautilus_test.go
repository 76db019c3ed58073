package distcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNautilusCopyLink runs the .deb's Nautilus script with a fake
// mapdrive, clipboard and notifier on PATH: the links of the files
// Nautilus selected (paths with spaces) go to the clipboard, one per line;
// a refused link is reported with mapdrive's own words and fails the
// script; without a clipboard tool the links are shown instead.
func TestNautilusCopyLink(t *testing.T) {
	requireTools(t, "sh", "sed", "basename")
	script := filepath.Join(repoRoot(t), "installer", "linux", "nautilus", "Mapdrive", "Copy link")
	bin := t.TempDir()
	logDir := t.TempDir()
	fake := func(name, body string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// mapdrive link -- PATH: a link per file, links disabled for secret.txt.
	fake("mapdrive", `[ "$1" = link ] && [ "$2" = -- ] || { echo "bad args: $*" >&2; exit 2; }
case "$3" in
*secret.txt) echo "mapdrive: your organisation's Mapdrive policy does not allow sharing links (link scope: none)" >&2; exit 1;;
esac
echo "https://contoso.sharepoint.com/:u:/g/$(basename "$3" | tr ' ' _)"`)
	fake("xclip", `[ "$1 $2" = "-selection clipboard" ] || exit 2; cat > `+logDir+`/clipboard`)
	fake("notify-send", `echo "$@" >> `+logDir+`/notices`)
	for _, tool := range []string{"sh", "sed", "basename", "cat", "tr"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatal(err)
		}
		os.Symlink(p, filepath.Join(bin, tool))
	}
	run := func(selected string, args ...string) (string, error) {
		cmd := exec.Command(script, args...)
		cmd.Env = []string{"PATH=" + bin, "NAUTILUS_SCRIPT_SELECTED_FILE_PATHS=" + selected}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	read := func(name string) string {
		b, _ := os.ReadFile(filepath.Join(logDir, name))
		os.Remove(filepath.Join(logDir, name))
		return string(b)
	}

	sel := "/home/alice/Mapdrive/Finance/Reports/Q1 final.txt\n/home/alice/Mapdrive/Finance/Budget.xlsx\n"
	if out, err := run(sel, "ignored because Nautilus gave the paths"); err != nil {
		t.Fatalf("Copy link: %v\n%s", err, out)
	}
	if got, want := read("clipboard"), "https://contoso.sharepoint.com/:u:/g/Q1_final.txt\nhttps://contoso.sharepoint.com/:u:/g/Budget.xlsx"; got != want {
		t.Errorf("clipboard = %q, want %q", got, want)
	}
	if got := read("notices"); !strings.Contains(got, "Link copied") {
		t.Errorf("notices = %q, want one saying the link was copied", got)
	}

	// Without NAUTILUS_SCRIPT_SELECTED_FILE_PATHS (a remote folder), the
	// arguments are the selection.
	if out, err := run("", "/home/alice/Mapdrive/Finance/a b.txt"); err != nil {
		t.Fatalf("Copy link with arguments: %v\n%s", err, out)
	}
	if got := read("clipboard"); got != "https://contoso.sharepoint.com/:u:/g/a_b.txt" {
		t.Errorf("clipboard from arguments = %q", got)
	}
	read("notices")

	if _, err := run("/home/alice/Mapdrive/Finance/secret.txt\n"); err == nil {
		t.Error("Copy link of a file whose link is refused succeeded, want a failure")
	}
	if got := read("notices"); !strings.Contains(got, "could not copy a link") || !strings.Contains(got, "secret.txt: mapdrive: your organisation's Mapdrive policy does not allow sharing links") {
		t.Errorf("notices for a refused link = %q, want the reason", got)
	}
	if got := read("clipboard"); got != "" {
		t.Errorf("clipboard after a refused link = %q, want it untouched", got)
	}

	// No clipboard tool: the link is shown so it can be copied by hand.
	os.Remove(filepath.Join(bin, "xclip"))
	if out, err := run("/home/alice/Mapdrive/Finance/Budget.xlsx\n"); err != nil {
		t.Fatalf("Copy link without a clipboard tool: %v\n%s", err, out)
	}
	if got := read("notices"); !strings.Contains(got, "https://contoso.sharepoint.com/:u:/g/Budget.xlsx") {
		t.Errorf("notices without a clipboard tool = %q, want the link shown", got)
	}
}
