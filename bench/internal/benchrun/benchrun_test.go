//go:build unix

package benchrun

import (
	"regexp"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var out strings.Builder
	Echo = &out
	defer func() { Echo = nil }()
	p, err := Run(t.TempDir(), []string{"BENCHRUN_X=42", "PATH=/usr/bin:/bin"}, "sh", "-c", `echo "x=$BENCHRUN_X"; pwd`)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "x=42\n") {
		t.Errorf("output %q: the environment was not passed", out.String())
	}
	if p.Wall <= 0 || p.RSS <= 0 {
		t.Errorf("cost %+v: want a wall time and a peak RSS", p)
	}
	_, err = Run(t.TempDir(), nil, "sh", "-c", "echo broken >&2; exit 3")
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "broken") {
		t.Errorf("a failing command: %v; want its status and output", err)
	}
}

func TestLoadAvg(t *testing.T) {
	if got := LoadAvg(); got != "?" && !regexp.MustCompile(`^[0-9.]+ [0-9.]+ [0-9.]+$`).MatchString(got) {
		t.Errorf("LoadAvg() = %q", got)
	}
}
