// History: what the clients of a fault campaign did and saw, and the checks
// that the cluster kept its guarantees (docs/design.md, "Guarantees under
// faults"). Pure data and logic: no processes, no gRPC, so that each check
// can be shown to fail on a hand-made history (history_test.cc).
//
//   History h;
//   h.writes.push_back({.key = "k1", .value = "v1", .outcome = Outcome::kAcknowledged, ...});
//   std::vector<std::string> errors = CheckConvergence(finals);
//   Append(&errors, CheckAcknowledgedSurvive(h.writes, finals.begin()->second, filter));
//
// Every write in a campaign carries a value no other write uses, so a value
// names the write that produced it.
#ifndef MESHKV_TESTS_CLUSTER_HISTORY_H_
#define MESHKV_TESTS_CLUSTER_HISTORY_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace meshkv::testing {

enum class Outcome {
  kAcknowledged,  // OK
  kRefused,  // a definite "no" (FAILED_PRECONDITION, INVALID_ARGUMENT, NOT_FOUND): nothing changed
  kUnknown,  // timeout, UNAVAILABLE, connection lost: may or may not have happened
};

// One write request and what came back.
struct Write {
  std::string key;
  std::optional<std::string> value;  // nullopt: a Delete
  std::string node;                  // where it entered
  uint32_t min_replicas = 0;
  Outcome outcome = Outcome::kUnknown;
  int64_t sent_ms = 0;  // wall clock when the request was sent
  // From the returned Meta, when acknowledged.
  std::string owner;
  int64_t timestamp_ms = 0;
};

// A key's state on one node, from List.
struct Entry {
  std::string value;
  std::string owner;
  int64_t timestamp_ms = 0;
  bool operator==(const Entry& o) const {
    return value == o.value && owner == o.owner && timestamp_ms == o.timestamp_ms;
  }
};
using State = std::map<std::string, Entry>;

// One event of a watch stream.
struct WatchEvent {
  uint64_t revision = 0;
  std::string key;
  bool deleted = false;
  Entry entry;  // value empty for deletes
};

// One watch stream over every key of a node, opened from a List's revision.
struct WatchLog {
  std::string node;
  State initial;  // the List it started from
  uint64_t start_revision = 0;
  std::vector<WatchEvent> events;
  // The stream ran until the end of the campaign (the node was not killed
  // under it, nor was it cut off for lag): only then must it replay to the
  // node's final state.
  bool complete = false;
};

// Each returns one line per violation (empty: the property holds).

// Every node holds the same keys with the same values and meta.
std::vector<std::string> CheckConvergence(const std::map<std::string, State>& finals);

// No refused write's value is in `final` or in any watch event.
std::vector<std::string> CheckRefusedNeverAppear(const std::vector<Write>& writes,
                                                 const State& final,
                                                 const std::vector<WatchLog>& watches);

// Every acknowledged write that `counts` selects survives in `final`: the
// key holds that write or a newer one (a later timestamp, or the same
// millisecond from another write that was not refused), or, for a set, a delete sent after it
// removed the key; for an acknowledged delete, the key is absent or holds a newer write.
std::vector<std::string> CheckAcknowledgedSurvive(const std::vector<Write>& writes,
                                                  const State& final,
                                                  const std::function<bool(const Write&)>& counts);

// Each stream's revisions strictly increase (so no event twice) and are
// above its start; a complete stream replayed onto its initial state gives
// `finals` of its node.
std::vector<std::string> CheckWatches(const std::vector<WatchLog>& watches,
                                      const std::map<std::string, State>& finals);

}  // namespace meshkv::testing

#endif  // MESHKV_TESTS_CLUSTER_HISTORY_H_
