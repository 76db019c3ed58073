// Package authtest signs test users in to m365sim: a scripted browser for
// the interactive flow and helpers that build a signed-in auth.Client. Only
// tests import it.
package authtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/mapdrive/mapdrive/client/internal/auth"
	"github.com/mapdrive/mapdrive/client/internal/keyring"
	"github.com/mapdrive/mapdrive/shared/m365sim"
	"github.com/mapdrive/mapdrive/shared/m365sim/directory"
)

// Browser returns an auth.Config.OpenURL that plays the user's browser:
// it loads the sign-in page, submits it as upn, and posts the form Entra ID
// answers with (form_post) to the loopback redirect URI, as a browser's
// auto-submitting page would. hc must trust the simulator's CA.
func Browser(hc *http.Client, upn string) func(string) error {
	return func(authURL string) error {
		jar, _ := cookiejar.New(nil)
		c := *hc
		c.Jar = jar
		resp, err := c.Get(authURL)
		if err != nil {
			return fmt.Errorf("test browser: open sign-in page: %w", err)
		}
		for hop := 0; hop < 6; hop++ {
			f, err := readForm(resp)
			if err != nil {
				return fmt.Errorf("test browser: %w", err)
			}
			action, err := resp.Request.URL.Parse(f.action)
			if err != nil {
				return fmt.Errorf("test browser: form action %q: %w", f.action, err)
			}
			if _, ok := f.fields["signin"]; ok || f.hasLogin {
				f.fields.Set("login", upn)
			}
			resp, err = c.PostForm(action.String(), f.fields)
			if err != nil {
				return fmt.Errorf("test browser: post to %s: %w", action.Host, err)
			}
			if action.Scheme == "http" && (action.Hostname() == "localhost" || action.Hostname() == "127.0.0.1") {
				// Posted to the app's redirect URI: done.
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("test browser: redirect URI answered %d: %s", resp.StatusCode, body)
				}
				return nil
			}
		}
		resp.Body.Close()
		return errors.New("test browser: no redirect to the app after 6 pages")
	}
}

type form struct {
	action   string
	fields   url.Values
	hasLogin bool
}

// readForm returns the first form of an HTML page with its hidden inputs.
func readForm(resp *http.Response) (form, error) {
	defer resp.Body.Close()
	doc, err := html.Parse(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return form{}, fmt.Errorf("parse page: %w", err)
	}
	var f *form
	var text strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			text.WriteString(n.Data)
		}
		if n.Type == html.ElementNode {
			switch n.Data {
			case "form":
				if f == nil {
					f = &form{action: attr(n, "action"), fields: url.Values{}}
				} else {
					return // only the first form
				}
			case "input":
				if f != nil {
					switch attr(n, "type") {
					case "hidden":
						f.fields.Set(attr(n, "name"), attr(n, "value"))
					case "email", "text":
						if attr(n, "name") == "login" {
							f.hasLogin = true
						}
					}
				}
			}
		}
		for ch := n.FirstChild; ch != nil; ch = ch.NextSibling {
			walk(ch)
		}
	}
	walk(doc)
	if f == nil {
		msg := strings.Join(strings.Fields(text.String()), " ")
		return form{}, fmt.Errorf("page (HTTP %d) has no form: %.300s", resp.StatusCode, msg)
	}
	return *f, nil
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// Config returns an auth.Config for sim's tenant (name, GUID or
// "organizations") with the demo client, the service API scope and an
// in-memory keyring.
func Config(sim *m365sim.Sim, tenant string, kr *keyring.Store) auth.Config {
	off := false
	if kr == nil {
		kr = keyring.New(keyring.WithBackend(keyring.NewMemory()))
	}
	return auth.Config{
		Authority:         sim.AuthorityURL(tenant),
		ClientID:          directory.DemoClientID,
		APIScopes:         []string{directory.DemoServiceAppURI + "/" + directory.DemoServiceScope},
		CAFile:            sim.CAFile(),
		InstanceDiscovery: &off,
		Keyring:           kr,
	}
}

// SignIn returns an auth.Client signed in to sim as upn through the
// interactive flow.
func SignIn(t testing.TB, sim *m365sim.Sim, tenant, upn string) *auth.Client {
	t.Helper()
	cfg := Config(sim, tenant, nil)
	cfg.OpenURL = Browser(sim.HTTPClient(), upn)
	c, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := c.Login(ctx); err != nil {
		t.Fatalf("sign in as %s: %v", upn, err)
	}
	return c
}
