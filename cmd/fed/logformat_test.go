package main

import (
	"testing"
	"time"
)

func TestRelativeDate(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		ago  time.Duration
		want string
	}{
		{0, "0 seconds ago"},
		{time.Second, "1 second ago"},
		{89 * time.Second, "89 seconds ago"},
		{90 * time.Second, "2 minutes ago"},
		{89 * time.Minute, "89 minutes ago"},
		{90 * time.Minute, "2 hours ago"},
		{35 * time.Hour, "35 hours ago"},
		{36 * time.Hour, "2 days ago"},
		{13 * 24 * time.Hour, "13 days ago"},
		{14 * 24 * time.Hour, "2 weeks ago"},
		{100 * 24 * time.Hour, "3 months ago"},
		{400 * 24 * time.Hour, "1 year, 1 month ago"},
		{365 * 24 * time.Hour, "1 year ago"},
		{3000 * 24 * time.Hour, "8 years ago"},
		{-time.Hour, "in the future"},
	}
	for _, tt := range tests {
		if got := relativeDate(now.Add(-tt.ago), now); got != tt.want {
			t.Errorf("%v ago: %q, want %q", tt.ago, got, tt.want)
		}
	}
}

func TestSplitMessage(t *testing.T) {
	tests := []struct{ msg, subject, body string }{
		{"one", "one", ""},
		{"one\n", "one", ""},
		{"one\ntwo\n\nbody\nmore\n", "one two", "body\nmore\n"},
		{"s\n\n\nbody", "s", "body"},
	}
	for _, tt := range tests {
		s, b := splitMessage(tt.msg)
		if s != tt.subject || b != tt.body {
			t.Errorf("splitMessage(%q) = %q, %q; want %q, %q", tt.msg, s, b, tt.subject, tt.body)
		}
	}
}
