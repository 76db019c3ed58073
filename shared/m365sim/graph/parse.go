package graph

import (
	"strconv"
	"strings"
)

// itemAddr is a parsed item address below a drive: "/root", "/items/{id}",
// either followed by ":/relative/path:" and then by "/{action}".
type itemAddr struct {
	base    string   // "root" or an item id
	path    []string // path segments below base; empty addresses base itself
	hasPath bool     // the address used path syntax
	action  string   // "", "children", "content", "delta", "copy", "createUploadSession", "createLink", "checkout", "checkin"
}

var actions = map[string]bool{"children": true, "content": true, "delta": true, "copy": true, "createUploadSession": true, "createLink": true, "checkout": true, "checkin": true}

// parseItemAddr parses the part of a drive URL after the drive, such as
// "/root:/a/b.txt:/content" or "/items/01ABC/children".
func parseItemAddr(rest string) (itemAddr, error) {
	var a itemAddr
	switch {
	case rest == "/root" || strings.HasPrefix(rest, "/root/") || strings.HasPrefix(rest, "/root:"):
		a.base = "root"
		rest = rest[len("/root"):]
	case strings.HasPrefix(rest, "/items/"):
		rest = rest[len("/items/"):]
		end := strings.IndexAny(rest, "/:")
		if end < 0 {
			end = len(rest)
		}
		a.base = rest[:end]
		rest = rest[end:]
		if a.base == "" {
			return a, errInvalid("Empty item id in the URL.")
		}
		if a.base == "root" {
			a.base = "root"
		}
	default:
		return a, errInvalid("Unsupported segment in the request URL.")
	}
	if strings.HasPrefix(rest, ":") {
		a.hasPath = true
		rest = rest[1:]
		var p string
		if i := strings.Index(rest, ":"); i >= 0 {
			p, rest = rest[:i], rest[i+1:]
		} else {
			p, rest = rest, ""
		}
		if !strings.HasPrefix(p, "/") {
			return a, errInvalid("A path must start with '/'.")
		}
		segs, err := splitPath(p)
		if err != nil {
			return a, err
		}
		a.path = segs
	}
	if rest == "" || rest == "/" {
		return a, nil
	}
	if !strings.HasPrefix(rest, "/") {
		return a, errInvalid("Unsupported segment in the request URL.")
	}
	// OData allows functions and actions to be called "delta()" and to be
	// namespace-qualified ("microsoft.graph.delta()"); the SDKs do both.
	act := strings.TrimSuffix(strings.TrimPrefix(rest[1:], "microsoft.graph."), "()")
	if !actions[act] {
		return a, errInvalid("Unsupported segment in the request URL.")
	}
	a.action = act
	return a, nil
}

// splitPath splits "/a/b/" into validated names.
func splitPath(p string) ([]string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil, nil
	}
	segs := strings.Split(p, "/")
	for _, s := range segs {
		if err := validName(s); err != nil {
			return nil, err
		}
	}
	return segs, nil
}

// validName checks a driveItem name as OneDrive for Business does.
func validName(name string) error {
	// No length rule here: a name is limited only by the 400 characters
	// of its whole path (checkPathLen).
	if name == "" || name == "." || name == ".." {
		return errInvalid("The name is empty or reserved.")
	}
	if strings.ContainsAny(name, "\"*:<>?/\\|\x00") {
		return errInvalid("The provided name contains invalid characters.")
	}
	for _, r := range name {
		if r < 0x20 {
			return errInvalid("The provided name contains invalid characters.")
		}
	}
	if strings.TrimSpace(name) != name || strings.HasSuffix(name, ".") {
		return errInvalid("The provided name cannot begin or end with a space or end with a period.")
	}
	return nil
}

// contentRange is a parsed "Content-Range: bytes s-e/total" of an upload
// fragment; total is -1 for "*".
type contentRange struct{ start, end, total int64 }

