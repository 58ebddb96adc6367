package webui

import (
	"embed"
	"html/template"
	"strconv"
	"time"
)

//go:embed templates/*.html
var templateFiles embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	"date": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
	"shortkey": shortKey,
	"num": func(v *float64) string {
		if v == nil {
			return "–"
		}
		return fmtG(*v)
	},
	"add": func(a, b int) int { return a + b },
	// pct shows a share in [0, 1] as a percentage with one decimal
	"pct": func(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" },
}).ParseFS(templateFiles, "templates/*.html"))
