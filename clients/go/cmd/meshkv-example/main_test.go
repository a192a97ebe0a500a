package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/credentials/insecure"

	"github.com/meshkv/meshkv/clients/go/internal/testserver"
	pb "github.com/meshkv/meshkv/clients/go/meshkvpb"
)

// TestExampleProgram builds meshkv-example, runs it against a real server and
// checks what it prints and what it leaves in the store.
func TestExampleProgram(t *testing.T) {
	srv := testserver.Start(t)
	checkExample(t, srv, buildExample(t))
}

// TestExampleProgramOverTLS: the same against a server with TLS and client
// certificates, given as flags; without a certificate it is refused.
func TestExampleProgramOverTLS(t *testing.T) {
	srv := testserver.StartTLS(t)
	bin := buildExample(t)
	checkExample(t, srv, bin, "--cacert="+srv.CACert, "--cert="+srv.Cert, "--key="+srv.Key)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "--addr="+srv.Addr, "--cacert="+srv.CACert).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Unauthenticated") {
		t.Errorf("meshkv-example without a client certificate: %v, output:\n%s\nwant Unauthenticated", err, out)
	}
}

func buildExample(t *testing.T) string {
	bin := filepath.Join(t.TempDir(), "meshkv-example")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func checkExample(t *testing.T, srv *testserver.Server, bin string, flags ...string) {

	// A write before the example's watch starts must not show up in its events.
	kv := pb.NewKeyValueClient(srv.Dial(t))
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := kv.Set(ctx, &pb.SetRequest{Key: []byte("demo/a"), Value: &pb.Value{Kind: &pb.Value_Bytes{Bytes: []byte("old")}}}); err != nil {
		t.Fatal(err)
	}

	cmd := exec.CommandContext(ctx, bin, append([]string{"--addr=" + srv.Addr, "--prefix=demo/"}, flags...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("meshkv-example: %v\noutput:\n%s", err, out)
	}
	want := []string{
		`watching "demo/" after revision 2`,
		`set demo/a = "1" \(revision 3\)`,
		`set demo/b = "2" \(revision 4\)`,
		`set demo/c = "3" \(revision 5\)`,
		`get demo/a = "1" \(owner go-test, revision 3\)`,
		`delete demo/b \(revision 6\)`,
		`event UPDATE demo/a = "1" \(revision 3\)`,
		`event UPDATE demo/b = "2" \(revision 4\)`,
		`event UPDATE demo/c = "3" \(revision 5\)`,
		`event DELETE demo/b \(revision 6\)`,
	}
	got := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("meshkv-example printed %d lines, want %d:\n%s", len(got), len(want), out)
	}
	for i := range want {
		if !regexp.MustCompile("^" + want[i] + "$").MatchString(got[i]) {
			t.Errorf("line %d = %q, want /%s/", i+1, got[i], want[i])
		}
	}

	// What the example wrote is really there.
	for key, want := range map[string]string{"demo/a": "1", "demo/c": "3"} {
		resp, err := kv.Get(ctx, &pb.GetRequest{Key: []byte(key)})
		if err != nil || !resp.GetFound() || string(resp.GetEntry().GetValue().GetBytes()) != want {
			t.Errorf("after the example, Get(%s) = %v, %v; want %q", key, resp, err, want)
		}
	}
	if resp, err := kv.Get(ctx, &pb.GetRequest{Key: []byte("demo/b")}); err != nil || resp.GetFound() {
		t.Errorf("after the example, Get(demo/b) = %v, %v; want not found", resp, err)
	}
}

// TestExampleUnreachable: the example fails (exit 1, a message) rather than
// hang when nothing listens.
func TestExampleUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // now nothing listens there
	var out strings.Builder
	err = run(ctx, addr, insecure.NewCredentials(), "x/", &out)
	if err == nil {
		t.Fatalf("run against a closed port succeeded; output:\n%s", out.String())
	}
}
