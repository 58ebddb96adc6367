package codec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

// Not parallel: it empties the registry for its duration.
func TestParseNoParser(t *testing.T) {
	registryMu.Lock()
	saved := registry
	registry = map[string]Parser{}
	registryMu.Unlock()
	t.Cleanup(func() {
		registryMu.Lock()
		registry = saved
		registryMu.Unlock()
	})
	b := append(binary.LittleEndian.AppendUint64(nil, 8), "{}      "...)
	_, err := Parse(bytes.NewReader(b), int64(len(b)), "m.safetensors")
	if !errors.Is(err, ErrNoParser) {
		t.Fatalf("Parse err = %v, want ErrNoParser", err)
	}
}
