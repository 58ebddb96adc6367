package objects

// Decoder reads the primitive encodings objects are made of (unsigned
// varints, single bytes, fixed-size fields, counts bounded by what is
// left; doc/design.md §3) for a format built from them outside this
// package, such as zk's proof bodies, so that there is one reader of
// them. The first error sticks: every later read returns a zero value and
// Err reports the first. Its errors wrap the sentinel NewDecoder was given
// and start with its prefix.
type Decoder struct{ r reader }

// NewDecoder returns a Decoder of b whose errors wrap malformed
// (ErrMalformed when nil) and start with prefix (such as "proof body: ").
func NewDecoder(b []byte, malformed error, prefix string) *Decoder {
	return &Decoder{r: reader{b: b, malformed: malformed, prefix: prefix}}
}

// Uvarint reads an unsigned varint; what names the field in an error.
func (d *Decoder) Uvarint(what string) uint64 { return d.r.uvarint(what) }

// Count reads an unsigned varint that announces items of at least min
// bytes each, and refuses a count the remaining bytes cannot hold (no
// huge allocations from hostile input).
func (d *Decoder) Count(what string, min int) int { return d.r.count(what, min) }

// Byte reads one byte.
func (d *Decoder) Byte(what string) byte { return d.r.byte1(what) }

// Take reads the next n bytes (nil after an error; the slice is b's).
func (d *Decoder) Take(n int, what string) []byte { return d.r.take(n, what) }

// Len returns the number of bytes not read yet.
func (d *Decoder) Len() int { return len(d.r.b) }

// Fail records an error (formatted as fmt.Sprintf) unless one is recorded.
func (d *Decoder) Fail(format string, args ...any) { d.r.fail(format, args...) }

// End records an error if bytes remain after the last field, what.
func (d *Decoder) End(what string) { d.r.end(what) }

// Err returns the first error, or nil.
func (d *Decoder) Err() error { return d.r.err }
