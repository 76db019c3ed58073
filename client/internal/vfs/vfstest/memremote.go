// Package vfstest holds MemRemote, an in-memory drive that honours the
// vfs.Remote contract (eTags and 412, upload sessions with the 320 KiB
// rule and expiry, delta with tombstones and 410, expiring download URLs,
// quota), with fault injection; and the conformance suite of filesystem
// behaviours, Run, which runs against any Target over it: a vfs.FS here,
// a real FUSE mount in fusefs.
package vfstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
	"github.com/mapdrive/mapdrive/shared/quickxorhash"
)

// FragmentUnit is the multiple every non-final fragment must be.
const FragmentUnit = 320 << 10

// ErrTransient is what an injected fault returns (a 5xx or dropped
// connection after the Graph client's own retries).
var ErrTransient = errors.New("injected transient server error")

type node struct {
	item    vfs.Item
	content []byte
}

type session struct {
	parentID, name, ifMatch string
	size                    int64
	data                    []byte
	expires                 time.Time
}

// MemRemote is an in-memory drive. It is safe for concurrent use.
type MemRemote struct {
	// Now is the clock (for URL and session expiry); set before use.
	Now func() time.Time
	// URLLifetime is how long download URLs work; 0 means an hour.
	URLLifetime time.Duration
	// SessionLifetime is how long an idle upload session lives; 0 means
	// an hour.
	SessionLifetime time.Duration
	// RewriteOffice makes the drive append properties to uploaded Office
	// documents, as SharePoint does.
	RewriteOffice bool
	// QuotaBytes is the drive size; 0 means unlimited.
	QuotaBytes int64

	mu       sync.Mutex // guards everything below
	nodes    map[string]*node
	kids     map[string]map[string]string // parent id -> lower-case name -> id
	used     int64                        // content bytes stored
	rootID   string
	seq      int64
	log      []change // ordered by seq
	tokenGen int      // tokens of older generations get 410
	// resyncUpload: that 410 asks to upload differences, not apply them.
	resyncUpload bool
	sessions     map[string]*session
	offline      bool
	faults       float64
	rng          *rand.Rand
	failNext     map[string][]error
	hooks        map[string]func() error
	calls        map[string]int
	read         int64 // content bytes served
	frags        []int64
	corrupt      int // uploads still to store with a flipped byte
	nextID       int
	idPrefix     string                // "ID" for the mounted drive
	drives       map[string]*MemRemote // other drives, for shortcuts
}

type change struct {
	seq  int64
	id   string
	tomb *vfs.Item
}

// NewMemRemote returns an empty drive.
func NewMemRemote() *MemRemote {
	m := &MemRemote{Now: time.Now, nodes: map[string]*node{}, kids: map[string]map[string]string{}, sessions: map[string]*session{},
		failNext: map[string][]error{}, hooks: map[string]func() error{}, calls: map[string]int{},
		rng: rand.New(rand.NewPCG(1, 2)), idPrefix: "ID"}
	m.rootID = m.newIDLocked()
	m.nodes[m.rootID] = &node{item: vfs.Item{ID: m.rootID, Name: "root", IsDir: true, ETag: `"r1"`, ModTime: m.Now()}}
	return m
}

func (m *MemRemote) newIDLocked() string {
	m.nextID++
	return fmt.Sprintf("%s%06d", m.idPrefix, m.nextID)
}

// AddDrive returns a new empty drive that OpenDrive(driveID) reaches, as
// a library the user may read through a shortcut. Its item ids start with
// driveID, so they never collide with this drive's.
func (m *MemRemote) AddDrive(driveID string) *MemRemote {
	other := NewMemRemote()
	other.idPrefix = driveID + "!"
	other.nodes = map[string]*node{}
	other.nextID = 0
	other.rootID = other.newIDLocked()
	other.nodes[other.rootID] = &node{item: vfs.Item{ID: other.rootID, Name: "root", IsDir: true, ETag: `"r1"`, ModTime: other.Now()}}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.drives == nil {
		m.drives = map[string]*MemRemote{}
	}
	m.drives[driveID] = other
	return other
}

