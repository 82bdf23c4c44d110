#include "remote/ssh_util.h"

#include <gtest/gtest.h>

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
            "sha256sum -- '/etc/a b' '/missing' 2>/dev/null; echo "
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
  EXPECT_FALSE(ParseSha256Listing("garbage\n"));
  auto empty = ParseSha256Listing("@@hardway-stat@@\n");
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->empty());
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
