#include "remote/ssh_util.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace hardway {
namespace {

TEST(SshUtil, ShellQuote) {
  EXPECT_EQ(ShellQuote("abc"), "'abc'");
  EXPECT_EQ(ShellQuote(""), "''");
  EXPECT_EQ(ShellQuote("it's"), "'it'\\''s'");
  EXPECT_EQ(ShellQuote("$HOME `x` \"q\""), "'$HOME `x` \"q\"'");
}

TEST(SshUtil, RemoteCommandLineUsesShAndSudoForNonRoot) {
  EXPECT_EQ(RemoteCommandLine("root", "echo 'a'"),
            "/bin/sh -c 'echo '\\''a'\\'''");
  EXPECT_EQ(RemoteCommandLine("debian", "id -u"), "sudo -n /bin/sh -c 'id -u'");
  EXPECT_TRUE(SudoWantsPassword("sudo: a password is required\n"));
  EXPECT_FALSE(SudoWantsPassword("cat: x: No such file or directory\n"));
}

TEST(SshUtil, Sha256ListingRoundTrip) {
  std::string cmd = Sha256ListingCommand({"/etc/a b", "/missing"});
  EXPECT_EQ(cmd,
            "{ if command -v openssl >/dev/null; then openssl dgst -sha256 "
            "-r '/etc/a b' '/missing'; else sha256sum -- '/etc/a b' "
            "'/missing'; fi; } 2>/dev/null; echo "
            "@@hardway-stat@@; stat -L -c "
            "'%a %U:%G %u:%g %n' -- '/etc/a b' '/missing' 2>/dev/null; true");
  std::string sha(64, 'a');
  auto parsed = ParseSha256Listing(
      sha + "  /etc/a b\n@@hardway-stat@@\n600 root:ssl 0:110 /etc/a b\n");
  ASSERT_TRUE(parsed);
  ASSERT_EQ(parsed->size(), 1u);
  const RemoteFileInfo& info = parsed->at("/etc/a b");
  EXPECT_EQ(info.sha256, sha);
  EXPECT_EQ(info.mode, "600");
  EXPECT_EQ(info.owner, "root:ssl");
  EXPECT_EQ(info.owner_ids, "0:110");
  // openssl dgst -r marks every path as read in binary mode.
  auto binary = ParseSha256Listing(sha + " */etc/a b\n@@hardway-stat@@\n");
  ASSERT_TRUE(binary);
  EXPECT_EQ(binary->at("/etc/a b").sha256, sha);
  // A relative path could pass for an option of old openssl releases.
  EXPECT_EQ(Sha256ListingCommand({"a"}).rfind("{ sha256sum -- 'a'; }", 0), 0u);
  EXPECT_FALSE(ParseSha256Listing("garbage\n"));
  auto empty = ParseSha256Listing("@@hardway-stat@@\n");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
}

TEST(SshUtil, KeyedSha256ListingCommandHashesOnlyUnknownKeys) {
  std::string cmd =
      KeyedSha256ListingCommand({"/etc/a b", "/new", "/it's"},
                                {{"/etc/a b", "3:10.000000001:11.000000002:77"},
                                 {"/it's", "5:1.000000000:2.000000000:9"},
                                 {"/not-asked", "1:1.0:1.0:1"}});
  EXPECT_EQ(
      cmd,
      "date +'@@hardway-clock@@ %s.%N'  # sha256 listing of 3 paths, 2 "
      "known by stat key\n"
      "s=$(stat -L -c '%s:%.9Y:%.9Z:%i %n\n%a %U:%G %u:%g' -- '/etc/a b' "
      "'/new' '/it'\\''s' 2>/dev/null)\n"
      "set -- '/new'\n"
      "case \"\n$s\n\" in *'\n3:10.000000001:11.000000002:77 /etc/a b\n'*)"
      " ;; *) set -- \"$@\" '/etc/a b' ;; esac\n"
      "case \"\n$s\n\" in *'\n5:1.000000000:2.000000000:9 /it'\\''s\n'*)"
      " ;; *) set -- \"$@\" '/it'\\''s' ;; esac\n"
      "[ $# -eq 0 ] || { if command -v openssl >/dev/null; then openssl "
      "dgst -sha256 -r \"$@\"; else sha256sum -- \"$@\"; fi; } 2>/dev/null\n"
      "echo @@hardway-stat@@\n"
      "printf '%s\\n' \"$s\"\n");
  // Nothing known: every path is hashed, with no case at all.
  std::string none = KeyedSha256ListingCommand({"/x"}, {});
  EXPECT_NE(none.find("set -- '/x'\n[ $# -eq 0 ] || { if command -v openssl"),
            std::string::npos);
  EXPECT_EQ(none.find("case"), std::string::npos);
}

TEST(SshUtil, ParsesAKeyedListing) {
  std::string sha(64, 'b');
  std::string clock;
  auto parsed = ParseSha256Listing(
      "@@hardway-clock@@ 1795700692.900000000\n" + sha +
          "  /etc/a b\n"
          "@@hardway-stat@@\n"
          "6:1795700692.826535389:1795700692.886535389:1124162 /etc/a b\n"
          "600 root:ssl 0:110\n"
          "9:1.000000000:2.000000000:33 /usr/bin/kept\n"
          "755 root:root 0:0\n",
      &clock);
  ASSERT_TRUE(parsed) << parsed.error().message;
  EXPECT_EQ(clock, "1795700692.900000000");
  ASSERT_EQ(parsed->size(), 2u);
  const RemoteFileInfo& hashed = parsed->at("/etc/a b");
  EXPECT_EQ(hashed.sha256, sha);
  EXPECT_EQ(hashed.key, "6:1795700692.826535389:1795700692.886535389:1124162");
  EXPECT_EQ(hashed.mode, "600");
  EXPECT_EQ(hashed.owner, "root:ssl");
  EXPECT_EQ(hashed.owner_ids, "0:110");
  // Listed by stat, not hashed: its mode and owner are still known.
  const RemoteFileInfo& kept = parsed->at("/usr/bin/kept");
  EXPECT_EQ(kept.sha256, "");
  EXPECT_EQ(kept.key, "9:1.000000000:2.000000000:33");
  EXPECT_EQ(kept.mode, "755");
  EXPECT_EQ(kept.owner_ids, "0:0");

  // Nothing found at all.
  auto empty = ParseSha256Listing(
      "@@hardway-clock@@ 1.000000000\n@@hardway-stat@@\n\n", &clock);
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(clock, "1.000000000");
  // A key line without its fields, fields without a key line.
  EXPECT_FALSE(ParseSha256Listing(
      "@@hardway-clock@@ 1.0\n@@hardway-stat@@\n1:2.0:3.0:4 /a\n"));
  EXPECT_FALSE(ParseSha256Listing(
      "@@hardway-clock@@ 1.0\n@@hardway-stat@@\n1:2.0:3.0:4 /a\n644 a:b "
      "0:0 /a\n"));
  // The first command's output says nothing of a clock.
  auto old = ParseSha256Listing(
      sha + "  /x\n@@hardway-stat@@\n644 root:root 0:0 /x\n", &clock);
  ASSERT_TRUE(old);
  EXPECT_EQ(clock, "");
  EXPECT_EQ(old->at("/x").key, "");
}

TEST(SshUtil, Base64AndFingerprint) {
  EXPECT_EQ(SshBase64Encode("hello"), "aGVsbG8=");
  EXPECT_EQ(SshBase64Decode("aGVsbG8="), "hello");
  EXPECT_EQ(SshBase64Decode("aGVsbA=="), "hell");
  EXPECT_EQ(SshBase64Decode("aGVs"), "hel");
  EXPECT_FALSE(SshBase64Decode("aGV"));
  // ssh-keygen -l -E sha256 of this ed25519 key prints exactly this
  // fingerprint.
  auto blob = SshBase64Decode(
      "AAAAC3NzaC1lZDI1NTE5AAAAIHr0cJXWfvYQ6gCpS1zZ0Tf4Ot2V1S1wMZ7dGrO2Zr3q");
  ASSERT_TRUE(blob);
  EXPECT_EQ(KeyBlobType(*blob), "ssh-ed25519");
  EXPECT_EQ(FingerprintSha256(*blob),
            "SHA256:RJk7EJrzUSnthVET9KdbJKnlwxoSwFhBakysImFLtgQ");
}

TEST(SshUtil, KnownHostsNameAndModes) {
  EXPECT_EQ(KnownHostsName("10.0.0.1", 22), "10.0.0.1");
  EXPECT_EQ(KnownHostsName("127.0.0.1", 2222), "[127.0.0.1]:2222");
  EXPECT_EQ(OctalMode(0600), "0600");
  EXPECT_EQ(OctalMode(04755), "4755");
}

TEST(SshUtil, EncryptedKeyDetection) {
  EXPECT_TRUE(PrivateKeyIsEncrypted(
      "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"));
  EXPECT_FALSE(PrivateKeyIsEncrypted(
      "-----BEGIN PRIVATE KEY-----\nMII=\n-----END PRIVATE KEY-----"));
  // openssh-key-v1 with cipher "none" / "aes256-ctr" (header only; the rest is
  // not read).
  auto key = [](const std::string& cipher) {
    std::string raw("openssh-key-v1\0", 15);
    raw += std::string("\0\0\0", 3) + char(cipher.size()) + cipher;
    return "-----BEGIN OPENSSH PRIVATE KEY-----\n" + SshBase64Encode(raw) +
           "\n-----END OPENSSH PRIVATE KEY-----\n";
  };
  EXPECT_FALSE(PrivateKeyIsEncrypted(key("none")));
  EXPECT_TRUE(PrivateKeyIsEncrypted(key("aes256-ctr")));
}

}  // namespace
}  // namespace hardway

