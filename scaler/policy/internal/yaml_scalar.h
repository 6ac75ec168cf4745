// One YAML scalar into one protobuf field, strictly: a number or a bool only
// from a plain (unquoted, untagged) scalar, an integer within its field's
// range, an enum value by its name (not the zero, "unspecified" one), with
// the closest name suggested. Internal to the policy loader: YamlToMessage
// (yaml_to_proto.h) calls it for every scalar it meets.
//
//   std::string problem = SetScalar(node, *field, message);
//   if (!problem.empty()) Error(line, path, problem);
#ifndef SIGNALSCALER_SCALER_POLICY_INTERNAL_YAML_SCALAR_H_
#define SIGNALSCALER_SCALER_POLICY_INTERNAL_YAML_SCALAR_H_

#include <string>

#include <google/protobuf/descriptor.h>
#include <google/protobuf/message.h>
#include <yaml-cpp/yaml.h>

namespace signalscaler {
namespace policy_internal {

// What a YAML node is, for "expected X, got Y" messages: the scalar quoted
// (C-escaped), "a list", "a map" or "an empty value".
std::string Describe(const YAML::Node& node);

// Sets `field` of `message` (adds to it, when repeated) from `value`; or
// leaves it unset and returns what is wrong ("expected a number, got
// \"x\"", "expected an integer between 0 and 4294967295, got -1"). Empty
// when set. A message field is always a problem ("expected a map").
std::string SetScalar(const YAML::Node& value,
                      const google::protobuf::FieldDescriptor& field,
                      google::protobuf::Message& message);

}  // namespace policy_internal
}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_POLICY_INTERNAL_YAML_SCALAR_H_
