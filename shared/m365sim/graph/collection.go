package graph

import (
	"encoding/base64"
	"net/http"
	"strconv"
)

// collectionPage is a page of a discovery collection (followed sites, site
// search, drives of a site or user, joined Teams, memberOf).
type collectionPage[T any] struct {
	Context  string `json:"@odata.context"`
	Value    []T    `json:"value"`
	NextLink string `json:"@odata.nextLink,omitempty"`
}

// writeCollection answers a collection a page at a time: $top values (the
// server's page size by default), the rest behind an @odata.nextLink
// carrying a $skiptoken, as any Graph collection may page (issue 13, the
// contract's "Listing": the link is opaque and followed verbatim).
func writeCollection[T any](s *Server, w http.ResponseWriter, r *http.Request, context string, all []T) error {
	q := r.URL.Query()
	top, err := parseTop(q.Get("$top"), s.page)
	if err != nil {
		return err
	}
	off := 0
	skip := q.Get("$skiptoken")
	if skip == "" {
		skip = q.Get("$skipToken")
	}
	if skip != "" {
		raw, err := base64.RawURLEncoding.DecodeString(skip)
		if err != nil || len(raw) < 3 || string(raw[:2]) != "c:" {
			return errInvalid("The $skiptoken is invalid.")
		}
		if off, err = strconv.Atoi(string(raw[2:])); err != nil || off < 0 || off > len(all) {
			return errInvalid("The $skiptoken is invalid.")
		}
	}
	end := min(off+top, len(all))
	out := collectionPage[T]{Context: context, Value: all[off:end]}
	if out.Value == nil {
		out.Value = []T{}
	}
	if end < len(all) {
		nq := r.URL.Query()
		nq.Del("$skipToken")
		nq.Set("$skiptoken", base64.RawURLEncoding.EncodeToString([]byte("c:"+strconv.Itoa(end))))
		out.NextLink = s.base + r.URL.EscapedPath() + "?" + nq.Encode()
	}
	return writeValue(w, http.StatusOK, out)
}