func parseContentRange(h string) (contentRange, error) {
	var cr contentRange
	rest, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes ")
	if !ok {
		return cr, errInvalid("The Content-Range header is missing or malformed.")
	}
	rng, tot, ok := strings.Cut(strings.TrimSpace(rest), "/")
	if !ok {
		return cr, errInvalid("The Content-Range header is malformed.")
	}
	s, e, ok := strings.Cut(rng, "-")
	if !ok {
		return cr, errInvalid("The Content-Range header is malformed.")
	}
	var err1, err2, err3 error
	cr.start, err1 = strconv.ParseInt(s, 10, 64)
	cr.end, err2 = strconv.ParseInt(e, 10, 64)
	if tot == "*" {
		cr.total = -1
	} else {
		cr.total, err3 = strconv.ParseInt(tot, 10, 64)
	}
	if err1 != nil || err2 != nil || err3 != nil || cr.start < 0 || cr.end < cr.start || (cr.total >= 0 && cr.end >= cr.total) {
		return cr, errInvalid("The Content-Range header is malformed.")
	}
	return cr, nil
}

// parseSelect parses $select; nil means every field.
func parseSelect(v string) (selection, error) {
	if v == "" {
		return nil, nil
	}
	sel := selection{"id": true}
	for _, f := range strings.Split(v, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			return nil, errInvalid("Syntax error in $select.")
		}
		for _, r := range f {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '@' || r == '_' || r == '/') {
				return nil, errInvalid("Syntax error in $select.")
			}
		}
		sel[f] = true
	}
	return sel, nil
}

// parseTop parses $top (1..maxPageSize); def when absent.
func parseTop(v string, def int) (int, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, errInvalid("Invalid value for $top.")
	}
	return min(n, maxPageSize), nil
}

// orderBy is a parsed $orderby.
type orderBy struct {
	field string // "name", "lastModifiedDateTime", "size"
	desc  bool
}

func parseOrderBy(v string) (orderBy, error) {
	o := orderBy{field: "name"}
	if v == "" {
		return o, nil
	}
	f, dir, _ := strings.Cut(strings.TrimSpace(v), " ")
	switch f {
	case "name", "lastModifiedDateTime", "size":
		o.field = f
	default:
		return o, errInvalid("$orderby is supported on name, lastModifiedDateTime and size only.")
	}
	switch strings.ToLower(strings.TrimSpace(dir)) {
	case "", "asc":
	case "desc":
		o.desc = true
	default:
		return o, errInvalid("Syntax error in $orderby.")
	}
	return o, nil
}

// splitETags parses an If-Match / If-None-Match value: "*" or a
// comma-separated list of quoted, optionally weak, entity tags. Tags may
// themselves hold commas (SharePoint's are "{GUID},version"), so the list
// is scanned quote by quote. ok is false for a malformed value.
func splitETags(h string) (tags []string, star, ok bool) {
	h = strings.TrimSpace(h)
	if h == "*" {
		return nil, true, true
	}
	for {
		h = strings.TrimLeft(h, " \t")
		h = strings.TrimPrefix(h, "W/")
		if len(h) < 2 || h[0] != '"' {
			return nil, false, false
		}
		end := strings.IndexByte(h[1:], '"')
		if end < 0 {
			return nil, false, false
		}
		tags = append(tags, h[:end+2])
		h = strings.TrimLeft(h[end+2:], " \t")
		if h == "" {
			return tags, false, true
		}
		if h[0] != ',' {
			return nil, false, false
		}
		h = h[1:]
	}
}

// validETag reports whether h is a well-formed entity tag list.
func validETag(h string) bool {
	_, _, ok := splitETags(h)
	return ok
}

// etagMatches reports whether any tag of h names one of tags.
func etagMatches(h string, tags ...string) bool {
	list, star, ok := splitETags(h)
	if star {
		return true
	}
	if !ok {
		return false
	}
	for _, t := range list {
		for _, want := range tags {
			if want != "" && t == want {
				return true
			}
		}
	}
	return false
}
