package api

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mapdrive/mapdrive/service/internal/httpx"
	"github.com/mapdrive/mapdrive/service/internal/store"
	"github.com/mapdrive/mapdrive/shared/apitype"
)

// FuzzMappingBody feeds arbitrary bodies through the admin mapping decoder
// and validator: never a panic, only 400/413 refusals, and what passes is
// a valid mapping.
func FuzzMappingBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, body string) {
		var m apitype.AdminMapping
		w := httptest.NewRecorder()
		err := httpx.DecodeJSON(w, httptest.NewRequest("POST", "/", strings.NewReader(body)), &m, 64<<10)
		var he *httpx.Error
		if err != nil {
			if !errors.As(err, &he) || (he.Status != http.StatusBadRequest && he.Status != http.StatusRequestEntityTooLarge) {
				t.Fatalf("DecodeJSON = %v", err)
			}
			return
		}
		if err := store.ValidateMapping(&m); err != nil {
			if !errors.Is(err, store.ErrInvalid) {
				t.Fatalf("ValidateMapping = %v", err)
			}
			return
		}
		if m.DisplayName == "" || m.OfflinePin == "" || (m.DriveLetter != "" && len(m.DriveLetter) != 1) {
			t.Fatalf("accepted invalid mapping %+v", m)
		}
	})
}

// FuzzValidateBody does the same for the validation request and the
// other small admin bodies.
func FuzzValidateBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, body string) {
		for _, v := range []any{&apitype.ValidateRequest{}, &apitype.ReorderRequest{}, &apitype.Policies{}} {
			err := httpx.DecodeJSON(httptest.NewRecorder(), httptest.NewRequest("POST", "/", strings.NewReader(body)), v, 4<<10)
			var he *httpx.Error
			if err != nil && (!errors.As(err, &he) || he.Status/100 != 4) {
				t.Fatalf("DecodeJSON = %v", err)
			}
		}
	})
}
