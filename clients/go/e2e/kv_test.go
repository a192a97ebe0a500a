// End-to-end tests of the Go client against a real meshkv-server (found
// through MESHKV_BIN_DIR): every KeyValue RPC, its status codes, Watch and
// list-then-watch.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/meshkv/meshkv/clients/go/internal/testserver"
	pb "github.com/meshkv/meshkv/clients/go/meshkvpb"
)

// rpcTimeout bounds every RPC and every wait for a watch event, so that a
// missing event fails the test instead of hanging it.
const rpcTimeout = 10 * time.Second

func newClient(t *testing.T, extraFlags ...string) pb.KeyValueClient {
	t.Helper()
	return pb.NewKeyValueClient(testserver.Start(t, extraFlags...).Dial(t))
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), rpcTimeout)
	t.Cleanup(cancel)
	return ctx
}

func bytesValue(s string) *pb.Value { return &pb.Value{Kind: &pb.Value_Bytes{Bytes: []byte(s)}} }

func mustSet(t *testing.T, kv pb.KeyValueClient, key, value string) *pb.Meta {
	t.Helper()
	resp, err := kv.Set(ctxFor(t), &pb.SetRequest{Key: []byte(key), Value: bytesValue(value)})
	if err != nil {
		t.Fatalf("Set(%q): %v", key, err)
	}
	return resp.GetMeta()
}

// mustGet returns the entry of a present key, failing the test if absent.
func mustGet(t *testing.T, kv pb.KeyValueClient, key string) *pb.Entry {
	t.Helper()
	resp, err := kv.Get(ctxFor(t), &pb.GetRequest{Key: []byte(key)})
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if !resp.GetFound() {
		t.Fatalf("Get(%q): found=false, want the key", key)
	}
	return resp.GetEntry()
}

func wantAbsent(t *testing.T, kv pb.KeyValueClient, key string) {
	t.Helper()
	resp, err := kv.Get(ctxFor(t), &pb.GetRequest{Key: []byte(key)})
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if resp.GetFound() || resp.GetEntry() != nil {
		t.Fatalf("Get(%q) = %v, want found=false and no entry", key, resp)
	}
}

func wantBytes(t *testing.T, what string, v *pb.Value, want string) {
	t.Helper()
	b, ok := v.GetKind().(*pb.Value_Bytes)
	if !ok {
		t.Fatalf("%s: value %v, want bytes %q", what, v, want)
	}
	if string(b.Bytes) != want {
		t.Fatalf("%s: value %q, want %q", what, b.Bytes, want)
	}
}

func wantCode(t *testing.T, what string, err error, want codes.Code) {
	t.Helper()
	if got := status.Code(err); got != want {
		t.Fatalf("%s: status %v (%v), want %v", what, got, err, want)
	}
}

func TestHealthServing(t *testing.T) {
	srv := testserver.Start(t)
	resp, err := grpc_health_v1.NewHealthClient(srv.Dial(t)).Check(ctxFor(t), &grpc_health_v1.HealthCheckRequest{})
	if err != nil {
		t.Fatalf("Health/Check: %v", err)
	}
	if resp.GetStatus() != grpc_health_v1.HealthCheckResponse_SERVING {
		t.Fatalf("Health/Check = %v, want SERVING", resp.GetStatus())
	}
}

