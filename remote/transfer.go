package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/fed-vcs/fed/objects"
)

// SendStats counts what a SendMissing moved.
type SendStats struct {
	Asked   int   // ids asked about
	Missing int   // ids the server lacked
	Objects int   // objects uploaded (a retried batch counts again)
	Bytes   int64 // payload bytes uploaded
}

// SendMissing asks the server which of ids it lacks and uploads those
// from src, in batches of about BatchBytes on Streams parallel requests.
// A delta goes as a delta only when the server holds its base; otherwise
// self-contained. A batch cut off by a broken connection is resumed by
// asking again which of its objects are missing. Objects go in no
// particular order: the server accepts refs only once everything they
// reach is there.
func (c *Client) SendMissing(ctx context.Context, src *objects.DiskStore, ids []objects.ID) (SendStats, error) {
	st := SendStats{Asked: len(ids)}
	missing, err := c.Missing(ctx, ids)
	if err != nil {
		return st, err
	}
	st.Missing = len(missing)
	if len(missing) == 0 {
		return st, nil
	}
	asked := make(map[objects.ID]bool, len(ids))
	for _, id := range ids {
		asked[id] = true
	}
	isMissing := make(map[objects.ID]bool, len(missing))
	for _, id := range missing {
		isMissing[id] = true
	}
	// Sizes and delta bases; ask about bases the first query did not cover.
	infos := make(map[objects.ID]objects.StoredInfo, len(missing))
	var unknownBases []objects.ID
	for _, id := range missing {
		info, err := src.StoredInfo(ctx, id)
		if err != nil {
			return st, fmt.Errorf("push: %w", err)
		}
		infos[id] = info
		if !info.Base.IsZero() && !asked[info.Base] {
			asked[info.Base] = true
			unknownBases = append(unknownBases, info.Base)
		}
	}
	if len(unknownBases) > 0 {
		more, err := c.Missing(ctx, unknownBases)
		if err != nil {
			return st, err
		}
		for _, id := range more {
			isMissing[id] = true
		}
	}
	// A base the server held before this push: deltas against it are fine.
	baseOK := func(b objects.ID) bool { return asked[b] && !isMissing[b] }

	batches := planBatches(missing, func(id objects.ID) int64 { return infos[id].Size }, c.opts.BatchBytes)
	var total int64
	for _, id := range missing {
		total += infos[id].Size
	}
	c.opts.Progress.Start("upload", total, "B")
	defer c.opts.Progress.Done()
	var mu sync.Mutex
	err = c.parallel(ctx, len(batches), func(ctx context.Context, i int) error {
		n, b, err := c.uploadBatch(ctx, src, batches[i], baseOK)
		mu.Lock()
		st.Objects += n
		st.Bytes += b
		mu.Unlock()
		return err
	})
	return st, err
}

