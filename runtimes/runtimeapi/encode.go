package runtimeapi

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// appendAttributes appends attrs as a JSON object with sorted keys, escaping everything outside
// printable ASCII so the value is a safe header in any client (Python reads headers as Latin-1).
func appendAttributes(b []byte, attrs map[string]string) []byte {
	var arr [8]string
	keys := arr[:0]
	for k := range attrs {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendASCIIString(b, k)
		b = append(b, ':')
		b = appendASCIIString(b, attrs[k])
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendASCIIString appends s as a JSON string using only printable ASCII.
func appendASCIIString(b []byte, s string) []byte {
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r >= 0x20 && r < 0x7f:
			b = append(b, byte(r))
		case r == '\n':
			b = append(b, '\\', 'n')
		case r == '\t':
			b = append(b, '\\', 't')
		case r == '\r':
			b = append(b, '\\', 'r')
		default:
			if r == utf8.RuneError {
				r = 0xfffd
			}
			if r > 0xffff { // a surrogate pair
				r -= 0x10000
				b = appendU(b, 0xd800+(r>>10))
				r = 0xdc00 + (r & 0x3ff)
			}
			b = appendU(b, r)
		}
	}
	return append(b, '"')
}

func appendU(b []byte, r rune) []byte {
	return append(b, '\\', 'u', hexDigits[r>>12&0xf], hexDigits[r>>8&0xf], hexDigits[r>>4&0xf], hexDigits[r&0xf])
}

// appendError appends a Lambda-shaped error body.
func appendError(b []byte, typ, msg string) []byte {
	b = append(b, `{"errorMessage":`...)
	b = appendASCIIString(b, msg)
	b = append(b, `,"errorType":`...)
	b = appendASCIIString(b, typ)
	return append(b, '}')
}

// parseError reads an /error or /init/error body. A body that is not the Lambda shape becomes
// the message; the header type fills a missing errorType.
func parseError(body []byte, headerType string) *FunctionError {
	var raw struct {
		Type    string          `json:"errorType"`
		Message string          `json:"errorMessage"`
		Trace   json.RawMessage `json:"stackTrace"`
	}
	e := &FunctionError{}
	if err := json.Unmarshal(body, &raw); err == nil {
		e.Type, e.Message = raw.Type, raw.Message
		if len(raw.Trace) > 0 && json.Unmarshal(raw.Trace, &e.Trace) != nil {
			e.Trace = parseFrames(raw.Trace)
		}
	} else {
		e.Message = string(body)
	}
	if e.Type == "" {
		e.Type = headerType
	}
	if e.Type == "" {
		e.Type = "Runtime.Unknown"
	}
	return e
}

// parseFrames reads a stack trace that is not a list of strings: one string, or frames as
// objects (aws-lambda-go's {"path","line","label"}), each made one line.
func parseFrames(raw json.RawMessage) []string {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if one == "" {
			return nil
		}
		return []string{one}
	}
	var frames []struct {
		Path  string `json:"path"`
		Line  int    `json:"line"`
		Label string `json:"label"`
	}
	if json.Unmarshal(raw, &frames) != nil {
		return nil
	}
	out := make([]string, 0, len(frames))
	for _, f := range frames {
		out = append(out, f.Label+" ("+f.Path+":"+strconv.Itoa(f.Line)+")")
	}
	return out
}

// trailerError is the error a runtime reported in the trailers of a streamed response: the
// base64 JSON body when it decodes, else the type alone.
func trailerError(typ, body64 string) *FunctionError {
	if body, err := base64.StdEncoding.DecodeString(body64); err == nil && len(body) > 0 {
		return parseError(body, typ)
	}
	if typ == "" {
		typ = "Runtime.Unknown"
	}
	return &FunctionError{Type: typ, Message: "the function failed while sending its response"}
}

// appendTraceID appends an X-Ray style trace header derived from an invocation id.
func appendTraceID(b []byte, id string, deadline time.Time) []byte {
	// FNV-1a, 64 bits twice (the id, then the id salted), for 24 hex digits of root id.
	h1, h2 := uint64(14695981039346656037), uint64(14695981039346656037)^0x5bd1e995
	for i := 0; i < len(id); i++ {
		h1 = (h1 ^ uint64(id[i])) * 1099511628211
		h2 = (h2 ^ uint64(id[i])) * 1099511628211
	}
	b = append(b, "Root=1-"...)
	b = appendHex(b, uint64(deadline.Unix())&0xffffffff, 8)
	b = append(b, '-')
	b = appendHex(b, h1, 16)
	b = appendHex(b, h2&0xffffffff, 8)
	return append(b, ";Sampled=0"...)
}

func appendHex(b []byte, v uint64, digits int) []byte {
	for i := digits - 1; i >= 0; i-- {
		b = append(b, hexDigits[v>>(uint(i)*4)&0xf])
	}
	return b
}
