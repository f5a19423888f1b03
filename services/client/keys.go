package client

import (
	"context"
	"net/http"
	"net/url"

	"sluice.dev/services/api/wire"
)

// CreateKey issues an access key; its secret is in the answer only.
func (c *Client) CreateKey(ctx context.Context, req wire.KeyRequest) (wire.IssuedKey, error) {
	var out wire.IssuedKey
	err := c.do(ctx, http.MethodPost, "/v1/keys", req, &out)
	return out, err
}

// Keys lists the access keys, without their secrets.
func (c *Client) Keys(ctx context.Context) ([]wire.KeyInfo, error) {
	var out wire.KeyList
	err := c.do(ctx, http.MethodGet, "/v1/keys", nil, &out)
	return out.Keys, err
}

// RevokeKey deletes an access key.
func (c *Client) RevokeKey(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/v1/keys/"+url.PathEscape(id), nil, nil)
}
