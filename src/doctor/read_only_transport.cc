#include "doctor/read_only_transport.h"

namespace hardway {

bool IsReadOnlyCommand(const std::string& command) {
  // Quoted format strings ('%a %U:%G %n') are fine; anything that could start
  // a second command or write a file is not. "2>/dev/null" is the one
  // redirection allowed.
  std::string rest = command;
  for (size_t p; (p = rest.find("2>/dev/null")) != std::string::npos;)
    rest.erase(p, 11);
  for (char c : rest) {
    if (c == ';' || c == '&' || c == '|' || c == '>' || c == '<' || c == '`' ||
        c == '$' || c == '\n' || c == '(' || c == ')') {
      return false;
    }
  }
  for (const char* prefix :
       {"stat -c ", "date +", "systemctl show ", "journalctl "}) {
    if (command.starts_with(prefix)) return true;
  }
  return false;
}

Result<ExecResult> ReadOnlyTransport::Exec(const std::string& command) {
  if (!IsReadOnlyCommand(command)) {
    return Fail(ErrorKind::kInternal,
                "doctor is read-only and refused to run: " + command, host(),
                "this is a bug in hardway doctor; please report it");
  }
  return inner_->Exec(command);
}

Result<UploadResult> ReadOnlyTransport::Upload(const UploadRequest& request,
                                               const std::string&,
                                               const ProgressFn&) {
  return Fail(ErrorKind::kInternal,
              "doctor is read-only and refused to upload " + request.dest,
              host(), "this is a bug in hardway doctor; please report it");
}

}  // namespace hardway
