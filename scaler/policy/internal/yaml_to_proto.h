// Generic conversion of a parsed YAML document into a protobuf message, driven
// by the message's Descriptor and Reflection: YAML keys are the fields' JSON
// names, and every mismatch (unknown key, wrong type, bad enum value, value out
// of range, two members of a oneof) is reported with its line and YAML path.
// Internal to the policy loader: it exposes yaml-cpp, which loader.h does not.
//
//   Conversion out;
//   v1::ScalingPolicy policy;
//   YamlToMessage(YAML::Load(text), policy, out);
#ifndef SIGNALSCALER_SCALER_POLICY_INTERNAL_YAML_TO_PROTO_H_
#define SIGNALSCALER_SCALER_POLICY_INTERNAL_YAML_TO_PROTO_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include <google/protobuf/message.h>
#include <yaml-cpp/yaml.h>

#include "scaler/policy/loader.h"

namespace signalscaler {
namespace policy_internal {

// YAML path ("spec.signals[1].scaleUpAbove") -> 1-based line where that key
// or sequence element starts.
using LineIndex = std::map<std::string, int>;

// What YamlToMessage found besides the message itself.
struct Conversion {
  // One per problem, with `line`, `field` and `message` set (`file` and
  // `policy` are the caller's).
  std::vector<PolicyError> errors;
  // The line of every key and sequence element met.
  LineIndex lines;
  // Paths already reported on: each error's field, and the field that a
  // misspelled key most likely meant (`scaleUpAbove` for `scaleUpAbov`), so
  // that later checks need not also call them missing.
  std::set<std::string> reported;
};

// 1-based line of `node`, or 0 when yaml-cpp has no mark for it.
int LineOf(const YAML::Node& node);

// Fills `message` from `node` (a YAML map; null leaves it empty), keeping
// going after each problem.
void YamlToMessage(const YAML::Node& node, google::protobuf::Message& message,
                   Conversion& out);

}  // namespace policy_internal
}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_POLICY_INTERNAL_YAML_TO_PROTO_H_
