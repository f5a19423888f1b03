// Package miniotest starts a real MinIO server for tests: a random loopback port, a temporary
// data folder, fixed credentials, stopped when the test ends.
//
// The minio binary is looked up as $SLUICE_TEST_MINIO, then bin/minio at the top of the
// repository (where `go tool task minio` installs it), then $GOBIN, $GOPATH/bin and $PATH. When
// it is absent the test is skipped with the command that installs it, unless
// SLUICE_REQUIRE_MINIO=1 (CI), where it fails.
package miniotest
