#include "peer/core/handshake.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "peer/core/frame.h"

namespace meshkv::peer {

namespace wire = ::meshkv::mesh::v1;

wire::Hello Handshake::MakeHello(const Local& local, bool synced) {
  wire::Hello hello;
  hello.set_protocol_version(kProtocolVersion);
  hello.set_cluster(local.cluster);
  hello.set_leasing(local.leasing);
  hello.set_node_id(local.node_id);
  hello.set_advertise_addr(local.advertise_addr);
  hello.set_buckets(local.buckets);
  hello.set_incarnation(static_cast<uint64_t>(local.incarnation_ms));
  hello.set_synced(synced);
  return hello;
}

Handshake::Outcome Handshake::Check(const wire::Hello& hello, const Local& local) {
  Outcome out;
  out.verdict = Verdict::kRefuse;
  if (hello.protocol_version() != kProtocolVersion) {
    out.refusal =
        absl::StrCat("protocol version ", hello.protocol_version(), " is not ", kProtocolVersion);
  } else if (hello.cluster() != local.cluster) {
    out.refusal = absl::StrCat("cluster \"", hello.cluster(), "\" is not \"", local.cluster, "\"");
  } else if (hello.leasing() != local.leasing) {
    out.refusal = absl::StrCat("leasing is ", hello.leasing() ? "on" : "off", " there and ",
                               local.leasing ? "on" : "off", " here");
  } else if (hello.buckets() != local.buckets) {
    out.refusal = absl::StrCat(hello.buckets(), " anti-entropy buckets is not ", local.buckets);
  } else if (hello.node_id().empty() || hello.advertise_addr().empty()) {
    out.refusal = "hello without node ID or address";
  } else if (hello.node_id().size() > kMaxNodeIdBytes ||
             std::any_of(hello.node_id().begin(), hello.node_id().end(), [](char ch) {
               return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f;
             })) {
    out.refusal =
        absl::StrCat("node ID longer than ", kMaxNodeIdBytes, " bytes or with control characters");
  } else if (hello.node_id() == local.node_id) {
    out.verdict = Verdict::kSelf;
  } else {
    out.verdict = Verdict::kAccept;
  }
  return out;
}

bool Handshake::KeepsOther(const std::string& self, const std::string& peer, Side other,
                           Side candidate) {
  const std::string& preferred = std::min(self, peer);
  auto dialler = [&](Side s) -> const std::string& { return s.outbound ? self : peer; };
  const bool other_preferred = dialler(other) == preferred;
  const bool candidate_preferred = dialler(candidate) == preferred;
  if (other_preferred != candidate_preferred) return other_preferred;
  return other.id < candidate.id;
}

}  // namespace meshkv::peer