func TestSetGet(t *testing.T) {
	kv := newClient(t)
	before := time.Now().UnixMilli()
	meta := mustSet(t, kv, "greeting", "hello")
	if meta.GetOwner() != "go-test" {
		t.Errorf("Set meta.owner = %q, want go-test (the node ID)", meta.GetOwner())
	}
	if meta.GetRevision() == 0 {
		t.Errorf("Set meta.revision = 0, want > 0")
	}
	if ts := meta.GetTimestampMs(); ts < before-1000 || ts > time.Now().UnixMilli()+1000 {
		t.Errorf("Set meta.timestamp_ms = %d, want about now (%d)", ts, before)
	}
	// Leasing is on by default, for one hour.
	if got, want := meta.GetLeaseExpiresMs()-meta.GetTimestampMs(), time.Hour.Milliseconds(); got != want {
		t.Errorf("lease_expires_ms - timestamp_ms = %d, want %d", got, want)
	}

	e := mustGet(t, kv, "greeting")
	if string(e.GetKey()) != "greeting" {
		t.Errorf("Get entry.key = %q", e.GetKey())
	}
	wantBytes(t, "Get(greeting)", e.GetValue(), "hello")
	if !proto.Equal(e.GetMeta(), meta) {
		t.Errorf("Get meta = %v, want the Set's %v", e.GetMeta(), meta)
	}

	meta2 := mustSet(t, kv, "greeting", "bonjour")
	if meta2.GetRevision() <= meta.GetRevision() {
		t.Errorf("overwrite revision %d, want > %d", meta2.GetRevision(), meta.GetRevision())
	}
	wantBytes(t, "Get after overwrite", mustGet(t, kv, "greeting").GetValue(), "bonjour")

	// Keys are bytes: UTF-8 and binary keys round-trip; empty values are values.
	for _, key := range []string{"测试", "bin\x00\xff\x01"} {
		mustSet(t, kv, key, "v:"+key)
		e := mustGet(t, kv, key)
		if !bytes.Equal(e.GetKey(), []byte(key)) {
			t.Errorf("Get(%q).key = %q", key, e.GetKey())
		}
		wantBytes(t, fmt.Sprintf("Get(%q)", key), e.GetValue(), "v:"+key)
	}
	mustSet(t, kv, "empty", "")
	wantBytes(t, "Get(empty)", mustGet(t, kv, "empty").GetValue(), "")

	wantAbsent(t, kv, "absent")
	resp, err := kv.Get(ctxFor(t), &pb.GetRequest{Key: []byte("absent")})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetRevision() < meta2.GetRevision() {
		t.Errorf("Get.revision = %d, want >= %d (the node's revision)", resp.GetRevision(), meta2.GetRevision())
	}
}

func TestStatusCodes(t *testing.T) {
	kv := newClient(t)
	mustSet(t, kv, "plain", "bytes value")
	bigKey := strings.Repeat("k", 4097)
	bigValue := strings.Repeat("v", 1<<20+1)

	for _, tc := range []struct {
		name string
		call func(ctx context.Context) error
		want codes.Code
	}{
		{"Get empty key", func(ctx context.Context) error {
			_, err := kv.Get(ctx, &pb.GetRequest{})
			return err
		}, codes.InvalidArgument},
		{"Set empty key", func(ctx context.Context) error {
			_, err := kv.Set(ctx, &pb.SetRequest{Value: bytesValue("x")})
			return err
		}, codes.InvalidArgument},
		{"Set without a value", func(ctx context.Context) error {
			_, err := kv.Set(ctx, &pb.SetRequest{Key: []byte("novalue")})
			return err
		}, codes.InvalidArgument},
		{"Set key over 4 KiB", func(ctx context.Context) error {
			_, err := kv.Set(ctx, &pb.SetRequest{Key: []byte(bigKey), Value: bytesValue("x")})
			return err
		}, codes.InvalidArgument},
		{"Set value over 1 MiB", func(ctx context.Context) error {
			_, err := kv.Set(ctx, &pb.SetRequest{Key: []byte("plain"), Value: bytesValue(bigValue)})
			return err
		}, codes.InvalidArgument},
		{"Delete absent key", func(ctx context.Context) error {
			_, err := kv.Delete(ctx, &pb.DeleteRequest{Key: []byte("absent")})
			return err
		}, codes.NotFound},
		{"Delete empty key", func(ctx context.Context) error {
			_, err := kv.Delete(ctx, &pb.DeleteRequest{})
			return err
		}, codes.InvalidArgument},
		{"Pop absent key", func(ctx context.Context) error {
			_, err := kv.Pop(ctx, &pb.PopRequest{Key: []byte("absent")})
			return err
		}, codes.NotFound},
		{"ApplyDelta onto bytes", func(ctx context.Context) error {
			_, err := kv.ApplyDelta(ctx, &pb.ApplyDeltaRequest{Key: []byte("plain"),
				Delta: &pb.Mapping{Fields: map[string][]byte{"f": []byte("1")}}})
			return err
		}, codes.FailedPrecondition},
		{"ApplyDelta empty key", func(ctx context.Context) error {
			_, err := kv.ApplyDelta(ctx, &pb.ApplyDeltaRequest{Delta: &pb.Mapping{}})
			return err
		}, codes.InvalidArgument},
		{"Update with a key twice", func(ctx context.Context) error {
			_, err := kv.Update(ctx, &pb.UpdateRequest{Items: []*pb.SetRequest{
				{Key: []byte("dup"), Value: bytesValue("1")}, {Key: []byte("dup"), Value: bytesValue("2")}}})
			return err
		}, codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, tc.name, tc.call(ctxFor(t)), tc.want) })
	}

	// Refused requests change nothing.
	wantBytes(t, "plain after refusals", mustGet(t, kv, "plain").GetValue(), "bytes value")
	for _, key := range []string{"novalue", "dup"} {
		wantAbsent(t, kv, key)
	}
	// A key over the limit cannot exist: even Get refuses it.
	_, getErr := kv.Get(ctxFor(t), &pb.GetRequest{Key: []byte(bigKey)})
	wantCode(t, "get of an oversized key", getErr, codes.InvalidArgument)
	// The limits themselves are allowed.
	mustSet(t, kv, strings.Repeat("k", 4096), strings.Repeat("v", 1<<20))
}

