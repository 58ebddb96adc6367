package objects

import "testing"

func TestReservedName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{".fed", true},
		{".FED", true},
		{".Fed", true},
		{".fed.", true},
		{".fed . .", true},
		{".fed::$INDEX_ALLOCATION", true},
		{".fe\u200cd", true},
		{"\ufeff.FED", true},
		{".f\u200ded\u206a", true},
		{"FED~1", true},
		{"fed~1", true},
		{".fed2", false},
		{"fed", false},
		{"..fed", false},
		{".fed~1", false},
		{"fed~2", false},
		{".feď", false},
		{"x.fed", false},
		{".git", false},
	} {
		if got := ReservedName(tc.name); got != tc.want {
			t.Errorf("ReservedName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestWindowsNameProblem(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  bool
	}{
		{"model.safetensors", false},
		{"CON", true},
		{"con.txt", true},
		{"Nul", true},
		{"aux.tar.gz", true},
		{"COM1", true},
		{"lpt9.bin", true},
		{"COM²", true},
		{"COM10", false},
		{"CONSOLE", false},
		{"icon", false},
		{"trailing.", true},
		{"trailing ", true},
		{"a:b", true},
		{`a\b`, true},
		{"what?", true},
		{"tab\there", true},
		{"naïve.bin", false},
	} {
		if got := WindowsNameProblem(tc.name); (got != "") != tc.bad {
			t.Errorf("WindowsNameProblem(%q) = %q, want a problem: %v", tc.name, got, tc.bad)
		}
	}
}
