package remote

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestCodesDocumented checks that every problem code the package knows is
// in the problem schema's enum and in doc/protocol.md's table of codes, and
// that the schema lists no code the package does not know.
func TestCodesDocumented(t *testing.T) {
	sb, err := os.ReadFile("../doc/schemas/problem.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties struct {
			Code struct {
				Enum []string `json:"enum"`
			} `json:"code"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(sb, &schema); err != nil {
		t.Fatal(err)
	}
	enum := schema.Properties.Code.Enum
	if len(enum) == 0 {
		t.Fatal("problem.schema.json: no enum of codes found")
	}
	doc, err := os.ReadFile("../doc/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	for code := range titles {
		if !slices.Contains(enum, code) {
			t.Errorf("code %q is not in problem.schema.json", code)
		}
		if !strings.Contains(string(doc), "`"+code+"`") {
			t.Errorf("code %q is not in doc/protocol.md", code)
		}
	}
	for _, code := range enum {
		if _, ok := titles[code]; !ok {
			t.Errorf("problem.schema.json lists %q, which package remote does not know", code)
		}
	}
}
