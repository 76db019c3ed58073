// Package keyring keeps Mapdrive's secrets (the MSAL token cache, the cache
// encryption key) in the operating system's keyring: Credential Manager on
// Windows, the Keychain on macOS, the Secret Service (gnome-keyring,
// KWallet) on Linux. Values larger than the platform allows in one entry are
// split over several entries. Nothing here ever writes a secret to a plain
// file.
package keyring

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"

	gokeyring "github.com/zalando/go-keyring"
)

// Service is the service name Mapdrive's entries are filed under.
const Service = "Mapdrive"

var (
	// ErrNotFound reports that no secret is stored under the name.
	ErrNotFound = errors.New("secret not found in the OS keyring")
	// ErrUnavailable reports that the OS keyring cannot be reached (no
	// Secret Service on the session bus, a locked keychain, ...). Its
	// message, as wrapped by Store, says how to fix it.
	ErrUnavailable = errors.New("no OS keyring")
)

// Backend is one OS keyring: go-keyring's API, reduced to what Store needs.
// It exists so that other packages' tests can run on an in-memory keyring
// (see NewMemory) where a real one is unavailable.
type Backend interface {
	Set(service, user, secret string) error
	Get(service, user string) (string, error)
	Delete(service, user string) error
}

// Store reads and writes named secrets of the current user.
//
// A Store is safe for concurrent use only to the extent the OS keyring is;
// callers serialise writes to one name (the auth package does).
type Store struct {
	// Immutable after construction.
	backend Backend
	service string
	chunk   int // bytes per entry; values longer than this are split
}

// Option configures a Store.
type Option func(*Store)

// WithService files entries under another service name (tests use this to
// stay apart from a real installation).
func WithService(name string) Option { return func(s *Store) { s.service = name } }

// WithChunkSize sets the largest value kept in one entry.
func WithChunkSize(n int) Option { return func(s *Store) { s.chunk = max(n, 64) } }

// WithBackend replaces the OS keyring, e.g. with NewMemory() in tests.
func WithBackend(b Backend) Option { return func(s *Store) { s.backend = b } }

// New returns a Store over the OS keyring.
func New(opts ...Option) *Store {
	s := &Store{backend: osBackend{}, service: Service, chunk: defaultChunk(runtime.GOOS)}
	for _, o := range opts {
		o(s)
	}
	return s
}

// defaultChunk is the largest value one entry takes on goos. Windows
// Credential Manager refuses blobs over 2,560 bytes; the macOS backend
// passes service, account and a base64 of the value on a command line
// limited to 4,096 bytes. The Secret Service has no practical limit.
func defaultChunk(goos string) int {
	switch goos {
	case "windows", "darwin":
		return 2000
	default:
		return 256 << 10
	}
}

// headerPrefix starts the value of a split secret's first entry:
// "mapdrive-chunks:v1:<count>:<sha256 of the whole value, base64>".
const headerPrefix = "mapdrive-chunks:v1:"

func chunkName(name string, i int) string { return name + "#" + strconv.Itoa(i) }

// Get returns the secret stored under name, or an error wrapping ErrNotFound
// or ErrUnavailable. It may block while the OS asks the user to unlock the
// keyring.
func (s *Store) Get(name string) ([]byte, error) {
	v, err := s.get(name)
	if err != nil {
		return nil, fmt.Errorf("read %q from the OS keyring: %w", name, err)
	}
	if !strings.HasPrefix(v, headerPrefix) {
		return []byte(v), nil
	}
	n, sum, err := parseHeader(v)
	if err != nil {
		return nil, fmt.Errorf("read %q from the OS keyring: %w", name, err)
	}
	var b strings.Builder
	for i := 1; i <= n; i++ {
		part, err := s.get(chunkName(name, i))
		if err != nil {
			return nil, fmt.Errorf("read part %d of %q from the OS keyring: %w", i, name, err)
		}
		b.WriteString(part)
	}
	data := []byte(b.String())
	if got := sha256.Sum256(data); base64.RawStdEncoding.EncodeToString(got[:]) != sum {
		// A writer died half-way; treat the secret as absent rather than
		// handing out a torn value.
		return nil, fmt.Errorf("read %q from the OS keyring: parts do not match their checksum: %w", name, ErrNotFound)
	}
	return data, nil
}

func parseHeader(v string) (n int, sum string, err error) {
	count, sum, ok := strings.Cut(strings.TrimPrefix(v, headerPrefix), ":")
	if !ok {
		return 0, "", errors.New("malformed split-secret header")
	}
	n, err = strconv.Atoi(count)
	if err != nil || n < 1 || n > 10000 {
		return 0, "", errors.New("malformed split-secret header")
	}
	return n, sum, nil
}

