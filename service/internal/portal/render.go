package portal

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

// view is a page's data. Each page template is type-checked against its
// view struct in render_test.go.
type view interface {
	base() *Base
	template() string
}

// Base is what every page shows: title, navigation, the signed-in admin
// and the CSRF token for its forms.
type Base struct {
	Title      string
	Nav        string // active navigation entry
	CSRF       string
	SignedIn   bool
	Registered bool   // the admin's tenant is registered (full navigation)
	UserName   string // the admin's display name
	Tenant     string // the tenant's display name
	Flash      string
}

func (b *Base) base() *Base { return b }

// pages holds the parsed templates, one set per page.
type pages struct {
	sets map[string]*template.Template // immutable after parsePages
}

// pageFiles are the full pages; partials are fragments served to htmx.
var pageFiles = []string{"signin", "error", "onboarding", "mappings", "mapping_form", "licence", "audit", "policies", "deployment"}
var partialFiles = []string{"libraries", "groups"}

var funcs = template.FuncMap{
	"join": strings.Join,
	"inc":  func(i int) int { return i + 1 },
}

func parsePages() (*pages, error) {
	p := &pages{sets: map[string]*template.Template{}}
	for _, name := range pageFiles {
		t, err := template.New("layout.html").Option("missingkey=error").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/fields.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		p.sets[name] = t
	}
	for _, name := range partialFiles {
		t, err := template.New("fields.html").Option("missingkey=error").Funcs(funcs).ParseFS(templateFS, "templates/fields.html")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		p.sets[name] = t
	}
	return p, nil
}

// execute renders view v into a buffer, so a template error never sends
// half a page.
func (p *pages) execute(v view) ([]byte, error) {
	name := v.template()
	t := p.sets[name]
	if t == nil {
		return nil, fmt.Errorf("no template %q", name)
	}
	var buf bytes.Buffer
	entry := "layout.html"
	if strings.HasPrefix(name, "frag:") || isPartial(name) {
		entry = name
	}
	if err := t.ExecuteTemplate(&buf, entry, v); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

func isPartial(name string) bool {
	for _, p := range partialFiles {
		if p == name {
			return true
		}
	}
	return false
}

// render fills the view's Base from the session and writes the page.
func (s *Server) render(w http.ResponseWriter, r *http.Request, ss *session, status int, v view) error {
	b := v.base()
	if ss != nil {
		b.CSRF = ss.CSRF
		if ss.signedIn() {
			b.SignedIn = true
			b.UserName = ss.Name
			if t, err := s.st.Tenant(r.Context(), ss.TenantID); err == nil {
				b.Registered, b.Tenant = true, t.DisplayName
			}
			if b.Flash == "" {
				f, err := s.sessions.takeFlash(r.Context(), ss.ID)
				if err != nil {
					return err
				}
				b.Flash = f
			}
		}
	}
	out, err := s.pages.execute(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err = w.Write(out)
	return err
}

// errorView is an error page.
type errorView struct {
	Base
	Status int
	Msg    string
}

func (*errorView) template() string { return "error" }

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, ss *session, pe *pageError) {
	if r.Header.Get("HX-Request") != "" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(pe.Status)
		fmt.Fprintf(w, `<p class="error" role="alert">%s</p>`, template.HTMLEscapeString(pe.Msg))
		return
	}
	if err := s.render(w, r, ss, pe.Status, &errorView{Base: Base{Title: pe.Title}, Status: pe.Status, Msg: pe.Msg}); err != nil {
		s.log.ErrorContext(r.Context(), "render error page", "err", err)
		http.Error(w, pe.Msg, pe.Status)
	}
}

// staticHandler serves the embedded assets under /static/.
func staticHandler() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	fsrv := http.StripPrefix("/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}
