// Status and StatusOr<T>: how every engine call reports success or failure.
//
// The engine never throws. A call returns a Status (or a StatusOr<T> holding either a value or an
// error). An OK Status is a null pointer, so success costs nothing; an error carries a code and a
// message that names the bad input (the point, the field, the value).
//
// The codes are the canonical codes with gRPC's numbers, so the server maps them in one switch and
// clients see the same kinds. Databases and collections never return kUnknown, kDeadlineExceeded,
// kPermissionDenied, kOutOfRange or kUnauthenticated; they come from remote calls (the client
// library, and the RAG module's OpenAI-compatible endpoints).
#ifndef SEXTANT_STATUS_H_
#define SEXTANT_STATUS_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace sextant {

enum class StatusCode : int {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,    // the caller's input is wrong: dimension, NaN, malformed filter, bad name
  kDeadlineExceeded = 4,   // the caller's deadline passed (remote calls)
  kNotFound = 5,           // unknown collection or point
  kAlreadyExists = 6,      // a collection of that name exists
  kPermissionDenied = 7,   // the caller's key may not do this (remote calls)
  kResourceExhausted = 8,  // a size limit or the disk
  kFailedPrecondition = 9, // the state does not allow it: database locked, collection dropped
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,          // a bug or a broken invariant
  kUnavailable = 14,
  kDataLoss = 15,          // corruption found on disk
  kUnauthenticated = 16,   // no valid credentials (remote calls)
};

// Returns "OK", "InvalidArgument", ... for `code`.
std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  // An OK status.
  Status() noexcept = default;
  Status(StatusCode code, std::string_view message);

  Status(const Status& other);
  Status& operator=(const Status& other);
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;
  ~Status() = default;

  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string_view msg) { return {StatusCode::kInvalidArgument, msg}; }
  static Status NotFound(std::string_view msg) { return {StatusCode::kNotFound, msg}; }
  static Status AlreadyExists(std::string_view msg) { return {StatusCode::kAlreadyExists, msg}; }
  static Status ResourceExhausted(std::string_view msg) {
    return {StatusCode::kResourceExhausted, msg};
  }
  static Status FailedPrecondition(std::string_view msg) {
    return {StatusCode::kFailedPrecondition, msg};
  }
  static Status DeadlineExceeded(std::string_view msg) { return {StatusCode::kDeadlineExceeded, msg}; }
  static Status PermissionDenied(std::string_view msg) { return {StatusCode::kPermissionDenied, msg}; }
  static Status Unauthenticated(std::string_view msg) { return {StatusCode::kUnauthenticated, msg}; }
  static Status Aborted(std::string_view msg) { return {StatusCode::kAborted, msg}; }
  static Status Unimplemented(std::string_view msg) { return {StatusCode::kUnimplemented, msg}; }
  static Status Internal(std::string_view msg) { return {StatusCode::kInternal, msg}; }
  static Status Unavailable(std::string_view msg) { return {StatusCode::kUnavailable, msg}; }
  static Status DataLoss(std::string_view msg) { return {StatusCode::kDataLoss, msg}; }

  bool ok() const { return rep_ == nullptr; }
  StatusCode code() const { return rep_ ? rep_->code : StatusCode::kOk; }
  // The message alone, empty for OK.
  std::string_view message() const { return rep_ ? std::string_view(rep_->message) : ""; }
  // "OK", or "<CodeName>: <message>".
  std::string ToString() const;

  // Returns a copy whose message is "<prefix>: <message>"; OK stays OK.
  Status WithPrefix(std::string_view prefix) const;

  // Marks a deliberate decision not to look at this status (greppable).
  void IgnoreError() const {}

  bool operator==(const Status& o) const { return code() == o.code() && message() == o.message(); }

 private:
  struct Rep {
    StatusCode code;
    std::string message;
  };
  std::unique_ptr<Rep> rep_;
};

// Holds either a T or a non-OK Status. Accessing the value of an error is a programming error
// (checked with an abort in every build, never undefined behaviour).
template <typename T>
class [[nodiscard]] StatusOr {
 public:
  // Implicit from an error status: `return Status::NotFound(...)`. Passing OK is a bug and is
  // turned into an Internal error.
  StatusOr(Status status) : status_(std::move(status)) {  // NOLINT(runtime/explicit)
    if (status_.ok()) status_ = Status::Internal("StatusOr constructed from an OK status");
  }
  // Implicit from a value: `return value;`.
  StatusOr(T value) : value_(std::move(value)) {}  // NOLINT(runtime/explicit)

  bool ok() const { return status_.ok(); }
  const Status& status() const& { return status_; }
  Status status() && { return std::move(status_); }

  const T& value() const& { Check(); return *value_; }
  T& value() & { Check(); return *value_; }
  T&& value() && { Check(); return std::move(*value_); }
  const T& operator*() const& { return value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T* operator->() const { return &value(); }
  T* operator->() { return &value(); }

 private:
  void Check() const;
  Status status_;
  std::optional<T> value_;
};

namespace internal {
[[noreturn]] void DieOnBadStatusOrAccess(const Status& status);
}  // namespace internal

template <typename T>
void StatusOr<T>::Check() const {
  if (!status_.ok()) internal::DieOnBadStatusOrAccess(status_);
}

}  // namespace sextant

// Returns from the current function when `expr` (a Status) is not OK.
#define SEXTANT_RETURN_IF_ERROR(expr)                  \
  do {                                                 \
    ::sextant::Status _sextant_status = (expr);        \
    if (!_sextant_status.ok()) return _sextant_status; \
  } while (0)

#define SEXTANT_CONCAT_INNER_(a, b) a##b
#define SEXTANT_CONCAT_(a, b) SEXTANT_CONCAT_INNER_(a, b)
// `SEXTANT_ASSIGN_OR_RETURN(auto x, Foo());` declares x from a StatusOr, or returns its error.
#define SEXTANT_ASSIGN_OR_RETURN(lhs, expr) \
  SEXTANT_ASSIGN_OR_RETURN_IMPL_(SEXTANT_CONCAT_(_sextant_or_, __LINE__), lhs, expr)
#define SEXTANT_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                   \
  if (!tmp.ok()) return std::move(tmp).status();       \
  lhs = std::move(tmp).value()

#endif  // SEXTANT_STATUS_H_
