package webui

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/repo"
)

// The estimate of a comparison's size, which the cache's bound counts,
// is at least what it holds on the heap: a comparison of 3,000 tensors
// named as real models name them, measured after garbage collection.
func TestChangeSetEstimate(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cs := func() *changeSet {
		var diffs []repo.FileDiff
		for f := range 3 {
			d := repo.FileDiff{Path: fmt.Sprintf("model-%05d-of-00003.safetensors", f+1), Status: 'M', Format: "safetensors"}
			for l := range 1000 {
				for _, n := range []string{"self_attn.q_proj.weight", "input_layernorm.weight"} {
					if (l+f)%3 == 0 || n[0] == 'i' && l%2 == 0 {
						continue
					}
					d.Tensors = append(d.Tensors, repo.TensorDiff{Name: fmt.Sprintf("model.layers.%d.%s", l, n), Status: 'M',
						OldID: objects.Sum([]byte{byte(l)}), NewID: objects.Sum([]byte{byte(f)}), OldDType: objects.F32, NewDType: objects.F32,
						OldShape: []uint64{4096, 4096}, NewShape: []uint64{4096, 4096}})
				}
			}
			diffs = append(diffs, d)
		}
		return newChangeSet(diffs)
	}()
	runtime.GC()
	runtime.ReadMemStats(&after)
	held := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d tensors: %d bytes on the heap, estimated %d", len(cs.rows), held, cs.size)
	if len(cs.rows) < 3000 || held > cs.size {
		t.Errorf("%d tensors hold %d bytes, estimated at %d", len(cs.rows), held, cs.size)
	}
	runtime.KeepAlive(cs)
}

// The cache drops the least recently used comparisons to stay within its
// bound, and keeps none larger than it.
func TestChangeCacheLRU(t *testing.T) {
	c := newChangeCache(250)
	k := func(i byte) changeKey { return changeKey{repo: "r", to: objects.Sum([]byte{i})} }
	sized := func(n int64) *changeSet { return &changeSet{size: n} }
	c.put(k(1), sized(100))
	c.put(k(2), sized(100))
	if c.get(k(1)) == nil { // 1 is now the most recent
		t.Fatal("1 not kept")
	}
	c.put(k(3), sized(100)) // 300 > 250: drops 2
	if c.get(k(2)) != nil || c.get(k(1)) == nil || c.get(k(3)) == nil {
		t.Errorf("after 3: 2 kept or 1, 3 dropped")
	}
	if n, size := c.usage(); n != 2 || size != 200 {
		t.Errorf("usage %d, %d", n, size)
	}
	if got := c.put(k(4), sized(251)); got.size != 251 || c.get(k(4)) != nil {
		t.Errorf("a comparison larger than the cache was kept")
	}
	first := sized(50)
	c.put(k(5), first)
	if got := c.put(k(5), sized(50)); got != first {
		t.Errorf("a second put replaced the kept comparison")
	}
	if n, size := c.usage(); n != 3 || size != 250 {
		t.Errorf("usage %d, %d", n, size)
	}
}
