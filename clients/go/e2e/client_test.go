// Tests of the meshkv client package against real servers: failover between
// endpoints, deadlines, TLS, and a Watch that resumes after its stream breaks
// (a TCP proxy whose connections the test cuts), from a progress
// notification, and that says so when it cannot (a restarted node, another
// node).
package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/meshkv/meshkv/clients/go/internal/testserver"
	"github.com/meshkv/meshkv/clients/go/meshkv"
	pb "github.com/meshkv/meshkv/clients/go/meshkvpb"
)

const waitTimeout = 20 * time.Second

func newMeshkv(t *testing.T, cfg meshkv.Config) *meshkv.Client {
	t.Helper()
	c, err := meshkv.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func endpoints(addrs ...string) meshkv.Config { return meshkv.Config{Endpoints: addrs} }

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", waitTimeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// resumingWatch reads a Watch on a goroutine, so the test can look at its
// revision meanwhile.
type resumingWatch struct {
	w     *meshkv.Watch
	items chan any // *pb.Event or error
}

func startResumingWatch(t *testing.T, c *meshkv.Client, prefix string, opt meshkv.WatchOptions) *resumingWatch {
	t.Helper()
	w := c.Watch(t.Context(), []byte(prefix), opt)
	t.Cleanup(w.Close)
	r := &resumingWatch{w: w, items: make(chan any, 100)}
	go func() {
		for {
			ev, err := w.Next()
			if err != nil {
				r.items <- err
				return
			}
			r.items <- ev
		}
	}()
	waitFor(t, "the watch to be created", w.Started)
	return r
}

func describeEvent(ev *pb.Event) string {
	s := fmt.Sprintf("%v %s", ev.GetType(), ev.GetEntry().GetKey())
	if ev.GetType() == pb.Event_UPDATE {
		s += "=" + string(ev.GetEntry().GetValue().GetBytes())
	}
	return s
}

func (r *resumingWatch) next(t *testing.T) (string, error) {
	t.Helper()
	select {
	case item := <-r.items:
		if err, ok := item.(error); ok {
			return "", err
		}
		return describeEvent(item.(*pb.Event)), nil
	case <-time.After(waitTimeout):
		t.Fatalf("no watch event within %v", waitTimeout)
		return "", nil
	}
}

func (r *resumingWatch) expect(t *testing.T, want ...string) {
	t.Helper()
	for _, w := range want {
		got, err := r.next(t)
		if err != nil || got != w {
			t.Fatalf("watch: got %q (%v), want %q", got, err, w)
		}
	}
}

func set(t *testing.T, c *meshkv.Client, key, value string, opts ...meshkv.WriteOption) *pb.Meta {
	t.Helper()
	meta, err := c.Set(ctxFor(t), []byte(key), meshkv.Bytes(value), opts...)
	if err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
	return meta
}

func TestClientHelpersAndPreconditions(t *testing.T) {
	c := newMeshkv(t, endpoints(testserver.Start(t).Addr))
	ctx := ctxFor(t)
	first := set(t, c, "lock", "me", meshkv.IfAbsent())
	if _, err := c.Set(ctx, []byte("lock"), meshkv.Bytes("you"), meshkv.IfAbsent()); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("second IfAbsent set: %v, want FailedPrecondition", err)
	}
	second := set(t, c, "lock", "me again", meshkv.IfVersion(first.GetVersion()))
	if _, err := c.Set(ctx, []byte("lock"), meshkv.Bytes("stale"), meshkv.IfVersion(first.GetVersion())); status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("set at a stale version: %v, want FailedPrecondition", err)
	}
	e, err := c.Get(ctx, []byte("lock"))
	if err != nil || string(e.GetValue().GetBytes()) != "me again" {
		t.Fatalf("Get(lock) = %v, %v; want \"me again\" (refused writes change nothing)", e, err)
	}
	if _, err := c.Delete(ctx, []byte("lock"), meshkv.IfVersion(second.GetVersion())); err != nil {
		t.Fatal(err)
	}
	if e, err := c.Get(ctx, []byte("lock")); e != nil || err != nil {
		t.Fatalf("Get after delete = %v, %v; want nil, nil", e, err)
	}

	m, err := c.ApplyDelta(ctx, []byte("profile"), map[string][]byte{"name": []byte("ada")}, nil)
	if err != nil || string(m.GetValue().GetMapping().GetFields()["name"]) != "ada" {
		t.Fatalf("ApplyDelta = %v, %v", m, err)
	}
	set(t, c, "q/a", "1")
	set(t, c, "q/b", "2")
	l, err := c.List(ctx, []byte("q/"), 1)
	if err != nil || len(l.Entries) != 1 || string(l.Entries[0].GetKey()) != "q/a" || !l.More {
		t.Fatalf("List(q/, limit 1) = %+v, %v", l, err)
	}
	if n, err := c.Count(ctx, []byte("q/")); err != nil || n != 2 {
		t.Fatalf("Count(q/) = %d, %v; want 2", n, err)
	}
	if p, err := c.Pop(ctx, []byte("q/a")); err != nil || string(p.GetValue().GetBytes()) != "1" {
		t.Fatalf("Pop(q/a) = %v, %v", p, err)
	}
	metas, err := c.Update(ctx, []*pb.SetRequest{{Key: []byte("q/c"), Value: meshkv.Bytes("3")},
		{Key: []byte("q/b"), Value: meshkv.Bytes("changed"), Precondition: &pb.Precondition{
			Kind: &pb.Precondition_Absent{Absent: true}}}})
	if status.Code(err) != codes.FailedPrecondition || metas != nil {
		t.Fatalf("Update with a failing precondition = %v, %v; want FailedPrecondition", metas, err)
	}
	if e, err := c.Get(ctx, []byte("q/c")); e != nil || err != nil {
		t.Fatalf("Get(q/c) after a refused Update = %v, %v; want absent (all or nothing)", e, err)
	}
	if p, err := c.PopItem(ctx); err != nil || string(p.GetKey()) != "profile" {
		t.Fatalf("PopItem = %v, %v; want profile (the first key)", p, err)
	}
}

