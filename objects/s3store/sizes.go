package s3store

import (
	"sync"

	"github.com/fed-vcs/fed/objects"
)

// sizeCacheMax bounds the sizes a Store remembers (about 3 MiB of them);
// a full cache starts again empty.
const sizeCacheMax = 1 << 16

// sizeCache remembers the size of the stored forms a Store has seen (a
// HEAD, a GET or its own write), so that StoredInfo right after Has or a
// read — what the server's fetch handlers ask for every object — costs no
// request. A key is written once, so a size seen stays true while the key
// exists; Delete forgets it. Presence is never taken from here: Has always
// asks the service, which another process may have changed.
type sizeCache struct {
	mu sync.Mutex
	m  map[objects.ID]int64
}

func (c *sizeCache) get(id objects.ID) (int64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, ok := c.m[id]
	return n, ok
}

func (c *sizeCache) set(id objects.ID, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= sizeCacheMax {
		c.m = make(map[objects.ID]int64)
	}
	c.m[id] = n
}

func (c *sizeCache) drop(id objects.ID) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}
