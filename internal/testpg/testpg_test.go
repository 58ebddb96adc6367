package testpg

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// psql runs a query through the cluster's TCP port and returns its output.
func psql(c *Cluster, query string) (string, error) {
	out, err := c.run("psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-p", strconv.Itoa(c.port), "-U", "postgres", "-d", "postgres", "-c", query)
	return strings.TrimSpace(string(out)), err
}

func TestStartStopRestart(t *testing.T) {
	c := Start(t)
	if out, err := psql(c, "SELECT 40+2"); err != nil || out != "42" {
		t.Fatalf("query: %q, %v", out, err)
	}
	if out, err := psql(c, "SHOW listen_addresses"); err != nil || out != "127.0.0.1" {
		t.Fatalf("listen_addresses %q, %v", out, err)
	}
	if !strings.HasPrefix(c.URL("x"), "postgres://postgres@127.0.0.1:"+strconv.Itoa(c.Port())+"/x") {
		t.Errorf("URL %s", c.URL("x"))
	}
	c.CreateDB(t, "second")
	if _, err := psql(c, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	c.Stop(t)
	if conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(c.Port())); err == nil {
		conn.Close()
		t.Fatal("the port still accepts connections after Stop")
	}
	c.Restart(t)
	if out, err := psql(c, "SELECT v FROM kept"); err != nil || out != "7" {
		t.Fatalf("after restart: %q, %v", out, err)
	}
}

// The helper process starts a cluster, prints its port and data
// directory, and waits to be killed.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("FED_TESTPG_HELPER") != "1" {
		t.Skip("run by TestWatchdogStopsOrphan")
	}
	c := Start(t)
	DB(t)
	os.Stdout.WriteString(strconv.Itoa(c.Port()) + " " + c.data + " " + shared.c.dir + "\n")
	time.Sleep(time.Hour)
}

func TestWatchdogStopsOrphan(t *testing.T) {
	if Bin() == "" {
		t.Skip("skipping: PostgreSQL is not installed")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "FED_TESTPG_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var port, data, sharedDir string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && filepath.IsAbs(f[1]) {
			port, data, sharedDir = f[0], f[1], f[2]
			break
		}
	}
	if port == "" {
		t.Fatal("helper printed no port")
	}
	t.Cleanup(func() { os.RemoveAll(filepath.Dir(filepath.Dir(data))) })
	if conn, err := net.Dial("tcp", "127.0.0.1:"+port); err != nil {
		t.Fatalf("helper's cluster is not listening: %v", err)
	} else {
		conn.Close()
	}
	cmd.Process.Kill() // no cleanup runs in the helper
	cmd.Wait()
	// The watchdog stops the orphaned server; wait for it (not a timing
	// assertion: the bound only keeps a broken watchdog from hanging).
	for i := 0; ; i++ {
		_, err := os.Stat(filepath.Join(data, "postmaster.pid"))
		if os.IsNotExist(err) {
			break
		}
		if i == 600 {
			t.Fatal("the cluster of a killed test process still runs after 60 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The shared cluster is stopped and its directory removed.
	for i := 0; ; i++ {
		_, err := os.Stat(sharedDir)
		if os.IsNotExist(err) {
			break
		}
		if i == 600 {
			t.Fatalf("the shared cluster's directory %s is still there 60 s after its process died", sharedDir)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestSharedDatabases(t *testing.T) {
	a, b := DB(t), DB(t)
	if a == b {
		t.Fatalf("two databases at one URL %s", a)
	}
	c := shared.c
	q := func(url, query string) (string, error) {
		db := url[strings.LastIndex(url, "/")+1 : strings.Index(url, "?")]
		out, err := c.run("psql", "-X", "-A", "-t", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(c.port), "-U", "postgres", "-d", db, "-c", query)
		return strings.TrimSpace(string(out)), err
	}
	if out, err := q(a, "CREATE TABLE t (v int); INSERT INTO t VALUES (5); SELECT v FROM t"); err != nil || out != "5" {
		t.Fatalf("first database: %q, %v", out, err)
	}
	if out, err := q(b, "SELECT count(*) FROM pg_tables WHERE tablename = 't'"); err != nil || out != "0" {
		t.Fatalf("the second database sees the first's table: %q, %v", out, err)
	}
}
