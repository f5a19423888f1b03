package billing

import (
	"errors"
	"fmt"
	"math"
	"strconv"
)

// Default prices, in USD, as AWS Lambda's x86 list prices.
const (
	DefaultPerMillionRequests = 0.20
	DefaultPerGBSecond        = 0.0000166667
)

// Environment variables of the price table; flags of up and serve override them.
const (
	EnvPerMillionRequests = "SLUICE_PRICE_PER_MILLION_REQUESTS"
	EnvPerGBSecond        = "SLUICE_PRICE_PER_GB_SECOND"
	EnvFreeRequests       = "SLUICE_FREE_REQUESTS"
	EnvFreeGBSeconds      = "SLUICE_FREE_GB_SECONDS"
)

// ErrBadPrice is returned for a price or free tier that is not a finite number ≥ 0.
var ErrBadPrice = errors.New("bad price")

// Prices is the price table of a node.
type Prices struct {
	PerMillionRequests float64 `json:"perMillionRequests"`
	PerGBSecond        float64 `json:"perGBSecond"`
	FreeRequests       int64   `json:"freeRequests"`
	FreeGBSeconds      float64 `json:"freeGBSeconds"`
}

// DefaultPrices are the default prices with no free tier.
func DefaultPrices() Prices {
	return Prices{PerMillionRequests: DefaultPerMillionRequests, PerGBSecond: DefaultPerGBSecond}
}

// Validate refuses negative, infinite or NaN prices.
func (p Prices) Validate() error {
	for _, c := range []struct {
		name string
		v    float64
	}{
		{"per-million-requests price", p.PerMillionRequests},
		{"per-GB-second price", p.PerGBSecond},
		{"free requests", float64(p.FreeRequests)},
		{"free GB-seconds", p.FreeGBSeconds},
	} {
		if c.v < 0 || math.IsInf(c.v, 0) || math.IsNaN(c.v) {
			return fmt.Errorf("%w: %s %v: use a number ≥ 0", ErrBadPrice, c.name, c.v)
		}
	}
	return nil
}

// FromEnv returns the default prices with those set in the environment, validated.
func FromEnv(getenv func(string) string) (Prices, error) {
	p := DefaultPrices()
	for _, c := range []struct {
		env string
		f   *float64
	}{{EnvPerMillionRequests, &p.PerMillionRequests}, {EnvPerGBSecond, &p.PerGBSecond}, {EnvFreeGBSeconds, &p.FreeGBSeconds}} {
		if s := getenv(c.env); s != "" {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return p, fmt.Errorf("%w: %s=%q: use a number like 0.20", ErrBadPrice, c.env, s)
			}
			*c.f = v
		}
	}
	if s := getenv(EnvFreeRequests); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return p, fmt.Errorf("%w: %s=%q: use a whole number of requests", ErrBadPrice, EnvFreeRequests, s)
		}
		p.FreeRequests = v
	}
	return p, p.Validate()
}
