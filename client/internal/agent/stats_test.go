package agent

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/client/internal/vfs/vfstest"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// A name SharePoint refuses shows in the mount's status as name_refused,
// naming the file and asking for a rename, not as an upload that will be
// retried.
func TestStatsReportRefusedNames(t *testing.T) {
	fsys, err := vfs.New(context.Background(), vfs.Options{Remote: vfstest.NewMemRemote(), StateDir: t.TempDir(),
		CacheDir: t.TempDir(), CacheKey: make([]byte, 32), PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer fsys.Close()
	if err := fsys.Mkdir(context.Background(), "/Reports/CON"); !errors.Is(err, vfs.ErrInvalidName) {
		t.Fatalf("Mkdir(/Reports/CON) = %v, want ErrInvalidName", err)
	}
	st := (&fsMount{fs: fsys}).Stats()
	if len(st.Errors) != 1 {
		t.Fatalf("Errors = %+v, want one", st.Errors)
	}
	p := st.Errors[0]
	if p.Code != apitype.CodeNameRefused || !strings.Contains(p.Message, "/Reports/CON") || strings.Contains(p.Action, "retries") {
		t.Errorf("problem = %+v, want %s naming /Reports/CON", p, apitype.CodeNameRefused)
	}
}
