#include "peer/asio/mesh_driver.h"

#include <array>
#include <chrono>
#include <future>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/connect.hpp"
#include "asio/post.hpp"
#include "common/host_port.h"
#include "peer/asio/tls_context.h"
#include "peer/core/seq_tracker.h"

namespace meshkv::peer {
namespace {

using asio::ip::tcp;

constexpr size_t kWriteChunk = 256 << 10;

std::string Endpoint(const tcp::socket& s) {
  asio::error_code ec;
  const tcp::endpoint ep = s.remote_endpoint(ec);
  return ec ? "?" : absl::StrCat(ep.address().to_string(), ":", ep.port());
}

Refusal RefusalOf(const absl::Status& st) {
  return IsCertificateExpiry(st) ? Refusal::kCertificateExpired : Refusal::kCertificate;
}

}  // namespace

struct MeshDriver::Socket {
  Socket(asio::io_context& io, const TransportFactory& transports)
      : transport(transports.New(io)), sock(transport->socket()), resolver(io) {}
  std::shared_ptr<Transport> transport;
  tcp::socket& sock;  // transport's, for connect, accept and options
  tcp::resolver resolver;
  bool reading = false;  // reads start once the transport is secured
  std::array<char, 64 << 10> read_buf;
  std::string writing;  // the write in flight, owned until it completes
  bool write_in_flight = false;
  bool closing = false;  // the core asked to close: flush, then close
};

absl::StatusOr<std::unique_ptr<MeshDriver>> MeshDriver::Bind(const std::string& listen_addr,
                                                             TransportFactory transports) {
  absl::StatusOr<std::pair<std::string, int>> hp = SplitHostPort(listen_addr);
  if (!hp.ok()) return hp.status();
  const std::string host = hp->first, port = absl::StrCat(hp->second);
  auto io = std::make_unique<asio::io_context>(1);
  asio::error_code ec;
  tcp::resolver resolver(*io);
  auto endpoints =
      resolver.resolve(host.empty() ? "0.0.0.0" : host, port, tcp::resolver::passive, ec);
  if (ec || endpoints.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot resolve ", listen_addr, ": ", ec.message()));
  }
  tcp::acceptor acceptor(*io);
  const tcp::endpoint ep = *endpoints.begin();
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen for the mesh on ", listen_addr, ": ", ec.message()));
  }
  return std::unique_ptr<MeshDriver>(
      new MeshDriver(std::move(acceptor), std::move(io), std::move(transports)));
}

MeshDriver::MeshDriver(tcp::acceptor acceptor, std::unique_ptr<asio::io_context> io,
                       TransportFactory transports)
    : io_(std::move(io)),
      transports_(std::move(transports)),
      acceptor_(std::move(acceptor)),
      timer_(*io_) {
  port_ = acceptor_.local_endpoint().port();
}

MeshDriver::~MeshDriver() { Shutdown(absl::ZeroDuration()); }

int64_t MeshDriver::Now() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void MeshDriver::Start(MeshOptions options, Replica* replica, MeshLogFn log,
                       std::function<void()> on_synced, WriteConcernHooks concern) {
  options.authenticated = transports_.secure();
  {
    absl::MutexLock lock(&inbox_mu_);
    seq_base_ = SeqTracker::Base(options.incarnation_ms);
  }
  concern_ = std::move(concern);
  mesh_ = std::make_unique<Mesh>(std::move(options), replica, std::move(log));
  on_synced_ = std::move(on_synced);
  running_ = true;
  asio::post(*io_, [this] {
    mesh_->Start(Now());
    Accept();
    Tick();
    Pump();
  });
  thread_ = std::thread([this] { io_->run(); });
}

