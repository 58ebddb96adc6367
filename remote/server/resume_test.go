package server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fed-vcs/fed/objects"
	"github.com/fed-vcs/fed/refs"
	"github.com/fed-vcs/fed/remote"
	"github.com/fed-vcs/fed/remote/server"
)

// TestMain doubles as a fed server process for the crash test.
func TestMain(m *testing.M) {
	if root := os.Getenv("FED_TEST_SERVE_ROOT"); root != "" {
		err := server.Serve(context.Background(), server.Options{Root: root, Addr: "127.0.0.1:0"}, func(a net.Addr) {
			fmt.Println(a.String())
		})
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// cutListener breaks every connection once the bytes read from all of
// them exceed limit, while cutting is on: a network that dies mid-push.
type cutListener struct {
	net.Listener
	read  atomic.Int64
	limit atomic.Int64 // 0: never cut
}

func (l *cutListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &cutConn{Conn: c, l: l}, nil
}

type cutConn struct {
	net.Conn
	l *cutListener
}

func (c *cutConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	total := c.l.read.Add(int64(n))
	if lim := c.l.limit.Load(); lim > 0 && total > lim {
		c.Conn.Close()
		return 0, errors.New("cut")
	}
	return n, err
}

func fsckServerRepo(t *testing.T, root, name string) *objects.FsckReport {
	t.Helper()
	ctx := context.Background()
	dir := root + "/" + name + ".fed"
	st, err := objects.OpenDisk(dir + "/objects")
	if err != nil {
		t.Fatal(err)
	}
	rs, err := refs.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	all, err := rs.List("refs/")
	if err != nil {
		t.Fatal(err)
	}
	var roots []objects.ID
	for _, r := range all {
		roots = append(roots, r.ID)
	}
	rep, err := objects.Fsck(ctx, st, roots, objects.FsckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 0 {
		t.Fatalf("fsck of %s: %v", name, rep.Problems)
	}
	return rep
}

func TestResumeAfterCut(t *testing.T) {
	ctx := context.Background()
	s, err := server.New(server.Options{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(s)
	cl := &cutListener{Listener: ts.Listener}
	ts.Listener = cl
	ts.Start()
	defer ts.Close()
	key := keyN(1)
	h := newHistory(t, key)
	tip, _, ids := h.commit(objects.ZeroID, 24, 256<<10, 1, nil)
	var total int64
	for _, id := range ids {
		info, _ := h.store.StoredInfo(ctx, id)
		total += info.Size
	}
	url := ts.URL + "/r/cut"
	c := newClient(t, url, key, remote.Options{BatchBytes: 512 << 10, Streams: 2, MaxRetries: 2})
	if _, err := c.Missing(ctx, nil); err != nil { // log in, create nothing
		t.Fatal(err)
	}
	cl.limit.Store(cl.read.Load() + total/2)
	if err := push(ctx, c, h.store, ids, "refs/heads/main", objects.ZeroID, tip, false); err == nil {
		t.Fatal("push over a dying network succeeded")
	}
	cl.limit.Store(0)
	// No ref shows the incomplete commit, and asking for it is refused.
	list, err := c.Refs(ctx)
	if err != nil || len(list.Refs) != 0 {
		t.Fatalf("refs after the cut push: %+v %v", list, err)
	}
	if _, err := c.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", New: tip}}); !errors.Is(err, remote.ErrIncomplete) {
		t.Fatalf("ref update with objects missing: %v", err)
	}
	// Handlers of the cut requests may still be storing the frames they
	// read; wait until the server's answer settles.
	var missing []objects.ID
	for prev := -1; ; {
		missing, err = c.Missing(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(missing) == prev {
			break
		}
		prev = len(missing)
		time.Sleep(100 * time.Millisecond)
	}
	if len(missing) == 0 || len(missing) == len(ids) {
		t.Fatalf("%d of %d objects missing after the cut; want some stored, some not", len(missing), len(ids))
	}
	var missingBytes int64
	for _, id := range missing {
		info, _ := h.store.StoredInfo(ctx, id)
		missingBytes += info.Size
	}
	// The repeated push moves only what is missing.
	before := cl.read.Load()
	st, err := c.SendMissing(ctx, h.store, ids)
	if err != nil {
		t.Fatal(err)
	}
	if st.Missing != len(missing) || st.Objects != len(missing) || st.Bytes != missingBytes {
		t.Fatalf("resumed push %+v; %d objects (%d bytes) were missing", st, len(missing), missingBytes)
	}
	if _, err := c.UpdateRefs(ctx, []remote.RefUpdate{{Name: "refs/heads/main", New: tip}}); err != nil {
		t.Fatal(err)
	}
	moved := cl.read.Load() - before
	if moved > missingBytes+64<<10 {
		t.Errorf("resumed push read %d bytes for %d missing", moved, missingBytes)
	}
	t.Logf("total %d bytes; cut after ~%d; resumed with %d (%d on the wire)", total, total/2, missingBytes, moved)
	fsckServerRepo(t, s.Root(), "r/cut")
}

// TestServerKilledMidPush kills a real server process (SIGKILL) while it
// receives a push, restarts it on the same directory and checks that the
// repository is clean and the push completes.
func TestServerKilledMidPush(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	ctx := context.Background()
	root := t.TempDir()
	start := func() (*exec.Cmd, string) {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "FED_TEST_SERVE_ROOT="+root)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil {
			cmd.Process.Kill()
			t.Fatalf("server did not start: %v", err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		return cmd, "http://" + strings.TrimSpace(line)
	}
	cmd, base := start()
	key := keyN(1)
	h := newHistory(t, key)
	tip, _, ids := h.commit(objects.ZeroID, 80, 256<<10, 1, nil)
	c := newClient(t, base+"/k/m", key, remote.Options{BatchBytes: 1 << 20, MaxRetries: -1})
	done := make(chan error, 1)
	go func() { done <- push(ctx, c, h.store, ids, "refs/heads/main", objects.ZeroID, tip, false) }()
	// Kill it once it has stored a few objects.
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		n := 0
		if shards, err := os.ReadDir(root + "/k/m.fed/objects"); err == nil {
			for _, sh := range shards {
				es, _ := os.ReadDir(root + "/k/m.fed/objects/" + sh.Name())
				for _, e := range es {
					if !strings.HasPrefix(e.Name(), ".tmp-") {
						n++
					}
				}
			}
		}
		if n >= 3 {
			break
		}
		time.Sleep(200 * time.Microsecond)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if err := <-done; err == nil {
		t.Fatal("push to a killed server succeeded")
	}
	_, base = start()
	rep := fsckServerRepo(t, root, "k/m")
	if rep.Objects == 0 || rep.Objects >= len(ids) {
		t.Fatalf("after the kill the server held %d of %d objects: not killed mid-push", rep.Objects, len(ids))
	}
	t.Logf("killed holding %d of %d objects", rep.Objects, len(ids))
	c2 := newClient(t, base+"/k/m", key, remote.Options{})
	if err := push(ctx, c2, h.store, ids, "refs/heads/main", objects.ZeroID, tip, false); err != nil {
		t.Fatal(err)
	}
	rep = fsckServerRepo(t, root, "k/m")
	if rep.Reachable != len(ids) {
		t.Fatalf("after the second push %d objects reachable, want %d", rep.Reachable, len(ids))
	}
}
