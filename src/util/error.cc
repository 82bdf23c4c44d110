#include "util/error.h"

namespace hardway {

std::string Error::ToString() const {
  std::string out;
  if (!where.empty()) out += where + ": ";
  out += message;
  if (!hint.empty()) out += "\n  hint: " + hint;
  return out;
}

int ExitCodeFor(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kValidation: return 1;
    case ErrorKind::kUsage: return 2;
    case ErrorKind::kConnection: return 3;
    case ErrorKind::kStep: return 4;
    case ErrorKind::kGate: return 5;
    case ErrorKind::kPki: return 6;
    case ErrorKind::kIo: return 7;
    case ErrorKind::kInterrupted: return 130;
    case ErrorKind::kInternal: return 70;
  }
  return 70;
}

}  // namespace hardway
