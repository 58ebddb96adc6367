package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/fed-vcs/fed/objects"
)

// Config says where a Store keeps its objects and how it signs in.
type Config struct {
	// Endpoint is the S3 service's URL: http://127.0.0.1:7070,
	// https://s3.eu-west-1.amazonaws.com. Required.
	Endpoint string
	// Bucket holds the objects; it must exist (CreateBucket makes one).
	Bucket string
	// Prefix is prepended to every key ("" or ending in "/"; a missing
	// final slash is added), so that many stores share a bucket.
	Prefix string
	// AccessKey, SecretKey and SessionToken sign the requests (AWS
	// signature version 4).
	AccessKey, SecretKey, SessionToken string
	// Region of the bucket; "" means us-east-1.
	Region string
	// PartSize: objects whose stored form is larger go up as a multipart
	// upload in parts of this size. 0 means DefaultPartSize; at least
	// MinPartSize (S3's own limit).
	PartSize int
	// Retries is how many times the SDK itself retries a request that
	// failed in a retryable way (with its backoff of 200 ms doubling, at
	// most 1 s) before the Store reports ErrUnavailable. 0 means 2; -1
	// means none.
	Retries int
	// Transport, when not nil, carries the HTTP requests.
	Transport http.RoundTripper
}

// Part sizes of multipart uploads.
const (
	DefaultPartSize = 16 << 20
	MinPartSize     = 5 << 20
)

// Store keeps objects in an S3 bucket under a prefix. It is safe for
// concurrent use, by goroutines and by processes on any machine.
type Store struct {
	core     minio.Core
	bucket   string
	prefix   string
	partSize int
	endpoint string
	sizes    sizeCache
}

var (
	_ objects.Store = (*Store)(nil)
)

// Open returns a Store for cfg. It does not contact the service: the
// first request does (Check asks once).
func Open(cfg Config) (*Store, error) {
	c, err := newClient(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Bucket == "" {
		return nil, errors.New("s3 store: no bucket")
	}
	prefix := cfg.Prefix
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	if strings.HasPrefix(prefix, "/") || strings.Contains(prefix, "//") {
		return nil, fmt.Errorf("s3 store: prefix %q has an empty path segment", cfg.Prefix)
	}
	ps := cfg.PartSize
	switch {
	case ps == 0:
		ps = DefaultPartSize
	case ps < MinPartSize:
		return nil, fmt.Errorf("s3 store: part size %d is below S3's minimum of %d", ps, MinPartSize)
	}
	return &Store{core: minio.Core{Client: c}, bucket: cfg.Bucket, prefix: prefix, partSize: ps, endpoint: cfg.Endpoint}, nil
}

func newClient(cfg Config) (*minio.Client, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("s3 store: endpoint %q is not an http:// or https:// URL of a host", cfg.Endpoint)
	}
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	retries := cfg.Retries
	switch {
	case retries == 0:
		retries = 2
	case retries < 0:
		retries = 0
	}
	opts := &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, cfg.SessionToken),
		Secure:       u.Scheme == "https",
		Region:       region,
		BucketLookup: minio.BucketLookupPath,
		MaxRetries:   retries + 1,
		Transport:    cfg.Transport,
	}
	if s3Host(u.Host) {
		opts.BucketLookup = minio.BucketLookupAuto
	}
	c, err := minio.New(u.Host, opts)
	if err != nil {
		return nil, fmt.Errorf("s3 store: %w", err)
	}
	return c, nil
}

// s3Host reports whether host is Amazon's, where virtual-host style
// bucket names are the default; other services get path-style requests.
func s3Host(host string) bool {
	h, _, err := net.SplitHostPort(host)
	if err != nil {
		h = host
	}
	return strings.HasSuffix(h, ".amazonaws.com")
}

// CreateBucket makes cfg.Bucket unless it exists (for tests and first
// set-up; production buckets are usually made by their operator).
func CreateBucket(ctx context.Context, cfg Config) error {
	c, err := newClient(cfg)
	if err != nil {
		return err
	}
	ok, err := c.BucketExists(ctx, cfg.Bucket)
	if err != nil {
		return classify(ctx, "check bucket "+cfg.Bucket, objects.ZeroID, err)
	}
	if ok {
		return nil
	}
	err = c.MakeBucket(ctx, cfg.Bucket, minio.MakeBucketOptions{Region: cfg.Region})
	if err != nil && code(err) != "BucketAlreadyOwnedByYou" {
		return classify(ctx, "create bucket "+cfg.Bucket, objects.ZeroID, err)
	}
	return nil
}

