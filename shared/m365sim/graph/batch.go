package graph

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

type batchRequest struct {
	ID        string            `json:"id"`
	Method    string            `json:"method"`
	URL       string            `json:"url"`
	Headers   map[string]string `json:"headers"`
	Body      json.RawMessage   `json:"body"`
	DependsOn []string          `json:"dependsOn"`
}

type batchResponse struct {
	ID      string            `json:"id"`
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    json.RawMessage   `json:"body,omitempty"`
}

// recorder captures a sub-request's response.
type recorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.h }
func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(p)
}

// serveBatch runs up to 20 requests through the same handler, with the
// caller's Authorization header, in order; a request whose dependency
// failed gets 424.
func (s *Server) serveBatch(w http.ResponseWriter, r *http.Request, c *call) error {
	if r.Method != http.MethodPost {
		return methodNotAllowed()
	}
	var body struct {
		Requests []batchRequest `json:"requests"`
	}
	if err := decodeBody(r, &body); err != nil {
		return err
	}
	if len(body.Requests) == 0 {
		return errInvalid("A batch needs at least one request.")
	}
	if len(body.Requests) > maxBatch {
		return errInvalid("A batch may hold at most 20 requests.")
	}
	seen := map[string]bool{}
	for _, br := range body.Requests {
		if br.ID == "" || br.Method == "" || br.URL == "" {
			return errInvalid("Every batch request needs id, method and url.")
		}
		if seen[br.ID] {
			return errInvalid("The batch holds the request id %q more than once.", br.ID)
		}
		for _, dep := range br.DependsOn {
			if !seen[dep] {
				return errInvalid("dependsOn names a request that does not come before it.")
			}
		}
		seen[br.ID] = true
	}
	status := map[string]int{}
	out := struct {
		Responses []batchResponse `json:"responses"`
	}{}
	for _, br := range body.Requests {
		failed := false
		for _, dep := range br.DependsOn {
			if status[dep] >= 400 {
				failed = true
			}
		}
		var resp batchResponse
		if failed {
			resp = batchResponse{ID: br.ID, Status: http.StatusFailedDependency, Headers: map[string]string{"Content-Type": "application/json"},
				Body: json.RawMessage(`{"error":{"code":"failedDependency","message":"A request this one depends on failed."}}`)}
		} else {
			resp = s.runBatchRequest(r, c, br)
		}
		status[br.ID] = resp.Status
		out.Responses = append(out.Responses, resp)
	}
	return writeValue(w, http.StatusOK, out)
}

func (s *Server) runBatchRequest(outer *http.Request, c *call, br batchRequest) batchResponse {
	u := strings.TrimPrefix(strings.TrimPrefix(br.URL, s.base), "https://graph.microsoft.com")
	u = strings.TrimPrefix(u, "/v1.0")
	if !strings.HasPrefix(u, "/") {
		u = "/" + u
	}
	if strings.HasPrefix(u, "/$batch") {
		return batchError(br.ID, errInvalid("A batch cannot contain a batch."))
	}
	var reqBody io.Reader = http.NoBody
	size := int64(0)
	if len(br.Body) > 0 && string(br.Body) != "null" {
		raw := []byte(br.Body)
		ct := ""
		for k, v := range br.Headers {
			if strings.EqualFold(k, "Content-Type") {
				ct = v
			}
		}
		if br.Body[0] == '"' && !strings.Contains(ct, "json") {
			// Non-JSON bodies travel base64-encoded.
			var sv string
			if json.Unmarshal(br.Body, &sv) == nil {
				if dec, err := base64.StdEncoding.DecodeString(sv); err == nil {
					raw = dec
				} else {
					raw = []byte(sv)
				}
			}
		}
		reqBody, size = bytes.NewReader(raw), int64(len(raw))
	}
	req, err := http.NewRequestWithContext(outer.Context(), strings.ToUpper(br.Method), "/v1.0"+u, reqBody)
	if err != nil {
		return batchError(br.ID, errInvalid("The batch request URL is invalid."))
	}
	req.ContentLength = size
	req.Host = outer.Host
	req.RemoteAddr = outer.RemoteAddr
	for k, v := range br.Headers {
		req.Header.Set(k, v)
	}
	if size > 0 && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", c.auth)
	rec := &recorder{h: http.Header{}}
	s.mux.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	resp := batchResponse{ID: br.ID, Status: rec.status, Headers: map[string]string{}}
	for k, v := range rec.h {
		if len(v) > 0 && k != "Content-Length" {
			resp.Headers[k] = v[0]
		}
	}
	if b := rec.body.Bytes(); len(b) > 0 {
		if strings.Contains(rec.h.Get("Content-Type"), "json") && json.Valid(b) {
			resp.Body = json.RawMessage(b)
		} else {
			enc, _ := json.Marshal(base64.StdEncoding.EncodeToString(b))
			resp.Body = enc
		}
	}
	return resp
}

func batchError(id string, e *apiError) batchResponse {
	b, _ := json.Marshal(map[string]any{"error": map[string]string{"code": e.code, "message": e.msg}})
	return batchResponse{ID: id, Status: e.status, Headers: map[string]string{"Content-Type": "application/json"}, Body: b}
}
