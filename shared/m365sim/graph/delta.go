package graph

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/mapdrive/mapdrive/shared/m365sim/graph/store"
)

// deltaToken is the position a delta link or next link carries.
type deltaToken struct {
	next    bool   // a nextLink within an enumeration
	initial bool   // the enumeration started without a token (tombstones skipped)
	epoch   uint64 // the drive's epoch when issued
	seq     uint64 // changes after this sequence number follow
}

func (t deltaToken) encode() string {
	kind := "d"
	if t.next {
		kind = "n"
		if t.initial {
			kind = "i"
		}
	}
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "v1.%s.%d.%d", kind, t.epoch, t.seq))
}

func parseDeltaToken(s string) (deltaToken, bool) {
	var t deltaToken
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return t, false
	}
	f := strings.Split(string(raw), ".")
	if len(f) != 4 || f[0] != "v1" {
		return t, false
	}
	switch f[1] {
	case "d":
	case "n":
		t.next = true
	case "i":
		t.next, t.initial = true, true
	default:
		return t, false
	}
	var err1, err2 error
	t.epoch, err1 = strconv.ParseUint(f[2], 10, 64)
	t.seq, err2 = strconv.ParseUint(f[3], 10, 64)
	return t, err1 == nil && err2 == nil
}

// delta serves root/delta: every item's latest state since a token, paged
// with nextLink, ending with a deltaLink.
func (s *Server) delta(w http.ResponseWriter, r *http.Request, c *call, d *drive, a itemAddr) error {
	if a.base != "root" || len(a.path) > 0 {
		// The root may be addressed by its id.
		isRoot := false
		err := s.st.View(func(tx *store.Tx) error {
			t, err := resolve(tx, d, a)
			if err == nil && t.item != nil {
				isRoot = t.item.IsRoot()
			}
			return err
		})
		if err != nil {
			return err
		}
		if !isRoot {
			return errInvalid("Delta is only supported on the root of a drive.")
		}
	}
	q := r.URL.Query()
	sel, err := parseSelect(q.Get("$select"))
	if err != nil {
		return err
	}
	top, err := parseTop(q.Get("$top"), s.page)
	if err != nil {
		return err
	}
	raw := q.Get("token")
	if raw == "" {
		raw = q.Get("$skiptoken")
	}
	link := func(t deltaToken) string {
		nq := url.Values{}
		for k, v := range q {
			if k != "token" && k != "$skiptoken" && k != "$deltatoken" {
				nq[k] = v
			}
		}
		nq.Set("token", t.encode())
		return s.base + r.URL.EscapedPath() + "?" + nq.Encode()
	}
	restart := s.base + r.URL.EscapedPath()
	var body []byte
	err = s.st.View(func(tx *store.Tx) error {
		ds, err := tx.Drive(d.ref.Drive.ID)
		if err != nil {
			return err
		}
		tok := deltaToken{initial: true, epoch: ds.Epoch}
		switch raw {
		case "":
		case "latest":
			tok = deltaToken{epoch: ds.Epoch, seq: ds.Seq}
			b := []byte(`{"@odata.context":`)
			b = appendString(b, s.base+"/v1.0/$metadata#Collection(driveItem)")
			b = append(b, `,"value":[],"@odata.deltaLink":`...)
			b = appendString(b, link(tok))
			body = append(b, '}')
			return nil
		default:
			t, ok := parseDeltaToken(raw)
			if !ok || t.epoch != ds.Epoch || t.seq > ds.Seq {
				inner := ds.ResyncInner
				if inner == "" {
					inner = ResyncApplyDifferences
				}
				return errorf(http.StatusGone, "resyncRequired", "The delta token is no longer valid; restart the enumeration.").
					withInner(inner).withHeader("Location", restart)
			}
			tok = t
			tok.initial = t.initial && t.next
		}
		v := s.view(tx, d, sel)
		v.noPath = true
		// Delta on OneDrive for Business / SharePoint omits cTag
		// (graph-contract.md, Delta).
		v.noCTag = true
		v.rootID = ds.RootID
		web := s.driveWebURL(d.ref)
		v.webURL = func(*store.Item) string { return web }
		b := make([]byte, 0, 64*1024)
		b = append(b, `{"@odata.context":`...)
		b = appendString(b, s.base+"/v1.0/$metadata#Collection(driveItem)")
		b = append(b, `,"value":[`...)
		n := 0
		last := tok.seq
		more := false
		err = tx.Changes(ds.ID, tok.seq, func(it *store.Item) bool {
			if n == top {
				more = true
				return false
			}
			last = it.Seq
			if tok.initial && it.Deleted {
				return true
			}
			if n > 0 {
				b = append(b, ',')
			}
			b = v.appendItem(b, it, "")
			n++
			return true
		})
		if err != nil {
			return err
		}
		b = append(b, ']')
		if more {
			b = append(b, `,"@odata.nextLink":`...)
			b = appendString(b, link(deltaToken{next: true, initial: tok.initial, epoch: ds.Epoch, seq: last}))
		} else {
			b = append(b, `,"@odata.deltaLink":`...)
			b = appendString(b, link(deltaToken{epoch: ds.Epoch, seq: ds.Seq}))
		}
		body = append(b, '}')
		return nil
	})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, body)
}