// OpenDrive implements vfs.DriveOpener: a drive added with AddDrive, or
// for any other id a drive where every item is missing (as a target the
// user cannot reach).
func (m *MemRemote) OpenDrive(driveID string) vfs.Remote {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d, ok := m.drives[driveID]; ok {
		return d
	}
	return NewMemRemote()
}

// AddShortcut adds to the root a shortcut named name to the folder at
// targetPath of drive driveID ("Add shortcut to My files"), as another
// client would. The target need not exist.
func (m *MemRemote) AddShortcut(name, driveID, targetPath string) vfs.Item {
	targetID := "missing"
	m.mu.Lock()
	target := m.drives[driveID]
	m.mu.Unlock()
	if target != nil {
		if it, ok := target.Lookup(targetPath); ok {
			targetID = it.ID
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	id := m.newIDLocked()
	n := &node{item: vfs.Item{ID: id, ParentID: m.rootID, Name: name, IsDir: true, ModTime: m.Now(),
		Shortcut: vfs.ItemRef{DriveID: driveID, ID: targetID}}}
	n.item.ETag = m.etag(id)
	m.nodes[id] = n
	m.linkLocked(n)
	m.touchLocked(id)
	return n.item
}

// SetOffline makes every call fail with vfs.ErrOffline (or work again).
func (m *MemRemote) SetOffline(off bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.offline = off
}

// SetFaultRate makes a fraction of content and upload calls fail with
// ErrTransient, reproducibly from seed.
func (m *MemRemote) SetFaultRate(rate float64, seed uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.faults = rate
	m.rng = rand.New(rand.NewPCG(seed, seed+1))
}

// FailNext makes the next calls of op (a method name) return errs in
// order.
func (m *MemRemote) FailNext(op string, errs ...error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.failNext[op] = append(m.failNext[op], errs...)
}

// Hook runs fn (outside the lock) before each call of op; an error it
// returns fails the call.
func (m *MemRemote) Hook(op string, fn func() error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if fn == nil {
		delete(m.hooks, op)
		return
	}
	m.hooks[op] = fn
}

// Calls returns how many times op was called.
func (m *MemRemote) Calls(op string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[op]
}

// BytesRead returns the content bytes served by ReadRange.
func (m *MemRemote) BytesRead() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.read
}

// Fragments returns the offsets of every accepted upload fragment.
func (m *MemRemote) Fragments() []int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]int64(nil), m.frags...)
}

// CorruptUploads makes the next n committed uploads store a damaged copy
// (its hash then differs from what the client sent).
func (m *MemRemote) CorruptUploads(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.corrupt = n
}

// ExpireDeltaTokens makes every token issued so far answer 410 with
// resyncChangesApplyDifferences.
func (m *MemRemote) ExpireDeltaTokens() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tokenGen++
	m.resyncUpload = false
}

// ExpireDeltaTokensUploadDifferences makes every token issued so far
// answer 410 with resyncChangesUploadDifferences.
func (m *MemRemote) ExpireDeltaTokensUploadDifferences() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.tokenGen++
	m.resyncUpload = true
}

// enter counts the call and applies faults; it returns with mu held on
// success.
func (m *MemRemote) enter(op string, faulty bool) error {
	m.mu.Lock()
	m.calls[op]++
	hook := m.hooks[op]
	m.mu.Unlock()
	if hook != nil {
		if err := hook(); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
	}
	m.mu.Lock()
	if m.offline {
		m.mu.Unlock()
		return fmt.Errorf("%s: %w", op, vfs.ErrOffline)
	}
	if errs := m.failNext[op]; len(errs) > 0 {
		m.failNext[op] = errs[1:]
		m.mu.Unlock()
		return fmt.Errorf("%s: %w", op, errs[0])
	}
	if faulty && m.faults > 0 && m.rng.Float64() < m.faults {
		m.mu.Unlock()
		return fmt.Errorf("%s: %w", op, ErrTransient)
	}
	return nil
}

func (m *MemRemote) etag(id string) string {
	m.seq++
	return fmt.Sprintf(`"{%s},%d"`, id, m.seq)
}