func TestDelete(t *testing.T) {
	kv := newClient(t)
	setMeta := mustSet(t, kv, "doomed", "bye")
	resp, err := kv.Delete(ctxFor(t), &pb.DeleteRequest{Key: []byte("doomed")})
	if err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if string(resp.GetPrev().GetKey()) != "doomed" {
		t.Errorf("Delete prev.key = %q", resp.GetPrev().GetKey())
	}
	wantBytes(t, "Delete prev", resp.GetPrev().GetValue(), "bye")
	if resp.GetMeta().GetRevision() <= setMeta.GetRevision() {
		t.Errorf("Delete meta.revision = %d, want > %d", resp.GetMeta().GetRevision(), setMeta.GetRevision())
	}
	wantAbsent(t, kv, "doomed")
	_, err = kv.Delete(ctxFor(t), &pb.DeleteRequest{Key: []byte("doomed")})
	wantCode(t, "second Delete", err, codes.NotFound)
	// A deleted key can be written again.
	mustSet(t, kv, "doomed", "back")
	wantBytes(t, "Get after re-Set", mustGet(t, kv, "doomed").GetValue(), "back")
}

func TestUpdate(t *testing.T) {
	kv := newClient(t)
	resp, err := kv.Update(ctxFor(t), &pb.UpdateRequest{Items: []*pb.SetRequest{
		{Key: []byte("u/b"), Value: bytesValue("2")},
		{Key: []byte("u/a"), Value: bytesValue("1")},
		{Key: []byte("u/c"), Value: &pb.Value{Kind: &pb.Value_Mapping{Mapping: &pb.Mapping{
			Fields: map[string][]byte{"x": []byte("y")}}}}},
	}})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if len(resp.GetMetas()) != 3 {
		t.Fatalf("Update returned %d metas, want 3", len(resp.GetMetas()))
	}
	// Metas come in the request's order: each matches its key's Get.
	for i, key := range []string{"u/b", "u/a", "u/c"} {
		if got := mustGet(t, kv, key).GetMeta(); !proto.Equal(got, resp.GetMetas()[i]) {
			t.Errorf("metas[%d] = %v, want Get(%s).meta %v", i, resp.GetMetas()[i], key, got)
		}
	}
	wantBytes(t, "u/b", mustGet(t, kv, "u/b").GetValue(), "2")
	wantBytes(t, "u/a", mustGet(t, kv, "u/a").GetValue(), "1")
	if f := mustGet(t, kv, "u/c").GetValue().GetMapping().GetFields(); string(f["x"]) != "y" || len(f) != 1 {
		t.Errorf("u/c = %v, want mapping {x: y}", f)
	}

	// All or nothing: one invalid item and none is written.
	_, err = kv.Update(ctxFor(t), &pb.UpdateRequest{Items: []*pb.SetRequest{
		{Key: []byte("u/a"), Value: bytesValue("changed")},
		{Key: []byte(""), Value: bytesValue("bad")},
		{Key: []byte("u/new"), Value: bytesValue("new")},
	}})
	wantCode(t, "Update with an empty key", err, codes.InvalidArgument)
	wantBytes(t, "u/a after a refused Update", mustGet(t, kv, "u/a").GetValue(), "1")
	wantAbsent(t, kv, "u/new")
}

