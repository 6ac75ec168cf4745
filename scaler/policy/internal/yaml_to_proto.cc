#include "scaler/policy/internal/yaml_to_proto.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

#include <google/protobuf/descriptor.h>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "scaler/policy/internal/closest_name.h"

namespace signalscaler {
namespace policy_internal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::OneofDescriptor;
using google::protobuf::Reflection;

// What a YAML node is, for "expected X, got Y" messages.
std::string Describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return absl::StrCat("\"", absl::CHexEscape(node.Scalar()), "\"");
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "an empty value";
  }
}

// A plain (unquoted, untagged) scalar: the only kind read as a number or bool.
bool IsPlain(const YAML::Node& node) { return node.Tag() == "?"; }

std::string FieldsOf(const Descriptor& d) {
  std::vector<std::string> names;
  for (int i = 0; i < d.field_count(); ++i) {
    names.push_back(d.field(i)->json_name());
  }
  return absl::StrJoin(names, ", ");
}

const FieldDescriptor* FindByJsonName(const Descriptor& d,
                                      absl::string_view name) {
  for (int i = 0; i < d.field_count(); ++i) {
    if (d.field(i)->json_name() == name) return d.field(i);
  }
  return nullptr;
}

// The enum's values a user may write: all but the zero ("unspecified") one.
std::vector<std::string> EnumNames(const EnumDescriptor& e) {
  std::vector<std::string> names;
  for (int i = 0; i < e.value_count(); ++i) {
    if (e.value(i)->number() != 0) names.push_back(e.value(i)->name());
  }
  return names;
}

class Walker {
 public:
  explicit Walker(Conversion& out)
      : errors_(out.errors), lines_(out.lines), reported_(out.reported) {}

  void Map(const YAML::Node& node, int line, const std::string& path,
           Message& message) {
    if (node.IsNull()) return;
    if (!node.IsMap()) {
      Error(line, path,
            absl::StrCat("expected a map of ", message.GetDescriptor()->name(),
                         " fields, got ", Describe(node)));
      return;
    }
    const Descriptor& descriptor = *message.GetDescriptor();
    std::map<std::string, int> seen;  // key -> line
    std::map<const OneofDescriptor*, std::string> oneof_members;
    for (const auto& entry : node) {
      const YAML::Node& key = entry.first;
      const int key_line = LineOf(key) > 0 ? LineOf(key) : line;
      if (!key.IsScalar()) {
        Error(key_line, path,
              absl::StrCat("expected a field name, got ", Describe(key)));
        continue;
      }
      const std::string& name = key.Scalar();
      const std::string child = path.empty() ? name : path + "." + name;
      if (auto it = seen.find(name); it != seen.end()) {
        Error(key_line, child,
              absl::StrCat("duplicate key `", name, "` (first at line ",
                           it->second, ")"));
        continue;
      }
      seen.emplace(name, key_line);
      lines_.emplace(child, key_line);
      const FieldDescriptor* field = FindByJsonName(descriptor, name);
      if (field == nullptr) {
        UnknownField(descriptor, name, key_line, child);
        continue;
      }
      if (const OneofDescriptor* oneof = field->real_containing_oneof()) {
        auto [it, inserted] = oneof_members.emplace(oneof, name);
        if (!inserted) {
          std::vector<std::string> members;
          for (int i = 0; i < oneof->field_count(); ++i) {
            members.push_back(oneof->field(i)->json_name());
          }
          Error(key_line, child,
                absl::StrCat("`", it->second, "` and `", name,
                             "` are both set, but only one of ",
                             absl::StrJoin(members, ", "), " may be"));
          continue;
        }
      }
      Field(entry.second, key_line, child, *field, message);
    }
  }

 private:
  void Error(int line, const std::string& path, std::string text) {
    PolicyError e;
    e.line = line;
    e.field = path;
    e.message = std::move(text);
    reported_.insert(path);
    errors_.push_back(std::move(e));
  }

  void UnknownField(const Descriptor& descriptor, const std::string& name,
                    int line, const std::string& path) {
    std::vector<std::string> names;
    for (int i = 0; i < descriptor.field_count(); ++i) {
      names.push_back(descriptor.field(i)->json_name());
    }
    std::string suggestion = ClosestName(name, names);
    if (suggestion.empty()) {
      // The proto spelling (`min_replicas`) of a field.
      const FieldDescriptor* by_proto_name = descriptor.FindFieldByName(name);
      if (by_proto_name != nullptr) suggestion = by_proto_name->json_name();
    }
    if (!suggestion.empty()) {
      const size_t dot = path.rfind('.');
      reported_.insert(dot == std::string::npos
                           ? suggestion
                           : path.substr(0, dot + 1) + suggestion);
      Error(line, path,
            absl::StrCat("unknown field `", name, "`; did you mean `",
                         suggestion, "`?"));
    } else {
      Error(line, path,
            absl::StrCat("unknown field `", name, "`; ", descriptor.name(),
                         " has: ", FieldsOf(descriptor)));
    }
  }

