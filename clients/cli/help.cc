#include "clients/cli/help.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"

namespace meshkv::cli {
namespace {

constexpr char kOutputAndExitCodes[] =
    "Output (-w, --write-out):\n"
    "  simple  get and pop print the value's bytes exactly as stored. Other commands\n"
    "          print logfmt-like lines: a key or value appears as it is when it is\n"
    "          printable text (UTF-8 included) without spaces, '=', '\"' or '\\', and\n"
    "          otherwise in double quotes with C escapes (\\n, \\t, \\\", \\\\, \\xHH).\n"
    "          Mappings print as {\"field\": \"value\"}. Times are ISO 8601 UTC.\n"
    "  json    the RPC's response as one line of protobuf JSON, as etcdctl prints it:\n"
    "          keys, values, mapping values, prefixes and payloads (bytes) in base64;\n"
    "          owners, origins, mapping field names and topics (strings) in UTF-8;\n"
    "          64-bit numbers as strings. watch and subscribe print one line per\n"
    "          response of the stream.\n"
    "  table   aligned columns (watch and subscribe: the simple lines).\n"
    "\n"
    "Exit codes:\n"
    "  0  success\n"
    "  1  not found: get, del, pop or touch of an absent key, popitem with nothing to\n"
    "     pop; health: the node answered but is not SERVING\n"
    "  2  usage error: unknown command or flag, missing or malformed argument\n"
    "  3  any other error (e.g. INVALID_ARGUMENT, or DEADLINE_EXCEEDED: no answer\n"
    "     within --timeout)\n"
    "  4  refused (FAILED_PRECONDITION): another node holds the key's lease, or\n"
    "     --if-absent / --if-version did not hold; nothing was written\n"
    "  5  unreachable (UNAVAILABLE): no endpoint answered within --dial-timeout, or\n"
    "     the node went away during the call\n"
    "Errors are reported on stderr in one line: meshkv: CODE: message\n"
    "\n"
    "Environment: MESHKV_ENDPOINTS (or MESHKV_ADDR), MESHKV_CACERT, MESHKV_CERT,\n"
    "MESHKV_KEY stand for the flags of the same names when those are not given.\n";

// "  -v, --meta" / "      --limit N", as listed in help.
std::string FlagLabel(const FlagSpec& f) {
  std::string label = f.short_name != 0 ? absl::StrCat("  -", std::string(1, f.short_name), ", ")
                                        : std::string("      ");
  absl::StrAppend(&label, "--", f.name);
  if (f.type != FlagType::kSwitch) absl::StrAppend(&label, " ", f.value_name);
  return label;
}

// Two aligned columns.
std::string Table(const std::vector<std::pair<std::string, std::string>>& rows) {
  size_t width = 0;
  for (const auto& [left, right] : rows) width = std::max(width, left.size());
  std::string out;
  for (const auto& [left, right] : rows) {
    absl::StrAppend(&out, left, std::string(width + 2 - left.size(), ' '), right, "\n");
  }
  return out;
}

std::string FlagTable(const std::vector<FlagSpec>& flags) {
  std::vector<std::pair<std::string, std::string>> rows;
  for (const FlagSpec& f : flags) rows.emplace_back(FlagLabel(f), std::string(f.help));
  return Table(rows);
}

}  // namespace

std::string GlobalHelp() {
  std::vector<std::pair<std::string, std::string>> commands;
  for (const CommandSpec& c : Commands()) {
    std::string left = absl::StrCat("  ", c.name);
    if (!c.synopsis.empty()) absl::StrAppend(&left, " ", c.synopsis);
    commands.emplace_back(left, std::string(c.summary));
  }
  return absl::StrCat(
      "meshkv: command-line client of meshkv, a replicated key-value service.\n"
      "\n"
      "Usage: meshkv [--endpoints HOST:PORT,...] [-w simple|json|table] [--timeout DURATION]\n"
      "              [--cacert FILE [--cert FILE --key FILE]] COMMAND [flags] [ARGS...]\n"
      "       meshkv COMMAND --help\n"
      "\n"
      "Commands:\n",
      Table(commands),
      "\n"
      "Global flags (before or after the command):\n",
      FlagTable(GlobalFlags()),
      "\n"
      "`--` ends the flags, for arguments that start with '-'.\n"
      "\n",
      kOutputAndExitCodes);
}

std::string CommandHelp(const CommandSpec& c) {
  std::string out = absl::StrCat("Usage: meshkv ", c.name);
  if (!c.flags.empty()) absl::StrAppend(&out, " [flags]");
  if (!c.synopsis.empty()) absl::StrAppend(&out, " ", c.synopsis);
  absl::StrAppend(&out, "\n\n", c.summary, ".\n");
  if (!c.details.empty()) absl::StrAppend(&out, "\n", c.details, "\n");
  if (!c.flags.empty()) absl::StrAppend(&out, "\nFlags:\n", FlagTable(c.flags));
  absl::StrAppend(&out, "\nGlobal flags:\n", FlagTable(GlobalFlags()),
                  "\nExit codes: 0 ok, 1 not found, 2 usage error, 3 other error, 4 refused, "
                  "5 unreachable\n(meshkv --help).\n");
  return out;
}

std::string VersionText() { return absl::StrCat("meshkv ", MESHKV_VERSION, "\n"); }

}  // namespace meshkv::cli
