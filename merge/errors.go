package merge

import (
	"errors"
	"fmt"

	"github.com/fed-vcs/fed/objects"
)

// Sentinels callers branch on. Every option error (ParamError, WeightError,
// SidesError, an unknown strategy, a missing base) matches ErrInvalidOptions
// with errors.Is; the CLI maps it to a usage error.
var (
	ErrInvalidOptions  = errors.New("merge: invalid options")
	ErrUnknownStrategy = errors.New("merge: unknown strategy")
	ErrNeedsBase       = errors.New("merge: strategy needs a merge base")
	ErrConflict        = errors.New("merge: conflict")
	ErrShapeMismatch   = errors.New("merge: shape mismatch")
	ErrOrder           = errors.New("merge: call out of order")
	ErrRange           = errors.New("merge: value out of fixed-point range")
)

// ParamError reports a strategy parameter that is unknown, malformed or out
// of range.
type ParamError struct {
	Strategy string
	Param    string
	Msg      string
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("merge: %s parameter %q: %s", e.Strategy, e.Param, e.Msg)
}

// Unwrap lets errors.Is(err, ErrInvalidOptions) match.
func (e *ParamError) Unwrap() error { return ErrInvalidOptions }

// WeightError reports a bad list of side weights. Index is -1 when the
// problem concerns the whole list (its length, its sum).
type WeightError struct {
	Index int
	Msg   string
}

func (e *WeightError) Error() string {
	if e.Index < 0 {
		return "merge: weights: " + e.Msg
	}
	return fmt.Sprintf("merge: weight of side %d: %s", e.Index, e.Msg)
}

// Unwrap lets errors.Is(err, ErrInvalidOptions) match.
func (e *WeightError) Unwrap() error { return ErrInvalidOptions }

// SidesError reports a number of sides the strategy cannot merge.
type SidesError struct {
	Strategy string
	Sides    int
	Msg      string // the requirement, e.g. "needs more than 2f+2 = 4 sides"
}

func (e *SidesError) Error() string {
	return fmt.Sprintf("merge: %s of %d sides: %s", e.Strategy, e.Sides, e.Msg)
}

// Unwrap lets errors.Is(err, ErrInvalidOptions) match.
func (e *SidesError) Unwrap() error { return ErrInvalidOptions }

// ConflictError reports a tensor whose dtype fed does no arithmetic on
// (BOOL, F8_*, C64, F4, F6_*, unknown) and whose sides differ. Offset is the
// byte offset in the tensor of the first piece found to differ. The caller
// treats it as a merge conflict.
type ConflictError struct {
	Tensor string
	DType  objects.DType
	Offset uint64
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("merge: tensor %s: sides of non-arithmetic dtype %q differ at byte %d", e.Tensor, string(e.DType), e.Offset)
}

// Unwrap lets errors.Is(err, ErrConflict) match.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// ShapeError reports pieces or tensors whose byte lengths disagree.
type ShapeError struct {
	Tensor string
	Want   uint64
	Got    uint64
}

func (e *ShapeError) Error() string {
	return fmt.Sprintf("merge: tensor %s: length %d, want %d", e.Tensor, e.Got, e.Want)
}

// Unwrap lets errors.Is(err, ErrShapeMismatch) match.
func (e *ShapeError) Unwrap() error { return ErrShapeMismatch }
