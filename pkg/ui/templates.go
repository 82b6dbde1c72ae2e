package ui

import (
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
)

// assets are the pages' templates, stylesheet and icon, built into the
// binary: the view needs no files beside it and loads nothing from
// elsewhere.
//
//go:embed assets
var assets embed.FS

var funcs = template.FuncMap{
	"lower": strings.ToLower,
	"minus": func(a, b int) int { return a - b },
	"plural": func(n int, what string) string {
		if n == 1 {
			return "1 " + what
		}
		return strconv.Itoa(n) + " " + what + "s"
	},
}

// parsePages parses each page with the layout it shares.
func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range []string{"envs", "history", "run", "error"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "assets/layout.html", "assets/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("ui: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// serveAsset serves one embedded file, which may be cached a while.
func serveAsset(name, contentType string) http.HandlerFunc {
	data, err := assets.ReadFile(name)
	if err != nil {
		panic("ui: missing embedded asset " + name) // a build mistake, caught by every test
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", contentType)
		w.Header().Set("Cache-Control", "max-age=300")
		if r.Method != http.MethodHead {
			_, _ = w.Write(data)
		}
	}
}
