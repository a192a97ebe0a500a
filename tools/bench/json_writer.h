// JsonWriter: builds a JSON document in a string, with commas and escapes
// handled. Just enough for the bench report.
//
//   JsonWriter j;
//   j.BeginObject();
//   j.Key("throughput"); j.Number(123.4);
//   j.EndObject();
//   std::string out = j.str();
#ifndef MESHKV_TOOLS_BENCH_JSON_WRITER_H_
#define MESHKV_TOOLS_BENCH_JSON_WRITER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace meshkv::bench {

class JsonWriter {
 public:
  void BeginObject();
  void EndObject();
  void BeginArray();
  void EndArray();
  void Key(absl::string_view key);
  void String(absl::string_view value);
  void Number(double value);  // non-finite numbers are written as null
  void Int(int64_t value);
  void Uint(uint64_t value);
  void Bool(bool value);
  void Null();

  const std::string& str() const { return out_; }

 private:
  void BeforeValue();
  void WriteString(absl::string_view value);

  std::string out_;
  // Per open container: whether it has a member yet.
  std::vector<bool> has_member_;
  bool after_key_ = false;
};

}  // namespace meshkv::bench

#endif  // MESHKV_TOOLS_BENCH_JSON_WRITER_H_
