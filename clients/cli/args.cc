#include "clients/cli/args.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace meshkv::cli {
namespace {

const FlagSpec* FindFlag(const std::vector<FlagSpec>& flags, absl::string_view name,
                         char short_name) {
  for (const FlagSpec& f : flags) {
    if (short_name != 0 ? f.short_name == short_name : f.name == name) return &f;
  }
  return nullptr;
}

bool IsSomeCommandsFlag(absl::string_view name) {
  for (const CommandSpec& c : Commands()) {
    if (FindFlag(c.flags, name, 0) != nullptr) return true;
  }
  return false;
}

// Empty when `value` suits `flag`, else why not.
std::string CheckValue(const FlagSpec& flag, absl::string_view value) {
  uint32_t count;
  uint64_t revision;
  int64_t ms;
  absl::Duration duration;
  std::string origin;
  std::vector<std::string> endpoints;
  switch (flag.type) {
    case FlagType::kSwitch:
    case FlagType::kString:
      return "";
    case FlagType::kAddresses:
      return ParseEndpoints(value, &endpoints) ? "" : "must be HOST:PORT[,HOST:PORT...]";
    case FlagType::kMillis:
      return ParseMillis(value, /*allow_zero=*/false, &ms)
                 ? ""
                 : "must be a duration of at least 1ms such as 30s";
    case FlagType::kChoice:
      for (absl::string_view choice : flag.choices) {
        if (value == choice) return "";
      }
      return absl::StrCat("must be one of ", absl::StrJoin(flag.choices, ", "));
    case FlagType::kVersion:
      return ParseVersion(value, &revision, &origin)
                 ? ""
                 : "must be a version HLC/ORIGIN, as `meshkv get -v` prints it";
    case FlagType::kCount:
      return absl::SimpleAtoi(value, &count) && !absl::StartsWith(value, "-")
                 ? ""
                 : "must be a whole number from 0 to 4294967295";
    case FlagType::kRevision:
      return absl::SimpleAtoi(value, &revision) && !absl::StartsWith(value, "-")
                 ? ""
                 : "must be a whole number (a revision)";
    case FlagType::kDuration:
      return ParseTimeout(value, &duration) ? ""
                                            : "must be a positive duration such as 5s or 500ms";
  }
  return "";
}

// Usage of a command in one line, for error messages.
std::string Usage(const CommandSpec& c) {
  std::string usage = absl::StrCat("meshkv ", c.name);
  if (!c.flags.empty()) absl::StrAppend(&usage, " [flags]");
  if (!c.synopsis.empty()) absl::StrAppend(&usage, " ", c.synopsis);
  return usage;
}

// Checks what single flags cannot: values that depend on the command, and
// flags that exclude or need each other.
std::string CheckCombinations(const Invocation& inv) {
  const CommandSpec& c = *inv.command;
  if (inv.Has("if-absent") && inv.Has("if-version")) {
    return absl::StrCat(c.name, ": --if-absent and --if-version exclude each other");
  }
  if (c.name == "del") {
    if (inv.Has("limit") && !inv.Has("prefix")) return "del: --limit needs --prefix";
    if (inv.Has("prefix") && inv.Has("if-version")) {
      return "del: --if-version applies to one key, not to --prefix";
    }
  }
  if (c.name == "watch" && inv.Has("progress") && inv.Millis("progress") < 100) {
    return absl::StrCat("flag --progress: \"", inv.Flag("progress"), "\" must be at least 100ms");
  }
  if (c.name == "touch") {
    int64_t ms;
    if (!ParseMillis(inv.args[1], /*allow_zero=*/true, &ms)) {
      return absl::StrCat("touch: DURATION \"", inv.args[1],
                          "\" must be 0 or a duration of at least 1ms such as 30s");
    }
  }
  if (c.name == "completion") {
    for (absl::string_view shell : kShells) {
      if (inv.args[0] == shell) return "";
    }
    return absl::StrCat("completion: unknown shell \"", inv.args[0], "\" (bash or zsh)");
  }
  return "";
}

// Checks the number and shape of the command's positional arguments.
std::string CheckArgs(const Invocation& inv) {
  const CommandSpec& c = *inv.command;
  const int n = static_cast<int>(inv.args.size());
  // Arguments from this index on must be NAME=VALUE pairs; -1: none.
  int pairs_from = -1;
  int min = c.min_args, max = c.max_args;
  if (c.name == "set") {
    if (inv.Has("mapping")) {
      pairs_from = 1;
    } else {
      min = max = 2;
    }
  } else if (c.name == "update") {
    pairs_from = 0;
  } else if (c.name == "apply-delta") {
    pairs_from = 1;
    if (n == 1 && !inv.Has("remove")) min = 2;  // nothing to merge or remove
  }
  if (n < min) return absl::StrCat(c.name, ": missing argument (usage: ", Usage(c), ")");
  if (max != kUnlimited && n > max) {
    return absl::StrCat(c.name, ": unexpected argument \"", inv.args[max], "\" (usage: ", Usage(c),
                        ")");
  }
  for (int i = pairs_from < 0 ? n : pairs_from; i < n; ++i) {
    if (!absl::StrContains(inv.args[i], '=')) {
      return absl::StrCat(c.name, ": expected NAME=VALUE, got \"", inv.args[i],
                          "\" (usage: ", Usage(c), ")");
    }
  }
  return CheckCombinations(inv);
}

}  // namespace

