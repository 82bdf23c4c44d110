#include "util/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "util/sha256.h"

namespace hardway {
namespace {
namespace fs = std::filesystem;

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hardway-files-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(FilesTest, WritesWithModeAndLeavesNoTemp) {
  auto path = dir_ / "sub" / "key.pem";
  auto written = WriteFileAtomic(path, "secret", fs::perms::owner_read | fs::perms::owner_write);
  ASSERT_TRUE(written) << written.error().ToString();
  EXPECT_TRUE(*written);
  EXPECT_EQ(fs::status(path).permissions() & fs::perms::mask,
            fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(std::distance(fs::directory_iterator(path.parent_path()), fs::directory_iterator{}),
            1);
}

TEST_F(FilesTest, UnchangedContentKeepsMtime) {
  auto path = dir_ / "a.txt";
  ASSERT_TRUE(WriteFileAtomic(path, "x", fs::perms(0644)));
  auto before = fs::last_write_time(path);
  auto again = WriteFileAtomic(path, "x", fs::perms(0644));
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  EXPECT_EQ(fs::last_write_time(path), before);
  auto changed = WriteFileAtomic(path, "y", fs::perms(0644));
  ASSERT_TRUE(changed);
  EXPECT_TRUE(*changed);
  EXPECT_EQ(*ReadFile(path), "y");
}

TEST(Sha256, KnownVector) {
  EXPECT_EQ(Sha256Hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace hardway
