// Downloads against mirror_server.py on 127.0.0.1: success, checksum
// mismatch, 500 then success with growing delays, a cut connection resumed
// with a Range request, 404 failing at once.
#include "fetch/download.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fetch_test_util.h"

namespace hardway {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace fetch_test;

class DownloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = tmp_.path() / "www";
    log_ = tmp_.path() / "requests.log";
    content_ = FakeElf("amd64", "payload");
    sha_ = Sha256Hex(content_);
    Put(root_ / "files/kubelet", content_);
    Put(root_ / "files/kubelet.sha256", sha_ + "\n");
    options_.retry_delay = std::chrono::milliseconds(10);
    options_.attempts = 4;
  }
  void Start(std::vector<std::string> extra = {}) {
    server_ = std::make_unique<MirrorServer>(root_, log_, std::move(extra));
    ASSERT_GT(server_->port(), 0) << "mirror_server.py did not start";
  }
  std::string Url(const std::string& path) const {
    return server_->url() + path;
  }
  fs::path Dest() const { return tmp_.path() / "cache/kubelet"; }

  TempDir tmp_;
  fs::path root_, log_;
  std::string content_, sha_;
  DownloadOptions options_;
  std::unique_ptr<MirrorServer> server_;
};

TEST_F(DownloadTest, DownloadsAndVerifies) {
  Start();
  Downloader dl(options_);
  auto stats = dl.FetchFile(Url("/files/kubelet"), Dest(), sha_, "published");
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(*ReadFile(Dest()), content_);
  EXPECT_FALSE(fs::exists(Dest().string() + ".part"));
  EXPECT_EQ(stats->size, content_.size());
  EXPECT_EQ(stats->requests, 1);
  EXPECT_FALSE(stats->resumed);
  EXPECT_EQ(ReadLog(log_),
            std::vector<std::string>{"GET /files/kubelet range=-"});
}

TEST_F(DownloadTest, PublishedChecksumText) {
  Start();
  Downloader dl(options_);
  auto text = dl.FetchText(Url("/files/kubelet.sha256"));
  ASSERT_TRUE(text) << text.error().ToString();
  EXPECT_EQ(ParseChecksumFile(*text), sha_);
}

TEST_F(DownloadTest, MismatchDeletesTheDownloadAndNamesBothSums) {
  Start();
  Downloader dl(options_);
  const std::string wrong(64, 'e');
  auto stats = dl.FetchFile(Url("/files/kubelet"), Dest(), wrong,
                            "published at X.sha256");
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().kind, ErrorKind::kValidation);
  EXPECT_THAT(stats.error().message, HasSubstr(sha_));
  EXPECT_THAT(stats.error().message, HasSubstr(wrong));
  EXPECT_THAT(stats.error().message, HasSubstr("published at X.sha256"));
  EXPECT_EQ(stats.error().where, Url("/files/kubelet"));
  EXPECT_FALSE(fs::exists(Dest()));
  EXPECT_FALSE(fs::exists(Dest().string() + ".part"));
}

TEST_F(DownloadTest, ServerErrorsAreRetried) {
  Start({"--fail", "/files/kubelet:2"});
  Downloader dl(options_);
  auto stats = dl.FetchFile(Url("/files/kubelet"), Dest(), sha_, "published");
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->requests, 3);
  EXPECT_EQ(*ReadFile(Dest()), content_);  // the error pages were not kept
  EXPECT_EQ(ReadLog(log_).size(), 3u);
}

TEST_F(DownloadTest, ServerErrorsGiveUpAfterTheLastAttempt) {
  Start({"--fail", "/files/kubelet:10"});
  Downloader dl(options_);
  auto stats = dl.FetchFile(Url("/files/kubelet"), Dest(), sha_, "published");
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().kind, ErrorKind::kConnection);
  EXPECT_THAT(stats.error().message, HasSubstr("HTTP 500"));
  EXPECT_THAT(stats.error().message, HasSubstr("after 4 attempts"));
  EXPECT_EQ(ReadLog(log_).size(), 4u);
  EXPECT_FALSE(fs::exists(Dest()));
}

// The arrival times (" t=<seconds>") of the server's log lines, with --times.
std::vector<double> ArrivalTimes(const fs::path& log) {
  std::vector<double> times;
  for (const std::string& line : ReadLog(log)) {
    size_t at = line.rfind(" t=");
    if (at != std::string::npos)
      times.push_back(std::stod(line.substr(at + 3)));
  }
  return times;
}

// Back-off grows, as seen by the server: each gap between two attempts is at
// least the delay of that retry (a sleep never ends early: a deterministic
// bound), and the gaps grow. The delay is the test's, so it stays short.
TEST_F(DownloadTest, RetryDelaysDoubleBetweenAttempts) {
  Start({"--fail", "/files/kubelet:3", "--times"});
  options_.retry_delay = std::chrono::milliseconds(150);
  options_.attempts = 4;
  Downloader dl(options_);
  auto stats = dl.FetchFile(Url("/files/kubelet"), Dest(), sha_, "published");
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(stats->requests, 4);
  std::vector<double> t = ArrivalTimes(log_);
  ASSERT_EQ(t.size(), 4u);
  const double gap1 = t[1] - t[0], gap2 = t[2] - t[1], gap3 = t[3] - t[2];
  EXPECT_GE(gap1, 0.150);
  EXPECT_GE(gap2, 0.300);
  EXPECT_GE(gap3, 0.600);
  // 150, 300, 600 ms plus a request each (about 4x); a constant delay would
  // give a ratio near 1. The margin absorbs a slow first request.
  EXPECT_GT(gap3, 1.5 * gap1) << gap1 << " " << gap2 << " " << gap3;

  // The published checksum's retries back off the same way.
  fs::remove(log_);
  Start({"--fail", "/files/kubelet.sha256:2", "--times"});
  Downloader text_dl(options_);
  auto text = text_dl.FetchText(Url("/files/kubelet.sha256"));
  ASSERT_TRUE(text) << text.error().ToString();
  t = ArrivalTimes(log_);
  ASSERT_EQ(t.size(), 3u);
  EXPECT_GE(t[1] - t[0], 0.150);
  EXPECT_GE(t[2] - t[1], 0.300);
}

