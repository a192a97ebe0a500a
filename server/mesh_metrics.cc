#include "server/mesh_metrics.h"

#include <deque>
#include <iterator>
#include <limits>
#include <string>
#include <utility>
#include <vector>

namespace meshkv {
namespace {

using prometheus::MetricFamily;

// Families being built. A deque, so that references to earlier families
// stay valid while later ones are added.
struct Builder {
  std::deque<MetricFamily> out;

  MetricFamily& Gauge(const char* name, const char* help) {
    out.push_back(GaugeFamily(name, help));
    return out.back();
  }
  MetricFamily& Counter(const char* name, const char* help) {
    out.push_back(CounterFamily(name, help));
    return out.back();
  }
  void One(MetricFamily& f, double v) { AddSample(&f, v); }
};

}  // namespace

Metrics::Collector MeshCollector(std::function<peer::MeshSnapshot()> snapshot) {
  return [snapshot = std::move(snapshot)] {
    const peer::MeshSnapshot s = snapshot();
    const peer::MeshStats& st = s.stats;
    Builder b;

    int established = 0;
    for (const peer::PeerStatus& p : s.peers) established += p.state == "established";
    b.One(b.Gauge("meshkv_peers_connected", "Neighbours with an established mesh connection."),
          established);
    b.One(b.Gauge("meshkv_peers_known",
                  "Other nodes this node knows of (by node ID; seeds not yet reached count once "
                  "per address)."),
          s.peers_known);
    b.One(b.Gauge("meshkv_peers_wanted",
                  "Neighbours this node aims for: min(max outbound degree, known nodes)."),
          s.peers_wanted);
    b.One(b.Gauge("meshkv_node_synced",
                  "1 once the node finished its first anti-entropy sync (and serves)."),
          s.synced ? 1 : 0);
    MetricFamily& rtt =
        b.Gauge("meshkv_peer_rtt_seconds", "Smoothed heartbeat round-trip time to each neighbour.");
    for (const peer::PeerStatus& p : s.peers) {
      if (p.state == "established") AddSample(&rtt, p.rtt_ms / 1000.0, {{"peer", p.node_id}});
    }

    // Traffic per peer and frame type.
    MetricFamily& frames_sent =
        b.Counter("meshkv_mesh_frames_sent_total", "Mesh frames sent, by peer and frame type.");
    MetricFamily& bytes_sent = b.Counter("meshkv_mesh_bytes_sent_total",
                                         "Mesh bytes sent (headers included), by peer and type.");
    MetricFamily& frames_recv = b.Counter("meshkv_mesh_frames_received_total",
                                          "Mesh frames received, by peer and frame type.");
    MetricFamily& bytes_recv = b.Counter("meshkv_mesh_bytes_received_total",
                                         "Mesh bytes received, by peer and frame type.");
    MetricFamily& drops = b.Counter(
        "meshkv_replication_send_queue_drops_total",
        "Write batches not sent to a peer whose send queue was full; anti-entropy repairs them.");
    for (const auto& [peer, c] : s.counters) {
      for (uint8_t t = 1; t <= peer::kMaxFrameType; ++t) {
        if (c.frames_sent[t] == 0 && c.frames_received[t] == 0) continue;
        const std::vector<prometheus::ClientMetric::Label> labels = {
            {"peer", peer}, {"type", peer::FrameTypeName(static_cast<peer::FrameType>(t))}};
        AddSample(&frames_sent, static_cast<double>(c.frames_sent[t]), labels);
        AddSample(&bytes_sent, static_cast<double>(c.bytes_sent[t]), labels);
        AddSample(&frames_recv, static_cast<double>(c.frames_received[t]), labels);
        AddSample(&bytes_recv, static_cast<double>(c.bytes_received[t]), labels);
      }
      AddSample(&drops, static_cast<double>(c.send_queue_drops), {{"peer", peer}});
    }

    // Heartbeat round trips, per peer, as etcd's
    // etcd_network_peer_round_trip_time_seconds (the gauge above is the
    // smoothed value; this keeps the distribution).
    MetricFamily rtt_histogram;
    rtt_histogram.name = "meshkv_peer_round_trip_time_seconds";
    rtt_histogram.help = "Heartbeat round-trip times to each neighbour.";
    rtt_histogram.type = prometheus::MetricType::Histogram;
    for (const auto& [peer, c] : s.counters) {
      if (c.rtt_samples == 0) continue;
      prometheus::ClientMetric h;
      h.label.push_back({"peer", peer});
      uint64_t cumulative = 0;
      double bound = peer::kRttFirstBucketSeconds;
      for (size_t i = 0; i < peer::kRttBuckets; ++i, bound *= 2) {
        cumulative += c.rtt_buckets[i];
        prometheus::ClientMetric::Bucket bucket;
        bucket.upper_bound =
            i + 1 == peer::kRttBuckets ? std::numeric_limits<double>::infinity() : bound;
        bucket.cumulative_count = cumulative;
        h.histogram.bucket.push_back(bucket);
      }
      h.histogram.sample_count = c.rtt_samples;
      h.histogram.sample_sum = c.rtt_seconds_sum;
      rtt_histogram.metric.push_back(std::move(h));
    }
    b.out.push_back(std::move(rtt_histogram));

    // Dissemination.
    b.One(b.Counter("meshkv_replication_writes_originated_total",
                    "Writes accepted at this node and sent into the mesh."),
          st.writes_originated);
    b.One(b.Counter("meshkv_replication_writes_received_total",
                    "Writes received from peers, duplicates included."),
          st.writes_received);
    b.One(b.Counter("meshkv_replication_writes_applied_total",
                    "Writes received from peers that changed this node's store."),
          st.writes_applied);
    b.One(b.Counter("meshkv_replication_duplicates_dropped_total",
                    "Writes received again over another path, dropped."),
          st.duplicates_dropped);
    b.One(b.Counter("meshkv_replication_prunes_total",
                    "Prune frames sent: an origin's writes arrived twice over a link, so that "
                    "link left the origin's dissemination tree."),
          st.prunes_sent);
    b.One(b.Counter("meshkv_replication_grafts_total",
                    "Graft frames sent: a link rejoined an origin's dissemination tree (a lost "
                    "link, a faster path, or a gap seen in a neighbour's heartbeat)."),
          st.grafts_sent);
    b.One(b.Counter("meshkv_replication_writes_resent_total",
                    "Writes resent from the recent-write cache to answer a neighbour's graft."),
          st.writes_resent);
    b.One(b.Counter("meshkv_replication_writes_refused_total",
                    "Writes received that this node's store refused (malformed, over limits)."),
          st.writes_refused);
    b.One(b.Counter("meshkv_replication_own_origin_refused_total",
                    "Writes received that claim this node's own origin, which it did not make: "
                    "forged, refused."),
          st.own_origin_refused);

    // Batch sizes, as a histogram over powers of two.
    MetricFamily batch;
    batch.name = "meshkv_replication_batch_size";
    batch.help = "Writes per WriteBatch frame sent.";
    batch.type = prometheus::MetricType::Histogram;
    prometheus::ClientMetric h;
    uint64_t cumulative = 0;
    for (size_t i = 0; i < peer::kBatchSizeBuckets; ++i) {
      cumulative += st.batch_sizes[i];
      prometheus::ClientMetric::Bucket bucket;
      bucket.upper_bound = i + 1 == peer::kBatchSizeBuckets
                               ? std::numeric_limits<double>::infinity()
                               : static_cast<double>(uint64_t{1} << i);
      bucket.cumulative_count = cumulative;
      h.histogram.bucket.push_back(bucket);
    }
    h.histogram.sample_count = st.batches_sent;
    h.histogram.sample_sum = static_cast<double>(st.writes_batched);
    batch.metric.push_back(std::move(h));
    b.out.push_back(std::move(batch));

    // Anti-entropy.
    MetricFamily& rounds =
        b.Counter("meshkv_antientropy_rounds_total", "Anti-entropy sessions ended, by result.");
    AddSample(&rounds, static_cast<double>(st.sync_rounds_completed), {{"result", "completed"}});
    AddSample(&rounds, static_cast<double>(st.sync_rounds_failed), {{"result", "failed"}});
    b.One(b.Counter("meshkv_antientropy_keys_repaired_total",
                    "Records received through anti-entropy that changed this node's store."),
          st.sync_keys_repaired);
    b.One(b.Counter("meshkv_antientropy_records_sent_total",
                    "Records this node sent to peers through anti-entropy."),
          st.sync_records_sent);

    // Connections.
    MetricFamily& conns =
        b.Counter("meshkv_mesh_connections_total",
                  "Mesh connections accepted (in) or dialled (out, failed attempts included).");
    AddSample(&conns, static_cast<double>(st.connections_accepted), {{"direction", "in"}});
    AddSample(&conns, static_cast<double>(st.connections_dialed), {{"direction", "out"}});
    b.One(b.Counter("meshkv_mesh_handshakes_refused_total",
                    "Hellos refused: another cluster, leasing mode, protocol version, or a node ID "
                    "its certificate does not name."),
          st.handshakes_refused);
    MetricFamily& refused = b.Counter(
        "meshkv_mesh_connections_refused_total",
        "Mesh connections refused, by reason: certificate (TLS refused the peer's, or the "
        "peer refused ours), node_id_mismatch (the Hello claims another ID than the certificate), "
        "incompatible (cluster, leasing, protocol, a malformed node ID), frame_too_large (before "
        "the handshake), too_many_pending (handshakes), certificate_expired (the peer's, or ours "
        "as "
        "the peer said).");
    for (size_t r = 0; r < peer::kRefusalKinds; ++r) {
      AddSample(&refused, static_cast<double>(st.refused[r]),
                {{"reason", peer::Name(static_cast<peer::Refusal>(r))}});
    }
    b.One(b.Counter("meshkv_mesh_protocol_errors_total",
                    "Connections closed for malformed, oversized or unexpected frames."),
          st.protocol_errors);
    b.One(b.Counter("meshkv_mesh_peers_timed_out_total",
                    "Neighbours declared dead after the failure timeout without a frame."),
          st.peers_timed_out);
    return std::vector<MetricFamily>(std::make_move_iterator(b.out.begin()),
                                     std::make_move_iterator(b.out.end()));
  };
}

}  // namespace meshkv
