#include "storage/identity.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace meshkv::storage {
namespace {

absl::Status Malformed(absl::string_view why) {
  return absl::DataLossError(absl::StrCat("IDENTITY file is malformed: ", why));
}

std::string Remedy(const std::string& dir) {
  return absl::StrCat(
      "; point --data-dir at this node's own directory (or a new, empty one), or remove ", dir,
      " to start this node empty (it re-syncs from its peers)");
}

}  // namespace

std::string FormatIdentityFile(const IdentityFile& file) {
  return absl::StrCat("meshkv-data-dir ", file.format_version, "\n",            //
                      "engine ", EngineName(file.engine), "\n",                  //
                      "cluster ", file.identity.cluster, "\n",                   //
                      "node_id ", file.identity.node_id, "\n",                   //
                      "leasing ", file.identity.leasing ? "on" : "off", "\n");
}

absl::StatusOr<IdentityFile> ParseIdentityFile(const std::string& text) {
  std::vector<std::string> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  const char* const names[] = {"meshkv-data-dir", "engine", "cluster", "node_id", "leasing"};
  if (lines.size() != 5) return Malformed(absl::StrCat(lines.size(), " lines, want 5"));
  std::string values[5];
  for (int i = 0; i < 5; ++i) {
    const std::string prefix = absl::StrCat(names[i], " ");
    if (lines[i].compare(0, prefix.size(), prefix) != 0 && lines[i] != names[i]) {
      return Malformed(absl::StrCat("line ", i + 1, " should start with \"", names[i], "\""));
    }
    values[i] = lines[i].size() > prefix.size() ? lines[i].substr(prefix.size()) : "";
  }
  IdentityFile file;
  if (!absl::SimpleAtoi(values[0], &file.format_version) || file.format_version < 1) {
    return Malformed(absl::StrCat("format version \"", values[0], "\""));
  }
  std::optional<EngineKind> engine = ParseEngineKind(values[1]);
  if (!engine) return Malformed(absl::StrCat("unknown engine \"", values[1], "\""));
  file.engine = *engine;
  file.identity.cluster = values[2];
  file.identity.node_id = values[3];
  if (values[4] != "on" && values[4] != "off") {
    return Malformed(absl::StrCat("leasing \"", values[4], "\", want on or off"));
  }
  file.identity.leasing = values[4] == "on";
  return file;
}

absl::Status CheckIdentity(const std::string& dir, const IdentityFile& have, const Identity& want,
                           EngineKind engine) {
  if (have.format_version > kFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", dir, " has format version ", have.format_version,
        ", written by a newer meshkv; this one reads version ", kFormatVersion,
        ": run the newer version"));
  }
  if (have.identity.cluster != want.cluster) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", dir, " belongs to cluster \"", have.identity.cluster,
        "\", not \"", want.cluster, "\": start with --cluster=", have.identity.cluster,
        Remedy(dir)));
  }
  if (have.identity.node_id != want.node_id) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", dir, " belongs to node \"", have.identity.node_id, "\", not \"",
        want.node_id, "\": start with --node-id=", have.identity.node_id, Remedy(dir)));
  }
  if (have.identity.leasing != want.leasing) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", dir, " was written with --leasing=",
        have.identity.leasing ? "on" : "off", ", not --leasing=", want.leasing ? "on" : "off",
        ": start with --leasing=", have.identity.leasing ? "on" : "off", Remedy(dir)));
  }
  if (have.engine != engine) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data directory ", dir, " was written by engine ", EngineName(have.engine), ", not ",
        EngineName(engine), Remedy(dir)));
  }
  return absl::OkStatus();
}

}  // namespace meshkv::storage
