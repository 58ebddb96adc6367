package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestExampleTorch runs examples/torch/federated.sh with a fed built from
// this tree: real PyTorch training and checkpoints, a fed serve on
// loopback, collaborators pushing proven updates, proven FedAvg merges
// that must beat every clinic alone, and a fresh clone verifying all 9
// commits (the root, 3 updates and a merge per round). The clinics' files
// differ as real scripts' do (archive names, safetensors metadata, an
// optimizer state, a config edit) and each merge must equal an
// independent NumPy FedAvg (fedavg_check.py) bit for bit.
// It skips when /usr/bin/python3 cannot import torch (CI installs it).
func TestExampleTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import torch").Run(); err != nil {
		t.Skip("/usr/bin/python3 cannot import torch (apt-get install python3-torch)")
	}
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	bin := filepath.Join(t.TempDir(), "fed")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute) // ~2.5 min on 2 busy cores
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "../../examples/torch/federated.sh")
	cmd.Env = append(os.Environ(), "FED="+bin, "TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("examples/torch/federated.sh: %v\n%s", err, out)
	}
	for _, want := range []string{"verify: OK: 9 of 9 commit(s) verified", "torch.load of the published model", "together (FedAvg, 2 rounds)",
		"fedavg check: 4 tensors of model.pt and model.safetensors bit-identical", "contributors check: shares match the records", `Metadata model.safetensors: "client" changed differently`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
