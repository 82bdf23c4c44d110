// Sha256Memo and the keyed listing command, the command run by the local
// /bin/sh (dash on Debian, as on the hosts) on real files.
#include "remote/sha256_memo.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "util/files.h"
#include "util/sha256.h"

namespace hardway {
namespace {

namespace fs = std::filesystem;

const std::string kShaA(64, 'a');
const std::string kShaB(64, 'b');

std::string RunSh(const std::string& command) {
  FILE* p = ::popen(command.c_str(), "r");
  if (p == nullptr) return {};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  ::pclose(p);
  return out;
}

void Write(const fs::path& p, const std::string& content) {
  std::ofstream(p, std::ios::binary) << content;
}

// The key the host would print.
std::string StatKey(const fs::path& p) {
  std::string out = RunSh("stat -L -c '" + std::string(kStatKeyFormat) +
                          "' -- '" + p.string() + "'");
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

RemoteFileInfo Listed(std::string key, std::string sha = {}) {
  RemoteFileInfo info;
  info.sha256 = std::move(sha);
  info.mode = "644";
  info.owner = "root:root";
  info.owner_ids = "0:0";
  info.key = std::move(key);
  return info;
}

class Sha256MemoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("hardway-memo-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A memo whose file is in dir_, with `entries` recorded (margin 0, a
  // listing whose clock is long after every key's ctime).
  Sha256Memo MemoWith(
      const std::map<std::string, std::pair<std::string, std::string>>&
          entries) {
    Sha256Memo memo = Sha256Memo::Load(dir_ / "memo.json", "node-0");
    std::vector<std::string> paths;
    std::map<std::string, RemoteFileInfo> listing;
    for (const auto& [path, e] : entries) {
      paths.push_back(path);
      listing[path] = Listed(e.first, e.second);
    }
    memo.set_racy_margin(std::chrono::nanoseconds(0));
    memo.Absorb(paths, listing, "9000000000.0");
    memo.set_racy_margin(Sha256Memo::kDefaultRacyMargin);
    return memo;
  }

  fs::path dir_;
};

TEST_F(Sha256MemoTest, ListingHashesOnlyFilesWhoseKeyIsNotTheMemos) {
  fs::path a = dir_ / "a", bak = dir_ / "a.bak", b = dir_ / "b",
           b_bak = dir_ / "b.bak", fresh = dir_ / "new file",
           gone = dir_ / "gone", sub = dir_ / "sub";
  Write(a, "alpha");
  Write(bak, "alpha backup");
  Write(b, "beta");
  Write(b_bak, "beta backup");
  Write(fresh, "fresh");
  fs::create_directories(sub);
  // a: the memo has its real key (with a sha256 no file has: it proves a is
  // not hashed). a.bak: the memo has a's key for it (a mismatch). b: the memo
  // has b.bak's key for it, which must not match on b.bak's line. gone: known
  // but missing. sub: a folder.
  Sha256Memo memo = MemoWith({{a.string(), {StatKey(a), kShaA}},
                              {bak.string(), {StatKey(a), kShaB}},
                              {b.string(), {StatKey(b_bak), kShaB}},
                              {gone.string(), {"1:1.0:1.0:1", kShaB}}});
  ASSERT_EQ(memo.size(), 4u);
  std::vector<std::string> paths = {
      a.string(),     bak.string(),  b.string(),  b_bak.string(),
      fresh.string(), gone.string(), sub.string()};
  std::string cmd = KeyedSha256ListingCommand(paths, memo.KnownKeys(paths));
  std::string out = RunSh(cmd);
  std::string clock;
  auto listing = ParseSha256Listing(out, &clock);
  ASSERT_TRUE(listing) << listing.error().message << "\n" << out;
  EXPECT_TRUE(ParseEpochNanos(clock)) << clock;
  // sha256sum ran for a.bak and the new file only.
  EXPECT_EQ(listing->at(a.string()).sha256, "");
  EXPECT_EQ(listing->at(a.string()).key, StatKey(a));
  EXPECT_EQ(listing->at(bak.string()).sha256, Sha256Hex("alpha backup"));
  EXPECT_EQ(listing->at(b.string()).sha256, Sha256Hex("beta"));
  EXPECT_EQ(listing->at(b_bak.string()).sha256, Sha256Hex("beta backup"));
  EXPECT_EQ(listing->at(fresh.string()).sha256, Sha256Hex("fresh"));
  EXPECT_FALSE(listing->contains(gone.string()));
  EXPECT_EQ(listing->at(sub.string()).sha256, "");  // stat'ed, not readable

  auto files = memo.Absorb(paths, *listing, clock);
  ASSERT_EQ(files.size(), 5u);
  EXPECT_EQ(files.at(a.string()).sha256, kShaA);
  EXPECT_EQ(files.at(b.string()).sha256, Sha256Hex("beta"));
  EXPECT_EQ(files.at(a.string()).mode, listing->at(a.string()).mode);
  EXPECT_EQ(files.at(bak.string()).sha256, Sha256Hex("alpha backup"));
  EXPECT_EQ(files.at(fresh.string()).sha256, Sha256Hex("fresh"));
  EXPECT_FALSE(memo.Find(gone.string()));  // missing: dropped
  EXPECT_FALSE(memo.Find(sub.string()));
}

TEST_F(Sha256MemoTest, AKeyIsMatchedOnlyAsAWholeLine) {
  // A file whose name holds " <key of the memo> <other path>": its stat line
  // ends exactly as the other path's line would with the memo's key.
  fs::path a = dir_ / "a";
  Write(a, "alpha");
  std::string fake_key = "5:1.000000000:2.000000000:3";
  fs::path tricky =
      fs::path(dir_.string() + "/x " + fake_key + " " + a.string());
  fs::create_directories(tricky.parent_path());
  Write(tricky, "tricky");
  Sha256Memo memo = MemoWith({{a.string(), {fake_key, kShaA}}});
  std::vector<std::string> paths = {tricky.string(), a.string()};
  std::string out =
      RunSh(KeyedSha256ListingCommand(paths, memo.KnownKeys(paths)));
  std::string clock;
  auto listing = ParseSha256Listing(out, &clock);
  ASSERT_TRUE(listing) << listing.error().message;
  EXPECT_EQ(listing->at(a.string()).sha256, Sha256Hex("alpha"));
  auto files = memo.Absorb(paths, *listing, clock);
  EXPECT_EQ(files.at(a.string()).sha256, Sha256Hex("alpha"));
  EXPECT_EQ(files.at(tricky.string()).sha256, Sha256Hex("tricky"));
}

TEST_F(Sha256MemoTest, NothingToHashRunsNoHasher) {
  fs::path a = dir_ / "a";
  Write(a, "alpha");
  Sha256Memo memo = MemoWith({{a.string(), {StatKey(a), kShaA}}});
  std::vector<std::string> paths = {a.string()};
  // Hashers on the PATH that would leave a mark if they ran.
  fs::path bin = dir_ / "bin";
  fs::create_directories(bin);
  for (const char* hasher : {"sha256sum", "openssl"}) {
    Write(bin / hasher, "#!/bin/sh\ntouch " + (dir_ / "ran").string() +
                            "\nexec /usr/bin/" + hasher + " \"$@\"\n");
    fs::permissions(bin / hasher, fs::perms::owner_all);
  }
  std::string cmd = KeyedSha256ListingCommand(paths, memo.KnownKeys(paths));
  auto listing = ParseSha256Listing(
      RunSh("PATH=" + bin.string() + ":$PATH; export PATH\n" + cmd));
  ASSERT_TRUE(listing);
  EXPECT_EQ(listing->at(a.string()).sha256, "");
  EXPECT_FALSE(fs::exists(dir_ / "ran"));
  // Once the file changes, it is hashed (and the wrapper really is used).
  Write(a, "alphabet");
  cmd = KeyedSha256ListingCommand(paths, memo.KnownKeys(paths));
  listing = ParseSha256Listing(
      RunSh("PATH=" + bin.string() + ":$PATH; export PATH\n" + cmd));
  ASSERT_TRUE(listing);
  EXPECT_EQ(listing->at(a.string()).sha256, Sha256Hex("alphabet"));
  EXPECT_TRUE(fs::exists(dir_ / "ran"));
}

// A host without openssl hashes with sha256sum, to the same sums.
TEST_F(Sha256MemoTest, WithoutOpensslTheListingHashesWithSha256sum) {
  fs::path a = dir_ / "a b", c = dir_ / "c";
  Write(a, "alpha");
  Write(c, "gamma");
  std::vector<std::string> paths = {a.string(), c.string()};
  // A PATH of only what the listing may need, openssl left out.
  fs::path bin = dir_ / "bin";
  fs::create_directories(bin);
  for (const char* tool : {"date", "stat", "sha256sum"})
    fs::create_symlink(fs::path("/usr/bin") / tool, bin / tool);
  for (const std::string& cmd :
       {KeyedSha256ListingCommand(paths, {}), Sha256ListingCommand(paths)}) {
    std::string out = RunSh("PATH=" + bin.string() + "; export PATH\n" + cmd);
    EXPECT_NE(out.find("  " + a.string() + "\n"), std::string::npos) << out;
    auto listing = ParseSha256Listing(out);
    ASSERT_TRUE(listing) << out;
    EXPECT_EQ(listing->at(a.string()).sha256, Sha256Hex("alpha"));
    EXPECT_EQ(listing->at(c.string()).sha256, Sha256Hex("gamma"));
  }
  // With openssl, the same sums (its "*" marks binary reads).
  std::string out = RunSh(KeyedSha256ListingCommand(paths, {}));
  EXPECT_NE(out.find(" *" + a.string() + "\n"), std::string::npos) << out;
  auto listing = ParseSha256Listing(out);
  ASSERT_TRUE(listing) << out;
  EXPECT_EQ(listing->at(a.string()).sha256, Sha256Hex("alpha"));
}

TEST_F(Sha256MemoTest, RecordsOnlyFilesWhoseCtimeIsOlderThanTheRacyMargin) {
  const std::string key = "7:1000.000000000:1000.500000000:42";
  std::vector<std::string> paths = {"/f"};
  std::map<std::string, RemoteFileInfo> listing = {{"/f", Listed(key, kShaA)}};
  Sha256Memo memo;
  // 50 ms after the ctime: inside the default 100 ms margin.
  auto files = memo.Absorb(paths, listing, "1000.550000000");
  EXPECT_EQ(files.at("/f").sha256, kShaA);  // reported all the same
  EXPECT_FALSE(memo.Find("/f"));
  // Exactly 100 ms after: recorded.
  memo.Absorb(paths, listing, "1000.600000000");
  ASSERT_TRUE(memo.Find("/f"));
  EXPECT_EQ(memo.Find("/f")->key, key);
  EXPECT_EQ(memo.Find("/f")->sha256, kShaA);
  // A racy hash of a changed file drops the old entry.
  std::map<std::string, RemoteFileInfo> changed = {
      {"/f", Listed("7:1001.0:1001.000000000:42", kShaB)}};
  memo.Absorb(paths, changed, "1001.010000000");
  EXPECT_FALSE(memo.Find("/f"));
  // No usable clock: nothing recorded.
  memo.Absorb(paths, listing, "");
  memo.Absorb(paths, listing, "1795700692.%N");
  EXPECT_FALSE(memo.Find("/f"));
  // A huge margin records nothing; margin 0 records a file changed at the
  // very moment of the listing.
  memo.set_racy_margin(std::chrono::hours(24 * 365 * 100));
  memo.Absorb(paths, listing, "99999999.0");
  EXPECT_FALSE(memo.Find("/f"));
  memo.set_racy_margin(std::chrono::nanoseconds(0));
  memo.Absorb(paths, listing, "1000.500000000");
  EXPECT_TRUE(memo.Find("/f"));
}

TEST_F(Sha256MemoTest, KeyMismatchWithoutHashIsAbsentAndDropped) {
  const std::string key = "7:1000.000000000:1000.000000000:42";
  Sha256Memo memo = MemoWith({{"/f", {key, kShaA}}});
  std::vector<std::string> paths = {"/f"};
  // Listed with the memo's key: the memo's sha256.
  auto same = memo.Absorb(paths, {{"/f", Listed(key)}}, "2000.0");
  EXPECT_EQ(same.at("/f").sha256, kShaA);
  // Listed with another key and not hashed (sha256sum could not read it):
  // never the memo's sha256.
  auto other = memo.Absorb(
      paths, {{"/f", Listed("7:1000.000000000:1500.000000000:42")}}, "2000.0");
  EXPECT_TRUE(other.empty());
  EXPECT_FALSE(memo.Find("/f"));
}

TEST_F(Sha256MemoTest, SavesAtomicallyAndLoadsBack) {
  fs::path file = dir_ / "memo" / "sha256-node-0.json";
  Sha256Memo memo = Sha256Memo::Load(file, "node-0");
  EXPECT_EQ(memo.size(), 0u);
  ASSERT_TRUE(memo.Save());
  EXPECT_FALSE(fs::exists(file));  // nothing to save
  memo.set_racy_margin(std::chrono::nanoseconds(0));
  memo.Absorb({"/a", "/b"},
              {{"/a", Listed("1:2.000000000:3.000000000:4", kShaA)},
               {"/b", Listed("5:6.000000000:7.000000000:8", kShaB)}},
              "10.0");
  ASSERT_TRUE(memo.Save());
  ASSERT_TRUE(fs::exists(file));
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
  for (const auto& e : fs::directory_iterator(file.parent_path()))
    EXPECT_EQ(e.path(), file);  // no temporary file left

  Sha256Memo back = Sha256Memo::Load(file, "node-0");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back.Find("/a")->key, "1:2.000000000:3.000000000:4");
  EXPECT_EQ(back.Find("/b")->sha256, kShaB);
  EXPECT_TRUE(back.Forget("/a"));
  EXPECT_FALSE(back.Forget("/a"));
  ASSERT_TRUE(back.Save());
  EXPECT_EQ(Sha256Memo::Load(file, "node-0").size(), 1u);
  // Another host's file is not this host's memo.
  EXPECT_EQ(Sha256Memo::Load(file, "node-1").size(), 0u);
}

TEST_F(Sha256MemoTest, CorruptFileIsAnEmptyMemoAndIsRewritten) {
  fs::path file = dir_ / "sha256-node-0.json";
  for (std::string bad :
       {std::string("{\"version\":1,\"host\":\"node-0\",\"files\":{"),
        std::string(), std::string("[]"), std::string("{\"version\":\"1\"}"),
        std::string("\x01\x02garbage")}) {
    Write(file, bad);
    Sha256Memo memo = Sha256Memo::Load(file, "node-0");
    EXPECT_EQ(memo.size(), 0u) << bad;
    ASSERT_TRUE(memo.Save());
    EXPECT_EQ(Sha256Memo::Load(file, "node-0").size(), 0u);
    auto text = ReadFile(file);
    ASSERT_TRUE(text);
    EXPECT_NE(text->find("\"version\": 1"), std::string::npos) << *text;
  }
  // Malformed entries are left out, the rest kept.
  Write(
      file,
      "{\"version\":1,\"host\":\"node-0\",\"files\":{"
      "\"/ok\":{\"key\":\"1:2.0:3.0:4\",\"sha256\":\"" +
          kShaA +
          "\"},"
          "\"/bad-key\":{\"key\":\"1:2.0:3.0:4\\n' ; rm -rf /\",\"sha256\":\"" +
          kShaA +
          "\"},"
          "\"/bad-sha\":{\"key\":\"1:2.0:3.0:4\",\"sha256\":\"xyz\"},"
          "\"/not-object\":3}}");
  Sha256Memo memo = Sha256Memo::Load(file, "node-0");
  EXPECT_EQ(memo.size(), 1u);
  EXPECT_TRUE(memo.Find("/ok"));
  // Unreadable (a folder): empty as well.
  EXPECT_EQ(Sha256Memo::Load(dir_, "node-0").size(), 0u);
}

TEST(Sha256MemoFile, OneFilePerHostInTheStateDir) {
  EXPECT_EQ(Sha256MemoFile("/s", "cp-0.example"),
            fs::path("/s/memo/sha256-cp-0.example.json"));
  EXPECT_EQ(Sha256MemoFile("/s", "a/b c%"),
            fs::path("/s/memo/sha256-a%2Fb%20c%25.json"));
}

TEST(ParseEpochNanos, ClockAndCtime) {
  EXPECT_EQ(ParseEpochNanos("1795700692.826535389"), 1795700692826535389);
  EXPECT_EQ(ParseEpochNanos("12.5"), 12'500'000'000);
  EXPECT_EQ(ParseEpochNanos("12"), 12'000'000'000);
  EXPECT_FALSE(ParseEpochNanos(""));
  EXPECT_FALSE(ParseEpochNanos("-1.000000000"));
  EXPECT_FALSE(ParseEpochNanos("1795700692.%N"));
  EXPECT_FALSE(ParseEpochNanos("1.0000000001"));
  EXPECT_FALSE(ParseEpochNanos("12345678901.0"));
  EXPECT_EQ(ParseEpochNanos("9223372035.999999999"), 9223372035999999999);
  EXPECT_FALSE(ParseEpochNanos("9999999999.0"));
}

}  // namespace
}  // namespace hardway