func TestClientTTLAndTouch(t *testing.T) {
	c := newMeshkv(t, endpoints(testserver.Start(t).Addr))
	before := time.Now().UnixMilli()
	meta, err := c.Set(ctxFor(t), []byte("t/k"), meshkv.Bytes("v"), meshkv.TTL(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if e := meta.GetExpiresMs(); e < before+60000 || e > before+70000 {
		t.Fatalf("expires_ms = %d, want about %d", e, before+60000)
	}
	touched, err := c.Touch(ctxFor(t), []byte("t/k"), 2*time.Minute)
	if err != nil || touched.GetExpiresMs() < meta.GetExpiresMs()+50000 {
		t.Fatalf("Touch = %v, %v; want the expiry moved on by about a minute", touched, err)
	}

	r := startResumingWatch(t, c, "t/short", meshkv.WatchOptions{})
	set(t, c, "t/short", "v", meshkv.TTL(300*time.Millisecond))
	r.expect(t, "UPDATE t/short=v")
	select {
	case item := <-r.items:
		ev, ok := item.(*pb.Event)
		if !ok || ev.GetType() != pb.Event_DELETE || ev.GetReason() != pb.Event_EXPIRED {
			t.Fatalf("after the TTL: %v, want a DELETE with reason EXPIRED", item)
		}
	case <-time.After(waitTimeout):
		t.Fatal("no DELETE event after the TTL")
	}
}

func TestClientDeletePrefix(t *testing.T) {
	c := newMeshkv(t, endpoints(testserver.Start(t).Addr))
	for _, k := range []string{"p/a", "p/b", "q/c"} {
		set(t, c, k, "v")
	}
	deleted, err := c.DeletePrefix(ctxFor(t), []byte("p/"), 0)
	if err != nil || len(deleted) != 2 || string(deleted[0].GetKey()) != "p/a" || string(deleted[1].GetKey()) != "p/b" {
		t.Fatalf("DeletePrefix(p/) = %v, %v; want p/a, p/b", deleted, err)
	}
	if n, err := c.Count(ctxFor(t), []byte("q/")); err != nil || n != 1 {
		t.Fatalf("Count(q/) = %d, %v; want 1", n, err)
	}
}

func TestClientSkipsAnEndpointNobodyListensOn(t *testing.T) {
	srv := testserver.Start(t)
	c := newMeshkv(t, endpoints(freeAddr(t), srv.Addr))
	set(t, c, "k", "v")
	if e, err := c.Get(ctxFor(t), []byte("k")); err != nil || string(e.GetValue().GetBytes()) != "v" {
		t.Fatalf("Get(k) = %v, %v", e, err)
	}
}

func TestClientFailsOverWhenTheServingNodeStops(t *testing.T) {
	a := testserver.Start(t, "--node-id=go-a")
	b := testserver.Start(t, "--node-id=go-b")
	c := newMeshkv(t, endpoints(a.Addr, b.Addr))
	if owner := set(t, c, "k", "on a").GetOwner(); owner != "go-a" {
		t.Fatalf("first write served by %s, want go-a (the first endpoint)", owner)
	}
	a.Stop(t)
	if owner := set(t, c, "k", "on b").GetOwner(); owner != "go-b" {
		t.Fatalf("write after go-a stopped served by %s, want go-b", owner)
	}
}

// TestClientAFailedCallLeavesAWatchAlone: a node that has not synced yet
// (its only seed is dead) answers writes Unavailable and serves watches;
// the failed write must not cut the watch open on the same connection.
func TestClientAFailedCallLeavesAWatchAlone(t *testing.T) {
	srv := testserver.Start(t, "--join="+freeAddr(t), "--initial-sync-timeout=10m")
	c := newMeshkv(t, endpoints(srv.Addr))
	r := startResumingWatch(t, c, "x/", meshkv.WatchOptions{})
	if _, err := c.Set(ctxFor(t), []byte("x/a"), meshkv.Bytes("1")); status.Code(err) != codes.Unavailable {
		t.Fatalf("Set on an unsynced node: %v, want Unavailable", err)
	}
	// A cut stream would be re-opened within the watch's first backoff (50-75 ms).
	select {
	case item := <-r.items:
		t.Fatalf("the watch delivered %v after another call failed", item)
	case <-time.After(time.Second):
	}
	if n := r.w.Reconnects(); n != 0 {
		t.Fatalf("the watch reconnected %d times: another call's failure cut its stream", n)
	}
}

func TestClientEveryEndpointDown(t *testing.T) {
	c := newMeshkv(t, meshkv.Config{Endpoints: []string{freeAddr(t), freeAddr(t)}, ConnectTimeout: 2 * time.Second})
	_, err := c.Get(ctxFor(t), []byte("k"))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("Get with every endpoint down: %v, want Unavailable", err)
	}
}

func TestClientDeadline(t *testing.T) {
	// Accepts TCP connections (the kernel's backlog) and never answers.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	c := newMeshkv(t, meshkv.Config{Endpoints: []string{silent.Addr().String()}, ConnectTimeout: time.Minute})
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	start := time.Now()
	_, err = c.Get(ctx, []byte("k"))
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("Get against a silent endpoint: %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("Get took %v: the context's deadline, not the connect timeout, should end it", d)
	}
}

func TestClientTLS(t *testing.T) {
	srv := testserver.StartTLS(t)
	c := newMeshkv(t, meshkv.Config{Endpoints: []string{srv.Addr}, CACert: srv.CACert, Cert: srv.Cert, Key: srv.Key})
	set(t, c, "tls/k", "v")
	r := startResumingWatch(t, c, "tls/", meshkv.WatchOptions{StartRevision: 1})
	r.expect(t, "UPDATE tls/k=v")

	anonymous := newMeshkv(t, meshkv.Config{Endpoints: []string{srv.Addr}, CACert: srv.CACert})
	if _, err := anonymous.Get(ctxFor(t), []byte("tls/k")); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("Get without a client certificate: %v, want Unauthenticated", err)
	}
	if _, err := meshkv.New(meshkv.Config{Endpoints: []string{srv.Addr}, CACert: filepath.Join(t.TempDir(), "none")}); err == nil {
		t.Fatal("New with a missing CA file: no error")
	}
}

