package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"sluice.dev/events"
	"sluice.dev/services/api/wire"
)

// Version returns one version of a function.
func (c *Client) Version(ctx context.Context, name string, n int) (events.Version, error) {
	var v events.Version
	err := c.do(ctx, http.MethodGet, fnPath(name, "/versions/", strconv.Itoa(n)), nil, &v)
	return v, err
}

// DeleteVersion removes one version; the API refuses (409) the latest and any version an alias
// uses.
func (c *Client) DeleteVersion(ctx context.Context, name string, n int) error {
	return c.do(ctx, http.MethodDelete, fnPath(name, "/versions/", strconv.Itoa(n)), nil, nil)
}

// Aliases returns a function's aliases, by name.
func (c *Client) Aliases(ctx context.Context, name string) ([]wire.AliasInfo, error) {
	var out wire.AliasList
	err := c.do(ctx, http.MethodGet, fnPath(name, "/aliases"), nil, &out)
	return out.Aliases, err
}

// SetAlias creates or moves an alias.
func (c *Client) SetAlias(ctx context.Context, name, alias string, req wire.AliasRequest) (wire.AliasInfo, error) {
	var out wire.AliasInfo
	err := c.do(ctx, http.MethodPut, fnPath(name, "/aliases/", url.PathEscape(alias)), req, &out)
	return out, err
}

// DeleteAlias removes an alias.
func (c *Client) DeleteAlias(ctx context.Context, name, alias string) error {
	return c.do(ctx, http.MethodDelete, fnPath(name, "/aliases/", url.PathEscape(alias)), nil, nil)
}

// Files lists the files of a version's package (0: the latest).
func (c *Client) Files(ctx context.Context, name string, version int) (wire.CodeFiles, error) {
	var out wire.CodeFiles
	err := c.do(ctx, http.MethodGet, fnPath(name, "/code", versionQuery(version, "")), nil, &out)
	return out, err
}

// File returns one file of a version's package (0: the latest).
func (c *Client) File(ctx context.Context, name string, version int, file string) (wire.CodeFile, error) {
	var out wire.CodeFile
	err := c.do(ctx, http.MethodGet, fnPath(name, "/code", versionQuery(version, file)), nil, &out)
	return out, err
}

// EditFile makes a new version with one file of the latest package replaced (or added).
func (c *Client) EditFile(ctx context.Context, name string, req wire.EditRequest) (events.Version, error) {
	var v events.Version
	err := c.do(ctx, http.MethodPut, fnPath(name, "/code"), req, &v)
	return v, err
}

func versionQuery(version int, file string) string {
	q := url.Values{}
	if version > 0 {
		q.Set("version", strconv.Itoa(version))
	}
	if file != "" {
		q.Set("file", file)
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}
