package sandbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// Sentinels of the package, checkable with errors.Is.
var (
	ErrUnavailable = errors.New("isolation unavailable") // Required mode, and this host cannot isolate
	ErrOptions     = errors.New("invalid sandbox options")
	ErrWrap        = errors.New("cannot sandbox the process")
)

// Mode says how much isolation a Sandbox insists on.
type Mode int

const (
	// Auto isolates with what the host offers and logs a warning naming what is missing; with
	// nothing, it runs processes under rlimits only.
	Auto Mode = iota
	// Required refuses to build a Sandbox unless namespaces, the unprivileged uid and the cgroup
	// memory, cpu and pids controllers all work.
	Required
	// Off isolates nothing but rlimits, and says so.
	Off
)

func (m Mode) String() string {
	switch m {
	case Auto:
		return "auto"
	case Required:
		return "required"
	case Off:
		return "off"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// ParseMode reads "auto", "required" or "off".
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "auto", "":
		return Auto, nil
	case "required":
		return Required, nil
	case "off":
		return Off, nil
	}
	return Auto, fmt.Errorf("%w: mode %q: use auto, required or off", ErrOptions, s)
}

// Network is the network a sandboxed function sees. Either way each instance has a network
// namespace of its own, whose loopback holds its Runtime API (RuntimeAPIAddr) and nothing of
// the host's.
type Network string

const (
	// NetworkEgress reaches the outside network, as a Lambda function does, through
	// slirp4netns (user-mode networking: the worker's host opens the connections). The host's
	// loopback, its own addresses and the link-local range (cloud metadata services) are
	// unreachable, except the host addresses Options.Allow names.
	NetworkEgress Network = "egress"
	// NetworkNone gives each instance only its loopback: no outside network, no host address.
	NetworkNone Network = "none"
)

// ParseNetwork reads "egress" (or "") and "none".
func ParseNetwork(s string) (Network, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "egress", "default":
		return NetworkEgress, nil
	case "none":
		return NetworkNone, nil
	case "host":
		return "", fmt.Errorf("%w: network host is gone: it let every function reach every port of the host and each other's Runtime API; use egress (the default) and allow the host addresses functions need", ErrOptions)
	}
	return "", fmt.Errorf("%w: network %q: use egress or none", ErrOptions, s)
}

// Defaults applied to zero Options fields.
const (
	DefaultUID       = 65534
	DefaultGID       = 65534
	DefaultPidsLimit = 64
	DefaultTmpSizeMB = 64
	DefaultCgroup    = "sluice" // below the worker's own cgroup
	DefaultBwrap     = "/usr/bin/bwrap"
	DefaultSlirp     = "/usr/bin/slirp4netns"
	// DefaultFirstUID and DefaultUIDCount are the host uids (and gids) instances run as, one
	// each: a range no account or other service should use.
	DefaultFirstUID = 1 << 30
	DefaultUIDCount = 65536
)

// Options configure a Sandbox. The zero value is Auto with the defaults above.
type Options struct {
	Mode Mode
	// UID and GID are the ids the process has inside its sandbox; DefaultUID/DefaultGID when
	// zero.
	UID, GID int
	// FirstUID and UIDCount are the host uids a root worker runs instances as (bubblewrap
	// itself and everything in it), a different one for each live instance on the host and
	// the same number as its gid; DefaultFirstUID and DefaultUIDCount when zero.
	FirstUID, UIDCount int
	// PidsLimit caps processes and threads per instance; DefaultPidsLimit when zero.
	PidsLimit int
	// TmpSizeMB caps the instance's private /tmp (a tmpfs, charged to its memory limit);
	// DefaultTmpSizeMB when zero.
	TmpSizeMB int
	// Network is NetworkEgress when empty.
	Network Network
	// Allow lists host addresses ("IPv4:port") that functions reach at the same address from
	// inside their namespace, forwarded by the worker: the gateway, say. Nothing else of the
	// host is reachable.
	Allow []string
	// Slirp is the slirp4netns binary NetworkEgress needs; DefaultSlirp, else slirp4netns on
	// PATH, when empty.
	Slirp string
	// CPUQuota also caps each instance's CPU time at its share (memory/1769 MB of one CPU), as
	// Lambda does; without it the share only weighs instances against each other under contention.
	CPUQuota bool
	// CgroupParent is where instance cgroups are made: relative to the worker's own cgroup, or
	// absolute in the cgroup hierarchy; DefaultCgroup when empty.
	CgroupParent string
	// Bwrap is the bubblewrap binary; DefaultBwrap, else bwrap on PATH, when empty.
	Bwrap string
	// ReadOnly lists extra host folders shown read-only at the same path, for interpreters
	// installed outside /usr (e.g. "/opt/python3.12").
	ReadOnly []string
}

// withDefaults fills zero fields and validates.
func (o Options) withDefaults() (Options, error) {
	if o.Mode < Auto || o.Mode > Off {
		return o, fmt.Errorf("%w: mode %d", ErrOptions, o.Mode)
	}
	if o.UID == 0 {
		o.UID = DefaultUID
	}
	if o.GID == 0 {
		o.GID = DefaultGID
	}
	if o.UID < 0 || o.GID < 0 {
		return o, fmt.Errorf("%w: uid %d gid %d", ErrOptions, o.UID, o.GID)
	}
	if o.FirstUID == 0 {
		o.FirstUID = DefaultFirstUID
	}
	if o.UIDCount == 0 {
		o.UIDCount = DefaultUIDCount
	}
	if o.FirstUID < 1000 || o.UIDCount < 1 || o.FirstUID+o.UIDCount > 1<<32-2 {
		return o, fmt.Errorf("%w: sandbox uids %d+%d: use a range above 1000 that no account uses", ErrOptions, o.FirstUID, o.UIDCount)
	}
	for _, a := range o.Allow {
		if _, err := ParseAllow(a); err != nil {
			return o, err
		}
	}
	if o.PidsLimit == 0 {
		o.PidsLimit = DefaultPidsLimit
	}
	if o.PidsLimit < 8 {
		return o, fmt.Errorf("%w: pids limit %d is below 8", ErrOptions, o.PidsLimit)
	}
	if o.TmpSizeMB == 0 {
		o.TmpSizeMB = DefaultTmpSizeMB
	}
	if o.TmpSizeMB < 1 {
		return o, fmt.Errorf("%w: tmp size %d MB", ErrOptions, o.TmpSizeMB)
	}
	n, err := ParseNetwork(string(o.Network))
	if err != nil {
		return o, err
	}
	o.Network = n
	if o.CgroupParent == "" {
		o.CgroupParent = DefaultCgroup
	}
	if strings.Contains(o.CgroupParent, "..") {
		return o, fmt.Errorf("%w: cgroup parent %q", ErrOptions, o.CgroupParent)
	}
	for _, p := range o.ReadOnly {
		if !filepath.IsAbs(p) || filepath.Clean(p) == "/" {
			return o, fmt.Errorf("%w: read-only folder %q must be an absolute path below /", ErrOptions, p)
		}
	}
	return o, nil
}
