package torch

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/fed-vcs/fed/codec"
)

// Pickle builders for hand-made checkpoints.
func str(s string) string {
	return "X" + string(binary.LittleEndian.AppendUint32(nil, uint32(len(s)))) + s
}

const (
	rebuild = "ctorch._utils\n_rebuild_tensor_v2\n"
	proto   = "\x80\x02"
)

// pid is the persistent id of a float storage of n elements.
func pid(key string, n byte) string {
	return "((" + str("storage") + "ctorch\nFloatStorage\n" + str(key) + str("cpu") + "K" + string(n) + "tQ"
}

// tensor1d rebuilds a 1-d view (offset, size) of storage key of n floats.
func tensor1d(key string, n, offset, size byte) string {
	return rebuild + pid(key, n) + "K" + string(offset) + "K" + string(size) + "\x85K\x01\x85\x89}tR"
}

// stateDict is {"w": tensor} over storage "0" of 2 floats.
var stateDict = proto + "}" + str("w") + tensor1d("0", 2, 0, 2) + "s."

type entry struct {
	name    string
	data    []byte
	deflate bool
}

func mkzip(t *testing.T, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		m := zip.Store
		if e.deflate {
			m = zip.Deflate
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: m})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func ckpt(t *testing.T, pickle string, extra ...entry) []byte {
	t.Helper()
	es := []entry{{name: "archive/data.pkl", data: []byte(pickle)}, {name: "archive/data/0", data: make([]byte, 8)}}
	return mkzip(t, append(es, extra...)...)
}

func TestHandMade(t *testing.T) {
	t.Parallel()
	b := ckpt(t, stateDict)
	l, ck, err := Parse(bytes.NewReader(b), int64(len(b)), "m.pt")
	if err != nil {
		t.Fatal(err)
	}
	if ts := l.Tensors(); len(ts) != 1 || ts[0].Name != "w" || ts[0].DType != "F32" || len(ts[0].Shape) != 1 || ts[0].Shape[0] != 2 {
		t.Errorf("tensors %+v, want w F32 [2]", ts)
	}
	if ck.Prefix != "archive" {
		t.Errorf("prefix %q", ck.Prefix)
	}
}

// TestBadInput: damaged files are FormatErrors, files fed cannot read
// safely are opaque; nothing panics or executes.
func TestBadInput(t *testing.T) {
	t.Parallel()
	good := ckpt(t, stateDict)
	var tooLong []byte
	{
		// Central directory says the first entry is 100 bytes longer.
		tooLong = bytes.Clone(good)
		cd := bytes.Index(tooLong, []byte("PK\x01\x02"))
		binary.LittleEndian.PutUint32(tooLong[cd+20:], binary.LittleEndian.Uint32(tooLong[cd+20:])+100)
		binary.LittleEndian.PutUint32(tooLong[cd+24:], binary.LittleEndian.Uint32(tooLong[cd+24:])+100)
	}
	tests := []struct {
		name   string
		file   []byte
		opaque string // substring of the OpaqueError's reason; "" = FormatError
	}{
		{"os.system", ckpt(t, proto+"cos\nsystem\n"+str("touch /tmp/pwned")+"\x85R."), "os.system"},
		{"builtins.eval in a dict", ckpt(t, proto+"}"+str("x")+"cbuiltins\neval\n"+str("1")+"\x85Rs."), "builtins.eval"},
		{"stack global of subprocess", ckpt(t, proto+str("subprocess")+str("call")+"\x93"+str("ls")+"\x85R."), "subprocess.call"},
		{"module object", ckpt(t, proto+"c__main__\nNet\n)\x81."), "__main__.Net"},
		{"qtensor", ckpt(t, proto+"ctorch._utils\n_rebuild_qtensor\n)R."), "_rebuild_qtensor"},
		{"text protocol opcode", ckpt(t, proto+"I1\n."), "opcode 0x49"},
		{"deflated storage", mkzip(t, entry{name: "archive/data.pkl", data: []byte(stateDict)},
			entry{name: "archive/data/0", data: make([]byte, 8), deflate: true}), "compressed"},
		{"big-endian", ckpt(t, stateDict, entry{name: "archive/byteorder", data: []byte("big")}), "byte order"},
		{"torchscript", ckpt(t, stateDict, entry{name: "archive/constants.pkl", data: []byte(proto + ").")}), "TorchScript"},
		{"no data.pkl", mkzip(t, entry{name: "archive/data/0", data: make([]byte, 8)}), "without archive/data.pkl"},
		{"not a zip", []byte("just some text that happens to be named .pt"), "not a zip"},
		{"deep nesting", ckpt(t, proto+strings.Repeat("]", 200)+strings.Repeat("a", 199)+"."), "deeper"},

		{"dotdot entry", mkzip(t, entry{name: "archive/data.pkl", data: []byte(stateDict)}, entry{name: "archive/../../etc/x", data: []byte("x")}), ""},
		{"absolute entry", mkzip(t, entry{name: "archive/data.pkl", data: []byte(stateDict)}, entry{name: "/etc/passwd", data: []byte("x")}), ""},
		{"backslash entry", mkzip(t, entry{name: "archive/data.pkl", data: []byte(stateDict)}, entry{name: "archive\\..\\x", data: []byte("x")}), ""},
		{"duplicate entry", mkzip(t, entry{name: "archive/data.pkl", data: []byte(stateDict)}, entry{name: "archive/data.pkl", data: []byte(stateDict)}), ""},
		{"entry overruns the next", tooLong, ""},
		{"storage too short", mkzip(t, entry{name: "archive/data.pkl", data: []byte(stateDict)}, entry{name: "archive/data/0", data: make([]byte, 7)}), ""},
		{"storage entry missing", mkzip(t, entry{name: "archive/data.pkl", data: []byte(stateDict)}), ""},
		{"view past storage", ckpt(t, proto+"}"+str("w")+tensor1d("0", 2, 1, 2)+"s."), ""},
		{"one storage two dtypes", ckpt(t, proto+"("+tensor1d("0", 2, 0, 2)+
			rebuild+"(("+str("storage")+"ctorch\nLongStorage\n"+str("0")+str("cpu")+"K\x02tQK\x00K\x01\x85K\x01\x85\x89}tR"+"l."), ""},
		{"pickle without STOP", ckpt(t, proto+"}"), ""},
		{"stack underflow", ckpt(t, proto+"s."), ""},
		{"memo miss", ckpt(t, proto+"h\x05."), ""},
		{"truncated string", ckpt(t, proto+"X\xff\xff\xff\x7fabc"), ""},
		{"size and stride ranks differ", ckpt(t, proto+rebuild+pid("0", 2)+"K\x00K\x02\x85)\x89}tR."), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, _, err := Parse(bytes.NewReader(tt.file), int64(len(tt.file)), "m.pt")
			t.Log(err)
			if tt.opaque != "" {
				var oe *codec.OpaqueError
				if !errors.As(err, &oe) || !errors.Is(err, codec.ErrNotModel) || !strings.Contains(oe.Reason, tt.opaque) {
					t.Fatalf("err = %v, want opaque with reason containing %q", err, tt.opaque)
				}
				return
			}
			var fe *FormatError
			if !errors.As(err, &fe) || !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want a FormatError", err)
			}
		})
	}
}

