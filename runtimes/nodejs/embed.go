package nodejs

import _ "embed"

// Bootstrap is the source of bootstrap.js.
//
//go:embed bootstrap.js
var Bootstrap string