func TestApplyDelta(t *testing.T) {
	kv := newClient(t)
	delta := func(key string, fields map[string]string) *pb.Entry {
		t.Helper()
		m := &pb.Mapping{Fields: map[string][]byte{}}
		for k, v := range fields {
			m.Fields[k] = []byte(v)
		}
		resp, err := kv.ApplyDelta(ctxFor(t), &pb.ApplyDeltaRequest{Key: []byte(key), Delta: m})
		if err != nil {
			t.Fatalf("ApplyDelta(%s, %v): %v", key, fields, err)
		}
		return resp.GetEntry()
	}
	wantFields := func(what string, v *pb.Value, want map[string]string) {
		t.Helper()
		m, ok := v.GetKind().(*pb.Value_Mapping)
		if !ok {
			t.Fatalf("%s: value %v, want a mapping", what, v)
		}
		got := map[string]string{}
		for k, f := range m.Mapping.GetFields() {
			got[k] = string(f)
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s: fields %v, want %v", what, got, want)
		}
	}

	e := delta("profile", map[string]string{"name": "ada", "lang": "en"})
	wantFields("first ApplyDelta (creates the mapping)", e.GetValue(), map[string]string{"name": "ada", "lang": "en"})
	if string(e.GetKey()) != "profile" || e.GetMeta().GetOwner() != "go-test" {
		t.Errorf("ApplyDelta entry key %q owner %q", e.GetKey(), e.GetMeta().GetOwner())
	}
	e = delta("profile", map[string]string{"lang": "fr", "city": "paris"})
	want := map[string]string{"name": "ada", "lang": "fr", "city": "paris"}
	wantFields("second ApplyDelta (merges)", e.GetValue(), want)
	wantFields("Get after ApplyDelta", mustGet(t, kv, "profile").GetValue(), want)

	// An empty delta onto an absent key creates {}.
	wantFields("empty delta", delta("blank", nil).GetValue(), map[string]string{})
	wantFields("Get(blank)", mustGet(t, kv, "blank").GetValue(), map[string]string{})

	// A whole-value Set replaces the mapping by bytes; a delta is then refused.
	mustSet(t, kv, "profile", "flat")
	_, err := kv.ApplyDelta(ctxFor(t), &pb.ApplyDeltaRequest{Key: []byte("profile"),
		Delta: &pb.Mapping{Fields: map[string][]byte{"a": []byte("b")}}})
	wantCode(t, "ApplyDelta onto bytes", err, codes.FailedPrecondition)
	wantBytes(t, "profile after a refused delta", mustGet(t, kv, "profile").GetValue(), "flat")
}

func TestPop(t *testing.T) {
	kv := newClient(t)
	mustSet(t, kv, "job", "payload")
	resp, err := kv.Pop(ctxFor(t), &pb.PopRequest{Key: []byte("job")})
	if err != nil {
		t.Fatalf("Pop: %v", err)
	}
	if string(resp.GetEntry().GetKey()) != "job" {
		t.Errorf("Pop entry.key = %q", resp.GetEntry().GetKey())
	}
	wantBytes(t, "Pop", resp.GetEntry().GetValue(), "payload")
	wantAbsent(t, kv, "job")
	_, err = kv.Pop(ctxFor(t), &pb.PopRequest{Key: []byte("job")})
	wantCode(t, "second Pop", err, codes.NotFound)
}

