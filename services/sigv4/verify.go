// Package sigv4 checks AWS Signature Version 4 on requests, so AWS's own clients (the AWS CLI,
// boto3, the SDKs) can call sluice with an access key and its secret.
//
// It does not compute signatures itself: it rebuilds the request as the client signed it (the
// method, path, query, body and exactly the headers the client named) and signs that copy with
// the AWS SDK for Go's signer and the key's secret, then compares the two signatures.
package sigv4

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Errors of Verify; each wraps the detail.
var (
	ErrUnsigned  = errors.New("request is not signed with AWS Signature Version 4")
	ErrMalformed = errors.New("malformed AWS Signature Version 4")
	ErrUnknown   = errors.New("unknown access key")
	ErrExpired   = errors.New("signature date out of range")
	ErrMismatch  = errors.New("signature does not match")
)

// MaxSkew is how far a request's X-Amz-Date may be from the server's clock, as AWS allows.
const MaxSkew = 15 * time.Minute

// algorithm opens the Authorization header of a signed request.
const algorithm = "AWS4-HMAC-SHA256"

// Signed reports whether r carries a Signature Version 4 Authorization header.
func Signed(r *http.Request) bool {
	return strings.HasPrefix(r.Header.Get("Authorization"), algorithm+" ")
}

// Request is what a verified signature says about a request.
type Request struct {
	AccessKeyID string
	Region      string
	Service     string
}

// Verify checks r's signature, whose body has been read into body, against the secret of the
// access key it names (secret returns ErrUnknown, or an error of its own, when it has none), at
// now. service, when not empty, is the service the signature must be for.
func Verify(ctx context.Context, r *http.Request, body []byte, now time.Time, service string,
	secret func(ctx context.Context, accessKeyID string) (string, error)) (Request, error) {
	auth, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return Request{}, err
	}
	if service != "" && auth.service != service {
		return Request{}, fmt.Errorf("%w: signed for service %q, not %q", ErrMalformed, auth.service, service)
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return Request{}, fmt.Errorf("%w: X-Amz-Date %q: want YYYYMMDDTHHMMSSZ", ErrMalformed, r.Header.Get("X-Amz-Date"))
	}
	if at.Format("20060102") != auth.date {
		return Request{}, fmt.Errorf("%w: credential date %s is not the date of X-Amz-Date", ErrMalformed, auth.date)
	}
	if d := now.Sub(at); d > MaxSkew || d < -MaxSkew {
		return Request{}, fmt.Errorf("%w: signed at %s, %s from the server's time", ErrExpired, at.Format(time.RFC3339), d.Round(time.Second))
	}
	key, err := secret(ctx, auth.accessKeyID)
	if err != nil {
		return Request{}, err
	}

	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != payload && h != "UNSIGNED-PAYLOAD" {
		return Request{}, fmt.Errorf("%w: X-Amz-Content-Sha256 is not the body's hash", ErrMismatch)
	}
	if h := r.Header.Get("X-Amz-Content-Sha256"); h == "UNSIGNED-PAYLOAD" {
		payload = h
	}
	copied, err := asSigned(ctx, r, auth.signedHeaders, len(body))
	if err != nil {
		return Request{}, err
	}
	creds := aws.Credentials{AccessKeyID: auth.accessKeyID, SecretAccessKey: key}
	if err := v4.NewSigner().SignHTTP(ctx, creds, copied, payload, auth.service, auth.region, at); err != nil {
		return Request{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	want, err := parseAuthorization(copied.Header.Get("Authorization"))
	if err != nil {
		return Request{}, err
	}
	if strings.Join(want.signedHeaders, ";") != strings.Join(auth.signedHeaders, ";") {
		return Request{}, fmt.Errorf("%w: signed headers %s cannot be checked", ErrMalformed, strings.Join(auth.signedHeaders, ";"))
	}
	if subtle.ConstantTimeCompare([]byte(want.signature), []byte(auth.signature)) != 1 {
		return Request{}, ErrMismatch
	}
	return Request{AccessKeyID: auth.accessKeyID, Region: auth.region, Service: auth.service}, nil
}

// asSigned copies r with only the headers the client signed, which is what the signer signs
// (beside host, and content-length when the length is set).
func asSigned(ctx context.Context, r *http.Request, signed []string, length int) (*http.Request, error) {
	u := *r.URL
	u.Host = r.Host
	if u.Scheme == "" {
		u.Scheme = "http"
	}
	c, err := http.NewRequestWithContext(ctx, r.Method, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	c.Host = r.Host
	c.URL.RawPath, c.URL.Path = r.URL.RawPath, r.URL.Path
	hasHost := false
	for _, name := range signed {
		switch name {
		case "host":
			hasHost = true
		case "content-length":
			c.ContentLength = int64(length)
		default:
			vs, ok := r.Header[http.CanonicalHeaderKey(name)]
			if !ok {
				return nil, fmt.Errorf("%w: signed header %q is not in the request", ErrMalformed, name)
			}
			c.Header[http.CanonicalHeaderKey(name)] = vs
		}
	}
	if !hasHost {
		return nil, fmt.Errorf("%w: the host header is not signed", ErrMalformed)
	}
	return c, nil
}

// authorization is the parsed Authorization header of a signed request.
type authorization struct {
	accessKeyID, date, region, service string
	signedHeaders                      []string
	signature                          string
}

// parseAuthorization reads
//
//	AWS4-HMAC-SHA256 Credential=AKID/20261203/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=hex
func parseAuthorization(h string) (authorization, error) {
	rest, ok := strings.CutPrefix(h, algorithm+" ")
	if !ok {
		return authorization{}, ErrUnsigned
	}
	var a authorization
	var credential, signedHeaders string
	for part := range strings.SplitSeq(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return authorization{}, fmt.Errorf("%w: Authorization part %q", ErrMalformed, part)
		}
		switch k {
		case "Credential":
			credential = v
		case "SignedHeaders":
			signedHeaders = v
		case "Signature":
			a.signature = v
		}
	}
	scope := strings.Split(credential, "/")
	if len(scope) != 5 || scope[4] != "aws4_request" || scope[0] == "" {
		return authorization{}, fmt.Errorf("%w: Credential %q: want KEY/DATE/REGION/SERVICE/aws4_request", ErrMalformed, credential)
	}
	a.accessKeyID, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
	if signedHeaders == "" || a.signature == "" {
		return authorization{}, fmt.Errorf("%w: SignedHeaders and Signature are required", ErrMalformed)
	}
	a.signedHeaders = strings.Split(signedHeaders, ";")
	return a, nil
}

// KeyID is the access key id the Authorization header of a signed request names, "" for none.
// It reads the header only: a server may refuse an unknown key before it reads the body a
// signature covers.
func KeyID(r *http.Request) string {
	a, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return ""
	}
	return a.accessKeyID
}

// Region is the region the Authorization header of a signed request names, "" for none. It
// reads the header only: Verify says whether the signature holds.
func Region(r *http.Request) string {
	a, err := parseAuthorization(r.Header.Get("Authorization"))
	if err != nil {
		return ""
	}
	return a.region
}
