// Package graph serves the Microsoft Graph v1.0 drive APIs of m365sim:
// users, drives, sites, groups, driveItems, content, upload sessions,
// copy monitors, delta and $batch, with Graph's status codes, headers and
// error bodies, as the contract in shared/reference/graph-contract.md
// describes them. State lives in a store under DataDir/graph.
//
// Routes (all below /v1.0 need a Graph access token):
//
//	/me, /me/drive, /me/drives, /me/followedSites, /me/joinedTeams
//	/me/memberOf (direct), /me/transitiveMemberOf and POST /me/checkMemberGroups
//	(through nested groups too)
//	/users/{id|upn}[/drive...], /groups/{id}/drive[...], /groups/{id}/drives
//	/groups?$search="displayName:term"&$top= (ConsistencyLevel: eventual)
//	/sites?search=, /sites/{host,guid,guid}, /sites/{host}:/{path}[:], .../drives, .../drive
//	/drives/{id}, and below any drive: /root, /items/{id}, ":/relative/path:",
//	then /children (GET list, POST folder), /content (GET 302, PUT upload),
//	/createUploadSession, /copy, /delta (root only; "delta()" too)
//	/$batch
//
// Pre-authenticated URLs need no Authorization header: /_download/{signed}
// (Range, expiry, bound to a content version), /_upload/{session}
// (fragments; an Authorization header is refused with 401, as the
// contract allows) and /_monitor/{job} (copy progress).
//
// Request bodies may be gzip-encoded, as the Graph SDKs send them.
package graph

import (
	"compress/gzip"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
	"github.com/mapdrive/mapdrive/shared/m365sim/graph/store"
	"github.com/mapdrive/mapdrive/shared/m365sim/token"
)

// Config configures the Graph face of the simulator.
type Config struct {
	BaseURL             string // "https://localhost:9443"; Graph base is BaseURL+"/v1.0"
	DataDir             string // metadata store + blobs live under DataDir/graph/
	Logger              *slog.Logger
	Now                 func() time.Time
	DownloadURLLifetime time.Duration // default 1h
	PageSize            int           // default page size for children (Graph: 200)
	// Challenger decides whether a token of a CAE-capable client (xms_cc
	// holds cp1) is answered with a claims challenge; nil never does.
	Challenger Challenger
}

// Limits from the contract.
const (
	simpleUploadLimit = 250 << 20 // bytes accepted by a simple PUT
	fragmentUnit      = 320 << 10 // upload fragments are multiples of this
	fragmentLimit     = 60 << 20  // each fragment is smaller than this
	sessionLifetime   = time.Hour // an upload session lives this long after its last fragment
	maxPageSize       = 1000
	maxBatch          = 20
	copyWorkers       = 2
)

// Server is the Graph API. Its fields are set in New and constant after,
// except where noted.
type Server struct {
	cfg    Config
	base   string // cfg.BaseURL without a trailing slash
	dir    *directory.Directory
	keys   *token.Keys
	st     *store.Store
	log    *slog.Logger
	now    func() time.Time
	page   int
	ttl    time.Duration
	mac    []byte        // download URL signing key
	urlGen atomic.Uint64 // download URLs of older generations are expired
	mux    http.Handler

	ctx     context.Context // cancelled by Close; owns copy jobs
	cancel  context.CancelFunc
	wg      sync.WaitGroup // copy jobs
	copySem chan struct{}

	locks sessionLocks // serialize fragments per upload session

	mu   sync.Mutex          // guards jobs
	jobs map[string]*copyJob // copy monitors by id
}

// New opens the store under cfg.DataDir/graph and, on first start,
// materializes the seed's files for every drive of dir.
func New(cfg Config, dir *directory.Directory, keys *token.Keys) (*Server, error) {
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://localhost:9443"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.DownloadURLLifetime <= 0 {
		cfg.DownloadURLLifetime = time.Hour
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 200
	}
	if cfg.DataDir == "" {
		return nil, errors.New("graph: DataDir is required")
	}
	st, err := store.Open(filepath.Join(cfg.DataDir, "graph"))
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), dir: dir, keys: keys, st: st,
		log: cfg.Logger.With("component", "graph"), now: cfg.Now, page: cfg.PageSize, ttl: cfg.DownloadURLLifetime,
		ctx: ctx, cancel: cancel, copySem: make(chan struct{}, copyWorkers), jobs: map[string]*copyJob{},
	}
	err = st.Update(func(tx *store.Tx) error {
		s.mac = tx.Meta("url-key")
		if s.mac == nil {
			s.mac = make([]byte, 32)
			rand.Read(s.mac)
			if err := tx.PutMeta("url-key", s.mac); err != nil {
				return err
			}
		}
		if g := tx.Meta("url-gen"); len(g) == 8 {
			s.urlGen.Store(binary.BigEndian.Uint64(g))
		}
		return nil
	})
	if err != nil {
		st.Close()
		cancel()
		return nil, fmt.Errorf("graph: load keys: %w", err)
	}
	if err := s.materialize(); err != nil {
		st.Close()
		cancel()
		return nil, fmt.Errorf("graph: seed drives: %w", err)
	}
	if err := s.sweepSessions(); err != nil {
		st.Close()
		cancel()
		return nil, fmt.Errorf("graph: %w", err)
	}
	s.mux = s.routes()
	return s, nil
}