TEST_F(DownloadTest, InterruptedDownloadIsResumedWithARange) {
  Start({"--cut", "/files/kubelet"});
  Downloader dl(options_);
  auto stats = dl.FetchFile(Url("/files/kubelet"), Dest(), sha_, "published");
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_TRUE(stats->resumed);
  EXPECT_EQ(stats->requests, 2);
  EXPECT_EQ(*ReadFile(Dest()), content_);
  auto log = ReadLog(log_);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0], "GET /files/kubelet range=-");
  // The second request asks for the rest only.
  EXPECT_EQ(log[1], "GET /files/kubelet range=bytes=" +
                        std::to_string(content_.size() / 2) + "-");
  EXPECT_LT(stats->received, content_.size() + content_.size() / 2 + 1);
}

TEST_F(DownloadTest, PartFromAnEarlierRunIsContinued) {
  Start();
  Put(Dest().string() + ".part", content_.substr(0, 1000));
  Downloader dl(options_);
  auto stats = dl.FetchFile(Url("/files/kubelet"), Dest(), sha_, "published");
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_TRUE(stats->resumed);
  EXPECT_EQ(stats->received, content_.size() - 1000);
  EXPECT_EQ(*ReadFile(Dest()), content_);
  EXPECT_EQ(ReadLog(log_),
            std::vector<std::string>{"GET /files/kubelet range=bytes=1000-"});
}

TEST_F(DownloadTest, CorruptPartIsFetchedAgainFromTheStart) {
  Start();
  Put(Dest().string() + ".part",
      std::string(1000, 'x'));  // not the file's first bytes
  Downloader dl(options_);
  auto stats = dl.FetchFile(Url("/files/kubelet"), Dest(), sha_, "published");
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(*ReadFile(Dest()), content_);
  auto log = ReadLog(log_);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[1], "GET /files/kubelet range=-");
}

TEST_F(DownloadTest, CompletePartLeftBehindIsUsed) {
  Start();
  Put(Dest().string() + ".part", content_);  // a run stopped before the rename
  Downloader dl(options_);
  auto stats = dl.FetchFile(Url("/files/kubelet"), Dest(), sha_, "published");
  ASSERT_TRUE(stats) << stats.error().ToString();  // 416, then the sum matches
  EXPECT_EQ(*ReadFile(Dest()), content_);
  EXPECT_EQ(ReadLog(log_).size(), 1u);
}

TEST_F(DownloadTest, NotFoundFailsAtOnceNamingUrlAndStatus) {
  Start();
  Downloader dl(options_);
  auto stats =
      dl.FetchFile(Url("/files/kubelet-v9"), Dest(), sha_, "published");
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().kind, ErrorKind::kConnection);
  EXPECT_THAT(stats.error().message, HasSubstr("HTTP 404 Not Found"));
  EXPECT_EQ(stats.error().where, Url("/files/kubelet-v9"));
  EXPECT_EQ(ReadLog(log_).size(), 1u);  // no retries
  EXPECT_FALSE(fs::exists(Dest().string() + ".part"));
  auto text = dl.FetchText(Url("/nope.sha256"));
  ASSERT_FALSE(text);
  EXPECT_THAT(text.error().message, HasSubstr("HTTP 404"));
}

TEST_F(DownloadTest, ConnectionRefusedIsRetriedThenReported) {
  Start();
  const std::string url = Url("/files/kubelet");
  server_.reset();  // nothing listens on the port any more
  options_.attempts = 2;
  Downloader dl(options_);
  auto stats = dl.FetchFile(url, Dest(), sha_, "published");
  ASSERT_FALSE(stats);
  EXPECT_EQ(stats.error().kind, ErrorKind::kConnection);
  EXPECT_THAT(stats.error().message, HasSubstr("after 2 attempts"));
  EXPECT_EQ(stats.error().where, url);
}

TEST_F(DownloadTest, FileUrls) {
  Downloader dl(options_);
  auto stats = dl.FetchFile("file://" + (root_ / "files/kubelet").string(),
                            Dest(), sha_, "p");
  ASSERT_TRUE(stats) << stats.error().ToString();
  EXPECT_EQ(*ReadFile(Dest()), content_);
}

TEST(ChecksumParsingTest, FileAndList) {
  const std::string a(64, 'a'), b(64, 'B');
  EXPECT_EQ(ParseChecksumFile(a), a);
  EXPECT_EQ(ParseChecksumFile(a + "  kubelet\n"), a);
  EXPECT_EQ(ParseChecksumFile(b), std::string(64, 'b'));
  EXPECT_EQ(ParseChecksumFile("<html>not found</html>"), "");
  const std::string list =
      a + "  runc.amd64\n" + b + " *runc.arm64\n" + a + "  ./dir/x.tgz\n";
  EXPECT_EQ(ParseChecksumList(list, "runc.arm64"), std::string(64, 'b'));
  EXPECT_EQ(ParseChecksumList(list, "runc.amd64"), a);
  EXPECT_EQ(ParseChecksumList(list, "x.tgz"), a);
  EXPECT_EQ(ParseChecksumList(list, "runc.386"), "");
}

}  // namespace
}  // namespace hardway