func TestPopItem(t *testing.T) {
	kv := newClient(t) // a fresh, empty node
	_, err := kv.PopItem(ctxFor(t), &pb.PopItemRequest{})
	wantCode(t, "PopItem on an empty node", err, codes.NotFound)

	for _, k := range []string{"q/b", "q/c", "q/a"} {
		mustSet(t, kv, k, "v"+k)
	}
	for _, want := range []string{"q/a", "q/b", "q/c"} { // key order
		resp, err := kv.PopItem(ctxFor(t), &pb.PopItemRequest{})
		if err != nil {
			t.Fatalf("PopItem (want %s): %v", want, err)
		}
		if got := string(resp.GetEntry().GetKey()); got != want {
			t.Fatalf("PopItem popped %q, want %q (the first key in key order)", got, want)
		}
		wantBytes(t, "PopItem "+want, resp.GetEntry().GetValue(), "v"+want)
		wantAbsent(t, kv, want)
	}
	_, err = kv.PopItem(ctxFor(t), &pb.PopItemRequest{})
	wantCode(t, "PopItem once all are popped", err, codes.NotFound)
}

// listAll reads a whole List stream: its entries, the revision of each page,
// and the last page's `more`.
func listAll(t *testing.T, kv pb.KeyValueClient, req *pb.ListRequest) (entries []*pb.Entry, revisions []uint64, more bool) {
	t.Helper()
	stream, err := kv.List(ctxFor(t), req)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	for {
		page, err := stream.Recv()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return entries, revisions, more
			}
			t.Fatalf("List: %v", err)
		}
		entries = append(entries, page.GetEntries()...)
		revisions = append(revisions, page.GetRevision())
		more = page.GetMore()
	}
}

func keysOf(entries []*pb.Entry) []string {
	var keys []string
	for _, e := range entries {
		keys = append(keys, string(e.GetKey()))
	}
	return keys
}

func TestList(t *testing.T) {
	kv := newClient(t)
	for _, k := range []string{"fruit/cherry", "fruit/apple", "veg/leek", "fruit/banana", "fruits"} {
		mustSet(t, kv, k, "v:"+k)
	}
	last := mustSet(t, kv, "fruit/date", "v:fruit/date")

	entries, revs, more := listAll(t, kv, &pb.ListRequest{Prefix: []byte("fruit/")})
	if got, want := strings.Join(keysOf(entries), " "), "fruit/apple fruit/banana fruit/cherry fruit/date"; got != want {
		t.Fatalf("List(fruit/) keys = %q, want %q", got, want)
	}
	for _, e := range entries {
		wantBytes(t, "List "+string(e.GetKey()), e.GetValue(), "v:"+string(e.GetKey()))
		if e.GetMeta().GetOwner() != "go-test" || e.GetMeta().GetRevision() == 0 {
			t.Errorf("List %s meta = %v", e.GetKey(), e.GetMeta())
		}
	}
	if more || len(revs) == 0 || revs[0] != last.GetRevision() {
		t.Errorf("List revision(s) %v more %v, want [%d] false", revs, more, last.GetRevision())
	}

	// keys_only leaves the values out.
	entries, _, _ = listAll(t, kv, &pb.ListRequest{Prefix: []byte("fruit/"), KeysOnly: true})
	if len(entries) != 4 {
		t.Fatalf("keys_only listed %d entries, want 4", len(entries))
	}
	for _, e := range entries {
		if e.GetValue() != nil {
			t.Errorf("keys_only: %s has value %v", e.GetKey(), e.GetValue())
		}
	}

	// limit + start_after page through the listing.
	entries, _, more = listAll(t, kv, &pb.ListRequest{Prefix: []byte("fruit/"), Limit: 3})
	if got := strings.Join(keysOf(entries), " "); got != "fruit/apple fruit/banana fruit/cherry" || !more {
		t.Fatalf("List limit 3 = %q more=%v, want the first three and more=true", got, more)
	}
	entries, _, more = listAll(t, kv, &pb.ListRequest{Prefix: []byte("fruit/"), Limit: 3, StartAfter: entries[2].GetKey()})
	if got := strings.Join(keysOf(entries), " "); got != "fruit/date" || more {
		t.Fatalf("List resumed = %q more=%v, want fruit/date and more=false", got, more)
	}

	// Everything, in key order; deleted keys are not listed.
	if _, err := kv.Delete(ctxFor(t), &pb.DeleteRequest{Key: []byte("veg/leek")}); err != nil {
		t.Fatal(err)
	}
	entries, _, _ = listAll(t, kv, &pb.ListRequest{})
	if got, want := strings.Join(keysOf(entries), " "), "fruit/apple fruit/banana fruit/cherry fruit/date fruits"; got != want {
		t.Fatalf("List() keys = %q, want %q", got, want)
	}
}