std::string Invocation::Flag(absl::string_view flag) const {
  auto it = flags.find(flag);
  return it == flags.end() || it->second.empty() ? "" : it->second.back();
}

std::vector<std::string> Invocation::Values(absl::string_view flag) const {
  auto it = flags.find(flag);
  return it == flags.end() ? std::vector<std::string>() : it->second;
}

uint64_t Invocation::Number(absl::string_view flag) const {
  uint64_t n = 0;
  if (!Has(flag) || !absl::SimpleAtoi(Flag(flag), &n)) n = 0;
  return n;
}

int64_t Invocation::Millis(absl::string_view flag) const {
  int64_t ms = 0;
  if (!Has(flag) || !ParseMillis(Flag(flag), /*allow_zero=*/true, &ms)) ms = 0;
  return ms;
}

bool ParseMillis(absl::string_view text, bool allow_zero, int64_t* ms) {
  if (allow_zero && text == "0") {
    *ms = 0;
    return true;
  }
  absl::Duration d;
  if (!ParseTimeout(text, &d) || d < absl::Milliseconds(1)) return false;
  *ms = absl::ToInt64Milliseconds(d);
  return true;
}

bool ParseVersion(absl::string_view text, uint64_t* hlc, std::string* origin) {
  const size_t slash = text.find('/');
  if (slash == absl::string_view::npos || slash + 1 == text.size()) return false;
  const absl::string_view number = text.substr(0, slash);
  if (number.empty() || number[0] < '0' || number[0] > '9') return false;  // no sign, no space
  if (!absl::SimpleAtoi(number, hlc)) return false;
  *origin = std::string(text.substr(slash + 1));
  return true;
}

bool ParseEndpoints(absl::string_view text, std::vector<std::string>* out) {
  out->clear();
  for (absl::string_view part : absl::StrSplit(text, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part.empty()) return false;
    out->emplace_back(part);
  }
  return !out->empty();
}

bool ParseTimeout(absl::string_view text, absl::Duration* out) {
  double seconds;
  if (absl::SimpleAtod(text, &seconds)) {
    *out = absl::Seconds(seconds);
  } else if (!absl::ParseDuration(text, out)) {
    return false;
  }
  return *out > absl::ZeroDuration() && *out != absl::InfiniteDuration();
}

