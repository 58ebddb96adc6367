// Command winetest prepares a Wine prefix and a build overlay so that the
// Windows build's test binaries (Go 1.26) run under Debian 12's Wine 8, for
// `make test-windows`. It prints the overlay file to pass to go test
// -overlay.
//
// Wine 8 lacks two things Go's Windows port uses and Windows 10 has:
//
//   - bcryptprimitives.dll's ProcessPrng, which the Go runtime loads at
//     start (without it every binary dies with "bcryptprimitives.dll not
//     found"). winetest writes a bcryptprimitives.dll into the prefix's
//     system32 whose only export, ProcessPrng, forwards to
//     advapi32.SystemFunction036 (RtlGenRandom): the same arguments, and a
//     true low byte on success, which is all the runtime checks.
//   - NtSetInformationFile's FileDispositionInformationEx, which
//     os.RemoveAll (and so every t.TempDir cleanup) uses first; Wine
//     answers STATUS_NOT_IMPLEMENTED where Go expects one of the statuses
//     that select its fallback. The overlay replaces GOROOT's
//     internal/syscall/windows/at_windows.go by a copy in which
//     TestDeleteatFallback (Go's own switch for testing that fallback) is
//     true, so removal takes the pre-Windows 10 path that Wine has.
//
// Neither changes what is tested of fed: the shim supplies random bytes,
// and the fallback removes files as Windows before version 1607 did.
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

func main() {
	wine := flag.String("wine", "wine64", "the wine64 loader")
	out := flag.String("out", "", "directory for the overlay (required)")
	flag.Parse()
	prefix := os.Getenv("WINEPREFIX")
	if prefix == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: WINEPREFIX=DIR winetest -wine WINE64 -out DIR")
		os.Exit(2)
	}
	overlay, err := setup(*wine, prefix, *out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "winetest: %v\n", err)
		os.Exit(1)
	}
	fmt.Println(overlay)
}

func setup(wine, prefix, out string) (string, error) {
	sys32 := filepath.Join(prefix, "drive_c", "windows", "system32")
	if _, err := os.Stat(sys32); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(filepath.Dir(prefix), 0o755); err != nil {
			return "", err
		}
		cmd := exec.Command(wine, "wineboot", "--init")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("create wine prefix %s: %w", prefix, err)
		}
	}
	if err := os.WriteFile(filepath.Join(sys32, "bcryptprimitives.dll"), forwarderDLL("bcryptprimitives.dll", "ProcessPrng", "advapi32.SystemFunction036"), 0o644); err != nil {
		return "", fmt.Errorf("write ProcessPrng shim: %w", err)
	}
	// winetest runs only under 'go run' (make test-windows), so the GOROOT
	// it was built with is the toolchain's whose tests it prepares
	src := filepath.Join(runtime.GOROOT(), "src", "internal", "syscall", "windows", "at_windows.go") //nolint:staticcheck // SA1019: never copied to another machine
	b, err := os.ReadFile(src)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", src, err)
	}
	const off, on = "\nvar TestDeleteatFallback bool\n", "\nvar TestDeleteatFallback = true\n"
	if !bytes.Contains(b, []byte(off)) {
		return "", fmt.Errorf("%s has no %q: this Go's removal code changed, adapt winetest", src, off[1:len(off)-1])
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return "", err
	}
	patched := filepath.Join(out, "at_windows.go")
	if err := os.WriteFile(patched, bytes.Replace(b, []byte(off), []byte(on), 1), 0o644); err != nil {
		return "", err
	}
	j, err := json.Marshal(map[string]map[string]string{"Replace": {src: patched}})
	if err != nil {
		return "", err
	}
	overlay := filepath.Join(out, "overlay.json")
	return overlay, os.WriteFile(overlay, j, 0o644)
}