// touchLocked records a change of id in the delta log.
func (m *MemRemote) touchLocked(id string) {
	m.log = append(m.log, change{seq: m.seq, id: id})
}

func (m *MemRemote) childLocked(parentID, name string) *node {
	return m.nodes[m.kids[parentID][strings.ToLower(name)]]
}

// linkLocked adds n to its parent's name index; unlinkLocked removes it.
func (m *MemRemote) linkLocked(n *node) {
	k := m.kids[n.item.ParentID]
	if k == nil {
		k = map[string]string{}
		m.kids[n.item.ParentID] = k
	}
	k[strings.ToLower(n.item.Name)] = n.item.ID
}

func (m *MemRemote) unlinkLocked(n *node) {
	delete(m.kids[n.item.ParentID], strings.ToLower(n.item.Name))
}

func (m *MemRemote) usedLocked() int64 { return m.used }

func (m *MemRemote) setContentLocked(n *node, data []byte) {
	if m.RewriteOffice && vfs.IsOfficeDocument(n.item.Name) {
		data = append(append([]byte(nil), data...), []byte("<sharepoint-properties/>")...)
	}
	m.used += int64(len(data)) - int64(len(n.content))
	n.content = data
	n.item.Size = int64(len(data))
	n.item.QuickXorHash = quickxorhash.Sum(data)
	n.item.ETag = m.etag(n.item.ID)
	n.item.CTag = fmt.Sprintf(`"c:{%s},%d"`, n.item.ID, m.seq)
	n.item.ModTime = m.Now()
	m.touchLocked(n.item.ID)
}

// Root implements vfs.Remote.
func (m *MemRemote) Root(ctx context.Context) (vfs.Item, error) {
	if err := m.enter("Root", false); err != nil {
		return vfs.Item{}, err
	}
	defer m.mu.Unlock()
	return m.nodes[m.rootID].item, nil
}

// Get implements vfs.Remote.
func (m *MemRemote) Get(ctx context.Context, id string) (vfs.Item, error) {
	if err := m.enter("Get", false); err != nil {
		return vfs.Item{}, err
	}
	defer m.mu.Unlock()
	n := m.nodes[id]
	if n == nil {
		return vfs.Item{}, fmt.Errorf("get %s: %w", id, vfs.ErrNotFound)
	}
	return n.item, nil
}

// List implements vfs.Remote.
func (m *MemRemote) List(ctx context.Context, folderID string) ([]vfs.Item, error) {
	if err := m.enter("List", false); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	if n := m.nodes[folderID]; n == nil || !n.item.IsDir {
		return nil, fmt.Errorf("list %s: %w", folderID, vfs.ErrNotFound)
	}
	var out []vfs.Item
	for _, id := range m.kids[folderID] {
		out = append(out, m.nodes[id].item)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (m *MemRemote) depthLocked(id string) int {
	d := 0
	for n := m.nodes[id]; n != nil && n.item.ParentID != ""; n = m.nodes[n.item.ParentID] {
		d++
	}
	return d
}

// Delta implements vfs.Remote. Tokens are "G:N": generation and sequence.
func (m *MemRemote) Delta(ctx context.Context, token string) ([]vfs.Item, string, error) {
	if err := m.enter("Delta", false); err != nil {
		return nil, "", err
	}
	defer m.mu.Unlock()
	next := strconv.Itoa(m.tokenGen) + ":" + strconv.FormatInt(m.seq, 10)
	var out []vfs.Item
	if token == "" {
		for _, n := range m.nodes {
			out = append(out, n.item)
		}
	} else {
		gen, seq, _ := strings.Cut(token, ":")
		since, err := strconv.ParseInt(seq, 10, 64)
		if err != nil || gen != strconv.Itoa(m.tokenGen) {
			if m.resyncUpload {
				return nil, "", fmt.Errorf("delta: %w", vfs.ErrResyncUploadDifferences)
			}
			return nil, "", fmt.Errorf("delta: %w", vfs.ErrResyncRequired)
		}
		seen := map[string]bool{}
		for i := len(m.log) - 1; i >= 0 && m.log[i].seq > since; i-- {
			c := m.log[i]
			if seen[c.id] {
				continue
			}
			seen[c.id] = true
			if n := m.nodes[c.id]; n != nil {
				out = append(out, n.item)
			} else if c.tomb != nil {
				out = append(out, *c.tomb)
			}
		}
	}
	// Parents before children, tombstones last.
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Deleted != out[j].Deleted {
			return !out[i].Deleted
		}
		return m.depthLocked(out[i].ID) < m.depthLocked(out[j].ID)
	})
	return out, next, nil
}

