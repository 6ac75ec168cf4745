// A small flag parser for subcommands: each subcommand declares its own
// flags, so `signalscaler serve --help` lists exactly serve's, and a flag of
// another subcommand is an error naming it. (absl::flags keeps one global
// flag namespace for the whole binary, which fits subcommands badly.)
//
//   FlagSet flags("serve", "Run the scaler.");
//   flags.Add("listen", "0.0.0.0:9090", "HOST:PORT to serve gRPC on");
//   absl::Status s = flags.Parse(argc, argv, 2);
//   std::string listen = flags.Get("listen");
#ifndef SIGNALSCALER_SCALER_CLI_FLAGS_H_
#define SIGNALSCALER_SCALER_CLI_FLAGS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace signalscaler {

class FlagSet {
 public:
  FlagSet(std::string command, std::string summary);

  void Add(const std::string& name, const std::string& default_value,
           const std::string& help);
  // A boolean flag: `--name` alone or --name=true sets it, --name=false
  // clears it (default false); any other value is an error.
  void AddBool(const std::string& name, const std::string& help);
  // Accepts --name=value and --name value; --help / -h sets help_requested().
  // INVALID_ARGUMENT naming an unknown flag or a flag without its value.
  absl::Status Parse(int argc, char** argv, int first);

  const std::string& Get(const std::string& name) const;
  bool IsSet(const std::string& name) const;
  bool GetBool(const std::string& name) const;  // of an AddBool flag
  absl::StatusOr<double> GetDouble(const std::string& name) const;
  const std::vector<std::string>& positional() const { return positional_; }
  bool help_requested() const { return help_; }
  std::string Usage() const;

 private:
  struct Flag {
    std::string value;
    std::string default_value;
    std::string help;
    bool set = false;
    bool is_bool = false;
  };
  std::string command_;
  std::string summary_;
  std::vector<std::string> order_;
  std::map<std::string, Flag> flags_;
  std::vector<std::string> positional_;
  bool help_ = false;
};

}  // namespace signalscaler

#endif  // SIGNALSCALER_SCALER_CLI_FLAGS_H_
