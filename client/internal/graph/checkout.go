package graph

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/mapdrive/mapdrive/client/internal/vfs"
)

var _ vfs.CheckoutRemote = (*Remote)(nil)

// CheckOut implements vfs.CheckoutRemote: POST .../checkout, no body, 204
// (Graph v1.0 "driveItem: checkout"). A file someone else holds answers
// 423 (vfs.ErrLocked). Checking out a file we already hold is taken as
// done, so the call is safe to retry (docs/checkout.md).
func (r *Remote) CheckOut(ctx context.Context, id string) error {
	return r.action(ctx, id, "checkout", nil)
}

// CheckIn implements vfs.CheckoutRemote: POST .../checkin with
// {"comment"} (Graph v1.0 "driveItem: checkin"), 204. A retry after a
// lost answer meets a published file and fails; the vfs reads the item
// to tell that from a real failure.
func (r *Remote) CheckIn(ctx context.Context, id, comment string) error {
	return r.action(ctx, id, "checkin", map[string]string{"comment": comment})
}

// action POSTs an item action with an optional JSON body, expecting 204.
func (r *Remote) action(ctx context.Context, id, action string, body any) error {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(withRetrySafe(ctx), http.MethodPost, r.itemURL(id)+"/"+action, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := r.c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s item %s: %w", action, id, err)
	}
	if resp.StatusCode >= 400 {
		return fmt.Errorf("%s item %s: %w", action, id, decodeError(resp))
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return nil
}
