// The SSH transport against real OpenSSH sshd processes on loopback.
#include "remote/ssh_transport.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "remote/connect.h"
#include "remote/sha256_memo.h"
#include "remote/ssh_fanout.h"
#include "remote/ssh_util.h"
#include "sshd_fixture.h"
#include "util/sha256.h"

namespace hardway {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::Shell;
using testing::Sshd;
using testing::TempDir;

std::unique_ptr<Sshd> StartSshd() {
  std::string error;
  auto sshd = Sshd::Start(&error);
  EXPECT_TRUE(sshd) << error;
  return sshd;
}

std::unique_ptr<Transport> MustConnect(const Host& host) {
  auto t = ConnectHost(host);
  EXPECT_TRUE(t) << t.error().ToString();
  return t ? std::move(*t) : nullptr;
}

std::string Slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool HasTempFiles(const std::filesystem::path& dir) {
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().filename().string().rfind(".hardway-tmp-", 0) == 0)
      return true;
  }
  return false;
}

// Writes `mib` MiB of varied bytes (not all zero, so nothing compresses it
// away).
void WriteBigFile(const std::filesystem::path& p, int mib, char salt) {
  std::ofstream out(p, std::ios::binary);
  std::string block(1 << 20, '\0');
  for (int m = 0; m < mib; ++m) {
    for (size_t i = 0; i < block.size(); i += 8) {
      uint64_t v = (uint64_t(m) << 32 | i) * 0x9E3779B97F4A7C15ull + salt;
      std::memcpy(&block[i], &v, 8);
    }
    out.write(block.data(), block.size());
  }
}

class SshTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sshd_ = StartSshd();
    ASSERT_TRUE(sshd_);
  }
  std::unique_ptr<Sshd> sshd_;
};

TEST_F(SshTest, ExecExitCodesStdoutStderr) {
  auto t = MustConnect(sshd_->MakeHost("node-0"));
  ASSERT_TRUE(t);
  auto r = t->Exec("echo out; echo err >&2; exit 3");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->exit_code, 3);
  EXPECT_EQ(r->out, "out\n");
  EXPECT_EQ(r->err, "err\n");

  r = t->Exec("true");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 0);

  // Quoting survives: the command reaches /bin/sh byte for byte.
  r = t->Exec("printf '%s|' \"it's\" '$HOME' \"a  b\"");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "it's|$HOME|a  b|");

  // Runs under /bin/sh, not a login shell.
  r = t->Exec("echo $0; shopt 2>/dev/null && echo bash || echo nobash");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "/bin/sh\nnobash\n");

  // Killed by a signal.
  r = t->Exec("kill -9 $$");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->exit_code, 128 + 9);

  // Large output on both streams at once does not deadlock.
  r = t->Exec(
      "head -c 5000000 /dev/zero | tr '\\0' o & head -c 5000000 /dev/zero | tr "
      "'\\0' e >&2; wait");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->out.size(), 5000000u);
  EXPECT_EQ(r->err.size(), 5000000u);

  // Many commands on the one kept session.
  for (int i = 0; i < 50; ++i) {
    r = t->Exec("echo " + std::to_string(i));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->out, std::to_string(i) + "\n");
  }
  // One connection served all of them.
  std::string log = sshd_->log();
  size_t accepted = 0;
  for (size_t p = log.find("Accepted publickey"); p != std::string::npos;
       p = log.find("Accepted publickey", p + 1)) {
    ++accepted;
  }
  EXPECT_EQ(accepted, 1u);
}

TEST_F(SshTest, ReadFileAndTunnel) {
  auto t = MustConnect(sshd_->MakeHost("node-0"));
  ASSERT_TRUE(t);
  std::ofstream(sshd_->dir() / "hello.txt") << "hello\nworld\n";
  auto content = t->ReadFile((sshd_->dir() / "hello.txt").string());
  ASSERT_TRUE(content);
  EXPECT_EQ(*content, "hello\nworld\n");
  auto missing = t->ReadFile((sshd_->dir() / "nope").string());
  ASSERT_FALSE(missing);
  EXPECT_THAT(missing.error().message, HasSubstr("cannot read"));

  // A direct-tcpip channel to the sshd itself: we read its banner through the
  // tunnel.
  auto tunnel = t->OpenTunnel("127.0.0.1", sshd_->port());
  ASSERT_TRUE(tunnel) << tunnel.error().ToString();
  char buf[64];
  auto n = (*tunnel)->Read(buf);
  ASSERT_TRUE(n);
  EXPECT_EQ(std::string(buf, std::min<size_t>(*n, 7)), "SSH-2.0");
  auto w = (*tunnel)->Write(std::string_view("SSH-2.0-test\r\n"));
  ASSERT_TRUE(w);
  tunnel->reset();
  // The session is still usable after the tunnel.
  auto r = t->Exec("echo still");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "still\n");
}

TEST_F(SshTest, TunnelReadToASilentServerEndsAtItsDeadline) {
  auto t = MustConnect(sshd_->MakeHost("node-0"));
  ASSERT_TRUE(t);
  // Listening, never answering: sshd connects, then nothing comes back.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  auto tunnel = t->OpenTunnel("127.0.0.1", ntohs(addr.sin_port));
  ASSERT_TRUE(tunnel) << tunnel.error().ToString();
  (*tunnel)->SetDeadline(std::chrono::steady_clock::now() +
                         std::chrono::milliseconds(300));
  char buf[64];
  auto n = (*tunnel)->Read(buf);
  ASSERT_FALSE(n);
  EXPECT_THAT(n.error().message, ::testing::StartsWith("timed out"));
  tunnel->reset();
  ::close(fd);
  // The session is still usable after the tunnel gave up.
  auto r = t->Exec("echo still");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->out, "still\n");
}

