//go:build unix

package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The files of deploy/ are checked here: the systemd unit by systemd's
// own verifier, and the command lines of the unit and of the container
// image by running them (paths moved to a temporary directory, port 0).
// The image itself is built only where a container engine answers.

// buildFed builds fed from this tree, statically as the image does.
func buildFed(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "fed")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runServer starts bin with args plus --addr-file, waits for its address,
// checks /healthz, /readyz and the protocol's info over scheme, then stops it with SIGTERM and
// returns its stderr.
func runServer(t *testing.T, bin, scheme string, client *http.Client, args []string) string {
	t.Helper()
	dir := t.TempDir()
	addrFile := filepath.Join(dir, "addr")
	cmd := exec.Command(bin, append(args, "--addr-file", addrFile)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	cmd.Env = append(os.Environ(), "HOME="+dir, "FED_ZK_CACHE="+filepath.Join(dir, "zk"))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var addr string
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if b, err := os.ReadFile(addrFile); err == nil && strings.HasSuffix(string(b), "\n") {
			addr = strings.TrimSpace(string(b))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v: no address after 20s\n%s", args, stderr.String())
		}
	}
	_, port, _ := strings.Cut(addr[strings.LastIndex(addr, ":"):], ":")
	for _, path := range []string{"/healthz", "/readyz", "/fed/v1/info"} {
		resp, err := client.Get(scheme + "://127.0.0.1:" + port + path)
		if err != nil {
			t.Fatalf("%v: %s: %v", args, path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%v: %s: %d", args, path, resp.StatusCode)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("%v after SIGTERM: %v\n%s", args, err, stderr.String())
	}
	return stderr.String()
}

func TestSystemdUnit(t *testing.T) {
	b, err := os.ReadFile("../../deploy/fed-serve.service")
	if err != nil {
		t.Fatal(err)
	}
	unit := string(b)
	m := regexp.MustCompile(`(?m)^ExecStart=(\S+) (.*)$`).FindStringSubmatch(unit)
	if m == nil || m[1] != "/usr/local/bin/fed" {
		t.Fatalf("unit's ExecStart: %q", m)
	}
	for _, want := range []string{"NoNewPrivileges=yes", "ProtectSystem=strict", "ReadWritePaths=/var/lib/fed", "User=fed", "ExecReload=/bin/kill -HUP $MAINPID", "KillSignal=SIGTERM"} {
		if !strings.Contains(unit, "\n"+want) {
			t.Errorf("unit lacks %s", want)
		}
	}
	if testing.Short() {
		t.Skip("-short")
	}
	bin := buildFed(t)

	// systemd's verifier, with ExecStart naming the binary just built.
	if sa, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze is not installed: the unit is not verified by systemd")
	} else {
		dir := t.TempDir()
		p := filepath.Join(dir, "fed-serve.service")
		if err := os.WriteFile(p, []byte(strings.Replace(unit, "ExecStart=/usr/local/bin/fed", "ExecStart="+bin, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(sa, "verify", p).CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("systemd-analyze verify: %v\n%s", err, out)
		}
	}

	// The unit's command line runs: its paths in a temporary directory.
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	pool := writeTestCert(t, cert, key)
	args := strings.Fields(m[2])
	for i, a := range args {
		switch a {
		case "/var/lib/fed/repos":
			args[i] = filepath.Join(dir, "repos")
		case "/etc/fed/tls/cert.pem":
			args[i] = cert
		case "/etc/fed/tls/key.pem":
			args[i] = key
		case "0.0.0.0:8417":
			args[i] = "0.0.0.0:0"
		}
	}
	if strings.Contains(strings.Join(args, " "), "/var/") || strings.Contains(strings.Join(args, " "), "/etc/") {
		t.Fatalf("unit names a path the test does not move: %v", args)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: pool}}
	log := runServer(t, bin, "https", client, args)
	if !strings.Contains(log, `"msg":"shutting down"`) || !strings.Contains(log, `"msg":"request"`) {
		t.Errorf("unit's server logged:\n%s", log)
	}
}

func TestContainerImage(t *testing.T) {
	b, err := os.ReadFile("../../deploy/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	for _, want := range []string{"CGO_ENABLED=0 go build", "\nUSER 65532:65532", "\nFROM gcr.io/distroless/static-debian12:nonroot", "\nSTOPSIGNAL SIGTERM"} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %q", want)
		}
	}
	exec1 := func(instr string) []string {
		m := regexp.MustCompile(`(?m)^` + instr + ` (\[.*\])$`).FindStringSubmatch(df)
		var v []string
		if m == nil || json.Unmarshal([]byte(m[1]), &v) != nil {
			t.Fatalf("Dockerfile's %s is not an exec form: %q", instr, m)
		}
		return v
	}
	entry, cmdArgs := exec1("ENTRYPOINT"), exec1("CMD")
	if entry[0] != "/usr/local/bin/fed" || !strings.Contains(df, "COPY --from=build /out/fed /usr/local/bin/fed") {
		t.Fatalf("ENTRYPOINT %v does not run the binary built", entry)
	}
	if testing.Short() {
		t.Skip("-short")
	}
	bin := buildFed(t)
	// The image's command line runs: /data in a temporary directory.
	dir := t.TempDir()
	args := append(entry[1:], cmdArgs...)
	for i, a := range args {
		switch {
		case strings.HasPrefix(a, "/data"):
			args[i] = filepath.Join(dir, strings.TrimPrefix(a, "/data"))
		case a == "0.0.0.0:8417":
			args[i] = "0.0.0.0:0"
		}
	}
	log := runServer(t, bin, "http", &http.Client{Timeout: 10 * time.Second}, args)
	if !strings.Contains(log, `"msg":"request"`) {
		t.Errorf("the image's server logged:\n%s", log)
	}

	// The image itself, where a container engine runs.
	docker, err := exec.LookPath("docker")
	if err == nil {
		err = exec.Command(docker, "info").Run()
	}
	if err != nil {
		t.Skipf("no container engine answers here (%v): the image is not built", err)
	}
	out, err := exec.Command(docker, "build", "-f", "../../deploy/Dockerfile", "-t", "fed-serve-test", "../..").CombinedOutput()
	if err != nil {
		t.Fatalf("docker build: %v\n%s", err, out)
	}
}
