// Package meshkv is a small client for meshkv, a replicated key-value
// service: endpoints with failover, deadlines from the context, TLS, typed
// helpers for the KeyValue RPCs and a Watch that resumes by itself.
//
// A Client is safe for concurrent use by many goroutines.
//
//	c, err := meshkv.New(meshkv.Config{Endpoints: []string{"10.0.0.1:50051", "10.0.0.2:50051"}})
//	defer c.Close()
//	meta, err := c.Set(ctx, []byte("lock"), meshkv.Bytes("me"), meshkv.IfAbsent(), meshkv.TTL(10*time.Second))
//	entry, err := c.Get(ctx, []byte("lock")) // nil, nil when absent
//
// The first reachable endpoint serves every call until it fails; a call
// that finds it unreachable, or is answered UNAVAILABLE (the node is down,
// shutting down or not yet synced), moves on to the next one, within the
// context's deadline. A write answered UNAVAILABLE may still have been
// applied by that node (docs/design.md, "Guarantees under faults"), so a
// retried write can apply twice: harmless for Set, Delete, Update,
// ApplyDelta, Touch and DeletePrefix (the same effect again, or a failed
// precondition or NOT_FOUND). Pop and PopItem are never retried once sent.
// Errors are gRPC status errors (status.Code(err)).
package meshkv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/meshkv/meshkv/clients/go/meshkvpb"
)

// Config says where the cluster is and how to reach it.
type Config struct {
	// Endpoints are host:port gRPC addresses of the cluster's nodes, tried
	// in order.
	Endpoints []string
	// ConnectTimeout bounds how long one endpoint may take to connect
	// before the next is tried (default 3 s); the context's deadline bounds
	// the whole call.
	ConnectTimeout time.Duration
	// TLS, as the CLI's --cacert --cert --key: the CA that signed the nodes
	// (the system's roots when empty) and a client certificate for nodes
	// run with --client-ca. All empty (and TLSConfig nil): plaintext.
	CACert, Cert, Key string
	// TLSConfig, when set, is used as it is instead of the three files.
	TLSConfig *tls.Config
	// DialOptions are added to every connection.
	DialOptions []grpc.DialOption
}

// Client talks to one cluster through its endpoints.
type Client struct {
	// Constant after construction.
	endpoints      []*endpoint
	connectTimeout time.Duration

	mu      sync.Mutex
	current int // guarded by mu: the endpoint that served last
}

// New checks the configuration and loads the TLS files; it connects lazily.
func New(cfg Config) (*Client, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("meshkv: at least one endpoint (host:port) is needed")
	}
	creds, err := transportCredentials(cfg)
	if err != nil {
		return nil, err
	}
	c := &Client{connectTimeout: cfg.ConnectTimeout}
	if c.connectTimeout <= 0 {
		c.connectTimeout = 3 * time.Second
	}
	opts := append([]grpc.DialOption{grpc.WithTransportCredentials(creds)}, cfg.DialOptions...)
	for _, addr := range cfg.Endpoints {
		c.endpoints = append(c.endpoints, &endpoint{addr: addr, opts: opts})
	}
	return c, nil
}

func transportCredentials(cfg Config) (credentials.TransportCredentials, error) {
	if cfg.TLSConfig != nil {
		return credentials.NewTLS(cfg.TLSConfig), nil
	}
	if cfg.CACert == "" && cfg.Cert == "" && cfg.Key == "" {
		return insecure.NewCredentials(), nil
	}
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CACert != "" {
		pem, err := os.ReadFile(cfg.CACert)
		if err != nil {
			return nil, fmt.Errorf("meshkv: CA certificate: %w", err)
		}
		config.RootCAs = x509.NewCertPool()
		if !config.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("meshkv: %s holds no PEM certificate", cfg.CACert)
		}
	}
	if cfg.Cert != "" || cfg.Key != "" {
		pair, err := tls.LoadX509KeyPair(cfg.Cert, cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("meshkv: client certificate: %w", err)
		}
		config.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(config), nil
}

// Close closes every connection.
func (c *Client) Close() error {
	for _, e := range c.endpoints {
		e.close()
	}
	return nil
}

// endpoint is one address and its connection, made on first use and kept
// until the client closes: calls in flight on it (a Watch, other
// goroutines' calls) are never cut short because one call failed.
type endpoint struct {
	addr string
	opts []grpc.DialOption

	mu   sync.Mutex
	conn *grpc.ClientConn // guarded by mu
}

// ready returns the connection once it is READY, nil when it cannot
// connect within timeout or ctx.
func (e *endpoint) ready(ctx context.Context, timeout time.Duration) *grpc.ClientConn {
	e.mu.Lock()
	if e.conn == nil {
		conn, err := grpc.NewClient(e.addr, e.opts...)
		if err != nil {
			e.mu.Unlock()
			return nil
		}
		e.conn = conn
	}
	conn := e.conn
	e.mu.Unlock()

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	s := conn.GetState()
	if s == connectivity.TransientFailure {
		// A failure seen before this call says nothing about now: try again
		// at once rather than after gRPC's reconnect backoff.
		conn.ResetConnectBackoff()
		if !conn.WaitForStateChange(ctx, s) {
			return nil
		}
		s = conn.GetState()
	}
	conn.Connect()
	for {
		switch s {
		case connectivity.Ready:
			return conn
		case connectivity.TransientFailure, connectivity.Shutdown:
			return nil
		}
		if !conn.WaitForStateChange(ctx, s) {
			return nil
		}
		s = conn.GetState()
	}
}

func (e *endpoint) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.conn != nil {
		e.conn.Close()
		e.conn = nil
	}
}

// do runs call on the current endpoint, then on the next ones while they
// are unreachable or answer UNAVAILABLE (only unreachable ones when
// retrySent is false), within ctx. from < 0 means the current endpoint.
func (c *Client) do(ctx context.Context, from int, retrySent bool,
	call func(index int, conn *grpc.ClientConn) error) error {
	if from < 0 {
		c.mu.Lock()
		from = c.current
		c.mu.Unlock()
	}
	var problems []string
	for i := range c.endpoints {
		if ctx.Err() != nil {
			break
		}
		index := (from + i) % len(c.endpoints)
		e := c.endpoints[index]
		conn := e.ready(ctx, c.connectTimeout)
		if conn == nil {
			problems = append(problems, e.addr+": unreachable")
			continue
		}
		err := call(index, conn)
		if err == nil {
			c.mu.Lock()
			c.current = index
			c.mu.Unlock()
			return nil
		}
		if status.Code(err) != codes.Unavailable || !retrySent {
			return err
		}
		problems = append(problems, fmt.Sprintf("%s: %v", e.addr, err))
	}
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	return status.Errorf(codes.Unavailable, "meshkv: no endpoint could serve: %s", strings.Join(problems, "; "))
}

func (c *Client) kv(ctx context.Context, retrySent bool, call func(kv pb.KeyValueClient) error) error {
	return c.do(ctx, -1, retrySent, func(_ int, conn *grpc.ClientConn) error {
		return call(pb.NewKeyValueClient(conn))
	})
}

// Bytes is a bytes value.
func Bytes(s string) *pb.Value { return &pb.Value{Kind: &pb.Value_Bytes{Bytes: []byte(s)}} }

// Mapping is a mapping value.
func Mapping(fields map[string][]byte) *pb.Value {
	return &pb.Value{Kind: &pb.Value_Mapping{Mapping: &pb.Mapping{Fields: fields}}}
}

// WriteOption sets an optional field of a write.
type WriteOption func(*writeOptions)

type writeOptions struct {
	precondition *pb.Precondition
	ttlMs        int64
	minReplicas  uint32
}

// IfAbsent: write only if the key has no live value (FAILED_PRECONDITION otherwise).
func IfAbsent() WriteOption {
	return func(o *writeOptions) { o.precondition = &pb.Precondition{Kind: &pb.Precondition_Absent{Absent: true}} }
}

// IfVersion: write only if the key's current version is v (e.g. entry.Meta.Version).
func IfVersion(v *pb.Version) WriteOption {
	return func(o *writeOptions) { o.precondition = &pb.Precondition{Kind: &pb.Precondition_Version{Version: v}} }
}

// TTL: the key expires this long after the write (Set, ApplyDelta), in milliseconds on the wire.
func TTL(d time.Duration) WriteOption { return func(o *writeOptions) { o.ttlMs = d.Milliseconds() } }

// MinReplicas: how many other nodes must hold the write before it is acknowledged.
func MinReplicas(n uint32) WriteOption { return func(o *writeOptions) { o.minReplicas = n } }

func options(opts []WriteOption) writeOptions {
	var o writeOptions
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// Get returns the key's entry, or nil (and no error) when absent.
func (c *Client) Get(ctx context.Context, key []byte) (*pb.Entry, error) {
	var resp *pb.GetResponse
	err := c.kv(ctx, true, func(kv pb.KeyValueClient) (err error) {
		resp, err = kv.Get(ctx, &pb.GetRequest{Key: key})
		return err
	})
	if err != nil || !resp.GetFound() {
		return nil, err
	}
	return resp.GetEntry(), nil
}

// Set writes a whole value; IfAbsent, IfVersion, TTL and MinReplicas apply.
func (c *Client) Set(ctx context.Context, key []byte, value *pb.Value, opts ...WriteOption) (*pb.Meta, error) {
	o := options(opts)
	req := &pb.SetRequest{Key: key, Value: value, Precondition: o.precondition, TtlMs: o.ttlMs,
		MinReplicas: o.minReplicas}
	var resp *pb.SetResponse
	err := c.kv(ctx, true, func(kv pb.KeyValueClient) (err error) {
		resp, err = kv.Set(ctx, req)
		return err
	})
	return resp.GetMeta(), err
}

// Delete deletes a key (NOT_FOUND when absent); IfVersion and MinReplicas apply.
func (c *Client) Delete(ctx context.Context, key []byte, opts ...WriteOption) (*pb.DeleteResponse, error) {
	o := options(opts)
	req := &pb.DeleteRequest{Key: key, Precondition: o.precondition, MinReplicas: o.minReplicas}
	var resp *pb.DeleteResponse
	err := c.kv(ctx, true, func(kv pb.KeyValueClient) (err error) {
		resp, err = kv.Delete(ctx, req)
		return err
	})
	return resp, err
}

// ApplyDelta merges fields into a mapping (creating it) and removes
// removeFields; returns the merged entry.
func (c *Client) ApplyDelta(ctx context.Context, key []byte, fields map[string][]byte, removeFields []string,
	opts ...WriteOption) (*pb.Entry, error) {
	o := options(opts)
	req := &pb.ApplyDeltaRequest{Key: key, Delta: &pb.Mapping{Fields: fields}, RemoveFields: removeFields,
		Precondition: o.precondition, TtlMs: o.ttlMs, MinReplicas: o.minReplicas}
	var resp *pb.ApplyDeltaResponse
	err := c.kv(ctx, true, func(kv pb.KeyValueClient) (err error) {
		resp, err = kv.ApplyDelta(ctx, req)
		return err
	})
	return resp.GetEntry(), err
}

// Touch sets a live key's expiry to ttl from now (0: it no longer expires).
func (c *Client) Touch(ctx context.Context, key []byte, ttl time.Duration, opts ...WriteOption) (*pb.Meta, error) {
	req := &pb.TouchRequest{Key: key, TtlMs: ttl.Milliseconds(), MinReplicas: options(opts).minReplicas}
	var resp *pb.TouchResponse
	err := c.kv(ctx, true, func(kv pb.KeyValueClient) (err error) {
		resp, err = kv.Touch(ctx, req)
		return err
	})
	return resp.GetMeta(), err
}

// Pop reads and deletes a key; not retried on another endpoint once sent.
func (c *Client) Pop(ctx context.Context, key []byte, opts ...WriteOption) (*pb.Entry, error) {
	req := &pb.PopRequest{Key: key, MinReplicas: options(opts).minReplicas}
	var resp *pb.PopResponse
	err := c.kv(ctx, false, func(kv pb.KeyValueClient) (err error) {
		resp, err = kv.Pop(ctx, req)
		return err
	})
	return resp.GetEntry(), err
}

// DeletePrefix deletes every live key under prefix, all or nothing on the
// node (limit 0: the server's maximum); returns what it deleted.
func (c *Client) DeletePrefix(ctx context.Context, prefix []byte, limit uint32, opts ...WriteOption) ([]*pb.Entry, error) {
	req := &pb.DeletePrefixRequest{Prefix: prefix, Limit: limit, MinReplicas: options(opts).minReplicas}
	var resp *pb.DeletePrefixResponse
	err := c.kv(ctx, true, func(kv pb.KeyValueClient) (err error) {
		resp, err = kv.DeletePrefix(ctx, req)
		return err
	})
	return resp.GetDeleted(), err
}

// Listing is a whole List stream.
type Listing struct {
	Entries  []*pb.Entry // in key order
	Revision uint64      // watch from here to miss nothing after the listing
	More     bool        // the limit cut it short
}

// List reads every entry under prefix (limit 0: all of them).
func (c *Client) List(ctx context.Context, prefix []byte, limit uint32) (*Listing, error) {
	var l *Listing
	err := c.do(ctx, -1, true, func(_ int, conn *grpc.ClientConn) (err error) {
		l, err = list(ctx, conn, &pb.ListRequest{Prefix: prefix, Limit: limit})
		return err
	})
	return l, err
}

func list(ctx context.Context, conn *grpc.ClientConn, req *pb.ListRequest) (*Listing, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := pb.NewKeyValueClient(conn).List(ctx, req)
	if err != nil {
		return nil, err
	}
	l := &Listing{}
	for {
		page, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return l, nil
		}
		if err != nil {
			return nil, err
		}
		l.Entries = append(l.Entries, page.GetEntries()...)
		l.Revision, l.More = page.GetRevision(), page.GetMore()
	}
}

// Update writes many keys, all or nothing on the node; items are
// SetRequests (their Precondition and TtlMs apply; MinReplicas applies to
// the whole Update). Returns the metas in the items' order.
func (c *Client) Update(ctx context.Context, items []*pb.SetRequest, opts ...WriteOption) ([]*pb.Meta, error) {
	req := &pb.UpdateRequest{Items: items, MinReplicas: options(opts).minReplicas}
	var resp *pb.UpdateResponse
	err := c.kv(ctx, true, func(kv pb.KeyValueClient) (err error) {
		resp, err = kv.Update(ctx, req)
		return err
	})
	return resp.GetMetas(), err
}

// PopItem pops the first key in key order this node may delete (NOT_FOUND
// when none); not retried on another endpoint once sent.
func (c *Client) PopItem(ctx context.Context, opts ...WriteOption) (*pb.Entry, error) {
	req := &pb.PopItemRequest{MinReplicas: options(opts).minReplicas}
	var resp *pb.PopItemResponse
	err := c.kv(ctx, false, func(kv pb.KeyValueClient) (err error) {
		resp, err = kv.PopItem(ctx, req)
		return err
	})
	return resp.GetEntry(), err
}

// Count returns the number of live keys under prefix.
func (c *Client) Count(ctx context.Context, prefix []byte) (uint64, error) {
	var n uint64
	err := c.do(ctx, -1, true, func(_ int, conn *grpc.ClientConn) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, err := pb.NewKeyValueClient(conn).List(ctx, &pb.ListRequest{Prefix: prefix, CountOnly: true})
		if err != nil {
			return err
		}
		resp, err := stream.Recv()
		n = resp.GetCount()
		return err
	})
	return n, err
}
