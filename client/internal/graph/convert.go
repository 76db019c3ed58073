package graph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	jsonserialization "github.com/microsoft/kiota-serialization-json-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

// toItem converts the SDK's driveItem to the vfs's Item.
func toItem(d models.DriveItemable) vfs.Item {
	it := vfs.Item{
		ID:      deref(d.GetId()),
		Name:    deref(d.GetName()),
		ETag:    deref(d.GetETag()),
		CTag:    deref(d.GetCTag()),
		IsDir:   d.GetFolder() != nil || d.GetRoot() != nil || d.GetPackageEscaped() != nil,
		Deleted: d.GetDeleted() != nil,
	}
	if ri := d.GetRemoteItem(); ri != nil && !it.Deleted {
		it.Shortcut.ID = deref(ri.GetId())
		if pr := ri.GetParentReference(); pr != nil {
			it.Shortcut.DriveID = deref(pr.GetDriveId())
		}
		it.IsDir = true
	}
	if d.GetRoot() == nil {
		if pr := d.GetParentReference(); pr != nil {
			it.ParentID = deref(pr.GetId())
		}
	}
	if s := d.GetSize(); s != nil && !it.IsDir {
		it.Size = *s
	}
	if t := d.GetLastModifiedDateTime(); t != nil {
		it.ModTime = *t
	}
	if fsi := d.GetFileSystemInfo(); fsi != nil && fsi.GetLastModifiedDateTime() != nil {
		it.ModTime = *fsi.GetLastModifiedDateTime()
	}
	if f := d.GetFile(); f != nil && f.GetHashes() != nil {
		it.QuickXorHash = deref(f.GetHashes().GetQuickXorHash())
	}
	if p := d.GetPublication(); p != nil && strings.EqualFold(deref(p.GetLevel()), "checkout") {
		it.CheckedOutBy = vfs.Holder{Name: "someone"}
		if by := p.GetCheckedOutBy(); by != nil && by.GetUser() != nil {
			it.CheckedOutBy = vfs.Holder{ID: deref(by.GetUser().GetId()), Name: deref(by.GetUser().GetDisplayName())}
		}
	}
	return it
}

// downloadURLOf returns a driveItem's @microsoft.graph.downloadUrl, if any.
func downloadURLOf(d models.DriveItemable) string {
	if v, ok := d.GetAdditionalData()["@microsoft.graph.downloadUrl"].(*string); ok {
		return deref(v)
	}
	return ""
}

// parseDriveItem decodes a driveItem from a plain HTTP response body with
// the SDK's own JSON parse node, so that plain and SDK calls agree.
func parseDriveItem(body []byte) (models.DriveItemable, error) {
	node, err := jsonserialization.NewJsonParseNode(body)
	if err != nil {
		return nil, fmt.Errorf("decode driveItem: %w", err)
	}
	v, err := node.GetObjectValue(models.CreateDriveItemFromDiscriminatorValue)
	if err != nil {
		return nil, fmt.Errorf("decode driveItem: %w", err)
	}
	d, ok := v.(models.DriveItemable)
	if !ok || d.GetId() == nil {
		return nil, fmt.Errorf("decode driveItem: no item in %d bytes", len(body))
	}
	return d, nil
}

// sessionStatus is an upload session's JSON (creation or status).
type sessionStatus struct {
	UploadURL          string    `json:"uploadUrl"`
	ExpirationDateTime time.Time `json:"expirationDateTime"`
	NextExpectedRanges []string  `json:"nextExpectedRanges"`
}

// nextOffset reads the start of the first of nextExpectedRanges ("26-" or
// "0-1023"); 0 when there are none.
func nextOffset(ranges []string) int64 {
	if len(ranges) == 0 {
		return 0
	}
	var start int64
	if _, err := fmt.Sscanf(ranges[0], "%d", &start); err != nil {
		return 0
	}
	return start
}

func decodeSession(resp *http.Response) (sessionStatus, error) {
	defer resp.Body.Close()
	var s sessionStatus
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return s, err
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&s); err != nil {
		return s, fmt.Errorf("decode upload session: %w", err)
	}
	return s, nil
}

