// ServeStaticAsset (services/http/static_assets.h): which requests it
// answers, its headers, gzip negotiation and conditional requests. The
// dashboard's real files over a real vlad: web/test/dashboard.test.mjs.
#include "services/http/static_assets.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <string>

namespace vla::http {
namespace {

constexpr StaticAsset kAssets[] = {
    {"/", "text/html; charset=utf-8", "<p>hi</p>", "GZ-HTML", "W/\"h1\"",
     false},
    {"/assets/app-X1.js", "text/javascript; charset=utf-8", "let a=1;", "GZ-JS",
     "W/\"j1\"", true},
    {"/plain.txt", "text/plain; charset=utf-8", "plain", "", "W/\"p1\"", false},
};

httplib::Request Get(const std::string& path,
                     const httplib::Headers& headers = {}) {
  httplib::Request req;
  req.method = "GET";
  req.path = path;
  req.headers = headers;
  return req;
}

// The bytes the response would send.
std::string Body(httplib::Response& res) {
  if (!res.content_provider_) return res.body;
  std::string out;
  httplib::DataSink sink;
  sink.write = [&](const char* data, size_t n) {
    out.append(data, n);
    return true;
  };
  EXPECT_TRUE(res.content_provider_(0, res.content_length_, sink));
  return out;
}

TEST(StaticAssetsTest, ServesTheFileWithItsTypeAndCaching) {
  httplib::Response res;
  ASSERT_TRUE(ServeStaticAsset(kAssets, Get("/assets/app-X1.js"), res));
  EXPECT_EQ(res.status, 200);
  EXPECT_EQ(res.get_header_value("Content-Type"),
            "text/javascript; charset=utf-8");
  EXPECT_EQ(res.get_header_value("Cache-Control"),
            "public, max-age=31536000, immutable");
  EXPECT_EQ(res.get_header_value("ETag"), "W/\"j1\"");
  EXPECT_EQ(res.get_header_value("Vary"), "Accept-Encoding");
  EXPECT_EQ(res.get_header_value("X-Content-Type-Options"), "nosniff");
  EXPECT_FALSE(res.has_header("Content-Encoding"));
  EXPECT_FALSE(res.has_header("Content-Security-Policy"));  // HTML only
  EXPECT_EQ(Body(res), "let a=1;");
}

TEST(StaticAssetsTest, TheIndexIsRevalidatedAndCarriesThePolicy) {
  httplib::Response res;
  ASSERT_TRUE(ServeStaticAsset(kAssets, Get("/"), res));
  EXPECT_EQ(res.get_header_value("Cache-Control"), "no-cache");
  EXPECT_NE(res.get_header_value("Content-Security-Policy")
                .find("default-src 'self'"),
            std::string::npos);
  EXPECT_EQ(res.get_header_value("Referrer-Policy"), "no-referrer");
  EXPECT_EQ(Body(res), "<p>hi</p>");
}

TEST(StaticAssetsTest, GzipWhenAccepted) {
  for (const char* accepted :
       {"gzip", "br, gzip", "deflate, gzip;q=0.5", "GZIP", "x-gzip", "*"}) {
    httplib::Response res;
    ASSERT_TRUE(ServeStaticAsset(
        kAssets, Get("/", {{"Accept-Encoding", accepted}}), res));
    EXPECT_EQ(res.get_header_value("Content-Encoding"), "gzip") << accepted;
    EXPECT_EQ(Body(res), "GZ-HTML") << accepted;
  }
  for (const char* refused : {"", "br", "gzip;q=0", "identity", "*;q=0"}) {
    httplib::Response res;
    ASSERT_TRUE(ServeStaticAsset(
        kAssets, Get("/", {{"Accept-Encoding", refused}}), res));
    EXPECT_FALSE(res.has_header("Content-Encoding")) << refused;
    EXPECT_EQ(Body(res), "<p>hi</p>") << refused;
  }
  // A file stored without a compressed copy is sent as is.
  httplib::Response res;
  ASSERT_TRUE(ServeStaticAsset(
      kAssets, Get("/plain.txt", {{"Accept-Encoding", "gzip"}}), res));
  EXPECT_FALSE(res.has_header("Content-Encoding"));
  EXPECT_FALSE(res.has_header("Vary"));
  EXPECT_EQ(Body(res), "plain");
}

TEST(StaticAssetsTest, NotModifiedForItsEtag) {
  for (const char* tag : {"W/\"h1\"", "\"h1\"", "\"x\", W/\"h1\"", "*"}) {
    httplib::Response res;
    ASSERT_TRUE(
        ServeStaticAsset(kAssets, Get("/", {{"If-None-Match", tag}}), res));
    EXPECT_EQ(res.status, 304) << tag;
    EXPECT_EQ(Body(res), "") << tag;
    EXPECT_EQ(res.get_header_value("ETag"), "W/\"h1\"");
  }
  httplib::Response res;
  ASSERT_TRUE(
      ServeStaticAsset(kAssets, Get("/", {{"If-None-Match", "\"old\""}}), res));
  EXPECT_EQ(res.status, 200);
}

TEST(StaticAssetsTest, OtherPathsAndMethodsAreLeftToTheCaller) {
  for (const char* path :
       {"/v1/vlas", "/index.html", "/assets/", "/assets/app-X2.js", ""}) {
    httplib::Response res;
    EXPECT_FALSE(ServeStaticAsset(kAssets, Get(path), res)) << path;
    EXPECT_FALSE(res.has_header("ETag"));
  }
  httplib::Request post = Get("/");
  post.method = "POST";
  httplib::Response res;
  EXPECT_FALSE(ServeStaticAsset(kAssets, post, res));
  httplib::Request head = Get("/");
  head.method = "HEAD";
  EXPECT_TRUE(ServeStaticAsset(kAssets, head, res));
  EXPECT_EQ(res.status, 200);
  // No files at all: nothing is served.
  EXPECT_FALSE(ServeStaticAsset({}, Get("/"), res));
}

}  // namespace
}  // namespace vla::http
