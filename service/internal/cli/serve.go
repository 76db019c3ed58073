package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"github.com/mapdrive/mapdrive/service/internal/api"
	"github.com/mapdrive/mapdrive/service/internal/authn"
	"github.com/mapdrive/mapdrive/service/internal/httpx"
	"github.com/mapdrive/mapdrive/service/internal/store"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

func cmdServe(ctx context.Context, args []string, opts Options) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(opts.Stderr)
	var c common
	c.register(fs)
	listen := fs.String("listen", env("MAPDRIVE_LISTEN", "localhost:8443"), "address to listen on")
	metricsListen := fs.String("metrics-listen", env("MAPDRIVE_METRICS_LISTEN", "127.0.0.1:9464"), "address of the plain-HTTP Prometheus /metrics listener, kept off the public one; loopback by default, \"off\" disables it")
	publicURL := fs.String("public-url", env("MAPDRIVE_PUBLIC_URL", "https://localhost:8443"), "external base URL (portal redirects)")
	certFile := fs.String("tls-cert", env("MAPDRIVE_TLS_CERT", ""), "TLS certificate chain (PEM); default: a dev certificate in the data dir, its CA in ca.pem")
	keyFile := fs.String("tls-key", env("MAPDRIVE_TLS_KEY", ""), "TLS private key (PEM)")
	plainHTTP := fs.Bool("plain-http", os.Getenv("MAPDRIVE_PLAIN_HTTP") == "true", "serve plain HTTP: ONLY behind a platform ingress that terminates TLS 1.2+ (Azure Container Apps)")
	authority := fs.String("authority", env("MAPDRIVE_AUTHORITY", "https://login.microsoftonline.com"), "identity platform base URL (m365sim: https://localhost:9443)")
	authorityCA := fs.String("authority-ca", env("MAPDRIVE_AUTHORITY_CA", ""), "extra CA (PEM) to trust for the authority and Graph, e.g. m365sim's ca.pem")
	v1Issuer := fs.String("v1-issuer-host", env("MAPDRIVE_V1_ISSUER_HOST", authn.DefaultV1IssuerHost), "host of the v1.0 token issuer, <host>/<tid>/ (national clouds differ)")
	jwksURL := fs.String("jwks-url", env("MAPDRIVE_JWKS_URL", ""), "JWKS URL (default <authority>/common/discovery/v2.0/keys)")
	graphURL := fs.String("graph-url", env("MAPDRIVE_GRAPH_URL", ""), "Graph base URL (default https://graph.microsoft.com/v1.0, or <authority>/v1.0 for m365sim)")
	clientID := fs.String("client-id", env("MAPDRIVE_CLIENT_ID", directory.DemoServiceAppID), "the service API's app (client) ID")
	clientSecretFile := fs.String("client-secret-file", env("MAPDRIVE_CLIENT_SECRET_FILE", ""), "file holding the app's client secret (on-behalf-of group lookup, portal sign-in)")
	var audiences stringList
	fs.Var(&audiences, "audience", "accepted token audience, repeatable (or MAPDRIVE_AUDIENCES, comma-separated; default: --client-id and api://mapdrive)")
	migrate := fs.Bool("migrate", os.Getenv("MAPDRIVE_MIGRATE") != "false", "apply pending database migrations at start (set false to run `migrate` as a separate release step)")
	rateLimit := fs.Float64("rate-limit", 50, "requests per second per tenant, per replica")
	rateBurst := fs.Int("rate-burst", 100, "burst per tenant")
	maxBody := fs.Int64("max-body", 64<<10, "request body limit in bytes")
	leaseTTL := fs.Duration("lease-ttl", 7*24*time.Hour, "lifetime of licence leases")
	grace := fs.Duration("shutdown-grace", 20*time.Second, "time in-flight requests get at shutdown")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := c.logger(opts.Stderr)
	st, _, err := c.open(ctx, log, *migrate)
	if err != nil {
		return err
	}
	defer st.Close()
	hc, err := httpClient(*authorityCA)
	if err != nil {
		return err
	}
	if len(audiences) == 0 && os.Getenv("MAPDRIVE_AUDIENCES") != "" {
		audiences = strings.Split(os.Getenv("MAPDRIVE_AUDIENCES"), ",")
	}
	if len(audiences) == 0 {
		audiences = stringList{*clientID, directory.DemoServiceAppURI}
	}
	v, err := authn.New(ctx, authn.Config{AuthorityHost: *authority, JWKSURL: *jwksURL, V1IssuerHost: *v1Issuer, Audiences: audiences, HTTPClient: hc, Log: log})
	if err != nil {
		return err
	}
	// Say which tokens pass, so an admin whose users are refused can
	// compare with the API's registration (requestedAccessTokenVersion,
	// App ID URI, client id) before reading any log of a refusal.
	versions, auds := v.Accepts()
	fmt.Fprintf(opts.Stderr, "mapdrive-service: accepting access tokens version %s; audiences %s\n", strings.Join(versions, " and "), strings.Join(auds, ", "))
	gURL := *graphURL
	if gURL == "" {
		gURL = "https://graph.microsoft.com/v1.0"
		if !strings.Contains(*authority, "login.microsoftonline.com") {
			gURL = strings.TrimSuffix(*authority, "/") + "/v1.0"
		}
	}
	var secret string
	if *clientSecretFile != "" {
		b, err := os.ReadFile(*clientSecretFile)
		if err != nil {
			return fmt.Errorf("read client secret: %w", err)
		}
		secret = strings.TrimSpace(string(b))
	}
	var groups api.GroupResolver
	if secret != "" {
		groups = &authn.GraphGroups{AuthorityHost: *authority, GraphURL: gURL, ClientID: *clientID, ClientSecret: secret, HTTPClient: hc}
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	var portal http.Handler
	if opts.Portal != nil {
		if portal, err = opts.Portal(ctx, PortalDeps{Store: st, Validator: v, Secrets: st.Secrets(), Log: log.With("component", "portal"),
			AuthorityHost: *authority, GraphURL: gURL, ClientID: *clientID, ClientSecret: secret, HTTPClient: hc, PublicURL: *publicURL}); err != nil {
			return fmt.Errorf("portal: %w", err)
		}
	}
	a, err := api.New(api.Config{Store: st, Validator: v, Groups: groups, LeaseTTL: *leaseTTL, RateLimit: *rateLimit, RateBurst: *rateBurst,
		MaxBody: *maxBody, Log: log, Registry: reg, Portal: portal})
	if err != nil {
		return err
	}
	var tlsConfig *tls.Config
	if !*plainHTTP {
		var cert tls.Certificate
		if *certFile != "" {
			cert, err = tls.LoadX509KeyPair(*certFile, *keyFile)
		} else {
			cert, err = httpx.DevCert(c.dataDir)
		}
		if err != nil {
			return fmt.Errorf("TLS certificate: %w", err)
		}
		tlsConfig = httpx.TLSConfig(cert)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a, TLSConfig: tlsConfig, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 32 << 10}
	log.Info("mapdrive-service listening", "addr", ln.Addr().String(), "db", st.Dialect(), "authority", *authority, "portal", portal != nil, "tls", tlsConfig != nil)
	// The metrics listener is opened before anything is served, so a
	// taken port fails the start instead of leaving a half-started service.
	var msrv *http.Server
	var mln net.Listener
	if *metricsListen != "off" && *metricsListen != "" {
		if mln, err = net.Listen("tcp", *metricsListen); err != nil {
			ln.Close()
			return fmt.Errorf("metrics listener (--metrics-listen %s): %w", *metricsListen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", a.Metrics())
		msrv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, MaxHeaderBytes: 8 << 10}
		log.Info("metrics listening", "addr", mln.Addr().String())
	}
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return httpx.Serve(gctx, srv, ln, *grace) })
	if msrv != nil {
		g.Go(func() error { return httpx.Serve(gctx, msrv, mln, *grace) })
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
// the deletion only keeps the table small.
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
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
