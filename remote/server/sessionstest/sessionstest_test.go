package sessionstest_test

import (
	"testing"

	"github.com/fed-vcs/fed/remote/server"
	"github.com/fed-vcs/fed/remote/server/sessionstest"
)

// The suite against the store it was written from; PostgreSQL's runs in
// package pgstore.
func TestRunMemory(t *testing.T) {
	sessionstest.Run(t, func(t *testing.T) (server.SessionStore, server.SessionStore) {
		m := server.NewMemorySessions()
		return m, m
	})
}
