package codec

import (
	"slices"
	"strings"
)

// Format names of the codecs beside safetensors. Their packages register
// a Detector and a Parser under these names.
const (
	FormatTorch = "torch" // PyTorch zip checkpoint (torch.save, .pt/.pth/.bin)
	FormatNPY   = "npy"   // NumPy .npy
	FormatNPZ   = "npz"   // NumPy .npz (a zip of .npy members)
	FormatONNX  = "onnx"  // ONNX ModelProto
)

// OpaqueError reports a file that is recognisably of a model format but
// that fed keeps as opaque bytes, without tensor-level diff or merge: a
// legacy (non-zip) torch pickle, a TorchScript archive, compressed zip
// entries, a pickle that needs a class outside the whitelist, and so on.
// It wraps ErrNotModel, so the storage layer stores the file as a blob;
// the CLI can print Reason as a warning.
type OpaqueError struct {
	File   string // file name as given to Parse
	Format string // the format recognised, e.g. FormatTorch
	Reason string // why the file is kept opaque
}

func (e *OpaqueError) Error() string {
	return "codec: " + e.File + ": " + e.Format + " file kept opaque (no tensor-level diff or merge): " + e.Reason
}

// Unwrap returns ErrNotModel.
func (e *OpaqueError) Unwrap() error { return ErrNotModel }

// Detector tells how to recognise one format.
type Detector struct {
	// Content reports whether head, the first min(size, HeadLen) bytes
	// of a file, carries the format's signature. nil for none. Content
	// signatures of different formats must not overlap.
	Content func(head []byte) bool
	// Suffixes are lower-case file-name endings (".pt") that select the
	// format when no content signature matched; the parser then decides
	// whether the file is damaged (an error) or opaque (an *OpaqueError).
	Suffixes []string
}

var detectors = map[string]Detector{} // guarded by registryMu

// RegisterDetector makes d the detector of format. Format packages call it
// from their init functions. Registering a format twice, or a suffix that
// another format already claims, panics: that is a program error.
func RegisterDetector(format string, d Detector) {
	registryMu.Lock()
	defer registryMu.Unlock()
	if _, dup := detectors[format]; dup {
		panic("codec: RegisterDetector called twice for format " + format)
	}
	for f, other := range detectors {
		for _, s := range d.Suffixes {
			if slices.Contains(other.Suffixes, s) {
				panic("codec: suffix " + s + " of format " + format + " already belongs to " + f)
			}
		}
	}
	if slices.Contains(d.Suffixes, ".safetensors") {
		panic("codec: suffix .safetensors belongs to safetensors")
	}
	detectors[format] = d
}

// detectRegistered applies the registered detectors in format-name order:
// content signatures first, then suffixes.
func detectRegistered(head []byte, name string) string {
	registryMu.RLock()
	defer registryMu.RUnlock()
	formats := make([]string, 0, len(detectors))
	for f := range detectors {
		formats = append(formats, f)
	}
	slices.Sort(formats)
	for _, f := range formats {
		if c := detectors[f].Content; c != nil && c(head) {
			return f
		}
	}
	lower := strings.ToLower(name)
	for _, f := range formats {
		for _, s := range detectors[f].Suffixes {
			if strings.HasSuffix(lower, s) {
				return f
			}
		}
	}
	return ""
}
