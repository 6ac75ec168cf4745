// Generic conversion of a parsed YAML document into a protobuf message, driven
// by the message's Descriptor and Reflection: YAML keys are the fields' JSON
// names, and every mismatch (unknown key, wrong type, bad enum value, value out
// of range, two members of a oneof) is reported with its line and YAML path.
// Internal to the policy loader: it exposes yaml-cpp, which loader.h does not.
//
//   std::vector<PolicyError> errors;
//   LineIndex lines;
//   v1::ScalingPolicy policy;
//   YamlToMessage(YAML::Load(text), policy, errors, lines);
#ifndef SIGNALSCALER_SCALER_POLICY_INTERNAL_YAML_TO_PROTO_H_
#define SIGNALSCALER_SCALER_POLICY_INTERNAL_YAML_TO_PROTO_H_

#include <map>
#include <string>
#include <vector>

#include <google/protobuf/message.h>
#include <yaml-cpp/yaml.h>

#include "absl/strings/string_view.h"
#include "scaler/policy/loader.h"

namespace signalscaler {
namespace policy_internal {

// YAML path ("spec.signals[1].scaleUpAbove") -> 1-based line where that key
// or sequence element starts.
using LineIndex = std::map<std::string, int>;

// 1-based line of `node`, or 0 when yaml-cpp has no mark for it.
int LineOf(const YAML::Node& node);

// Fills `message` from `node` (a YAML map; null leaves it empty). Appends one
// PolicyError per problem, with `line`, `field` and `message` set (`file` and
// `policy` are the caller's), and keeps going after each. Records the line of
// every key and sequence element met in `lines`.
void YamlToMessage(const YAML::Node& node, google::protobuf::Message& message,
                   std::vector<PolicyError>& errors, LineIndex& lines);

// The candidate a misspelled `given` most likely meant: one equal to it when
// case, '_' and '-' are ignored, else the nearest within edit distance 2.
// Empty when none is close.
std::string ClosestName(absl::string_view given,
                        const std::vector<std::string>& candidates);

}  // namespace policy_internal
}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_POLICY_INTERNAL_YAML_TO_PROTO_H_
