package refs

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fed-vcs/fed/objects"
)

// ErrMalformed reports a ref, HEAD or reflog file whose bytes do not follow
// the format (see MalformedError for the file and the reason).
var ErrMalformed = errors.New("refs: malformed file")

// MalformedError names a file that could not be parsed.
type MalformedError struct {
	Path   string // file on disk
	Line   int    // 1-based line for reflogs, 0 for ref and HEAD files
	Reason string
}

func (e *MalformedError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("refs: malformed file %s line %d: %s", e.Path, e.Line, e.Reason)
	}
	return fmt.Sprintf("refs: malformed file %s: %s", e.Path, e.Reason)
}

// Unwrap returns ErrMalformed.
func (e *MalformedError) Unwrap() error { return ErrMalformed }

const (
	hexLen       = 2 * objects.IDSize
	refFileLen   = hexLen + 1
	symrefPrefix = "ref: "
	// maxFileRead bounds how much of a ref or HEAD file is read.
	maxFileRead = 4096
)

// formatRef returns the bytes of a ref file holding id: 64 lowercase hex
// digits and a newline.
func formatRef(id objects.ID) []byte {
	return []byte(id.String() + "\n")
}

// parseRef parses the bytes of a ref file. The only accepted form is exactly
// what formatRef writes; the returned reason is empty on success.
func parseRef(b []byte) (objects.ID, string) {
	var id objects.ID
	if len(b) != refFileLen || b[hexLen] != '\n' {
		return id, fmt.Sprintf("want 64 lowercase hex digits and a newline, got %s", quoteShort(b))
	}
	if !isLowerHex(b[:hexLen]) {
		return id, fmt.Sprintf("want 64 lowercase hex digits and a newline, got %s", quoteShort(b))
	}
	id, err := objects.ParseID(string(b[:hexLen]))
	if err != nil {
		return id, err.Error()
	}
	if id.IsZero() {
		return id, "holds the zero id"
	}
	return id, ""
}

// formatHead returns the bytes of a HEAD file: "ref: <name>\n" when
// symbolic, else the id as in a ref file.
func formatHead(h Head) []byte {
	if h.Symbolic != "" {
		return []byte(symrefPrefix + string(h.Symbolic) + "\n")
	}
	return formatRef(h.ID)
}

// parseHead parses the bytes of a HEAD file. For a symbolic HEAD only
// Symbolic is set.
func parseHead(b []byte) (Head, string) {
	s := string(b)
	if strings.HasPrefix(s, symrefPrefix) {
		if !strings.HasSuffix(s, "\n") {
			return Head{}, "symbolic ref does not end with a newline"
		}
		target := s[len(symrefPrefix) : len(s)-1]
		if err := ValidateName(target); err != nil || !strings.HasPrefix(target, "refs/") {
			return Head{}, fmt.Sprintf("symbolic ref target %s is not a valid name under refs/", quoteShort([]byte(target)))
		}
		return Head{Symbolic: Name(target)}, ""
	}
	id, reason := parseRef(b)
	if reason != "" {
		return Head{}, `want "ref: refs/..." or ` + reason
	}
	return Head{ID: id}, ""
}

func isLowerHex(b []byte) bool {
	for _, c := range b {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// quoteShort quotes at most 80 bytes of b for an error message.
func quoteShort(b []byte) string {
	if len(b) > 80 {
		return strconv.Quote(string(b[:80])) + "..."
	}
	return strconv.Quote(string(b))
}

// Entry describes why a ref moved; it becomes a reflog line.
type Entry struct {
	Author  string    // who moved the ref; empty is written as "-"
	Message string    // free text; newlines are written as spaces
	Time    time.Time // zero means now
}

// LogEntry is one reflog line: a move of a ref from Old to New. A zero Old
// means the ref was created, a zero New that it was deleted.
type LogEntry struct {
	Old, New objects.ID
	Entry
}

// cleanAuthor makes an author a single reflog field: bytes that are ASCII
// whitespace or control characters become '_', and the empty author
// becomes "-". Other bytes are kept as they are.
func cleanAuthor(a string) string {
	if a == "" {
		return "-"
	}
	b := []byte(a)
	for i, c := range b {
		if c <= ' ' || c == 0x7f {
			b[i] = '_'
		}
	}
	return string(b)
}

// cleanMessage makes a message fit on one line: '\n' and '\r' become spaces.
// Other bytes are kept as they are.
func cleanMessage(m string) string {
	b := []byte(m)
	for i, c := range b {
		if c == '\n' || c == '\r' {
			b[i] = ' '
		}
	}
	return string(b)
}

// formatLogLine returns one reflog line, including its final newline:
// "<old hex> <new hex> <unix seconds> <author or -> <message>\n".
func formatLogLine(e LogEntry) string {
	var b strings.Builder
	b.WriteString(e.Old.String())
	b.WriteByte(' ')
	b.WriteString(e.New.String())
	b.WriteByte(' ')
	b.WriteString(strconv.FormatInt(e.Time.Unix(), 10))
	b.WriteByte(' ')
	b.WriteString(cleanAuthor(e.Author))
	b.WriteByte(' ')
	b.WriteString(cleanMessage(e.Message))
	b.WriteByte('\n')
	return b.String()
}

// parseLogLine parses one reflog line without its newline. It accepts only
// what formatLogLine writes, so formatLogLine(parseLogLine(l)) == l+"\n".
func parseLogLine(line string) (LogEntry, string) {
	var e LogEntry
	f := strings.SplitN(line, " ", 5)
	if len(f) != 5 {
		return e, fmt.Sprintf("want 5 space-separated fields, got %d", len(f))
	}
	var err error
	for i, dst := range []*objects.ID{&e.Old, &e.New} {
		if len(f[i]) != hexLen || !isLowerHex([]byte(f[i])) {
			return e, fmt.Sprintf("field %d: want 64 lowercase hex digits, got %s", i+1, quoteShort([]byte(f[i])))
		}
		if *dst, err = objects.ParseID(f[i]); err != nil {
			return e, fmt.Sprintf("field %d: %v", i+1, err)
		}
	}
	sec, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil || strconv.FormatInt(sec, 10) != f[2] {
		return e, fmt.Sprintf("field 3: want unix seconds, got %s", quoteShort([]byte(f[2])))
	}
	e.Time = time.Unix(sec, 0)
	switch {
	case f[3] == "":
		return e, "field 4: empty author"
	case f[3] == "-":
	case cleanAuthor(f[3]) != f[3]:
		return e, fmt.Sprintf("field 4: author %s contains whitespace or control characters", quoteShort([]byte(f[3])))
	default:
		e.Author = f[3]
	}
	if strings.ContainsAny(f[4], "\n\r") {
		return e, "field 5: message contains a line break"
	}
	e.Message = f[4]
	return e, ""
}
