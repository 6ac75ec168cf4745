#include "scaler/cli/flags.h"

#include <cmath>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace signalscaler {

FlagSet::FlagSet(std::string command, std::string summary)
    : command_(std::move(command)), summary_(std::move(summary)) {}

void FlagSet::Add(const std::string& name, const std::string& default_value,
                  const std::string& help) {
  order_.push_back(name);
  flags_[name] = Flag{default_value, default_value, help, false};
}

void FlagSet::AddBool(const std::string& name, const std::string& help) {
  Add(name, "false", help);
  flags_[name].is_bool = true;
}

absl::Status FlagSet::Parse(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      help_ = true;
      continue;
    }
    if (arg == "--") {
      for (++i; i < argc; ++i) positional_.emplace_back(argv[i]);
      break;
    }
    if (!absl::ConsumePrefix(&arg, "--")) {
      positional_.emplace_back(arg);
      continue;
    }
    std::string name(arg);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    auto it = flags_.find(name);
    if (it == flags_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag --", name, " for '", command_,
                       "'; its flags: --", absl::StrJoin(order_, ", --"),
                       " (see signalscaler ", command_, " --help)"));
    }
    if (it->second.is_bool) {
      if (!has_value) value = "true";
      if (value != "true" && value != "false") {
        return absl::InvalidArgumentError(absl::StrCat(
            "flag --", name, " is true or false (--", name,
            " alone: true), got \"", absl::CHexEscape(value), "\""));
      }
    } else if (!has_value) {
      if (i + 1 >= argc) {
        return absl::InvalidArgumentError(
            absl::StrCat("flag --", name, " needs a value"));
      }
      value = argv[++i];
    }
    it->second.value = value;
    it->second.set = true;
  }
  return absl::OkStatus();
}

const std::string& FlagSet::Get(const std::string& name) const {
  return flags_.at(name).value;
}

bool FlagSet::GetBool(const std::string& name) const {
  return flags_.at(name).value == "true";
}

bool FlagSet::IsSet(const std::string& name) const {
  return flags_.at(name).set;
}

absl::StatusOr<double> FlagSet::GetDouble(const std::string& name) const {
  double v = 0;
  if (!absl::SimpleAtod(Get(name), &v)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "flag --", name, " must be a number, got \"", Get(name), "\""));
  }
  return v;
}

absl::StatusOr<double> FlagSet::GetDouble(const std::string& name, double min,
                                          bool min_allowed) const {
  absl::StatusOr<double> v = GetDouble(name);
  if (!v.ok()) return v.status();
  if (!std::isfinite(*v) || *v < min || (!min_allowed && *v == min)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "flag --", name, " must be a number ", min_allowed ? ">= " : "> ", min,
        ", got \"", Get(name), "\""));
  }
  return v;
}

absl::StatusOr<int64_t> FlagSet::GetInt(const std::string& name,
                                        int64_t min) const {
  int64_t v = 0;
  if (!absl::SimpleAtoi(Get(name), &v) || v < min) {
    return absl::InvalidArgumentError(
        absl::StrCat("flag --", name, " must be an integer >= ", min,
                     ", got \"", Get(name), "\""));
  }
  return v;
}

absl::StatusOr<int64_t> FlagSet::GetCount(const std::string& name, int64_t min,
                                          int64_t max) const {
  int64_t v = 0;
  if (!absl::SimpleAtoi(Get(name), &v) || v < min || v > max) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--", name, " must be a whole number from ", min, " to ", max));
  }
  return v;
}

absl::StatusOr<absl::Duration> FlagSet::GetSeconds(const std::string& name,
                                                   double min) const {
  double v = 0;
  if (!absl::SimpleAtod(Get(name), &v) || !(v >= min)) {
    // StrCat prints a double as %g does.
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be a number of seconds >= ", min));
  }
  return absl::Seconds(v);
}

std::string FlagSet::Usage() const {
  std::string out = absl::StrCat("usage: signalscaler ", command_,
                                 " [flags]\n\n", summary_, "\n\nflags:\n");
  for (const std::string& name : order_) {
    const Flag& f = flags_.at(name);
    absl::StrAppend(&out, "  --", name, "\n      ", f.help);
    if (!f.default_value.empty()) {
      absl::StrAppend(&out, " (default \"", f.default_value, "\")");
    }
    absl::StrAppend(&out, "\n");
  }
  absl::StrAppend(&out, "  --help\n      print this help\n");
  return out;
}

}  // namespace signalscaler