func TestListManyPages(t *testing.T) {
	kv := newClient(t)
	const n = 1200 // more than one page of 512
	var items []*pb.SetRequest
	for i := range n {
		items = append(items, &pb.SetRequest{Key: fmt.Appendf(nil, "p/%05d", i), Value: bytesValue(fmt.Sprint(i))})
	}
	if _, err := kv.Update(ctxFor(t), &pb.UpdateRequest{Items: items}); err != nil {
		t.Fatalf("Update of %d keys: %v", n, err)
	}
	entries, revs, more := listAll(t, kv, &pb.ListRequest{Prefix: []byte("p/")})
	if len(entries) != n || more {
		t.Fatalf("List = %d entries more=%v, want %d and false", len(entries), more, n)
	}
	for i, e := range entries {
		if want := fmt.Sprintf("p/%05d", i); string(e.GetKey()) != want {
			t.Fatalf("entry %d = %q, want %q", i, e.GetKey(), want)
		}
	}
	if len(revs) < 2 {
		t.Errorf("List of %d entries came in %d page(s), want several", n, len(revs))
	}
	for _, r := range revs {
		if r != revs[0] {
			t.Errorf("pages carry revisions %v, want the same on every page", revs)
			break
		}
	}
}

// watcher reads events from a Watch stream one at a time.
type watcher struct {
	t       *testing.T
	stream  grpc.ServerStreamingClient[pb.WatchResponse]
	created *pb.WatchResponse
	pending []*pb.Event
}

func startWatch(t *testing.T, kv pb.KeyValueClient, req *pb.WatchRequest) *watcher {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*rpcTimeout)
	t.Cleanup(cancel)
	stream, err := kv.Watch(ctx, req)
	if err != nil {
		t.Fatalf("Watch: %v", err)
	}
	first, err := stream.Recv()
	if err != nil {
		t.Fatalf("Watch: first response: %v", err)
	}
	if !first.GetCreated() || len(first.GetEvents()) != 0 {
		t.Fatalf("Watch: first response %v, want created=true and no events", first)
	}
	return &watcher{t: t, stream: stream, created: first}
}

func (w *watcher) next() *pb.Event {
	w.t.Helper()
	for len(w.pending) == 0 {
		resp, err := w.stream.Recv()
		if err != nil {
			w.t.Fatalf("Watch: waiting for an event: %v", err)
		}
		if resp.GetCreated() {
			w.t.Fatalf("Watch: a second created response: %v", resp)
		}
		w.pending = resp.GetEvents()
	}
	ev := w.pending[0]
	w.pending = w.pending[1:]
	return ev
}

// expect reads the next event and checks it: "UPDATE key=value" or "DELETE key".
func (w *watcher) expect(want string) *pb.Event {
	w.t.Helper()
	ev := w.next()
	got := fmt.Sprintf("%s %s", ev.GetType(), ev.GetEntry().GetKey())
	if ev.GetType() == pb.Event_UPDATE {
		got += "=" + string(ev.GetEntry().GetValue().GetBytes())
	}
	if got != want {
		w.t.Fatalf("Watch event %q (%v), want %q", got, ev, want)
	}
	return ev
}

