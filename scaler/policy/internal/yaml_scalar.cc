#include "scaler/policy/internal/yaml_scalar.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "scaler/policy/internal/closest_name.h"

namespace signalscaler {
namespace policy_internal {
namespace {

using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

// A plain (unquoted, untagged) scalar: the only kind read as a number or bool.
bool IsPlain(const YAML::Node& node) { return node.Tag() == "?"; }

// The enum's values a user may write: all but the zero ("unspecified") one.
std::vector<std::string> EnumNames(const EnumDescriptor& e) {
  std::vector<std::string> names;
  for (int i = 0; i < e.value_count(); ++i) {
    if (e.value(i)->number() != 0) names.push_back(e.value(i)->name());
  }
  return names;
}

std::string Expected(const FieldDescriptor& field) {
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

// An integer field from the digits `s` (a plain scalar), within the field's
// range; else what is wrong.
std::string SetInteger(const std::string& s, const FieldDescriptor& field,
                       Message& message) {
  const Reflection& r = *message.GetReflection();
  const bool add = field.is_repeated();
  if (field.cpp_type() == FieldDescriptor::CPPTYPE_UINT64) {
    uint64_t u = 0;
    if (!absl::SimpleAtoi(s, &u)) {
      return absl::StrCat("expected ", Expected(field), ", got \"",
                          absl::CHexEscape(s), "\"");
    }
    add ? r.AddUInt64(&message, &field, u) : r.SetUInt64(&message, &field, u);
    return "";
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
        !s.empty() && s.find_first_not_of("0123456789", s[0] == '-' ? 1 : 0) ==
                          std::string::npos;
    return digits ? absl::StrCat("expected ", Expected(field), " between ", lo,
                                 " and ", hi, ", got ", s)
                  : absl::StrCat("expected ", Expected(field), ", got \"",
                                 absl::CHexEscape(s), "\"");
  }
  if (i < lo || i > hi) {
    return absl::StrCat("expected ", Expected(field), " between ", lo, " and ",
                        hi, ", got ", s);
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
  return "";
}

// An enum field from a value's name; else the names it may have, and the
// closest one.
std::string SetEnum(const YAML::Node& value, const FieldDescriptor& field,
                    Message& message) {
  const EnumDescriptor& e = *field.enum_type();
  const EnumValueDescriptor* v = e.FindValueByName(value.Scalar());
  if (v == nullptr || v->number() == 0) {
    const std::vector<std::string> names = EnumNames(e);
    std::string text =
        absl::StrCat("expected one of ", absl::StrJoin(names, ", "), ", got ",
                     Describe(value));
    const std::string suggestion = ClosestName(value.Scalar(), names);
    if (!suggestion.empty()) {
      absl::StrAppend(&text, "; did you mean `", suggestion, "`?");
    }
    return text;
  }
  const Reflection& r = *message.GetReflection();
  field.is_repeated() ? r.AddEnum(&message, &field, v)
                      : r.SetEnum(&message, &field, v);
  return "";
}

}  // namespace

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

std::string SetScalar(const YAML::Node& value, const FieldDescriptor& field,
                      Message& message) {
  const Reflection& r = *message.GetReflection();
  const bool add = field.is_repeated();
  const std::string empty;
  const std::string& s = value.IsScalar() ? value.Scalar() : empty;
  const bool plain = value.IsScalar() && IsPlain(value);
  switch (field.cpp_type()) {
    case FieldDescriptor::CPPTYPE_STRING:
      if (!value.IsScalar()) break;
      add ? r.AddString(&message, &field, s) : r.SetString(&message, &field, s);
      return "";
    case FieldDescriptor::CPPTYPE_BOOL:
      if (!plain || (s != "true" && s != "false")) break;
      add ? r.AddBool(&message, &field, s == "true")
          : r.SetBool(&message, &field, s == "true");
      return "";
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
      return "";
    }
    case FieldDescriptor::CPPTYPE_INT32:
    case FieldDescriptor::CPPTYPE_INT64:
    case FieldDescriptor::CPPTYPE_UINT32:
    case FieldDescriptor::CPPTYPE_UINT64:
      if (!plain) break;
      return SetInteger(s, field, message);
    case FieldDescriptor::CPPTYPE_ENUM:
      if (!value.IsScalar()) break;
      return SetEnum(value, field, message);
    case FieldDescriptor::CPPTYPE_MESSAGE:
      break;  // Not a scalar: YamlToMessage's Walker handles it.
  }
  return absl::StrCat("expected ", Expected(field), ", got ", Describe(value));
}

}  // namespace policy_internal
}  // namespace signalscaler