// Bucket and Prefix return where the store keeps its objects.
func (s *Store) Bucket() string { return s.bucket }

// Prefix returns the prefix of every key ("" or ending in "/").
func (s *Store) Prefix() string { return s.prefix }

// Key returns the key of id: the prefix, then the disk store's fan-out.
func (s *Store) Key(id objects.ID) string {
	h := id.String()
	return s.prefix + h[:2] + "/" + h[2:]
}

// Check asks the service whether the bucket is there and the credentials
// work (readiness probes).
func (s *Store) Check(ctx context.Context) error {
	ok, err := s.core.BucketExists(ctx, s.bucket)
	if err != nil {
		return classify(ctx, "check bucket "+s.bucket, objects.ZeroID, err)
	}
	if !ok {
		return fmt.Errorf("s3 store: bucket %s does not exist at %s", s.bucket, s.endpoint)
	}
	return nil
}

// Has reports whether the object's key exists (without reading it).
func (s *Store) Has(ctx context.Context, id objects.ID) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	oi, err := s.core.StatObject(ctx, s.bucket, s.Key(id), minio.StatObjectOptions{})
	if err == nil {
		s.sizes.set(id, oi.Size)
		return true, nil
	}
	err = classify(ctx, "stat", id, err)
	if errors.Is(err, objects.ErrNotFound) {
		s.sizes.drop(id) // deleted by another process
		return false, nil
	}
	return false, err
}

// WrittenAt returns when the service says id's key was written (its
// LastModified, by the service's clock; one HEAD): an object is written
// once, so when it was created. An absent key is *objects.NotFoundError.
func (s *Store) WrittenAt(ctx context.Context, id objects.ID) (time.Time, error) {
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	oi, err := s.core.StatObject(ctx, s.bucket, s.Key(id), minio.StatObjectOptions{})
	if err != nil {
		return time.Time{}, classify(ctx, "stat", id, err)
	}
	s.sizes.set(id, oi.Size)
	return oi.LastModified, nil
}

// Get reads, decodes and verifies an object.
func (s *Store) Get(ctx context.Context, id objects.ID) ([]byte, error) {
	b, err := s.getStored(ctx, id)
	if err != nil {
		return nil, err
	}
	obj, err := objects.DecodeStored(b)
	if err != nil {
		return nil, &objects.CorruptError{ID: id, Err: err}
	}
	if got := objects.Sum(obj); got != id {
		return nil, &objects.CorruptError{ID: id, Err: fmt.Errorf("content hashes to %s", got)}
	}
	return obj, nil
}

// maxStored bounds the stored form of any object (the canonical bytes,
// the form's header, and slack for an incompressible zstd frame).
const maxStored = objects.MaxObjectSize + 1<<20

// getStored reads the stored form of id as kept, unverified.
func (s *Store) getStored(ctx context.Context, id objects.ID) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rc, info, _, err := s.core.GetObject(ctx, s.bucket, s.Key(id), minio.GetObjectOptions{})
	if err != nil {
		return nil, classify(ctx, "get", id, err)
	}
	defer rc.Close()
	if info.Size > maxStored {
		return nil, &objects.CorruptError{ID: id, Err: fmt.Errorf("s3 key %s holds %d bytes, more than any object", s.Key(id), info.Size)}
	}
	var b []byte
	if info.Size >= 0 {
		b = make([]byte, info.Size)
		_, err = io.ReadFull(rc, b)
	} else {
		b, err = io.ReadAll(io.LimitReader(rc, maxStored+1))
	}
	if err != nil {
		return nil, classify(ctx, "get", id, err)
	}
	s.sizes.set(id, int64(len(b)))
	return b, nil
}

