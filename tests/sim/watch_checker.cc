#include "tests/sim/watch_checker.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace meshkv::sim {

// One watch stream: it reads through a WatchCursor when the hub reports a
// new revision, as WatchStream does.
class WatchChecker::Cursor final : public WatchHub::Stream {
 public:
  Cursor(const Store* store, std::string prefix)
      : cursor_(*WatchCursor::Open(store, std::move(prefix), 0)), start_(cursor_.revision()) {}

  void OnAdvance(uint64_t head) override {
    while (cursor_.LagBehind(head) > 0 && error_.empty()) {
      const uint64_t before = cursor_.revision();
      std::vector<WatchEvent> events;
      absl::Status s = cursor_.Next(512, 1 << 20, &events);
      if (!s.ok()) {
        error_ = s.ToString();
        return;
      }
      for (const WatchEvent& e : events) {
        read_.push_back({e.entry.record->revision(), std::string(e.entry.record->key())});
      }
      if (cursor_.revision() == before) return;  // nothing more yet
    }
  }
  void OnShutdown() override {}

  const std::string& prefix() const { return cursor_.prefix(); }
  uint64_t start() const { return start_; }
  const std::vector<Change>& read() const { return read_; }
  const std::string& error() const { return error_; }

 private:
  WatchCursor cursor_;
  const uint64_t start_;
  std::vector<Change> read_;
  std::string error_;
};

WatchChecker::WatchChecker(std::vector<std::string> prefixes) : prefixes_(std::move(prefixes)) {}

WatchChecker::~WatchChecker() { Stop(); }

void WatchChecker::OnCommit(const Commit& c) {
  ++commits_[static_cast<int>(c.source)];
  // What a watcher can see: a change to or from a live value.
  const bool visible = c.next->live() || (c.prev && c.prev->live());
  if (visible) visible_.push_back({c.revision, std::string(c.next->key())});
}

void WatchChecker::Watch(const Store* store, WatchHub* hub) {
  hub_ = hub;
  for (const std::string& p : prefixes_) {
    cursors_.push_back(std::make_unique<Cursor>(store, p));
    hub_->Add(cursors_.back().get());
  }
}

void WatchChecker::Stop() {
  if (hub_ == nullptr) return;
  for (const auto& c : cursors_) hub_->Remove(c.get());
  hub_ = nullptr;
}

std::string WatchChecker::Check() const {
  for (const auto& c : cursors_) {
    if (!c->error().empty()) return absl::StrCat("watcher of \"", c->prefix(), "\": ", c->error());
    std::vector<Change> want;
    for (const Change& ch : visible_) {
      if (ch.revision > c->start() && absl::StartsWith(ch.key, c->prefix())) want.push_back(ch);
    }
    if (c->read() == want) continue;
    size_t i = 0;
    while (i < want.size() && i < c->read().size() && want[i] == c->read()[i]) ++i;
    auto show = [](const std::vector<Change>& v, size_t i) {
      return i < v.size() ? absl::StrCat(v[i].key, "@", v[i].revision) : std::string("(end)");
    };
    return absl::StrCat("watcher of \"", c->prefix(), "\" from revision ", c->start(), " read ",
                        c->read().size(), " events, committed ", want.size(),
                        "; first difference at event ", i, ": read ", show(c->read(), i),
                        ", committed ", show(want, i));
  }
  return "";
}

uint64_t WatchChecker::events_read() const {
  uint64_t n = 0;
  for (const auto& c : cursors_) n += c->read().size();
  return n;
}

}  // namespace meshkv::sim
