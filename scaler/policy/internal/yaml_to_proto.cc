#include "scaler/policy/internal/yaml_to_proto.h"

#include <utility>

#include <google/protobuf/descriptor.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "scaler/policy/internal/closest_name.h"
#include "scaler/policy/internal/yaml_scalar.h"

namespace signalscaler {
namespace policy_internal {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::OneofDescriptor;
using google::protobuf::Reflection;

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
    std::string problem = SetScalar(value, field, message);
    if (!problem.empty()) Error(line, path, std::move(problem));
  }

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
