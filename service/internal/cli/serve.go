package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/mapdrive/mapdrive/service/internal/api"
	"github.com/mapdrive/mapdrive/service/internal/authn"
	"github.com/mapdrive/mapdrive/service/internal/httpx"
	"github.com/mapdrive/mapdrive/service/internal/portal"
	"github.com/mapdrive/mapdrive/service/internal/store"
)

func cmdServe(ctx context.Context, args []string, opts Options) error {
	fs, c := newFlags("serve", opts)
	var f serveFlags
	fs.add(f.settings()...)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := f.check(); err != nil {
		return err
	}
	log := c.logger(opts.Stderr)
	st, _, err := c.open(ctx, log, f.migrate)
	if err != nil {
		return err
	}
	defer st.Close()
	hc, err := httpClient(f.authorityCA)
	if err != nil {
		return err
	}
	audiences := f.audiences
	if len(audiences) == 0 {
		// v2.0 tokens carry the client id, v1.0 tokens the App ID URI,
		// which is api://<client id> unless the admin chose another
		// (then --audience names it).
		audiences = stringList{f.clientID, "api://" + f.clientID}
	}
	v, err := authn.New(ctx, authn.Config{AuthorityHost: f.authority, JWKSURL: f.jwksURL, V1IssuerHost: f.v1Issuer, V2IssuerHost: f.v2Issuer,
		Audiences: audiences, HTTPClient: hc, Log: log})
	if err != nil {
		return err
	}
	// Say which tokens pass, so an admin whose users are refused can
	// compare with the API's registration (requestedAccessTokenVersion,
	// App ID URI, client id) before reading any log of a refusal.
	versions, auds := v.Accepts()
	fmt.Fprintf(opts.Stderr, "mapdrive-service: accepting access tokens version %s; audiences %s\n", strings.Join(versions, " and "), strings.Join(auds, ", "))
	gURL := f.graphURL
	var secret string
	if f.clientSecretFile != "" {
		b, err := os.ReadFile(f.clientSecretFile)
		if err != nil {
			return fmt.Errorf("read client secret: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	var groups api.GroupResolver
	if secret == "" {
		// Entra sends no groups claim unless the registration asks for
		// one, so without a secret group-assigned mappings silently reach
		// nobody: say so once, where the operator looks at start.
		log.Warn("group lookup through Graph is off: no client secret (--client-secret-file, MAPDRIVESVC_CLIENT_SECRET_FILE); users whose tokens carry no groups claim, Entra's default, get only the mappings assigned to everyone; see docs/entra-app-registration.md, steps 1.4 and 1.7")
	} else {
		groups = &authn.GraphGroups{AuthorityHost: f.authority, GraphURL: gURL, GraphScope: f.graphScope, ClientID: f.clientID, ClientSecret: secret, HTTPClient: hc}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var portalHandler http.Handler
	if opts.Portal != nil {
		if portalHandler, err = opts.Portal(ctx, portal.Deps{Store: st, Validator: v, Log: log.With("component", "portal"),
			AuthorityHost: f.authority, GraphURL: gURL, ClientID: f.clientID, ClientSecret: secret, HTTPClient: hc, PublicURL: f.publicURL,
			DesktopClientID: f.desktopClientID, MSIDir: f.msiDir, MSIURL: f.msiURL}); err != nil {
			return fmt.Errorf("portal: %w", err)
		}
	}
	var proxies []netip.Prefix
	for _, c := range f.trustedProxies {
		p, err := netip.ParsePrefix(strings.TrimSpace(c))
		if err != nil {
			return fmt.Errorf("--trusted-proxies: %q is not a CIDR such as 10.0.0.0/16: %w", c, err)
		}
		proxies = append(proxies, p.Masked())
	}
	a, err := api.New(api.Config{Store: st, Validator: v, Groups: groups, LeaseTTL: f.leaseTTL, RateLimit: f.rateLimit, RateBurst: f.rateBurst,
		MaxBody: f.maxBody, Log: log, Registry: reg, Portal: portalHandler, TrustedProxies: proxies})
	if err != nil {
		return err
	}
	var tlsConfig *tls.Config
	if !f.plainHTTP {
		var cert tls.Certificate
		if f.certFile != "" {
			cert, err = tls.LoadX509KeyPair(f.certFile, f.keyFile)
		} else {
			cert, err = httpx.DevCert(c.dataDir)
		}
		if err != nil {
			return fmt.Errorf("TLS certificate: %w", err)
		}
		tlsConfig = httpx.TLSConfig(cert)
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a, TLSConfig: tlsConfig, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 32 << 10}
	log.Info("mapdrive-service listening", "addr", ln.Addr().String(), "db", st.Dialect(), "authority", f.authority, "portal", portalHandler != nil, "tls", tlsConfig != nil)
	// The metrics listener is opened before anything is served, so a
	// taken port fails the start instead of leaving a half-started service.
	var msrv *http.Server
	var mln net.Listener
	if f.metricsListen != "off" && f.metricsListen != "" {
		if mln, err = net.Listen("tcp", f.metricsListen); err != nil {
			ln.Close()
			return fmt.Errorf("metrics listener (--metrics-listen %s): %w", f.metricsListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.Metrics())
		msrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, MaxHeaderBytes: 8 << 10}
		log.Info("metrics listening", "addr", mln.Addr().String())
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return httpx.Serve(gctx, srv, ln, f.grace) })
	if msrv != nil {
		g.Go(func() error { return httpx.Serve(gctx, msrv, mln, f.grace) })
	}
	g.Go(func() error { return releaseSeats(gctx, st, log) })
	if err := g.Wait(); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("mapdrive-service stopped")
	return nil
}

// releaseSeats deletes seats unused for 30 days and records each tenant's
// daily seat usage, hourly. Seats past the window already do not count;
// the deletion only keeps the table small. It also deletes expired portal
// sessions, so their sealed tokens do not wait for the next sign-in.
func releaseSeats(ctx context.Context, st *store.Store, log interface {
	Info(string, ...any)
	Warn(string, ...any)
}) error {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := st.ReleaseStaleSeats(ctx); err != nil && ctx.Err() == nil {
			log.Warn("release stale seats", "err", err)
		} else if n > 0 {
			log.Info("released stale seats", "count", n)
		}
		if err := st.RecordSeatUsage(ctx); err != nil && ctx.Err() == nil {
			log.Warn("record seat usage", "err", err)
		}
		if _, err := st.SweepPortalSessions(ctx, time.Now()); err != nil && ctx.Err() == nil {
			log.Warn("sweep expired portal sessions", "err", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