TEST_F(SshTest, LargeUploadStreamsFromDiskThenSkipsUnchanged) {
  TempDir local;
  auto src = local / "big.bin";
  WriteBigFile(src, 200, 'a');
  auto sha = Sha256File(src);
  ASSERT_TRUE(sha);
  auto dest = (sshd_->dir() / "srv" / "sub" / "big.bin")
                  .string();  // folders are created

  auto t = MustConnect(sshd_->MakeHost("node-0"));
  ASSERT_TRUE(t);
  auto before = t->Sha256Of({dest});
  ASSERT_TRUE(before);
  EXPECT_TRUE(before->empty());

  UploadRequest req{src, dest, 0644, "root:root", *sha, 200u << 20};
  uint64_t last_progress = 0;
  int calls = 0;
  auto up = t->Upload(req, "", [&](uint64_t sent, uint64_t total) {
    EXPECT_EQ(total, 200u << 20);
    EXPECT_GE(sent, last_progress);
    last_progress = sent;
    ++calls;
  });
  ASSERT_TRUE(up) << up.error().ToString();
  EXPECT_TRUE(up->changed);
  EXPECT_EQ(up->bytes_sent, 200u << 20);
  EXPECT_EQ(last_progress, 200u << 20);
  EXPECT_GE(calls, 10);

  auto after = t->Sha256Of({dest, "/nonexistent/file"});
  ASSERT_TRUE(after) << after.error().ToString();
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ(after->at(dest), *sha);
  EXPECT_FALSE(HasTempFiles(sshd_->dir() / "srv" / "sub"));

  // Second upload with the remote sha known: nothing is sent.
  auto again = t->Upload(req, after->at(dest));
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->bytes_sent, 0u);

  // Same bytes, new mode: fixed in place, still nothing sent.
  req.mode = 0640;
  auto remode = t->Upload(req, after->at(dest));
  ASSERT_TRUE(remode);
  EXPECT_TRUE(remode->changed);
  EXPECT_EQ(remode->bytes_sent, 0u);
  struct stat st {};
  ASSERT_EQ(::stat(dest.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
}

TEST_F(SshTest, UploadManySendsSmallFilesInOneCallEachAtomically) {
  auto t = MustConnect(sshd_->MakeHost("node-0"));
  ASSERT_TRUE(t);
  TempDir local;
  auto from_disk = local / "ca.crt";
  std::ofstream(from_disk) << "certificate bytes\n";
  const std::string dir = (sshd_->dir() / "many").string();
  const std::string key = "-----BEGIN PRIVATE KEY-----\nx\n";
  std::vector<UploadRequest> reqs = {
      {key, dir + "/pki/a.key", 0600, "nobody:nogroup", Sha256Hex(key),
       key.size()},
      {from_disk, dir + "/pki/ca.crt", 0644, "root:root",
       Sha256Hex("certificate bytes\n"), 18},
      {std::string(), dir + "/empty", 0644, "root:root", Sha256Hex(""), 0},
      {std::string("same\n"), dir + "/same", 0644, "root:root",
       Sha256Hex("same\n"), 5}};
  auto out = t->UploadMany(reqs, {});
  ASSERT_EQ(out.size(), reqs.size());
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_TRUE(out[i]) << i << ": " << out[i].error().ToString();
    EXPECT_TRUE(out[i]->changed) << i;
  }
  EXPECT_EQ(Slurp(dir + "/pki/a.key"), key);
  EXPECT_EQ(Slurp(dir + "/pki/ca.crt"), "certificate bytes\n");
  EXPECT_EQ(std::filesystem::file_size(dir + "/empty"), 0u);
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/pki/a.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, ::getpwnam("nobody")->pw_uid);

  // Known unchanged: nothing travels for it; the others still go together.
  reqs[3].source = std::string("same\n");
  reqs[1].source = std::string("new certificate\n");
  reqs[1].sha256 = Sha256Hex("new certificate\n");
  out = t->UploadMany(reqs,
                      {Sha256Hex(key), "", Sha256Hex(""), Sha256Hex("same\n")});
  ASSERT_TRUE(out[1] && out[3]);
  EXPECT_TRUE(out[1]->changed);
  EXPECT_EQ(out[1]->bytes_sent, 16u);
  EXPECT_FALSE(out[3]->changed);
  EXPECT_EQ(Slurp(dir + "/pki/ca.crt"), "new certificate\n");

  // A bad owner in the middle: nothing is renamed before every file is
  // unpacked and chowned, so no destination changes, each file names the
  // cause, and no staging folder is left behind.
  std::vector<UploadRequest> bad = {
      {std::string("one\n"), dir + "/one", 0644, "root:root", "", 4},
      {std::string("two\n"), dir + "/pki/ca.crt", 0644, "no-such-user-xyz", "",
       4},
      {std::string("three\n"), dir + "/three", 0644, "root:root", "", 6}};
  out = t->UploadMany(bad, {});
  ASSERT_EQ(out.size(), 3u);
  for (size_t i = 0; i < out.size(); ++i) {
    ASSERT_FALSE(out[i]) << i;
    EXPECT_THAT(out[i].error().message, HasSubstr("no-such-user-xyz")) << i;
    EXPECT_THAT(out[i].error().message, HasSubstr("was left unchanged")) << i;
  }
  EXPECT_FALSE(std::filesystem::exists(dir + "/one"));
  EXPECT_EQ(Slurp(dir + "/pki/ca.crt"), "new certificate\n");
  EXPECT_FALSE(std::filesystem::exists(dir + "/three"));
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    EXPECT_FALSE(e.path().filename().string().starts_with(".hardway-tmp-"))
        << e.path();
  }
}

