//go:build windows

package keyring

// Run under wine by shared/distcheck (TestWindowsAgentUnderWine), compiled
// with GOOS=windows: Credential Manager through go-keyring's wincred
// backend, with a value split over entries as the MSAL token cache is.

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"testing"
)

func TestCredentialManagerRoundTrip(t *testing.T) {
	s := New(WithService(fmt.Sprintf("Mapdrive-test-%d", os.Getpid())))
	raw := make([]byte, 6000)
	rand.Read(raw)
	value := []byte(base64.StdEncoding.EncodeToString(raw)) // 8,000 bytes: four entries of 2,000
	if err := s.Set("tokens", value); err != nil {
		t.Fatalf("Set: %v", err)
	}
	got, err := s.Get("tokens")
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !bytes.Equal(got, value) {
		t.Fatalf("Get returned %d bytes, want the %d stored", len(got), len(value))
	}
	// A second store, as a restarted agent opens it, reads the same.
	if got, err := New(WithService(fmt.Sprintf("Mapdrive-test-%d", os.Getpid()))).Get("tokens"); err != nil || !bytes.Equal(got, value) {
		t.Fatalf("a new Store reads %d bytes, %v", len(got), err)
	}
	if err := s.Delete("tokens"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get("tokens"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
}
