// A non-root ssh.user: privileged commands and uploads go through `sudo -n`,
// and a user whose sudo wants a password gets an error that says so (not a
// hang at a prompt nobody sees). The fixture's sshd authorizes the test key for
// every user, so two throwaway system users (password field '*': no password
// login, but not "locked", which sshd would refuse even for keys) are enough:
// one with a NOPASSWD rule in /etc/sudoers.d/, one without. Both are removed
// when the suite ends.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "remote/connect.h"
#include "sshd_fixture.h"
#include "util/sha256.h"

namespace hardway {
namespace {

using ::testing::HasSubstr;
using testing::Shell;
using testing::Sshd;

// Per process: ctest -j runs each test in its own process at the same time,
// and one test's TearDownTestSuite must not delete another's users.
const std::string kSudoer = "hw-sudo-" + std::to_string(::getpid());
const std::string kNoSudo = "hw-nosudo-" + std::to_string(::getpid());
const std::string kRule = "/etc/sudoers.d/" + kSudoer;

class SudoTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(Shell("command -v sudo >/dev/null"), 0)
        << "sudo is not installed (scripts/install-deps.sh installs it)";
    for (const std::string& u : {kSudoer, kNoSudo}) {
      ASSERT_EQ(Shell("(id " + u +
                      " >/dev/null 2>&1 || useradd --system --shell /bin/sh "
                      "--home-dir /nonexistent " +
                      u + ") && usermod -p '*' " + u),
                0)
          << "cannot create test user " << u;
    }
    // visudo -c refuses a broken rule before sudo ever reads it.
    ASSERT_EQ(
        Shell("printf '%s ALL=(ALL) NOPASSWD: ALL\\n' " + kSudoer + " > " +
              kRule + ".tmp && chmod 0440 " + kRule + ".tmp && visudo -cqf " +
              kRule + ".tmp && mv " + kRule + ".tmp " + kRule),
        0);
  }
  static void TearDownTestSuite() {
    Shell("rm -f " + kRule);
    for (const std::string& user : {kSudoer, kNoSudo})
      Shell("userdel " + user + " 2>/dev/null");
  }
  void SetUp() override {
    std::string error;
    sshd_ = Sshd::Start(&error);
    ASSERT_TRUE(sshd_) << error;
    // sshd reads authorized_keys as the user logging in.
    std::filesystem::permissions(sshd_->dir(),
                                 std::filesystem::perms::owner_all |
                                     std::filesystem::perms::others_exec |
                                     std::filesystem::perms::group_exec);
    std::filesystem::permissions(sshd_->dir() / "authorized_keys",
                                 std::filesystem::perms::owner_read |
                                     std::filesystem::perms::owner_write |
                                     std::filesystem::perms::group_read |
                                     std::filesystem::perms::others_read);
  }
  Host HostAs(const std::string& user) const {
    Host h = sshd_->MakeHost("sudo-host");
    h.ssh.user = user;
    return h;
  }
  std::unique_ptr<Sshd> sshd_;
};

TEST_F(SudoTest, CommandsRunAsRootThroughSudo) {
  auto t = ConnectHost(HostAs(kSudoer));
  ASSERT_TRUE(t) << t.error().ToString();
  auto r = (*t)->Exec("id -u; echo $SUDO_USER");
  ASSERT_TRUE(r) << r.error().ToString();
  EXPECT_EQ(r->out, std::string("0\n") + kSudoer + "\n");
}

TEST_F(SudoTest, UploadLandsOwnedAsAskedInARootOnlyFolder) {
  auto t = ConnectHost(HostAs(kSudoer));
  ASSERT_TRUE(t) << t.error().ToString();
  const std::filesystem::path dir = sshd_->dir() / "root-only";
  std::filesystem::create_directories(dir);
  std::filesystem::permissions(dir, std::filesystem::perms::owner_all);
  const std::string dest = (dir / "secret.key").string();
  const std::string data = "not really a key\n";
  auto up = (*t)->Upload(UploadRequest{data, dest, 0600, "root:root",
                                       Sha256Hex(data), data.size()});
  ASSERT_TRUE(up) << up.error().ToString();
  EXPECT_TRUE(up->changed);
  struct stat st {};
  ASSERT_EQ(::stat(dest.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, 0u);
  auto shas = (*t)->Sha256Of({dest});
  ASSERT_TRUE(shas) << shas.error().ToString();
  EXPECT_EQ(shas->at(dest), Sha256Hex(data));
}

TEST_F(SudoTest, SudoThatWantsAPasswordIsAClearError) {
  auto t = ConnectHost(HostAs(kNoSudo));
  ASSERT_TRUE(t) << t.error().ToString();
  auto r = (*t)->Exec("true");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kConnection);
  EXPECT_THAT(
      r.error().message,
      HasSubstr(std::string("sudo asks for a password for user ") + kNoSudo));
  EXPECT_THAT(r.error().hint, HasSubstr("NOPASSWD"));
  EXPECT_EQ(r.error().where, "sudo-host");
}

}  // namespace
}  // namespace hardway
