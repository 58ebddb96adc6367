package webui

import "strconv"

// Chart is a horizontal bar chart drawn as inline SVG by the templates:
// one row per bar, its length proportional to its value over the
// largest. Geometry is computed here; labels reach the SVG through
// html/template's escaping.
type Chart struct {
	Title  string
	Width  int
	Height int
	Bars   []Bar
}

// Bar is one bar of a chart.
type Bar struct {
	Label string
	Value float64
	Muted bool // drawn grey (a discarded side)
	// Geometry, set by newChart.
	Y, Len int
	Text   string // the value, as printed beside the bar
	Data   string // the value in full (data-value), read back by tests
}

// Chart geometry, in SVG user units.
const (
	chartLabelW = 260
	chartBarW   = 360
	chartRowH   = 18
)

// newChart lays out bars.
func newChart(title string, bars []Bar) *Chart {
	max := 0.0
	for _, b := range bars {
		if b.Value > max {
			max = b.Value
		}
	}
	for i := range bars {
		b := &bars[i]
		b.Y = i * chartRowH
		if max > 0 && b.Value > 0 {
			b.Len = max1(int(b.Value/max*chartBarW+0.5), 1)
		}
		b.Text = strconv.FormatFloat(b.Value, 'g', 4, 64)
		b.Data = strconv.FormatFloat(b.Value, 'g', -1, 64)
	}
	return &Chart{Title: title, Width: chartLabelW + chartBarW + 80, Height: len(bars)*chartRowH + 4, Bars: bars}
}

func max1(a, b int) int {
	if a > b {
		return a
	}
	return b
}

func fmtG(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }
