package meshkv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/meshkv/meshkv/clients/go/meshkvpb"
)

// ErrResume is wrapped by the error a Watch returns when it broke and cannot
// resume without a gap: the node restarted (it numbers revisions past the
// ones it used), its history no longer reaches back to the watch's
// revision, or another node serves now (revisions are per node). List again
// and watch from the listing's revision (or set WatchOptions.Resync to have
// the watch do it). status.Code of the error is OUT_OF_RANGE.
var ErrResume = errors.New("meshkv: watch cannot resume")

type resumeError struct{ msg string }

func (e *resumeError) Error() string   { return e.msg }
func (e *resumeError) Is(t error) bool { return t == ErrResume }
func (e *resumeError) GRPCStatus() *status.Status {
	return status.New(codes.OutOfRange, e.msg)
}

// WatchOptions are the WatchRequest's fields besides the prefix.
type WatchOptions struct {
	StartRevision    uint64 // 0: from now
	PrevValue        bool
	ProgressNotifyMs uint32 // idle streams learn the node's revision this often (>= 100; 0: never)
	Filter           pb.WatchRequest_Filter
	KeysOnly         bool
	// ReconnectTimeout: how long a broken watch keeps trying to reconnect
	// before Next returns the error (default 60 s; the first connection
	// gets the same).
	ReconnectTimeout time.Duration
	// Resync, when set, is what a watch that cannot resume does instead of
	// returning ErrResume: it lists the prefix again on the node it
	// reached, calls Resync (from Next) with the whole state there (replace
	// what you hold with it) and watches on from the listing's revision.
	Resync func(entries []*pb.Entry, revision uint64)
}

// Watch is a stream of events under a prefix, in revision order, each once,
// that reconnects (the same endpoint first, with backoff) when the stream
// breaks (UNAVAILABLE, or RESOURCE_EXHAUSTED: the node cut it off for
// falling behind) and resumes after the last revision it received, on the same node
// only (checked by node ID). Progress notifications advance that revision
// too, so an idle watch resumes from a recent revision.
//
// Next is for one goroutine; Close may be called from any.
type Watch struct {
	// Constant after construction.
	c   *Client
	req *pb.WatchRequest
	opt WatchOptions

	ctx    context.Context // Close cancels it
	cancel context.CancelFunc

	// State below is used by the goroutine calling Next only.
	stream      grpc.ServerStreamingClient[pb.WatchResponse]
	index       int
	pending     []*pb.Event
	pendingRev  uint64
	received    uint64    // the next stream starts after this revision
	mustRelist  bool      // the node cannot resume `received`: the next open lists again (Resync set)
	brokenSince time.Time // zero while connected
	lastErr     error

	mu         sync.Mutex
	revision   uint64 // guarded by mu: delivered through
	nodeID     string // guarded by mu
	started    bool   // guarded by mu: the server registered a stream
	reconnects int    // guarded by mu
}

// Watch starts watching prefix; the stream opens on the first Next.
func (c *Client) Watch(ctx context.Context, prefix []byte, opt WatchOptions) *Watch {
	if opt.ReconnectTimeout <= 0 {
		opt.ReconnectTimeout = 60 * time.Second
	}
	ctx, cancel := context.WithCancel(ctx)
	return &Watch{
		c: c, opt: opt, ctx: ctx, cancel: cancel, index: -1, received: opt.StartRevision,
		revision: opt.StartRevision,
		req: &pb.WatchRequest{Prefix: prefix, PrevValue: opt.PrevValue, ProgressNotifyMs: opt.ProgressNotifyMs,
			Filter: opt.Filter, KeysOnly: opt.KeysOnly},
	}
}

// Close ends the watch; Next then returns io.EOF.
func (w *Watch) Close() { w.cancel() }

// Revision is how far the watch has delivered: every change up to it that
// the watch wants has been returned by Next.
func (w *Watch) Revision() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.revision
}

// NodeID is the node serving the watch, whose revisions these are.
func (w *Watch) NodeID() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.nodeID
}

// Started reports whether the server has registered the watch: every
// change from then on is delivered.
func (w *Watch) Started() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.started
}

// Reconnects counts the streams opened after the first.
func (w *Watch) Reconnects() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reconnects
}

func (w *Watch) advance(rev uint64) {
	w.mu.Lock()
	w.revision = max(w.revision, rev)
	w.mu.Unlock()
}

// Next returns the next event; io.EOF once closed.
func (w *Watch) Next() (*pb.Event, error) {
	for {
		if len(w.pending) > 0 {
			ev := w.pending[0]
			w.pending = w.pending[1:]
			w.advance(ev.GetEntry().GetMeta().GetRevision())
			if len(w.pending) == 0 {
				w.advance(w.pendingRev)
			}
			return ev, nil
		}
		if w.ctx.Err() != nil {
			return nil, io.EOF
		}
		if w.stream == nil {
			if err := w.open(); err != nil {
				if w.ctx.Err() != nil {
					return nil, io.EOF
				}
				return nil, err
			}
			continue
		}
		resp, err := w.stream.Recv()
		if err != nil {
			if w.ctx.Err() != nil {
				return nil, io.EOF
			}
			code := status.Code(err)
			// Stopped, disconnected, cut off for falling behind, or cancelled
			// by a node shutting down (not by us: w.ctx is live): resume
			// from what was received (the node answers OUT_OF_RANGE if its
			// history no longer reaches back).
			if err == io.EOF || code == codes.Unavailable || code == codes.ResourceExhausted || code == codes.Canceled {
				w.broke(err)
				continue
			}
			if code == codes.OutOfRange && w.Started() {
				if w.opt.Resync != nil {
					w.stream, w.mustRelist = nil, true
					continue
				}
				return nil, &resumeError{fmt.Sprintf("meshkv: cannot resume the watch after revision %d on %s: %v",
					w.received, w.NodeID(), status.Convert(err).Message())}
			}
			return nil, err
		}
		w.brokenSince, w.lastErr = time.Time{}, nil
		switch {
		case resp.GetCreated():
			w.mu.Lock()
			w.started = true
			w.mu.Unlock()
			w.received = resp.GetRevision()
			w.advance(resp.GetRevision())
		case len(resp.GetEvents()) > 0:
			w.pending, w.pendingRev = resp.GetEvents(), resp.GetRevision()
			last := resp.GetEvents()[len(resp.GetEvents())-1].GetEntry().GetMeta().GetRevision()
			w.received = max(w.received, resp.GetRevision(), last)
		default: // a progress notification
			w.received = max(w.received, resp.GetRevision())
			w.advance(resp.GetRevision())
		}
	}
}

func (w *Watch) broke(err error) {
	w.stream, w.lastErr = nil, err
	if w.brokenSince.IsZero() {
		w.brokenSince = time.Now()
	}
}

// open opens a stream after w.received, retrying with backoff until the
// reconnect timeout.
func (w *Watch) open() error {
	if w.brokenSince.IsZero() {
		w.brokenSince = time.Now()
	}
	deadline := w.brokenSince.Add(w.opt.ReconnectTimeout)
	delay := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithDeadline(w.ctx, deadline)
		err := w.c.do(ctx, w.index, true, func(index int, conn *grpc.ClientConn) error {
			return w.start(ctx, index, conn)
		})
		cancel()
		if err == nil || errors.Is(err, ErrResume) || status.Code(err) != codes.Unavailable {
			return err
		}
		w.lastErr = err
		sleep := time.Duration(float64(delay) * (0.5 + rand.Float64()))
		if time.Now().Add(sleep).After(deadline) {
			return fmt.Errorf("meshkv: watch could not reconnect within %v: %w", w.opt.ReconnectTimeout, w.lastErr)
		}
		select {
		case <-time.After(sleep):
		case <-w.ctx.Done():
			return w.ctx.Err()
		}
		delay = min(2*delay, 2*time.Second)
	}
}

func (w *Watch) start(ctx context.Context, index int, conn *grpc.ClientConn) error {
	st, err := pb.NewClusterClient(conn).Status(ctx, &pb.StatusRequest{})
	if status.Code(err) == codes.Canceled && ctx.Err() == nil {
		// Cancelled by a node shutting down: try the next endpoint.
		return status.Error(codes.Unavailable, status.Convert(err).Message())
	}
	if err != nil {
		return err
	}
	after := w.received
	if w.mustRelist || (w.Started() && st.GetNodeId() != w.NodeID() && w.opt.Resync != nil) {
		l, err := list(ctx, conn, &pb.ListRequest{Prefix: w.req.Prefix, KeysOnly: w.req.KeysOnly})
		if err != nil {
			return err
		}
		w.opt.Resync(l.Entries, l.Revision)
		w.mustRelist, w.pending, w.received, after = false, nil, l.Revision, l.Revision
		w.mu.Lock()
		w.revision = l.Revision
		w.mu.Unlock()
	} else if w.Started() && st.GetNodeId() != w.NodeID() {
		return &resumeError{fmt.Sprintf("meshkv: the watch broke on node %s and the endpoint reached now is node %s; "+
			"revisions are per node, so list again there and watch from the listing", w.NodeID(), st.GetNodeId())}
	}
	req := &pb.WatchRequest{Prefix: w.req.Prefix, StartRevision: after, PrevValue: w.req.PrevValue,
		ProgressNotifyMs: w.req.ProgressNotifyMs, Filter: w.req.Filter, KeysOnly: w.req.KeysOnly}
	stream, err := pb.NewKeyValueClient(conn).Watch(w.ctx, req)
	if err != nil {
		return err
	}
	w.mu.Lock()
	if w.nodeID != "" {
		w.reconnects++
	}
	w.nodeID = st.GetNodeId()
	w.mu.Unlock()
	w.stream, w.index = stream, index
	return nil
}
