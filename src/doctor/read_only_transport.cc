#include "doctor/read_only_transport.h"

#include <optional>
#include <vector>

#include "doctor/gather.h"

namespace hardway {
namespace {

// The words of `command` as /bin/sh would pass them, for the little shell
// doctor writes: single-quoted words (ShellQuote's '\'' included) and plain
// words of characters that mean nothing to the shell. Anything else — double
// quotes, backslashes elsewhere, globs, $, `, ;, &, |, <, >, parentheses,
// newlines — gives nullopt, so no command can hide a second one or expand to
// something we did not read. The one redirection doctor uses, a trailing
// "2>/dev/null", is taken off first and reported in `quiet`.
std::optional<std::vector<std::string>> Words(std::string_view command,
                                              bool& quiet) {
  constexpr std::string_view kQuiet = " 2>/dev/null";
  quiet = command.ends_with(kQuiet);
  if (quiet) command.remove_suffix(kQuiet.size());
  auto plain = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
           c == '/' || c == ',' || c == ':' || c == '@' || c == '+' ||
           c == '%' || c == '=';
  };
  std::vector<std::string> words;
  size_t i = 0;
  while (i < command.size()) {
    if (command[i] == ' ') {
      ++i;
      continue;
    }
    std::string word;
    while (i < command.size() && command[i] != ' ') {
      char c = command[i];
      if (c == '\'') {
        size_t end = command.find('\'', i + 1);
        if (end == std::string_view::npos) return std::nullopt;
        word += command.substr(i + 1, end - i - 1);
        i = end + 1;
      } else if (c == '\\' && i + 1 < command.size() &&
                 command[i + 1] == '\'') {
        word += '\'';
        i += 2;
      } else if (plain(c)) {
        word += c;
        ++i;
      } else {
        return std::nullopt;
      }
    }
    words.push_back(std::move(word));
  }
  return words;
}

bool IsServiceName(const std::string& word) {
  if (!word.ends_with(".service") || word.size() == 8 || word[0] == '-')
    return false;
  for (char c : word) {
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
          c == '@'))
      return false;
  }
  return true;
}

}  // namespace

bool IsReadOnlyCommand(const std::string& command) {
  bool quiet = false;
  auto words = Words(command, quiet);
  if (!words || words->empty()) return false;
  const std::vector<std::string>& w = *words;
  const std::string& program = w[0];

  // The clock: `date +FORMAT` alone (date -s, --set, -f ... set or read more).
  if (program == "date") {
    bool unused = false;
    return !quiet && w == Words(kClockCommand, unused);
  }

  // Modes and owners of absolute paths, in doctor's one format. Every path
  // starts with '/', so none can be an option (stat has none that write, but
  // --printf, -f and friends are not what doctor asked for either).
  if (program == "stat") {
    if (w.size() < 4 || w[1] != "-c" || w[2] != kStatFormat) return false;
    for (size_t i = 3; i < w.size(); ++i) {
      if (w[i].empty() || w[i][0] != '/') return false;
    }
    return true;
  }
  if (quiet) return false;  // only stat's "not found" is silenced

  // Unit states: exactly these properties of one or more services (systemctl
  // show takes no action, but -H/-M would go elsewhere and --property others
  // is not ours to ask).
  if (program == "systemctl") {
    if (w.size() < 5 || w[1] != "show" || w[2] != "-p" ||
        w[3] != kUnitProperties)
      return false;
    for (size_t i = 4; i < w.size(); ++i) {
      if (!IsServiceName(w[i])) return false;
    }
    return true;
  }

  // The last lines of one unit's journal, exactly as JournalCommand writes
  // them: journalctl also rotates, vacuums, flushes and syncs the journal
  // (--rotate, --vacuum-*, --flush, --sync, --relinquish-var), which doctor
  // never may.
  if (program == "journalctl") {
    return w.size() == 8 && w[1] == "-u" && IsServiceName(w[2]) &&
           w[3] == "-n" && w[4] == std::to_string(kJournalLines) &&
           w[5] == "--no-pager" && w[6] == "-o" && w[7] == "cat";
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
