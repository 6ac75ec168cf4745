#include "sources/http/metric_text.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "sources/http/http_text.h"

namespace signalscaler {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
bool IsNameStart(char c) { return absl::ascii_isalpha(c) || c == '_'; }
bool IsNameChar(char c) { return IsNameStart(c) || absl::ascii_isdigit(c); }

// Whether `text` is a float as Prometheus' text parser reads one: Go's
// strconv.ParseFloat without what Prometheus refuses there ('p', 'P', '_',
// hence no hex): an optional sign, then "inf", "infinity" or (unsigned)
// "nan" in any case, or decimal digits with an optional '.' and an optional
// exponent. No blank, no "0x1F".
bool IsTextFormatFloat(absl::string_view text) {
  absl::string_view rest = text;
  const bool has_sign = !rest.empty() && (rest[0] == '+' || rest[0] == '-');
  if (has_sign) rest.remove_prefix(1);
  if (absl::EqualsIgnoreCase(rest, "inf") ||
      absl::EqualsIgnoreCase(rest, "infinity")) {
    return true;
  }
  if (absl::EqualsIgnoreCase(rest, "nan")) return !has_sign;
  size_t i = 0;
  size_t mantissa_digits = 0;
  while (i < rest.size() && absl::ascii_isdigit(rest[i])) {
    ++i;
    ++mantissa_digits;
  }
  if (i < rest.size() && rest[i] == '.') {
    ++i;
    while (i < rest.size() && absl::ascii_isdigit(rest[i])) {
      ++i;
      ++mantissa_digits;
    }
  }
  if (mantissa_digits == 0) return false;
  if (i < rest.size() && (rest[i] == 'e' || rest[i] == 'E')) {
    ++i;
    if (i < rest.size() && (rest[i] == '+' || rest[i] == '-')) ++i;
    size_t exponent_digits = 0;
    while (i < rest.size() && absl::ascii_isdigit(rest[i])) {
      ++i;
      ++exponent_digits;
    }
    if (exponent_digits == 0) return false;
  }
  return i == rest.size();
}

// Parses one sample line; a cursor over it with one method per token.
class LineParser {
 public:
  explicit LineParser(absl::string_view line) : s_(line) {}

  absl::StatusOr<MetricSample> Parse() {
    MetricSample sample;
    sample.name = Name(/*colons=*/true);
    if (sample.name.empty()) return Error("expected a metric name");
    bool blank = SkipBlanks();
    if (Peek() == '{') {
      ++i_;
      absl::Status status = Labels(sample.labels);
      if (!status.ok()) return status;
      blank = SkipBlanks();
    }
    if (!blank) return Error("expected a blank before the value");
    const absl::string_view value = Token();
    if (!IsTextFormatFloat(value) || !absl::SimpleAtod(value, &sample.value)) {
      return Error("the value is not a number");
    }
    if (SkipBlanks() && i_ < s_.size()) {
      int64_t ts = 0;
      if (!absl::SimpleAtoi(Token(), &ts)) {
        return Error("the timestamp is not an integer");
      }
      sample.timestamp_ms = ts;
      SkipBlanks();
    }
    if (i_ < s_.size()) return Error("unexpected text after the sample");
    return sample;
  }

 private:
  char Peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }

  // Skips blanks; true if there were any.
  bool SkipBlanks() {
    const size_t start = i_;
    while (i_ < s_.size() && IsBlank(s_[i_])) ++i_;
    return i_ > start;
  }

  // A metric name (with colons) or label name (without); "" if none.
  std::string Name(bool colons) {
    const size_t start = i_;
    if (i_ < s_.size() && (IsNameStart(s_[i_]) || (colons && s_[i_] == ':'))) {
      ++i_;
      while (i_ < s_.size() &&
             (IsNameChar(s_[i_]) || (colons && s_[i_] == ':')))
        ++i_;
    }
    return std::string(s_.substr(start, i_ - start));
  }

  // The next run of non-blank characters.
  absl::string_view Token() {
    const size_t start = i_;
    while (i_ < s_.size() && !IsBlank(s_[i_])) ++i_;
    return s_.substr(start, i_ - start);
  }

  // After '{': `name="value"` pairs separated by ',' (a trailing ',' is
  // allowed), up to and including '}'.
  absl::Status Labels(std::map<std::string, std::string>& labels) {
    while (true) {
      SkipBlanks();
      if (Peek() == '}') {
        ++i_;
        return absl::OkStatus();
      }
      std::string name = Name(/*colons=*/false);
      if (name.empty()) return Error("expected a label name or '}'");
      SkipBlanks();
      if (Peek() != '=') return Error("expected '=' after a label name");
      ++i_;
      SkipBlanks();
      if (Peek() != '"') return Error("expected '\"' to open a label value");
      ++i_;
      std::string value;
      absl::Status status = QuotedValue(value);
      if (!status.ok()) return status;
      if (!labels.emplace(name, std::move(value)).second) {
        return Error(absl::StrCat("duplicate label ", BodyExcerpt(name, 64)));
      }
      SkipBlanks();
      if (Peek() == ',') {
        ++i_;
      } else if (Peek() != '}') {
        return Error("expected ',' or '}' after a label value");
      }
    }
  }

  // After the opening '"': the value up to the closing '"', unescaped.
  absl::Status QuotedValue(std::string& value) {
    while (i_ < s_.size()) {
      const char c = s_[i_++];
      if (c == '"') return absl::OkStatus();
      if (c != '\\' || i_ >= s_.size()) {
        value.push_back(c);
        continue;
      }
      const char e = s_[i_++];
      if (e == 'n') {
        value.push_back('\n');
      } else if (e == '\\' || e == '"') {
        value.push_back(e);
      } else {  // unknown escape: kept as written
        value.push_back('\\');
        value.push_back(e);
      }
    }
    return Error("unterminated label value");
  }

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " at column ", i_ + 1));
  }

  absl::string_view s_;
  size_t i_ = 0;
};

bool Matches(const MetricSample& sample, absl::string_view metric,
             const std::map<std::string, std::string>& matchers) {
  if (sample.name != metric) return false;
  for (const auto& [name, want] : matchers) {
    const auto it = sample.labels.find(name);
    const absl::string_view have =
        it == sample.labels.end() ? absl::string_view() : it->second;
    if (have != want) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::vector<MetricSample>> ParseMetricText(
    absl::string_view text, absl::string_view metric,
    const std::map<std::string, std::string>& labels) {
  std::vector<MetricSample> matches;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = absl::StripLeadingAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    absl::StatusOr<MetricSample> sample = LineParser(line).Parse();
    if (!sample.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("line ", line_number, ": ", sample.status().message(),
                       ": ", BodyExcerpt(line, 80)));
    }
    if (Matches(*sample, metric, labels)) matches.push_back(*std::move(sample));
  }
  return matches;
}

}  // namespace signalscaler