// DownloadURL implements vfs.Remote.
func (m *MemRemote) DownloadURL(ctx context.Context, id string) (string, error) {
	if err := m.enter("DownloadURL", false); err != nil {
		return "", err
	}
	defer m.mu.Unlock()
	if n := m.nodes[id]; n == nil || n.item.IsDir {
		return "", fmt.Errorf("download %s: %w", id, vfs.ErrNotFound)
	}
	life := m.URLLifetime
	if life == 0 {
		life = time.Hour
	}
	return fmt.Sprintf("mem://%s?exp=%d", id, m.Now().Add(life).UnixNano()), nil
}

// ReadRange implements vfs.Remote.
func (m *MemRemote) ReadRange(ctx context.Context, url string, off, n int64) (io.ReadCloser, error) {
	if err := m.enter("ReadRange", true); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	rest, ok := strings.CutPrefix(url, "mem://")
	id, exp, ok2 := strings.Cut(rest, "?exp=")
	if !ok || !ok2 {
		return nil, fmt.Errorf("bad download URL: %w", vfs.ErrNotFound)
	}
	ns, _ := strconv.ParseInt(exp, 10, 64)
	if m.Now().UnixNano() > ns {
		return nil, fmt.Errorf("read range: %w", vfs.ErrURLExpired)
	}
	nd := m.nodes[id]
	if nd == nil {
		return nil, fmt.Errorf("read range: %w", vfs.ErrURLExpired)
	}
	if off < 0 || off > int64(len(nd.content)) {
		return nil, fmt.Errorf("read range %d of %d bytes: invalid range", off, len(nd.content))
	}
	end := min(off+n, int64(len(nd.content)))
	m.read += end - off
	return io.NopCloser(bytes.NewReader(append([]byte(nil), nd.content[off:end]...))), nil
}

func (m *MemRemote) checkQuotaLocked(add int64) error {
	if m.QuotaBytes > 0 && m.usedLocked()+add > m.QuotaBytes {
		return vfs.ErrQuotaExceeded
	}
	return nil
}

// commitLocked writes data as parentID/name, honouring ifMatch.
// commitLocked stores data as parentID/name. Without ifMatch an existing
// file is replaced only when replace (another client's write); the vfs's
// new files fail with ErrExist, as conflictBehavior=fail does.
func (m *MemRemote) commitLocked(parentID, name string, data []byte, ifMatch string, replace bool) (vfs.Item, error) {
	p := m.nodes[parentID]
	if p == nil || !p.item.IsDir {
		return vfs.Item{}, fmt.Errorf("upload into %s: %w", parentID, vfs.ErrNotFound)
	}
	if err := vfs.ValidateName(name); err != nil {
		return vfs.Item{}, err
	}
	n := m.childLocked(parentID, name)
	if ifMatch != "" && (n == nil || n.item.ETag != ifMatch) {
		return vfs.Item{}, fmt.Errorf("upload %s: %w", name, vfs.ErrPreconditionFailed)
	}
	if ifMatch == "" && n != nil && !replace {
		// The graph client creates new files with conflictBehavior=fail.
		return vfs.Item{}, fmt.Errorf("upload %s: %w", name, vfs.ErrExist)
	}
	var old int64
	if n != nil {
		if n.item.IsDir {
			return vfs.Item{}, fmt.Errorf("upload %s: %w", name, vfs.ErrNameConflict)
		}
		old = int64(len(n.content))
	}
	if err := m.checkQuotaLocked(int64(len(data)) - old); err != nil {
		return vfs.Item{}, fmt.Errorf("upload %s: %w", name, err)
	}
	if n == nil {
		n = &node{item: vfs.Item{ID: m.newIDLocked(), ParentID: parentID, Name: name}}
		m.nodes[n.item.ID] = n
		m.linkLocked(n)
	}
	if m.corrupt > 0 && len(data) > 0 {
		m.corrupt--
		data = append([]byte(nil), data...)
		data[0] ^= 0xff
	}
	m.setContentLocked(n, data)
	return n.item, nil
}

