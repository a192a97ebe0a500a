#include "clients/cli/command_table.h"

namespace meshkv::cli {
namespace {

const FlagSpec kPrefixFlag = {"prefix", 0, FlagType::kString, "P", "Only keys that start with P"};
const FlagSpec kLimitFlag = {"limit", 0, FlagType::kCount, "N", "At most N keys (0: no limit)"};
const FlagSpec kStartAfterFlag = {"start-after", 0, FlagType::kString, "KEY",
                                  "Only keys after KEY (resumes a listing cut by --limit)"};
// Write concern, on every command that writes.
const FlagSpec kReplicasFlag = {
    "replicas", 0, FlagType::kCount, "N",
    "Acknowledge only once N other nodes hold the write (default 0: this node)"};
const FlagSpec kIfAbsentFlag = {"if-absent", 0, FlagType::kSwitch, "",
                                "Write only if the key is absent (exit 4 otherwise)"};
const FlagSpec kIfVersionFlag = {
    "if-version", 0, FlagType::kVersion, "HLC/ORIGIN",
    "Write only if the key's current version is this one, as `get -v` prints it (exit 4 "
    "otherwise)"};
const FlagSpec kTtlFlag = {"ttl", 0, FlagType::kMillis, "DURATION",
                           "Expire the key DURATION after this write, e.g. 30s"};

}  // namespace

const std::vector<FlagSpec>& GlobalFlags() {
  static const std::vector<FlagSpec> flags = {
      {"endpoints", 0, FlagType::kAddresses, "HOST:PORT,...",
       "Nodes to try in order; the first that answers serves (default: $MESHKV_ENDPOINTS, "
       "$MESHKV_ADDR or 127.0.0.1:50051)"},
      {"addr", 0, FlagType::kAddresses, "HOST:PORT,...", "The same as --endpoints"},
      {"dial-timeout", 0, FlagType::kDuration, "DURATION",
       "How long to try each endpoint before the next (default 2s)"},
      {"timeout", 0, FlagType::kDuration, "DURATION",
       "Deadline of each request, e.g. 500ms, 1m (default 5s)"},
      {"write-out",
       'w',
       FlagType::kChoice,
       "FORMAT",
       "Output format: simple, json or table (default simple)",
       {"simple", "json", "table"}},
      {"cacert", 0, FlagType::kString, "FILE",
       "TLS: verify the node against this CA certificate, e.g. the cluster's ca.crt "
       "(default: $MESHKV_CACERT; none of --cacert --cert --key: plaintext)"},
      {"cert", 0, FlagType::kString, "FILE",
       "TLS: this client's certificate, for a node run with --client-ca "
       "(default: $MESHKV_CERT)"},
      {"key", 0, FlagType::kString, "FILE", "TLS: its private key (default: $MESHKV_KEY)"},
      {"help", 'h', FlagType::kSwitch, "", "Show help (after a command: that command's)"},
      {"version", 0, FlagType::kSwitch, "", "Print the version"},
  };
  return flags;
}

const std::vector<CommandSpec>& Commands() {
  static const std::vector<CommandSpec> commands = {
      {"get",
       "KEY",
       "Print a key's value",
       "Prints the value's bytes exactly as stored, so that it can be piped (a\n"
       "newline is added only when standard output is a terminal). A mapping prints\n"
       "as {\"field\": \"value\", ...}. With --meta, prints labelled lines instead:\n"
       "key, value (escaped when not printable), owner, version (what --if-version\n"
       "takes), timestamp, revision, lease expiry and expiry, times in ISO 8601 UTC.\n"
       "Exits 1 when the key is absent.",
       {{"meta", 'v', FlagType::kSwitch, "",
         "Also print owner, version, timestamp, revision and expiries"}},
       1,
       1},
      {"set",
       "KEY VALUE",
       "Write a key's value",
       "  meshkv set KEY VALUE                     VALUE, as bytes\n"
       "  meshkv set KEY -                         the bytes of standard input, exactly\n"
       "  meshkv set --mapping KEY FIELD=VALUE...  a mapping of those fields\n"
       "\n"
       "Replaces the key's whole value and prints OK. A key leased by another node is\n"
       "refused with FAILED_PRECONDITION (exit 4), and so is a write whose --if-absent\n"
       "or --if-version does not hold; the message names the current version. To\n"
       "store a lone \"-\", pipe it in: printf - | meshkv set KEY -",
       {{"mapping", 0, FlagType::kSwitch, "", "Write a mapping made of the FIELD=VALUE arguments"},
        kIfAbsentFlag,
        kIfVersionFlag,
        kTtlFlag,
        kReplicasFlag},
       1,
       kUnlimited},
      {"del",
       "KEY",
       "Delete a key, or every key under a prefix",
       "Deletes the key and relinquishes its lease. Prints OK; exits 1 when the key is\n"
       "absent, 4 when another node holds its lease or --if-version does not hold.\n"
       "\n"
       "With --prefix, KEY is a prefix (\"\" for every key): deletes every live key\n"
       "under it, all or nothing, and prints how many it deleted. Nothing is deleted\n"
       "(exit 4) when another node holds the lease of one of them, naming it, or when\n"
       "there are more than --limit of them.",
       {{"prefix", 0, FlagType::kSwitch, "", "KEY is a prefix: delete every key under it"},
        {"limit", 0, FlagType::kCount, "N",
         "With --prefix: delete nothing if more than N keys match (0: the server's maximum)"},
        kIfVersionFlag,
        kReplicasFlag},
       1,
       1},
      {"update",
       "KEY=VALUE...",
       "Write several keys, all or nothing",
       "Writes every KEY=VALUE (split at the first '='; keys must be distinct). If any\n"
       "key is refused, none is written. Prints OK.",
       {kReplicasFlag},
       1,
       kUnlimited},
      {"apply-delta",
       "KEY [FIELD=VALUE...]",
       "Merge fields into a mapping, or remove some",
       "Merges the fields into the key's mapping, creating it when absent, removes the\n"
       "fields named by --remove, and prints the merged mapping. At least one FIELD=VALUE\n"
       "or --remove. Fails with FAILED_PRECONDITION (exit 4) when the key holds bytes, is\n"
       "leased by another node, or --if-absent or --if-version does not hold.",
       {{"remove", 0, FlagType::kString, "FIELD", "Remove FIELD (repeat for several)", {}, true},
        kIfAbsentFlag,
        kIfVersionFlag,
        kTtlFlag,
        kReplicasFlag},
       1,
       kUnlimited},
      {"pop",
       "KEY",
       "Print a key's value and delete it",
       "Reads and deletes the key atomically on the node; prints the value as get does.\n"
       "Exits 1 when the key is absent.",
       {kReplicasFlag},
       1,
       1},
      {"popitem",
       "",
       "Pop the first key this node may delete",
       "Pops the first key in key order that this node may delete and prints it as\n"
       "items does. Exits 1 when there is none.",
       {kReplicasFlag},
       0,
       0},
      {"touch",
       "KEY DURATION",
       "Make a key expire DURATION from now",
       "Extends (or shortens) the time to live of a live key to DURATION from now, e.g.\n"
       "30s; 0 removes its expiry. The lease rule is set's. Prints OK; exits 1 when the\n"
       "key is absent.",
       {kReplicasFlag},
       2,
       2},
      {"keys",
       "",
       "List keys",
       "Prints one key per line, in key order.",
       {kPrefixFlag, kLimitFlag, kStartAfterFlag},
       0,
       0},
      {"items",
       "",
       "List keys with their values and metadata",
       "Prints one line per key, in key order:\n"
       "  KEY=VALUE owner=OWNER rev=REVISION ts=TIMESTAMP [lease=EXPIRY] [expires=TIME]",
       {kPrefixFlag, kLimitFlag, kStartAfterFlag},
       0,
       0},
      {"count",
       "[PREFIX]",
       "Print how many keys there are (under PREFIX)",
       "Prints the number of live keys that start with PREFIX (every key without it).",
       {},
       0,
       1},
      {"watch",
       "",
       "Print changes as they happen",
       "Prints one line per change, as it arrives:\n"
       "  UPDATE KEY=VALUE owner=OWNER rev=REVISION ts=TIMESTAMP [prev=VALUE]\n"
       "  DELETE KEY owner=OWNER rev=REVISION ts=TIMESTAMP [reason=expired] [prev=VALUE]\n"
       "(with --keys-only, UPDATE KEY without =VALUE). Once the watch is registered,\n"
       "says from which revision on standard error; so do progress notifications.\n"
       "Runs, with no deadline, until interrupted (SIGINT or SIGTERM: exit 0) or until\n"
       "the server ends the stream (exit 5 with UNAVAILABLE when the node shuts down,\n"
       "exit 3 with RESOURCE_EXHAUSTED when the watch fell too far behind).\n"
       "\n"
       "--from-revision R (R >= 1; 0 means from now) first replays every change after\n"
       "revision R, e.g. the revision `get -v` showed, then goes on live; OUT_OF_RANGE\n"
       "when the node's history no longer reaches back that far. --progress D asks the\n"
       "node for its revision whenever the stream was idle for D (at least 100ms):\n"
       "every matching change up to it has been delivered, so a watch can resume from\n"
       "there. With -w table, the lines are printed as simple ones (a live stream has\n"
       "no columns to align).",
       {kPrefixFlag,
        {"from-revision", 0, FlagType::kRevision, "R", "Deliver every change after revision R"},
        {"prev", 0, FlagType::kSwitch, "", "Also print each key's previous value"},
        {"progress", 0, FlagType::kMillis, "DURATION",
         "Report the node's revision when idle for DURATION (at least 100ms)"},
        {"filter",
         0,
         FlagType::kChoice,
         "WHICH",
         "Which events: all, updates or deletes (default all)",
         {"all", "updates", "deletes"}},
        {"keys-only", 0, FlagType::kSwitch, "", "Events without values"}},
       0,
       0},
      {"publish",
       "TOPIC PAYLOAD",
       "Send a message to the subscribers on every node",
       "Sends PAYLOAD (\"-\": the bytes of standard input) under TOPIC to every\n"
       "subscriber in the cluster, and prints OK. Messages are not stored: each live\n"
       "subscriber gets it at most once, best effort across partitions. meshkv-server\n"
       "does not serve Publish yet: it answers UNIMPLEMENTED (exit 3).",
       {},
       2,
       2},
      {"subscribe",
       "[PREFIX]",
       "Print the messages published under a topic prefix",
       "Prints one line per message, as it arrives, on any node:\n"
       "  TOPIC=PAYLOAD origin=NODE ts=TIMESTAMP\n"
       "Runs until interrupted (exit 0) or until the server ends the stream. With\n"
       "-w table, the lines are printed as simple ones. meshkv-server does not serve\n"
       "Subscribe yet: it answers UNIMPLEMENTED (exit 3).",
       {},
       0,
       1},
      {"health",
       "",
       "Check that the node is SERVING",
       "Calls grpc.health.v1.Health/Check for the whole server and prints the status.\n"
       "Exits 0 when SERVING, 1 when the node answers anything else (e.g. NOT_SERVING\n"
       "while it syncs), 5 when it cannot be reached.",
       {},
       0,
       0},
      {"status",
       "",
       "Show this node, its peers and their round-trip times",
       "Calls meshkv.v1.Cluster/Status and prints the node's identity, whether it has\n"
       "synced, its revision and key count, its data bytes against --max-data-bytes\n"
       "(when set), the nodes holding leases here that it is not connected to (see\n"
       "leases release), then one line per mesh connection: peer\n"
       "node ID, address, state, direction (out: this node dialled), round-trip time\n"
       "and how long the connection has been up.",
       {},
       0,
       0},
      {"completion",
       "bash|zsh",
       "Print a shell completion script",
       "Prints a script that completes meshkv's commands, flags and flag values:\n"
       "  source <(meshkv completion bash)      # in ~/.bashrc\n"
       "  source <(meshkv completion zsh)       # in ~/.zshrc",
       {},
       1,
       1},
      {"leases",
       "release --node ID [--force]",
       "End the leases of a node that has left",
       "  meshkv leases release --node ID\n"
       "\n"
       "Calls meshkv.v1.Maintenance/ReleaseLeases (admin role): every lease node ID\n"
       "holds on writes made before now ends, on every node, so its keys can be written\n"
       "through any node; its later writes lease as usual. Use it when a node has left\n"
       "for good (killed, its machine lost) and its keys must not wait for its leases\n"
       "to lapse; `meshkv status` lists the nodes holding orphaned leases. Refused\n"
       "(FAILED_PRECONDITION) while the node is connected to the node asked, unless\n"
       "--force; refused for the node asked itself. Prints how many of its leases the\n"
       "node asked ended.",
       {{"node", 0, FlagType::kString, "ID", "The node whose leases end"},
        {"force", 0, FlagType::kSwitch, "", "Release even though the node is connected"}},
       1,
       1},
      {"snapshot",
       "save FILE | restore FILE",
       "Back up a node's state to a file, or load one",
       "  meshkv snapshot save FILE      the node's whole state into FILE\n"
       "  meshkv snapshot restore FILE   merge FILE's records into the node\n"
       "\n"
       "Both call meshkv.v1.Maintenance (admin role), without a deadline (interrupt\n"
       "to stop). save writes every record (values, versions, owners,\n"
       "tombstones, lease releases) with per-record and whole-file checksums to\n"
       "FILE.part, syncs it and renames it to FILE, so FILE is whole or absent. restore\n"
       "checks the whole file first (a torn or corrupted file is refused and nothing\n"
       "is sent), then merges its records as anti-entropy input: a key the cluster\n"
       "holds newer keeps its newer state, and the other nodes receive what changed\n"
       "within an anti-entropy round. Restore into a fresh node or a running cluster.",
       {},
       2,
       2},
      {"help", "[COMMAND]", "Show help for meshkv or for a command", "", {}, 0, 1},
  };
  return commands;
}

const CommandSpec* FindCommand(absl::string_view name) {
  for (const CommandSpec& c : Commands()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

}  // namespace meshkv::cli
