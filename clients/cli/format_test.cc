#include "clients/cli/format.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace meshkv::cli {
namespace {

using ::testing::HasSubstr;
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
  e.mutable_meta()->mutable_version()->set_hlc(1714564800123000);
  e.mutable_meta()->mutable_version()->set_origin("n1");
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
                    "version: 1714564800123000/n1\n"
                    "revision: 7\n"
                    "lease-expires: 2024-05-01T13:00:00.123Z\n"
                    "expires: never\n"));
  EXPECT_THAT(FormatEntryDetails(MakeEntry("k", Bytes("v"), 0)),
              ::testing::HasSubstr("lease-expires: never (leasing is off)\n"));
}

TEST(FormatEntryTest, ExpiryWhenTheKeyHasATimeToLive) {
  meshkv::v1::Entry e = MakeEntry("k", Bytes("v"), 0);
  e.mutable_meta()->set_expires_ms(1714564830123);
  EXPECT_EQ(FormatEntry(e),
            "k=v owner=n1 rev=7 ts=2024-05-01T12:00:00.123Z expires=2024-05-01T12:00:30.123Z");
  EXPECT_THAT(FormatEntryDetails(e), HasSubstr("\nexpires: 2024-05-01T12:00:30.123Z\n"));
}

TEST(FormatEventTest, KeysOnlyUpdateAndExpiredDelete) {
  meshkv::v1::Event update;
  update.set_type(meshkv::v1::Event::UPDATE);
  *update.mutable_entry() = MakeEntry("k", Bytes("v"), 0);
  update.mutable_entry()->clear_value();
  EXPECT_EQ(FormatEvent(update), "UPDATE k owner=n1 rev=7 ts=2024-05-01T12:00:00.123Z");

  meshkv::v1::Event expired;
  expired.set_type(meshkv::v1::Event::DELETE);
  expired.set_reason(meshkv::v1::Event::EXPIRED);
  *expired.mutable_entry() = MakeEntry("k", Bytes(""), 0);
  expired.mutable_entry()->clear_value();
  EXPECT_EQ(FormatEvent(expired),
            "DELETE k owner=n1 rev=7 ts=2024-05-01T12:00:00.123Z reason=expired");
}

TEST(FormatMessageTest, TopicPayloadOriginAndTime) {
  meshkv::v1::Message m;
  m.set_topic("alerts/disk");
  m.set_payload("90% full");
  m.set_origin("n2");
  m.set_timestamp_ms(1714564800123);
  EXPECT_EQ(FormatMessage(m), R"(alerts/disk="90% full" origin=n2 ts=2024-05-01T12:00:00.123Z)");
}

TEST(FormatVersionTest, HlcSlashOriginOrDash) {
  meshkv::v1::Version v;
  EXPECT_EQ(FormatVersion(v), "-");
  v.set_hlc(42);
  v.set_origin("10.0.0.1:4444");
  EXPECT_EQ(FormatVersion(v), "42/10.0.0.1:4444");
}

TEST(ToJsonTest, BytesInBase64StringsInUtf8AsEtcdctlPrints) {
  meshkv::v1::GetResponse resp;
  resp.set_found(true);
  *resp.mutable_entry() = MakeEntry("测试", Bytes("\x01v"), 0);
  resp.mutable_entry()->mutable_meta()->set_owner("nœud");
  const std::string json = ToJson(resp);
  // Keys and values are bytes: base64 ("测试" is 5rWL6K+V, "\x01v" AXY=).
  EXPECT_THAT(json, HasSubstr(R"("key":"5rWL6K+V")"));
  EXPECT_THAT(json, HasSubstr(R"("bytes":"AXY=")"));
  // Owners are strings: UTF-8 as it is; 64-bit numbers are strings.
  EXPECT_THAT(json, HasSubstr(R"("owner":"nœud")"));
  EXPECT_THAT(json, HasSubstr(R"("revision":"7")"));
  EXPECT_THAT(json, HasSubstr(R"("found":true)"));
  // Fields at their default are printed too, under their .proto names.
  EXPECT_THAT(json, HasSubstr(R"("lease_expires_ms":"0")"));
  EXPECT_EQ(json.find('\n'), std::string::npos);
}

TEST(ToJsonTest, MappingFieldNamesAreUtf8AndTheirValuesBase64) {
  meshkv::v1::ApplyDeltaResponse resp;
  (*resp.mutable_entry()->mutable_value()->mutable_mapping()->mutable_fields())["größe"] = "10";
  EXPECT_THAT(ToJson(resp), HasSubstr(R"("fields":{"größe":"MTA="})"));
}

TEST(FormatTableTest, AlignedBoxedColumnsCountingCodePoints) {
  EXPECT_EQ(FormatTable({"KEY", "VALUE"}, {{"a", "1"}, {"测试", "long value"}}),
            "+------+------------+\n"
            "| KEY  | VALUE      |\n"
            "+------+------------+\n"
            "| a    | 1          |\n"
            "| 测试 | long value |\n"
            "+------+------------+\n");
  EXPECT_EQ(FormatTable({"COUNT"}, {}),
            "+-------+\n"
            "| COUNT |\n"
            "+-------+\n"
            "+-------+\n");
}

TEST(FormatTableTest, EntriesAndMetas) {
  const meshkv::v1::Entry e = MakeEntry("k", Bytes("v v"), 1714568400123);
  EXPECT_EQ(EntryTable({&e}, /*keys_only=*/true), "+-----+\n| KEY |\n+-----+\n| k   |\n+-----+\n");
  const std::string table = EntryTable({&e}, /*keys_only=*/false);
  EXPECT_THAT(table,
              HasSubstr("| KEY | VALUE | OWNER | VERSION             | REVISION | TIMESTAMP"));
  EXPECT_THAT(table, HasSubstr("| k   | \"v v\" | n1    | 1714564800123000/n1 | 7        | "
                               "2024-05-01T12:00:00.123Z | 2024-05-01T13:00:00.123Z | -       |"));
  EXPECT_THAT(MetaTable({"k"}, {&e.meta()}),
              HasSubstr("| k   | n1    | 1714564800123000/n1 | 7        |"));
}

}  // namespace
}  // namespace meshkv::cli
