// meshkv-election is a leader election on meshkv: a key written only if
// absent, with a time to live, kept alive by its leader (docs/recipes.md,
// "Leader election"; the same program as clients/python/examples/election.py).
//
//	go run ./cmd/meshkv-election --endpoints=127.0.0.1:50051 --name=alice --ttl=5s
//
// Each candidate campaigns with Set(key, name, IfAbsent, TTL): one succeeds
// and leads. The leader refreshes the key every TTL/3 with Set(key, name,
// IfVersion(the version it holds), TTL): a keep-alive that cannot extend
// someone else's key (a plain Touch cannot tell: if this leader's key
// expired and another candidate took it, a Touch would keep the successor's
// key alive). A failed refresh means leadership is lost. The others read the
// key, watch it from that read's revision for its DELETE (a resignation, or
// an expiry because the leader stopped refreshing) and campaign again. On
// SIGTERM or SIGINT the leader resigns: it deletes the key if it still holds
// that version. With --ttl=0 the key never expires, and a leader that dies
// without resigning leads until an operator deletes its key.
//
// Output, one line per change:
//
//	alice: leader (version 1853406023417348096/n1)
//	bob: follower (leader alice)
//	alice: resigned
//	bob: leader (version ...)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/meshkv/meshkv/clients/go/meshkv"
	pb "github.com/meshkv/meshkv/clients/go/meshkvpb"
)

func main() {
	endpoints := flag.String("endpoints", envOr("MESHKV_ENDPOINTS", "127.0.0.1:50051"), "comma-separated host:port gRPC addresses")
	key := flag.String("key", "election/leader", "the election's key")
	name := flag.String("name", "", "this candidate's name (the key's value while it leads); required")
	ttl := flag.Duration("ttl", 5*time.Second, "the key's time to live; the leader refreshes it every third of it (0: never expires)")
	cacert := flag.String("cacert", os.Getenv("MESHKV_CACERT"), "TLS: CA certificate (PEM)")
	cert := flag.String("cert", os.Getenv("MESHKV_CERT"), "TLS: client certificate (PEM)")
	keyFile := flag.String("key-file", os.Getenv("MESHKV_KEY"), "TLS: the client certificate's private key (PEM)")
	flag.Parse()
	if *name == "" {
		fmt.Fprintln(os.Stderr, "meshkv-election: --name is required")
		os.Exit(2)
	}
	c, err := meshkv.New(meshkv.Config{Endpoints: strings.Split(*endpoints, ","), CACert: *cacert, Cert: *cert, Key: *keyFile})
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshkv-election:", err)
		os.Exit(2)
	}
	defer c.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	e := &candidate{c: c, key: []byte(*key), name: *name, ttl: *ttl, out: os.Stdout}
	if err := e.run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "meshkv-election:", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

type candidate struct {
	c    *meshkv.Client
	key  []byte
	name string
	ttl  time.Duration
	out  io.Writer
}

func (e *candidate) say(format string, args ...any) {
	fmt.Fprintf(e.out, "%s: %s\n", e.name, fmt.Sprintf(format, args...))
}

// rpc bounds one call; the election itself runs until ctx ends.
func rpc(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, 10*time.Second)
}

// run campaigns until ctx ends; it returns nil after resigning, or when
// stopped as a follower.
func (e *candidate) run(ctx context.Context) error {
	for ctx.Err() == nil {
		// The campaign's Set runs to completion even if a signal comes: a
		// leader must know it leads to resign.
		callCtx, cancel := rpc(context.WithoutCancel(ctx))
		meta, err := e.c.Set(callCtx, e.key, meshkv.Bytes(e.name), meshkv.IfAbsent(), meshkv.TTL(e.ttl))
		cancel()
		switch {
		case err == nil:
			e.say("leader (version %d/%s)", meta.GetVersion().GetHlc(), meta.GetVersion().GetOrigin())
			resigned, err := e.lead(ctx, meta.GetVersion())
			if err != nil || resigned {
				return err
			}
		case status.Code(err) == codes.FailedPrecondition:
			if err := e.follow(ctx); err != nil && ctx.Err() == nil {
				return err
			}
		default:
			return err
		}
	}
	return nil
}

// lead keeps the key alive until ctx ends (then resigns: true) or a refresh
// fails (false).
func (e *candidate) lead(ctx context.Context, version *pb.Version) (bool, error) {
	var tick <-chan time.Time
	if e.ttl > 0 {
		t := time.NewTicker(e.ttl / 3)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			callCtx, cancel := rpc(context.WithoutCancel(ctx))
			defer cancel()
			_, err := e.c.Delete(callCtx, e.key, meshkv.IfVersion(version))
			if code := status.Code(err); code != codes.OK && code != codes.FailedPrecondition && code != codes.NotFound {
				return true, err
			}
			e.say("resigned")
			return true, nil
		case <-tick:
			callCtx, cancel := rpc(ctx)
			meta, err := e.c.Set(callCtx, e.key, meshkv.Bytes(e.name), meshkv.IfVersion(version), meshkv.TTL(e.ttl))
			cancel()
			switch code := status.Code(err); {
			case err == nil:
				version = meta.GetVersion()
			case code == codes.FailedPrecondition || code == codes.NotFound:
				e.say("lost leadership (%v)", err)
				return false, nil
			case ctx.Err() != nil: // stopped during the refresh: resign at the next turn
			default:
				return false, err
			}
		}
	}
}

// follow returns once the key is deleted (or its watch cannot resume); the
// caller then campaigns again.
func (e *candidate) follow(ctx context.Context) error {
	callCtx, cancel := rpc(ctx)
	entry, err := e.c.Get(callCtx, e.key)
	cancel()
	if err != nil || entry == nil {
		return err // absent: campaign again
	}
	e.say("follower (leader %s)", entry.GetValue().GetBytes())
	// From the read's revision on the same node: no delete in between is missed.
	w := e.c.Watch(ctx, e.key, meshkv.WatchOptions{StartRevision: entry.GetMeta().GetRevision(), Filter: pb.WatchRequest_DELETES})
	defer w.Close()
	for {
		ev, err := w.Next()
		if errors.Is(err, meshkv.ErrResume) {
			return nil // the watch moved to another node: read again
		}
		if err != nil {
			return err
		}
		if string(ev.GetEntry().GetKey()) == string(e.key) {
			return nil
		}
	}
}
