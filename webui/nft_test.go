package webui_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/transfer"
	"github.com/fed-vcs/fed/webui"
)

// A repository's NFT metadata document carries what wallets read, with
// absolute links to its card and page; the card is well-formed SVG
// naming the repository; both follow the access rules of the pages.
func TestNFTDocument(t *testing.T) {
	ctx := context.Background()
	base := startServer(t)
	r, merge := fedRound(t)
	if err := r.Refs.Update(refs.Tag("v1.0"), objects.ZeroID, merge, r.Entry("tag")); err != nil {
		t.Fatal(err)
	}
	push(t, r, base+"/lab/model")
	if _, err := transfer.Push(ctx, r, transfer.PushOptions{Tag: "v1.0"}); err != nil {
		t.Fatal(err)
	}

	code, body := get(t, base+"/lab/model/-/nft.json", "", "")
	if code != 200 {
		t.Fatalf("nft.json: %d\n%s", code, body)
	}
	var doc webui.NFTDocument
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatalf("nft.json: %v\n%s", err, body)
	}
	if doc.Name != "lab/model" || doc.Symbol != "FED" || doc.Image != base+"/lab/model/-/card.svg" || doc.ExternalURL != base+"/lab/model" ||
		!strings.Contains(doc.Description, "lab/model") {
		t.Errorf("document: %+v", doc)
	}
	mc, err := r.ReadCommit(ctx, merge)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"commits": 5.0, "contributors": 1.0, "proofs": 0.0, "branch": "main",
		"last merge": time.Unix(mc.Time, 0).UTC().Format(time.RFC3339)}
	got := map[string]any{}
	for _, a := range doc.Attributes {
		got[a.TraitType] = a.Value
	}
	if len(got) != len(want) {
		t.Errorf("attributes %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("attribute %q = %v, want %v", k, got[k], v)
		}
	}

	// the release document of tag v1.0; an absent tag's
	var rel webui.NFTDocument
	code, body = get(t, base+"/lab/model/-/nft/v1.0.json", "", "")
	if err := json.Unmarshal([]byte(body), &rel); code != 200 || err != nil {
		t.Fatalf("release document: %d %v\n%s", code, err, body)
	}
	relAttrs := map[string]any{}
	for _, a := range rel.Attributes {
		relAttrs[a.TraitType] = a.Value
	}
	if rel.Name != "lab/model v1.0" || rel.ExternalURL != base+"/lab/model/-/commit/"+merge.String() ||
		relAttrs["tag"] != "v1.0" || relAttrs["commit"] != merge.String() || relAttrs["tree"] != mc.Tree.String() {
		t.Errorf("release document: %+v", rel)
	}
	if code, _ := get(t, base+"/lab/model/-/nft/v9.json", "", ""); code != 404 {
		t.Errorf("absent tag's document: %d", code)
	}

	// the card: well-formed XML, the repository's name in it
	code, card := get(t, doc.Image, "", "")
	if code != 200 || !strings.HasPrefix(card, "<svg") {
		t.Fatalf("card: %d\n%s", code, card)
	}
	dec := xml.NewDecoder(strings.NewReader(card))
	var names, texts []string
	var inText bool
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("card is not well-formed XML: %v\n%s", err, card)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			inText = x.Name.Local == "text"
			for _, a := range x.Attr {
				if a.Name.Local == "data-name" {
					names = append(names, a.Value)
				}
			}
		case xml.CharData:
			if inText {
				texts = append(texts, string(x))
			}
		case xml.EndElement:
			inText = false
		}
	}
	if len(names) != 1 || names[0] != "lab/model" || !strings.Contains(strings.Join(texts, "|"), "|lab/model|") ||
		!strings.Contains(strings.Join(texts, "|"), "5 commits") {
		t.Errorf("card names %q, says %q", names, texts)
	}

	// a private repository's document and card: refused to anonymous, shown to the owner
	c, err := remote.New(base+"/lab/model", remote.Options{Key: key(1)})
	if err != nil {
		t.Fatal(err)
	}
	private := false
	if _, err := c.UpdateSettings(ctx, remote.SettingsUpdate{Public: &private}); err != nil {
		t.Fatal(err)
	}
	owner := login(t, base, key(1))
	for _, page := range []string{"/lab/model/-/nft.json", "/lab/model/-/nft/v1.0.json", "/lab/model/-/card.svg"} {
		if code, body := get(t, base+page, "", ""); code != 401 || strings.Contains(body, "commits") {
			t.Errorf("anonymous %s of a private repository: %d\n%s", page, code, body)
		}
		if code, _ := get(t, base+page, owner, ""); code != 200 {
			t.Errorf("owner's %s: %d", page, code)
		}
	}
}
