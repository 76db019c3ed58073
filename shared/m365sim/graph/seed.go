package graph

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/m365sim/graph/store"
)

// SeedContent returns the deterministic pseudo-random content of a seeded
// file of the given size at path (the drive-relative path, after "{n}" is
// expanded, without a leading slash), so tests can compute expected bytes
// and hashes.
func SeedContent(path string, size int64) io.Reader {
	seed := sha256.Sum256([]byte("m365sim seed content\x00" + path))
	return io.LimitReader(rand.NewChaCha8(seed), size)
}

// ExpandSeedFiles lists the files and folders a seed entry declares, with
// "{n}" expanded for Count > 0. Folders end in "/".
func ExpandSeedFiles(f directory.File) []string {
	if f.Count <= 0 {
		return []string{f.Path}
	}
	out := make([]string, 0, f.Count)
	for n := 1; n <= f.Count; n++ {
		ns := strconv.Itoa(n)
		if strings.Contains(f.Path, "{n}") {
			out = append(out, strings.ReplaceAll(f.Path, "{n}", ns))
			continue
		}
		p := f.Path
		if i := strings.LastIndexByte(p, '.'); i > strings.LastIndexByte(p, '/')+1 {
			out = append(out, p[:i]+" "+ns+p[i:])
		} else {
			out = append(out, p+" "+ns)
		}
	}
	return out
}

const seedBatch = 2000

// materialize creates the root and seeded files of every drive that has
// not been seeded yet.
func (s *Server) materialize() error {
	for _, ref := range s.dir.Drives() {
		var seeded bool
		err := s.st.View(func(tx *store.Tx) error {
			d, err := tx.Drive(ref.Drive.ID)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			seeded = err == nil && d.Seeded
			return err
		})
		if err != nil {
			return err
		}
		if !seeded {
			if err := s.seedDrive(ref); err != nil {
				return fmt.Errorf("seed drive %s: %w", ref.Drive.ID, err)
			}
		}
	}
	return nil
}

type seedFile struct {
	path    string
	content *string
	size    int64
}

