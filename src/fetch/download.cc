#include "fetch/download.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <sstream>
#include <thread>

#include "util/sha256.h"

namespace hardway {
namespace fs = std::filesystem;

namespace {

std::once_flag g_curl_init;

bool IsHex64(std::string_view s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdefABCDEF") ==
                               std::string_view::npos;
}

std::string Lower(std::string s) {
  for (char& c : s)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string HttpReason(long code) {
  switch (code) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 408:
      return "Request Timeout";
    case 410:
      return "Gone";
    case 416:
      return "Range Not Satisfiable";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return {};
  }
}

bool Retryable(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_PARTIAL_FILE:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_HTTP3:
      return true;
    default:
      return false;
  }
}

}  // namespace

// One request: where its body goes and what came back.
struct Downloader::Request {
  std::string url;
  bool is_file_url = false;
  // Text mode.
  std::string* text = nullptr;
  size_t max_text = 0;
  // File mode.
  const fs::path* part = nullptr;
  uint64_t offset = 0;  // bytes already in the .part, asked for with a Range
  int fd = -1;
  bool appending = false;
  // Results.
  CURL* curl = nullptr;
  bool started = false;  // the first body bytes arrived and were accepted
  long status = 0;       // HTTP status (0 for file://)
  bool bad_status = false;
  bool too_big = false;
  int write_errno = 0;
  uint64_t received = 0;
  std::string curl_error;
  Error error;  // set for kRetry and kFail
  DownloadProgress* progress = nullptr;
  size_t slot = 0;
  const std::atomic<bool>* interrupted = nullptr;
};

namespace {

// Decides, at the first bytes of the body, whether they are the file (200,
// or 206 for a resumed download) or an error page to throw away.
bool Accept(Downloader::Request& r);

}  // namespace

