#include "clients/cli/command_table.h"

namespace meshkv::cli {
namespace {

const FlagSpec kPrefixFlag = {"prefix", 0, FlagType::kString, "P", "Only keys that start with P"};
const FlagSpec kLimitFlag = {"limit", 0, FlagType::kCount, "N", "At most N keys (0: no limit)"};
const FlagSpec kStartAfterFlag = {"start-after", 0, FlagType::kString, "KEY",
                                  "Only keys after KEY (resumes a listing cut by --limit)"};

}  // namespace

const std::vector<FlagSpec>& GlobalFlags() {
  static const std::vector<FlagSpec> flags = {
      {"addr", 0, FlagType::kAddress, "HOST:PORT",
       "Address (default: $MESHKV_ADDR or 127.0.0.1:50051)"},
      {"timeout", 0, FlagType::kDuration, "DURATION",
       "Deadline of each request, e.g. 500ms, 1m (default 5s)"},
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
       "key, value (escaped when not printable), owner, timestamp, revision and lease\n"
       "expiry, times in ISO 8601 UTC. Exits 1 when the key is absent.",
       {{"meta", 'v', FlagType::kSwitch, "",
         "Also print owner, timestamp, revision and lease expiry"}},
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
       "refused with FAILED_PRECONDITION. To store a lone \"-\", pipe it in:\n"
       "printf - | meshkv set KEY -",
       {{"mapping", 0, FlagType::kSwitch, "", "Write a mapping made of the FIELD=VALUE arguments"}},
       1,
       kUnlimited},
      {"del",
       "KEY",
       "Delete a key",
       "Deletes the key and relinquishes its lease. Prints OK; exits 1 when the key is\n"
       "absent.",
       {},
       1,
       1},
      {"update",
       "KEY=VALUE...",
       "Write several keys, all or nothing",
       "Writes every KEY=VALUE (split at the first '='; keys must be distinct). If any\n"
       "key is refused, none is written. Prints OK.",
       {},
       1,
       kUnlimited},
      {"apply-delta",
       "KEY FIELD=VALUE...",
       "Merge fields into a mapping",
       "Merges the fields into the key's mapping, creating it when absent, and prints\n"
       "the merged mapping. Fails with FAILED_PRECONDITION (exit 3) when the key holds\n"
       "bytes.",
       {},
       1,
       kUnlimited},
      {"pop",
       "KEY",
       "Print a key's value and delete it",
       "Reads and deletes the key atomically on the node; prints the value as get does.\n"
       "Exits 1 when the key is absent.",
       {},
       1,
       1},
      {"popitem",
       "",
       "Pop the first key this node may delete",
       "Pops the first key in key order that this node may delete and prints it as\n"
       "items does. Exits 1 when there is none.",
       {},
       0,
       0},
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
       "  KEY=VALUE owner=OWNER rev=REVISION ts=TIMESTAMP [lease=EXPIRY]",
       {kPrefixFlag, kLimitFlag, kStartAfterFlag},
       0,
       0},
      {"watch",
       "",
       "Print changes as they happen",
       "Prints one line per change, as it arrives:\n"
       "  UPDATE KEY=VALUE owner=OWNER rev=REVISION ts=TIMESTAMP [prev=VALUE]\n"
       "  DELETE KEY owner=OWNER rev=REVISION ts=TIMESTAMP [prev=VALUE]\n"
       "Once the watch is registered, says from which revision on standard error.\n"
       "Runs, with no deadline, until interrupted (SIGINT or SIGTERM: exit 0) or until\n"
       "the server ends the stream (exit 3 with its error, e.g. UNAVAILABLE when the\n"
       "node shuts down or RESOURCE_EXHAUSTED when the watch fell too far behind).\n"
       "\n"
       "--from-revision R (R >= 1; 0 means from now) first replays every change after\n"
       "revision R, e.g. the revision `get -v` showed, then goes on live; OUT_OF_RANGE\n"
       "when the node's history no longer reaches back that far.",
       {kPrefixFlag,
        {"from-revision", 0, FlagType::kRevision, "R", "Deliver every change after revision R"},
        {"prev", 0, FlagType::kSwitch, "", "Also print each key's previous value"}},
       0,
       0},
      {"health",
       "",
       "Check that the node is SERVING",
       "Calls grpc.health.v1.Health/Check for the whole server and prints the status.\n"
       "Exits 0 when SERVING, 1 when the node answers anything else (e.g. NOT_SERVING\n"
       "while it syncs), 3 when it cannot be reached.",
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
