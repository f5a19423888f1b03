package sigv4_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"sluice.dev/services/sigv4"
)

const keyID, secretKey = "SKEXAMPLE", "s3cret"

func secrets(_ context.Context, id string) (string, error) {
	if id != keyID {
		return "", sigv4.ErrUnknown
	}
	return secretKey, nil
}

// signed makes a request as an AWS SDK client sends it: signed with secret at at.
func signed(t *testing.T, secret string, at time.Time, body string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://sluice.test:8080/2015-03-31/functions/orders%3Aprod/invocations?Qualifier=2", bytes.NewReader([]byte(body)))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Amz-Invocation-Type", "RequestResponse")
	r.Header.Set("User-Agent", "test") // not signed, as AWS's clients leave it
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "lambda", "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	return r
}

func verify(r *http.Request, body string, now time.Time) (sigv4.Request, error) {
	return sigv4.Verify(context.Background(), r, []byte(body), now, "lambda", secrets)
}

func TestASignedRequestIsVerified(t *testing.T) {
	now := time.Now().UTC()
	r := signed(t, secretKey, now, `{"a":1}`)
	if !sigv4.Signed(r) {
		t.Fatal("Signed: false for a signed request")
	}
	got, err := verify(r, `{"a":1}`, now)
	if err != nil {
		t.Fatal(err)
	}
	if got != (sigv4.Request{AccessKeyID: keyID, Region: "us-east-1", Service: "lambda"}) {
		t.Fatalf("verified %+v", got)
	}
}

func TestForgedRequestsAreRefused(t *testing.T) {
	now := time.Now().UTC()
	for _, c := range []struct {
		name string
		req  func() *http.Request
		body string
		now  time.Time
		want error
	}{
		{"another body", func() *http.Request { return signed(t, secretKey, now, `{"a":1}`) }, `{"a":2}`, now, sigv4.ErrMismatch},
		{"a wrong secret", func() *http.Request { return signed(t, "guess", now, `{}`) }, `{}`, now, sigv4.ErrMismatch},
		{"a changed signed header", func() *http.Request {
			r := signed(t, secretKey, now, `{}`)
			r.Header.Set("X-Amz-Invocation-Type", "Event")
			return r
		}, `{}`, now, sigv4.ErrMismatch},
		{"a changed query", func() *http.Request {
			r := signed(t, secretKey, now, `{}`)
			r.URL.RawQuery = "Qualifier=3"
			return r
		}, `{}`, now, sigv4.ErrMismatch},
		{"a changed path", func() *http.Request {
			r := signed(t, secretKey, now, `{}`)
			r.URL.Path, r.URL.RawPath = "/2015-03-31/functions/other/invocations", ""
			return r
		}, `{}`, now, sigv4.ErrMismatch},
		{"an old signature", func() *http.Request { return signed(t, secretKey, now.Add(-20*time.Minute), `{}`) }, `{}`, now, sigv4.ErrExpired},
		{"an unknown key", func() *http.Request {
			r := signed(t, secretKey, now, `{}`)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=SKOTHER/"+now.Format("20060102")+"/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
			return r
		}, `{}`, now, sigv4.ErrUnknown},
		{"no signature", func() *http.Request {
			r := signed(t, secretKey, now, `{}`)
			r.Header.Set("Authorization", "Bearer x")
			return r
		}, `{}`, now, sigv4.ErrUnsigned},
		{"a signature for another service", func() *http.Request {
			r := signed(t, secretKey, now, `{}`)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+keyID+"/"+now.Format("20060102")+"/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-date, Signature=00")
			return r
		}, `{}`, now, sigv4.ErrMalformed},
		{"host left unsigned", func() *http.Request {
			r := signed(t, secretKey, now, `{}`)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+keyID+"/"+now.Format("20060102")+"/us-east-1/lambda/aws4_request, SignedHeaders=x-amz-date, Signature=00")
			return r
		}, `{}`, now, sigv4.ErrMalformed},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := verify(c.req(), c.body, c.now); !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
}

// BenchmarkVerify is the cost a signed request adds on the server: parse, re-sign, compare.
func BenchmarkVerify(b *testing.B) {
	now := time.Now().UTC()
	body := `{"order": 42}`
	r := httptest.NewRequest(http.MethodPost, "http://sluice.test:8080/2015-03-31/functions/orders/invocations", bytes.NewReader([]byte(body)))
	r.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256([]byte(body))
	creds := aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secretKey}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "lambda", "us-east-1", now); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := sigv4.Verify(context.Background(), r, []byte(body), now, "lambda", secrets); err != nil {
			b.Fatal(err)
		}
	}
}
