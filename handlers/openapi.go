package handlers

import (
	_ "embed"
	"net/http"

	"github.com/labstack/echo/v4"
)

// OpenAPI is the OpenAPI 3.1 description of /api/v1, written by hand.
// TestOpenAPIDescribesEveryRoute and the API tests (which validate every
// request and answer against it) keep it true.
//
//go:embed openapi.yaml
var OpenAPI []byte

// openapi serves the description without a token: it holds no secrets,
// and a client needs it before it has one.
func (s *Server) openapi(c echo.Context) error {
	return c.Blob(http.StatusOK, "application/yaml; charset=utf-8", OpenAPI)
}
