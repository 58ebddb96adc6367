package main

import (
	"context"
	"fmt"
	"path"

	"github.com/fed-vcs/fed/objects/s3store"
	"github.com/fed-vcs/fed/remote/server"
)

// s3Objects is where `fed serve --objects s3://BUCKET/PREFIX` keeps the
// hosted repositories' objects: repository NAME under the prefix
// PREFIX/NAME.fed/objects/ (doc/design.md §6a), credentials from the
// standard AWS environment variables.
type s3Objects struct {
	cfg s3store.Config // Prefix: the server's, every repository's below it
}

// newS3Hosting checks the flags and reads the credentials.
func newS3Objects(objectsURL, endpoint string, e *env) (*s3Objects, error) {
	bucket, prefix, err := s3store.ParseURL(objectsURL)
	if err != nil {
		return nil, usageErrorf("--objects: %v", err)
	}
	if endpoint == "" {
		return nil, withHint(usageErrorf("--objects %s needs --s3-endpoint URL", objectsURL),
			"the service's URL, such as https://s3.eu-west-1.amazonaws.com or http://127.0.0.1:7070")
	}
	cfg := s3store.Config{
		Endpoint: endpoint, Bucket: bucket, Prefix: prefix,
		AccessKey: e.getenv("AWS_ACCESS_KEY_ID"), SecretKey: e.getenv("AWS_SECRET_ACCESS_KEY"),
		SessionToken: e.getenv("AWS_SESSION_TOKEN"), Region: e.getenv("AWS_REGION"),
	}
	if cfg.Region == "" {
		cfg.Region = e.getenv("AWS_DEFAULT_REGION")
	}
	if cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, withHint(usageErrorf("--objects %s: no credentials", objectsURL),
			"set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_REGION unless us-east-1)")
	}
	if _, err := s3store.Open(cfg); err != nil {
		return nil, usageErrorf("--s3-endpoint: %v", err)
	}
	return &s3Objects{cfg: cfg}, nil
}

var _ server.ObjectStores = (*s3Objects)(nil)

// Open returns the object store of repository name (server.ObjectStores):
// a prefix needs no creating.
func (h *s3Objects) Open(ctx context.Context, name string, create bool) (server.ObjectStore, error) {
	cfg := h.cfg
	cfg.Prefix = h.cfg.Prefix + path.Clean(name) + ".fed/objects/"
	return s3store.Open(cfg)
}

// Check asks the service whether the bucket is there and the credentials
// work.
func (h *s3Objects) Check(ctx context.Context) error {
	s, err := s3store.Open(h.cfg)
	if err != nil {
		return err
	}
	if err := s.Check(ctx); err != nil {
		return fmt.Errorf("object store %s: %w", h, err)
	}
	return nil
}

// String names the bucket, prefix and service.
func (h *s3Objects) String() string {
	return fmt.Sprintf("s3://%s/%s at %s", h.cfg.Bucket, h.cfg.Prefix, h.cfg.Endpoint)
}
