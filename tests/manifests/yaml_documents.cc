// YAML -> JSON conversion with Kubernetes' scalar resolution (go-yaml v2,
// YAML 1.1), for schema_validator.h.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/manifests/schema_validator.h"
#include "yaml-cpp/yaml.h"

namespace signalscaler::manifests {
namespace {

using nlohmann::json;

constexpr char kIntTag[] = "tag:yaml.org,2002:int";
constexpr char kFloatTag[] = "tag:yaml.org,2002:float";
constexpr char kBoolTag[] = "tag:yaml.org,2002:bool";
constexpr char kNullTag[] = "tag:yaml.org,2002:null";

bool IsOneOf(const std::string& s, const std::vector<const char*>& words) {
  for (const char* w : words) {
    if (s == w) return true;
  }
  return false;
}

// Integers as go-yaml v2 reads them: decimal, 0x hex, 0 / 0o octal, 0b
// binary, underscores allowed. False if `s` is not one (or overflows int64).
bool ParseYamlInt(std::string s, int64_t* out) {
  s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
  static const std::regex kInt(
      "[-+]?(0b[01]+|0x[0-9a-fA-F]+|0o?[0-7]+|[0-9]+)");
  if (!std::regex_match(s, kInt)) return false;
  bool negative = s[0] == '-';
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  int base = 10;
  if (s.size() > i + 1 && s[i] == '0') {
    char p = s[i + 1];
    if (p == 'x') {
      base = 16, i += 2;
    } else if (p == 'b') {
      base = 2, i += 2;
    } else if (p == 'o') {
      base = 8, i += 2;
    } else {
      base = 8, i += 1;
    }
  }
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(s.c_str() + i, &end, base);
  if (errno == ERANGE || *end != '\0') return false;
  if (v > static_cast<unsigned long long>(std::numeric_limits<int64_t>::max()) +
              (negative ? 1 : 0)) {
    return false;
  }
  *out = negative ? static_cast<int64_t>(0 - v) : static_cast<int64_t>(v);
  return true;
}

bool ParseYamlFloat(const std::string& s, double* out) {
  if (IsOneOf(s, {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"})) {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (IsOneOf(s, {"-.inf", "-.Inf", "-.INF"})) {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (IsOneOf(s, {".nan", ".NaN", ".NAN"})) {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  static const std::regex kFloat(
      "[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  std::string t = s;
  t.erase(std::remove(t.begin(), t.end(), '_'), t.end());
  if (!std::regex_match(t, kFloat)) return false;
  *out = std::strtod(t.c_str(), nullptr);
  return true;
}

// A plain (unquoted, untagged) scalar, resolved as YAML 1.1 does.
json ResolvePlain(const std::string& s) {
  if (IsOneOf(s, {"", "~", "null", "Null", "NULL"})) return nullptr;
  if (IsOneOf(s, {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on",
                  "On", "ON"})) {
    return true;
  }
  if (IsOneOf(s, {"n", "N", "no", "No", "NO", "false", "False", "FALSE", "off",
                  "Off", "OFF"})) {
    return false;
  }
  int64_t i = 0;
  if (ParseYamlInt(s, &i)) return i;
  double d = 0;
  if (ParseYamlFloat(s, &d)) return d;
  return s;
}

class Converter {
 public:
  explicit Converter(YamlDocument* doc) : doc_(doc) {}

  bool Convert(const YAML::Node& node, const std::string& path, json* out) {
    if (node.Mark().line >= 0 && doc_->lines.count(path) == 0) {
      doc_->lines[path] = node.Mark().line + 1;
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        *out = nullptr;
        return true;
      case YAML::NodeType::Scalar:
        return ConvertScalar(node, out);
      case YAML::NodeType::Sequence: {
        *out = json::array();
        for (size_t i = 0; i < node.size(); ++i) {
          json item;
          if (!Convert(node[i], IndexPath(path, i), &item)) return false;
          out->push_back(std::move(item));
        }
        return true;
      }
      case YAML::NodeType::Map: {
        *out = json::object();
        for (const auto& kv : node) {
          std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "";
          std::string child = ChildPath(path, key);
          if (!kv.first.IsScalar()) {
            return Fail(kv.first, "a mapping key must be a scalar");
          }
          if (out->contains(key)) {
            return Fail(kv.first, "duplicate key \"" + key + "\" in " +
                                      (path.empty() ? "the root" : path));
          }
          // A value's line is its key's (a block mapping starts a line
          // below it).
          doc_->lines.emplace(child, kv.first.Mark().line + 1);
          json value;
          if (!Convert(kv.second, child, &value)) return false;
          (*out)[key] = std::move(value);
        }
        return true;
      }
    }
    return Fail(node, "unknown YAML node type");
  }

  const std::string& error() const { return error_; }

 private:
  bool ConvertScalar(const YAML::Node& node, json* out) {
    const std::string& tag = node.Tag();
    const std::string& s = node.Scalar();
    if (tag == "?") {
      *out = ResolvePlain(s);
      return true;
    }
    if (tag == kIntTag) {
      int64_t i = 0;
      if (!ParseYamlInt(s, &i)) return Fail(node, "not an int: " + s);
      *out = i;
      return true;
    }
    if (tag == kFloatTag) {
      double d = 0;
      if (!ParseYamlFloat(s, &d)) return Fail(node, "not a float: " + s);
      *out = d;
      return true;
    }
    if (tag == kBoolTag || tag == kNullTag) {
      json v = ResolvePlain(s);
      if ((tag == kBoolTag) != v.is_boolean() ||
          (tag == kNullTag) != v.is_null()) {
        return Fail(node, "\"" + s + "\" does not match its tag " + tag);
      }
      *out = v;
      return true;
    }
    *out = s;  // quoted, block scalars and !!str are strings
    return true;
  }

  bool Fail(const YAML::Node& node, const std::string& message) {
    error_ = doc_->file + ":" + std::to_string(node.Mark().line + 1) + ": " +
             message;
    return false;
  }

  YamlDocument* doc_;
  std::string error_;
};

}  // namespace

int YamlDocument::LineOf(const std::string& path) const {
  std::string p = path;
  while (true) {
    auto it = lines.find(p);
    if (it != lines.end()) return it->second;
    if (p.empty()) return line;
    size_t cut = p.find_last_of(".[");
    p = cut == std::string::npos ? "" : p.substr(0, cut);
  }
}

bool ParseYamlDocuments(const std::string& text, const std::string& file,
                        std::vector<YamlDocument>* docs, std::string* error) {
  std::vector<YAML::Node> nodes;
  try {
    nodes = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    *error = file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg;
    return false;
  }
  for (const YAML::Node& node : nodes) {
    if (!node.IsDefined() || node.IsNull()) continue;
    YamlDocument doc;
    doc.file = file;
    doc.line = node.Mark().line + 1;
    Converter converter(&doc);
    if (!converter.Convert(node, "", &doc.value)) {
      *error = converter.error();
      return false;
    }
    docs->push_back(std::move(doc));
  }
  return true;
}

bool LoadYamlFile(const std::string& path, std::vector<YamlDocument>* docs,
                  std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot be read";
    return false;
  }
  std::stringstream text;
  text << in.rdbuf();
  return ParseYamlDocuments(text.str(), path, docs, error);
}

}  // namespace signalscaler::manifests