// PutSmall implements vfs.Remote.
func (m *MemRemote) PutSmall(ctx context.Context, parentID, name string, data []byte, ifMatch string) (vfs.Item, error) {
	if err := m.enter("PutSmall", true); err != nil {
		return vfs.Item{}, err
	}
	defer m.mu.Unlock()
	if len(data) > 250<<20 {
		return vfs.Item{}, errors.New("simple upload over 250 MB")
	}
	return m.commitLocked(parentID, name, append([]byte(nil), data...), ifMatch, false)
}

// CreateUploadSession implements vfs.Remote.
func (m *MemRemote) CreateUploadSession(ctx context.Context, parentID, name string, size int64, ifMatch string) (vfs.UploadSession, error) {
	if err := m.enter("CreateUploadSession", true); err != nil {
		return vfs.UploadSession{}, err
	}
	defer m.mu.Unlock()
	if p := m.nodes[parentID]; p == nil || !p.item.IsDir {
		return vfs.UploadSession{}, fmt.Errorf("create session in %s: %w", parentID, vfs.ErrNotFound)
	}
	if n := m.childLocked(parentID, name); ifMatch != "" && (n == nil || n.item.ETag != ifMatch) {
		return vfs.UploadSession{}, fmt.Errorf("create session for %s: %w", name, vfs.ErrPreconditionFailed)
	}
	if err := m.checkQuotaLocked(size); err != nil {
		return vfs.UploadSession{}, fmt.Errorf("create session: %w", err)
	}
	url := "mem-upload://" + m.newIDLocked()
	m.sessions[url] = &session{parentID: parentID, name: name, ifMatch: ifMatch, size: size, expires: m.Now().Add(m.sessionLife()),
		data: make([]byte, 0, size)}
	return vfs.UploadSession{URL: url, Expiration: m.sessions[url].expires}, nil
}

func (m *MemRemote) sessionLife() time.Duration {
	if m.SessionLifetime > 0 {
		return m.SessionLifetime
	}
	return time.Hour
}

func (m *MemRemote) liveSessionLocked(url string) (*session, error) {
	s := m.sessions[url]
	if s == nil || m.Now().After(s.expires) {
		delete(m.sessions, url)
		return nil, fmt.Errorf("upload session: %w", vfs.ErrNotFound)
	}
	return s, nil
}

// UploadStatus implements vfs.Remote.
func (m *MemRemote) UploadStatus(ctx context.Context, s vfs.UploadSession) (vfs.UploadSession, error) {
	if err := m.enter("UploadStatus", false); err != nil {
		return vfs.UploadSession{}, err
	}
	defer m.mu.Unlock()
	ss, err := m.liveSessionLocked(s.URL)
	if err != nil {
		return vfs.UploadSession{}, err
	}
	return vfs.UploadSession{URL: s.URL, Expiration: ss.expires, NextOffset: int64(len(ss.data))}, nil
}

