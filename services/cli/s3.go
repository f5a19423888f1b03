package cli

import (
	"strconv"

	"github.com/spf13/cobra"

	"sluice.dev/adapters/s3conf"
)

// Environment variables of the node's object storage connection (docs/design.md §8), each the
// default of its --s3-* flag.
const (
	EnvS3Endpoint  = "SLUICE_S3_ENDPOINT"
	EnvS3AccessKey = "SLUICE_S3_ACCESS_KEY"
	EnvS3SecretKey = "SLUICE_S3_SECRET_KEY"
	EnvS3Secure    = "SLUICE_S3_SECURE"
	EnvS3Region    = "SLUICE_S3_REGION"
)

// addS3Flags binds --s3-* of a command that runs the API to the node's object storage
// connection c, where code URLs (s3://bucket/key) are fetched from and storage triggers without
// an endpoint of their own connect to. --s3-secure goes to secure, to tell "not given" from false.
func addS3Flags(cmd *cobra.Command, c *s3conf.Config, secure *string) {
	fl := cmd.Flags()
	fl.StringVar(&c.Endpoint, "s3-endpoint", "", "object storage (MinIO, S3) for code URLs, host:port or http(s)://host:port (default $"+EnvS3Endpoint+")")
	fl.StringVar(&c.AccessKey, "s3-access-key", "", "object storage access key (default $"+EnvS3AccessKey+")")
	fl.StringVar(&c.SecretKey, "s3-secret-key", "", "object storage secret key (default $"+EnvS3SecretKey+"; prefer the variable, flags show in ps)")
	fl.StringVar(secure, "s3-secure", "", "use TLS to reach the object storage: true or false (default $"+EnvS3Secure+", else false)")
	fl.StringVar(&c.Region, "s3-region", "", "region of the object storage, e.g. eu-west-1 (default $"+EnvS3Region+", else asked of the store)")
}

// s3Options completes c, filled by addS3Flags, with the environment where a flag was not given.
// A value that is not a boolean for --s3-secure / SLUICE_S3_SECURE is a usage error, never a
// silent default; so are credentials without an endpoint.
func (a *app) s3Options(c *s3conf.Config, secure string) error {
	or := func(flag *string, env string) {
		if *flag == "" {
			*flag = a.getenv(env)
		}
	}
	or(&c.Endpoint, EnvS3Endpoint)
	or(&c.AccessKey, EnvS3AccessKey)
	or(&c.SecretKey, EnvS3SecretKey)
	or(&c.Region, EnvS3Region)
	or(&secure, EnvS3Secure)
	if secure != "" {
		b, err := strconv.ParseBool(secure)
		if err != nil {
			return usagef("--s3-secure / %s %q: use true or false", EnvS3Secure, secure)
		}
		c.Secure = b
	}
	if c.Endpoint == "" && (c.AccessKey != "" || c.SecretKey != "") {
		return usagef("S3 credentials are set but no endpoint: pass --s3-endpoint or set %s", EnvS3Endpoint)
	}
	return nil
}