func (s *Server) seedDrive(ref directory.DriveRef) error {
	now := s.now().UTC().Truncate(time.Second)
	by := store.Identity{DisplayName: "System Account"}
	if ref.Owner != nil {
		by = store.Identity{ID: ref.Owner.ID, DisplayName: ref.Owner.DisplayName, Email: ref.Tenant.UPN(ref.Owner)}
	}
	ds := &store.Drive{ID: ref.Drive.ID, Created: now}
	folders := map[string]string{} // lower-cased path -> folder id
	err := s.st.Update(func(tx *store.Tx) error {
		if old, err := tx.Drive(ds.ID); err == nil {
			ds = old // a seeding interrupted earlier: start over on top of it
			return nil
		}
		root := s.newItem(ds, "", "root", true, by)
		ds.RootID = root.ID
		if err := tx.Save(ds, nil, root); err != nil {
			return err
		}
		return tx.PutDrive(ds)
	})
	if err != nil {
		return err
	}
	folders[""] = ds.RootID
	var batch []seedFile
	var dirs []string
	for _, f := range ref.Drive.Files {
		for _, p := range ExpandSeedFiles(f) {
			p = strings.TrimPrefix(p, "/")
			if strings.HasSuffix(p, "/") {
				dirs = append(dirs, strings.TrimSuffix(p, "/"))
				continue
			}
			sf := seedFile{path: p, size: int64(f.Size)}
			if f.Content != "" {
				c := f.Content
				sf.content = &c
			}
			batch = append(batch, sf)
		}
	}
	// Folders first, in one transaction.
	if err := s.st.Update(func(tx *store.Tx) error {
		for _, d := range dirs {
			if _, err := s.seedFolder(tx, ds, folders, d, now, by); err != nil {
				return err
			}
		}
		return tx.PutDrive(ds)
	}); err != nil {
		return err
	}
	for start := 0; start < len(batch); start += seedBatch {
		part := batch[start:min(start+seedBatch, len(batch))]
		infos := make([]store.BlobInfo, len(part))
		if err := s.writeSeedBlobs(part, infos); err != nil {
			return err
		}
		err := s.st.Update(func(tx *store.Tx) error {
			for i, sf := range part {
				dir, name := "", sf.path
				if j := strings.LastIndexByte(sf.path, '/'); j >= 0 {
					dir, name = sf.path[:j], sf.path[j+1:]
				}
				pid, err := s.seedFolder(tx, ds, folders, dir, now, by)
				if err != nil {
					return err
				}
				it := s.newItem(ds, pid, name, false, by)
				it.Created, it.Modified, it.FSCreated, it.FSModified = now, now, now, now
				it.Size, it.Hash, it.Blob = infos[i].Size, infos[i].Hash, infos[i].Name
				var prev *store.Item
				if ex, err := tx.Child(pid, name); err == nil {
					prev = ex
					nu := *ex
					nu.Size, nu.Hash, nu.Blob = it.Size, it.Hash, it.Blob
					nu.CTagVer++
					nu.ETagVer++
					it = &nu
				}
				if err := tx.Save(ds, prev, it); err != nil {
					return fmt.Errorf("seed file: %w", err)
				}
				if err := tx.PutBlob(infos[i]); err != nil {
					return err
				}
				if prev != nil {
					if isFile, err := tx.DropBlob(prev.Blob); err != nil {
						return err
					} else if isFile {
						s.st.RemoveBlob(prev.Blob) // only seeding reads it
					}
				}
			}
			return tx.PutDrive(ds)
		})
		if err != nil {
			return err
		}
	}
	return s.st.Update(func(tx *store.Tx) error {
		d, err := tx.Drive(ds.ID)
		if err != nil {
			return err
		}
		d.Seeded = true
		return tx.PutDrive(d)
	})
}

// seedFolder returns the id of the folder at path p, creating it and its
// parents as needed.
func (s *Server) seedFolder(tx *store.Tx, ds *store.Drive, folders map[string]string, p string, now time.Time, by store.Identity) (string, error) {
	key := strings.ToLower(p)
	if id, ok := folders[key]; ok {
		return id, nil
	}
	parent, name := "", p
	if j := strings.LastIndexByte(p, '/'); j >= 0 {
		parent, name = p[:j], p[j+1:]
	}
	pid, err := s.seedFolder(tx, ds, folders, parent, now, by)
	if err != nil {
		return "", err
	}
	if ex, err := tx.Child(pid, name); err == nil {
		folders[key] = ex.ID
		return ex.ID, nil
	}
	f := s.newItem(ds, pid, name, true, by)
	if err := tx.Save(ds, nil, f); err != nil {
		return "", fmt.Errorf("seed folder: %w", err)
	}
	folders[key] = f.ID
	return f.ID, nil
}

// seedWriters bounds the goroutines writing seed blobs: creating many small
// files is latency-bound, so a few in parallel finish sooner even on two
// cores.
const seedWriters = 4

// writeSeedBlobs writes the content of files into new blobs, filling infos.
func (s *Server) writeSeedBlobs(files []seedFile, infos []store.BlobInfo) error {
	var wg sync.WaitGroup
	errs := make([]error, seedWriters)
	for w := range seedWriters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(files); i += seedWriters {
				sf := files[i]
				var r io.Reader
				if sf.content != nil {
					r = strings.NewReader(*sf.content)
				} else {
					r = SeedContent(sf.path, sf.size)
				}
				info, err := s.st.WriteBlob(r, -1, -1)
				if err != nil {
					errs[w] = err
					return
				}
				infos[i] = info
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, in := range infos {
			s.st.RemoveBlob(in.Name)
		}
		return err
	}
	return nil
}
