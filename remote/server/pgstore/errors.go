package pgstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/fed-vcs/fed/objects"
	"github.com/jackc/pgx/v5/pgconn"
)

// failed wraps err, an error of the database or of reaching it, for the
// operation op: the context's error when ctx ended, objects.ErrUnavailable
// (which refs.ErrUnavailable and repometa.ErrUnavailable are) when the
// database could not answer or gave the transaction up and nothing was
// changed, err as it is otherwise.
func failed(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("pgstore: %s: %w", op, cerr)
	}
	if unavailable(err) {
		return fmt.Errorf("pgstore: %s: %w: %w", op, objects.ErrUnavailable, err)
	}
	return fmt.Errorf("pgstore: %s: %w", op, err)
}

// unavailable reports whether err says the database could not be reached
// or could not do the work now (rather than refusing it).
func unavailable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return network(err)
	}
	if len(pe.Code) != 5 {
		return false
	}
	switch pe.Code[:2] {
	case "08", // connection exception
		"53", // insufficient resources (too many connections, disk full)
		"57", // operator intervention (shutdown, cancelled by the admin)
		"58": // system error
		return true
	}
	switch pe.Code {
	case "40001", "40P01": // serialization failure, deadlock: nothing committed
		return true
	}
	return false
}

// network reports whether err is a failure to connect to the database or
// to talk with it (rather than an answer of it, or an error of fed's).
func network(err error) bool {
	var driver interface{ SafeToRetry() bool } // pgconn's connection errors
	var ce *pgconn.ConnectError
	var ne net.Error
	return errors.As(err, &driver) || errors.As(err, &ce) || errors.As(err, &ne) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}