// Big files share the stream too: streamed from disk in large writes, each
// reporting its own progress, mode kept, and a missing local source fails only
// its own file.
TEST_F(SshTest, UploadManyStreamsBigFilesFromDiskWithProgress) {
  auto t = MustConnect(sshd_->MakeHost("node-0"));
  ASSERT_TRUE(t);
  TempDir local;
  std::string big(3 * 1024 * 1024 + 17, '\0');
  std::mt19937 rng(7);
  for (char& c : big) c = static_cast<char>(rng());
  auto big_path = local / "etcd";
  std::ofstream(big_path, std::ios::binary) << big;
  const std::string dir = (sshd_->dir() / "bigmany").string();
  std::vector<UploadRequest> reqs = {
      {big_path, dir + "/bin/etcd", 0755, "root:root", Sha256Hex(big),
       big.size()},
      {local / "not-there", dir + "/bin/kubelet", 0755, "root:root", "", 0},
      {std::string("conf\n"), dir + "/etc/etcd.conf", 0640, "root:root", "",
       5}};
  std::map<size_t, std::pair<uint64_t, uint64_t>> last;
  size_t calls = 0;
  auto out =
      t->UploadMany(reqs, {}, [&](size_t i, uint64_t sent, uint64_t total) {
        last[i] = {sent, total};
        ++calls;
      });
  ASSERT_EQ(out.size(), 3u);
  ASSERT_TRUE(out[0]) << out[0].error().ToString();
  EXPECT_EQ(out[0]->bytes_sent, big.size());
  ASSERT_FALSE(out[1]);
  EXPECT_THAT(out[1].error().where, HasSubstr("not-there"));
  ASSERT_TRUE(out[2]) << out[2].error().ToString();
  EXPECT_TRUE(Slurp(dir + "/bin/etcd") == big);
  EXPECT_EQ(Slurp(dir + "/etc/etcd.conf"), "conf\n");
  EXPECT_FALSE(std::filesystem::exists(dir + "/bin/kubelet"));
  struct stat st {};
  ASSERT_EQ(::stat((dir + "/bin/etcd").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat((dir + "/etc/etcd.conf").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(last[0].first, big.size());
  EXPECT_EQ(last[0].second, big.size());
  EXPECT_GE(calls, 4u);  // 1 MiB reads: several reports for the big file
  EXPECT_FALSE(last.contains(1));
}

TEST_F(SshTest, ExecManyRunsEachCommandWithItsOwnExitCodeAndOutput) {
  auto t = MustConnect(sshd_->MakeHost("node-0"));
  ASSERT_TRUE(t);
  auto r = t->ExecMany({"echo out; echo err >&2; exit 3", "true", "exit 1",
                        "printf 'a\\nb\\n'; (exit 0)",
                        "case x in x) echo paren;; esac", "printf 'no newline'",
                        "printf '\\n\\n'", "test -d /", "test -e /no-such-hw"});
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->size(), 9u);
  EXPECT_EQ((*r)[0].exit_code, 3);
  EXPECT_EQ((*r)[0].out, "out\nerr\n");  // stdout and stderr together
  EXPECT_EQ((*r)[1].exit_code, 0);
  EXPECT_EQ((*r)[1].out, "");
  EXPECT_EQ((*r)[2].exit_code, 1);
  EXPECT_EQ((*r)[3].exit_code, 0);
  EXPECT_EQ((*r)[3].out, "a\nb\n");
  EXPECT_EQ((*r)[4].out, "paren\n");
  EXPECT_EQ((*r)[5].out, "no newline");  // exactly what the command wrote
  EXPECT_EQ((*r)[6].out, "\n\n");
  // Lone tests run without a subshell (ExecManyScript), same answers.
  EXPECT_EQ((*r)[7].exit_code, 0);
  EXPECT_EQ((*r)[8].exit_code, 1);
  EXPECT_EQ((*r)[8].out, "");
}

TEST_F(SshTest, ExecUntilFailureStopsAfterTheFirstFailingCommand) {
  auto t = MustConnect(sshd_->MakeHost("node-0"));
  ASSERT_TRUE(t);
  auto all = t->ExecUntilFailure({"echo a", "true", "printf b"});
  ASSERT_TRUE(all) << all.error().ToString();
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[2].out, "b");
  auto marker = (sshd_->dir() / "until-failure-marker").string();
  auto r = t->ExecUntilFailure(
      {"echo a", "echo err >&2; exit 4", "touch " + marker});
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].out, "a\n");
  EXPECT_EQ((*r)[1].exit_code, 4);
  EXPECT_EQ((*r)[1].out, "err\n");
  EXPECT_FALSE(std::filesystem::exists(marker));  // never ran
}

TEST_F(SshTest, InspectListsFilesAndRunsCommandsInOneCall) {
  auto t = MustConnect(sshd_->MakeHost("node-0"));
  ASSERT_TRUE(t);
  auto dest = (sshd_->dir() / "srv" / "inspect.txt").string();
  UploadRequest req{std::string("hello\n"), dest, 0644, "root:root",
                    Sha256Hex("hello\n"),   6};
  ASSERT_TRUE(t->Upload(req));

  auto r = t->Inspect({dest, "/nonexistent/file"},
                      {"echo one", "exit 4", "printf two"});
  ASSERT_TRUE(r) << r.error().ToString();
  ASSERT_EQ(r->sha256.size(), 1u);
  EXPECT_EQ(r->sha256.at(dest), Sha256Hex("hello\n"));
  ASSERT_EQ(r->results.size(), 3u);
  EXPECT_EQ(r->results[0].out, "one\n");
  EXPECT_EQ(r->results[1].exit_code, 4);
  EXPECT_EQ(r->results[2].out, "two");

  // The listing also told the transport the file's mode: the same bytes under
  // another mode are fixed in place, nothing sent.
  req.mode = 0600;
  auto remode = t->Upload(req, r->sha256.at(dest));
  ASSERT_TRUE(remode) << remode.error().ToString();
  EXPECT_TRUE(remode->changed);
  EXPECT_EQ(remode->bytes_sent, 0u);
  auto mode = t->Exec("stat -c %a " + dest);
  ASSERT_TRUE(mode);
  EXPECT_EQ(mode->out, "600\n");

  // Commands alone, and paths alone.
  auto only_commands = t->Inspect({}, {"echo x"});
  ASSERT_TRUE(only_commands);
  EXPECT_TRUE(only_commands->sha256.empty());
  ASSERT_EQ(only_commands->results.size(), 1u);
  auto only_paths = t->Inspect({dest}, {});
  ASSERT_TRUE(only_paths);
  EXPECT_EQ(only_paths->sha256.size(), 1u);
  EXPECT_TRUE(only_paths->results.empty());
}

