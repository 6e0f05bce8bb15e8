// Package web holds the browser front-end of raftviz: plain HTML, CSS and
// JavaScript with no build step, embedded into the binary so that the page
// works offline, in a classroom with no network.
package web

import (
	"embed"
	"io/fs"
)

//go:embed static
var files embed.FS

// Static returns the page's files: index.html at the root.
func Static() fs.FS {
	sub, err := fs.Sub(files, "static")
	if err != nil { // cannot happen: "static" is embedded above
		panic(err)
	}
	return sub
}
