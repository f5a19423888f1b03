// Package httpjson is the JSON edge of sluice's HTTP surfaces: the error shape every endpoint
// answers with ({"error": {"code": "...", "message": "..."}}), JSON bodies in and out with size
// limits, and the bearer-token check.
package httpjson

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
)

// Error codes shared by every endpoint.
const (
	CodeBadRequest   = "bad_request"
	CodeUnauthorized = "unauthorized"
	CodeNotFound     = "not_found"
	CodeConflict     = "conflict"
	CodeTooLarge     = "payload_too_large"
	CodeInternal     = "internal"
	CodeUnavailable  = "unavailable"
)

// ErrorBody is the JSON shape of every error answer.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is a stable code and a message that says what to do.
type ErrorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Write sends v as JSON with the status.
func Write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		slog.Debug("write json answer", "err", err)
	}
}

// Error sends the error shape with the status.
func Error(w http.ResponseWriter, status int, code, format string, args ...any) {
	Write(w, status, ErrorBody{ErrorDetail{Code: code, Message: fmt.Sprintf(format, args...)}})
}

// ReadBody reads at most limit bytes of the request body; a larger body is answered with 413 and
// ok=false.
func ReadBody(w http.ResponseWriter, r *http.Request, limit int64) (body []byte, ok bool) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		Error(w, http.StatusRequestEntityTooLarge, CodeTooLarge, "request body is larger than the limit of %d bytes", limit)
		return nil, false
	case err != nil:
		Error(w, http.StatusBadRequest, CodeBadRequest, "read request body: %v", err)
		return nil, false
	}
	return b, true
}

// Decode reads a JSON body of at most limit bytes into v, answering 400 or 413 itself when it
// cannot; it reports whether v was filled.
func Decode(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	b, ok := ReadBody(w, r, limit)
	if !ok {
		return false
	}
	if err := json.Unmarshal(b, v); err != nil {
		Error(w, http.StatusBadRequest, CodeBadRequest, "request body is not valid JSON: %v", err)
		return false
	}
	return true
}

// BearerToken returns the token of an "Authorization: Bearer TOKEN" header, or "".
func BearerToken(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// ValidToken compares a presented token with the expected one in constant time.
func ValidToken(got, want string) bool {
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}
