package catalog

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"sluice.dev/runtimes/php"
)

// phpSpec is the php runtime: php-cli running bootstrap.php.
func phpSpec() spec {
	return spec{
		id:        "php",
		tool:      "php",
		install:   "apt-get install php-cli",
		preferred: []string{"/usr/bin/php"},
		probe:     []string{"-r", "echo PHP_BINARY;"},
		bootName:  "bootstrap.php",
		bootstrap: php.Bootstrap,
		args: func(boot string, memoryMB int) []string {
			// Warnings and notices go to stderr (captured as log lines), once.
			args := []string{"-d", "display_errors=stderr", "-d", "log_errors=0", "-d", "html_errors=0"}
			if memoryMB > 0 {
				args = append(args, "-d", "memory_limit="+strconv.Itoa(max(16, memoryMB*9/10))+"M")
			}
			return append(args, boot)
		},
		handler: phpHandler,
	}
}

var phpFunctionRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// phpHandler accepts file.function, the file possibly in folders (lib/app.handler → lib/app.php);
// the file name ends at the first dot after the last slash.
func phpHandler(h string) (string, error) {
	bad := fmt.Errorf("%w %q: php handlers are file.function (lib/file.function for a file in a folder)", ErrBadHandler, h)
	slash := strings.LastIndexByte(h, '/')
	dot := strings.IndexByte(h[slash+1:], '.')
	if dot <= 0 || !phpFunctionRE.MatchString(h[slash+1+dot+1:]) {
		return "", bad
	}
	file := h[:slash+1+dot]
	for _, seg := range strings.Split(file, "/") {
		if seg == "." || seg == ".." || !nodeFileRE.MatchString(seg) {
			return "", bad
		}
	}
	return file + ".php", nil
}
