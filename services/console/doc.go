// Package console is sluice's web console: static HTML, CSS and JavaScript embedded in the
// binary and served at / by the node's HTTP listener (sluice up, sluice serve gateway).
//
// The console holds no state and has no server side of its own: the page runs in the browser and
// calls the management API under /v1 with the bearer token, like the CLI. It takes the token
// from the URL fragment that sluice up prints (http://127.0.0.1:8080/#token=...; a fragment never
// reaches the server or its logs), keeps it in the tab's sessionStorage, and asks for it with a
// sign-in form when it has none. Everything it needs is in the binary: it works offline, with no
// CDN, framework or build step, and its charts are SVG drawn by hand from the metrics API.
//
// Handler serves GET and HEAD of / (the page) and of AssetPrefix+FILE (its scripts, styles and
// icon). Every answer carries an ETag for revalidation (Cache-Control: no-cache, so a new binary
// is picked up at once) and a Content-Security-Policy that allows only the node's own origin: no
// inline script or style, no other host, no framing (frame-ancestors 'none' and X-Frame-Options
// DENY); Cross-Origin-Opener-Policy same-origin cuts it off from any window that opened it.
package console