// The stat key the host prints for `path` (the host is this machine).
std::string LocalStatKey(const std::string& path) {
  std::string out;
  Shell("stat -L -c '" + std::string(kStatKeyFormat) + "' -- '" + path + "'",
        &out);
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

// "size:mtime" of a key: what a quick check on size and mtime alone would see.
std::string SizeAndMtime(const std::string& key) {
  return key.substr(0, key.find(':', key.find(':') + 1));
}

TEST_F(SshTest, Sha256MemoSkipsHashingUnchangedFilesOnly) {
  TempDir state;
  const auto memo_file = state / "memo" / "sha256-node-0.json";
  const std::string dest = (sshd_->dir() / "srv" / "memo.bin").string();
  std::filesystem::create_directories(sshd_->dir() / "srv");
  ASSERT_EQ(Shell("printf 0123456789 > '" + dest + "'"), 0);
  const std::string key = LocalStatKey(dest);
  ASSERT_FALSE(key.empty());
  // (a) A memo entry with the file's real key and a sha256 that is not the
  // file's: only a listing that did not hash the file can report it.
  const std::string wrong(64, 'e');
  std::filesystem::create_directories(memo_file.parent_path());
  {
    std::ofstream(memo_file)
        << "{\"version\":1,\"host\":\"node-0\",\"files\":{\"" << dest
        << "\":{\"key\":\"" << key << "\",\"sha256\":\"" << wrong
        << "\"},\"/gone\":{\"key\":\"1:1.0:1.0:1\",\"sha256\":\"" << wrong
        << "\"}}}";
  }
  ConnectOptions options;
  options.sha256_memo = memo_file;
  auto connected = ConnectHost(sshd_->MakeHost("node-0"), options);
  ASSERT_TRUE(connected) << connected.error().ToString();
  auto& t = dynamic_cast<SshTransport&>(**connected);
  Sha256Memo* memo = t.sha256_memo();
  ASSERT_NE(memo, nullptr);
  ASSERT_EQ(memo->size(), 2u);

  auto sums = t.Sha256Of({dest, "/gone"});
  ASSERT_TRUE(sums) << sums.error().ToString();
  ASSERT_EQ(sums->size(), 1u);
  EXPECT_EQ(sums->at(dest), wrong);
  auto inspected = t.Inspect({dest}, {"echo x"});
  ASSERT_TRUE(inspected) << inspected.error().ToString();
  EXPECT_EQ(inspected->sha256.at(dest), wrong);
  EXPECT_EQ(inspected->results.at(0).out, "x\n");
  EXPECT_FALSE(memo->Find("/gone"));  // missing: dropped, and saved
  EXPECT_FALSE(Sha256Memo::Load(memo_file, "node-0").Find("/gone"));

  // (b) Same size, mtime put back: only the ctime tells. (The sleep puts
  // the rewrite in a later tick of the kernel's coarse clock than the
  // file's creation.)
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  std::string mtime = key.substr(key.find(':') + 1);
  mtime = mtime.substr(0, mtime.find(':'));
  ASSERT_EQ(Shell("printf 9876543210 > '" + dest + "' && touch -d @" + mtime +
                  " '" + dest + "'"),
            0);
  const std::string new_key = LocalStatKey(dest);
  ASSERT_EQ(SizeAndMtime(new_key), SizeAndMtime(key));
  ASSERT_NE(new_key, key);
  // (c) A margin no file's ctime is older than: hashed, nothing recorded.
  memo->set_racy_margin(std::chrono::hours(24 * 365 * 100));
  sums = t.Sha256Of({dest});
  ASSERT_TRUE(sums) << sums.error().ToString();
  EXPECT_EQ(sums->at(dest), Sha256Hex("9876543210"));
  EXPECT_FALSE(memo->Find(dest));
  EXPECT_FALSE(Sha256Memo::Load(memo_file, "node-0").Find(dest));
  // Margin 0: recorded with the new key, and saved.
  memo->set_racy_margin(std::chrono::nanoseconds(0));
  sums = t.Sha256Of({dest});
  ASSERT_TRUE(sums);
  EXPECT_EQ(sums->at(dest), Sha256Hex("9876543210"));
  ASSERT_TRUE(memo->Find(dest));
  EXPECT_EQ(memo->Find(dest)->key, new_key);
  Sha256Memo saved = Sha256Memo::Load(memo_file, "node-0");
  ASSERT_TRUE(saved.Find(dest));
  EXPECT_EQ(saved.Find(dest)->key, new_key);
  EXPECT_EQ(saved.Find(dest)->sha256, Sha256Hex("9876543210"));

  // (d) A mode fix (same bytes) drops the entry, as does an upload.
  UploadRequest req{std::string("9876543210"), dest, 0600, "root:root",
                    Sha256Hex("9876543210"),   10};
  auto fixed = t.Upload(req, sums->at(dest));
  ASSERT_TRUE(fixed) << fixed.error().ToString();
  EXPECT_TRUE(fixed->changed);
  EXPECT_EQ(fixed->bytes_sent, 0u);
  EXPECT_FALSE(memo->Find(dest));
  EXPECT_FALSE(Sha256Memo::Load(memo_file, "node-0").Find(dest));
  sums = t.Sha256Of({dest});  // recorded again (margin 0)
  ASSERT_TRUE(sums);
  ASSERT_TRUE(memo->Find(dest));
  req.source = std::string("new bytes");
  req.sha256 = Sha256Hex("new bytes");
  auto up = t.Upload(req, sums->at(dest));
  ASSERT_TRUE(up) << up.error().ToString();
  EXPECT_EQ(up->bytes_sent, 9u);
  EXPECT_FALSE(memo->Find(dest));
  EXPECT_FALSE(Sha256Memo::Load(memo_file, "node-0").Find(dest));
  sums = t.Sha256Of({dest});
  ASSERT_TRUE(sums);
  EXPECT_EQ(sums->at(dest), Sha256Hex("new bytes"));
  ASSERT_TRUE(memo->Find(dest));
  // UploadMany too.
  req.source = std::string("batch bytes");
  req.sha256 = Sha256Hex("batch bytes");
  auto many = t.UploadMany({req}, {sums->at(dest)});
  ASSERT_EQ(many.size(), 1u);
  ASSERT_TRUE(many[0]) << many[0].error().ToString();
  EXPECT_FALSE(memo->Find(dest));
  EXPECT_FALSE(Sha256Memo::Load(memo_file, "node-0").Find(dest));
  sums = t.Sha256Of({dest});
  ASSERT_TRUE(sums);
  EXPECT_EQ(sums->at(dest), Sha256Hex("batch bytes"));
  // The listing still told the transport the mode: same bytes, same mode,
  // nothing to do.
  auto same = t.Upload(req, sums->at(dest));
  ASSERT_TRUE(same);
  EXPECT_FALSE(same->changed);
}

TEST_F(SshTest, WithoutAMemoEveryFileIsHashed) {
  const std::string dest = (sshd_->dir() / "srv" / "plain.bin").string();
  std::filesystem::create_directories(sshd_->dir() / "srv");
  ASSERT_EQ(Shell("printf abc > '" + dest + "'"), 0);
  auto t = MustConnect(sshd_->MakeHost("node-0"));
  ASSERT_TRUE(t);
  EXPECT_EQ(dynamic_cast<SshTransport&>(*t).sha256_memo(), nullptr);
  auto sums = t->Sha256Of({dest});
  ASSERT_TRUE(sums);
  EXPECT_EQ(sums->at(dest), Sha256Hex("abc"));
}

TEST_F(SshTest, SmallPrivateFileWithOwner) {
  auto t = MustConnect(sshd_->MakeHost("node-0"));
  ASSERT_TRUE(t);
  std::string key =
      "-----BEGIN PRIVATE KEY-----\nnot really\n-----END PRIVATE KEY-----\n";
  auto dest = (sshd_->dir() / "pki" / "key.pem").string();
  auto up = t->Upload(UploadRequest{key, dest, 0600, "nobody:nogroup",
                                    Sha256Hex(key), key.size()});
  ASSERT_TRUE(up) << up.error().ToString();
  EXPECT_TRUE(up->changed);
  EXPECT_EQ(up->bytes_sent, key.size());
  struct stat st {};
  ASSERT_EQ(::stat(dest.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  EXPECT_EQ(st.st_uid, nobody->pw_uid);
  EXPECT_EQ(Slurp(dest), key);

  // An empty file is a file too.
  auto empty = t->Upload(UploadRequest{std::string(), dest + ".empty", 0644,
                                       "root:root", Sha256Hex(""), 0});
  ASSERT_TRUE(empty) << empty.error().ToString();
  EXPECT_TRUE(std::filesystem::exists(dest + ".empty"));
  EXPECT_EQ(std::filesystem::file_size(dest + ".empty"), 0u);

  // A bad owner fails the upload and leaves no file behind.
  auto bad = t->Upload(UploadRequest{key, dest + ".x", 0600, "no-such-user-xyz",
                                     "", key.size()});
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("no-such-user-xyz"));
  EXPECT_FALSE(std::filesystem::exists(dest + ".x"));
  EXPECT_FALSE(HasTempFiles(sshd_->dir() / "pki"));
}

TEST_F(SshTest, SshdKilledMidUploadLeavesDestinationUntouched) {
  TempDir local;
  auto src = local / "big.bin";
  WriteBigFile(src, 200, 'b');
  auto sha = Sha256File(src);
  ASSERT_TRUE(sha);
  auto folder = sshd_->dir() / "srv";
  std::filesystem::create_directories(folder);
  auto dest = (folder / "big.bin").string();
  std::ofstream(dest) << "old content\n";

  auto t = MustConnect(sshd_->MakeHost("node-0"));
  ASSERT_TRUE(t);
  bool killed = false;
  auto up = t->Upload(
      UploadRequest{src, dest, 0644, "root:root", *sha, 200u << 20}, "",
      [&](uint64_t sent, uint64_t) {
        if (!killed && sent >= (40u << 20)) {
          sshd_->KillAll();  // the daemon, the connection, the remote shell
          killed = true;
        }
      });
  ASSERT_TRUE(killed);
  ASSERT_FALSE(up);
  EXPECT_EQ(up.error().kind, ErrorKind::kConnection);
  EXPECT_THAT(up.error().ToString(), HasSubstr("node-0"));
  EXPECT_THAT(up.error().message, HasSubstr("left unchanged"));
  EXPECT_EQ(Slurp(dest), "old content\n");
  // The remote shell died with sshd, so its temporary file is still there.
  EXPECT_TRUE(HasTempFiles(folder));

  // A new sshd on the same folder; the next successful upload cleans up.
  std::string error;
  auto second = Sshd::Start(&error);
  ASSERT_TRUE(second) << error;
  auto t2 = MustConnect(second->MakeHost("node-0"));
  ASSERT_TRUE(t2);
  auto ok =
      t2->Upload(UploadRequest{src, dest, 0644, "root:root", *sha, 200u << 20});
  ASSERT_TRUE(ok) << ok.error().ToString();
  EXPECT_EQ(Sha256File(dest).value_or(""), *sha);
  EXPECT_FALSE(HasTempFiles(folder));
}

TEST_F(SshTest, UnknownHostKeyRefusedUnderStrictBeforeAnythingIsSent) {
  Host host = sshd_->MakeHost("node-0", /*pin=*/false);
  host.ssh.host_key_policy = HostKeyPolicy::kStrict;
  std::ofstream(host.ssh.known_hosts) << "";
  auto marker = sshd_->dir() / "marker";
  auto t = ConnectHost(host);
  if (t) (void)(*t)->Exec("touch " + marker.string());
  ASSERT_FALSE(t);
  EXPECT_FALSE(std::filesystem::exists(marker));
  const Error& e = t.error();
  EXPECT_EQ(e.kind, ErrorKind::kConnection);
  std::string fp = testing::SshKeygenFingerprint(sshd_->host_key());
  ASSERT_THAT(fp, HasSubstr("SHA256:"));
  EXPECT_THAT(e.message, HasSubstr("unknown host key ssh-ed25519 " + fp));
  EXPECT_THAT(e.where, HasSubstr("node-0"));
  EXPECT_THAT(e.where, HasSubstr("127.0.0.1:" + std::to_string(sshd_->port())));
  // The exact line to add, in OpenSSH's [host]:port form.
  std::string line =
      "[127.0.0.1]:" + std::to_string(sshd_->port()) + " " + sshd_->host_key();
  EXPECT_THAT(e.hint, HasSubstr(line));
  // Not authenticated: sshd never saw our key.
  EXPECT_THAT(sshd_->log(), Not(HasSubstr("Accepted")));
  EXPECT_EQ(Slurp(host.ssh.known_hosts), "");

  // The printed line, once added, is accepted by strict (and by OpenSSH's
  // ssh-keygen -F).
  std::ofstream(host.ssh.known_hosts) << line << "\n";
  EXPECT_EQ(
      Shell("ssh-keygen -F '[127.0.0.1]:" + std::to_string(sshd_->port()) +
            "' -f " + host.ssh.known_hosts + " >/dev/null"),
      0);
  EXPECT_TRUE(MustConnect(host));
}

TEST_F(SshTest, AcceptNewRecordsUnknownKeys) {
  Host host = sshd_->MakeHost("node-0", /*pin=*/false);
  host.ssh.host_key_policy = HostKeyPolicy::kAcceptNew;
  host.ssh.known_hosts =
      (sshd_->dir() / "kh" / "known_hosts").string();  // folder made too
  auto t = MustConnect(host);
  ASSERT_TRUE(t);
  std::string recorded = Slurp(host.ssh.known_hosts);
  EXPECT_EQ(recorded, "[127.0.0.1]:" + std::to_string(sshd_->port()) + " " +
                          sshd_->host_key() + "\n");
  // OpenSSH finds it.
  EXPECT_EQ(
      Shell("ssh-keygen -F '[127.0.0.1]:" + std::to_string(sshd_->port()) +
            "' -f " + host.ssh.known_hosts + " >/dev/null"),
      0);
  // From now on strict accepts it, and accept-new does not record it twice.
  host.ssh.host_key_policy = HostKeyPolicy::kStrict;
  EXPECT_TRUE(MustConnect(host));
  host.ssh.host_key_policy = HostKeyPolicy::kAcceptNew;
  EXPECT_TRUE(MustConnect(host));
  EXPECT_EQ(Slurp(host.ssh.known_hosts), recorded);
}

TEST_F(SshTest, HashedKnownHostsEntryIsRecognised) {
  Host host = sshd_->MakeHost("node-0", /*pin=*/false);
  std::ofstream(host.ssh.known_hosts)
      << "# comment\n@cert-authority *.example ssh-ed25519 "
         "AAAAC3NzaC1lZDI1NTE5AAAAIDdr\n"
      << "[127.0.0.1]:" << sshd_->port() << " " << sshd_->host_key() << "\n";
  ASSERT_EQ(
      Shell("ssh-keygen -q -H -f " + host.ssh.known_hosts + " >/dev/null 2>&1"),
      0);
  ASSERT_THAT(Slurp(host.ssh.known_hosts), HasSubstr("|1|"));
  EXPECT_TRUE(MustConnect(host));
}

TEST_F(SshTest, ChangedKeyRefusedUnderAcceptNew) {
  Host host = sshd_->MakeHost("node-0", /*pin=*/false);
  host.ssh.host_key_policy = HostKeyPolicy::kAcceptNew;
  TempDir other;
  ASSERT_EQ(
      Shell("ssh-keygen -q -t ed25519 -N '' -f " + (other / "k").string()), 0);
  std::string old_key;
  {
    std::ifstream in(other / "k.pub");
    std::string type, blob;
    in >> type >> blob;
    old_key = type + " " + blob;
  }
  std::string known =
      "[127.0.0.1]:" + std::to_string(sshd_->port()) + " " + old_key + "\n";
  std::ofstream(host.ssh.known_hosts) << known;
  auto marker = sshd_->dir() / "marker";
  auto t = ConnectHost(host);
  if (t) (void)(*t)->Exec("touch " + marker.string());
  ASSERT_FALSE(t);
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_THAT(t.error().message, HasSubstr("HOST KEY CHANGED"));
  EXPECT_THAT(t.error().message,
              HasSubstr(testing::SshKeygenFingerprint(old_key)));
  EXPECT_THAT(t.error().message,
              HasSubstr(testing::SshKeygenFingerprint(sshd_->host_key())));
  EXPECT_EQ(Slurp(host.ssh.known_hosts), known);  // not overwritten
  EXPECT_THAT(sshd_->log(), Not(HasSubstr("Accepted")));
}

TEST_F(SshTest, PinnedKeyOverridesKnownHosts) {
  Host host = sshd_->MakeHost("node-0", /*pin=*/true);
  host.ssh.known_hosts = (sshd_->dir() / "absent_known_hosts").string();
  auto t = MustConnect(host);
  ASSERT_TRUE(t);
  EXPECT_FALSE(std::filesystem::exists(
      host.ssh.known_hosts));  // not consulted, not written

  // A wrong pin is refused, even with accept-new.
  host.ssh.host_key_policy = HostKeyPolicy::kAcceptNew;
  host.ssh.host_key =
      "ssh-ed25519 "
      "AAAAC3NzaC1lZDI1NTE5AAAAIHr0cJXWfvYQ6gCpS1zZ0Tf4Ot2V1S1wMZ7dGrO2Zr3q";
  auto bad = ConnectHost(host);
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("does not match the key pinned"));
  EXPECT_THAT(bad.error().message,
              HasSubstr("server offers ssh-ed25519 " +
                        testing::SshKeygenFingerprint(sshd_->host_key())));
}

TEST_F(SshTest, AgentAuthentication) {
  TempDir agent_dir;
  auto sock = (agent_dir / "agent.sock").string();
  pid_t agent = ::fork();
  if (agent == 0) {
    std::freopen("/dev/null", "w", stdout);
    ::execlp("ssh-agent", "ssh-agent", "-D", "-a", sock.c_str(),
             (char*)nullptr);
    ::_exit(127);
  }
  for (int i = 0; i < 200 && !std::filesystem::exists(sock); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(
      Shell("SSH_AUTH_SOCK=" + sock + " ssh-add -q " +
            testing::TestClientKey().private_key.string() + " 2>/dev/null"),
      0);
  const char* saved = std::getenv("SSH_AUTH_SOCK");
  std::string saved_value = saved ? saved : "";
  ::setenv("SSH_AUTH_SOCK", sock.c_str(), 1);

  Host host = sshd_->MakeHost("node-0");
  host.ssh.agent = true;
  host.ssh.identity_file =
      (agent_dir / "no_such_key").string();  // only the agent can work
  auto t = ConnectHost(host);
  EXPECT_TRUE(t) << t.error().ToString();
  if (t) {
    EXPECT_EQ((*t)->Exec("echo via-agent")->out, "via-agent\n");
  }

  // Without agent and key: the error lists what the server offered and what we
  // tried.
  host.ssh.agent = false;
  auto no = ConnectHost(host);
  ASSERT_FALSE(no);
  EXPECT_THAT(no.error().message,
              HasSubstr("authentication failed for user root"));
  EXPECT_THAT(no.error().message, HasSubstr("server offered [publickey]"));
  EXPECT_THAT(no.error().message, HasSubstr("no_such_key (not readable)"));

  if (saved) {
    ::setenv("SSH_AUTH_SOCK", saved_value.c_str(), 1);
  } else {
    ::unsetenv("SSH_AUTH_SOCK");
  }
  ::kill(agent, SIGTERM);
  ::waitpid(agent, nullptr, 0);
}

TEST_F(SshTest, EncryptedKeyWithPassphraseFromEnvironment) {
  TempDir keys;
  auto key = (keys / "id_enc").string();
  ASSERT_EQ(Shell("ssh-keygen -q -t ed25519 -N 'open sesame' -f " + key), 0);
  std::ofstream(sshd_->dir() / "authorized_keys", std::ios::app)
      << Slurp(key + ".pub");
  std::filesystem::remove(key +
                          ".pub");  // make libssh2 derive the public key itself
  Host host = sshd_->MakeHost("node-0");
  host.ssh.identity_file = key;
  ::setenv("HARDWAY_SSH_PASSPHRASE", "open sesame", 1);
  auto t = ConnectHost(host);
  EXPECT_TRUE(t) << t.error().ToString();
  ::setenv("HARDWAY_SSH_PASSPHRASE", "wrong", 1);
  auto bad = ConnectHost(host);
  ::unsetenv("HARDWAY_SSH_PASSPHRASE");
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().message, HasSubstr("cannot load"));
  // No passphrase and no terminal: said so.
  ConnectOptions no_prompt;
  no_prompt.allow_prompt = false;
  auto none = ConnectHost(host, no_prompt);
  ASSERT_FALSE(none);
  EXPECT_THAT(none.error().message, HasSubstr("HARDWAY_SSH_PASSPHRASE"));
}

TEST_F(SshTest, BastionHop) {
  auto target = StartSshd();
  ASSERT_TRUE(target);
  Host host = target->MakeHost("node-behind");
  host.ssh.bastion =
      Bastion{"127.0.0.1", sshd_->port(), "root", "", sshd_->host_key()};
  auto t = MustConnect(host);
  ASSERT_TRUE(t);
  auto r = t->Exec("echo behind");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "behind\n");
  // Both sshds saw exactly one login: the bastion only forwarded.
  EXPECT_THAT(sshd_->log(), HasSubstr("Accepted publickey"));
  EXPECT_THAT(target->log(), HasSubstr("Accepted publickey"));

  // Uploads and large outputs go through the pump.
  std::string data(20 << 20, 'x');
  for (size_t i = 0; i < data.size(); i += 4096)
    data[i] = char('a' + i / 4096 % 26);
  auto dest = (target->dir() / "via-bastion.bin").string();
  auto up = t->Upload(UploadRequest{data, dest, 0644, "root:root",
                                    Sha256Hex(data), data.size()});
  ASSERT_TRUE(up) << up.error().ToString();
  EXPECT_EQ(Sha256File(dest).value_or(""), Sha256Hex(data));
  auto big = t->Exec("cat " + dest);
  ASSERT_TRUE(big);
  EXPECT_EQ(big->out, data);

  // The bastion's host key is verified too.
  host.ssh.bastion->host_key = target->host_key();  // wrong one for the bastion
  auto bad = ConnectHost(host);
  ASSERT_FALSE(bad);
  EXPECT_THAT(bad.error().ToString(), HasSubstr("bastion"));
  EXPECT_THAT(bad.error().message, HasSubstr("pinned"));
}

