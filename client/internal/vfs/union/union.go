// Package union presents several drives as one tree: a combined drive
// (#17 item 1), whose top-level folders are libraries. It owns only the
// virtual root and the routing of paths: "/" lists the members by name,
// and every path below "/<name>/" is the member's own, handed to its
// vfs.FS unchanged but for the prefix. Each member keeps its own cache,
// upload queue and delta poller, so everything a single drive does works
// in a member as it does alone.
//
// The root itself cannot change through the mount: creating, removing or
// renaming a top-level folder is refused (vfs.ErrAccessDenied), because a
// member is a library the admin chose, not a folder. A move between two
// members is refused with vfs.ErrCrossDevice (EXDEV), which mv answers by
// copying and deleting.
package union

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

// MaxMembers is how many libraries one combined drive may hold, as in the
// product Mapdrive replaces.
const MaxMembers = 100

// RootIno is the virtual root's inode number. Members' numbers are odd
// hashes salted per member (vfs.Options.InoSpace), so 1 is the only one
// the root could share with one of them, with odds of 2^-63.
const RootIno = 1

// Member is one library of a combined drive.
type Member struct {
	// Name is its top-level folder's name: unique in the drive, a valid
	// folder name.
	Name string
	FS   *vfs.FS
}

// FS is a combined drive. Its methods are safe for concurrent use, and
// the member set may change while it is mounted (Set).
type FS struct {
	// Immutable after New.
	caseInsensitive bool
	created         time.Time

	mu      sync.RWMutex // guards members, retired and refusals
	members []Member     // sorted by name
	// retired holds the libraries that left the set, by name, still open
	// (see Set).
	retired map[string]Member
	// refusals are the recent changes refused at the top (TopRefusals).
	refusals []vfs.ItemError
}

// New returns a combined drive over members (possibly none: a user who
// can reach none of the libraries sees an empty drive). With
// caseInsensitive, member names are looked up ignoring case, as the
// members' own names are (vfs.Options.CaseInsensitive).
func New(caseInsensitive bool, members []Member) (*FS, error) {
	u := &FS{caseInsensitive: caseInsensitive, created: time.Now()}
	if err := u.Set(members); err != nil {
		return nil, err
	}
	return u, nil
}

