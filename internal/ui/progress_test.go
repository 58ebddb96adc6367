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
		{"half", 500_000, 1_000_000, "B", time.Second, false, "storing:  50% [============>           ] 500.0 kB/1.0 MB 500.0 kB/s ETA 1s"},
		{"unknown total", 3, 0, "objects", time.Second, false, "storing: 3 objects 3 objects/s"},
		{"final", 2_000_000, 2_000_000, "B", 2 * time.Second, true, "storing: 2.0 MB in 2s (1.0 MB/s), done."},
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

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 1000: "1.0 kB", 20_500_000: "20.5 MB", 3_000_000_000: "3.0 GB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
