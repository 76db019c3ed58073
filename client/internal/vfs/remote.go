// Package vfs is Mapdrive's filesystem model: directories, files and open
// handles over a Remote drive, with a persistent metadata store, a content
// cache and an upload queue underneath. It is testable without FUSE; the
// fusefs package is a thin adapter over it.
package vfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/failure"
)

// Item is the metadata of a remote file or folder, as one drive reports it.
type Item struct {
	ID       string
	ParentID string // empty for the root
	Name     string
	IsDir    bool
	Size     int64
	ETag     string
	CTag     string // content tag; empty for folders on SharePoint
	ModTime  time.Time
	// QuickXorHash is the base64 quickXorHash of a file's content.
	QuickXorHash string
	// Deleted marks a tombstone in a Delta page.
	Deleted bool
	// Shortcut, when set, makes the item a shortcut ("Add shortcut to My
	// files"): a folder whose children are those of Shortcut.ID in drive
	// Shortcut.DriveID. IsDir is true; the item itself has no content.
	Shortcut ItemRef
	// CheckedOutBy is who has the file checked out (zero when published).
	CheckedOutBy Holder
}

// Holder is a user holding a check-out.
type Holder struct {
	ID   string
	Name string // display name
}

// ItemRef names an item of any drive.
type ItemRef struct {
	DriveID string
	ID      string
}

// IsZero reports whether r names nothing.
func (r ItemRef) IsZero() bool { return r.ID == "" }

// DriveOpener is implemented by a Remote that can reach other drives with
// the same credentials: the vfs opens the target drive of a shortcut with
// it. Without it, shortcuts show as empty folders.
type DriveOpener interface {
	OpenDrive(driveID string) Remote
}

// UploadSession is a resumable upload in progress on the server.
type UploadSession struct {
	URL        string // pre-authenticated; fragments carry no Authorization header
	Expiration time.Time
	// NextOffset is where the next fragment starts (from nextExpectedRanges).
	NextOffset int64
	// Received reports that the server has every byte (nextExpectedRanges
	// is empty): the commit failed and the session waits for an explicit
	// one (SessionCommitter).
	Received bool
}

// RangeVersion is implemented by a ReadRange body that knows which
// content it carries. A download URL names no version and serves whatever
// the content is now (graph-contract.md, "Download"), so the vfs checks
// every ranged response before storing its bytes.
type RangeVersion interface {
	// RangeVersion returns the response's ETag ("" when none) and the
	// content's total size from Content-Range (-1 when unknown).
	RangeVersion() (etag string, total int64)
}

// SessionCommitter is implemented by a Remote whose upload sessions
// outlive a failed commit (a name conflict, a changed eTag or a full quota
// at the last fragment), as Graph's do: CommitUpload commits such a session
// into parentID under name, with conflict "fail" or "replace" and ifMatch
// as in CreateUploadSession. It returns ErrExist when the name is taken,
// ErrQuotaExceeded while the drive is full, ErrNotFound once the session
// expired.
type SessionCommitter interface {
	CommitUpload(ctx context.Context, s UploadSession, parentID, name, conflict, ifMatch string) (Item, error)
}

