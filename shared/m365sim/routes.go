package m365sim

import (
	"net/http"
	"strings"
)

// RouteClass groups the simulator's routes for fault injection and
// counting. The set is small and fixed.
type RouteClass string

// Route classes.
const (
	RouteMetadata RouteClass = "metadata" // any other Graph call, copy monitors included
	RouteChildren RouteClass = "children" // .../children (listing, and folder creation by POST)
	RouteDelta    RouteClass = "delta"    // .../delta
	RouteContent  RouteClass = "content"  // GET .../content, the 302 to a download URL
	RouteDownload RouteClass = "download" // pre-authenticated download URLs
	RouteUpload   RouteClass = "upload"   // PUT .../content, createUploadSession, session fragments
	RouteBatch    RouteClass = "batch"    // /v1.0/$batch
	RouteToken    RouteClass = "token"    // every Entra ID endpoint
)

// RouteClasses lists every route class.
var RouteClasses = []RouteClass{RouteMetadata, RouteChildren, RouteDelta, RouteContent, RouteDownload, RouteUpload, RouteBatch, RouteToken}

// Path prefixes of the simulator's faces.
const (
	graphPrefix    = "/v1.0"
	downloadPrefix = "/_download/"
	uploadPrefix   = "/_upload/"
	monitorPrefix  = "/_monitor/"
	adminPrefix    = "/_admin/"
)

// valid reports whether c is one of RouteClasses.
func (c RouteClass) valid() bool {
	for _, k := range RouteClasses {
		if c == k {
			return true
		}
	}
	return false
}

// isGraphPath reports whether path belongs to the Graph face.
func isGraphPath(path string) bool {
	return path == graphPrefix || strings.HasPrefix(path, graphPrefix+"/") ||
		strings.HasPrefix(path, downloadPrefix) || strings.HasPrefix(path, uploadPrefix) ||
		strings.HasPrefix(path, monitorPrefix)
}

// Classify returns the route class of a request to the simulator.
func Classify(r *http.Request) RouteClass {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, downloadPrefix):
		return RouteDownload
	case strings.HasPrefix(p, uploadPrefix):
		return RouteUpload
	case strings.HasPrefix(p, monitorPrefix):
		return RouteMetadata
	case p != graphPrefix && !strings.HasPrefix(p, graphPrefix+"/"):
		return RouteToken
	}
	rest := strings.ToLower(strings.TrimSuffix(strings.TrimPrefix(p, graphPrefix), "/"))
	if rest == "/$batch" {
		return RouteBatch
	}
	switch action := graphAction(rest); {
	case action == "createuploadsession":
		return RouteUpload
	case action == "content":
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			return RouteContent
		}
		return RouteUpload
	case action == "children":
		return RouteChildren
	case action == "delta" || strings.HasPrefix(action, "delta("):
		return RouteDelta
	}
	return RouteMetadata
}

// graphAction returns the last path segment of a lowercased Graph path
// when it names an action or navigation (children, content, delta...),
// or "" when the path ends inside path-based addressing: "root:/a/content"
// is an item named content, "root:/a:/content" its content.
func graphAction(rest string) string {
	if i := strings.Index(rest, ":/"); i >= 0 {
		j := strings.LastIndex(rest, ":/")
		if j == i {
			return "" // root:/path, no closing colon
		}
		return rest[j+2:]
	}
	return rest[strings.LastIndex(rest, "/")+1:]
}

// isWrite reports whether a request of this class and method writes
// content and so can fail on a full quota.
func isWrite(class RouteClass, method string) bool {
	if method != http.MethodPut && method != http.MethodPost {
		return false
	}
	switch class {
	case RouteUpload, RouteChildren, RouteMetadata:
		return true
	}
	return false
}
