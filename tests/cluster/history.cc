#include "tests/cluster/history.h"

#include <set>

#include "absl/strings/str_cat.h"

namespace meshkv::testing {
namespace {

std::string Describe(const Entry& e) {
  return absl::StrCat("\"", e.value, "\" (owner ", e.owner, ", ", e.timestamp_ms, " ms)");
}

std::string Describe(const Write& w) {
  return absl::StrCat(w.value ? "set " : "delete ", w.key, w.value ? "=" + *w.value : "", " at ",
                      w.node, " (min_replicas ", w.min_replicas, ", ", w.timestamp_ms, " ms)");
}

}  // namespace

std::vector<std::string> CheckConvergence(const std::map<std::string, State>& finals) {
  std::vector<std::string> errors;
  if (finals.empty()) return errors;
  const auto& [first_node, first] = *finals.begin();
  for (const auto& [node, state] : finals) {
    if (node == first_node) continue;
    for (const auto& [key, e] : first) {
      auto it = state.find(key);
      if (it == state.end()) {
        errors.push_back(absl::StrCat("not converged: ", key, " is ", Describe(e), " on ",
                                      first_node, ", absent on ", node));
      } else if (!(it->second == e)) {
        errors.push_back(absl::StrCat("not converged: ", key, " is ", Describe(e), " on ",
                                      first_node, ", ", Describe(it->second), " on ", node));
      }
    }
    for (const auto& [key, e] : state) {
      if (!first.count(key)) {
        errors.push_back(absl::StrCat("not converged: ", key, " is ", Describe(e), " on ", node,
                                      ", absent on ", first_node));
      }
    }
  }
  return errors;
}

std::vector<std::string> CheckRefusedNeverAppear(const std::vector<Write>& writes,
                                                 const State& final,
                                                 const std::vector<WatchLog>& watches) {
  std::map<std::string, const Write*> refused;  // by value
  for (const Write& w : writes) {
    if (w.outcome == Outcome::kRefused && w.value) refused[*w.value] = &w;
  }
  std::vector<std::string> errors;
  for (const auto& [key, e] : final) {
    if (auto it = refused.find(e.value); it != refused.end()) {
      errors.push_back(absl::StrCat("refused write in the final state: ", Describe(*it->second)));
    }
  }
  for (const WatchLog& w : watches) {
    for (const WatchEvent& ev : w.events) {
      if (ev.deleted) continue;
      if (auto it = refused.find(ev.entry.value); it != refused.end()) {
        errors.push_back(absl::StrCat("refused write in a watch event on ", w.node, " (revision ",
                                      ev.revision, "): ", Describe(*it->second)));
      }
    }
  }
  return errors;
}

std::vector<std::string> CheckAcknowledgedSurvive(const std::vector<Write>& writes,
                                                  const State& final,
                                                  const std::function<bool(const Write&)>& counts) {
  // Deletes that may have happened (acknowledged or unknown), by key: their
  // send times.
  std::map<std::string, std::vector<int64_t>> deletes;
  for (const Write& w : writes) {
    if (!w.value && w.outcome != Outcome::kRefused) deletes[w.key].push_back(w.sent_ms);
  }
  // Values that may have been written: within one millisecond Meta cannot
  // order two writes (the hybrid clock's logical counter is not in it), so
  // another such write in the same millisecond may have superseded.
  std::set<std::string> possible;
  for (const Write& w : writes) {
    if (w.value && w.outcome != Outcome::kRefused) possible.insert(*w.value);
  }
  std::vector<std::string> errors;
  for (const Write& w : writes) {
    if (w.outcome != Outcome::kAcknowledged || !counts(w)) continue;
    auto it = final.find(w.key);
    if (it == final.end()) {
      if (!w.value) continue;  // deleted, as acknowledged
      bool deleted_later = false;
      for (int64_t t : deletes[w.key]) deleted_later |= t >= w.sent_ms;
      if (!deleted_later)
        errors.push_back(
            absl::StrCat("acknowledged write lost: ", Describe(w), "; the key is absent"));
      continue;
    }
    const Entry& e = it->second;
    const bool same = w.value && e.value == *w.value;
    const bool newer = e.timestamp_ms > w.timestamp_ms ||
                       (e.timestamp_ms == w.timestamp_ms && !same && possible.count(e.value));
    if (!same && !newer) {
      errors.push_back(
          absl::StrCat("acknowledged write lost: ", Describe(w), "; the key holds ", Describe(e)));
    }
  }
  return errors;
}

std::vector<std::string> CheckWatches(const std::vector<WatchLog>& watches,
                                      const std::map<std::string, State>& finals) {
  std::vector<std::string> errors;
  for (size_t i = 0; i < watches.size(); ++i) {
    const WatchLog& w = watches[i];
    const std::string name = absl::StrCat("watch ", i, " on ", w.node);
    uint64_t last = w.start_revision;
    for (const WatchEvent& ev : w.events) {
      if (ev.revision <= last) {
        errors.push_back(absl::StrCat(name, ": revision ", ev.revision, " (", ev.key,
                                      ") after revision ", last));
      }
      last = std::max(last, ev.revision);
    }
    if (!w.complete) continue;
    auto final = finals.find(w.node);
    if (final == finals.end()) continue;
    State replayed = w.initial;
    for (const WatchEvent& ev : w.events) {
      if (ev.deleted) {
        replayed.erase(ev.key);
      } else {
        replayed[ev.key] = ev.entry;
      }
    }
    for (const std::string& e :
         CheckConvergence({{name + " replayed", replayed}, {w.node, final->second}})) {
      errors.push_back(e);
    }
  }
  return errors;
}

}  // namespace meshkv::testing
