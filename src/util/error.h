// Error values that cross module boundaries. Functions that can fail return Result<T>;
// main() maps ErrorKind to the documented exit code.
#pragma once

#include <expected>
#include <string>
#include <vector>

namespace hardway {

enum class ErrorKind {
  kUsage,       // bad command line
  kValidation,  // bad inventory, playbook, template or local input
  kPki,         // certificate authority missing/invalid, cert cannot be issued
  kIo,          // local file system
  kConnection,  // cannot reach or authenticate to a host
  kStep,        // a step failed on a host
  kGate,        // a health gate did not pass before its deadline
  kInterrupted, // the user asked to stop
  kInternal,
};

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;  // what failed, in words
  std::string where;    // file:line:col, host, step id or certificate name; may be empty
  std::string hint;     // how to fix it; may be empty

  // "where: message (hint: ...)"
  std::string ToString() const;
};

template <typename T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> Fail(ErrorKind kind, std::string message, std::string where = {},
                                   std::string hint = {}) {
  return std::unexpected(Error{kind, std::move(message), std::move(where), std::move(hint)});
}

// Documented exit codes (docs/exit-codes.md).
int ExitCodeFor(ErrorKind kind);

}  // namespace hardway