Invocation ParseArgs(const std::vector<std::string>& args, std::string default_endpoints) {
  Invocation inv;
  if (!ParseEndpoints(default_endpoints, &inv.global.endpoints)) {
    inv.error = absl::StrCat("$MESHKV_ENDPOINTS: \"", default_endpoints,
                             "\" must be HOST:PORT[,HOST:PORT...]");
  }
  bool command_seen = false;  // even an unknown one: later words are its arguments
  bool flags_ended = false;
  auto fail = [&inv](std::string message) {
    if (inv.error.empty()) inv.error = std::move(message);
  };

  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_ended || arg.size() < 2 || arg[0] != '-') {
      if (command_seen) {
        inv.args.push_back(arg);
      } else {
        command_seen = true;
        inv.command = FindCommand(arg);
        if (inv.command == nullptr) fail(absl::StrCat("unknown command \"", arg, "\""));
      }
      continue;
    }
    if (arg == "--") {
      flags_ended = true;
      continue;
    }

    // A flag: --name, --name=value or -x.
    absl::string_view name;
    char short_name = 0;
    bool has_inline_value = false;
    std::string value;
    if (absl::StartsWith(arg, "--")) {
      name = absl::string_view(arg).substr(2);
      if (size_t eq = name.find('='); eq != absl::string_view::npos) {
        has_inline_value = true;
        value = std::string(name.substr(eq + 1));
        name = name.substr(0, eq);
      }
    } else if (arg.size() == 2) {
      short_name = arg[1];
    }
    const FlagSpec* spec = nullptr;
    bool global = true;
    if (!name.empty() || short_name != 0) {
      spec = FindFlag(GlobalFlags(), name, short_name);
      if (spec == nullptr && inv.command != nullptr) {
        spec = FindFlag(inv.command->flags, name, short_name);
        global = false;
      }
    }
    if (spec == nullptr) {
      if (command_seen && inv.command == nullptr) continue;  // already reported the command
      std::string message = absl::StrCat("unknown flag \"", arg, "\"");
      if (inv.command != nullptr) absl::StrAppend(&message, " for ", inv.command->name);
      if (!absl::StartsWith(arg, "--")) {
        absl::StrAppend(&message, " (put -- before arguments that start with '-')");
      } else if (inv.command == nullptr && IsSomeCommandsFlag(name)) {
        absl::StrAppend(&message, " (a command's flags go after the command)");
      }
      fail(std::move(message));
      continue;
    }
    const std::string display = absl::StrCat("--", spec->name);

    if (spec->type == FlagType::kSwitch) {
      if (has_inline_value) fail(absl::StrCat("flag ", display, " takes no value"));
    } else if (!has_inline_value) {
      if (i + 1 >= args.size()) {
        fail(absl::StrCat("flag ", display, " needs a value (", spec->value_name, ")"));
        continue;
      }
      value = args[++i];
    }
    if (std::string why = CheckValue(*spec, value); !why.empty()) {
      fail(absl::StrCat("flag ", display, ": \"", value, "\" ", why));
      continue;
    }

    if (!global) {
      // A single-valued flag given twice: the last wins, as in etcdctl.
      std::vector<std::string>& values = inv.flags[std::string(spec->name)];
      if (!spec->repeated) values.clear();
      values.push_back(std::move(value));
    } else if (spec->name == "endpoints" || spec->name == "addr") {
      ParseEndpoints(value, &inv.global.endpoints);
    } else if (spec->name == "dial-timeout") {
      ParseTimeout(value, &inv.global.dial_timeout);
    } else if (spec->name == "timeout") {
      ParseTimeout(value, &inv.global.timeout);
    } else if (spec->name == "write-out") {
      inv.global.output = value == "json"    ? OutputFormat::kJson
                          : value == "table" ? OutputFormat::kTable
                                             : OutputFormat::kSimple;
    } else if (spec->name == "cacert") {
      inv.global.tls.cacert = value;
    } else if (spec->name == "cert") {
      inv.global.tls.cert = value;
    } else if (spec->name == "key") {
      inv.global.tls.key = value;
    } else if (spec->name == "help") {
      inv.help = true;
    } else if (spec->name == "version") {
      inv.version = true;
    }
  }

  if (inv.error.empty() && inv.command != nullptr) fail(CheckArgs(inv));
  return inv;
}

}  // namespace meshkv::cli
