package portal

import (
	"crypto/x509"
	"net/http"
	"net/url"
	"testing"
)

// SyncBuffer lets the browser tests, which run the whole service through
// the cli package in package portal_test (cli imports portal, so package
// portal's own tests cannot import cli), share the log sink.
type SyncBuffer = syncBuffer

// Browser and Page let those tests drive the real service through the
// same HTTP form flow as package portal's own tests.
type (
	Browser = browser
	Page    = page
)

// NewBrowser is a browser for the service at base, trusting roots.
func NewBrowser(t testing.TB, base string, roots *x509.CertPool) *Browser {
	return newBrowser(t, base, roots)
}

func (b *browser) Get(u string, follow bool) Page                   { return b.get(u, follow) }
func (b *browser) Post(u string, form url.Values, follow bool) Page { return b.post(u, form, follow) }
func (b *browser) SignIn(upn string) Page                           { return b.signIn(upn) }
func (b *browser) CSRF() string                                     { return b.csrf }

func (p page) Status() int         { return p.status }
func (p page) Body() string        { return p.body }
func (p page) URL() string         { return p.url }
func (p page) Header() http.Header { return p.header }
func (p page) MustContain(t testing.TB, needles ...string) {
	t.Helper()
	p.mustContain(t, needles...)
}
