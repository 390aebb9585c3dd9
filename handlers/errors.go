package handlers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"saathi/db"
)

// Problem is an error a client can act on: an HTTP status, a message and,
// for invalid input, the field at fault. It becomes the JSON body
// {"error": "...", "field": "..."}.
type Problem struct {
	Status  int
	Message string
	Field   string
}

func (p *Problem) Error() string {
	if p.Field != "" {
		return p.Field + ": " + p.Message
	}
	return p.Message
}

// invalid is a 422 naming the field at fault.
func invalid(field, format string, args ...any) *Problem {
	return &Problem{Status: http.StatusUnprocessableEntity, Field: field, Message: fmt.Sprintf(format, args...)}
}

var (
	errUnauthorized = &Problem{Status: http.StatusUnauthorized, Message: "missing or invalid bearer token"}
	errForbidden    = &Problem{Status: http.StatusForbidden, Message: "your role may not do this"}
	// errNotFound is also the answer for records that exist but are not the
	// caller's: a caseworker must not learn that another's survivor exists.
	errNotFound = &Problem{Status: http.StatusNotFound, Message: "not found"}
)

type problemBody struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}

// errorHandler maps errors to status codes and JSON bodies. Only server
// errors are logged, and the client never sees their internals.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var (
		p       *Problem
		httpErr *echo.HTTPError
		status  int
		body    problemBody
	)
	switch {
	case errors.As(err, &p):
		status, body = p.Status, problemBody{Error: p.Message, Field: p.Field}
	case errors.Is(err, db.ErrNotFound):
		status, body = http.StatusNotFound, problemBody{Error: "not found"}
	case errors.As(err, &httpErr):
		status = httpErr.Code
		body = problemBody{Error: strings.ToLower(http.StatusText(status))}
		if msg, ok := httpErr.Message.(string); ok && status < 500 {
			body.Error = msg
		}
	default:
		status, body = http.StatusInternalServerError, problemBody{Error: "internal error"}
	}
	if status >= 500 {
		s.Logger.Error("request failed", "method", c.Request().Method, "route", c.Path(),
			"status", status, "request_id", c.Response().Header().Get(echo.HeaderXRequestID), "err", err)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if s.isPage(c) {
		if err := s.render(c, status, "error", map[string]any{"Status": status, "Message": body.Error}); err == nil {
			return
		}
	}
	_ = c.JSON(status, body)
}

// bindJSON decodes a request body strictly: malformed JSON is a 400, an
// unknown field or a value of the wrong type is a 422 naming the field (a
// typo in "duress_word" must not be silently ignored).
func bindJSON(c echo.Context, v any) error {
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonProblem(err)
	}
	if dec.More() {
		return &Problem{Status: http.StatusBadRequest, Message: "malformed JSON: more than one value in the body"}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &Problem{Status: http.StatusBadRequest, Message: "malformed JSON: trailing data after the value"}
	}
	return nil
}

func jsonProblem(err error) error {
	var (
		syntaxErr *json.SyntaxError
		typeErr   *json.UnmarshalTypeError
		maxErr    *http.MaxBytesError
		httpErr   *echo.HTTPError
	)
	switch {
	case errors.As(err, &maxErr):
		return &Problem{Status: http.StatusRequestEntityTooLarge, Message: "request body too large"}
	case errors.As(err, &httpErr):
		return httpErr
	case errors.As(err, &typeErr):
		return invalid(typeErr.Field, "must be a JSON %s", typeErr.Type.Kind())
	case errors.As(err, &syntaxErr), errors.Is(err, io.ErrUnexpectedEOF):
		return &Problem{Status: http.StatusBadRequest, Message: "malformed JSON"}
	case errors.Is(err, io.EOF):
		return &Problem{Status: http.StatusBadRequest, Message: "malformed JSON: empty body"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return invalid(field, "unknown field")
	default:
		return &Problem{Status: http.StatusBadRequest, Message: "malformed JSON"}
	}
}

// isPage reports whether a request is for a dashboard page (answered in
// HTML), not the API, a webhook or a dev endpoint (answered in JSON).
func (s *Server) isPage(c echo.Context) bool {
	if s.pages == nil {
		return false
	}
	p := c.Request().URL.Path
	for _, prefix := range []string{"/api/", "/twilio/", "/dev/", "/healthz", "/readyz"} {
		if strings.HasPrefix(p, prefix) {
			return false
		}
	}
	return true
}
