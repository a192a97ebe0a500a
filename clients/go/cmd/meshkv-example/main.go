// meshkv-example shows the Go client: it watches a prefix, writes a few keys
// under it, reads one back, deletes one, prints the events the watch delivers
// and exits.
//
//	go run ./cmd/meshkv-example --addr=127.0.0.1:50051 --prefix=example/
//
// Against a node with TLS (certificates from scripts/certs.sh), give the CA
// that signed it, and for a node run with --client-ca a client certificate
// whose name has the read-write role (etcdctl's flag names; MESHKV_CACERT,
// MESHKV_CERT and MESHKV_KEY are the defaults):
//
//	go run ./cmd/meshkv-example --addr=127.0.0.1:50051 --cacert=ca.crt \
//	    --cert=client.app.crt --key=client.app.key
//
// Output (revisions vary):
//
//	watching "example/" after revision 1
//	set example/a = "1" (revision 2)
//	set example/b = "2" (revision 3)
//	set example/c = "3" (revision 4)
//	get example/a = "1" (owner n1, revision 2)
//	delete example/b (revision 5)
//	event UPDATE example/a = "1" (revision 2)
//	event UPDATE example/b = "2" (revision 3)
//	event UPDATE example/c = "3" (revision 4)
//	event DELETE example/b (revision 5)
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/meshkv/meshkv/clients/go/meshkvpb"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "meshkv-server gRPC address (host:port)")
	prefix := flag.String("prefix", "example/", "key prefix to watch and write under")
	timeout := flag.Duration("timeout", 10*time.Second, "give up after this long")
	cacert := flag.String("cacert", os.Getenv("MESHKV_CACERT"),
		"TLS: verify the server against this CA certificate (PEM); none of --cacert --cert --key: plaintext")
	cert := flag.String("cert", os.Getenv("MESHKV_CERT"), "TLS: this client's certificate (PEM), for a server run with --client-ca")
	key := flag.String("key", os.Getenv("MESHKV_KEY"), "TLS: its private key (PEM)")
	flag.Parse()

	creds, err := transportCredentials(*cacert, *cert, *key)
	if err != nil {
		fmt.Fprintln(os.Stderr, "meshkv-example:", err)
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := run(ctx, *addr, creds, *prefix, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "meshkv-example:", err)
		os.Exit(1)
	}
}

// transportCredentials: plaintext when no file is given, else TLS 1.2+
// trusting cacert (the system's roots without it) and presenting cert/key.
func transportCredentials(cacert, cert, key string) (credentials.TransportCredentials, error) {
	if cacert == "" && cert == "" && key == "" {
		return insecure.NewCredentials(), nil
	}
	config := &tls.Config{MinVersion: tls.VersionTLS12}
	if cacert != "" {
		pem, err := os.ReadFile(cacert)
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		config.RootCAs = x509.NewCertPool()
		if !config.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--cacert: %s holds no PEM certificate", cacert)
		}
	}
	if cert != "" || key != "" {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return nil, fmt.Errorf("--cert/--key: %w", err)
		}
		config.Certificates = []tls.Certificate{pair}
	}
	return credentials.NewTLS(config), nil
}

func run(ctx context.Context, addr string, creds credentials.TransportCredentials, prefix string, out io.Writer) error {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer conn.Close()
	kv := pb.NewKeyValueClient(conn)

	// Start the watch first and wait for its "created" response: from then on
	// every change under the prefix is delivered, so none of ours is missed.
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watch, err := kv.Watch(watchCtx, &pb.WatchRequest{Prefix: []byte(prefix)})
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	created, err := watch.Recv()
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	if !created.GetCreated() {
		return errors.New("watch: first response is not created=true")
	}
	fmt.Fprintf(out, "watching %q after revision %d\n", prefix, created.GetRevision())

	writes := 0
	for _, kvp := range [][2]string{{"a", "1"}, {"b", "2"}, {"c", "3"}} {
		key := prefix + kvp[0]
		resp, err := kv.Set(ctx, &pb.SetRequest{
			Key:   []byte(key),
			Value: &pb.Value{Kind: &pb.Value_Bytes{Bytes: []byte(kvp[1])}},
		})
		if err != nil {
			return fmt.Errorf("set %s: %w", key, err)
		}
		writes++
		fmt.Fprintf(out, "set %s = %q (revision %d)\n", key, kvp[1], resp.GetMeta().GetRevision())
	}

	got, err := kv.Get(ctx, &pb.GetRequest{Key: []byte(prefix + "a")})
	if err != nil {
		return fmt.Errorf("get: %w", err)
	}
	if !got.GetFound() {
		return fmt.Errorf("get %sa: not found", prefix)
	}
	e := got.GetEntry()
	fmt.Fprintf(out, "get %s = %q (owner %s, revision %d)\n", e.GetKey(), e.GetValue().GetBytes(),
		e.GetMeta().GetOwner(), e.GetMeta().GetRevision())

	del, err := kv.Delete(ctx, &pb.DeleteRequest{Key: []byte(prefix + "b")})
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	writes++
	fmt.Fprintf(out, "delete %sb (revision %d)\n", prefix, del.GetMeta().GetRevision())

	// The events of our writes, in revision order (a response may batch several).
	for seen := 0; seen < writes; {
		resp, err := watch.Recv()
		if err != nil {
			return fmt.Errorf("watch: %w", err)
		}
		for _, ev := range resp.GetEvents() {
			seen++
			e := ev.GetEntry()
			switch ev.GetType() {
			case pb.Event_UPDATE:
				fmt.Fprintf(out, "event UPDATE %s = %s (revision %d)\n", e.GetKey(), describe(e.GetValue()),
					e.GetMeta().GetRevision())
			case pb.Event_DELETE:
				fmt.Fprintf(out, "event DELETE %s (revision %d)\n", e.GetKey(), e.GetMeta().GetRevision())
			}
		}
	}
	return nil
}

// describe renders a value: quoted bytes, or a mapping's fields.
func describe(v *pb.Value) string {
	if m := v.GetMapping(); m != nil {
		return fmt.Sprintf("mapping %q", m.GetFields())
	}
	return fmt.Sprintf("%q", v.GetBytes())
}