// Put stores obj, compressed (objects.EncodeStored with opts.ElemSize),
// unless an object with its id is already there. Delta bases are not
// used: every key stands alone.
func (s *Store) Put(ctx context.Context, obj []byte, opts objects.PutOptions) (objects.ID, error) {
	if err := objects.CheckPut(obj); err != nil {
		return objects.ZeroID, err
	}
	if err := ctx.Err(); err != nil {
		return objects.ZeroID, err
	}
	id := objects.Sum(obj)
	if _, err := s.putStored(ctx, id, objects.EncodeStored(obj, opts.ElemSize)); err != nil {
		return objects.ZeroID, err
	}
	return id, nil
}

// putStored writes a self-contained stored form under id's key, once:
// it reports false when the key already held an object (the same one,
// the key being its id).
func (s *Store) putStored(ctx context.Context, id objects.ID, body []byte) (added bool, err error) {
	if len(body) > s.partSize {
		// a multipart upload is not worth starting for an object that
		// is there already
		if ok, err := s.Has(ctx, id); err != nil || ok {
			return false, err
		}
		return s.putMultipart(ctx, id, body)
	}
	sum := sha256.Sum256(body)
	opts := minio.PutObjectOptions{
		UserMetadata:     map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(sum[:])},
		DisableMultipart: true,
	}
	opts.SetMatchETagExcept("*")
	_, err = s.core.PutObject(ctx, s.bucket, s.Key(id), bytes.NewReader(body), int64(len(body)), "", hex.EncodeToString(sum[:]), opts)
	added, err = s.putResult(ctx, id, err)
	if added {
		s.sizes.set(id, int64(len(body)))
	}
	return added, err
}

// putResult classifies the outcome of a conditional write.
func (s *Store) putResult(ctx context.Context, id objects.ID, err error) (bool, error) {
	if err == nil {
		return true, nil
	}
	switch code(err) {
	case "PreconditionFailed":
		return false, nil // written before: same key, same object
	case "ConditionalRequestConflict":
		// another writer's upload of the same key finished meanwhile,
		// or is about to: present now is success, else retry later
		if ok, herr := s.Has(ctx, id); herr == nil && ok {
			return false, nil
		}
		return false, fmt.Errorf("s3 put %s: %w: a concurrent upload of the same key is in progress", s.Key(id), objects.ErrUnavailable)
	}
	return false, classify(ctx, "put", id, err)
}

// putMultipart uploads body in parts of partSize, each with its SHA-256
// checksum, and completes the upload only if the key is still absent. A
// failed upload is aborted, so no parts are left behind (unless the
// service cannot be reached for that either; a bucket lifecycle rule
// removing incomplete uploads after a day catches those, design §6a).
func (s *Store) putMultipart(ctx context.Context, id objects.ID, body []byte) (added bool, err error) {
	key := s.Key(id)
	init := minio.PutObjectOptions{UserMetadata: map[string]string{"x-amz-checksum-algorithm": "SHA256"}}
	upload, err := s.core.NewMultipartUpload(ctx, s.bucket, key, init)
	if err != nil {
		return false, classify(ctx, "start multipart upload of", id, err)
	}
	done := false
	defer func() {
		if !done {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			s.core.AbortMultipartUpload(actx, s.bucket, key, upload)
		}
	}()
	var parts []minio.CompletePart
	for n, off := 1, 0; off < len(body); n, off = n+1, off+s.partSize {
		part := body[off:min(off+s.partSize, len(body))]
		sum := sha256.Sum256(part)
		b64 := base64.StdEncoding.EncodeToString(sum[:])
		p, err := s.core.PutObjectPart(ctx, s.bucket, key, upload, n, bytes.NewReader(part), int64(len(part)), minio.PutObjectPartOptions{
			Sha256Hex:    hex.EncodeToString(sum[:]),
			CustomHeader: http.Header{"X-Amz-Checksum-Sha256": []string{b64}},
		})
		if err != nil {
			return false, classify(ctx, fmt.Sprintf("upload part %d of", n), id, err)
		}
		parts = append(parts, minio.CompletePart{PartNumber: n, ETag: p.ETag, ChecksumSHA256: b64})
	}
	opts := minio.PutObjectOptions{}
	opts.SetMatchETagExcept("*")
	_, err = s.core.CompleteMultipartUpload(ctx, s.bucket, key, upload, parts, opts)
	added, err = s.putResult(ctx, id, err)
	if err == nil && added {
		done = true // a completed upload has nothing to abort
		s.sizes.set(id, int64(len(body)))
	}
	return added, err
}