// itemJSON is the part of a driveItem the vfs needs, for the pages decoded
// without the SDK (listings and delta).
type itemJSON struct {
	ID                   string    `json:"id"`
	Name                 string    `json:"name"`
	ETag                 string    `json:"eTag"`
	CTag                 string    `json:"cTag"`
	Size                 int64     `json:"size"`
	LastModifiedDateTime time.Time `json:"lastModifiedDateTime"`
	ParentReference      *struct {
		ID string `json:"id"`
	} `json:"parentReference"`
	FileSystemInfo *struct {
		LastModifiedDateTime time.Time `json:"lastModifiedDateTime"`
	} `json:"fileSystemInfo"`
	File *struct {
		Hashes *struct {
			QuickXorHash string `json:"quickXorHash"`
		} `json:"hashes"`
	} `json:"file"`
	Folder      *struct{}        `json:"folder"`
	Package     *struct{}        `json:"package"`
	Publication *publicationJSON `json:"publication"`
	Root        *struct{}        `json:"root"`
	Deleted     *struct{}        `json:"deleted"`
	// RemoteItem marks a shortcut to a folder of another drive; the item
	// has no folder facet of its own (graph-contract.md, Delta).
	RemoteItem *struct {
		ID              string `json:"id"`
		ParentReference *struct {
			DriveID string `json:"driveId"`
		} `json:"parentReference"`
	} `json:"remoteItem"`
}

// item converts like toItem does for the SDK's model.
func (j *itemJSON) item() vfs.Item {
	it := vfs.Item{
		ID:      j.ID,
		Name:    j.Name,
		ETag:    j.ETag,
		CTag:    j.CTag,
		IsDir:   j.Folder != nil || j.Root != nil || j.Package != nil,
		Deleted: j.Deleted != nil,
		ModTime: j.LastModifiedDateTime,
	}
	if j.Root == nil && j.ParentReference != nil {
		it.ParentID = j.ParentReference.ID
	}
	if j.RemoteItem != nil && !it.Deleted {
		// A shortcut is a folder whose content lives in the other drive,
		// never a 0-byte file.
		it.IsDir = true
		it.Shortcut.ID = j.RemoteItem.ID
		if j.RemoteItem.ParentReference != nil {
			it.Shortcut.DriveID = j.RemoteItem.ParentReference.DriveID
		}
	}
	if !it.IsDir {
		it.Size = j.Size
	}
	if j.FileSystemInfo != nil && !j.FileSystemInfo.LastModifiedDateTime.IsZero() {
		it.ModTime = j.FileSystemInfo.LastModifiedDateTime
	}
	if j.File != nil && j.File.Hashes != nil {
		it.QuickXorHash = j.File.Hashes.QuickXorHash
	}
	it.CheckedOutBy = j.Publication.holder()
	return it
}

// publicationJSON is the publicationFacet (Graph v1.0): a file checked out
// shows level "checkout" and, in v1.0, who holds it (docs/checkout.md).
type publicationJSON struct {
	Level        string `json:"level"`
	CheckedOutBy *struct {
		User *struct {
			ID          string `json:"id"`
			DisplayName string `json:"displayName"`
		} `json:"user"`
	} `json:"checkedOutBy"`
}

// holder returns who holds the check-out; zero when published or absent.
// A check-out without a named holder still counts, as "someone".
func (p *publicationJSON) holder() vfs.Holder {
	if p == nil || !strings.EqualFold(p.Level, "checkout") {
		return vfs.Holder{}
	}
	if p.CheckedOutBy == nil || p.CheckedOutBy.User == nil {
		return vfs.Holder{Name: "someone"}
	}
	return vfs.Holder{ID: p.CheckedOutBy.User.ID, Name: p.CheckedOutBy.User.DisplayName}
}

// pageJSON is one page of a collection (children or delta).
type pageJSON struct {
	Value     []itemJSON `json:"value"`
	NextLink  string     `json:"@odata.nextLink"`
	DeltaLink string     `json:"@odata.deltaLink"`
}
