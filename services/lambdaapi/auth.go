package lambdaapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"io"
	"net/http"
	"time"

	"sluice.dev/services/httpjson"
	"sluice.dev/services/sigv4"
)

// Caller is who a request comes from, as Authenticate found it.
type Caller struct {
	AccessKeyID string // "" for the bearer token
	Region      string // the region the signature names
}

type callerKey struct{}

// AdminKeyID is the access key id of the node's token: AWS's clients sign with it as the key id
// and the token as the secret (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY).
func AdminKeyID(token string) string {
	sum := sha256.Sum256([]byte("sluice admin key\x00" + token))
	return "SLUICE" + base32.StdEncoding.EncodeToString(sum[:])[:14]
}

// Authenticate lets through requests signed with AWS Signature Version 4 by the node's admin
// key (AdminKeyID and the token) or carrying the token as a bearer token, and answers others
// 403 as Lambda does. The body, which a signature covers, is read here (at most maxRequest
// bytes) and handed on.
func Authenticate(token string) func(http.Handler) http.Handler {
	adminID := AdminKeyID(token)
	secret := func(_ context.Context, id string) (string, error) {
		if token == "" || id != adminID {
			return "", sigv4.ErrUnknown
		}
		return token, nil
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !sigv4.Signed(r) {
				if httpjson.ValidToken(httpjson.BearerToken(r), token) {
					next.ServeHTTP(w, r)
					return
				}
				fail(w, http.StatusForbidden, "MissingAuthenticationTokenException", "sign the request with an access key (AWS Signature Version 4), or send Authorization: Bearer $SLUICE_TOKEN")
				return
			}
			body, err := readBody(w, r)
			if err != nil {
				return
			}
			got, err := sigv4.Verify(r.Context(), r, body, time.Now(), "lambda", secret)
			switch {
			case errors.Is(err, sigv4.ErrUnknown):
				fail(w, http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid.")
				return
			case errors.Is(err, sigv4.ErrExpired):
				fail(w, http.StatusForbidden, "InvalidSignatureException", "Signature expired: %v", err)
				return
			case err != nil:
				fail(w, http.StatusForbidden, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided: %v", err)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			ctx := context.WithValue(r.Context(), callerKey{}, Caller{AccessKeyID: got.AccessKeyID, Region: got.Region})
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// readBody reads a request's body, at most maxRequest bytes, answering 413 itself when it is
// larger.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRequest))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		fail(w, http.StatusRequestEntityTooLarge, "RequestTooLargeException", "request body is over %d bytes", maxRequest)
		return nil, err
	case err != nil:
		fail(w, http.StatusBadRequest, "InvalidRequestContentException", "read the request body: %v", err)
		return nil, err
	}
	r.Body = io.NopCloser(bytes.NewReader(b))
	return b, nil
}