// TestTruncated cuts a real checkpoint at every length: each cut is a
// clear FormatError, never a layout.
func TestTruncated(t *testing.T) {
	t.Parallel()
	b := ckpt(t, stateDict)
	for n := len(b) - 1; n >= 4; n-- {
		_, _, err := Parse(bytes.NewReader(b[:n]), int64(n), "m.pt")
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("cut at %d of %d: err = %v, want ErrInvalid", n, len(b), err)
		}
	}
}

// TestCycles: a list containing itself and a dict shared twice are walked
// once, without hanging.
func TestCycles(t *testing.T) {
	t.Parallel()
	// l = []; l.append(l); {"a": l, "b": l, "w": tensor}
	p := proto + "}q\x00" + str("a") + "]q\x01h\x01as" + str("b") + "h\x01s" + str("w") + tensor1d("0", 2, 0, 2) + "s."
	b := ckpt(t, p)
	l, _, err := Parse(bytes.NewReader(b), int64(len(b)), "m.pt")
	if err != nil {
		t.Fatal(err)
	}
	if ts := l.Tensors(); len(ts) != 1 || ts[0].Name != "w" {
		t.Errorf("tensors %+v, want w", ts)
	}
}

func TestDetect(t *testing.T) {
	t.Parallel()
	b := ckpt(t, stateDict)
	tests := []struct {
		name string
		head []byte
		file string
		want string
	}{
		{"zip with data.pkl first", b, "weights.bin", codec.FormatTorch},
		{"torchscript order", mkzip(t, entry{name: "ts/data/0", data: []byte("x")}), "x", codec.FormatTorch},
		{"legacy pickle", append([]byte("\x80\x02"), legacyMagic...), "model.bin", codec.FormatTorch},
		{"by name", []byte("anything"), "model.PTH", codec.FormatTorch},
		{"other zip", mkzip(t, entry{name: "readme.txt", data: []byte("x")}), "a.zip", ""},
		{"top-level data.pkl", mkzip(t, entry{name: "data/x", data: []byte("x")}), "a.zip", ""},
	}
	for _, tt := range tests {
		head := tt.head[:min(len(tt.head), codec.HeadLen)]
		if got := codec.Detect(head, tt.file); got != tt.want {
			t.Errorf("%s: Detect = %q, want %q", tt.name, got, tt.want)
		}
	}
}