namespace hardway {
namespace {

TEST(SshUtil, OnlyALoneTestOfPlainWordsRunsInPlace) {
  EXPECT_TRUE(RunsInPlace("test -d /etc/kubernetes/pki"));
  EXPECT_TRUE(RunsInPlace("test -d /usr/local/bin -a -d /etc/hardway"));
  EXPECT_TRUE(RunsInPlace("test -e /var/lib/hardway/pending-restart/etcd"));
  EXPECT_FALSE(RunsInPlace("test -d /x; exit 1"));
  EXPECT_FALSE(RunsInPlace("test -d /x && rm -rf /x"));
  EXPECT_FALSE(RunsInPlace("test \"$(stat -c %a /var/lib/etcd)\" = 700"));
  EXPECT_FALSE(RunsInPlace("test -d $HOME"));
  EXPECT_FALSE(RunsInPlace("test -d /x*"));
  EXPECT_FALSE(RunsInPlace("test -d /x > /tmp/y"));
  EXPECT_FALSE(RunsInPlace("test -d /x\nexit 3"));
  EXPECT_FALSE(RunsInPlace("testing -d /x"));
  EXPECT_FALSE(RunsInPlace("exit 1"));
}

// What /bin/sh prints running `script` (from a file, as sshd's shell reads
// its command); "exit N" when the shell itself fails.
std::string RunWithSh(const std::string& script) {
  char path[] = "/tmp/hw-execmany-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return "mkstemp failed";
  bool written = write(fd, script.data(), script.size()) ==
                 static_cast<ssize_t>(script.size());
  close(fd);
  FILE* pipe =
      written ? popen(("/bin/sh " + std::string(path)).c_str(), "r") : nullptr;
  std::string out;
  if (pipe) {
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, pipe)) > 0;)
      out.append(buf, n);
    if (int rc = pclose(pipe); rc != 0) out += "exit " + std::to_string(rc);
  } else {
    out = "could not run the script";
  }
  unlink(path);
  return out;
}

