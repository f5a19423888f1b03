package wire

import "time"

// KeyRequest is the body of POST /v1/keys.
type KeyRequest struct {
	Scope     string `json:"scope"`               // admin, deploy or invoke
	Functions string `json:"functions,omitempty"` // a name pattern (orders-*); "" for every function
}

// KeyInfo is an access key as GET /v1/keys lists it: never its secret.
type KeyInfo struct {
	AccessKeyID string    `json:"accessKeyId"`
	Scope       string    `json:"scope"`
	Functions   string    `json:"functions,omitempty"`
	Created     time.Time `json:"created"`
}

// IssuedKey is the answer of POST /v1/keys: the key with its secret, shown this once. Token is
// the bearer form, ACCESS_KEY_ID.SECRET.
type IssuedKey struct {
	KeyInfo
	SecretAccessKey string `json:"secretAccessKey"`
	Token           string `json:"token"`
}

// KeyList is the answer of GET /v1/keys.
type KeyList struct {
	Keys []KeyInfo `json:"keys"`
}
