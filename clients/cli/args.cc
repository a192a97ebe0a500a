#include "clients/cli/args.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

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
  absl::Duration duration;
  switch (flag.type) {
    case FlagType::kSwitch:
    case FlagType::kString:
      return "";
    case FlagType::kAddress:
      return value.empty() ? "must not be empty" : "";
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
  return "";
}

}  // namespace

std::string Invocation::Flag(absl::string_view flag) const {
  auto it = flags.find(flag);
  return it == flags.end() ? "" : it->second;
}

uint64_t Invocation::Number(absl::string_view flag) const {
  uint64_t n = 0;
  auto it = flags.find(flag);
  if (it != flags.end() && !absl::SimpleAtoi(it->second, &n)) n = 0;
  return n;
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

Invocation ParseArgs(const std::vector<std::string>& args, std::string default_addr) {
  Invocation inv;
  inv.global.addr = std::move(default_addr);
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
      inv.flags[std::string(spec->name)] = value;
    } else if (spec->name == "addr") {
      inv.global.addr = value;
    } else if (spec->name == "timeout") {
      ParseTimeout(value, &inv.global.timeout);
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
