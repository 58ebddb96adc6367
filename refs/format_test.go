package refs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/google/go-cmp/cmp"
)

func testID(s string) objects.ID { return objects.Sum([]byte(s)) }

func TestParseRefFiles(t *testing.T) {
	t.Parallel()
	valid := map[string]bool{"valid": true}
	files, err := filepath.Glob("testdata/ref/*")
	if err != nil || len(files) < 5 {
		t.Fatalf("testdata: %v, %d files", err, len(files))
	}
	for _, path := range files {
		t.Run(filepath.Base(path), func(t *testing.T) {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			id, reason := parseRef(b)
			if valid[filepath.Base(path)] {
				if reason != "" {
					t.Fatalf("parseRef: %s", reason)
				}
				if id != testID("a") || string(formatRef(id)) != string(b) {
					t.Fatalf("parseRef = %s, want %s", id, testID("a"))
				}
				return
			}
			if reason == "" {
				t.Fatalf("parseRef(%q) accepted", b)
			}
		})
	}
}

func TestParseHead(t *testing.T) {
	t.Parallel()
	a := testID("a")
	tests := []struct {
		name string
		in   string
		want Head
		ok   bool
	}{
		{"symbolic", "ref: refs/heads/main\n", Head{Symbolic: "refs/heads/main"}, true},
		{"detached", a.String() + "\n", Head{ID: a}, true},
		{"no newline", "ref: refs/heads/main", Head{}, false},
		{"bad target", "ref: refs/heads/a..b\n", Head{}, false},
		{"target outside refs", "ref: HEAD\n", Head{}, false},
		{"two spaces", "ref:  refs/heads/main\n", Head{}, false},
		{"garbage", "hello\n", Head{}, false},
		{"empty", "", Head{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := parseHead([]byte(tt.in))
			if (reason == "") != tt.ok {
				t.Fatalf("parseHead(%q) reason %q, want ok=%v", tt.in, reason, tt.ok)
			}
			if got != tt.want {
				t.Fatalf("parseHead(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			if tt.ok && string(formatHead(got)) != tt.in {
				t.Fatalf("formatHead = %q, want %q", formatHead(got), tt.in)
			}
		})
	}
}

func TestLogLineFormat(t *testing.T) {
	t.Parallel()
	a, b := testID("a"), testID("b")
	tm := time.Unix(1700000000, 999)
	tests := []struct {
		name string
		e    LogEntry
		line string
		back LogEntry // what parsing the line gives
	}{
		{
			"plain",
			LogEntry{Old: a, New: b, Entry: Entry{Author: "alice", Message: "commit: x", Time: tm}},
			a.String() + " " + b.String() + " 1700000000 alice commit: x\n",
			LogEntry{Old: a, New: b, Entry: Entry{Author: "alice", Message: "commit: x", Time: time.Unix(1700000000, 0)}},
		},
		{
			"no author, multi-line message",
			LogEntry{New: a, Entry: Entry{Message: "line1\nline2\r\n", Time: tm}},
			objects.ZeroID.String() + " " + a.String() + " 1700000000 - line1 line2  \n",
			LogEntry{New: a, Entry: Entry{Message: "line1 line2  ", Time: time.Unix(1700000000, 0)}},
		},
		{
			"author with spaces",
			LogEntry{Old: a, Entry: Entry{Author: "Alice Doe\t<a@x>", Time: time.Unix(-5, 0)}},
			a.String() + " " + objects.ZeroID.String() + " -5 Alice_Doe_<a@x> \n",
			LogEntry{Old: a, Entry: Entry{Author: "Alice_Doe_<a@x>", Time: time.Unix(-5, 0)}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := formatLogLine(tt.e)
			if line != tt.line {
				t.Fatalf("formatLogLine = %q, want %q", line, tt.line)
			}
			got, reason := parseLogLine(strings.TrimSuffix(line, "\n"))
			if reason != "" {
				t.Fatalf("parseLogLine: %s", reason)
			}
			if diff := cmp.Diff(tt.back, got); diff != "" {
				t.Fatalf("parseLogLine (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseLogFiles(t *testing.T) {
	t.Parallel()
	a, b := testID("a"), testID("b")
	tests := []struct {
		file    string
		want    []LogEntry
		badLine int // 0: parses
	}{
		{"valid.log", []LogEntry{
			{New: a, Entry: Entry{Message: "branch: Created from scratch", Time: time.Unix(1700000000, 0)}},
			{Old: a, New: b, Entry: Entry{Author: "alice", Message: "commit: second  with  spaces ", Time: time.Unix(1700000060, 0)}},
			{Old: b, New: a, Entry: Entry{Author: "bob", Time: time.Unix(1700000120, 0)}},
		}, 0},
		{"torn.log", []LogEntry{
			{New: a, Entry: Entry{Message: "create", Time: time.Unix(1700000000, 0)}},
		}, 0},
		{"bad-plus-time.log", nil, 1},
		{"bad-empty-author.log", nil, 1},
		{"bad-few-fields.log", nil, 1},
		{"bad-second-line.log", nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "reflog", tt.file)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseLog(path, data)
			if tt.badLine == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Fatalf("parseLog (-want +got):\n%s", diff)
				}
				return
			}
			var me *MalformedError
			if !errors.As(err, &me) || me.Line != tt.badLine || me.Path != path {
				t.Fatalf("parseLog error = %v, want MalformedError at %s line %d", err, path, tt.badLine)
			}
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file", err)
			}
		})
	}
}