void MeshDriver::Accept() {
  auto s = std::make_shared<Socket>(*io_, transports_);
  acceptor_.async_accept(s->sock, [this, s](const asio::error_code& ec) {
    if (stopping_) return;
    if (ec) {
      // Out of descriptors, most likely: try again shortly, keep serving.
      if (ec != asio::error::operation_aborted) {
        auto retry = std::make_shared<asio::steady_timer>(*io_, std::chrono::milliseconds(100));
        retry->async_wait([this, retry](const asio::error_code&) { Accept(); });
      }
      return;
    }
    asio::error_code ignored;  // a socket the peer already reset: reading will tell
    s->sock.set_option(tcp::no_delay(true), ignored);
    const ConnId id = mesh_->Accepted(Endpoint(s->sock), Now());
    sockets_[id] = s;
    Pump();  // the core may close it at once (too many pending handshakes)
    Secure(id, Transport::Side::kServer);
    Accept();
  });
}

void MeshDriver::Tick() {
  timer_.expires_after(absl::ToChronoMilliseconds(Mesh::kTickPeriod));
  timer_.async_wait([this](const asio::error_code& ec) {
    if (ec || stopping_) return;
    mesh_->Tick(Now());
    Pump();
    Tick();
  });
}

uint64_t MeshDriver::Broadcast(std::vector<meshkv::mesh::v1::Record> records, bool ack_wanted) {
  absl::MutexLock lock(&inbox_mu_);
  for (auto& r : records) inbox_.push_back(std::move(r));
  broadcast_ += records.size();
  if (ack_wanted) wanted_through_ = broadcast_;
  if (!drain_posted_ && running_) {
    drain_posted_ = true;
    asio::post(*io_, [this] { Drain(); });
  }
  return seq_base_ + broadcast_;
}

uint64_t MeshDriver::last_origin_seq() const {
  absl::MutexLock lock(&inbox_mu_);
  return seq_base_ + broadcast_;
}

// Every write handed over since the last drain goes out in one batch (two
// when some want acks: those up to the last that does, then the rest).
void MeshDriver::Drain() {
  std::vector<meshkv::mesh::v1::Record> records;
  uint64_t wanted = 0;
  {
    absl::MutexLock lock(&inbox_mu_);
    records.swap(inbox_);
    drain_posted_ = false;
    if (wanted_through_ > drained_) wanted = wanted_through_ - drained_;
  }
  if (records.empty()) return;
  drained_ += records.size();
  if (wanted == 0) {
    mesh_->Broadcast(std::move(records), Now());
  } else {
    std::vector<meshkv::mesh::v1::Record> rest(
        std::make_move_iterator(records.begin() + static_cast<ptrdiff_t>(wanted)),
        std::make_move_iterator(records.end()));
    records.resize(wanted);
    mesh_->Broadcast(std::move(records), Now(), /*ack_wanted=*/true);
    if (!rest.empty()) mesh_->Broadcast(std::move(rest), Now());
  }
  Pump();
}

void MeshDriver::AwaitDurable() {
  auto durable = [this](bool ok) {
    asio::post(*io_, [this, ok] {
      if (stopping_) return;
      mesh_->Durable(Now(), ok);
      Pump();
    });
  };
  if (concern_.when_durable) {
    concern_.when_durable(std::move(durable));
  } else {
    durable(true);
  }
}

void MeshDriver::Pump() {
  for (;;) {
    std::vector<Command> commands = mesh_->TakeCommands();
    std::vector<ConnId> writable = mesh_->TakeWritable();
    if (commands.empty() && writable.empty()) break;
    for (const Command& c : commands) {
      if (c.kind == Command::kDial) {
        Dial(c.conn, c.addr);
        continue;
      }
      if (c.kind == Command::kAwaitDurable) {
        AwaitDurable();
        continue;
      }
      auto it = sockets_.find(c.conn);
      if (it == sockets_.end()) {
        mesh_->Closed(c.conn, Now());  // never had a socket
        continue;
      }
      it->second->closing = true;
      if (!it->second->sock.is_open()) {
        Drop(c.conn);  // still dialling: give up
      } else {
        Write(c.conn);  // flush, then close
      }
    }
    for (ConnId id : writable) Write(id);
  }
  AckTracker::Marks acked = mesh_->TakeAcks();
  if (!acked.empty() && concern_.on_acked) concern_.on_acked(acked);
  established_peers_.store(mesh_->established_peers(), std::memory_order_relaxed);
  known_peers_.store(mesh_->known_peers(), std::memory_order_relaxed);
  if (!synced_ && mesh_->synced()) {
    synced_ = true;
    if (on_synced_) on_synced_();
  }
}