// planBatches groups ids into batches of at most limit bytes (one object
// per batch when it alone exceeds the limit), largest first so parallel
// streams finish together.
func planBatches(ids []objects.ID, size func(objects.ID) int64, limit int64) [][]objects.ID {
	sorted := append([]objects.ID(nil), ids...)
	sort.SliceStable(sorted, func(i, j int) bool { return size(sorted[i]) > size(sorted[j]) })
	var out [][]objects.ID
	var cur []objects.ID
	var curBytes int64
	for _, id := range sorted {
		s := size(id)
		if len(cur) > 0 && (curBytes+s > limit || len(cur) >= MaxBatch) {
			out = append(out, cur)
			cur, curBytes = nil, 0
		}
		cur = append(cur, id)
		curBytes += s
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// parallel runs fn for 0..n-1 on at most Streams goroutines and returns
// the first error (cancelling the rest).
func (c *Client) parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
		next     int
	)
	for w := 0; w < min(c.opts.Streams, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				if firstErr != nil || next >= n {
					mu.Unlock()
					return
				}
				i := next
				next++
				mu.Unlock()
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
						cancel()
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

// uploadBatch uploads one batch; a retry first asks which of the batch's
// objects are still missing.
func (c *Client) uploadBatch(ctx context.Context, src *objects.DiskStore, batch []objects.ID, baseOK func(objects.ID) bool) (int, int64, error) {
	var count, bytes atomic.Int64
	body := func(attempt int) (io.Reader, error) {
		todo := batch
		if attempt > 0 {
			m, err := c.Missing(ctx, batch)
			if err != nil {
				return nil, err
			}
			todo = m
		}
		pr, pw := io.Pipe()
		go func() {
			fw := NewFrameWriter(pw)
			for _, id := range todo {
				b, err := src.GetStored(ctx, id, baseOK)
				if err != nil {
					pw.CloseWithError(fmt.Errorf("push: %w", err))
					return
				}
				if err := fw.WriteFrame(id, FormStored, b); err != nil {
					pw.CloseWithError(err)
					return
				}
				c.opts.Progress.Add(int64(len(b)))
				count.Add(1)
				bytes.Add(int64(len(b)))
			}
			pw.CloseWithError(fw.Close())
		}()
		return pr, nil
	}
	resp, err := c.do(ctx, request{method: http.MethodPost, path: c.repoPath("objects"), body: body, contentType: MediaObjects, auth: true})
	if err != nil {
		return int(count.Load()), bytes.Load(), err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return int(count.Load()), bytes.Load(), nil
}

// FetchStats counts what a FetchObjects moved.
type FetchStats struct {
	Planned int   // objects in the plan
	Have    int   // of those, already present locally
	Objects int   // objects downloaded
	Bytes   int64 // payload bytes downloaded
}

// FetchObjects downloads the objects of plan that dst lacks, verifying
// every one (PutStored), in batches on parallel streams; objects of at
// least LargeObject bytes come by ranged GETs that resume where a broken
// transfer stopped. A delta comes as a delta when dst already holds its
// base.
func (c *Client) FetchObjects(ctx context.Context, dst *objects.DiskStore, plan *Plan) (FetchStats, error) {
	return c.FetchObjectsFunc(ctx, dst, plan, nil)
}

// FetchObjectsFunc is FetchObjects calling fn, when not nil, with the id
// and verified canonical bytes of every object it stores (concurrently,
// from several goroutines; fn must not keep the bytes). A checkout uses
// it to write files while they arrive.
func (c *Client) FetchObjectsFunc(ctx context.Context, dst *objects.DiskStore, plan *Plan, fn func(id objects.ID, obj []byte)) (FetchStats, error) {
	st := FetchStats{Planned: len(plan.Objects)}
	sizes := make(map[objects.ID]int64, len(plan.Objects))
	var todo []objects.ID
	var total int64
	for _, o := range plan.Objects {
		ok, err := dst.Has(ctx, o.ID)
		if err != nil {
			return st, err
		}
		if ok {
			st.Have++
			continue
		}
		if _, dup := sizes[o.ID]; dup {
			continue
		}
		sizes[o.ID] = o.Size
		todo = append(todo, o.ID)
		total += o.Size
	}
	var haveBases []objects.ID
	seenBase := map[objects.ID]bool{}
	for _, o := range plan.Objects {
		if o.Base == nil || seenBase[*o.Base] {
			continue
		}
		seenBase[*o.Base] = true
		if _, coming := sizes[*o.Base]; coming {
			continue // arrives in this fetch, maybe after its children
		}
		if ok, _ := dst.Has(ctx, *o.Base); ok {
			haveBases = append(haveBases, *o.Base)
		}
	}
	var small, large []objects.ID
	for _, id := range todo {
		if sizes[id] >= c.opts.LargeObject {
			large = append(large, id)
		} else {
			small = append(small, id)
		}
	}
	batches := planBatches(small, func(id objects.ID) int64 { return sizes[id] }, c.opts.BatchBytes)
	c.opts.Progress.Start("download", total, "B")
	defer c.opts.Progress.Done()
	// Received objects are decoded, hashed and written by at most one
	// goroutine per CPU and one more (for one blocked writing), shared
	// by all streams: the work is CPU-bound, and each object in work holds
	// a few MiB of buffers; more of them only multiplied the memory and
	// its page faults (a 512 MiB clone: 16 in work, 41,000 faults, 200 MB
	// peak RSS; 3, 17,500 and 100 MB).
	work := make(chan struct{}, runtime.GOMAXPROCS(0)+1)
	var mu sync.Mutex
	add := func(n int, b int64) {
		mu.Lock()
		st.Objects += n
		st.Bytes += b
		mu.Unlock()
	}
	err := c.parallel(ctx, len(batches)+len(large), func(ctx context.Context, i int) error {
		if i < len(large) {
			b, err := c.fetchLarge(ctx, dst, large[i], work, fn)
			if err == nil {
				add(1, b)
			}
			return err
		}
		n, b, err := c.downloadBatch(ctx, dst, batches[i-len(large)], haveBases, work, fn)
		add(n, b)
		return err
	})
	return st, err
}

// downloadBatch downloads ids, storing each frame as it arrives (on a
// goroutine holding a slot of work); after a broken stream it asks again
// for the ids not yet stored.
func (c *Client) downloadBatch(ctx context.Context, dst *objects.DiskStore, ids []objects.ID, haveBases []objects.ID, sem chan struct{}, fn func(objects.ID, []byte)) (int, int64, error) {
	want := make(map[objects.ID]bool, len(ids)) // true: not yet stored
	for _, id := range ids {
		want[id] = true
	}
	var (
		mu    sync.Mutex
		count int
		bytes int64
	)
	for attempt := 0; ; attempt++ {
		var rest []objects.ID
		for _, id := range ids {
			if want[id] {
				rest = append(rest, id)
			}
		}
		if len(rest) == 0 {
			return count, bytes, nil
		}
		resp, err := c.do(ctx, request{method: http.MethodPost, path: c.repoPath("objects/download"),
			body: jsonBody(DownloadRequest{IDs: rest, HaveBases: haveBases}), contentType: MediaJSON, auth: true})
		if err != nil {
			return count, bytes, err
		}
		// Frames are verified and written by a few goroutines while the
		// next ones arrive.
		var (
			wg       sync.WaitGroup
			firstErr error
			sent     = map[objects.ID]bool{}
		)
		fail := func(err error) {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
		truncated := false
		fr := NewFrameReader(resp.Body, objects.MaxObjectSize+1<<20)
		for {
			f, err := fr.Next(func(n int) ([]byte, error) { return PayloadBuffer(n), nil })
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				truncated = errors.Is(err, ErrTruncated)
				fail(fmt.Errorf("download: %w", err))
				break
			}
			mu.Lock()
			asked := want[f.ID]
			mu.Unlock()
			if !asked || sent[f.ID] {
				fail(fmt.Errorf("download: %w: the server sent object %s, which was not asked for", ErrBadFrame, f.ID.Short()))
				break
			}
			sent[f.ID] = true
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { ReleasePayload(f.Payload); <-sem; wg.Done() }()
				if err := storeFrame(ctx, dst, f, fn); err != nil {
					fail(fmt.Errorf("download: %w", err))
					return
				}
				mu.Lock()
				want[f.ID] = false
				count++
				bytes += int64(len(f.Payload))
				mu.Unlock()
				c.opts.Progress.Add(int64(len(f.Payload)))
			}()
		}
		resp.Body.Close()
		wg.Wait()
		if firstErr != nil {
			if truncated && attempt < c.opts.MaxRetries && ctx.Err() == nil {
				continue // ask again for what is still missing
			}
			return count, bytes, firstErr
		}
		for _, id := range rest {
			if want[id] {
				return count, bytes, fmt.Errorf("download: %w: object %s missing from the stream", ErrBadFrame, id.Short())
			}
		}
		return count, bytes, nil
	}
}

// storeFrame verifies and stores one received frame.
func storeFrame(ctx context.Context, dst *objects.DiskStore, f Frame, fn func(objects.ID, []byte)) error {
	switch f.Form {
	case FormStored:
		var cb func([]byte)
		if fn != nil {
			cb = func(obj []byte) { fn(f.ID, obj) }
		}
		_, err := dst.PutStoredFunc(ctx, f.ID, f.Payload, cb)
		return err
	default:
		if got := objects.Sum(f.Payload); got != f.ID {
			return fmt.Errorf("%w: sent as %s, hashes to %s", objects.ErrMismatch, f.ID, got)
		}
		if _, err := dst.Put(ctx, f.Payload, objects.PutOptions{}); err != nil {
			return err
		}
		if fn != nil {
			fn(f.ID, f.Payload)
		}
		return nil
	}
}

// fetchLarge downloads one object by ranged GETs, resuming after a broken
// connection at the byte where it stopped.
func (c *Client) fetchLarge(ctx context.Context, dst *objects.DiskStore, id objects.ID, sem chan struct{}, fn func(objects.ID, []byte)) (int64, error) {
	var buf []byte
	for attempt := 0; ; attempt++ {
		n, err := c.GetObject(ctx, id, int64(len(buf)), writerFunc(func(p []byte) (int, error) {
			buf = append(buf, p...)
			c.opts.Progress.Add(int64(len(p)))
			return len(p), nil
		}))
		_ = n
		if err == nil {
			break
		}
		if attempt >= c.opts.MaxRetries || ctx.Err() != nil || !retryable(err) {
			return 0, err
		}
	}
	var cb func([]byte)
	if fn != nil {
		cb = func(obj []byte) { fn(id, obj) }
	}
	sem <- struct{}{}
	_, err := dst.PutStoredFunc(ctx, id, buf, cb)
	<-sem
	if err != nil {
		return 0, fmt.Errorf("download: %w", err)
	}
	return int64(len(buf)), nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// GetObject writes the self-contained stored form of id from byte offset
// on to w and returns how many bytes it wrote. A broken connection gives
// a retryable error after the bytes received so far were written.
func (c *Client) GetObject(ctx context.Context, id objects.ID, offset int64, w io.Writer) (int64, error) {
	// Ranges need a plain request: do() would retry from the start.
	var token string
	if c.opts.Key != nil {
		var err error
		if token, err = c.ensureToken(ctx); err != nil {
			return 0, err
		}
	}
	u := *c.base
	u.Path = c.repoPath("objects/" + id.String())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set(VersionHeader, strconv.Itoa(Version))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if offset > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	resp, err := c.opts.HTTPClient.Do(req)
	if err != nil {
		return 0, &netError{fmt.Errorf("remote: get object %s: %w", id.Short(), err)}
	}
	defer resp.Body.Close()
	if resp.Header.Get(VersionHeader) != strconv.Itoa(Version) {
		return 0, versionError(resp.Header.Get(VersionHeader))
	}
	switch {
	case offset > 0 && resp.StatusCode == http.StatusPartialContent:
	case offset == 0 && resp.StatusCode == http.StatusOK:
	default:
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		p := &Problem{}
		if err := unmarshalProblem(b, p); err != nil {
			p = &Problem{Code: "http-" + strconv.Itoa(resp.StatusCode)}
		}
		p.Status = resp.StatusCode
		return 0, p
	}
	n, err := io.Copy(w, &countingReader{r: resp.Body, n: &c.received})
	if err != nil {
		return n, &netError{fmt.Errorf("remote: get object %s: %w", id.Short(), err)}
	}
	return n, nil
}

func unmarshalProblem(b []byte, p *Problem) error {
	v, err := UnmarshalJSON[Problem](b)
	if err != nil {
		return err
	}
	*p = *v
	return nil
}