// Delete removes id's key; deleting an absent object is not an error.
func (s *Store) Delete(ctx context.Context, id objects.ID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.sizes.drop(id)
	err := s.core.RemoveObject(ctx, s.bucket, s.Key(id), minio.RemoveObjectOptions{})
	if err != nil {
		err = classify(ctx, "delete", id, err)
		if errors.Is(err, objects.ErrNotFound) {
			return nil
		}
		return err
	}
	return nil
}

// List calls fn for every object under the prefix, in key order. Keys
// that are not an object's (other files a person left there) are skipped.
func (s *Store) List(ctx context.Context, fn func(objects.ID) error) error {
	return s.ListWritten(ctx, func(id objects.ID, _ time.Time) error { return fn(id) })
}

// ListWritten is List with when the service says each key was written
// (its LastModified, by the service's clock): an object is written once,
// so that is when it was created, not when a writer last relied on it.
func (s *Store) ListWritten(ctx context.Context, fn func(objects.ID, time.Time) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ch := s.core.Client.ListObjects(lctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix, Recursive: true})
	var ferr error
	for oi := range ch {
		if ferr != nil {
			continue // drain after cancel
		}
		if oi.Err != nil {
			ferr = classify(ctx, "list", objects.ZeroID, oi.Err)
			cancel()
			continue
		}
		if err := ctx.Err(); err != nil {
			ferr = err
			cancel()
			continue
		}
		id, ok := s.idOf(oi.Key)
		if !ok {
			continue
		}
		if err := fn(id, oi.LastModified); err != nil {
			ferr = err
			cancel()
		}
	}
	if ferr == nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return ferr
}

// idOf returns the id whose key is key.
func (s *Store) idOf(key string) (objects.ID, bool) {
	rest, ok := strings.CutPrefix(key, s.prefix)
	if !ok || len(rest) != 65 || rest[2] != '/' {
		return objects.ZeroID, false
	}
	id, err := objects.ParseID(rest[:2] + rest[3:])
	if err != nil || id.String() != rest[:2]+rest[3:] {
		return objects.ZeroID, false
	}
	return id, true
}

// code returns the S3 error code of err, or "".
func code(err error) string {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		return er.Code
	}
	return ""
}

// classify turns an SDK error about id (ZeroID: about the bucket) into
// the store's: the context's error when it ended, *NotFoundError for an
// absent key, ErrUnavailable for what may work later, and an error naming
// the bucket and key otherwise.
func classify(ctx context.Context, op string, id objects.ID, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("s3 %s %s: %w: %v", op, subject(id), objects.ErrUnavailable, err)
	}
	var er minio.ErrorResponse
	if errors.As(err, &er) && er.StatusCode != 0 {
		switch {
		case er.Code == "NoSuchKey" || (er.StatusCode == http.StatusNotFound && er.Code != "NoSuchBucket" && !id.IsZero()):
			return &objects.NotFoundError{ID: id}
		case er.StatusCode >= 500 || er.StatusCode == http.StatusTooManyRequests || er.Code == "SlowDown" || er.Code == "RequestTimeout":
			return fmt.Errorf("s3 %s %s: %w: %d %s", op, subject(id), objects.ErrUnavailable, er.StatusCode, er.Code)
		}
		return &objects.RefusedError{Storage: "S3", Reason: fmt.Sprintf("%d %s", er.StatusCode, er.Code),
			Err: fmt.Errorf("s3 %s %s in bucket %s: %d %s: %s", op, subject(id), er.BucketName, er.StatusCode, er.Code, er.Message)}
	}
	// Below HTTP: refused, reset or cut connections, timeouts, DNS.
	var ne net.Error
	var ue *url.Error
	if errors.As(err, &ne) || errors.As(err, &ue) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("s3 %s %s: %w: %w", op, subject(id), objects.ErrUnavailable, err)
	}
	return fmt.Errorf("s3 %s %s: %w", op, subject(id), err)
}

func subject(id objects.ID) string {
	if id.IsZero() {
		return "objects"
	}
	return "object " + id.String()
}
