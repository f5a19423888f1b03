package php

import _ "embed"

// Bootstrap is the source of bootstrap.php.
//
//go:embed bootstrap.php
var Bootstrap string