// Remote is one drive (a OneDrive or a document library) as the vfs needs
// it. The graph package implements it over Microsoft Graph. Every method
// may return the sentinel errors below, wrapped.
type Remote interface {
	// Root returns the drive's root folder.
	Root(ctx context.Context) (Item, error)
	// Get returns one item by id.
	Get(ctx context.Context, id string) (Item, error)
	// List returns every child of a folder, following paging.
	List(ctx context.Context, folderID string) ([]Item, error)
	// Delta returns changes since token ("" enumerates everything) and the
	// token for next time. It returns ErrResyncRequired for a stale token.
	Delta(ctx context.Context, token string) (changes []Item, next string, err error)

	// DownloadURL returns a short-lived pre-authenticated URL for content.
	DownloadURL(ctx context.Context, id string) (string, error)
	// ReadRange reads n bytes at off from a download URL. It returns
	// ErrURLExpired when the URL needs refreshing.
	ReadRange(ctx context.Context, url string, off, n int64) (io.ReadCloser, error)

	// PutSmall uploads a whole small file (simple upload). ifMatch, when
	// set, is the eTag the file must still have (else ErrPreconditionFailed).
	PutSmall(ctx context.Context, parentID, name string, data []byte, ifMatch string) (Item, error)
	// CreateUploadSession starts a resumable upload of size bytes.
	CreateUploadSession(ctx context.Context, parentID, name string, size int64, ifMatch string) (UploadSession, error)
	// UploadStatus reports a session's next expected offset; ErrNotFound
	// when the session expired or was cancelled.
	UploadStatus(ctx context.Context, s UploadSession) (UploadSession, error)
	// UploadFragment sends data at off of total. It returns the finished
	// item on the last fragment, and nil before.
	UploadFragment(ctx context.Context, s UploadSession, off, total int64, data []byte) (*Item, error)
	// CancelUpload deletes a session.
	CancelUpload(ctx context.Context, s UploadSession) error

	// Mkdir creates a folder; ErrNameConflict if the name is taken.
	Mkdir(ctx context.Context, parentID, name string) (Item, error)
	// Move renames and/or moves an item within the drive.
	Move(ctx context.Context, id, newParentID, newName, ifMatch string) (Item, error)
	// Delete moves an item to the recycle bin.
	Delete(ctx context.Context, id, ifMatch string) error
	// SetModTime sets an item's modification time as the client reports
	// it (fileSystemInfo.lastModifiedDateTime), which listings return.
	SetModTime(ctx context.Context, id string, t time.Time) (Item, error)
}

// Sentinel errors, OS-neutral. fusefs maps them to errnos in one place.
// Those that are client-wide failure kinds are the failure package's own
// values; test for the kind (failure.Offline), not the variant, when
// any package may have reported it.
var (
	ErrNotFound     = failure.NotFound
	ErrExist        = errors.New("already exists")
	ErrNameConflict = ErrExist
	ErrNotEmpty     = errors.New("folder not empty")
	ErrNotDir       = errors.New("not a folder")
	ErrIsDir        = errors.New("is a folder")
	ErrAccessDenied = errors.New("access denied")
	// ErrLocked is the refusal of a change to a file checked out by
	// someone else, or (in a library that requires check-out) not checked
	// out at all. It is an ErrAccessDenied (EACCES).
	ErrLocked             = fmt.Errorf("%w: checked out", ErrAccessDenied)
	ErrReadOnly           = errors.New("drive is read-only")
	ErrPreconditionFailed = errors.New("item changed on the server (eTag mismatch)")
	ErrQuotaExceeded      = failure.Quota
	ErrInvalidName        = failure.InvalidName
	// ErrNameTooLong is the invalid name that is too long: a name over
	// MaxNameBytes, or a path over SharePoint's MaxPathChars. It is an
	// ErrInvalidName too (errors.Is), so code that asks "is the name
	// refused?" needs no second case.
	ErrNameTooLong = fmt.Errorf("%w: name or path too long", ErrInvalidName)
	// ErrIntoItself refuses to move a folder into itself or below it.
	ErrIntoItself = errors.New("a folder cannot move into itself")
	// ErrCrossDevice refuses a move between two drives presented in one
	// tree (a combined drive's libraries): Graph moves items within a
	// drive only, and the errno it becomes (EXDEV) makes mv copy and
	// delete instead.
	ErrCrossDevice    = errors.New("cannot move between libraries")
	ErrResyncRequired = errors.New("delta token expired; resync required")
	// ErrResyncUploadDifferences is a resync whose server asks the client
	// to upload the local items it did not return (inner code
	// resyncChangesUploadDifferences); it is also ErrResyncRequired.
	ErrResyncUploadDifferences = fmt.Errorf("%w: upload the local items the server did not return", ErrResyncRequired)
	ErrURLExpired              = errors.New("download URL expired")
	// ErrContentChanged means the content changed on the server while it
	// was being downloaded: the new version's bytes were not stored under
	// the old version.
	ErrContentChanged  = errors.New("content changed on the server during the download")
	ErrOffline         = failure.Offline
	ErrUnauthenticated = failure.SignInExpired
)