void MeshDriver::Dial(ConnId id, const std::string& addr) {
  absl::StatusOr<std::pair<std::string, int>> hp = SplitHostPort(addr);
  if (!hp.ok()) {
    mesh_->ConnectFailed(id, "not host:port", Now());
    return;
  }
  const std::string host = hp->first, port = absl::StrCat(hp->second);
  auto s = std::make_shared<Socket>(*io_, transports_);
  sockets_[id] = s;
  // False when the dial is moot (stopping, or the core gave up on it), or
  // failed; then the core has been told.
  auto proceed = [this, id](const asio::error_code& ec) {
    if (stopping_ || sockets_.count(id) == 0) return false;
    if (!ec) return true;
    sockets_.erase(id);
    mesh_->ConnectFailed(id, ec.message(), Now());
    Pump();
    return false;
  };
  s->resolver.async_resolve(
      host, port,
      [this, id, s, proceed](const asio::error_code& ec, tcp::resolver::results_type results) {
        if (!proceed(ec)) return;
        asio::async_connect(
            s->sock, results,
            [this, id, s, proceed](const asio::error_code& ec, const tcp::endpoint&) {
              if (!proceed(ec)) return;
              asio::error_code ignored;  // as on accept
              s->sock.set_option(tcp::no_delay(true), ignored);
              mesh_->Connected(id, Now());
              Pump();
              Secure(id, Transport::Side::kClient);
            });
      });
}

void MeshDriver::Secure(ConnId id, Transport::Side side) {
  auto it = sockets_.find(id);
  if (it == sockets_.end() || it->second->closing) return;
  std::shared_ptr<Socket> s = it->second;
  if (!transports_.secure()) {  // plain TCP: the core has sent its Hello
    s->reading = true;
    Read(id);
    return;
  }
  s->transport->AsyncHandshake(side, [this, id, s](absl::Status st) {
    if (stopping_ || sockets_.count(id) == 0 || sockets_[id] != s) return;
    if (st.ok()) {
      std::weak_ptr<Transport> t = s->transport;
      mesh_->Secured(id, s->transport->peer_node_id(), Now(), [t](const std::string& host) {
        std::shared_ptr<Transport> live = t.lock();
        return live != nullptr && CheckCertificateHost(live->peer_certificate(), host).ok();
      });
      s->reading = true;
      Read(id);
    } else if (absl::IsUnauthenticated(st) || absl::IsPermissionDenied(st)) {
      sockets_.erase(id);
      s->transport->Close();
      mesh_->TransportRefused(id, st.message(), Now(), RefusalOf(st));
    } else {
      Drop(id);  // the connection broke: nothing was proven either way
    }
    Pump();
  });
}

void MeshDriver::Read(ConnId id) {
  auto it = sockets_.find(id);
  if (it == sockets_.end()) return;
  std::shared_ptr<Socket> s = it->second;
  s->transport->AsyncReadSome(
      asio::buffer(s->read_buf), [this, id, s](const asio::error_code& ec, size_t n) {
        if (stopping_ || sockets_.count(id) == 0 || sockets_[id] != s) return;
        if (ec) {
          Failed(id, ec);
          Pump();
          return;
        }
        mesh_->Received(id, absl::string_view(s->read_buf.data(), n), Now());
        Read(id);
        Pump();
      });
}