func TestWatchResumesAfterTheStreamBreaks(t *testing.T) {
	srv := testserver.Start(t)
	proxy := testserver.StartProxy(t, srv.Addr)
	direct := newMeshkv(t, endpoints(srv.Addr))
	r := startResumingWatch(t, newMeshkv(t, endpoints(proxy.Addr)), "w/", meshkv.WatchOptions{})
	set(t, direct, "w/a", "1")
	r.expect(t, "UPDATE w/a=1")

	proxy.Cut()
	// Written while the stream is broken or being re-established: each once, in order.
	set(t, direct, "w/b", "2")
	if _, err := direct.Delete(ctxFor(t), []byte("w/a")); err != nil {
		t.Fatal(err)
	}
	last := set(t, direct, "w/c", "3")
	r.expect(t, "UPDATE w/b=2", "DELETE w/a", "UPDATE w/c=3")
	if n := r.w.Reconnects(); n != 1 {
		t.Errorf("Reconnects() = %d, want 1", n)
	}
	if n := proxy.Accepted(); n < 2 {
		t.Errorf("the proxy carried %d connections, want a reconnection", n)
	}
	if got := r.w.Revision(); got != last.GetRevision() {
		t.Errorf("Revision() = %d, want %d (w/c's)", got, last.GetRevision())
	}
	select {
	case item := <-r.items:
		t.Errorf("an extra watch item: %v", item)
	case <-time.After(200 * time.Millisecond):
	}
}