Downloader::Downloader(DownloadOptions options) : options_(options) {
  std::call_once(g_curl_init, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
  curl_ = curl_easy_init();
}

Downloader::~Downloader() {
  if (curl_) curl_easy_cleanup(static_cast<CURL*>(curl_));
}

namespace {

bool Accept(Downloader::Request& r) {
  if (r.started) return true;
  curl_easy_getinfo(r.curl, CURLINFO_RESPONSE_CODE, &r.status);
  if (!r.is_file_url && r.status != 200 && r.status != 206) {
    r.bad_status = true;
    return false;
  }
  if (r.part) {
    // 206: the server continues where the .part ends. 200 (a server that
    // ignores Range, or a fresh download): start over.
    r.appending = r.offset > 0 && (r.status == 206 || r.is_file_url);
    int flags =
        O_WRONLY | O_CREAT | O_CLOEXEC | (r.appending ? O_APPEND : O_TRUNC);
    r.fd = ::open(r.part->c_str(), flags, 0644);
    if (r.fd < 0) {
      r.write_errno = errno;
      return false;
    }
  }
  r.started = true;
  return true;
}

size_t OnWrite(char* data, size_t size, size_t count, void* user) {
  auto& r = *static_cast<Downloader::Request*>(user);
  const size_t n = size * count;
  if (!Accept(r)) return 0;  // aborts the transfer: CURLE_WRITE_ERROR
  if (r.text) {
    if (r.text->size() + n > r.max_text) {
      r.too_big = true;
      return 0;
    }
    r.text->append(data, n);
  } else {
    size_t done = 0;
    while (done < n) {
      ssize_t w = ::write(r.fd, data + done, n - done);
      if (w < 0) {
        if (errno == EINTR) continue;
        r.write_errno = errno;
        return 0;
      }
      done += static_cast<size_t>(w);
    }
  }
  r.received += n;
  return n;
}

int OnProgress(void* user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t,
               curl_off_t) {
  auto& r = *static_cast<Downloader::Request*>(user);
  if (r.interrupted && r.interrupted->load()) return 1;
  if (r.progress && r.part) {
    uint64_t base = r.appending ? r.offset : 0;
    r.progress->Update(r.slot, base + static_cast<uint64_t>(dlnow),
                       dltotal > 0 ? base + static_cast<uint64_t>(dltotal) : 0);
  }
  return 0;
}

}  // namespace

Downloader::Outcome Downloader::Perform(Request& r) {
  CURL* curl = static_cast<CURL*>(curl_);
  if (!curl) {
    r.error = Error{ErrorKind::kInternal, "libcurl could not be initialised",
                    r.url, ""};
    return Outcome::kFail;
  }
  curl_easy_reset(curl);  // keeps the connection cache
  r.curl = curl;
  r.is_file_url = r.url.starts_with("file://");
  char errbuf[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https,file");
  curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl, CURLOPT_MAXREDIRS, 10L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "hardway-fetch/1");
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(options_.connect_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(options_.stall_timeout.count()));
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, OnWrite);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &r);
  // A mirror on this machine is never reached through a proxy; the user's
  // no_proxy list still applies.
  std::string no_proxy = "localhost,127.0.0.1,::1";
  for (const char* var : {"no_proxy", "NO_PROXY"}) {
    if (const char* v = std::getenv(var); v && *v) {
      no_proxy = std::string(v) + "," + no_proxy;
      break;
    }
  }
  curl_easy_setopt(curl, CURLOPT_NOPROXY, no_proxy.c_str());
  if (r.offset > 0)
    curl_easy_setopt(curl, CURLOPT_RESUME_FROM_LARGE,
                     static_cast<curl_off_t>(r.offset));
  r.progress = progress_;
  r.slot = slot_;
  r.interrupted = options_.interrupted;

  CURLcode rc = curl_easy_perform(curl);
  if (r.fd >= 0) {
    if (::close(r.fd) != 0 && r.write_errno == 0) r.write_errno = errno;
    r.fd = -1;
  }
  if (!r.started) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  r.curl_error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  while (!r.curl_error.empty() && r.curl_error.back() == '\n')
    r.curl_error.pop_back();

  if (r.write_errno != 0) {
    r.error =
        Error{ErrorKind::kIo,
              "cannot write " +
                  (r.part ? r.part->string() : std::string("the download")) +
                  ": " + std::strerror(r.write_errno),
              r.url, "check free space and permissions of the cache folder"};
    return Outcome::kFail;
  }
  if (rc == CURLE_ABORTED_BY_CALLBACK) {
    r.error = Error{ErrorKind::kInterrupted, "download interrupted", r.url, ""};
    return Outcome::kFail;
  }
  const bool http_error =
      !r.is_file_url &&
      (r.bad_status || (rc == CURLE_OK && r.status != 200 && r.status != 206));
  if (http_error) {
    if (r.status == 416 && r.part && r.offset > 0) return Outcome::kRangeDone;
    std::string reason = HttpReason(r.status);
    r.error = Error{ErrorKind::kConnection,
                    "download failed: HTTP " + std::to_string(r.status) +
                        (reason.empty() ? "" : " " + reason),
                    r.url, ""};
    bool again = r.status >= 500 || r.status == 408 || r.status == 429;
    return again ? Outcome::kRetry : Outcome::kFail;
  }
  if (r.too_big) {
    r.error = Error{ErrorKind::kValidation,
                    "more than " + std::to_string(r.max_text) +
                        " bytes; not a checksum file",
                    r.url, ""};
    return Outcome::kFail;
  }
  if (rc != CURLE_OK) {
    r.error = Error{ErrorKind::kConnection, "download failed: " + r.curl_error,
                    r.url, ""};
    return Retryable(rc) ? Outcome::kRetry : Outcome::kFail;
  }
  if (r.part && !r.started) {
    // An empty body never reaches OnWrite: the file is empty.
    if (r.offset == 0 || r.status == 200) {
      int fd = ::open(r.part->c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                      0644);
      if (fd >= 0) ::close(fd);
    }
  }
  return Outcome::kOk;
}

bool Downloader::Sleep(std::chrono::milliseconds delay) {
  auto end = std::chrono::steady_clock::now() + delay;
  while (std::chrono::steady_clock::now() < end) {
    if (options_.interrupted && options_.interrupted->load()) return false;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
        std::chrono::milliseconds(50), end - std::chrono::steady_clock::now()));
  }
  return true;
}

