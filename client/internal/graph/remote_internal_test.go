package graph

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

func TestOrderChanges(t *testing.T) {
	in := []vfs.Item{
		{ID: "f1", ParentID: "b", Name: "old"},
		{ID: "gone", ParentID: "root", Deleted: true},
		{ID: "c", ParentID: "b", IsDir: true},
		{ID: "f2", ParentID: "c"},
		{ID: "b", ParentID: "a", IsDir: true},
		{ID: "a", ParentID: "root", IsDir: true},
		{ID: "f1", ParentID: "b", Name: "new"},
		{ID: "root", IsDir: true},
		{ID: "outside", ParentID: "unknown"},
	}
	var got []string
	for _, it := range orderChanges(in) {
		got = append(got, it.ID+":"+it.Name)
	}
	// Depth within the feed: root 0, a 1, b 2, c 3, f1 3, f2 4; outside 0.
	want := []string{"root:", "outside:", "a:", "b:", "c:", "f1:new", "f2:", "gone:"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("orderChanges (-want +got):\n%s", diff)
	}
}

func TestRedactURL(t *testing.T) {
	secret := "https://contoso.sharepoint.com/_layouts/15/download.aspx?UniqueId=1&tempauth=SECRET"
	err := redactURL(&url.Error{Op: "Get", URL: secret, Err: errors.New("connection reset")})
	if strings.Contains(err.Error(), "SECRET") || strings.Contains(err.Error(), "download.aspx") {
		t.Errorf("redacted error %q still shows the URL", err)
	}
	if !strings.Contains(err.Error(), "contoso.sharepoint.com") || !strings.Contains(err.Error(), "connection reset") {
		t.Errorf("redacted error %q lost the host or the cause", err)
	}
}
