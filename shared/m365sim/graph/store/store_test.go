package store

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func newItem(d *Drive, parent, name string, folder bool, size int64) *Item {
	return &Item{ID: NewItemID(), DriveID: d.ID, ParentID: parent, Name: name, Folder: folder, Size: size, GUID: NewGUID()}
}

func TestSaveKeepsCountsSizesQuotaAndNames(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := &Drive{ID: "d1"}
	var root, a, f *Item
	err = s.Update(func(tx *Tx) error {
		root = newItem(d, "", "root", true, 0)
		d.RootID = root.ID
		if err := tx.Save(d, nil, root); err != nil {
			return err
		}
		a = newItem(d, root.ID, "A", true, 0)
		if err := tx.Save(d, nil, a); err != nil {
			return err
		}
		f = newItem(d, a.ID, "f.txt", false, 100)
		if err := tx.Save(d, nil, f); err != nil {
			return err
		}
		if err := tx.Save(d, nil, newItem(d, a.ID, "F.TXT", false, 1)); !errors.Is(err, ErrConflict) {
			return fmt.Errorf("same name in another case: %v, want ErrConflict", err)
		}
		return tx.PutDrive(d)
	})
	if err != nil {
		t.Fatal(err)
	}
	check := func(when string, rootSize, aSize int64, aCount int, used, deleted int64) {
		t.Helper()
		s.View(func(tx *Tx) error {
			r, _ := tx.Item(root.ID)
			fa, _ := tx.Item(a.ID)
			dd, _ := tx.Drive(d.ID)
			if r.Size != rootSize || fa.Size != aSize || fa.ChildCount != aCount || dd.Used != used || dd.Deleted != deleted {
				t.Errorf("%s: root %d, A %d/%d children, used %d, deleted %d; want %d, %d/%d, %d, %d",
					when, r.Size, fa.Size, fa.ChildCount, dd.Used, dd.Deleted, rootSize, aSize, aCount, used, deleted)
			}
			return nil
		})
	}
	check("after create", 100, 100, 1, 100, 0)
	// Grow the file, then move it to the root, then delete it.
	s.Update(func(tx *Tx) error {
		cur, _ := tx.Item(f.ID)
		nu := *cur
		nu.Size = 250
		return errors.Join(tx.Save(d, cur, &nu), tx.PutDrive(d))
	})
	check("after growing", 250, 250, 1, 250, 0)
	s.Update(func(tx *Tx) error {
		cur, _ := tx.Item(f.ID)
		nu := *cur
		nu.ParentID = root.ID
		return errors.Join(tx.Save(d, cur, &nu), tx.PutDrive(d))
	})
	check("after moving", 250, 0, 0, 250, 0)
	s.Update(func(tx *Tx) error {
		cur, _ := tx.Item(f.ID)
		nu := *cur
		nu.Deleted = true
		return errors.Join(tx.Save(d, cur, &nu), tx.PutDrive(d))
	})
	check("after deleting", 0, 0, 0, 250, 250)
	// The change log holds each item once, latest last.
	var ids []string
	s.View(func(tx *Tx) error {
		return tx.Changes(d.ID, 0, func(it *Item) bool { ids = append(ids, it.Name); return true })
	})
	if strings.Join(ids, ",") != "root,A,f.txt" {
		t.Errorf("changes = %v", ids)
	}
}

func TestChildrenPagesInNameOrderBothWays(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := &Drive{ID: "d"}
	root := newItem(d, "", "root", true, 0)
	s.Update(func(tx *Tx) error {
		tx.Save(d, nil, root)
		for _, n := range []string{"b", "A", "c", "d"} {
			if err := tx.Save(d, nil, newItem(d, root.ID, n, false, 1)); err != nil {
				return err
			}
		}
		// A sibling folder's children must not leak into root's listing.
		other := newItem(d, root.ID, "zz", true, 0)
		tx.Save(d, nil, other)
		return tx.Save(d, nil, newItem(d, other.ID, "inner", false, 1))
	})
	list := func(after string, desc bool, max int) string {
		var out []string
		s.View(func(tx *Tx) error {
			return tx.Children(root.ID, after, desc, func(it *Item) bool { out = append(out, it.Name); return len(out) < max })
		})
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		after string
		desc  bool
		want  string
	}{
		{"", false, "A,b,c,d,zz"},
		{"b", false, "c,d,zz"},
		{"", true, "zz,d,c,b,A"},
		{"c", true, "b,A"},
		{"zz", false, ""},
	} {
		if got := list(tc.after, tc.desc, 100); got != tc.want {
			t.Errorf("Children(after %q, desc %v) = %s, want %s", tc.after, tc.desc, got, tc.want)
		}
	}
}

func TestBlobsRoundTripAndLimits(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	big := strings.Repeat("x", InlineMax+10)
	for _, content := range []string{"hello", big} {
		info, err := s.WriteBlob(strings.NewReader(content), int64(len(content)), int64(len(content)))
		if err != nil || info.Size != int64(len(content)) || info.Hash == "" {
			t.Fatalf("WriteBlob = %+v, %v", info, err)
		}
		if IsInline(info.Name) != (len(content) <= InlineMax) {
			t.Errorf("%d bytes inline = %v", len(content), IsInline(info.Name))
		}
		if err := s.Update(func(tx *Tx) error { return tx.PutBlob(info) }); err != nil {
			t.Fatal(err)
		}
		c, err := s.CloneBlob(info.Name)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Update(func(tx *Tx) error { return tx.PutBlob(c) }); err != nil {
			t.Fatal(err)
		}
		s.Update(func(tx *Tx) error {
			if isFile, err := tx.DropBlob(info.Name); err != nil || isFile != !IsInline(info.Name) {
				t.Errorf("DropBlob = %v, %v", isFile, err)
			}
			return nil
		})
		s.RemoveBlob(info.Name)
		if _, err := s.OpenBlob(info.Name); err == nil {
			t.Errorf("dropped blob still opens")
		}
		f, err := s.OpenBlob(c.Name)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(f)
		f.Close()
		if string(got) != content {
			t.Errorf("clone of %d bytes holds %d bytes", len(content), len(got))
		}
	}
	for _, tc := range []struct {
		content     string
		limit, want int64
		err         error
	}{
		{"hello world", 5, -1, ErrTooLarge},
		{big, InlineMax, -1, ErrTooLarge},
		{"hey", -1, 5, io.ErrUnexpectedEOF},
		{big, -1, int64(len(big)) + 1, io.ErrUnexpectedEOF},
	} {
		if _, err := s.WriteBlob(strings.NewReader(tc.content), tc.limit, tc.want); !errors.Is(err, tc.err) {
			t.Errorf("WriteBlob(%d bytes, limit %d, want %d) = %v, want %v", len(tc.content), tc.limit, tc.want, err, tc.err)
		}
	}
}
