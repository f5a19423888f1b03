package events

import "encoding/json"

func marshalError(e *FunctionError, o Outcome) []byte {
	if e == nil {
		e = defaultError(o)
	}
	b, _ := json.Marshal(e) // strings and a string slice always marshal
	return b
}

func unmarshalError(b []byte, o Outcome) *FunctionError {
	var e FunctionError
	if err := json.Unmarshal(b, &e); err != nil || (e.Type == "" && e.Message == "") {
		return &FunctionError{Type: string(o), Message: string(b)}
	}
	return &e
}

// defaultError is the error of an outcome that came without one.
func defaultError(o Outcome) *FunctionError {
	return &FunctionError{Type: string(o), Message: "invocation ended with outcome " + string(o)}
}