namespace {

Error WithAttempts(Error e, int requests) {
  if (requests > 1)
    e.message += " (after " + std::to_string(requests) + " attempts)";
  return e;
}

}  // namespace

Result<std::string> Downloader::FetchText(const std::string& url,
                                          size_t max_bytes) {
  auto delay = options_.retry_delay;
  for (int attempt = 1;; ++attempt) {
    std::string text;
    Request r;
    r.url = url;
    r.text = &text;
    r.max_text = max_bytes;
    Outcome o = Perform(r);
    if (o == Outcome::kOk) return text;
    if (o == Outcome::kRetry && attempt < options_.attempts) {
      if (!Sleep(delay))
        return Fail(ErrorKind::kInterrupted, "download interrupted", url);
      delay = std::min(delay * 2, options_.max_retry_delay);
      continue;
    }
    return std::unexpected(WithAttempts(r.error, attempt));
  }
}

Result<DownloadStats> Downloader::FetchFile(const std::string& url,
                                            const fs::path& dest,
                                            const std::string& expected_sha256,
                                            const std::string& expected_from) {
  const fs::path part = dest.string() + ".part";
  std::error_code ec;
  fs::create_directories(dest.parent_path(), ec);
  DownloadStats stats;
  auto delay = options_.retry_delay;
  int failures = 0;
  bool restarted = false;
  bool resumed_this_file = false;
  const std::string expected = Lower(expected_sha256);
  while (true) {
    Request r;
    r.url = url;
    r.part = &part;
    auto size = fs::file_size(part, ec);
    r.offset = ec ? 0 : size;
    if (r.offset > 0) resumed_this_file = stats.resumed = true;
    ++stats.requests;
    Outcome o = Perform(r);
    stats.received += r.received;
    if (o == Outcome::kFail)
      return std::unexpected(WithAttempts(r.error, stats.requests));
    if (o == Outcome::kRetry) {
      if (++failures >= options_.attempts)
        return std::unexpected(WithAttempts(r.error, stats.requests));
      if (!Sleep(delay))
        return Fail(ErrorKind::kInterrupted, "download interrupted", url);
      delay = std::min(delay * 2, options_.max_retry_delay);
      continue;
    }
    // kOk, or kRangeDone: the .part is already as long as the file; its sum
    // says whether it is the file.
    auto sha = Sha256File(part);
    if (!sha) return std::unexpected(sha.error());
    if (*sha == expected) {
      stats.size = fs::file_size(part, ec);
      fs::rename(part, dest, ec);
      if (ec) {
        return Fail(ErrorKind::kIo,
                    "cannot rename " + part.string() + ": " + ec.message(),
                    dest.string());
      }
      return stats;
    }
    fs::remove(part, ec);
    if (resumed_this_file && !restarted) {
      // The bytes kept from an earlier try may be what is wrong.
      restarted = true;
      resumed_this_file = false;
      continue;
    }
    return Fail(ErrorKind::kValidation,
                "sha256 mismatch: the download has " + *sha + " but " +
                    expected + " was expected (" + expected_from + ")",
                url,
                "the download was deleted; nothing was installed. A changed "
                "file on the "
                "server or mirror, a proxy rewriting it, or a wrong pin in "
                "artifacts.sha256");
  }
}

std::string ParseChecksumFile(const std::string& text) {
  std::istringstream in(text);
  std::string word;
  if (in >> word && IsHex64(word)) return Lower(word);
  return {};
}

std::string ParseChecksumList(const std::string& text,
                              const std::string& filename) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string sum, name;
    if (!(words >> sum >> name) || !IsHex64(sum)) continue;
    if (name.starts_with('*')) name.erase(0, 1);
    if (name.starts_with("./")) name.erase(0, 2);
    size_t slash = name.rfind('/');
    if (slash != std::string::npos) name.erase(0, slash + 1);
    if (name == filename) return Lower(sum);
  }
  return {};
}

}  // namespace hardway