TEST(SshConnectErrors, RefusedNamesHostAddressPortAndCause) {
  std::string error;
  auto sshd = Sshd::Start(&error);
  ASSERT_TRUE(sshd) << error;
  Host host = sshd->MakeHost("node-gone");
  sshd->KillAll();  // nothing listens there now
  host.ssh.connect_timeout = std::chrono::milliseconds(1000);
  auto start = std::chrono::steady_clock::now();
  auto t = ConnectHost(host);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(t);
  EXPECT_EQ(t.error().kind, ErrorKind::kConnection);
  std::string s = t.error().ToString();
  EXPECT_THAT(s, HasSubstr("node-gone"));
  EXPECT_THAT(s, HasSubstr("127.0.0.1:" + std::to_string(host.ssh.port)));
  EXPECT_THAT(s, HasSubstr("connection refused"));
  EXPECT_THAT(s, HasSubstr("attempts"));  // it retried
  EXPECT_GE(took, std::chrono::milliseconds(500));
  EXPECT_LT(took, std::chrono::milliseconds(3000));
}

TEST(SshConnectErrors, SilentServerTimesOut) {
  // Accepts TCP (the kernel completes the handshake) but never speaks SSH.
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  Host host;
  host.name = "node-mute";
  host.address = "127.0.0.1";
  host.ssh.port = ntohs(addr.sin_port);
  host.ssh.identity_file = testing::TestClientKey().private_key.string();
  host.ssh.agent = false;
  host.ssh.connect_timeout = std::chrono::milliseconds(800);
  auto start = std::chrono::steady_clock::now();
  auto t = ConnectHost(host);
  auto took = std::chrono::steady_clock::now() - start;
  ::close(fd);
  ASSERT_FALSE(t);
  std::string s = t.error().ToString();
  EXPECT_THAT(s, HasSubstr("node-mute"));
  EXPECT_THAT(s, HasSubstr("timed out"));
  EXPECT_THAT(s, HasSubstr(std::to_string(host.ssh.port)));
  EXPECT_LT(took, std::chrono::milliseconds(2500));
}

