package repo

import (
	"bytes"
	"testing"

	"github.com/fed-vcs/fed/objects"
)

// FuzzDecodeIndex: the index decoder never panics, and what it accepts
// encodes back to the same bytes.
func FuzzDecodeIndex(f *testing.F) {
	f.Add(encodeIndex(&Index{}))
	f.Add(encodeIndex(&Index{Entries: []IndexEntry{
		{Path: "a.safetensors", Mode: objects.ModeFile, Kind: objects.KindModel, ID: objects.ID{1}, Size: 10, MTime: 5, CTime: 6, Ino: 7},
		{Path: "d/b.txt", Mode: objects.ModeExec, Kind: objects.KindBlob, Stage: 2, ID: objects.ID{2}},
	}}))
	f.Add([]byte("FIDX"))
	f.Fuzz(func(t *testing.T, b []byte) {
		idx, err := decodeIndex(b)
		if err != nil {
			return
		}
		if again := encodeIndex(idx); !bytes.Equal(again, b) {
			t.Fatalf("accepted index re-encodes differently")
		}
	})
}