// Set replaces the member set: members not in it vanish from the root,
// new ones appear. The combined drive owns its members' vfs.FS. One that
// leaves is retired, not closed: files still open in it keep working and
// its pending uploads finish (Status and Sync still count it), and Set
// takes it back should it return (Holds). A retired library is closed when
// another takes its name, and at Close.
func (u *FS) Set(members []Member) error {
	ms := slices.Clone(members)
	if len(ms) > MaxMembers {
		return fmt.Errorf("combined drive: %d libraries, at most %d", len(ms), MaxMembers)
	}
	slices.SortFunc(ms, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	for i, m := range ms {
		if err := validName(m.Name); err != nil {
			return err
		}
		if m.FS == nil {
			return fmt.Errorf("combined drive: library %q has no filesystem", m.Name)
		}
		for _, o := range ms[:i] {
			if u.sameName(o.Name, m.Name) {
				return fmt.Errorf("combined drive: two libraries named %q", m.Name)
			}
		}
	}
	in := func(fs *vfs.FS) bool { return slices.ContainsFunc(ms, func(m Member) bool { return m.FS == fs }) }
	var closing []*vfs.FS
	u.mu.Lock()
	retired := map[string]Member{}
	for _, o := range append(slices.Clone(u.members), retiredList(u.retired)...) {
		if in(o.FS) {
			continue
		}
		if prev, ok := retired[o.Name]; ok && prev.FS != o.FS {
			closing = append(closing, prev.FS)
		}
		retired[o.Name] = o
	}
	for name, o := range retired {
		// A library of the new set under the same name replaces it.
		if slices.ContainsFunc(ms, func(m Member) bool { return u.sameName(m.Name, name) }) {
			closing = append(closing, o.FS)
			delete(retired, name)
		}
	}
	u.members, u.retired = ms, retired
	u.mu.Unlock()
	for _, fs := range closing {
		fs.Close()
	}
	return nil
}

func retiredList(r map[string]Member) []Member {
	out := make([]Member, 0, len(r))
	for _, m := range r {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// all returns the members and the retired libraries.
func (u *FS) all() []Member {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return append(slices.Clone(u.members), retiredList(u.retired)...)
}

// Close closes every member, retired ones too.
func (u *FS) Close() error {
	ms := u.all()
	u.mu.Lock()
	u.members, u.retired = nil, nil
	u.mu.Unlock()
	var errs []error
	for _, m := range ms {
		if err := m.FS.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close library %q: %w", m.Name, err))
		}
	}
	return errors.Join(errs...)
}

// Holds reports whether fs is one of the drive's libraries, a member or
// a retired one (see Set): still open, so a caller may hand it to Set
// again rather than open its state a second time.
func (u *FS) Holds(fs *vfs.FS) bool {
	return slices.ContainsFunc(u.all(), func(m Member) bool { return m.FS == fs })
}

func (u *FS) snapshot() []Member {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return slices.Clone(u.members)
}

// Status merges the libraries' status into one drive's, retired ones
// included (their uploads are pending work of the drive): every path is
// under its library's folder, counts and sizes add up, and the drive is
// online only when every library is.
func (u *FS) Status() vfs.Status {
	out := vfs.Status{Online: true}
	for _, m := range u.all() {
		s := m.FS.Status()
		pre := func(p string) string { return "/" + m.Name + p }
		out.Online = out.Online && s.Online
		out.QuotaFull = out.QuotaFull || s.QuotaFull
		out.Paused = out.Paused || s.Paused
		out.QueueLength += s.QueueLength
		out.CacheUsed += s.CacheUsed
		out.CacheMax += s.CacheMax
		if !s.LastSync.IsZero() && (out.LastSync.IsZero() || s.LastSync.Before(out.LastSync)) {
			out.LastSync = s.LastSync // the stalest library's
		}
		for _, t := range s.Transfers {
			t.Path = pre(t.Path)
			out.Transfers = append(out.Transfers, t)
		}
		for _, c := range s.Conflicts {
			c.Path, c.ConflictPath = pre(c.Path), pre(c.ConflictPath)
			out.Conflicts = append(out.Conflicts, c)
		}
		for _, e := range s.Errors {
			e.Path = pre(e.Path)
			out.Errors = append(out.Errors, e)
		}
		for _, e := range s.NotDeleted {
			e.Path = pre(e.Path)
			out.NotDeleted = append(out.NotDeleted, e)
		}
		for _, p := range s.Pinned {
			out.Pinned = append(out.Pinned, pre(p))
		}
		for _, p := range s.UnavailableOffline {
			out.UnavailableOffline = append(out.UnavailableOffline, pre(p))
		}
		if s.RootProblem != "" {
			out.RootProblem = strings.TrimPrefix(out.RootProblem+"; ", "; ") + m.Name + ": " + s.RootProblem
		}
	}
	return out
}

// Pin keeps p offline (or stops); "/" means every library.
func (u *FS) Pin(ctx context.Context, p string, pinned bool) error {
	m, top, rest := u.split(p)
	switch {
	case top == "":
		var errs []error
		for _, m := range u.snapshot() {
			if err := m.FS.Pin(ctx, "/", pinned); err != nil {
				errs = append(errs, fmt.Errorf("library %q: %w", m.Name, err))
			}
		}
		return errors.Join(errs...)
	case m == nil:
		return fmt.Errorf("pin: no library named %q: %w", top, vfs.ErrNotFound)
	}
	return m.FS.Pin(ctx, rest, pinned)
}

// SetUploadsPaused holds or releases every library's upload queue,
// retired ones included.
func (u *FS) SetUploadsPaused(paused bool) {
	for _, m := range u.all() {
		m.FS.SetUploadsPaused(paused)
	}
}

// WakeUploads retries every library's waiting uploads now (a new sign-in,
// say), retired ones included.
func (u *FS) WakeUploads() {
	for _, m := range u.all() {
		m.FS.WakeUploads()
	}
}

// Sync waits until every library's queued remote operations are done,
// retired ones included.
func (u *FS) Sync(ctx context.Context) error {
	for _, m := range u.all() {
		if err := m.FS.Sync(ctx); err != nil {
			return fmt.Errorf("library %q: %w", m.Name, err)
		}
	}
	return nil
}

// Members returns the current member names, sorted.
func (u *FS) Members() []string {
	u.mu.RLock()
	defer u.mu.RUnlock()
	names := make([]string, len(u.members))
	for i, m := range u.members {
		names[i] = m.Name
	}
	return names
}

func validName(name string) error {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return fmt.Errorf("combined drive: library name %q: %w", name, vfs.ErrInvalidName)
	}
	return nil
}

func (u *FS) sameName(a, b string) bool {
	if u.caseInsensitive {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// split resolves p to its member and the path inside it. top is the
// first element ("" for the root); m is nil when no member has that name.
func (u *FS) split(p string) (m *Member, top, rest string) {
	p = strings.TrimLeft(p, "/")
	if p == "" {
		return nil, "", "/"
	}
	top, rest, _ = strings.Cut(p, "/")
	rest = "/" + rest
	u.mu.RLock()
	defer u.mu.RUnlock()
	for i := range u.members {
		if u.sameName(u.members[i].Name, top) {
			mm := u.members[i]
			return &mm, top, rest
		}
	}
	return nil, top, rest
}

// at resolves p for an operation on an item inside a member: the root
// and a member's own top folder are refused with errRoot.
func (u *FS) at(op, p string, errRoot error) (*vfs.FS, string, error) {
	m, top, rest := u.split(p)
	switch {
	case top == "":
		return nil, "", u.refuse(fmt.Errorf("%s /: %w", op, errRoot), "/")
	case m == nil:
		return nil, "", fmt.Errorf("%s: no library named %q: %w", op, top, vfs.ErrNotFound)
	case rest == "/" && errRoot != nil:
		return nil, "", u.refuse(fmt.Errorf("%s: %q is a library of the combined drive: %w", op, top, errRoot), "/"+top)
	}
	return m.FS, rest, nil
}

// maxRefusals bounds TopRefusals.
const maxRefusals = 5

// refuse records err, a change refused at the top level at path p, for
// TopRefusals, and returns it. File managers' own metadata (osMetadata:
// ".DS_Store", "desktop.ini") is not the user's doing and is not
// recorded.
func (u *FS) refuse(err error, p string) error {
	if !errors.Is(err, errTop) || osMetadata(path.Base(p)) {
		return err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.refusals = slices.DeleteFunc(u.refusals, func(e vfs.ItemError) bool { return e.Path == p })
	u.refusals = append(u.refusals, vfs.ItemError{Path: p, Err: "the top-level folders of a combined drive are its libraries; they cannot be created, renamed or deleted",
		Time: time.Now(), Refused: true})
	if len(u.refusals) > maxRefusals {
		u.refusals = slices.Delete(u.refusals, 0, len(u.refusals)-maxRefusals)
	}
	return err
}

// osMetadata reports whether name is a file manager's metadata rather
// than something the user made.
func osMetadata(name string) bool {
	return strings.HasPrefix(name, ".") || strings.EqualFold(name, "desktop.ini") || strings.EqualFold(name, "Thumbs.db")
}

// TopRefusals returns the most recent changes refused at the top level
// (at most 5, oldest first): creating, removing or renaming a library
// folder, which the user should hear about in status rather than only
// as "permission denied".
func (u *FS) TopRefusals() []vfs.ItemError {
	u.mu.RLock()
	defer u.mu.RUnlock()
	return slices.Clone(u.refusals)
}

// errTop refuses a change to the root's entries: they are the libraries
// the admin chose.
var errTop = fmt.Errorf("the combined drive's top-level folders are its libraries: %w", vfs.ErrAccessDenied)

func (u *FS) rootAttr() vfs.Attr {
	return vfs.Attr{IsDir: true, Ino: RootIno, ModTime: u.created}
}

// memberAttr is a member's root as the root lists it: under its name.
func memberAttr(ctx context.Context, m Member) (vfs.Attr, error) {
	at, err := m.FS.Stat(ctx, "/")
	if err != nil {
		return vfs.Attr{}, err
	}
	at.Name = m.Name
	return at, nil
}

// Stat returns the attributes of p.
func (u *FS) Stat(ctx context.Context, p string) (vfs.Attr, error) {
	m, top, rest := u.split(p)
	switch {
	case top == "":
		return u.rootAttr(), nil
	case m == nil:
		return vfs.Attr{}, fmt.Errorf("stat: no library named %q: %w", top, vfs.ErrNotFound)
	case rest == "/":
		return memberAttr(ctx, *m)
	}
	return m.FS.Stat(ctx, rest)
}

// ReadDir lists p; the root lists the members. A member whose root cannot
// be read right now (never listed, offline) is still listed, as a folder,
// so that the drive's shape does not depend on the network.
func (u *FS) ReadDir(ctx context.Context, p string) ([]vfs.Attr, error) {
	m, top, rest := u.split(p)
	switch {
	case m != nil:
		return m.FS.ReadDir(ctx, rest)
	case top != "":
		return nil, fmt.Errorf("readdir: no library named %q: %w", top, vfs.ErrNotFound)
	}
	ms := u.snapshot()
	out := make([]vfs.Attr, 0, len(ms))
	for _, m := range ms {
		at, err := memberAttr(ctx, m)
		if err != nil {
			at = vfs.Attr{Name: m.Name, IsDir: true, ModTime: u.created}
		}
		out = append(out, at)
	}
	return out, nil
}

// Open opens p inside a member. Creating at the root is refused.
func (u *FS) Open(ctx context.Context, p string, fl vfs.OpenFlags) (*vfs.Handle, error) {
	m, top, rest := u.split(p)
	switch {
	case top == "":
		return nil, fmt.Errorf("open /: %w", vfs.ErrIsDir)
	case m == nil && fl.Create:
		return nil, u.refuse(fmt.Errorf("create %q: %w", top, errTop), "/"+top)
	case m == nil:
		return nil, fmt.Errorf("open: no library named %q: %w", top, vfs.ErrNotFound)
	}
	return m.FS.Open(ctx, rest, fl)
}

// Mkdir creates a folder inside a member; at the root it is refused
// (ErrExist for a member's name, as mkdir -p expects).
func (u *FS) Mkdir(ctx context.Context, p string) error {
	m, top, rest := u.split(p)
	switch {
	case top == "":
		return fmt.Errorf("mkdir /: %w", vfs.ErrExist)
	case m == nil:
		return u.refuse(fmt.Errorf("mkdir %q: %w", top, errTop), "/"+top)
	case rest == "/":
		return fmt.Errorf("mkdir %q: %w", top, vfs.ErrExist)
	}
	return m.FS.Mkdir(ctx, rest)
}

// Remove removes the file at p inside a member.
func (u *FS) Remove(ctx context.Context, p string) error {
	fs, rest, err := u.at("remove", p, errTop)
	if err != nil {
		return err
	}
	return fs.Remove(ctx, rest)
}

// Rmdir removes the empty folder at p inside a member; a member itself
// cannot be removed.
func (u *FS) Rmdir(ctx context.Context, p string) error {
	fs, rest, err := u.at("rmdir", p, errTop)
	if err != nil {
		return err
	}
	return fs.Rmdir(ctx, rest)
}

// Rename moves oldp to newp within one member. Between members it fails
// with vfs.ErrCrossDevice; the root's entries cannot be renamed nor
// replaced.
func (u *FS) Rename(ctx context.Context, oldp, newp string) error {
	ofs, from, err := u.at("rename", oldp, errTop)
	if err != nil {
		return err
	}
	if _, top, rest := u.split(newp); rest == "/" {
		// A new top-level name would be a library; an existing one is.
		return u.refuse(fmt.Errorf("rename to %q: %w", top, errTop), "/"+top)
	}
	nfs, to, err := u.at("rename", newp, errTop)
	if err != nil {
		return err
	}
	if ofs != nfs {
		return fmt.Errorf("rename: %w", vfs.ErrCrossDevice)
	}
	return ofs.Rename(ctx, from, to)
}

// Truncate sets the size of the file at p.
func (u *FS) Truncate(ctx context.Context, p string, size int64) error {
	fs, rest, err := u.at("truncate", p, vfs.ErrIsDir)
	if err != nil {
		return err
	}
	return fs.Truncate(ctx, rest, size)
}

// SetModTime sets p's modification time. On the root or a member's top
// folder it succeeds without effect, as touch on a folder the user cannot
// change should not fail a copy (cp -a of the whole drive).
func (u *FS) SetModTime(ctx context.Context, p string, t time.Time) error {
	m, top, rest := u.split(p)
	switch {
	case top == "":
		return nil
	case m == nil:
		return fmt.Errorf("set time: no library named %q: %w", top, vfs.ErrNotFound)
	case rest == "/":
		return nil
	}
	return m.FS.SetModTime(ctx, rest, t)
}

// Statfs reports the sum of the members' space: each library has its own
// quota (a site's storage, a user's OneDrive), and df of the drive shows
// what all of them hold and have left. A member that cannot answer is
// left out; with none answering, the first error is returned.
func (u *FS) Statfs(ctx context.Context) (vfs.StatFS, error) {
	ms := u.snapshot()
	var sum vfs.StatFS
	var errs []error
	for _, m := range ms {
		s, err := m.FS.Statfs(ctx)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sum.Total += s.Total
		sum.Free += s.Free
	}
	if len(ms) > 0 && len(errs) == len(ms) {
		return vfs.StatFS{}, fmt.Errorf("statfs: %w", errors.Join(errs...))
	}
	return sum, nil
}

// ReadOnly is false: members come and go while mounted, so the mount is
// never read-only as a whole; a read-only member refuses writes itself
// (vfs.ErrReadOnly, EROFS).
func (u *FS) ReadOnly() bool { return false }

// CaseInsensitive reports whether names are looked up ignoring case.
func (u *FS) CaseInsensitive() bool { return u.caseInsensitive }