// forwarderDLL returns a PE32+ (x86-64) DLL named dll with one export,
// name, forwarded to target ("module.Function"): headers, then one
// read-only section holding the export directory and its strings. It has
// no code, no entry point and no relocations.
func forwarderDLL(dll, name, target string) []byte {
	const (
		fileAlign = 0x200
		rva       = 0x1000 // the section's address
		dirSize   = 40     // IMAGE_EXPORT_DIRECTORY
	)
	le := binary.LittleEndian
	// The section: export directory, address table (1), name pointer
	// table (1), ordinal table (1), then the strings.
	eat := uint32(rva + dirSize)
	names := eat + 4
	ords := names + 4
	sDLL := ords + 2
	sName := sDLL + uint32(len(dll)) + 1
	sTarget := sName + uint32(len(name)) + 1
	var sec []byte
	sec = le.AppendUint32(sec, 0)       // Characteristics
	sec = le.AppendUint32(sec, 0)       // TimeDateStamp
	sec = le.AppendUint16(sec, 0)       // MajorVersion
	sec = le.AppendUint16(sec, 0)       // MinorVersion
	sec = le.AppendUint32(sec, sDLL)    // Name
	sec = le.AppendUint32(sec, 1)       // Base (first ordinal)
	sec = le.AppendUint32(sec, 1)       // NumberOfFunctions
	sec = le.AppendUint32(sec, 1)       // NumberOfNames
	sec = le.AppendUint32(sec, eat)     // AddressOfFunctions
	sec = le.AppendUint32(sec, names)   // AddressOfNames
	sec = le.AppendUint32(sec, ords)    // AddressOfNameOrdinals
	sec = le.AppendUint32(sec, sTarget) // the function: inside the directory, so a forwarder
	sec = le.AppendUint32(sec, sName)
	sec = le.AppendUint16(sec, 0)
	for _, s := range []string{dll, name, target} {
		sec = append(append(sec, s...), 0)
	}
	size := uint32(len(sec)) // the export directory's extent covers the strings
	raw := make([]byte, (len(sec)+fileAlign-1)/fileAlign*fileAlign)
	copy(raw, sec)

	var h []byte
	h = append(h, 'M', 'Z')
	h = append(h, make([]byte, 0x3c-2)...)
	h = le.AppendUint32(h, 0x40) // e_lfanew
	h = append(h, 'P', 'E', 0, 0)
	// COFF header: AMD64, one section, optional header of 240 bytes,
	// EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE | DLL.
	h = le.AppendUint16(h, 0x8664)
	h = le.AppendUint16(h, 1)
	h = le.AppendUint32(h, 0)
	h = le.AppendUint32(h, 0)
	h = le.AppendUint32(h, 0)
	h = le.AppendUint16(h, 240)
	h = le.AppendUint16(h, 0x2022)
	// Optional header, PE32+.
	h = le.AppendUint16(h, 0x20b)
	h = append(h, 14, 0)                              // linker version
	h = le.AppendUint32(h, 0)                         // SizeOfCode
	h = le.AppendUint32(h, uint32(len(raw)))          // SizeOfInitializedData
	h = le.AppendUint32(h, 0)                         // SizeOfUninitializedData
	h = le.AppendUint32(h, 0)                         // AddressOfEntryPoint: none
	h = le.AppendUint32(h, rva)                       // BaseOfCode
	h = le.AppendUint64(h, 0x180000000)               // ImageBase
	h = le.AppendUint32(h, 0x1000)                    // SectionAlignment
	h = le.AppendUint32(h, fileAlign)                 // FileAlignment
	h = append(h, 6, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0) // OS 6.0, image 0.0, subsystem 6.0
	h = le.AppendUint32(h, 0)                         // Win32VersionValue
	h = le.AppendUint32(h, rva+0x1000)                // SizeOfImage
	h = le.AppendUint32(h, fileAlign)                 // SizeOfHeaders
	h = le.AppendUint32(h, 0)                         // CheckSum
	h = le.AppendUint16(h, 3)                         // Subsystem: console
	h = le.AppendUint16(h, 0x100)                     // DllCharacteristics: NX_COMPAT
	for _, v := range []uint64{0x100000, 0x1000, 0x100000, 0x1000} {
		h = le.AppendUint64(h, v) // stack and heap reserve and commit
	}
	h = le.AppendUint32(h, 0)  // LoaderFlags
	h = le.AppendUint32(h, 16) // NumberOfRvaAndSizes
	h = le.AppendUint32(h, rva)
	h = le.AppendUint32(h, size) // [0] export table
	h = append(h, make([]byte, 15*8)...)
	// The section header.
	h = append(h, ".rdata\x00\x00"...)
	h = le.AppendUint32(h, size)             // VirtualSize
	h = le.AppendUint32(h, rva)              // VirtualAddress
	h = le.AppendUint32(h, uint32(len(raw))) // SizeOfRawData
	h = le.AppendUint32(h, fileAlign)        // PointerToRawData
	h = append(h, make([]byte, 12)...)       // relocations, line numbers
	h = le.AppendUint32(h, 0x40000040)       // INITIALIZED_DATA | MEM_READ
	hdr := make([]byte, fileAlign)
	copy(hdr, h)
	return append(hdr, raw...)
}
