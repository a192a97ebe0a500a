// Package testserver runs a real meshkv-server for tests.
//
// The binary is found through the environment variable MESHKV_BIN_DIR (the
// directory holding meshkv-server, e.g. build/bin). Each server listens on
// 127.0.0.1 port 0 and writes its chosen address to an info file, which Start
// waits for with a deadline. Cleanup sends SIGTERM and fails the test unless
// the server exits 0.
//
//	srv := testserver.Start(t)
//	conn := srv.Dial(t)
//
// StartTLS runs one with TLS on gRPC and client certificates (made by
// scripts/certs.sh); Dial then presents the read-write client's.
package testserver

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

const (
	startTimeout = 20 * time.Second
	stopTimeout  = 20 * time.Second
)

// Server is one running meshkv-server process.
type Server struct {
	NodeID string // --node-id, as the server reports it
	Addr   string // gRPC host:port

	// With StartTLS: the CA that signed the server, and a client certificate
	// (CN "go-test", role read-write). Empty with Start.
	CACert, Cert, Key string

	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed when the process has been waited for
	waitErr error         // valid once exited is closed
	stopped bool          // Stop ran: the cleanup has nothing left to do
}

// Binary returns the path of meshkv-server, failing the test with a clear
// message when MESHKV_BIN_DIR is unset or does not hold it.
func Binary(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("MESHKV_BIN_DIR")
	if dir == "" {
		t.Fatal("MESHKV_BIN_DIR is not set: point it at the directory that contains meshkv-server " +
			"(e.g. MESHKV_BIN_DIR=$PWD/build/bin go test ./...)")
	}
	bin := filepath.Join(dir, "meshkv-server")
	if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		t.Fatalf("MESHKV_BIN_DIR=%s: no executable meshkv-server there (build it: ninja -C <build> meshkv-server)", dir)
	}
	return bin
}

// Start runs meshkv-server with node ID "go-test" and the given extra flags,
// waits until it listens, and registers its shutdown with t.Cleanup.
func Start(t testing.TB, extraFlags ...string) *Server {
	t.Helper()
	return start(t, append([]string{"--insecure"}, extraFlags...), nil)
}

// StartTLS is Start with certificates: the server runs TLS on gRPC (and the
// mesh), asks clients for certificates from the same CA (--client-ca) and
// gives client "go-test" the read-write role.
func StartTLS(t testing.TB, extraFlags ...string) *Server {
	t.Helper()
	_, self, _, _ := runtime.Caller(0)
	certsSh := filepath.Join(filepath.Dir(self), "..", "..", "..", "..", "scripts", "certs.sh")
	dir := filepath.Join(t.TempDir(), "certs")
	for _, args := range [][]string{
		{"create-ca", "--certs-dir", dir},
		{"create-node", "--certs-dir", dir, "--node-id", "go-test", "--host", "127.0.0.1"},
		{"create-client", "--certs-dir", dir, "--name", "go-test"},
	} {
		if out, err := exec.Command("bash", append([]string{certsSh}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("certs.sh %v: %v\n%s", args, err, out)
		}
	}
	flags := append([]string{"--certs-dir=" + dir, "--client-ca=" + filepath.Join(dir, "ca.crt"),
		"--client-roles=go-test=read-write"}, extraFlags...)
	return start(t, flags, &Server{
		CACert: filepath.Join(dir, "ca.crt"),
		Cert:   filepath.Join(dir, "client.go-test.crt"),
		Key:    filepath.Join(dir, "client.go-test.key"),
	})
}

func start(t testing.TB, extraFlags []string, s *Server) *Server {
	t.Helper()
	bin := Binary(t)
	dir := t.TempDir()
	info := filepath.Join(dir, "info.json")
	if s == nil {
		s = &Server{}
	}
	s.logPath, s.exited = filepath.Join(dir, "server.log"), make(chan struct{})
	logFile, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()

	args := append([]string{
		"--grpc-addr=127.0.0.1:0", "--mesh-addr=127.0.0.1:0", "--metrics-addr=",
		"--node-id=go-test", "--info-file=" + info,
	}, extraFlags...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = logFile, logFile
	// If the test binary dies without running its cleanups (a timeout panic,
	// a kill), the server goes with it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", bin, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() { s.stop(t) })

	deadline := time.Now().Add(startTimeout)
	for {
		if s.readInfo(info) {
			return s
		}
		select {
		case <-s.exited:
			t.Fatalf("meshkv-server exited before listening (%v); its log:\n%s", s.waitErr, s.Logs())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("meshkv-server did not write %s within %v; its log:\n%s", info, startTimeout, s.Logs())
		}
	}
}

// readInfo parses the info file once it exists and is complete.
func (s *Server) readInfo(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var info struct {
		NodeID string `json:"node_id"`
		GRPC   string `json:"grpc"`
	}
	if json.Unmarshal(data, &info) != nil || info.GRPC == "" {
		return false
	}
	s.NodeID, s.Addr = info.NodeID, info.GRPC
	return true
}

// Logs returns what the server printed so far.
func (s *Server) Logs() string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", s.logPath, err)
	}
	return strings.TrimRight(string(data), "\n")
}

// Dial returns a client connection to the server (TLS as client "go-test"
// for a StartTLS server, else plaintext), closed at cleanup.
func (s *Server) Dial(t testing.TB) *grpc.ClientConn {
	t.Helper()
	creds := insecure.NewCredentials()
	if s.CACert != "" {
		pem, err := os.ReadFile(s.CACert)
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AppendCertsFromPEM(pem)
		pair, err := tls.LoadX509KeyPair(s.Cert, s.Key)
		if err != nil {
			t.Fatal(err)
		}
		creds = credentials.NewTLS(&tls.Config{RootCAs: roots, Certificates: []tls.Certificate{pair}})
	}
	conn, err := grpc.NewClient(s.Addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatalf("grpc.NewClient(%s): %v", s.Addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// Stop stops the server before the test ends (SIGTERM, exit 0 expected),
// e.g. to test what clients do when a node goes away.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.stop(t)
	s.stopped = true
}

// stop sends SIGTERM and expects exit status 0 within stopTimeout.
func (s *Server) stop(t testing.TB) {
	if s.stopped {
		return
	}
	select {
	case <-s.exited: // died on its own: that is a failure too
		t.Errorf("meshkv-server exited before the test ended (%v); its log:\n%s", s.waitErr, s.Logs())
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		if s.waitErr != nil {
			t.Errorf("meshkv-server did not exit 0 on SIGTERM (%v); its log:\n%s", s.waitErr, s.Logs())
		}
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
		t.Errorf("meshkv-server still running %v after SIGTERM; killed it. Its log:\n%s", stopTimeout, s.Logs())
	}
}
