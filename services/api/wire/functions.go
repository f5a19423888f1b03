package wire

import (
	"time"

	"sluice.dev/events"
)

// Body limits of the API.
const (
	MaxCodeBytes   = 64 << 20 // POST /v1/code
	MaxDeployBytes = 8 << 20  // PUT /v1/functions/{name}, inline code included
)

// CodeSource names the code of a deploy: a package uploaded before with POST /v1/code (SHA256),
// or one the node fetches from object storage (URL, s3://bucket/key). Exactly one is given.
type CodeSource struct {
	SHA256 string `json:"sha256,omitempty"`
	URL    string `json:"url,omitempty"`
}

// InlineCode is a one-file package given in the deploy request.
type InlineCode struct {
	File    string `json:"file"`
	Content string `json:"content"`
}

// DeployRequest is the body of PUT /v1/functions/{name}. Zero settings take their defaults;
// Retries is a pointer because 0 retries is a setting of its own. Exactly one of Code and Inline
// is given.
type DeployRequest struct {
	Runtime     string            `json:"runtime"`
	Handler     string            `json:"handler"`
	MemoryMB    int               `json:"memoryMB,omitempty"`
	Timeout     events.Duration   `json:"timeout,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	Min         int               `json:"min,omitempty"`
	Max         int               `json:"max,omitempty"`
	Concurrency int               `json:"concurrency,omitempty"`
	IdleTimeout events.Duration   `json:"idleTimeout,omitempty"`
	Retries     *int              `json:"retries,omitempty"`
	Public      bool              `json:"public,omitempty"`
	PublicAsync bool              `json:"publicAsync,omitempty"`
	Description string            `json:"description,omitempty"`
	MaxEventAge events.Duration   `json:"maxEventAge,omitempty"`
	OnSuccess   string            `json:"onSuccess,omitempty"`
	OnFailure   string            `json:"onFailure,omitempty"`
	Code        *CodeSource       `json:"code,omitempty"`
	Inline      *InlineCode       `json:"inline,omitempty"`
}

// Config returns the function settings of the request, with the default retries when unset.
func (d DeployRequest) Config() events.Config {
	retries := events.DefaultRetries
	if d.Retries != nil {
		retries = *d.Retries
	}
	return events.Config{
		Runtime: d.Runtime, Handler: d.Handler, MemoryMB: d.MemoryMB, Timeout: d.Timeout, Env: d.Env,
		Min: d.Min, Max: d.Max, Concurrency: d.Concurrency, IdleTimeout: d.IdleTimeout, Retries: retries,
		Public: d.Public, PublicAsync: d.PublicAsync, Description: d.Description,
		MaxEventAge: d.MaxEventAge, OnSuccess: d.OnSuccess, OnFailure: d.OnFailure,
	}
}

// FunctionSummary is one row of GET /v1/functions.
type FunctionSummary struct {
	Name     string          `json:"name"`
	Latest   int             `json:"latest"`
	Runtime  string          `json:"runtime"`
	Handler  string          `json:"handler"`
	MemoryMB int             `json:"memoryMB"`
	Timeout  events.Duration `json:"timeout"`
	Updated  time.Time       `json:"updated"`
}

// FunctionList is the answer of GET /v1/functions.
type FunctionList struct {
	Functions []FunctionSummary `json:"functions"`
}

// FunctionDetail is the answer of GET /v1/functions/{name}.
type FunctionDetail struct {
	Function events.Function `json:"function"`
	Version  events.Version  `json:"version"`
	Scale    *ScaleView      `json:"scale,omitempty"`
}

// VersionList is the answer of GET /v1/functions/{name}/versions: every version, oldest first.
type VersionList struct {
	Versions []events.Version `json:"versions"`
}

// ScaleView is the "scale" part of GET /v1/functions/{name}: the lag read from the function's
// consumer now, the scaler's last decision, and the instances each live worker reports.
type ScaleView struct {
	Lag       int            `json:"lag"`
	Desired   int            `json:"desired"`
	Reason    string         `json:"reason,omitempty"`   // lag, min, max or idle; empty before the first decision
	DecidedAt time.Time      `json:"decidedAt,omitzero"` // when the scaler recorded it
	Running   map[string]int `json:"running"`            // instances by worker id
	Busy      map[string]int `json:"busy"`               // of which handling an invocation, by worker id
}

// WorkerList is the answer of GET /v1/workers: the workers whose heartbeat is live, by id.
type WorkerList struct {
	Workers []events.WorkerBeat `json:"workers"`
}
