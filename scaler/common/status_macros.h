// RETURN_IF_ERROR / ASSIGN_OR_RETURN: Debian's abseil 20220623 has none.
//
//   RETURN_IF_ERROR(Validate(x));
//   ASSIGN_OR_RETURN(const Policy* p, Find(name));
#ifndef SIGNALSCALER_SCALER_COMMON_STATUS_MACROS_H_
#define SIGNALSCALER_SCALER_COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define SS_CONCAT_INNER_(a, b) a##b
#define SS_CONCAT_(a, b) SS_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                 \
  do {                                        \
    const ::absl::Status ss_status_ = (expr); \
    if (!ss_status_.ok()) return ss_status_;  \
  } while (false)

#define ASSIGN_OR_RETURN(lhs, expr) \
  SS_ASSIGN_OR_RETURN_IMPL_(SS_CONCAT_(ss_statusor_, __LINE__), lhs, expr)

#define SS_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return tmp.status();             \
  lhs = std::move(tmp).value()

#endif  // SIGNALSCALER_SCALER_COMMON_STATUS_MACROS_H_
