package ui

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestProgressDisabledWritesNothing(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, false)
	p.Start("storing", 100, "B")
	p.Add(50)
	p.Done()
	if buf.Len() != 0 {
		t.Fatalf("disabled progress wrote %q", buf.String())
	}
}

func TestProgressThrottlesRedraws(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, true)
	clock := time.Unix(0, 0)
	p.now = func() time.Time { return clock }
	p.Start("storing", 1000, "B")
	// 100 updates within one second: at most MaxRate+1 redraws
	for i := 0; i < 100; i++ {
		clock = clock.Add(10 * time.Millisecond)
		p.Add(10)
	}
	p.Done()
	out := buf.String()
	redraws := strings.Count(out, "\r") - 1 // the final line starts with \r too
	if redraws > MaxRate+1 || redraws < 2 {
		t.Errorf("%d redraws in one second, want 2..%d", redraws, MaxRate+1)
	}
	if !strings.HasSuffix(out, "\n") || !strings.HasSuffix(strings.TrimRight(out, " \n"), "done.") || strings.Count(out, "\n") != 1 {
		t.Errorf("want exactly one final line ending in done., got %q", out)
	}
	if !strings.Contains(out, "1.0 kB in 1s") {
		t.Errorf("final line lacks amount and time: %q", out)
	}
}

func TestLine(t *testing.T) {
	tests := []struct {
		name        string
		done, total int64
		unit        string
		elapsed     time.Duration
		final       bool
		want        string
	}{
		{"half", 1_500_000, 3_000_000, "B", 3 * time.Second, false, "storing:  50% [============>           ] 1.5 MB/3.0 MB 500.0 kB/s ETA 3s"},
		{"unknown total", 3, 0, "objects", time.Second, false, "storing: 3 objects 3 objects/s"},
		{"final", 2_000_000, 2_000_000, "B", 2 * time.Second, true, "storing: 2.0 MB in 2s (1.0 MB/s), done."},
		// a millisecond is no time to measure a rate over (clone renaming
		// prepared files said "536.9 MB in 1ms (720.7 GB/s)")
		{"final, instant", 536_900_000, 536_900_000, "B", time.Millisecond, true, "storing: 536.9 MB in 1ms, done."},
		// the first tick of add said "ETA 36m21s"
		{"first tick", 1_000_000, 2_000_000_000, "B", 100 * time.Millisecond, false, "storing:   0% [>                       ] 1.0 MB/2.0 GB"},
		{"rate, no estimate yet", 30_000_000, 2_000_000_000, "B", 1500 * time.Millisecond, false, "storing:   2% [>                       ] 30.0 MB/2.0 GB 20.0 MB/s"},
		{"unknown total, early", 3, 0, "objects", 10 * time.Millisecond, false, "storing: 3 objects"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Line("storing", tt.done, tt.total, tt.unit, tt.elapsed, tt.final)
			if got != tt.want {
				t.Errorf("Line = %q, want %q", got, tt.want)
			}
		})
	}
}

// Driven by a fake clock, a phase shows no rate and no estimate in its
// first redraws, then both.
func TestProgressRatesOnlyOnceMeaningful(t *testing.T) {
	var buf bytes.Buffer
	p := NewProgress(&buf, true)
	clock := time.Unix(0, 0)
	p.now = func() time.Time { return clock }
	p.Start("storing", 100_000_000, "B")
	var lines []string
	for range 40 {
		clock = clock.Add(100 * time.Millisecond)
		buf.Reset()
		p.Add(1_000_000)
		if buf.Len() > 0 {
			lines = append(lines, strings.TrimSpace(strings.TrimPrefix(buf.String(), "\r")))
		}
	}
	if len(lines) < 30 {
		t.Fatalf("%d redraws in 4 s, want one per tick", len(lines))
	}
	for i, l := range lines {
		at := time.Duration(i+1) * 100 * time.Millisecond
		if hasRate := strings.Contains(l, "/s"); hasRate != (at >= RateAfter) {
			t.Errorf("at %s: %q: rate shown = %v", at, l, hasRate)
		}
		if hasETA := strings.Contains(l, "ETA"); hasETA != (at >= ETAAfter) {
			t.Errorf("at %s: %q: estimate shown = %v", at, l, hasETA)
		}
	}
	if last := lines[len(lines)-1]; !strings.HasSuffix(last, "10.0 MB/s ETA 6s") {
		t.Errorf("last line %q, want a rate of 10.0 MB/s and 6s left", last)
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 20_500_000: "20.5 MB", 3_000_000_000: "3.0 GB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
