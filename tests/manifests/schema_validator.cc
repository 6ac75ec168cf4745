#include "tests/manifests/schema_validator.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <regex>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace signalscaler::manifests {
namespace {

using nlohmann::json;

// Kubernetes' ObjectMeta, as the API server checks it for every resource (CRD
// schemas leave `metadata` open; these are the fields a manifest may set).
constexpr char kObjectMetaSchema[] = R"json({
  "type": "object",
  "properties": {
    "name": {"type": "string", "maxLength": 253,
             "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"},
    "generateName": {"type": "string"},
    "namespace": {"type": "string", "maxLength": 63,
                  "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
    "labels": {"type": "object", "additionalProperties": {
        "type": "string", "maxLength": 63,
        "pattern": "^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"}},
    "annotations": {"type": "object",
                    "additionalProperties": {"type": "string"}},
    "finalizers": {"type": "array", "items": {"type": "string"}},
    "ownerReferences": {"type": "array", "items": {
        "type": "object", "x-kubernetes-preserve-unknown-fields": true}},
    "uid": {"type": "string"},
    "resourceVersion": {"type": "string"},
    "generation": {"type": "integer", "format": "int64"},
    "creationTimestamp": {"type": "string", "nullable": true},
    "deletionTimestamp": {"type": "string", "format": "date-time"},
    "deletionGracePeriodSeconds": {"type": "integer", "format": "int64"},
    "managedFields": {"type": "array", "items": {
        "type": "object", "x-kubernetes-preserve-unknown-fields": true}}
  }
})json";

bool IsTrue(const json& schema, const char* key) {
  auto it = schema.find(key);
  return it != schema.end() && it->is_boolean() && it->get<bool>();
}

bool IsIntegral(const json& v) {
  if (v.is_number_integer()) return true;
  if (!v.is_number_float()) return false;
  double d = v.get<double>();
  return std::isfinite(d) && std::floor(d) == d;
}

const char* KindOf(const json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "boolean";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "number";
  if (v.is_string()) return "string";
  if (v.is_array()) return "array";
  return "object";
}

bool TypeMatches(const std::string& type, const json& v) {
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "string") return v.is_string();
  if (type == "integer") return IsIntegral(v);
  if (type == "number") return v.is_number();
  if (type == "boolean") return v.is_boolean();
  return false;
}

// Code points, as Kubernetes counts minLength / maxLength.
size_t Utf8Length(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) {
    if ((c & 0xC0) != 0x80) ++n;
  }
  return n;
}

double Number(const json& v) { return v.get<double>(); }

// `[prefix/]name` as Kubernetes requires of label and annotation keys.
bool IsQualifiedName(const std::string& key) {
  static const std::regex kName("([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]");
  static const std::regex kPrefix(
      "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  size_t slash = key.find('/');
  std::string name = slash == std::string::npos ? key : key.substr(slash + 1);
  if (name.empty() || name.size() > 63 || !std::regex_match(name, kName)) {
    return false;
  }
  if (slash == std::string::npos) return true;
  std::string prefix = key.substr(0, slash);
  return !prefix.empty() && prefix.size() <= 253 &&
         std::regex_match(prefix, kPrefix);
}

void CollectCel(const json& schema, const std::string& path,
                std::vector<CelRule>* out) {
  if (!schema.is_object()) return;
  if (auto it = schema.find("x-kubernetes-validations");
      it != schema.end() && it->is_array()) {
    for (const json& r : *it) {
      out->push_back({path, r.value("rule", ""), r.value("message", "")});
    }
  }
  if (auto it = schema.find("properties"); it != schema.end()) {
    for (const auto& [key, sub] : it->items()) {
      CollectCel(sub, ChildPath(path, key), out);
    }
  }
  if (auto it = schema.find("additionalProperties");
      it != schema.end() && it->is_object()) {
    CollectCel(*it, ChildPath(path, "*"), out);
  }
  if (auto it = schema.find("items"); it != schema.end()) {
    CollectCel(*it, path + "[*]", out);
  }
  for (const char* k : {"anyOf", "oneOf", "allOf"}) {
    if (auto it = schema.find(k); it != schema.end() && it->is_array()) {
      for (const json& sub : *it) CollectCel(sub, path, out);
    }
  }
}

}  // namespace

