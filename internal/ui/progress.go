package ui

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

// MaxRate is the most redraws a second a Progress makes.
const MaxRate = 10

// A rate means something only over a long enough time, and an estimate of
// the time left only once the rate has settled: a phase that takes a
// millisecond (files a clone already prepared are renamed, not written)
// has no meaningful rate, and the first tenth of a second of a phase
// (files opened, the first bytes hashed) predicts nothing.
const (
	RateAfter = time.Second     // rates are shown from this much elapsed time on
	ETAAfter  = 3 * time.Second // and estimates of the time left from this on
)

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Progress draws one bar per phase on a terminal: label, amount done,
// total, rate and estimated time left, redrawn in place with '\r', then a
// final line when the phase ends.
type Progress struct {
	w       io.Writer
	enabled bool
	now     func() time.Time

	mu       sync.Mutex
	label    string
	unit     string
	total    int64
	done     int64
	start    time.Time
	lastDraw time.Time
	width    int // length of the last line drawn, to blank it
	active   bool
}

// NewProgress returns a Progress writing to w; when enabled is false it
// draws nothing.
func NewProgress(w io.Writer, enabled bool) *Progress {
	return &Progress{w: w, enabled: enabled, now: time.Now}
}

// Start begins a phase of total units ("B" for bytes); total 0 is unknown.
func (p *Progress) Start(label string, total int64, unit string) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.active {
		p.finishLocked()
	}
	p.label, p.unit, p.total, p.done = label, unit, total, 0
	p.start = p.now()
	p.lastDraw = time.Time{}
	p.active = true
}

// Add reports n more units done.
func (p *Progress) Add(n int64) {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.active {
		return
	}
	p.done += n
	now := p.now()
	if now.Sub(p.lastDraw) < time.Second/MaxRate {
		return
	}
	p.lastDraw = now
	p.drawLocked(now, '\r')
}

// Done ends the phase with a final line.
func (p *Progress) Done() {
	if !p.enabled {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.active {
		p.finishLocked()
	}
}

func (p *Progress) finishLocked() {
	p.drawLocked(p.now(), '\n')
	p.active = false
	p.width = 0
}

func (p *Progress) drawLocked(now time.Time, end byte) {
	line := Line(p.label, p.done, p.total, p.unit, now.Sub(p.start), end == '\n')
	pad := ""
	if n := p.width - len(line); n > 0 {
		pad = strings.Repeat(" ", n)
	}
	p.width = len(line)
	nl := ""
	if end == '\n' {
		nl = "\n"
	}
	fmt.Fprintf(p.w, "\r%s%s%s", line, pad, nl)
}

// Line formats one progress line: "storing  45% [=====>    ] 1.2 GB/2.7 GB
// 120 MB/s ETA 12s" while running, "storing 100% 2.7 GB in 22s (120 MB/s)"
// when final. The rate appears once elapsed reaches RateAfter and the
// estimate once it reaches ETAAfter (see there).
func Line(label string, done, total int64, unit string, elapsed time.Duration, final bool) string {
	amount := func(n int64) string {
		if unit == "B" {
			return Bytes(n)
		}
		return fmt.Sprintf("%d %s", n, unit)
	}
	rate := 0.0
	if s := elapsed.Seconds(); elapsed >= RateAfter {
		rate = float64(done) / s
	}
	rateStr := ""
	if elapsed >= RateAfter {
		rateStr = amount(int64(rate)) + "/s"
	}
	if final {
		if rateStr == "" {
			return fmt.Sprintf("%s: %s in %s, done.", label, amount(done), elapsed.Round(time.Millisecond))
		}
		return fmt.Sprintf("%s: %s in %s (%s), done.", label, amount(done), elapsed.Round(time.Millisecond), rateStr)
	}
	if total <= 0 {
		return strings.TrimSuffix(fmt.Sprintf("%s: %s %s", label, amount(done), rateStr), " ")
	}
	frac := float64(done) / float64(total)
	if frac > 1 {
		frac = 1
	}
	const barWidth = 24
	fill := int(frac * barWidth)
	bar := strings.Repeat("=", fill)
	if fill < barWidth {
		bar += ">" + strings.Repeat(" ", barWidth-fill-1)
	}
	line := fmt.Sprintf("%s: %3.0f%% [%s] %s/%s", label, 100*frac, bar, amount(done), amount(total))
	if rateStr != "" {
		line += " " + rateStr
	}
	if elapsed >= ETAAfter && rate > 0 {
		line += " ETA " + time.Duration(float64(total-done)/rate*float64(time.Second)).Round(time.Second).String()
	}
	return line
}

// Bytes formats n bytes with a decimal unit ("1.2 MB").
func Bytes(n int64) string {
	const k = 1000
	if n < k {
		return fmt.Sprintf("%d B", n)
	}
	units := "kMGTPE"
	f := float64(n)
	i := -1
	for f >= k && i < len(units)-1 {
		f /= k
		i++
	}
	return fmt.Sprintf("%.1f %cB", f, units[i])
}