// historyFlag is small enough for writesPastTheHistory to push the watch's
// last event (w/a) out of it, and large enough that the live stream, which
// reads the history as the writes come, never falls out of it on a loaded
// machine (the node would cut it off).
const historyFlag = "--watch-history=64"

// writesPastTheHistory writes 200 keys the watch does not watch.
func writesPastTheHistory(t *testing.T, c *meshkv.Client) uint64 {
	var head uint64
	for i := range 200 {
		head = set(t, c, fmt.Sprintf("other/%d", i), "x").GetRevision()
	}
	return head
}

func TestWatchResumesFromAProgressNotification(t *testing.T) {
	srv := testserver.Start(t, historyFlag)
	proxy := testserver.StartProxy(t, srv.Addr)
	direct := newMeshkv(t, endpoints(srv.Addr))
	r := startResumingWatch(t, newMeshkv(t, endpoints(proxy.Addr)), "w/", meshkv.WatchOptions{ProgressNotifyMs: 100})
	set(t, direct, "w/a", "1")
	r.expect(t, "UPDATE w/a=1")
	head := writesPastTheHistory(t, direct)
	waitFor(t, fmt.Sprintf("a progress notification up to revision %d", head), func() bool { return r.w.Revision() >= head })

	proxy.Cut()
	set(t, direct, "w/b", "2")
	r.expect(t, "UPDATE w/b=2") // resumed from the notified revision, still in the history
}

// The companion: without progress notifications the same watch cannot
// resume, and says so rather than skip events.
func TestWatchWithoutProgressReportsALostHistory(t *testing.T) {
	srv := testserver.Start(t, historyFlag)
	proxy := testserver.StartProxy(t, srv.Addr)
	direct := newMeshkv(t, endpoints(srv.Addr))
	r := startResumingWatch(t, newMeshkv(t, endpoints(proxy.Addr)), "w/", meshkv.WatchOptions{})
	set(t, direct, "w/a", "1")
	r.expect(t, "UPDATE w/a=1")
	writesPastTheHistory(t, direct)
	proxy.Cut()
	if _, err := r.next(t); !errors.Is(err, meshkv.ErrResume) || status.Code(err) != codes.OutOfRange {
		t.Fatalf("watch after a lost history: %v, want ErrResume with OutOfRange", err)
	}
}

func TestWatchAfterARestartReportsIt(t *testing.T) {
	flags := []string{"--data-dir=" + t.TempDir(), "--grpc-addr=" + freeAddr(t)}
	srv := testserver.Start(t, flags...)
	c := newMeshkv(t, endpoints(srv.Addr))
	r := startResumingWatch(t, c, "w/", meshkv.WatchOptions{})
	set(t, c, "w/a", "1")
	r.expect(t, "UPDATE w/a=1")
	srv.Stop(t)
	testserver.Start(t, flags...) // same address and data directory: revisions go on past the old ones
	if _, err := r.next(t); !errors.Is(err, meshkv.ErrResume) {
		t.Fatalf("watch across a restart: %v, want ErrResume", err)
	}
}

// resynced is what a WatchOptions.Resync callback hands to the test.
type resynced struct {
	keys     map[string]string
	revision uint64
}

