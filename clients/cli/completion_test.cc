// The generated completion script, sourced in a real bash and asked to
// complete command lines as bash's programmable completion would.
#include "clients/cli/completion.h"

#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "clients/cli/command_table.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/util/subprocess.h"

namespace meshkv::cli {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::IsSupersetOf;
using ::testing::Not;

class BashCompletionTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(meshkv::testing::TempDir());
    std::ofstream(*dir_ + "/meshkv.bash") << CompletionScript("bash");
    // A file for FILE flags to complete.
    std::ofstream(*dir_ + "/ca.crt") << "";
  }

  // What bash offers for `line`, completing its last word (after the last
  // space; a trailing space completes an empty word). Sorted, one per entry.
  std::vector<std::string> Complete(const std::string& line) const {
    std::vector<std::string> words = absl::StrSplit(line, ' ');
    std::string quoted;
    for (const std::string& w : words) absl::StrAppend(&quoted, " '", w, "'");
    const std::string script =
        absl::StrCat("set -e; cd '", *dir_, "'; source ./meshkv.bash\n",
                     "complete -p meshkv >/dev/null\n",  // registered
                     "COMP_WORDS=(", quoted, "); COMP_CWORD=", words.size() - 1, "\n", "_meshkv\n",
                     "printf '%s\\n' \"${COMPREPLY[@]}\" | sort\n");
    const meshkv::testing::RunResult r = meshkv::testing::Run({"/bin/bash", "-c", script});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    std::vector<std::string> out = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
    return out;
  }

  static std::string* dir_;
};
std::string* BashCompletionTest::dir_ = nullptr;

TEST_F(BashCompletionTest, CompletesACommand) {
  EXPECT_THAT(Complete("meshkv wa"), ElementsAre("watch"));
  EXPECT_THAT(Complete("meshkv p"), ElementsAre("pop", "popitem", "publish"));
  // After global flags and their values too.
  EXPECT_THAT(Complete("meshkv --endpoints a:1,b:2 -w json se"), ElementsAre("set"));
}

TEST_F(BashCompletionTest, EveryCommandOfTheTable) {
  std::vector<std::string> names;
  for (const CommandSpec& c : Commands()) names.emplace_back(c.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(Complete("meshkv "), names);
  EXPECT_EQ(Complete("meshkv help "), names);
}

TEST_F(BashCompletionTest, FlagsOfTheCommandAndGlobalOnes) {
  EXPECT_THAT(Complete("meshkv watch --f"), ElementsAre("--filter", "--from-revision"));
  EXPECT_THAT(Complete("meshkv set --if"), ElementsAre("--if-absent", "--if-version"));
  const std::vector<std::string> del = Complete("meshkv del -");
  EXPECT_THAT(del, IsSupersetOf({"--prefix", "--limit", "--replicas", "--endpoints", "-w"}));
  EXPECT_THAT(del, Not(Contains("--if-absent")));
  // Before a command, only global flags.
  EXPECT_THAT(Complete("meshkv --d"), ElementsAre("--dial-timeout"));
}

TEST_F(BashCompletionTest, FlagValues) {
  EXPECT_THAT(Complete("meshkv -w "), ElementsAre("json", "simple", "table"));
  EXPECT_THAT(Complete("meshkv get k --write-out t"), ElementsAre("table"));
  EXPECT_THAT(Complete("meshkv watch --filter "), ElementsAre("all", "deletes", "updates"));
  EXPECT_THAT(Complete("meshkv --cacert ca"), ElementsAre("ca.crt"));
  EXPECT_THAT(Complete("meshkv completion "), ElementsAre("bash", "zsh"));
  // A value the flag takes is not mistaken for the command: keys' --prefix
  // takes one, del's is a switch.
  EXPECT_THAT(Complete("meshkv keys --prefix --l"), IsEmpty());
  EXPECT_THAT(Complete("meshkv keys --prefix p --l"), ElementsAre("--limit"));
  EXPECT_THAT(Complete("meshkv del --prefix --l"), ElementsAre("--limit"));
  EXPECT_THAT(Complete("meshkv --timeout 5s wat"), ElementsAre("watch"));
}

TEST(CompletionScriptTest, ZshLoadsBashCompletionAndRegistersTheSameFunction) {
  const std::string zsh = CompletionScript("zsh");
  EXPECT_THAT(zsh, ::testing::StartsWith("#compdef meshkv\n"));
  EXPECT_THAT(zsh, ::testing::HasSubstr("bashcompinit"));
  EXPECT_THAT(zsh, ::testing::EndsWith("complete -F _meshkv meshkv\n"));
  EXPECT_EQ(CompletionScript("fish"), "");
}

}  // namespace
}  // namespace meshkv::cli
