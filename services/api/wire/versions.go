package wire

import (
	"time"

	"sluice.dev/events"
)

// AliasRequest is the body of PUT /v1/functions/{name}/aliases/{alias}: the version the alias
// points at and, for a canary, a second version with its share of invocations (0 < weight < 1).
type AliasRequest struct {
	Version    int              `json:"version"`
	Additional *events.Weighted `json:"additional,omitempty"`
}

// AliasInfo is one alias of a function (events.Alias with its name).
type AliasInfo struct {
	Name       string           `json:"name"`
	Version    int              `json:"version"`
	Additional *events.Weighted `json:"additional,omitempty"`
	Updated    time.Time        `json:"updated,omitzero"`
}

// AliasList is the answer of GET /v1/functions/{name}/aliases, by name.
type AliasList struct {
	Aliases []AliasInfo `json:"aliases"`
}

// EditRequest is the body of PUT /v1/functions/{name}/code: one file's new content. Version,
// when set, is the version the editor loaded; the edit is refused (409) if a newer one was
// deployed since.
type EditRequest struct {
	File    string `json:"file"`
	Content string `json:"content"`
	Version int    `json:"version,omitempty"`
}

// FileInfo is one file of a version's package.
type FileInfo struct {
	Path       string `json:"path"`
	Size       int64  `json:"size"`
	Executable bool   `json:"executable,omitempty"`
	Symlink    bool   `json:"symlink,omitempty"`
}

// CodeFiles is the answer of GET /v1/functions/{name}/code without ?file=.
type CodeFiles struct {
	Function string     `json:"function"`
	Version  int        `json:"version"`
	SHA256   string     `json:"sha256"`
	Files    []FileInfo `json:"files"`
}

// CodeFile is the answer of GET /v1/functions/{name}/code?file=PATH. Content is the file's text,
// or its bytes in base64 when Encoding is "base64" (a file that is not UTF-8).
type CodeFile struct {
	Function string `json:"function"`
	Version  int    `json:"version"`
	File     string `json:"file"`
	Size     int    `json:"size"`
	Content  string `json:"content"`
	Encoding string `json:"encoding,omitempty"`
}
