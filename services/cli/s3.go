package cli

import (
	"strconv"

	"github.com/spf13/cobra"
)

// Environment variables of the node's object storage connection (docs/design.md §8).
const (
	EnvS3Endpoint  = "SLUICE_S3_ENDPOINT"
	EnvS3AccessKey = "SLUICE_S3_ACCESS_KEY"
	EnvS3SecretKey = "SLUICE_S3_SECRET_KEY"
	EnvS3Secure    = "SLUICE_S3_SECURE"
)

// S3Options are the node's object storage connection: where code URLs (s3://bucket/key) are
// fetched from. An empty Endpoint means none.
type S3Options struct {
	Endpoint  string
	AccessKey string
	SecretKey string
	Secure    bool
}

type s3Flags struct {
	endpoint, accessKey, secretKey, secure string
}

// addS3Flags adds --s3-* to a command that runs the API.
func addS3Flags(cmd *cobra.Command, f *s3Flags) {
	fl := cmd.Flags()
	fl.StringVar(&f.endpoint, "s3-endpoint", "", "object storage (MinIO, S3) for code URLs, host:port or http(s)://host:port (default $"+EnvS3Endpoint+")")
	fl.StringVar(&f.accessKey, "s3-access-key", "", "object storage access key (default $"+EnvS3AccessKey+")")
	fl.StringVar(&f.secretKey, "s3-secret-key", "", "object storage secret key (default $"+EnvS3SecretKey+"; prefer the variable, flags show in ps)")
	fl.StringVar(&f.secure, "s3-secure", "", "use TLS to reach the object storage: true or false (default $"+EnvS3Secure+", else false)")
}

// s3Options resolves the flags over the environment; a value that is not a boolean for
// --s3-secure / SLUICE_S3_SECURE is a usage error, never a silent default.
func (a *app) s3Options(f s3Flags) (S3Options, error) {
	or := func(flag, env string) string {
		if flag != "" {
			return flag
		}
		return a.getenv(env)
	}
	o := S3Options{
		Endpoint:  or(f.endpoint, EnvS3Endpoint),
		AccessKey: or(f.accessKey, EnvS3AccessKey),
		SecretKey: or(f.secretKey, EnvS3SecretKey),
	}
	if s := or(f.secure, EnvS3Secure); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return o, usagef("--s3-secure / %s %q: use true or false", EnvS3Secure, s)
		}
		o.Secure = b
	}
	if o.Endpoint == "" && (o.AccessKey != "" || o.SecretKey != "") {
		return o, usagef("S3 credentials are set but no endpoint: pass --s3-endpoint or set %s", EnvS3Endpoint)
	}
	return o, nil
}
