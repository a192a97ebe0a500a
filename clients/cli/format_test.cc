#include "clients/cli/format.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace meshkv::cli {
namespace {

using ::testing::StrEq;

TEST(QuoteTest, EscapesWhatIsNotPrintable) {
  EXPECT_EQ(Quote("plain"), R"("plain")");
  EXPECT_EQ(Quote(""), R"("")");
  EXPECT_EQ(Quote("a\nb\tc\rd"), R"("a\nb\tc\rd")");
  EXPECT_EQ(Quote("say \"hi\" \\o/"), R"("say \"hi\" \\o/")");
  EXPECT_EQ(Quote(std::string("\0\x01\x7f", 3)), R"("\x00\x01\x7f")");
}

TEST(QuoteTest, KeepsUtf8AndEscapesInvalidUtf8ByteByByte) {
  EXPECT_EQ(Quote("测试"), "\"测试\"");
  EXPECT_EQ(Quote("café ✓ 😀"), "\"café ✓ 😀\"");
  EXPECT_EQ(Quote("\xff\xfe"), R"("\xff\xfe")");
  EXPECT_EQ(Quote("\xe6\xb5"), R"("\xe6\xb5")");                  // truncated 测
  EXPECT_EQ(Quote("\xc0\xaf"), R"("\xc0\xaf")");                  // overlong '/'
  EXPECT_EQ(Quote("\xed\xa0\x80"), R"("\xed\xa0\x80")");          // a surrogate
  EXPECT_EQ(Quote("\xf4\x90\x80\x80"), R"("\xf4\x90\x80\x80")");  // beyond U+10FFFF
  EXPECT_EQ(Quote("ok\x80测"), "\"ok\\x80测\"");
}

TEST(QuoteTest, EscapesInvisibleUnicodeControls) {
  EXPECT_EQ(Quote("\xc2\x85"), R"("\u0085")");  // NEL, a C1 control
  EXPECT_EQ(Quote("abc\xe2\x80\xae"
                  "def"),
            R"("abc\u202edef")");                     // right-to-left override
  EXPECT_EQ(Quote("\xef\xbb\xbfx"), R"("\ufeffx")");  // byte order mark
}

TEST(ReadableTest, PrintableWordsStayAsTheyAre) {
  EXPECT_EQ(Readable("hello"), "hello");
  EXPECT_EQ(Readable("测试"), "测试");
  EXPECT_EQ(Readable("a/b:c-d_e.f{}"), "a/b:c-d_e.f{}");
}

TEST(ReadableTest, QuotesWhatWouldMakeALineAmbiguous) {
  EXPECT_EQ(Readable(""), R"("")");
  EXPECT_EQ(Readable("hello world"), R"("hello world")");
  EXPECT_EQ(Readable("a=b"), R"("a=b")");
  EXPECT_EQ(Readable("a\"b"), R"("a\"b")");
  EXPECT_EQ(Readable("a\\b"), R"("a\\b")");
  EXPECT_EQ(Readable("line\n"), R"("line\n")");
  EXPECT_EQ(Readable(std::string("\x01", 1)), R"("\x01")");
}

meshkv::v1::Value Bytes(const std::string& b) {
  meshkv::v1::Value v;
  v.set_bytes(b);
  return v;
}

meshkv::v1::Value Mapping(std::initializer_list<std::pair<std::string, std::string>> fields) {
  meshkv::v1::Value v;
  auto* m = v.mutable_mapping()->mutable_fields();
  for (const auto& [f, x] : fields) (*m)[f] = x;
  return v;
}

TEST(FormatValueTest, BytesAndMappings) {
  EXPECT_EQ(FormatValue(Bytes("v")), "v");
  EXPECT_EQ(FormatValue(Bytes("two words")), R"("two words")");
  EXPECT_EQ(FormatValue(Mapping({})), "{}");
  // Fields sorted, whatever the map's order; always quoted, like JSON.
  EXPECT_EQ(FormatValue(Mapping({{"size", "10"}, {"color", "red"}, {"名", "值\n"}})),
            R"({"color": "red", "size": "10", "名": "值\n"})");
  EXPECT_EQ(FormatValue(meshkv::v1::Value()), "");
}

TEST(RawValueTest, BytesExactlyMappingsAsALine) {
  EXPECT_EQ(RawValue(Bytes(std::string("a\0b\n", 4))), std::string("a\0b\n", 4));
  EXPECT_EQ(RawValue(Mapping({{"f", "v"}})), "{\"f\": \"v\"}\n");
}

TEST(FormatTimeTest, Iso8601UtcWithMilliseconds) {
  EXPECT_EQ(FormatTime(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTime(1714564800123), "2024-05-01T12:00:00.123Z");
}

meshkv::v1::Entry MakeEntry(const std::string& key, meshkv::v1::Value value, int64_t lease_ms) {
  meshkv::v1::Entry e;
  e.set_key(key);
  *e.mutable_value() = std::move(value);
  e.mutable_meta()->set_owner("n1");
  e.mutable_meta()->set_timestamp_ms(1714564800123);
  e.mutable_meta()->set_revision(7);
  e.mutable_meta()->set_lease_expires_ms(lease_ms);
  return e;
}

TEST(FormatEntryTest, OneLineWithMetaAndLeaseWhenLeasing) {
  EXPECT_EQ(FormatEntry(MakeEntry("k", Bytes("v"), 1714568400123)),
            "k=v owner=n1 rev=7 ts=2024-05-01T12:00:00.123Z lease=2024-05-01T13:00:00.123Z");
  EXPECT_EQ(FormatEntry(MakeEntry("测试", Bytes("成功"), 0)),
            "测试=成功 owner=n1 rev=7 ts=2024-05-01T12:00:00.123Z");
  EXPECT_EQ(FormatEntry(MakeEntry("a b", Bytes("\x01"), 0)),
            R"("a b"="\x01" owner=n1 rev=7 ts=2024-05-01T12:00:00.123Z)");
}

TEST(FormatEventTest, UpdateAndDelete) {
  meshkv::v1::Event update;
  update.set_type(meshkv::v1::Event::UPDATE);
  *update.mutable_entry() = MakeEntry("k", Bytes("v2"), 1714568400123);
  EXPECT_EQ(FormatEvent(update), "UPDATE k=v2 owner=n1 rev=7 ts=2024-05-01T12:00:00.123Z");
  *update.mutable_prev_value() = Bytes("v1");
  EXPECT_EQ(FormatEvent(update), "UPDATE k=v2 owner=n1 rev=7 ts=2024-05-01T12:00:00.123Z prev=v1");

  meshkv::v1::Event del;
  del.set_type(meshkv::v1::Event::DELETE);
  *del.mutable_entry() = MakeEntry("k", meshkv::v1::Value(), 0);
  del.mutable_entry()->clear_value();
  EXPECT_EQ(FormatEvent(del), "DELETE k owner=n1 rev=7 ts=2024-05-01T12:00:00.123Z");
}

TEST(FormatEntryDetailsTest, LabelledLines) {
  EXPECT_THAT(FormatEntryDetails(MakeEntry("k", Bytes("v"), 1714568400123)),
              StrEq("key: k\n"
                    "value: v\n"
                    "owner: n1\n"
                    "timestamp: 2024-05-01T12:00:00.123Z\n"
                    "revision: 7\n"
                    "lease-expires: 2024-05-01T13:00:00.123Z\n"));
  EXPECT_THAT(FormatEntryDetails(MakeEntry("k", Bytes("v"), 0)),
              ::testing::HasSubstr("lease-expires: never (leasing is off)\n"));
}

}  // namespace
}  // namespace meshkv::cli
