package entra

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const stateFile = "entra-state.json"

// state is what survives a restart: refresh tokens (by hash, never the
// token itself), the consents users gave at sign-in and when users'
// sessions were revoked.
type state struct {
	Refresh  map[string]*refreshRecord `json:"refreshTokens"`
	Consents []userConsent             `json:"userConsents"`
	// Revocations holds, by lower-cased "tid/oid", when a user's sessions
	// were last revoked.
	Revocations map[string]time.Time `json:"revocations,omitempty"`
}

// refreshRecord is one issued refresh token. Entra's refresh tokens are
// opaque and multi-resource: the record names the user and client, not a
// resource.
type refreshRecord struct {
	TenantID string    `json:"tenantId"`
	UserID   string    `json:"userId"`
	ClientID string    `json:"clientId"`
	OIDC     []string  `json:"oidc"`     // OIDC scopes of the sign-in
	Issued   time.Time `json:"issued"`   // when this token was issued
	SignedIn time.Time `json:"signedIn"` // when the user signed in
	Revoked  bool      `json:"revoked,omitempty"`
}

// userConsent is a user's own grant of delegated scopes to a client on a
// resource.
type userConsent struct {
	TenantID   string    `json:"tenantId"`
	UserID     string    `json:"userId"`
	ClientID   string    `json:"clientId"`
	ResourceID string    `json:"resourceId"` // resource app's client ID
	Scopes     []string  `json:"scopes"`
	At         time.Time `json:"at"`
}

func loadState(dataDir string) (*state, string, error) {
	st := &state{Refresh: map[string]*refreshRecord{}}
	if dataDir == "" {
		return st, "", nil
	}
	path := filepath.Join(dataDir, stateFile)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, "", fmt.Errorf("create data dir %s: %w", dataDir, err)
		}
		return st, path, nil
	case err != nil:
		return nil, "", fmt.Errorf("read %s: %w", path, err)
	}
	if err := json.Unmarshal(data, st); err != nil {
		return nil, "", fmt.Errorf("parse %s: %w", path, err)
	}
	if st.Refresh == nil {
		st.Refresh = map[string]*refreshRecord{}
	}
	return st, path, nil
}

// saveLocked writes the state atomically if it changed. s.mu must be held.
func (s *Server) saveLocked() error {
	if s.statePath == "" || !s.dirty {
		return nil
	}
	// Forget refresh tokens long past their lifetime; until then an
	// expired token still gets the precise "expired" error.
	cutoff := s.now().Add(-2 * s.rtLife)
	for k, rec := range s.st.Refresh {
		if rec.Issued.Before(cutoff) {
			delete(s.st.Refresh, k)
		}
	}
	data, err := json.MarshalIndent(s.st, "", " ")
	if err != nil {
		return fmt.Errorf("encode entra state: %w", err)
	}
	tmp := s.statePath + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, s.statePath); err != nil {
		return fmt.Errorf("replace %s: %w", s.statePath, err)
	}
	s.dirty = false
	return nil
}

func refreshKey(rt string) string {
	sum := sha256.Sum256([]byte(rt))
	return hex.EncodeToString(sum[:])
}

// addRefreshLocked records a new refresh token and returns it.
func (s *Server) addRefreshLocked(rec refreshRecord) string {
	rt := "1.A" + randomToken(96) // opaque, as Entra's are
	r := rec
	s.st.Refresh[refreshKey(rt)] = &r
	s.changedLocked()
	return rt
}

// userConsentsLocked returns the scopes user uid of tenant tid consented to
// for client on resource.
func (s *Server) userConsentsLocked(tid, uid, client, resource string) []string {
	var out []string
	for _, c := range s.st.Consents {
		if strings.EqualFold(c.TenantID, tid) && strings.EqualFold(c.UserID, uid) &&
			strings.EqualFold(c.ClientID, client) && strings.EqualFold(c.ResourceID, resource) {
			out = append(out, c.Scopes...)
		}
	}
	return out
}

// recordConsentLocked adds scopes to a user's consent.
func (s *Server) recordConsentLocked(tid, uid, client, resource string, scopes []string) {
	for i := range s.st.Consents {
		c := &s.st.Consents[i]
		if strings.EqualFold(c.TenantID, tid) && strings.EqualFold(c.UserID, uid) &&
			strings.EqualFold(c.ClientID, client) && strings.EqualFold(c.ResourceID, resource) {
			for _, sc := range scopes {
				if !slices.ContainsFunc(c.Scopes, func(x string) bool { return strings.EqualFold(x, sc) }) {
					c.Scopes = append(c.Scopes, sc)
				}
			}
			c.At = s.now()
			s.changedLocked()
			return
		}
	}
	s.st.Consents = append(s.st.Consents, userConsent{TenantID: tid, UserID: uid, ClientID: client, ResourceID: resource,
		Scopes: slices.Clone(scopes), At: s.now()})
	s.changedLocked()
}