std::string SchemaError::ToString() const {
  return path.empty() ? message : path + ": " + message;
}

std::string ChildPath(const std::string& parent, const std::string& key) {
  static const std::regex kPlain("[A-Za-z_*][A-Za-z0-9_-]*");
  if (std::regex_match(key, kPlain)) {
    return parent.empty() ? key : parent + "." + key;
  }
  return parent + "[\"" + key + "\"]";
}

std::string IndexPath(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

bool CrdVersionSchema(const json& crd, const std::string& version, json* schema,
                      std::string* error) {
  if (!crd.is_object() || crd.value("kind", "") != "CustomResourceDefinition") {
    *error = "not a CustomResourceDefinition";
    return false;
  }
  const json* versions = nullptr;
  if (auto spec = crd.find("spec"); spec != crd.end() && spec->is_object()) {
    if (auto v = spec->find("versions"); v != spec->end() && v->is_array()) {
      versions = &*v;
    }
  }
  if (versions == nullptr) {
    *error = "the CRD has no spec.versions";
    return false;
  }
  for (const json& v : *versions) {
    if (!v.is_object() || v.value("name", "") != version) continue;
    const json* s = &v;
    for (const char* key : {"schema", "openAPIV3Schema"}) {
      auto it = s->find(key);
      if (it == s->end() || !it->is_object()) {
        *error = "version " + version + " has no schema.openAPIV3Schema";
        return false;
      }
      s = &*it;
    }
    *schema = *s;
    return true;
  }
  *error = "the CRD has no version " + version;
  return false;
}

SchemaValidator::SchemaValidator(json schema) : schema_(std::move(schema)) {
  if (schema_.is_object() && schema_.contains("properties") &&
      schema_["properties"].is_object()) {
    schema_["properties"]["metadata"] = json::parse(kObjectMetaSchema);
  }
}

std::vector<SchemaError> SchemaValidator::Validate(const json& object) const {
  std::vector<SchemaError> errors;
  ValidateNode(schema_, object, "", /*structural=*/true, &errors);
  // Label and annotation keys (ObjectMeta checks them; a schema cannot).
  if (object.is_object() && object.contains("metadata") &&
      object["metadata"].is_object()) {
    for (const char* field : {"labels", "annotations"}) {
      auto it = object["metadata"].find(field);
      if (it == object["metadata"].end() || !it->is_object()) continue;
      for (const auto& [key, unused] : it->items()) {
        if (!IsQualifiedName(key)) {
          errors.push_back({ChildPath(ChildPath("metadata", field), key),
                            "not a valid key ([prefix/]name)"});
        }
      }
    }
  }
  return errors;
}

std::vector<CelRule> SchemaValidator::CelRules() const {
  std::vector<CelRule> rules;
  CollectCel(schema_, "", &rules);
  return rules;
}

void SchemaValidator::ValidateNode(const json& schema, const json& value,
                                   const std::string& path, bool structural,
                                   std::vector<SchemaError>* errors) const {
  if (!schema.is_object()) {
    errors->push_back({path, "the schema here is not an object"});
    return;
  }
  if (value.is_null()) {
    if (!IsTrue(schema, "nullable")) {
      errors->push_back(
          {path, "must not be null (Kubernetes drops it as if unset)"});
    }
    return;
  }
  if (IsTrue(schema, "x-kubernetes-int-or-string")) {
    if (!IsIntegral(value) && !value.is_string()) {
      errors->push_back({path, std::string("must be an integer or a string, "
                                           "got ") +
                                   KindOf(value)});
      return;
    }
  } else if (auto t = schema.find("type"); t != schema.end()) {
    std::string type = t->is_string() ? t->get<std::string>() : "";
    if (!TypeMatches(type, value)) {
      errors->push_back(
          {path, "must be of type " + type + ", got " + KindOf(value)});
      return;
    }
  }
  if (value.is_object()) {
    ValidateObject(schema, value, path, structural, errors);
  } else if (value.is_array()) {
    ValidateArray(schema, value, path, structural, errors);
  } else {
    ValidateScalar(schema, value, path, errors);
  }
  if (auto e = schema.find("enum"); e != schema.end() && e->is_array()) {
    bool found = false;
    for (const json& allowed : *e) found = found || allowed == value;
    if (!found) {
      errors->push_back({path, "unsupported value " + value.dump() +
                                   ", must be one of " + e->dump()});
    }
  }
  ValidateCombinators(schema, value, path, errors);
}

void SchemaValidator::ValidateObject(const json& schema, const json& value,
                                     const std::string& path, bool structural,
                                     std::vector<SchemaError>* errors) const {
  const json empty = json::object();
  auto p = schema.find("properties");
  const json& properties = (p != schema.end() && p->is_object()) ? *p : empty;
  auto additional = schema.find("additionalProperties");
  bool preserve = IsTrue(schema, "x-kubernetes-preserve-unknown-fields");
  for (const auto& [key, child] : value.items()) {
    std::string child_path = ChildPath(path, key);
    if (auto s = properties.find(key); s != properties.end()) {
      ValidateNode(*s, child, child_path, structural, errors);
    } else if (additional != schema.end() && additional->is_object()) {
      ValidateNode(*additional, child, child_path, structural, errors);
    } else if (preserve ||
               (additional != schema.end() && additional->is_boolean() &&
                additional->get<bool>())) {
      continue;
    } else if (structural) {
      errors->push_back(
          {child_path, "unknown field \"" + key +
                           "\" (Kubernetes would prune or reject it)"});
    }
  }
  if (auto r = schema.find("required"); r != schema.end() && r->is_array()) {
    for (const json& key : *r) {
      if (key.is_string() && !value.contains(key.get<std::string>())) {
        errors->push_back({ChildPath(path, key.get<std::string>()),
                           "required field is missing"});
      }
    }
  }
  if (auto m = schema.find("minProperties");
      m != schema.end() && value.size() < m->get<size_t>()) {
    errors->push_back({path, "must have at least " + m->dump() + " fields"});
  }
  if (auto m = schema.find("maxProperties");
      m != schema.end() && value.size() > m->get<size_t>()) {
    errors->push_back({path, "must have at most " + m->dump() + " fields"});
  }
}

void SchemaValidator::ValidateArray(const json& schema, const json& value,
                                    const std::string& path, bool structural,
                                    std::vector<SchemaError>* errors) const {
  if (auto items = schema.find("items"); items != schema.end()) {
    for (size_t i = 0; i < value.size(); ++i) {
      ValidateNode(*items, value[i], IndexPath(path, i), structural, errors);
    }
  }
  if (auto m = schema.find("minItems");
      m != schema.end() && value.size() < m->get<size_t>()) {
    errors->push_back({path, "must have at least " + m->dump() + " items"});
  }
  if (auto m = schema.find("maxItems");
      m != schema.end() && value.size() > m->get<size_t>()) {
    errors->push_back({path, "must have at most " + m->dump() + " items"});
  }
  std::string list_type = schema.value("x-kubernetes-list-type", "");
  if (list_type == "set" || list_type == "map") {
    std::set<std::string> seen;
    for (size_t i = 0; i < value.size(); ++i) {
      json key = value[i];
      if (list_type == "map") {
        key = json::array();
        for (const json& k :
             schema.value("x-kubernetes-list-map-keys", json::array())) {
          key.push_back(value[i].is_object()
                            ? value[i].value(k.get<std::string>(), json())
                            : json());
        }
      }
      if (!seen.insert(key.dump()).second) {
        errors->push_back(
            {IndexPath(path, i),
             "duplicate entry " + key.dump() + " in a " + list_type + " list"});
      }
    }
  }
}

void SchemaValidator::ValidateScalar(const json& schema, const json& value,
                                     const std::string& path,
                                     std::vector<SchemaError>* errors) const {
  const std::string format = schema.value("format", "");
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    size_t length = Utf8Length(s);
    if (auto m = schema.find("minLength");
        m != schema.end() && length < m->get<size_t>()) {
      errors->push_back(
          {path, "must be at least " + m->dump() + " characters long"});
    }
    if (auto m = schema.find("maxLength");
        m != schema.end() && length > m->get<size_t>()) {
      errors->push_back(
          {path, "must be at most " + m->dump() + " characters long"});
    }
    if (auto p = schema.find("pattern"); p != schema.end() && p->is_string()) {
      try {
        if (!std::regex_search(s, std::regex(p->get<std::string>()))) {
          errors->push_back(
              {path, "\"" + s + "\" does not match " + p->get<std::string>()});
        }
      } catch (const std::regex_error&) {
        errors->push_back({path, "the schema's pattern cannot be compiled: " +
                                     p->get<std::string>()});
      }
    }
    static const std::regex kDateTime(
        "[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}"
        "(\\.[0-9]+)?([Zz]|[-+][0-9]{2}:[0-9]{2})");
    if (format == "date-time" && !std::regex_match(s, kDateTime)) {
      errors->push_back({path, "\"" + s + "\" is not an RFC 3339 date-time"});
    }
    return;
  }
  if (!value.is_number()) return;
  const double v = Number(value);
  if (format == "int32" || format == "int64") {
    const double lo = format == "int32" ? std::numeric_limits<int32_t>::min()
                                        : -9223372036854775808.0;
    const double hi = format == "int32" ? std::numeric_limits<int32_t>::max()
                                        : 9223372036854775807.0;
    if (!IsIntegral(value) || v < lo || v > hi) {
      errors->push_back({path, value.dump() + " is not a valid " + format});
    }
  }
  if (auto m = schema.find("minimum"); m != schema.end() && m->is_number()) {
    bool exclusive = IsTrue(schema, "exclusiveMinimum");
    if (exclusive ? v <= Number(*m) : v < Number(*m)) {
      errors->push_back(
          {path,
           "must be " + std::string(exclusive ? "> " : ">= ") + m->dump()});
    }
  }
  if (auto m = schema.find("maximum"); m != schema.end() && m->is_number()) {
    bool exclusive = IsTrue(schema, "exclusiveMaximum");
    if (exclusive ? v >= Number(*m) : v > Number(*m)) {
      errors->push_back(
          {path,
           "must be " + std::string(exclusive ? "< " : "<= ") + m->dump()});
    }
  }
  if (auto m = schema.find("multipleOf");
      m != schema.end() && m->is_number() && Number(*m) > 0) {
    double q = v / Number(*m);
    if (std::fabs(q - std::round(q)) > 1e-9) {
      errors->push_back({path, "must be a multiple of " + m->dump()});
    }
  }
}

