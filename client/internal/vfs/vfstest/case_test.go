package vfstest

// Case handling: Windows (CaseInsensitive) finds names in any case and
// keeps the case they were created with; elsewhere lookups are exact
// (the conformance case NamespaceOperations covers the refused case
// twins there).

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

func TestCaseInsensitiveLookupPreservesCase(t *testing.T) {
	bubble(t, func(t *testing.T) {
		e := newEnv(t, func(o *vfs.Options, _ *MemRemote) { o.CaseInsensitive = true })
		ctx := context.Background()
		orig := e.remote.WriteFile("/Reports/Report.docx", []byte("v1"))
		e.write("/a.txt", []byte("small a"))
		e.sync()

		// Opening report.DOCX finds Report.docx, through a folder typed in
		// another case too.
		if got, err := e.read("/REPORTS/report.DOCX"); err != nil || string(got) != "v1" {
			t.Fatalf("read /REPORTS/report.DOCX = %q, %v; want v1", got, err)
		}
		if at, err := e.fs.Stat(ctx, "/reports/REPORT.docx"); err != nil || at.Name != "Report.docx" {
			t.Fatalf("Stat = %+v, %v; want the name as created, Report.docx", at, err)
		}
		// Creating A.txt where a.txt exists opens a.txt.
		e.write("/A.txt", []byte("big A"))
		e.sync()
		if got := e.names("/"); !slices.Equal(got, []string{"Reports", "a.txt"}) {
			t.Errorf("local names = %v, want [Reports a.txt]", got)
		}
		e.remoteHas("/a.txt", []byte("big A"))
		if _, err := e.fs.Open(ctx, "/A.TXT", vfs.OpenFlags{Create: true, Excl: true, Write: true}); !errors.Is(err, vfs.ErrExist) {
			t.Errorf("exclusive create of A.TXT = %v, want ErrExist", err)
		}
		if err := e.fs.Mkdir(ctx, "/reports"); !errors.Is(err, vfs.ErrExist) {
			t.Errorf("Mkdir(reports) = %v, want ErrExist", err)
		}
		// Saving over report.DOCX updates the same item.
		e.write("/reports/report.DOCX", []byte("v2"))
		e.sync()
		if it, ok := e.remote.Lookup("/Reports/Report.docx"); !ok || it.ID != orig.ID {
			t.Errorf("Report.docx id = %q (found %v), want %q", it.ID, ok, orig.ID)
		}
		e.remoteHas("/Reports/Report.docx", []byte("v2"))
		// Renaming to another case only changes the case, here and there.
		must(t, e.fs.Rename(ctx, "/a.txt", "/A.txt"))
		e.sync()
		if got := e.names("/"); !slices.Equal(got, []string{"A.txt", "Reports"}) {
			t.Errorf("local names after case rename = %v", got)
		}
		if got := e.remote.Names("/"); !slices.Equal(got, []string{"A.txt", "Reports"}) {
			t.Errorf("remote names after case rename = %v", got)
		}
	})
}
