package webui

import (
	"bytes"
	"context"
	"html"
	"html/template"
	"net/url"
	"strings"

	"github.com/fed-vcs/fed/objects"
)

// ReadmeMax is the largest README a repository page renders; a bigger
// one is named, not shown.
const ReadmeMax = 256 << 10

// readmeNames are the root file names a repository page renders, in order
// of preference, compared without regard to case.
var readmeNames = []string{"readme.md", "model_card.md", "readme"}

// readme finds the README (or model card) at the root of tree: its name,
// its text (empty when bigger than ReadmeMax) and its size. An empty
// name means the tree has none.
func readme(ctx context.Context, st objects.Store, tree objects.ID) (name, text string, size uint64, err error) {
	o, err := objects.Read(ctx, st, tree, 0)
	if err != nil {
		return "", "", 0, err
	}
	t, ok := o.(*objects.Tree)
	if !ok {
		return "", "", 0, nil
	}
	var found *objects.TreeEntry
	for _, want := range readmeNames {
		for i, e := range t.Entries {
			if e.Kind == objects.KindBlob && strings.EqualFold(e.Name, want) {
				found = &t.Entries[i]
				break
			}
		}
		if found != nil {
			break
		}
	}
	if found == nil {
		return "", "", 0, nil
	}
	bo, err := objects.Read(ctx, st, found.ID, 0)
	if err != nil {
		return "", "", 0, err
	}
	b, ok := bo.(*objects.Blob)
	if !ok {
		return "", "", 0, nil
	}
	if b.Size > ReadmeMax {
		return found.Name, "", b.Size, nil
	}
	var buf bytes.Buffer
	if err := objects.WriteBlobTo(ctx, st, b, &buf); err != nil {
		return "", "", 0, err
	}
	return found.Name, buf.String(), b.Size, nil
}

// markdown renders a small subset of Markdown as HTML: headings (# to
// ###), paragraphs, "- " and "* " lists, `code` spans, ``` fences and
// links [text](http://…) or (https://…). Every other byte is escaped:
// raw HTML in the source comes out as text, and a link to any other
// scheme stays text.
func markdown(src string) template.HTML {
	var out strings.Builder
	lines := strings.Split(strings.ReplaceAll(src, "\r\n", "\n"), "\n")
	var para []string
	inList := false
	flush := func() {
		if len(para) > 0 {
			out.WriteString("<p>" + inline(strings.Join(para, " ")) + "</p>\n")
			para = nil
		}
		if inList {
			out.WriteString("</ul>\n")
			inList = false
		}
	}
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		trim := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(trim, "```"):
			flush()
			out.WriteString("<pre><code>")
			for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "```"); i++ {
				out.WriteString(html.EscapeString(lines[i]) + "\n")
			}
			out.WriteString("</code></pre>\n")
		case trim == "":
			flush()
		case strings.HasPrefix(trim, "#"):
			n := len(trim) - len(strings.TrimLeft(trim, "#"))
			if n <= 3 && len(trim) > n && trim[n] == ' ' {
				flush()
				tag := string(rune('0' + n + 1)) // # is h2: the page's h1 is the repository
				out.WriteString("<h" + tag + ">" + inline(strings.TrimSpace(trim[n:])) + "</h" + tag + ">\n")
				continue
			}
			para = append(para, trim)
		case strings.HasPrefix(trim, "- ") || strings.HasPrefix(trim, "* "):
			if len(para) > 0 {
				out.WriteString("<p>" + inline(strings.Join(para, " ")) + "</p>\n")
				para = nil
			}
			if !inList {
				out.WriteString("<ul>\n")
				inList = true
			}
			out.WriteString("<li>" + inline(strings.TrimSpace(trim[2:])) + "</li>\n")
		default:
			if inList {
				flush()
			}
			para = append(para, trim)
		}
	}
	flush()
	return template.HTML(out.String()) //nolint:gosec // every piece is escaped above
}

// inline renders code spans and http(s) links of one block, escaping
// the rest.
func inline(s string) string {
	var out strings.Builder
	for s != "" {
		i := strings.IndexAny(s, "`[")
		if i < 0 {
			out.WriteString(html.EscapeString(s))
			break
		}
		out.WriteString(html.EscapeString(s[:i]))
		s = s[i:]
		if s[0] == '`' {
			if j := strings.IndexByte(s[1:], '`'); j >= 0 {
				out.WriteString("<code>" + html.EscapeString(s[1:1+j]) + "</code>")
				s = s[j+2:]
				continue
			}
		} else if text, href, rest, ok := link(s); ok {
			out.WriteString(`<a rel="nofollow noopener" href="` + html.EscapeString(href) + `">` + html.EscapeString(text) + "</a>")
			s = rest
			continue
		}
		out.WriteString(html.EscapeString(s[:1]))
		s = s[1:]
	}
	return out.String()
}

// link parses [text](url) at the start of s, accepting only absolute
// http and https URLs.
func link(s string) (text, href, rest string, ok bool) {
	j := strings.Index(s, "](")
	if j < 0 || strings.ContainsAny(s[1:j], "[]") {
		return "", "", "", false
	}
	k := strings.IndexByte(s[j+2:], ')')
	if k < 0 {
		return "", "", "", false
	}
	href = s[j+2 : j+2+k]
	u, err := url.Parse(href)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.ContainsAny(href, " \t\"'<>") {
		return "", "", "", false
	}
	return s[1:j], u.String(), s[j+3+k:], true
}