func TestWatch(t *testing.T) {
	kv := newClient(t)
	mustSet(t, kv, "w/old", "before the watch")
	w := startWatch(t, kv, &pb.WatchRequest{Prefix: []byte("w/"), PrevValue: true})
	if w.created.GetRevision() == 0 {
		t.Errorf("created.revision = 0, want the node's revision (1 write so far)")
	}

	m1 := mustSet(t, kv, "w/a", "1")
	mustSet(t, kv, "other/x", "outside the prefix")
	m2 := mustSet(t, kv, "w/a", "2")
	if _, err := kv.Delete(ctxFor(t), &pb.DeleteRequest{Key: []byte("w/a")}); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.ApplyDelta(ctxFor(t), &pb.ApplyDeltaRequest{Key: []byte("w/m"),
		Delta: &pb.Mapping{Fields: map[string][]byte{"f": []byte("v")}}}); err != nil {
		t.Fatal(err)
	}
	mustSet(t, kv, "w/sentinel", "end")

	ev := w.expect("UPDATE w/a=1")
	if ev.GetEntry().GetMeta().GetRevision() != m1.GetRevision() || ev.GetEntry().GetMeta().GetOwner() != "go-test" {
		t.Errorf("event meta %v, want the Set's %v", ev.GetEntry().GetMeta(), m1)
	}
	if ev.GetPrevValue() != nil {
		t.Errorf("first write of w/a: prev_value %v, want none", ev.GetPrevValue())
	}
	ev = w.expect("UPDATE w/a=2") // other/x is filtered out
	if ev.GetEntry().GetMeta().GetRevision() != m2.GetRevision() {
		t.Errorf("event revision %d, want %d", ev.GetEntry().GetMeta().GetRevision(), m2.GetRevision())
	}
	wantBytes(t, "prev_value of the overwrite", ev.GetPrevValue(), "1")
	ev = w.expect("DELETE w/a")
	if ev.GetEntry().GetValue() != nil {
		t.Errorf("delete event carries a value: %v", ev.GetEntry().GetValue())
	}
	wantBytes(t, "prev_value of the delete", ev.GetPrevValue(), "2")
	ev = w.next()
	if ev.GetType() != pb.Event_UPDATE || string(ev.GetEntry().GetKey()) != "w/m" ||
		string(ev.GetEntry().GetValue().GetMapping().GetFields()["f"]) != "v" {
		t.Fatalf("ApplyDelta event %v, want UPDATE w/m = {f: v}", ev)
	}
	w.expect("UPDATE w/sentinel=end") // nothing else came in between
}

func TestListThenWatch(t *testing.T) {
	kv := newClient(t)
	for _, k := range []string{"lw/a", "lw/b", "lw/c"} {
		mustSet(t, kv, k, "v1")
	}
	entries, revs, _ := listAll(t, kv, &pb.ListRequest{Prefix: []byte("lw/")})
	if len(entries) != 3 {
		t.Fatalf("List = %d entries, want 3", len(entries))
	}
	listRev := revs[0]

	// Changes after the listing but before the watch starts must not be lost.
	mustSet(t, kv, "lw/b", "v2")
	if _, err := kv.Delete(ctxFor(t), &pb.DeleteRequest{Key: []byte("lw/a")}); err != nil {
		t.Fatal(err)
	}
	mustSet(t, kv, "lw/d", "v1")

	w := startWatch(t, kv, &pb.WatchRequest{Prefix: []byte("lw/"), StartRevision: listRev})
	if w.created.GetRevision() != listRev {
		t.Errorf("created.revision = %d, want the start revision %d", w.created.GetRevision(), listRev)
	}
	mustSet(t, kv, "lw/e", "live")

	var lastRev uint64 = listRev
	for _, want := range []string{"UPDATE lw/b=v2", "DELETE lw/a", "UPDATE lw/d=v1", "UPDATE lw/e=live"} {
		ev := w.expect(want)
		if r := ev.GetEntry().GetMeta().GetRevision(); r <= lastRev {
			t.Errorf("event %q revision %d, want > %d (revision order, after the listing)", want, r, lastRev)
		} else {
			lastRev = r
		}
	}
}

func TestWatchOutOfRange(t *testing.T) {
	kv := newClient(t, "--watch-history=4")
	for i := range 20 {
		mustSet(t, kv, fmt.Sprintf("h/%d", i), "x")
	}
	ctx := ctxFor(t)
	stream, err := kv.Watch(ctx, &pb.WatchRequest{StartRevision: 1})
	if err == nil {
		_, err = stream.Recv()
	}
	wantCode(t, "Watch from a revision the history no longer holds", err, codes.OutOfRange)

	// Recent revisions are still served: h/19 is revision 21 (the empty
	// store is revision 1).
	w := startWatch(t, kv, &pb.WatchRequest{StartRevision: 20})
	w.expect("UPDATE h/19=x")
}