void MeshDriver::Failed(ConnId id, const asio::error_code& ec) {
  auto it = sockets_.find(id);
  if (it == sockets_.end()) return;
  std::shared_ptr<Socket> s = it->second;
  // In TLS 1.3 a client learns that the server refused its certificate
  // only from its first read.
  const absl::Status st = s->transport->ErrorStatus(ec);
  if (s->transport->secure() && absl::IsUnauthenticated(st)) {
    sockets_.erase(it);
    s->transport->Close();
    mesh_->TransportRefused(id, st.message(), Now(), RefusalOf(st));
    return;
  }
  Drop(id);
}

void MeshDriver::Write(ConnId id) {
  auto it = sockets_.find(id);
  if (it == sockets_.end()) return;
  std::shared_ptr<Socket> s = it->second;
  if (s->write_in_flight || !s->sock.is_open()) return;
  if (!s->reading) {  // still connecting or securing: nothing may be written yet
    if (s->closing) Drop(id);
    return;
  }
  s->writing = mesh_->TakeOutput(id, kWriteChunk);
  if (s->writing.empty()) {
    if (s->closing) Drop(id);
    return;
  }
  s->write_in_flight = true;
  s->transport->AsyncWrite(asio::buffer(s->writing),
                    [this, id, s](const asio::error_code& ec, size_t) {
                      s->write_in_flight = false;
                      if (stopping_ || sockets_.count(id) == 0 || sockets_[id] != s) return;
                      if (ec) {
                        Drop(id);
                        Pump();
                        return;
                      }
                      Write(id);
                      Pump();
                    });
}

void MeshDriver::Drop(ConnId id) {
  auto it = sockets_.find(id);
  if (it == sockets_.end()) return;
  std::shared_ptr<Socket> s = it->second;
  sockets_.erase(it);
  asio::error_code ignored;
  s->resolver.cancel();
  s->sock.shutdown(tcp::socket::shutdown_both, ignored);
  s->transport->Close();
  mesh_->Closed(id, Now());
}

MeshSnapshot MeshDriver::Snapshot() {
  if (!running_) return MeshSnapshot();
  // Shared with the handler, and waited for with a deadline: Shutdown() may
  // stop the loop between the check above and the handler running, and a
  // metrics scrape must not hang the process on its way out.
  auto p = std::make_shared<std::promise<MeshSnapshot>>();
  std::future<MeshSnapshot> f = p->get_future();
  asio::post(*io_, [this, p] { p->set_value(mesh_->Snapshot(Now())); });
  if (f.wait_for(std::chrono::seconds(2)) != std::future_status::ready) return MeshSnapshot();
  return f.get();
}

void MeshDriver::Shutdown(absl::Duration flush_timeout) {
  if (!running_.exchange(false)) return;
  std::promise<void> drained;
  const auto deadline =
      std::chrono::steady_clock::now() + absl::ToChronoMilliseconds(flush_timeout);
  asio::post(*io_, [this, &drained, deadline] {
    Drain();  // writes handed over before shutdown still go out
    mesh_->Shutdown(Now());
    Pump();
    AwaitDrained(deadline, &drained);
  });
  drained.get_future().wait();
  io_->stop();
  if (thread_.joinable()) thread_.join();
}

void MeshDriver::AwaitDrained(std::chrono::steady_clock::time_point deadline,
                              std::promise<void>* drained) {
  if (!sockets_.empty() && std::chrono::steady_clock::now() < deadline) {
    auto t = std::make_shared<asio::steady_timer>(*io_, std::chrono::milliseconds(5));
    t->async_wait(
        [this, t, deadline, drained](const asio::error_code&) { AwaitDrained(deadline, drained); });
    return;
  }
  stopping_ = true;
  asio::error_code ignored;
  acceptor_.close(ignored);
  timer_.cancel();
  for (auto& [id, s] : sockets_) s->transport->Close();
  sockets_.clear();
  drained->set_value();
}

}  // namespace meshkv::peer
