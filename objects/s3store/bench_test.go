package s3store_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/fed-vcs/fed/internal/s3test"
	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/objects/objectstest"
	"github.com/fed-vcs/fed/objects/s3store"
)

// BenchmarkStores puts and gets 4 MiB tensor pieces (float32 weights,
// element size 4) in a disk store and in an S3 store on a local
// versitygw, with 2 goroutines per core, as the server's push and fetch
// handlers move them. Run: go test ./objects/s3store -run - -bench Stores
func BenchmarkStores(b *testing.B) {
	srv := s3test.Start(b)
	const piece = 4 << 20
	ctx := context.Background()
	weights := objectstest.Floats(piece/4, 1)
	// distinct returns the ith distinct piece.
	distinct := func(i uint64) []byte {
		obj := objects.EncodeChunk(weights)
		binary.LittleEndian.PutUint64(obj[objects.HeaderSize:], i)
		return obj
	}
	open := map[string]func(b *testing.B, n int) objects.Store{
		"disk": func(b *testing.B, _ int) objects.Store {
			s, err := objects.OpenDisk(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
		"s3": func(b *testing.B, n int) objects.Store {
			s, err := s3store.Open(srv.Bucket(b, "bench", fmt.Sprintf("%s/%d", b.Name(), n)))
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
	}
	for _, name := range []string{"disk", "s3"} {
		b.Run(name+"/put", func(b *testing.B) {
			st := open[name](b, b.N)
			var next atomic.Uint64
			b.SetBytes(piece)
			b.SetParallelism(2)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := st.Put(ctx, distinct(next.Add(1)), objects.PutOptions{ElemSize: 4}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		b.Run(name+"/get", func(b *testing.B) {
			st := open[name](b, b.N)
			ids := make([]objects.ID, 8)
			for i := range ids {
				id, err := st.Put(ctx, distinct(uint64(i)), objects.PutOptions{ElemSize: 4})
				if err != nil {
					b.Fatal(err)
				}
				ids[i] = id
			}
			var next atomic.Uint64
			b.SetBytes(piece)
			b.SetParallelism(2)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := st.Get(ctx, ids[next.Add(1)%uint64(len(ids))]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