func (r *resumingWatch) resync(entries []*pb.Entry, revision uint64) {
	keys := map[string]string{}
	for _, e := range entries {
		keys[string(e.GetKey())] = string(e.GetValue().GetBytes())
	}
	r.items <- resynced{keys, revision}
}

func (r *resumingWatch) expectResync(t *testing.T) resynced {
	t.Helper()
	select {
	case item := <-r.items:
		rs, ok := item.(resynced)
		if !ok {
			t.Fatalf("watch: got %v, want a resync", item)
		}
		return rs
	case <-time.After(waitTimeout):
		t.Fatalf("no resync within %v", waitTimeout)
		return resynced{}
	}
}

func startResyncingWatch(t *testing.T, c *meshkv.Client, prefix string) *resumingWatch {
	t.Helper()
	r := &resumingWatch{items: make(chan any, 100)}
	r.w = c.Watch(t.Context(), []byte(prefix), meshkv.WatchOptions{Resync: r.resync})
	t.Cleanup(r.w.Close)
	go func() {
		for {
			ev, err := r.w.Next()
			if err != nil {
				r.items <- err
				return
			}
			r.items <- ev
		}
	}()
	waitFor(t, "the watch to be created", r.w.Started)
	return r
}

func TestWatchResyncsOnAnotherNode(t *testing.T) {
	a := testserver.Start(t, "--node-id=go-a")
	b := testserver.Start(t, "--node-id=go-b")
	onB := newMeshkv(t, endpoints(b.Addr))
	set(t, onB, "w/on-b", "x")
	r := startResyncingWatch(t, newMeshkv(t, endpoints(a.Addr, b.Addr)), "w/")
	a.Stop(t)
	if rs := r.expectResync(t); fmt.Sprint(rs.keys) != "map[w/on-b:x]" {
		t.Fatalf("resync on go-b: %v, want w/on-b only", rs.keys)
	}
	if r.w.NodeID() != "go-b" {
		t.Fatalf("NodeID() = %q after the resync, want go-b", r.w.NodeID())
	}
	set(t, onB, "w/later", "y")
	r.expect(t, "UPDATE w/later=y")
}

// TestWatchResyncsAfterARestart: with Resync set, the watch that cannot
// resume on the restarted node lists again, hands over the whole state and
// goes on.
func TestWatchResyncsAfterARestart(t *testing.T) {
	flags := []string{"--data-dir=" + t.TempDir(), "--grpc-addr=" + freeAddr(t)}
	srv := testserver.Start(t, flags...)
	c := newMeshkv(t, endpoints(srv.Addr))
	set(t, c, "w/a", "1")
	r := startResyncingWatch(t, c, "w/")
	set(t, c, "w/b", "2")
	r.expect(t, "UPDATE w/b=2")

	srv.Stop(t)
	testserver.Start(t, flags...)
	set(t, c, "w/c", "3") // before or after the watch lists again
	rs := r.expectResync(t)
	if _, ok := rs.keys["w/c"]; !ok {
		r.expect(t, "UPDATE w/c=3") // the listing came first
		rs.keys["w/c"] = "3"
	}
	if want := map[string]string{"w/a": "1", "w/b": "2", "w/c": "3"}; fmt.Sprint(rs.keys) != fmt.Sprint(want) {
		t.Fatalf("resync state %v, want %v", rs.keys, want)
	}
	set(t, c, "w/d", "4")
	r.expect(t, "UPDATE w/d=4")
	if got := r.w.Revision(); got < rs.revision {
		t.Errorf("Revision() = %d, want >= the listing's %d", got, rs.revision)
	}
}

func TestWatchOnAnotherNodeReportsIt(t *testing.T) {
	a := testserver.Start(t, "--node-id=go-a")
	b := testserver.Start(t, "--node-id=go-b")
	r := startResumingWatch(t, newMeshkv(t, endpoints(a.Addr, b.Addr)), "w/", meshkv.WatchOptions{})
	if r.w.NodeID() != "go-a" {
		t.Fatalf("NodeID() = %q, want go-a", r.w.NodeID())
	}
	a.Stop(t)
	_, err := r.next(t)
	if !errors.Is(err, meshkv.ErrResume) {
		t.Fatalf("watch after its node stopped: %v, want ErrResume (revisions are per node)", err)
	}
}