// Set stores data under name, replacing what was there.
func (s *Store) Set(name string, data []byte) error {
	oldParts := s.partCount(name)
	v := string(data)
	if len(v) <= s.chunk && !strings.HasPrefix(v, headerPrefix) {
		if err := s.set(name, v); err != nil {
			return fmt.Errorf("write %q to the OS keyring: %w", name, err)
		}
		s.deleteParts(name, 1, oldParts)
		return nil
	}
	n := 0
	for off := 0; off < len(v); off += s.chunk {
		n++
		if err := s.set(chunkName(name, n), v[off:min(off+s.chunk, len(v))]); err != nil {
			return fmt.Errorf("write part %d of %q to the OS keyring: %w", n, name, err)
		}
	}
	sum := sha256.Sum256(data)
	header := headerPrefix + strconv.Itoa(n) + ":" + base64.RawStdEncoding.EncodeToString(sum[:])
	if err := s.set(name, header); err != nil {
		return fmt.Errorf("write %q to the OS keyring: %w", name, err)
	}
	s.deleteParts(name, n+1, oldParts)
	return nil
}

// Delete removes the secret stored under name. Deleting a missing secret is
// not an error.
func (s *Store) Delete(name string) error {
	parts := s.partCount(name)
	if err := s.del(name); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("delete %q from the OS keyring: %w", name, err)
	}
	s.deleteParts(name, 1, parts)
	return nil
}

// partCount reports how many parts the secret under name is split into (0
// when it is not split or absent).
func (s *Store) partCount(name string) int {
	v, err := s.get(name)
	if err != nil || !strings.HasPrefix(v, headerPrefix) {
		return 0
	}
	n, _, err := parseHeader(v)
	if err != nil {
		return 0
	}
	return n
}

// deleteParts removes parts from..to of name, best effort: a leftover part
// is unreachable without its header.
func (s *Store) deleteParts(name string, from, to int) {
	for i := from; i <= to; i++ {
		_ = s.del(chunkName(name, i))
	}
}

func (s *Store) get(user string) (string, error) {
	v, err := s.backend.Get(s.service, user)
	return v, classify(err)
}

func (s *Store) set(user, v string) error { return classify(s.backend.Set(s.service, user, v)) }

func (s *Store) del(user string) error { return classify(s.backend.Delete(s.service, user)) }

// classify maps backend errors onto this package's sentinels. Anything that
// is not "not found" or "too big" means the keyring itself is out of reach.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gokeyring.ErrNotFound), errors.Is(err, ErrNotFound):
		return ErrNotFound
	case errors.Is(err, gokeyring.ErrSetDataTooBig):
		return err
	case errors.Is(err, ErrUnavailable):
		return err
	default:
		return &unavailableError{cause: err, hint: hint(runtime.GOOS)}
	}
}

// unavailableError is ErrUnavailable with the cause and what to do about it.
type unavailableError struct {
	cause error
	hint  string
}

func (e *unavailableError) Error() string {
	return fmt.Sprintf("%s (%v): %s", ErrUnavailable, e.cause, e.hint)
}

func (e *unavailableError) Unwrap() []error { return []error{ErrUnavailable, e.cause} }

func hint(goos string) string {
	switch goos {
	case "windows":
		return "Mapdrive keeps its sign-in in Windows Credential Manager; sign in to Windows interactively (not as a service account) and try again"
	case "darwin":
		return "Mapdrive keeps its sign-in in the login Keychain; unlock it (Keychain Access) and try again"
	default:
		return "Mapdrive keeps its sign-in in the Secret Service (gnome-keyring or KWallet); start a desktop session, " +
			"or on a headless machine run the agent inside a session bus with an unlocked keyring: " +
			"`dbus-run-session -- sh -c 'printf %s \"$KEYRING_PASSWORD\" | gnome-keyring-daemon --unlock --components=secrets; exec mapdrive agent'` " +
			"(the first run creates the login keyring with that password; use the same password every time)"
	}
}

// osBackend is the OS keyring through go-keyring.
type osBackend struct{}

func (osBackend) Set(service, user, secret string) error   { return gokeyring.Set(service, user, secret) }
func (osBackend) Get(service, user string) (string, error) { return gokeyring.Get(service, user) }
func (osBackend) Delete(service, user string) error        { return gokeyring.Delete(service, user) }
