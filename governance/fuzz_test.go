package governance

import (
	"bytes"
	"testing"

	"github.com/fed-vcs/fed/objects"
)

// FuzzParse: whatever commit bytes it is given, Parse either refuses them
// or returns a record whose commit encodes to exactly those bytes.
func FuzzParse(f *testing.F) {
	k := key(f, 9)
	for _, r := range samples(f) {
		f.Add(sign(f, r, k))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := objects.Decode(b)
		if err != nil {
			return
		}
		c, ok := o.(*objects.Commit)
		if !ok {
			return
		}
		r, err := Parse(objects.Sum(b), c)
		if err != nil {
			return
		}
		again, err := objects.Encode(r.Build())
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%s parsed but rebuilds differently (%v)", r.Kind(), err)
		}
		if r.head().ID != objects.Sum(b) {
			t.Fatalf("id %s", r.head().ID)
		}
	})
}
