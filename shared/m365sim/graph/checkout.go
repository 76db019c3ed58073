package graph

import (
	"net/http"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/graph/store"
)

// Check-out and check-in (Graph v1.0 "driveItem: checkout" and "driveItem:
// checkin"). The documented answers are 204 only; the errors below are
// what docs/checkout.md records from reports or chooses conservatively.

// errLocked is the answer to a change of a file someone else has checked
// out: 423 accessDenied, as reported from SharePoint
// (OneDrive/onedrive-api-docs PR #1199), with the resourceLocked inner code
// Graph uses for locked files.
func errLocked() *apiError {
	return errorf(http.StatusLocked, "accessDenied", "The file is currently checked out or locked for editing by another user.").
		withInner("resourceLocked")
}

// errCheckoutRequired is the answer to a save of a file that is not checked
// out in a library that requires check-out. Microsoft documents no status;
// the simulator uses the same 423 as errLocked (docs/checkout.md).
func errCheckoutRequired() *apiError {
	return errorf(http.StatusLocked, "accessDenied", "The file must be checked out before saving changes.").
		withInner("resourceLocked")
}

// checkLock reports whether the caller may change or replace it: not while
// another user holds its check-out, and in a library requiring check-out,
// a file's content only while the caller holds it (save is true).
func checkLock(c *call, d *drive, it *store.Item, save bool) error {
	if it == nil || it.Folder {
		return nil
	}
	if it.CheckedOutBy != nil {
		if it.CheckedOutBy.ID != c.user.ID {
			return errLocked()
		}
		return nil
	}
	if save && d.ref.Drive.RequireCheckout {
		return errCheckoutRequired()
	}
	return nil
}

// checkOut serves POST .../checkout: no body, 204.
func (s *Server) checkOut(w http.ResponseWriter, r *http.Request, c *call, d *drive, a itemAddr) error {
	return s.setCheckout(w, r, c, d, a, true)
}

// checkIn serves POST .../checkin with {"comment", "checkInAs"}: 204.
func (s *Server) checkIn(w http.ResponseWriter, r *http.Request, c *call, d *drive, a itemAddr) error {
	var body struct {
		Comment   string `json:"comment"`
		CheckInAs string `json:"checkInAs"`
	}
	if r.ContentLength != 0 {
		if err := decodeBody(r, &body); err != nil {
			return err
		}
	}
	switch body.CheckInAs {
	case "", "published", "unspecified":
	default:
		return errInvalid("checkInAs must be published or unspecified.")
	}
	return s.setCheckout(w, r, c, d, a, false)
}

func (s *Server) setCheckout(w http.ResponseWriter, r *http.Request, c *call, d *drive, a itemAddr, out bool) error {
	if err := d.checkWrite(c); err != nil {
		return err
	}
	err := s.updateExisting(d, a, func(tx *store.Tx, t *target, it *store.Item) error {
		if it.Folder || it.Remote != nil {
			return errInvalid("Only files can be checked out or in.")
		}
		if err := checkLock(c, d, it, false); err != nil {
			return err
		}
		nu := *it
		switch {
		case out && it.CheckedOutBy != nil:
			return nil // already the caller's: undocumented, taken as done
		case out:
			by := who(c)
			nu.CheckedOutBy = &by
		case it.CheckedOutBy == nil:
			return errInvalid("The file is not checked out.")
		default:
			nu.CheckedOutBy = nil
		}
		// The publication facet is metadata: the eTag moves, the cTag not
		// (graph-contract.md, driveItem).
		nu.ETagVer++
		nu.Modified = s.now().UTC().Truncate(time.Second)
		if err := tx.Save(t.ds, it, &nu); err != nil {
			return err
		}
		return tx.PutDrive(t.ds)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
