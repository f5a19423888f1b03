// Package codeurl fetches code packages from S3-compatible object storage (MinIO, AWS S3) for
// deploys given a code URL, s3://bucket/key.zip, with the node's endpoint and credentials.
//
// Every failure is one of the package's sentinels, wrapped with a message that says what to do:
// ErrBadURL (not an s3:// URL), ErrNoObject (no such bucket or object: "no object s3://b/k"),
// ErrDenied (the store refused the node's credentials or the bucket's policy denies them),
// ErrUnreachable (the endpoint does not answer; the message names the address) and ErrTooLarge
// (the object is over the caller's limit; nothing past the limit is read). A Store is safe for
// concurrent use.
package codeurl