void SchemaValidator::ValidateCombinators(
    const json& schema, const json& value, const std::string& path,
    std::vector<SchemaError>* errors) const {
  auto count_matches = [&](const json& branches,
                           std::vector<SchemaError>* first_failure) {
    int matches = 0;
    for (const json& branch : branches) {
      std::vector<SchemaError> branch_errors;
      ValidateNode(branch, value, path, /*structural=*/false, &branch_errors);
      if (branch_errors.empty()) {
        ++matches;
      } else if (first_failure->empty()) {
        *first_failure = std::move(branch_errors);
      }
    }
    return matches;
  };
  if (auto a = schema.find("anyOf"); a != schema.end() && a->is_array()) {
    std::vector<SchemaError> first;
    if (count_matches(*a, &first) == 0) {
      errors->push_back(
          {path, "matches none of anyOf (first: " +
                     (first.empty() ? std::string("?") : first[0].message) +
                     ")"});
    }
  }
  if (auto o = schema.find("oneOf"); o != schema.end() && o->is_array()) {
    std::vector<SchemaError> first;
    int n = count_matches(*o, &first);
    if (n != 1) {
      errors->push_back({path, "must match exactly one of oneOf, matches " +
                                   std::to_string(n)});
    }
  }
  if (auto a = schema.find("allOf"); a != schema.end() && a->is_array()) {
    for (const json& branch : *a) {
      ValidateNode(branch, value, path, /*structural=*/false, errors);
    }
  }
  if (auto n = schema.find("not"); n != schema.end() && n->is_object()) {
    std::vector<SchemaError> branch_errors;
    ValidateNode(*n, value, path, /*structural=*/false, &branch_errors);
    if (branch_errors.empty()) {
      errors->push_back({path, "must not match the schema under `not`"});
    }
  }
}

}  // namespace signalscaler::manifests
