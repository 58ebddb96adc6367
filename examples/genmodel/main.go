// Command genmodel writes deterministic F32 safetensors models for demos
// and benchmarks, and derives follow-up versions from them.
//
//	genmodel -o model.safetensors -size 64MiB -tensors 40 -seed 1
//	genmodel -o v2.safetensors -from v1.safetensors -nudge 0.005 -seed 2      (every weight nudged)
//	genmodel -o v3.safetensors -from v1.safetensors -change 2 -seed 3         (2 tensors rewritten)
//	genmodel -o v4.safetensors -from v1.safetensors -nudge 0.01 -every 64 -seed 4 (one weight in 64 nudged)
//	genmodel -o many.safetensors -size 128MiB -tensors 2000 -mix               (transformer-like sizes)
//
// With -mix the sizes are those of a transformer's layers rather than
// equal: of every 8 tensors, 4 are small vectors (norm weights and biases,
// biases of the projections: 1,024 values, 4 KiB each) and 4 are matrices
// (the attention's query, key, value and output projections, 1 share
// each, share the rest of the size with the MLP's two, 4 shares each: 2 of
// the 4 slots of every second group are MLP matrices), all 256 wide. Half
// the tensors are then tiny, as in real checkpoints.
//
// Values are Gaussian with standard deviation 0.02 from a PCG generator
// seeded with -seed, so every run writes the same bytes.
package main

import (
	"bufio"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fed-vcs/fed/codec"
	"github.com/fed-vcs/fed/codec/safetensors"
	"github.com/fed-vcs/fed/objects"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "genmodel:", err)
		os.Exit(1)
	}
}

func parseSize(s string) (int64, error) {
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		m      int64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.m
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q", s)
	}
	return n * mult, nil
}

// gen streams n float32 values drawn from r.
type gen struct {
	r *rand.Rand
	n int64
}

func (g *gen) Read(p []byte) (int, error) {
	if g.n == 0 {
		return 0, io.EOF
	}
	k := int64(len(p) / 4)
	if k == 0 {
		return 0, io.ErrShortBuffer
	}
	if k > g.n {
		k = g.n
	}
	for i := int64(0); i < k; i++ {
		binary.LittleEndian.PutUint32(p[4*i:], math.Float32bits(float32(g.r.NormFloat64()*0.02)))
	}
	g.n -= k
	return int(4 * k), nil
}

// transform streams a source tensor, changing each value with f (every
// value when every is 0 or 1, else the values at indexes ≡ at mod every).
type transform struct {
	src   io.Reader
	f     func(float32) float32
	every int64
	at    int64
	i     int64 // index of the next value
}

func (t *transform) Read(p []byte) (int, error) {
	p = p[:len(p)/4*4]
	n, err := io.ReadFull(t.src, p)
	if err == io.ErrUnexpectedEOF {
		err = nil
	}
	for i := 0; i+4 <= n; i += 4 {
		if t.every <= 1 || t.i%t.every == t.at {
			v := math.Float32frombits(binary.LittleEndian.Uint32(p[i:]))
			binary.LittleEndian.PutUint32(p[i:], math.Float32bits(t.f(v)))
		}
		t.i++
	}
	if n == 0 && err == nil {
		err = io.EOF
	}
	return n, err
}

