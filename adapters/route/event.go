package route

import (
	"encoding/base64"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Event is the event data of an HTTP-triggered invocation, in the shape of an AWS Lambda
// function URL request (payload format 2.0), so existing handlers port unchanged.
type Event struct {
	Version               string            `json:"version"`
	RouteKey              string            `json:"routeKey"`
	RawPath               string            `json:"rawPath"`
	RawQueryString        string            `json:"rawQueryString"`
	Cookies               []string          `json:"cookies,omitempty"`
	Headers               map[string]string `json:"headers"`
	QueryStringParameters map[string]string `json:"queryStringParameters,omitempty"`
	PathParameters        map[string]string `json:"pathParameters,omitempty"`
	RequestContext        RequestContext    `json:"requestContext"`
	Body                  string            `json:"body,omitempty"`
	IsBase64Encoded       bool              `json:"isBase64Encoded"`
}

// RequestContext describes the HTTP request.
type RequestContext struct {
	DomainName string      `json:"domainName"`
	RequestID  string      `json:"requestId"`
	Time       string      `json:"time"`
	TimeEpoch  int64       `json:"timeEpoch"`
	HTTP       HTTPContext `json:"http"`
}

// HTTPContext is the method, path and client of the request.
type HTTPContext struct {
	Method    string `json:"method"`
	Path      string `json:"path"`
	Protocol  string `json:"protocol"`
	SourceIP  string `json:"sourceIp"`
	UserAgent string `json:"userAgent"`
}

// NewEvent maps a request (whose body has been read) to event data, with routeKey $default.
// path is the part of the URL after the function's or the routes' prefix, always starting with
// "/". The Authorization header is left out: the platform's token is not the function's business.
func NewEvent(r *http.Request, path string, body []byte, requestID string, now time.Time) Event {
	ev := Event{
		Version:        "2.0",
		RouteKey:       "$default",
		RawPath:        path,
		RawQueryString: r.URL.RawQuery,
		Headers:        map[string]string{},
		RequestContext: RequestContext{
			DomainName: r.Host,
			RequestID:  requestID,
			Time:       now.UTC().Format("02/Jan/2006:15:04:05 -0700"),
			TimeEpoch:  now.UnixMilli(),
			HTTP: HTTPContext{
				Method: r.Method, Path: path, Protocol: r.Proto,
				SourceIP: sourceIP(r.RemoteAddr), UserAgent: r.UserAgent(),
			},
		},
	}
	for k, vs := range r.Header {
		k = strings.ToLower(k)
		if k == "cookie" {
			for _, v := range vs {
				for _, c := range strings.Split(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						ev.Cookies = append(ev.Cookies, c)
					}
				}
			}
			continue
		}
		if k == "authorization" {
			continue
		}
		ev.Headers[k] = strings.Join(vs, ",")
	}
	if q := r.URL.Query(); len(q) > 0 {
		ev.QueryStringParameters = make(map[string]string, len(q))
		for k, vs := range q {
			ev.QueryStringParameters[k] = strings.Join(vs, ",")
		}
	}
	if len(body) > 0 {
		if isText(r.Header.Get("Content-Type")) && utf8.Valid(body) {
			ev.Body = string(body)
		} else {
			ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
		}
	}
	return ev
}

// Event maps a request that matched m to event data: NewEvent's, with the route's routeKey and
// the path's parameters.
func (m Match) Event(r *http.Request, path string, body []byte, requestID string, now time.Time) Event {
	ev := NewEvent(r, path, body, requestID, now)
	ev.RouteKey = m.Key()
	if len(m.Params) > 0 {
		ev.PathParameters = m.Params
	}
	return ev
}

func isText(contentType string) bool {
	if contentType == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return strings.HasPrefix(mt, "text/") || mt == "application/json" || mt == "application/xml" ||
		mt == "application/x-www-form-urlencoded" || mt == "application/javascript" || strings.HasSuffix(mt, "+json") || strings.HasSuffix(mt, "+xml")
}

func sourceIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}
