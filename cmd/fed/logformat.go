package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fed-vcs/fed/objects"
)

// logFormat is how log prints each commit: one of git's named formats
// (oneline, short, medium, full) or a format string with placeholders.
type logFormat struct {
	name string // "oneline", "short", "medium", "full", or "" for tmpl
	tmpl string
	// term: the expanded tmpl ends every commit with a newline (tformat:,
	// --format); otherwise a newline only separates commits (format:).
	term bool
}

// parseLogFormat reads --pretty and --format values as git does:
// --pretty=NAME, --pretty=format:T, --pretty=tformat:T, and a value with
// a '%' as tformat:; --format=T is --pretty=tformat:T unless T is a name.
func parseLogFormat(pretty, format string) (logFormat, error) {
	if pretty != "" && format != "" {
		return logFormat{}, usageErrorf("--pretty and --format cannot be used together")
	}
	v := pretty
	if format != "" {
		v = format
	}
	switch {
	case strings.HasPrefix(v, "format:"):
		return logFormat{tmpl: strings.TrimPrefix(v, "format:")}, nil
	case strings.HasPrefix(v, "tformat:"):
		return logFormat{tmpl: strings.TrimPrefix(v, "tformat:"), term: true}, nil
	case v == "oneline" || v == "short" || v == "medium" || v == "full":
		return logFormat{name: v}, nil
	case v == "":
		return logFormat{name: "medium"}, nil
	case strings.Contains(v, "%") || format != "":
		return logFormat{tmpl: v, term: true}, nil
	}
	return logFormat{}, usageErrorf("--pretty=%s: want oneline, short, medium, full, format:STRING or tformat:STRING", v)
}

// expandFormat expands git's placeholders in tmpl for commit c:
//
//	%H %h      commit id, abbreviated      %T %t  tree id, abbreviated
//	%P %p      parent ids, abbreviated     %d %D  ref names " (a, b)", "a, b"
//	%an %ae    author (fed's author is a public key: both print it)
//	%ad %ar    author date, relative ("3 hours ago"); %at unix, %ai ISO, %aI strict ISO
//	%cn %ce %cd %cr %ct %ci %cI  the same (a fed commit's signer is its author)
//	%s %b %B   subject, body, raw message  %n newline  %% a percent sign
//
// Unknown placeholders are printed as they are, as git does.
func expandFormat(tmpl string, id objects.ID, c *objects.Commit, deco []string, now time.Time) string {
	var b strings.Builder
	subj, body := splitMessage(c.Message)
	for i := 0; i < len(tmpl); i++ {
		ch := tmpl[i]
		if ch != '%' || i+1 == len(tmpl) {
			b.WriteByte(ch)
			continue
		}
		rest := tmpl[i+1:]
		n := 1
		switch rest[0] {
		case 'H':
			b.WriteString(id.String())
		case 'h':
			b.WriteString(id.Short())
		case 'T':
			b.WriteString(c.Tree.String())
		case 't':
			b.WriteString(c.Tree.Short())
		case 'P', 'p':
			for k, p := range c.Parents {
				if k > 0 {
					b.WriteByte(' ')
				}
				if rest[0] == 'P' {
					b.WriteString(p.String())
				} else {
					b.WriteString(p.Short())
				}
			}
		case 'd':
			if len(deco) > 0 {
				b.WriteString(" (" + strings.Join(deco, ", ") + ")")
			}
		case 'D':
			b.WriteString(strings.Join(deco, ", "))
		case 's':
			b.WriteString(subj)
		case 'b':
			b.WriteString(body)
		case 'B':
			b.WriteString(c.Message)
		case 'n':
			b.WriteByte('\n')
		case '%':
			b.WriteByte('%')
		case 'a', 'c':
			if len(rest) < 2 {
				n = 0
				break
			}
			n = 2
			t := commitTime(c)
			switch rest[1] {
			case 'n', 'e':
				b.WriteString(c.Author.String())
			case 'd':
				b.WriteString(t.Format(gitDate))
			case 'r':
				b.WriteString(relativeDate(t, now))
			case 't':
				b.WriteString(strconv.FormatInt(c.Time, 10))
			case 'i':
				b.WriteString(t.Format("2006-01-02 15:04:05 -0700"))
			case 'I':
				b.WriteString(t.Format(time.RFC3339))
			default:
				n = 0
			}
		default:
			n = 0
		}
		if n == 0 {
			b.WriteByte('%')
			continue
		}
		i += n
	}
	return b.String()
}

// gitDate is git's default date format.
const gitDate = "Mon Jan 2 15:04:05 2006 -0700"

// splitMessage splits a commit message into git's subject (the first
// paragraph, its lines joined by spaces) and body (the rest, from its
// first non-blank line).
func splitMessage(msg string) (subject, body string) {
	msg = strings.TrimLeft(msg, "\n")
	first, rest, _ := strings.Cut(msg, "\n\n")
	subject = strings.Join(strings.Fields(strings.ReplaceAll(first, "\n", " ")), " ")
	return subject, strings.TrimLeft(rest, "\n")
}

// relativeDate says how long before now t was, in git's words and with
// git's rounding ("5 minutes ago", "2 weeks ago", "1 year, 3 months ago").
func relativeDate(t, now time.Time) string {
	d := now.Unix() - t.Unix()
	if d < 0 {
		return "in the future"
	}
	unit := func(n int64, name string) string {
		if n == 1 {
			return fmt.Sprintf("1 %s", name)
		}
		return fmt.Sprintf("%d %ss", n, name)
	}
	switch {
	case d < 90:
		return unit(d, "second") + " ago"
	case d < 90*60:
		return unit((d+30)/60, "minute") + " ago"
	case d < 36*3600:
		return unit((d+1800)/3600, "hour") + " ago"
	}
	days := (d + 43200) / 86400
	switch {
	case days < 14:
		return unit(days, "day") + " ago"
	case days < 70:
		return unit((days+3)/7, "week") + " ago"
	case days < 365:
		return unit((days+15)/30, "month") + " ago"
	case days < 1825:
		totalMonths := (days*12*2 + 365) / (365 * 2)
		years, months := totalMonths/12, totalMonths%12
		if months == 0 {
			return unit(years, "year") + " ago"
		}
		return unit(years, "year") + ", " + unit(months, "month") + " ago"
	}
	return unit((days+183)/365, "year") + " ago"
}