  void Field(const YAML::Node& value, int key_line, const std::string& path,
             const FieldDescriptor& field, Message& message) {
    const int line =
        !value.IsNull() && LineOf(value) > 0 ? LineOf(value) : key_line;
    const Reflection& reflection = *message.GetReflection();
    if (field.is_map()) {
      MapField(value, line, path, field, message);
    } else if (field.is_repeated()) {
      if (value.IsNull()) return;
      if (!value.IsSequence()) {
        Error(line, path,
              absl::StrCat("expected a list, got ", Describe(value)));
        return;
      }
      for (size_t i = 0; i < value.size(); ++i) {
        const YAML::Node element = value[i];
        const std::string element_path = absl::StrCat(path, "[", i, "]");
        const int element_line = LineOf(element) > 0 ? LineOf(element) : line;
        lines_.emplace(element_path, element_line);
        if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
          if (!element.IsMap() && !element.IsNull()) {
            Error(
                element_line, element_path,
                absl::StrCat("expected a map of ", field.message_type()->name(),
                             " fields, got ", Describe(element)));
            continue;
          }
          Map(element, element_line, element_path,
              *reflection.AddMessage(&message, &field));
        } else {
          Scalar(element, element_line, element_path, field, message);
        }
      }
    } else if (field.cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE) {
      if (!value.IsMap() && !value.IsNull()) {
        Error(line, path,
              absl::StrCat("expected a map of ", field.message_type()->name(),
                           " fields, got ", Describe(value)));
        return;
      }
      // Null (`push:` or `push: {}`) still sets the field: presence matters.
      Map(value, line, path, *reflection.MutableMessage(&message, &field));
    } else {
      Scalar(value, line, path, field, message);
    }
  }

  void MapField(const YAML::Node& value, int line, const std::string& path,
                const FieldDescriptor& field, Message& message) {
    if (value.IsNull()) return;
    if (!value.IsMap()) {
      Error(line, path, absl::StrCat("expected a map, got ", Describe(value)));
      return;
    }
    const Descriptor& entry_type = *field.message_type();
    std::map<std::string, int> seen;
    for (const auto& kv : value) {
      const int key_line = LineOf(kv.first) > 0 ? LineOf(kv.first) : line;
      if (!kv.first.IsScalar()) {
        Error(key_line, path,
              absl::StrCat("expected a key, got ", Describe(kv.first)));
        continue;
      }
      const std::string& key = kv.first.Scalar();
      const std::string child = absl::StrCat(path, ".", key);
      if (auto it = seen.find(key); it != seen.end()) {
        Error(key_line, child,
              absl::StrCat("duplicate key `", key, "` (first at line ",
                           it->second, ")"));
        continue;
      }
      seen.emplace(key, key_line);
      lines_.emplace(child, key_line);
      Message* entry = message.GetReflection()->AddMessage(&message, &field);
      Scalar(kv.first, key_line, child, *entry_type.map_key(), *entry);
      const int value_line = !kv.second.IsNull() && LineOf(kv.second) > 0
                                 ? LineOf(kv.second)
                                 : key_line;
      Scalar(kv.second, value_line, child, *entry_type.map_value(), *entry);
    }
  }

  // Sets (or, for a repeated field, adds) one scalar value.
  void Scalar(const YAML::Node& value, int line, const std::string& path,
              const FieldDescriptor& field, Message& message) {
    const Reflection& r = *message.GetReflection();
    const bool add = field.is_repeated();
    const std::string& s = value.IsScalar() ? value.Scalar() : empty_;
    const bool plain = value.IsScalar() && IsPlain(value);
    switch (field.cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        if (!value.IsScalar()) break;
        add ? r.AddString(&message, &field, s)
            : r.SetString(&message, &field, s);
        return;
      case FieldDescriptor::CPPTYPE_BOOL:
        if (!plain || (s != "true" && s != "false")) break;
        add ? r.AddBool(&message, &field, s == "true")
            : r.SetBool(&message, &field, s == "true");
        return;
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double d = 0;
        if (!plain || !absl::SimpleAtod(s, &d) || !std::isfinite(d)) break;
        if (field.cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
          add ? r.AddFloat(&message, &field, static_cast<float>(d))
              : r.SetFloat(&message, &field, static_cast<float>(d));
        } else {
          add ? r.AddDouble(&message, &field, d)
              : r.SetDouble(&message, &field, d);
        }
        return;
      }
      case FieldDescriptor::CPPTYPE_INT32:
      case FieldDescriptor::CPPTYPE_INT64:
      case FieldDescriptor::CPPTYPE_UINT32:
      case FieldDescriptor::CPPTYPE_UINT64:
        if (!plain) break;
        Integer(s, line, path, field, message);
        return;
      case FieldDescriptor::CPPTYPE_ENUM: {
        if (!value.IsScalar()) break;
        const EnumDescriptor& e = *field.enum_type();
        const EnumValueDescriptor* v = e.FindValueByName(s);
        if (v == nullptr || v->number() == 0) {
          const std::vector<std::string> names = EnumNames(e);
          std::string text =
              absl::StrCat("expected one of ", absl::StrJoin(names, ", "),
                           ", got ", Describe(value));
          const std::string suggestion = ClosestName(s, names);
          if (!suggestion.empty()) {
            absl::StrAppend(&text, "; did you mean `", suggestion, "`?");
          }
          Error(line, path, std::move(text));
          return;
        }
        add ? r.AddEnum(&message, &field, v) : r.SetEnum(&message, &field, v);
        return;
      }
      case FieldDescriptor::CPPTYPE_MESSAGE:
        break;  // Not a scalar: handled by Field().
    }
    Error(
        line, path,
        absl::StrCat("expected ", Expected(field), ", got ", Describe(value)));
  }

  void Integer(const std::string& s, int line, const std::string& path,
               const FieldDescriptor& field, Message& message) {
    const Reflection& r = *message.GetReflection();
    const bool add = field.is_repeated();
    if (field.cpp_type() == FieldDescriptor::CPPTYPE_UINT64) {
      uint64_t u = 0;
      if (!absl::SimpleAtoi(s, &u)) {
        Error(line, path,
              absl::StrCat("expected ", Expected(field), ", got \"",
                           absl::CHexEscape(s), "\""));
        return;
      }
      add ? r.AddUInt64(&message, &field, u) : r.SetUInt64(&message, &field, u);
      return;
    }
    int64_t i = 0;
    int64_t lo = std::numeric_limits<int32_t>::min();
    int64_t hi = std::numeric_limits<int32_t>::max();
    if (field.cpp_type() == FieldDescriptor::CPPTYPE_INT64) {
      lo = std::numeric_limits<int64_t>::min();
      hi = std::numeric_limits<int64_t>::max();
    } else if (field.cpp_type() == FieldDescriptor::CPPTYPE_UINT32) {
      lo = 0;
      hi = std::numeric_limits<uint32_t>::max();
    }
    if (!absl::SimpleAtoi(s, &i)) {
      // Digits that do not fit in 64 bits are out of range, not a non-number.
      const bool digits =
          !s.empty() &&
          s.find_first_not_of("0123456789", s[0] == '-' ? 1 : 0) ==
              std::string::npos;
      Error(line, path,
            digits ? absl::StrCat("expected ", Expected(field), " between ", lo,
                                  " and ", hi, ", got ", s)
                   : absl::StrCat("expected ", Expected(field), ", got \"",
                                  absl::CHexEscape(s), "\""));
      return;
    }
    if (i < lo || i > hi) {
      Error(line, path,
            absl::StrCat("expected ", Expected(field), " between ", lo, " and ",
                         hi, ", got ", s));
      return;
    }
    switch (field.cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        add ? r.AddInt32(&message, &field, static_cast<int32_t>(i))
            : r.SetInt32(&message, &field, static_cast<int32_t>(i));
        break;
      case FieldDescriptor::CPPTYPE_UINT32:
        add ? r.AddUInt32(&message, &field, static_cast<uint32_t>(i))
            : r.SetUInt32(&message, &field, static_cast<uint32_t>(i));
        break;
      default:
        add ? r.AddInt64(&message, &field, i) : r.SetInt64(&message, &field, i);
        break;
    }
  }

  static std::string Expected(const FieldDescriptor& field) {
    switch (field.cpp_type()) {
      case FieldDescriptor::CPPTYPE_STRING:
        return "a string";
      case FieldDescriptor::CPPTYPE_BOOL:
        return "true or false";
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT:
        return "a number";
      case FieldDescriptor::CPPTYPE_ENUM:
        return absl::StrCat("one of ",
                            absl::StrJoin(EnumNames(*field.enum_type()), ", "));
      case FieldDescriptor::CPPTYPE_MESSAGE:
        return "a map";
      default:
        return "an integer";
    }
  }

  const std::string empty_;
  std::vector<PolicyError>& errors_;
  LineIndex& lines_;
  std::set<std::string>& reported_;
};

}  // namespace

int LineOf(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  return mark.is_null() ? 0 : mark.line + 1;
}

void YamlToMessage(const YAML::Node& node, Message& message, Conversion& out) {
  Walker(out).Map(node, LineOf(node), "", message);
}

}  // namespace policy_internal
}  // namespace signalscaler