// The script run for real by /bin/sh: every command's exit code and output
// come back in order, an `exit` or `set` in one ends or changes only itself,
// and the lone tests run without a subshell.
TEST(SshUtil, ExecManyScriptRunsEachCommandOnItsOwn) {
  std::vector<std::string> commands = {
      "test -d /",      "test -e /nonexistent-hw",
      "echo a; exit 3", "set -e; false; echo never",
      "printf 'b'",     "test -d /dev -a -d /proc"};
  std::string script = ExecManyScript(commands);
  EXPECT_EQ(script.find("(\ntest -d /\n)"), std::string::npos) << script;
  EXPECT_NE(script.find("(\necho a; exit 3\n)"), std::string::npos) << script;

  std::string out = RunWithSh(script);
  EXPECT_EQ(out,
            "\n@@hardway-exec 0 0\n"
            "\n@@hardway-exec 1 1\n"
            "a\n\n@@hardway-exec 2 3\n"
            "\n@@hardway-exec 3 1\n"
            "b\n@@hardway-exec 4 0\n"
            "\n@@hardway-exec 5 0\n");
}

// With stop_after_failure the script ends after the first failing command,
// its marker printed; the later commands never run.
TEST(SshUtil, ExecManyScriptCanStopAtTheFirstFailure) {
  std::string script = ExecManyScript(
      {"echo one", "test -e /nonexistent-hw", "echo never"}, true);
  std::string out = RunWithSh(script);
  EXPECT_EQ(out, "one\n\n@@hardway-exec 0 0\n\n@@hardway-exec 1 1\n");
}

}  // namespace
}  // namespace hardway
