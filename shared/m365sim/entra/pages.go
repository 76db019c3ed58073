package entra

import (
	"bytes"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
)

// field is a hidden form input.
type field struct{ Name, Value string }

// fields turns parameters into hidden inputs, in a stable order.
func fields(v url.Values) []field {
	keys := make([]string, 0, len(v))
	for k := range v {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]field, 0, len(keys))
	for _, k := range keys {
		out = append(out, field{k, v.Get(k)})
	}
	return out
}

type userOption struct{ UPN, Name string }

// signInPage is the data of the sign-in page.
type signInPage struct {
	Action      string
	Fields      []field
	AppName     string
	Tenant      string // "" for common/organizations: no user list
	Users       []userOption
	LoginHint   string
	Permissions []string
	Error       string
}

// messagePage is a message with an optional form button.
type messagePage struct {
	Title, Text, Code string
	Action, Method    string
	Button            string
	Fields            []field
}

// formPage is the auto-submitting form_post response.
type formPage struct {
	Action string
	Fields []field
}

// devicePage is the data of the device-login pages.
type devicePage struct {
	Code        string // user code, once accepted
	AppName     string
	Tenant      string
	Users       []userOption
	Permissions []string
	Error       string
}

const pageHead = `{{define "head"}}<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{{.}}</title>
<style>body{font-family:Segoe UI,Helvetica,Arial,sans-serif;background:#f2f2f2;margin:0}
main{background:#fff;max-width:440px;margin:48px auto;padding:32px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
h1{font-size:24px;font-weight:600}button{margin:4px 0;padding:6px 12px}.err{color:#a80000}
.user{display:block;width:100%;text-align:left}code{font-size:12px;white-space:pre-wrap}</style></head><body><main>
<p><strong>m365sim</strong> &middot; Microsoft Entra ID (simulated)</p>{{end}}`

const pageTemplates = pageHead + `
{{define "signin"}}{{template "head" "Sign in to your account"}}
<h1>Sign in</h1>
<p>to continue to <strong>{{.AppName}}</strong>{{if .Tenant}} ({{.Tenant}}){{end}}</p>
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
<form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<input type="hidden" name="signin" value="1">
{{range .Users}}<button class="user" type="submit" name="pick" value="{{.UPN}}">{{.Name}} &lt;{{.UPN}}&gt;</button>
{{end}}<p><label>Email or UPN <input type="email" name="login" value="{{.LoginHint}}" autocomplete="username"></label>
<button type="submit">Sign in</button></p>
{{if .Permissions}}<p>By signing in you let this app:</p><ul>{{range .Permissions}}<li>{{.}}</li>{{end}}</ul>{{end}}
</form></main></body></html>{{end}}

{{define "message"}}{{template "head" .Title}}
<h1>{{.Title}}</h1><p>{{.Text}}</p>
{{if .Code}}<p><code>{{.Code}}</code></p>{{end}}
{{if .Button}}<form method="{{.Method}}" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<button type="submit">{{.Button}}</button></form>{{end}}
</main></body></html>{{end}}

{{define "formpost"}}<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Working...</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="{{.Action}}">
{{range .Fields}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit"></noscript>
</form></body></html>{{end}}

{{define "devicecode"}}{{template "head" "Enter code"}}
<h1>Enter code</h1><p>Enter the code displayed on your app or device.</p>
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
<form method="post" action="/devicelogin"><input type="text" name="otc" value="{{.Code}}" autocomplete="off">
<button type="submit">Next</button></form></main></body></html>{{end}}

{{define "devicepick"}}{{template "head" "Sign in"}}
<h1>Sign in</h1><p>You are signing in to <strong>{{.AppName}}</strong> on another device{{if .Tenant}} ({{.Tenant}}){{end}}.</p>
{{if .Error}}<p class="err">{{.Error}}</p>{{end}}
<form method="post" action="/devicelogin"><input type="hidden" name="otc" value="{{.Code}}">
<input type="hidden" name="action" value="approve">
{{range .Users}}<button class="user" type="submit" name="pick" value="{{.UPN}}">{{.Name}} &lt;{{.UPN}}&gt;</button>
{{end}}<p><label>Email or UPN <input type="email" name="login" autocomplete="username"></label>
<button type="submit">Continue</button></p>
{{if .Permissions}}<p>By continuing you let this app:</p><ul>{{range .Permissions}}<li>{{.}}</li>{{end}}</ul>{{end}}
</form>
<form method="post" action="/devicelogin"><input type="hidden" name="otc" value="{{.Code}}">
<input type="hidden" name="action" value="decline"><button type="submit">Cancel</button></form>
</main></body></html>{{end}}
`

func parsePages() (*template.Template, error) {
	return template.New("pages").Parse(pageTemplates)
}

// render writes a page; pages are small, so it renders to memory first so
// that a template error becomes a clean 500.
func (s *Server) render(w http.ResponseWriter, status int, name string, data any) {
	var buf bytes.Buffer
	if err := s.pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("entra: render page", "page", name, "err", err)
		http.Error(w, "render page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store, no-cache")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func itoa(n int) string { return strconv.Itoa(n) }