// Handler serves /v1.0/..., /_download/..., /_upload/... and /_monitor/....
func (s *Server) Handler() http.Handler { return s.mux }

// Close stops copy jobs and closes the store.
func (s *Server) Close() error {
	s.cancel()
	s.wg.Wait()
	return s.st.Close()
}

// sweepSessions removes upload sessions that expired while the server was
// down, with their staging files.
func (s *Server) sweepSessions() error {
	now := s.now()
	return s.st.Update(func(tx *store.Tx) error {
		var dead []*store.Session
		if err := tx.Sessions(func(sess *store.Session) error {
			if now.After(sess.Expires) {
				dead = append(dead, sess)
			}
			return nil
		}); err != nil {
			return fmt.Errorf("sweep upload sessions: %w", err)
		}
		for _, sess := range dead {
			os.Remove(sess.Staged)
			if err := tx.DeleteSession(sess.ID); err != nil {
				return err
			}
		}
		return nil
	})
}

// ExpireDownloadURLs makes every download URL issued so far stop working.
func (s *Server) ExpireDownloadURLs() {
	g := s.urlGen.Add(1)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], g)
	if err := s.st.Update(func(tx *store.Tx) error { return tx.PutMeta("url-gen", b[:]) }); err != nil {
		s.log.Error("persist download URL generation", "err", err)
	}
}

// Inner codes of a 410 resyncRequired (graph-contract.md, Delta).
const (
	ResyncApplyDifferences  = "resyncChangesApplyDifferences"
	ResyncUploadDifferences = "resyncChangesUploadDifferences"
)

// ExpireDeltaTokens makes every delta token issued so far for driveID
// answer 410 resyncRequired with the inner code inner (ResyncApply... or
// ResyncUpload...; "" is apply).
func (s *Server) ExpireDeltaTokens(driveID, inner string) {
	err := s.st.Update(func(tx *store.Tx) error {
		d, err := tx.Drive(driveID)
		if err != nil {
			return err
		}
		d.Epoch++
		d.ResyncInner = inner
		return tx.PutDrive(d)
	})
	if err != nil {
		s.log.Error("expire delta tokens", "drive", driveID, "err", err)
	}
}

func (s *Server) sign(payload []byte) []byte {
	m := hmac.New(sha256.New, s.mac)
	m.Write(payload)
	return m.Sum(nil)[:16]
}

// routes builds the top-level handler: request ids, then pre-authenticated
// URLs or the authenticated Graph API.
func (s *Server) routes() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rid := newRequestID()
		h := w.Header()
		h.Set("request-id", rid)
		crid := r.Header.Get("client-request-id")
		if crid == "" {
			crid = rid
		}
		h.Set("client-request-id", crid)
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("graph handler panic", "route", routeName(r), "panic", fmt.Sprint(v))
				s.writeError(w, r, fmt.Errorf("panic: %v", v))
			}
		}()
		p := r.URL.Path
		var err error
		if err = decodeRequestBody(r); err != nil {
			s.writeError(w, r, err)
			return
		}
		switch {
		case strings.HasPrefix(p, "/_download/"):
			err = s.serveDownload(w, r, p[len("/_download/"):])
		case strings.HasPrefix(p, "/_upload/"):
			err = s.serveUpload(w, r, p[len("/_upload/"):])
		case strings.HasPrefix(p, "/_monitor/"):
			err = s.serveMonitor(w, r, p[len("/_monitor/"):])
		case p == "/v1.0" || strings.HasPrefix(p, "/v1.0/"):
			var c *call
			c, err = s.authenticate(r)
			if err == nil {
				err = s.serveGraph(w, r, c)
			}
		default:
			err = errorf(http.StatusNotFound, "itemNotFound", "Resource not found for the segment.")
		}
		if err != nil {
			s.writeError(w, r, err)
		}
	})
}

// decodeRequestBody undoes a gzip Content-Encoding, which Graph accepts and
// the Graph SDKs' compression middleware sends. The decoded length is then
// unknown (ContentLength -1).
func decodeRequestBody(r *http.Request) error {
	ce := strings.TrimSpace(strings.ToLower(r.Header.Get("Content-Encoding")))
	switch ce {
	case "", "identity":
		return nil
	case "gzip":
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			return errInvalid("The request body is not valid gzip.")
		}
		r.Body = struct {
			io.Reader
			io.Closer
		}{zr, r.Body}
		r.Header.Del("Content-Encoding")
		r.Header.Del("Content-Length")
		r.ContentLength = -1
		return nil
	}
	return errorf(http.StatusUnsupportedMediaType, "invalidRequest", "Content-Encoding %q is not supported.", ce)
}
