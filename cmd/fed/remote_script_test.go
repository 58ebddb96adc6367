package main

import (
	"net/http/httptest"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fed-vcs/fed/remote/server"
)

// setupRemote starts a fed server on loopback for a script, exports its
// URL as $FED_REMOTE (repositories are $FED_REMOTE/NAME) and its root
// directory as $FED_SERVER_ROOT, and stops it when the script ends.
func setupRemote(env *testscript.Env) error {
	root := env.WorkDir + "-server"
	s, err := server.New(server.Options{Root: root})
	if err != nil {
		return err
	}
	ts := httptest.NewServer(s)
	env.Defer(ts.Close)
	env.Setenv("FED_REMOTE", ts.URL)
	env.Setenv("FED_SERVER_ROOT", root)
	return nil
}
