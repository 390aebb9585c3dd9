package handlers_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"saathi/handlers"
)

// apiSpec is handlers.OpenAPI, loaded, validated as an OpenAPI 3.1
// document, and routed, once for every test.
var apiSpec = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(handlers.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		return nil, fmt.Errorf("openapi.yaml is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	// NewRouter validates the document first.
	return legacy.NewRouter(doc)
})

// bearerPresent is the document's security check: the server checks the
// token itself; here a request the server accepted must have sent one.
func bearerPresent(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	if in.SecuritySchemeName != "bearer" {
		return fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName)
	}
	if !strings.HasPrefix(in.RequestValidationInput.Request.Header.Get("Authorization"), "Bearer ") {
		return errors.New("no bearer token")
	}
	return nil
}

// checkOpenAPI validates one exchange with the API against the document:
// the route and method must be described; the answer, whatever its
// status, must be one the operation lists, with a body of its schema
// (errors included); and a request the server accepted (2xx) must be one
// the document allows. A request the server refused is not checked: the
// API tests send bad input on purpose.
func checkOpenAPI(req *http.Request, reqBody []byte, status int, header http.Header, respBody []byte) error {
	router, err := apiSpec()
	if err != nil {
		return err
	}
	req = req.Clone(context.Background())
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := router.FindRoute(req)
	if err != nil {
		return fmt.Errorf("%s %s is not in openapi.yaml: %w", req.Method, req.URL.Path, err)
	}
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true,
		AuthenticationFunc:    bearerPresent,
		MultiError:            true,
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
	if status >= 200 && status < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			return fmt.Errorf("%s %s was accepted (%d), but openapi.yaml does not allow the request: %w", req.Method, req.URL.Path, status, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: status, Header: header, Options: opts}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("%s %s answered %d %s, which openapi.yaml does not describe: %w", req.Method, req.URL.Path, status, respBody, err)
	}
	return nil
}

// specPath turns echo's route pattern into the document's.
var echoParam = regexp.MustCompile(`:([a-z_]+)`)

func specPath(echoPath string) string { return echoParam.ReplaceAllString(echoPath, "{$1}") }

// TestOpenAPIDescribesEveryRoute: every /api/v1 route the router serves is
// in the document with its method, and the document describes no route
// the router does not serve. A new route cannot be forgotten.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	t.Parallel()
	router, err := apiSpec()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(handlers.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	e := (&handlers.Server{Logger: quietLogger(), UI: nil}).Handler()
	served := map[string]bool{}
	for _, r := range e.Routes() {
		// echo adds a not-found route of its own for each group.
		if !strings.HasPrefix(r.Path, "/api/v1/") || strings.HasPrefix(r.Method, "echo_") {
			continue
		}
		op := r.Method + " " + specPath(r.Path)
		served[op] = true
		req := httptest.NewRequest(r.Method, strings.ReplaceAll(specPath(r.Path), "{id}", "7d0c1a1e-4a52-4d5f-9d0e-8c2b8a8f0e11"), nil)
		if _, _, err := router.FindRoute(req); err != nil {
			t.Errorf("%s is served but not in openapi.yaml", op)
		}
	}
	if len(served) < 19 {
		t.Fatalf("only %d /api/v1 routes found: is the router built?", len(served))
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !served[method+" "+path] {
				t.Errorf("openapi.yaml describes %s %s, which is not served", method, path)
			}
		}
	}
}

// TestOpenAPIServed: the document is served without a token, as YAML, and
// says it is OpenAPI 3.1 with the bearer scheme.
func TestOpenAPIServed(t *testing.T) {
	t.Parallel()
	e := (&handlers.Server{Logger: quietLogger()}).Handler()
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/api/openapi.yaml", nil))
	if rec.Code != http.StatusOK || !strings.HasPrefix(rec.Header().Get("Content-Type"), "application/yaml") {
		t.Fatalf("GET /api/openapi.yaml: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	doc, err := openapi3.NewLoader().LoadFromData(rec.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Components.SecuritySchemes["bearer"] == nil || doc.Components.SecuritySchemes["bearer"].Value.Scheme != "bearer" {
		t.Errorf("served document: openapi %q, security schemes %v", doc.OpenAPI, doc.Components.SecuritySchemes)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Errorf("served document is not valid: %v", err)
	}
}

// TestOpenAPICheckCatchesDrift: the check the API tests run on every
// exchange fails for answers and requests the document does not allow,
// so a passing API test means the document matched.
func TestOpenAPICheckCatchesDrift(t *testing.T) {
	t.Parallel()
	const id = "7d0c1a1e-4a52-4d5f-9d0e-8c2b8a8f0e11"
	get := func(path string) *http.Request {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Authorization", "Bearer sth_x")
		return req
	}
	post := func(path, body string) *http.Request {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer sth_x")
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	jsonHeader := http.Header{"Content-Type": {"application/json"}}
	alert := `{"id":"` + id + `","survivor_id":"` + id + `","case_code":"SA-1234","reference":"R","caseworker_id":null,"kind":"help_now","severity":"urgent","status":"open","escalation_level":0,"created_at":"2026-11-25T05:30:00Z"}`
	tests := []struct {
		name    string
		req     *http.Request
		body    string
		status  int
		resp    string
		wantErr string // "" means valid
	}{
		{"a documented answer", get("/api/v1/alerts/" + id), "", 200, alert, ""},
		{"a documented error", get("/api/v1/alerts/" + id), "", 404, `{"error":"not found"}`, ""},
		{"an undocumented route", get("/api/v1/nowhere"), "", 404, `{"error":"not found"}`, "not in openapi.yaml"},
		{"an undocumented status", get("/api/v1/alerts/" + id), "", 418, `{"error":"teapot"}`, "does not describe"},
		{"a field missing", get("/api/v1/alerts/" + id), "", 200, strings.Replace(alert, `"severity":"urgent",`, "", 1), "does not describe"},
		{"an undocumented field", get("/api/v1/alerts/" + id), "", 200, strings.Replace(alert, `"kind"`, `"phone":"+919876543210","kind"`, 1), "does not describe"},
		{"an error of another shape", get("/api/v1/alerts/" + id), "", 404, `{"message":"not found"}`, "does not describe"},
		{"an empty field name", post("/api/v1/alerts/"+id+"/resolve", `{}`), `{}`, 422, `{"error":"bad","field":""}`, "does not describe"},
		{"an empty error", get("/api/v1/alerts/" + id), "", 404, `{"error":""}`, "does not describe"},
		{"an accepted request the document refuses", post("/api/v1/alerts/"+id+"/resolve", `{"note":""}`), `{"note":""}`, 200, alert, "does not allow the request"},
		{"a refused request is not held to the document", post("/api/v1/alerts/"+id+"/resolve", `{"note":""}`), `{"note":""}`, 422, `{"error":"what was done","field":"note"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkOpenAPI(tt.req, []byte(tt.body), tt.status, jsonHeader, []byte(tt.resp))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("error %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
}
