package api_test

import (
	"archive/zip"
	"io"
)

// archiveSlip writes a zip with an entry that climbs out of the destination.
func archiveSlip(w io.Writer) error {
	zw := zip.NewWriter(w)
	f, err := zw.Create("../../etc/cron.d/evil")
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte("x")); err != nil {
		return err
	}
	return zw.Close()
}
