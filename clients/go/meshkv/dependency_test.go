package meshkv_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// TestDependOnItWithReplace does what the README tells a user to do today:
// a new module requires the client, replaces its path with this checkout,
// tidies and builds a program that uses it, with no network (GOPROXY=off:
// the dependencies come from the module cache the client's own tests use).
func TestDependOnItWithReplace(t *testing.T) {
	_, self, _, _ := runtime.Caller(0)
	checkout := filepath.Dir(filepath.Dir(self)) // clients/go
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/app\n\ngo 1.26.0\n")
	// With the network, go mod tidy would fetch these checksums from
	// sum.golang.org; offline, the client's own go.sum holds the same ones.
	sums, err := os.ReadFile(filepath.Join(checkout, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	write("go.sum", string(sums))
	write("main.go", `package main

import (
	"context"
	"fmt"
	"time"

	"github.com/meshkv/meshkv/clients/go/meshkv"
)

func main() {
	c, err := meshkv.New(meshkv.Config{Endpoints: []string{"127.0.0.1:50051"}})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = c.Get(ctx, []byte("k"))
	fmt.Println(err != nil)
}
`)
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command("go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=mod", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go %v: %v\n%s", args, err, out)
		}
	}
	// The README's commands. (Its `go mod tidy` also resolves the tests of
	// every dependency, which needs the network; go build -mod=mod adds what
	// building needs, from the cache.)
	run("mod", "edit", "-require=github.com/meshkv/meshkv/clients/go@v0.0.0",
		"-replace=github.com/meshkv/meshkv/clients/go="+checkout)
	run("build", "-o", filepath.Join(dir, "app"), ".")
}
