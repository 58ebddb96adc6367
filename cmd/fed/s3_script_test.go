package main

import (
	"path/filepath"
	"sync"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/fed-vcs/fed/internal/s3test"
)

// s3Servers holds each running script's server, by script.
var s3Servers sync.Map // *testscript.TestScript -> *s3test.Server

// s3server start BUCKET | stop | restart drives a versitygw for the
// script: start serves $WORK-s3 on a free port, creates BUCKET and sets
// $S3_ENDPOINT, $S3_DIR, the AWS credential variables fed serve reads
// (and $S3_SECRET, the secret key again); the server stops when the script ends. Guard scripts with
// [!versitygw] skip.
func cmdS3Server(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: s3server start BUCKET | stop | restart")
	}
	var srv *s3test.Server
	if v, ok := s3Servers.Load(ts); ok {
		srv = v.(*s3test.Server)
	}
	switch {
	case args[0] == "start" && len(args) == 2:
		if srv != nil {
			ts.Fatalf("s3server: already started")
		}
		dir := ts.Getenv("WORK") + "-s3"
		srv, err := s3test.Launch(dir)
		ts.Check(err)
		ts.Defer(func() { srv.Stop(); s3Servers.Delete(ts) })
		ts.Check(srv.CreateBucket(args[1]))
		s3Servers.Store(ts, srv)
		ts.Setenv("S3_ENDPOINT", srv.Endpoint)
		ts.Setenv("S3_DIR", filepath.Clean(dir))
		ts.Setenv("AWS_ACCESS_KEY_ID", s3test.AccessKey)
		ts.Setenv("AWS_SECRET_ACCESS_KEY", s3test.SecretKey)
		ts.Setenv("S3_SECRET", s3test.SecretKey)
		ts.Setenv("AWS_REGION", "us-east-1")
	case args[0] == "stop" && len(args) == 1 && srv != nil:
		ts.Check(srv.Stop())
	case args[0] == "restart" && len(args) == 1 && srv != nil:
		ts.Check(srv.Restart())
	default:
		ts.Fatalf("usage: s3server start BUCKET | stop | restart (stop and restart after start)")
	}
}
