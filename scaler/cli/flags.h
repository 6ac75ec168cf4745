// A small flag parser for subcommands: each subcommand declares its own
// flags, so `signalscaler serve --help` lists exactly serve's, and a flag of
// another subcommand is an error naming it. (absl::flags keeps one global
// flag namespace for the whole binary, which fits subcommands badly.)
//
//   FlagSet flags("serve", "Run the scaler.");
//   flags.Add("listen", "0.0.0.0:9090", "HOST:PORT to serve gRPC on");
//   absl::Status s = flags.Parse(argc, argv, 2);
//   std::string listen = flags.Get("listen");
//   absl::StatusOr<absl::Duration> drain = flags.GetSeconds("drain-seconds",
//   0);
#ifndef SIGNALSCALER_SCALER_CLI_FLAGS_H_
#define SIGNALSCALER_SCALER_CLI_FLAGS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

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

  // Typed getters: the value, or INVALID_ARGUMENT whose message names the
  // flag (the caller prefixes "signalscaler COMMAND: "). Two wordings, as the
  // commands have always printed them: the "flag --NAME ..., got \"V\"" of
  // the client and simulate commands, and serve's bounds ("--NAME must be a
  // whole number from MIN to MAX").
  //
  // A number: "flag --NAME must be a number, got \"V\"".
  absl::StatusOr<double> GetDouble(const std::string& name) const;
  // A finite number >= min (or > min when !min_allowed): "flag --NAME must
  // be a number >= MIN, got \"V\"" (or "> MIN"); a non-number as GetDouble.
  absl::StatusOr<double> GetDouble(const std::string& name, double min,
                                   bool min_allowed) const;
  // A whole number >= min: "flag --NAME must be an integer >= MIN, got
  // \"V\"".
  absl::StatusOr<int64_t> GetInt(const std::string& name, int64_t min) const;
  // A whole number in [min, max]: "--NAME must be a whole number from MIN to
  // MAX".
  absl::StatusOr<int64_t> GetCount(const std::string& name, int64_t min,
                                   int64_t max) const;
  // Seconds, fractions allowed, at least `min` (infinity too): "--NAME must
  // be a number of seconds >= MIN".
  absl::StatusOr<absl::Duration> GetSeconds(const std::string& name,
                                            double min) const;
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
