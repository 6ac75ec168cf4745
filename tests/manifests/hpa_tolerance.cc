#include "tests/manifests/hpa_tolerance.h"

#include <regex>
#include <string>
#include <vector>

#include "tests/manifests/manifest_files.h"

namespace signalscaler::manifests {

using nlohmann::json;

bool IsZeroQuantity(const json& v) {
  if (v.is_number()) return v.get<double>() == 0;
  if (!v.is_string()) return false;
  // The CRD's Quantity pattern with every digit of the number 0: a sign, the
  // zero itself, then a binary or decimal suffix or an exponent.
  static const std::regex* zero = new std::regex(
      R"(^[+-]?(0+(\.0*)?|\.0+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$)");
  return std::regex_match(v.get<std::string>(), *zero);
}

std::vector<std::string> ZeroToleranceErrors(const YamlDocument& doc) {
  std::vector<std::string> errors;
  const std::string base =
      "spec.advanced.horizontalPodAutoscalerConfig.behavior";
  const json* behavior = &doc.value;
  for (const char* key :
       {"spec", "advanced", "horizontalPodAutoscalerConfig", "behavior"}) {
    behavior = behavior->is_object() && behavior->contains(key)
                   ? &(*behavior)[key]
                   : nullptr;
    if (behavior == nullptr) break;
  }
  for (const char* direction : {"scaleUp", "scaleDown"}) {
    const std::string path = base + "." + direction + ".tolerance";
    const json* rules = behavior != nullptr && behavior->is_object() &&
                                behavior->contains(direction)
                            ? &(*behavior)[direction]
                            : nullptr;
    if (rules == nullptr || !rules->is_object() ||
        !rules->contains("tolerance")) {
      errors.push_back(Where(doc, path) + ": " + path +
                       ": not set; set it to 0, or the HPA's default 0.1 "
                       "swallows every step of at most 10 % (20 -> 22)");
      continue;
    }
    const json& tolerance = (*rules)["tolerance"];
    if (!IsZeroQuantity(tolerance)) {
      errors.push_back(Where(doc, path) + ": " + path + ": must be 0, got " +
                       tolerance.dump() +
                       ": the HPA would not carry out every step the scaler "
                       "decides");
    }
  }
  return errors;
}

}  // namespace signalscaler::manifests
