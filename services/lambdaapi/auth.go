package lambdaapi

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"sluice.dev/services/access"
	"sluice.dev/services/keys"
	"sluice.dev/services/sigv4"
)

// Access is what each route of the Lambda API takes, for access.Guard.Protect with the
// "lambda" signatures; routes not here are the admin's.
func Access() access.Routes {
	// A route's {name} may be NAME:QUALIFIER or an ARN: the key is checked on the function.
	base := func(s string) string { name, _ := functionName(s); return name }
	on := func(a keys.Action) access.Route { return access.Route{Action: a, Function: "name", Name: base} }
	fns := Prefix + "/functions"
	return access.Routes{
		"POST " + fns:                               {Action: keys.Deploy}, // the name is in the body
		"GET " + fns:                                {Action: keys.Read},   // cut to the caller's functions
		"GET " + fns + "/":                          {Action: keys.Read},
		"GET " + fns + "/{name}":                    on(keys.Read),
		"DELETE " + fns + "/{name}":                 on(keys.Deploy),
		"GET " + fns + "/{name}/configuration":      on(keys.Read),
		"PUT " + fns + "/{name}/configuration":      on(keys.Deploy),
		"PUT " + fns + "/{name}/code":               on(keys.Deploy),
		"POST " + fns + "/{name}/invocations":       on(keys.Invoke),
		"POST " + fns + "/{name}/versions":          on(keys.Deploy),
		"GET " + fns + "/{name}/versions":           on(keys.Read),
		"POST " + fns + "/{name}/aliases":           on(keys.Deploy),
		"GET " + fns + "/{name}/aliases":            on(keys.Read),
		"GET " + fns + "/{name}/aliases/{alias}":    on(keys.Read),
		"PUT " + fns + "/{name}/aliases/{alias}":    on(keys.Deploy),
		"DELETE " + fns + "/{name}/aliases/{alias}": on(keys.Deploy),
	}
}

// Deny answers a refused request as Lambda does: 403 with the error type its clients know.
func Deny(w http.ResponseWriter, _ *http.Request, err error) {
	switch {
	case errors.Is(err, access.ErrForbidden):
		fail(w, http.StatusForbidden, "AccessDeniedException", "%v", err)
	case errors.Is(err, sigv4.ErrUnknown), errors.Is(err, access.ErrBadCredentials):
		fail(w, http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid.")
	case errors.Is(err, sigv4.ErrExpired):
		fail(w, http.StatusForbidden, "InvalidSignatureException", "Signature expired: %v", err)
	case errors.Is(err, access.ErrNoCredentials):
		fail(w, http.StatusForbidden, "MissingAuthenticationTokenException", "sign the request with an access key (AWS Signature Version 4), or send Authorization: Bearer $SLUICE_TOKEN")
	default:
		fail(w, http.StatusForbidden, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided: %v", err)
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