// UploadFragment implements vfs.Remote.
func (m *MemRemote) UploadFragment(ctx context.Context, s vfs.UploadSession, off, total int64, data []byte) (*vfs.Item, error) {
	if err := m.enter("UploadFragment", true); err != nil {
		return nil, err
	}
	defer m.mu.Unlock()
	ss, err := m.liveSessionLocked(s.URL)
	if err != nil {
		return nil, err
	}
	n := int64(len(data))
	switch {
	case total != ss.size:
		return nil, fmt.Errorf("fragment total %d, session size %d: invalid range", total, ss.size)
	case off != int64(len(ss.data)):
		return nil, fmt.Errorf("fragment at %d, expected %d: fragment overlap", off, len(ss.data))
	case n >= 60<<20:
		return nil, errors.New("fragment of 60 MiB or more")
	case off+n != total && n%FragmentUnit != 0:
		return nil, fmt.Errorf("fragment of %d bytes is not a multiple of 320 KiB", n)
	case off+n > total:
		return nil, errors.New("fragment past the declared size")
	}
	ss.data = append(ss.data, data...)
	ss.expires = m.Now().Add(m.sessionLife())
	m.frags = append(m.frags, off)
	if int64(len(ss.data)) < total {
		return nil, nil
	}
	delete(m.sessions, s.URL)
	it, err := m.commitLocked(ss.parentID, ss.name, ss.data, ss.ifMatch, false)
	if err != nil {
		return nil, err
	}
	return &it, nil
}

// CancelUpload implements vfs.Remote.
func (m *MemRemote) CancelUpload(ctx context.Context, s vfs.UploadSession) error {
	if err := m.enter("CancelUpload", false); err != nil {
		return err
	}
	defer m.mu.Unlock()
	delete(m.sessions, s.URL)
	return nil
}

// Mkdir implements vfs.Remote.
func (m *MemRemote) Mkdir(ctx context.Context, parentID, name string) (vfs.Item, error) {
	if err := m.enter("Mkdir", true); err != nil {
		return vfs.Item{}, err
	}
	defer m.mu.Unlock()
	return m.mkdirLocked(parentID, name)
}

func (m *MemRemote) mkdirLocked(parentID, name string) (vfs.Item, error) {
	if p := m.nodes[parentID]; p == nil || !p.item.IsDir {
		return vfs.Item{}, fmt.Errorf("mkdir in %s: %w", parentID, vfs.ErrNotFound)
	}
	if err := vfs.ValidateName(name); err != nil {
		return vfs.Item{}, err
	}
	if m.childLocked(parentID, name) != nil {
		return vfs.Item{}, fmt.Errorf("mkdir %s: %w", name, vfs.ErrNameConflict)
	}
	id := m.newIDLocked()
	n := &node{item: vfs.Item{ID: id, ParentID: parentID, Name: name, IsDir: true, ModTime: m.Now()}}
	n.item.ETag = m.etag(id)
	m.nodes[id] = n
	m.linkLocked(n)
	m.touchLocked(id)
	return n.item, nil
}

// SetModTime implements vfs.Remote.
func (m *MemRemote) SetModTime(ctx context.Context, id string, t time.Time) (vfs.Item, error) {
	if err := m.enter("SetModTime", true); err != nil {
		return vfs.Item{}, err
	}
	defer m.mu.Unlock()
	n := m.nodes[id]
	if n == nil {
		return vfs.Item{}, fmt.Errorf("set time of %s: %w", id, vfs.ErrNotFound)
	}
	n.item.ModTime = t
	n.item.ETag = m.etag(id)
	m.touchLocked(id)
	return n.item, nil
}

// Move implements vfs.Remote.
func (m *MemRemote) Move(ctx context.Context, id, newParentID, newName, ifMatch string) (vfs.Item, error) {
	if err := m.enter("Move", true); err != nil {
		return vfs.Item{}, err
	}
	defer m.mu.Unlock()
	n := m.nodes[id]
	if n == nil || id == m.rootID {
		return vfs.Item{}, fmt.Errorf("move %s: %w", id, vfs.ErrNotFound)
	}
	if ifMatch != "" && n.item.ETag != ifMatch {
		return vfs.Item{}, fmt.Errorf("move %s: %w", id, vfs.ErrPreconditionFailed)
	}
	if p := m.nodes[newParentID]; p == nil || !p.item.IsDir {
		return vfs.Item{}, fmt.Errorf("move into %s: %w", newParentID, vfs.ErrNotFound)
	}
	if err := vfs.ValidateName(newName); err != nil {
		return vfs.Item{}, err
	}
	if c := m.childLocked(newParentID, newName); c != nil && c != n {
		return vfs.Item{}, fmt.Errorf("move to %s: %w", newName, vfs.ErrNameConflict)
	}
	m.unlinkLocked(n)
	n.item.ParentID, n.item.Name = newParentID, newName
	m.linkLocked(n)
	n.item.ETag = m.etag(id)
	m.touchLocked(id)
	return n.item, nil
}

