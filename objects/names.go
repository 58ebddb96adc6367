package objects

import (
	"strings"
	"unicode/utf8"
)

// RepoDirName is the name of the repository directory in a working tree.
// No tree entry may name it in any spelling a file system maps to it
// (ReservedName): a checkout would write into the repository itself.
const RepoDirName = ".fed"

// ReservedName reports whether a tree entry named name would, on some file
// system, name the repository directory .fed: compared without case
// (NTFS, APFS and HFS+ fold case), without the code points HFS+ ignores
// (zero-width joiners, direction marks, U+FEFF, ...), without trailing
// dots and spaces (which Windows strips) and without an NTFS stream
// suffix (".fed::$INDEX_ALLOCATION"), or as .fed's 8.3 short name FED~1.
// Unicode normalisation (NFD on HFS+, APFS's normalisation-insensitive
// lookups) maps no other name to these ASCII letters.
func ReservedName(name string) bool {
	var b strings.Builder
	for _, r := range name {
		if !hfsIgnorable(r) {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimRight(s, ". ")
	return strings.EqualFold(s, RepoDirName) || strings.EqualFold(s, "fed~1")
}

// hfsIgnorable reports the code points HFS+ leaves out when it compares
// names (as git's is_hfs_dotgit lists them).
func hfsIgnorable(r rune) bool {
	switch {
	case r >= 0x200c && r <= 0x200f, // ZWNJ, ZWJ, LRM, RLM
		r >= 0x202a && r <= 0x202e, // embeddings and overrides
		r >= 0x206a && r <= 0x206f, // deprecated format characters
		r == 0xfeff:                // zero-width no-break space
		return true
	}
	return false
}

// WindowsNameProblem says why Windows cannot hold a file named name, or
// returns "" when it can: a reserved device name (CON, PRN, AUX, NUL,
// COM1-9, LPT1-9, alone or before an extension, in any case), a trailing
// dot or space, a control character, or one of < > : " / \ | ? *.
func WindowsNameProblem(name string) string {
	for _, r := range name {
		switch {
		case r < 0x20:
			return "a control character"
		case strings.ContainsRune(`<>:"/\|?*`, r):
			return "the character " + string(r)
		}
	}
	if strings.HasSuffix(name, ".") || strings.HasSuffix(name, " ") {
		return "a trailing dot or space"
	}
	base := name
	if i := strings.IndexByte(base, '.'); i >= 0 {
		base = base[:i]
	}
	base = strings.ToUpper(strings.TrimRight(base, " "))
	switch base {
	case "CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$":
		return "the reserved device name " + base
	}
	if len(base) == 4 && (strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) {
		if c := base[3]; c >= '0' && c <= '9' {
			return "the reserved device name " + base
		}
	}
	if r, n := utf8.DecodeLastRuneInString(base); n > 1 && len(base) == 3+n &&
		(strings.HasPrefix(base, "COM") || strings.HasPrefix(base, "LPT")) && (r == '¹' || r == '²' || r == '³') {
		return "the reserved device name " + base
	}
	return ""
}