func run(args []string) error {
	fs := flag.NewFlagSet("genmodel", flag.ContinueOnError)
	out := fs.String("o", "", "output file (may be the -from file: it is replaced when the new one is complete)")
	size := fs.String("size", "64MiB", "total size of the tensors (new models)")
	ntensors := fs.Int("tensors", 40, "number of tensors (new models)")
	seed := fs.Uint64("seed", 1, "random seed")
	from := fs.String("from", "", "derive from this model instead of generating")
	nudge := fs.Float64("nudge", 0, "with -from: multiply every weight by 1+u, u uniform in ±nudge")
	change := fs.Int("change", 0, "with -from: rewrite this many tensors with fresh values")
	every := fs.Int64("every", 1, "with -nudge: nudge one weight in this many (at an offset drawn from -seed): small deltas, for many-sided benchmarks")
	mix := fs.Bool("mix", false, "new models: a transformer's size mix (half the tensors 4 KiB vectors) instead of equal sizes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("-o is required")
	}
	r := rand.New(rand.NewPCG(*seed, 0x6665640a))
	if *every < 1 {
		return fmt.Errorf("-every %d: want at least 1", *every)
	}
	at := int64(0)
	if *every > 1 {
		at = r.Int64N(*every)
	}
	var tensors []safetensors.WriteTensor
	if *from == "" {
		total, err := parseSize(*size)
		if err != nil {
			return err
		}
		for i, shape := range shapes(total, *ntensors, *mix) {
			n := uint64(1)
			for _, d := range shape {
				n *= d
			}
			name := fmt.Sprintf("layers.%02d.weight", i)
			if len(shape) == 1 {
				name = fmt.Sprintf("layers.%02d.bias", i)
			}
			tensors = append(tensors, safetensors.WriteTensor{
				Info: codec.TensorInfo{Name: name, DType: objects.F32, Shape: shape},
				Data: &gen{r: rand.New(rand.NewPCG(*seed, uint64(i))), n: int64(n)},
				Len:  int64(n) * 4,
			})
		}
	} else {
		f, err := os.Open(*from)
		if err != nil {
			return err
		}
		defer f.Close()
		fi, _ := f.Stat()
		layout, hdr, err := safetensors.Parse(f, fi.Size(), *from)
		if err != nil {
			return err
		}
		k := 0
		for _, seg := range layout.Segments {
			if seg.Tensor == nil {
				continue
			}
			var data io.Reader = io.NewSectionReader(f, seg.Offset, seg.Length)
			switch {
			case *change > 0 && k < *change:
				data = &gen{r: rand.New(rand.NewPCG(*seed, uint64(k)+1000)), n: seg.Length / 4}
			case *nudge > 0:
				data = &transform{src: data, f: func(v float32) float32 { return v * float32(1+*nudge*(2*r.Float64()-1)) }, every: *every, at: at}
			}
			if seg.Tensor.DType == objects.F32 {
				k++
			}
			tensors = append(tensors, safetensors.WriteTensor{Info: *seg.Tensor, Data: data, Len: seg.Length})
		}
		_ = hdr
	}
	// Written beside the output and renamed over it when complete: -o may
	// name the -from file, which is read while the new one is written
	// (os.Create would truncate it first), and an interrupted run leaves
	// the old file whole.
	f, err := os.CreateTemp(filepath.Dir(*out), ".genmodel-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	w := bufio.NewWriterSize(f, 1<<20)
	if err := safetensors.Write(w, map[string]string{"format": "pt"}, tensors); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, *out); err != nil {
		return err
	}
	ok = true
	return nil
}

// shapes returns the shapes of n F32 tensors of about total bytes: equal
// matrices 256 wide, or with mix a transformer's mix (see the command's
// doc): 1,024-value vectors in slots 0-3 of every 8, matrices in slots 4-7
// sized by shares (attention 1, MLP 4).
func shapes(total int64, n int, mix bool) [][]uint64 {
	var out [][]uint64
	if !mix {
		per := total / int64(n) / 4
		for range n {
			out = append(out, []uint64{uint64(per / 256), 256})
		}
		return out
	}
	const vec = 1024
	share := func(i int) int64 {
		if i%8 < 4 {
			return 0
		}
		if (i/8)%2 == 1 && i%8 >= 6 {
			return 4 // MLP
		}
		return 1 // attention
	}
	var shares, vecs int64
	for i := range n {
		if s := share(i); s == 0 {
			vecs++
		} else {
			shares += s
		}
	}
	rest := total/4 - vecs*vec // values left for the matrices
	left, last := rest/256, -1 // rows left; the last matrix takes the remainder
	for i := range n {
		s := share(i)
		if s == 0 || shares == 0 || rest <= 0 {
			out = append(out, []uint64{vec})
			continue
		}
		rows := max(1, rest*s/shares/256)
		left -= rows
		last = i
		out = append(out, []uint64{uint64(rows), 256})
	}
	if last >= 0 && left > 0 {
		out[last][0] += uint64(left)
	}
	return out
}