// Delete implements vfs.Remote.
func (m *MemRemote) Delete(ctx context.Context, id, ifMatch string) error {
	if err := m.enter("Delete", true); err != nil {
		return err
	}
	defer m.mu.Unlock()
	n := m.nodes[id]
	if n == nil || id == m.rootID {
		return fmt.Errorf("delete %s: %w", id, vfs.ErrNotFound)
	}
	if ifMatch != "" && n.item.ETag != ifMatch {
		return fmt.Errorf("delete %s: %w", id, vfs.ErrPreconditionFailed)
	}
	m.deleteLocked(id)
	return nil
}

func (m *MemRemote) deleteLocked(id string) {
	for _, cid := range m.kids[id] {
		m.deleteLocked(cid)
	}
	delete(m.kids, id)
	n := m.nodes[id]
	m.unlinkLocked(n)
	m.used -= int64(len(n.content))
	delete(m.nodes, id)
	m.seq++
	tomb := vfs.Item{ID: id, ParentID: n.item.ParentID, IsDir: n.item.IsDir, Deleted: true}
	m.log = append(m.log, change{seq: m.seq, id: id, tomb: &tomb})
}

// Quota implements vfs.QuotaRemote.
func (m *MemRemote) Quota(ctx context.Context) (int64, int64, error) {
	if err := m.enter("Quota", false); err != nil {
		return 0, 0, err
	}
	defer m.mu.Unlock()
	total := m.QuotaBytes
	if total == 0 {
		total = 1 << 40
	}
	return total, total - m.usedLocked(), nil
}

// resolveLocked finds the node at a slash path.
func (m *MemRemote) resolveLocked(p string) *node {
	n := m.nodes[m.rootID]
	for _, part := range strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/") {
		if part == "" {
			continue
		}
		if n = m.childLocked(n.item.ID, part); n == nil {
			return nil
		}
	}
	return n
}

// WriteFile creates or replaces a file at p as another client would,
// creating folders on the way.
func (m *MemRemote) WriteFile(p string, data []byte) vfs.Item {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, name := path.Split(path.Clean("/" + p))
	parent := m.nodes[m.rootID]
	for _, part := range strings.Split(strings.Trim(dir, "/"), "/") {
		if part == "" {
			continue
		}
		c := m.childLocked(parent.item.ID, part)
		if c == nil {
			it, err := m.mkdirLocked(parent.item.ID, part)
			if err != nil {
				panic(err)
			}
			c = m.nodes[it.ID]
		}
		parent = c
	}
	it, err := m.commitLocked(parent.item.ID, name, append([]byte(nil), data...), "", true)
	if err != nil {
		panic(fmt.Sprintf("WriteFile %s: %v", p, err))
	}
	return it
}

// ReadFile returns the content of the file at p.
func (m *MemRemote) ReadFile(p string) ([]byte, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.resolveLocked(p)
	if n == nil || n.item.IsDir {
		return nil, false
	}
	return append([]byte(nil), n.content...), true
}

// Lookup returns the item at p.
func (m *MemRemote) Lookup(p string) (vfs.Item, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.resolveLocked(p)
	if n == nil {
		return vfs.Item{}, false
	}
	return n.item, true
}

// RemoveFile deletes the item at p as another client would.
func (m *MemRemote) RemoveFile(p string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.resolveLocked(p)
	if n == nil {
		return false
	}
	m.deleteLocked(n.item.ID)
	return true
}

// Names lists the names in folder p.
func (m *MemRemote) Names(p string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.resolveLocked(p)
	if n == nil {
		return nil
	}
	var out []string
	for _, id := range m.kids[n.item.ID] {
		out = append(out, m.nodes[id].item.Name)
	}
	sort.Strings(out)
	return out
}

var _ vfs.Remote = (*MemRemote)(nil)
var _ vfs.QuotaRemote = (*MemRemote)(nil)
