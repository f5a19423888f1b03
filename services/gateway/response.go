package gateway

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"

	"golang.org/x/net/http/httpguts"
)

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
