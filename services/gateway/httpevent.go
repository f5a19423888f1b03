package gateway

import (
	"encoding/base64"
	"encoding/json"
	"mime"
	"net"
	"net/http"
	"strconv"

	"golang.org/x/net/http/httpguts"
	"strings"
	"time"
	"unicode/utf8"
)

// HTTPEvent is the event data of an HTTP-triggered invocation, in the shape of an AWS Lambda
// function URL request (payload format 2.0), so existing handlers port unchanged.
type HTTPEvent struct {
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

// NewHTTPEvent maps a request (whose body has been read) to event data. path is the part of the
// URL after the function's prefix, always starting with "/".
func NewHTTPEvent(r *http.Request, path string, body []byte, requestID string, now time.Time) HTTPEvent {
	ev := HTTPEvent{
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
			continue // the platform's token is not the function's business
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

// HTTPResponse is what a function's result means for an HTTP caller.
type HTTPResponse struct {
	Status  int
	Headers http.Header
	Body    []byte
}

// NewHTTPResponse interprets a function's result as a function URL does: an object with a
// statusCode is an HTTP response ({statusCode, headers, multiValueHeaders, cookies, body,
// isBase64Encoded}); any other value is a 200 JSON body.
func NewHTTPResponse(result []byte) HTTPResponse {
	var shaped struct {
		StatusCode        *int                `json:"statusCode"`
		Headers           map[string]any      `json:"headers"`
		MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
		Cookies           []string            `json:"cookies"`
		Body              *string             `json:"body"`
		IsBase64Encoded   bool                `json:"isBase64Encoded"`
	}
	if len(result) > 0 && result[0] == '{' && json.Unmarshal(result, &shaped) == nil && shaped.StatusCode != nil {
		r := HTTPResponse{Status: *shaped.StatusCode, Headers: http.Header{}}
		if r.Status < 100 || r.Status > 599 {
			return HTTPResponse{Status: http.StatusBadGateway, Headers: jsonHeader(), Body: []byte(`{"error":{"code":"bad_function_response","message":"statusCode out of range"}}`)}
		}
		for k, v := range shaped.Headers {
			switch v := v.(type) {
			case string:
				setHeader(r.Headers, k, v)
			case float64:
				setHeader(r.Headers, k, strconv.FormatFloat(v, 'f', -1, 64))
			case bool:
				setHeader(r.Headers, k, strconv.FormatBool(v))
			}
		}
		for k, vs := range shaped.MultiValueHeaders {
			for _, v := range vs {
				addHeader(r.Headers, k, v)
			}
		}
		for _, c := range shaped.Cookies {
			addHeader(r.Headers, "Set-Cookie", c)
		}
		if shaped.Body != nil {
			r.Body = []byte(*shaped.Body)
			if shaped.IsBase64Encoded {
				b, err := base64.StdEncoding.DecodeString(*shaped.Body)
				if err != nil {
					return HTTPResponse{Status: http.StatusBadGateway, Headers: jsonHeader(), Body: []byte(`{"error":{"code":"bad_function_response","message":"body is not valid base64"}}`)}
				}
				r.Body = b
			}
		}
		return r
	}
	if len(result) == 0 || string(result) == "null" {
		return HTTPResponse{Status: http.StatusOK, Headers: http.Header{}}
	}
	return HTTPResponse{Status: http.StatusOK, Headers: jsonHeader(), Body: result}
}

// setHeader and addHeader take a function's header only when HTTP can carry it: a name of
// token characters and a value without control characters (tab aside). Anything else would
// reach the client as a malformed response, so it is left out.
func setHeader(h http.Header, k, v string) {
	if httpguts.ValidHeaderFieldName(k) && httpguts.ValidHeaderFieldValue(v) {
		h.Set(k, v)
	}
}

func addHeader(h http.Header, k, v string) {
	if httpguts.ValidHeaderFieldName(k) && httpguts.ValidHeaderFieldValue(v) {
		h.Add(k, v)
	}
}

func jsonHeader() http.Header { return http.Header{"Content-Type": {"application/json"}} }
