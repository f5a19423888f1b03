package python

import _ "embed"

// Bootstrap is the source of bootstrap.py.
//
//go:embed bootstrap.py
var Bootstrap string
