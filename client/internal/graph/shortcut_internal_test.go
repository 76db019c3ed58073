package graph

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

// shortcutJSON is a shortcut ("Add shortcut to My files") as a listing of
// the user's OneDrive returns it: remoteItem and no folder or file facet
// (graph-contract.md, Delta; Microsoft Graph, "remoteItem resource type").
const shortcutJSON = `{"id":"S1","name":"Finance Reports","eTag":"\"{S},1\"","size":0,
 "lastModifiedDateTime":"2026-12-01T10:00:00Z",
 "parentReference":{"driveType":"business","driveId":"b!me","id":"ROOT"},
 "remoteItem":{"id":"T1","name":"Reports","size":22,"folder":{"childCount":1},
  "parentReference":{"driveId":"b!fin","driveType":"documentLibrary","id":"FROOT"},
  "webUrl":"https://contoso.sharepoint.com/sites/Finance/Shared%20Documents/Reports"}}`

// A shortcut decodes as a folder that names its target, never as a 0-byte
// file, on the plain path (listings, delta) and the SDK path alike.
func TestShortcutDecodesAsFolder(t *testing.T) {
	want := vfs.Item{ID: "S1", ParentID: "ROOT", Name: "Finance Reports", IsDir: true, ETag: `"{S},1"`,
		ModTime: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), Shortcut: vfs.ItemRef{DriveID: "b!fin", ID: "T1"}}
	var j itemJSON
	if err := json.Unmarshal([]byte(shortcutJSON), &j); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, j.item()); diff != "" {
		t.Errorf("itemJSON.item() mismatch (-want +got):\n%s", diff)
	}
	d, err := parseDriveItem([]byte(shortcutJSON))
	if err != nil {
		t.Fatal(err)
	}
	got := toItem(d)
	got.ModTime = got.ModTime.UTC()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("toItem mismatch (-want +got):\n%s", diff)
	}
}