TEST(SshFanout, ExecOn16HostsInParallel) {
  std::vector<std::unique_ptr<Sshd>> sshds(16);
  std::vector<std::thread> starters;
  for (int i = 0; i < 16; ++i) {
    starters.emplace_back([&, i] {
      std::string error;
      sshds[i] = Sshd::Start(&error);
    });
  }
  for (auto& th : starters) th.join();
  std::vector<Host> hosts;
  for (int i = 0; i < 16; ++i) {
    ASSERT_TRUE(sshds[i]) << "sshd " << i << " did not start";
    hosts.push_back(sshds[i]->MakeHost("node-" + std::to_string(i)));
  }
  std::vector<const Host*> ptrs;
  for (const Host& h : hosts) ptrs.push_back(&h);
  std::ostringstream out, err;
  auto start = std::chrono::steady_clock::now();
  // Each command sleeps 0.5 s: 16 hosts in well under 16 x 0.5 s proves they
  // ran in parallel.
  auto res = ExecOnHosts(ptrs, "sleep 0.5; echo up; echo $PPID >/dev/null", {},
                         16, out, err);
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(res.hosts, 16);
  EXPECT_EQ(res.failed_commands, 0);
  EXPECT_EQ(res.failed_connections, 0) << err.str();
  for (int i = 0; i < 16; ++i) {
    std::string name = "node-" + std::to_string(i);
    EXPECT_THAT(out.str(), HasSubstr(name + std::string(7 - name.size(), ' ') +
                                     " | up\n"));
  }
  EXPECT_LT(took, std::chrono::milliseconds(4000));

  // One host fails its command, one cannot be reached: both reported, per host.
  sshds[3]->KillAll();
  std::ostringstream out2, err2;
  hosts[3].ssh.connect_timeout = std::chrono::milliseconds(500);
  // Each sshd is told apart by its port, which sshd exports in $SSH_CONNECTION.
  auto res2 = ExecOnHosts(ptrs,
                          "case \"$SSH_CONNECTION\" in *' " +
                              std::to_string(sshds[5]->port()) +
                              "') exit 7;; esac; echo fine",
                          {}, 16, out2, err2);
  EXPECT_EQ(res2.failed_connections, 1);
  EXPECT_EQ(res2.failed_commands, 1);
  EXPECT_THAT(err2.str(), HasSubstr("node-3  | error:"));
  EXPECT_THAT(err2.str(), HasSubstr("connection refused"));
  EXPECT_THAT(err2.str(), HasSubstr("node-5  | exit 7"));
  EXPECT_THAT(out2.str(), HasSubstr("node-0  | fine"));
}

}  // namespace
}  // namespace hardway
