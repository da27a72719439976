#include "proxy/admin/routes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <mutex>
#include <string>

#include "tests/unit/admin/test_maps.h"

namespace slotproxy::admin {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

void setMap(server::Stats& stats, cluster::SlotMapPtr map) {
  std::lock_guard<std::mutex> lock(stats.mu);
  stats.map = std::move(map);
}

HttpRequest get(std::string path, std::string method = "GET") {
  HttpRequest r;
  r.method = std::move(method);
  r.target = path;
  r.path = std::move(path);
  return r;
}

TEST(Readiness, NoMapIsNotReady) {
  const Readiness r = checkReadiness(nullptr);
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason, "no topology yet");
}

TEST(Readiness, EverySlotOwnedByALiveNodeIsReady) {
  const auto map = testing::threeShards();
  const Readiness r = checkReadiness(map.get());
  EXPECT_TRUE(r.ready);
  EXPECT_EQ(r.reason, "ready");
}

TEST(Readiness, FailedPrimaryNamesCountAndFirstSlot) {
  const auto map = testing::threeShards(/*failed_b=*/true);
  const Readiness r = checkReadiness(map.get());
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason, "5462 slots without a live primary (first: 5461): owner marked failed");
}

TEST(Readiness, UnassignedSlotsAreNotReady) {
  const auto map = testing::threeShards(/*failed_b=*/false, /*unassigned_last=*/true);
  const Readiness r = checkReadiness(map.get());
  EXPECT_FALSE(r.ready);
  EXPECT_EQ(r.reason, "4 slots without a live primary (first: 16380): unassigned");
}

TEST(Readiness, BothCausesAreCounted) {
  const auto map = testing::threeShards(/*failed_b=*/true, /*unassigned_last=*/true);
  EXPECT_EQ(checkReadiness(map.get()).reason,
            "5466 slots without a live primary (first: 5461): 5462 on failed nodes, 4 "
            "unassigned");
}

TEST(Readiness, ASingleSlotIsSingular) {
  cluster::SlotMapBuilder b;
  b.addNode(testing::node("a", "10.0.0.1", 6379));
  b.assign(0, 16382, 0);
  std::string error;
  const auto map = b.build(1, &error);
  ASSERT_NE(map, nullptr) << error;
  EXPECT_EQ(checkReadiness(map.get()).reason,
            "1 slot without a live primary (first: 16383): unassigned");
}

TEST(Route, ReadyzIs503WithReasonThen200) {
  server::Stats stats;
  HttpResponse r = route(get("/readyz"), stats);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "no topology yet\n");
  setMap(stats, testing::threeShards(/*failed_b=*/true));
  r = route(get("/readyz"), stats);
  EXPECT_EQ(r.status, 503);
  EXPECT_THAT(r.body, StartsWith("5462 slots without a live primary (first: 5461)"));
  setMap(stats, testing::threeShards());
  r = route(get("/readyz"), stats);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ready\n");
}

TEST(Route, HealthzMetricsAndContentTypes) {
  server::Stats stats;
  HttpResponse r = route(get("/healthz"), stats);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "ok\n");
  r = route(get("/metrics"), stats);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_THAT(r.body, HasSubstr("slotproxy_slots{state=\"unassigned\"} 16384"));
  HttpRequest with_query = get("/metrics");
  with_query.target = "/metrics?name[]=x";
  EXPECT_EQ(route(with_query, stats).status, 200);
  r = route(get("/topology"), stats);
  EXPECT_EQ(r.content_type, "application/json");
  r = route(get("/"), stats);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
}

TEST(Route, UnknownPathIs404AndOtherMethodsAre405) {
  server::Stats stats;
  EXPECT_EQ(route(get("/nope"), stats).status, 404);
  EXPECT_EQ(route(get("/metrics/"), stats).status, 404);
  const HttpResponse r = route(get("/metrics", "POST"), stats);
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Allow");
  EXPECT_EQ(r.headers[0].second, "GET");
  EXPECT_EQ(route(get("/healthz", "HEAD"), stats).status, 405);
}

TEST(Route, PostRefreshAsksTheWorkersForARefresh) {
  server::Stats stats;
  EXPECT_EQ(route(get("/refresh", "POST"), stats).status, 202);
  EXPECT_EQ(stats.refresh_requests.load(), 1u);
  const HttpResponse r = route(get("/refresh"), stats);
  EXPECT_EQ(r.status, 405);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].second, "POST");
  EXPECT_EQ(stats.refresh_requests.load(), 1u);
}

TEST(Route, ReadyzIs503WhileDraining) {
  server::Stats stats;
  setMap(stats, testing::threeShards(/*failed_b=*/false));
  EXPECT_EQ(route(get("/readyz"), stats).status, 200);
  stats.draining.store(true);
  const HttpResponse r = route(get("/readyz"), stats);
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.body, "draining: SIGTERM received\n");
}

TEST(TopologyJson, ListsNodesRangesVersionAndRefresh) {
  server::Stats stats;
  setMap(stats, testing::threeShards(/*failed_b=*/true));
  {
    std::lock_guard<std::mutex> lock(stats.mu);
    stats.last_trigger = "moved";
    stats.last_refresh_unix_ms = 1700000000123;
    stats.last_refresh_error = "seed 10.0.0.9:6379: \"timeout\"";
  }
  const std::string j = topologyJson(stats);
  EXPECT_THAT(j, HasSubstr("\"version\": 7,"));
  EXPECT_THAT(j, HasSubstr("\"ready\": false,"));
  EXPECT_THAT(j, HasSubstr("\"last_refresh\": {\"unix_ms\": 1700000000123, \"time\": "
                           "\"2023-11-14T22:13:20.123Z\", \"trigger\": \"moved\", \"error\": "
                           "\"seed 10.0.0.9:6379: \\\"timeout\\\"\"}"));
  EXPECT_THAT(j, HasSubstr("{\"id\": \"aaaa\", \"address\": \"10.0.0.1:6379\", \"hostname\": "
                           "\"\", \"role\": \"primary\", \"primary\": \"\", \"health\": "
                           "\"online\", \"slot_count\": 5461, \"slots\": [[0, 5460]]}"));
  EXPECT_THAT(j, HasSubstr("{\"id\": \"bbbb\", \"address\": \"10.0.0.2:6379\", \"hostname\": "
                           "\"\", \"role\": \"primary\", \"primary\": \"\", \"health\": "
                           "\"failed\", \"slot_count\": 5462, \"slots\": [[5461, 10922]]}"));
  EXPECT_THAT(j, HasSubstr("{\"id\": \"aaaa-r\", \"address\": \"10.0.0.4:6379\", \"hostname\": "
                           "\"redis-3.redis.svc\", \"role\": \"replica\", \"primary\": "
                           "\"aaaa\", \"health\": \"online\", \"slot_count\": 0, \"slots\": []}"));
  EXPECT_THAT(j, HasSubstr("{\"first\": 10923, \"last\": 16383, \"node\": \"cccc\", "
                           "\"address\": \"10.0.0.3:6379\", \"health\": \"online\"}"));
  EXPECT_THAT(j, HasSubstr("\"slots\": {\"ok\": 10922, \"no_primary\": 5462, \"migrating\": 0, "
                           "\"importing\": 0, \"unassigned\": 0}"));
}

TEST(TopologyJson, NoMapYet) {
  server::Stats stats;
  const std::string j = topologyJson(stats);
  EXPECT_THAT(j, HasSubstr("\"version\": null,"));
  EXPECT_THAT(j, HasSubstr("\"nodes\": [],"));
  EXPECT_THAT(j, HasSubstr("\"slot_ranges\": []"));
  EXPECT_THAT(j, HasSubstr("\"readiness\": \"no topology yet\""));
}

TEST(JsonEscape, QuotesBackslashesAndControlCharacters) {
  EXPECT_EQ(jsonEscape("plain"), "plain");
  EXPECT_EQ(jsonEscape("a\"b\\c"), "a\\\"b\\\\c");
  EXPECT_EQ(jsonEscape("l1\nl2\r\t"), "l1\\nl2\\r\\t");
  EXPECT_EQ(jsonEscape(std::string_view("\x01\x1f", 2)), "\\u0001\\u001f");
  EXPECT_EQ(jsonEscape(std::string_view("\0", 1)), "\\u0000");
  EXPECT_EQ(jsonEscape("caf\xc3\xa9 /"), "caf\xc3\xa9 /");  // UTF-8 and '/' pass through
}

TEST(HtmlEscape, MarkupCharacters) {
  EXPECT_EQ(htmlEscape("<a href=\"x\">&'"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;");
}

TEST(StatusPage, SelfContainedAutoRefreshingWithStripAndNodes) {
  server::Stats stats;
  cluster::SlotMapBuilder b;
  cluster::NodeInfo evil = testing::node("<script>", "10.0.0.1", 6379);
  evil.hostname = "<b>host</b>";
  b.addNode(evil);
  b.addNode(testing::node("bbbb", "10.0.0.2", 6379, cluster::Role::kPrimary, "",
                          cluster::Health::kFailed));
  b.assign(0, 8191, 0);
  b.assign(8192, 16000, 1);
  std::string error;
  setMap(stats, b.build(3, &error));
  stats.failovers = 4;
  stats.requests_held = 17;
  const std::string h = statusPage(stats);
  EXPECT_THAT(h, StartsWith("<!DOCTYPE html>"));
  EXPECT_THAT(h, HasSubstr("<meta http-equiv=\"refresh\" content=\"2\">"));
  EXPECT_THAT(h, Not(HasSubstr("<script")));  // names are escaped; no scripts at all
  EXPECT_THAT(h, HasSubstr("&lt;script&gt;"));
  EXPECT_THAT(h, HasSubstr("&lt;b&gt;host&lt;/b&gt;"));
  EXPECT_THAT(h, Not(HasSubstr("http://")));  // no external assets
  EXPECT_THAT(h, Not(HasSubstr("https://")));
  // Three segments: node 0, node 1 (failed), unassigned.
  EXPECT_THAT(h, HasSubstr("flex-grow:8192;"));
  EXPECT_THAT(h, HasSubstr("title=\"slots 8192-16000: 10.0.0.2:6379 failed\""));
  EXPECT_THAT(h, HasSubstr("title=\"slots 16001-16383: unassigned\""));
  EXPECT_THAT(h, HasSubstr("not ready"));
  EXPECT_THAT(h, HasSubstr("<tr><th>failovers</th><td class=\"num\">4</td></tr>"));
  EXPECT_THAT(h, HasSubstr("<tr><th>requests held (waiting for a primary)</th><td "
                           "class=\"num\">17</td></tr>"));
  EXPECT_THAT(h, HasSubstr("<p>none since start</p>"));
}

TEST(StatusPage, ListsRecentFailoversNewestFirst) {
  server::Stats stats;
  stats.recent_failovers.push_back({1000, "aaaaaaaa (10.0.0.1:6379)", 4200});
  stats.recent_failovers.push_back({2000, "bbbbbbbb (<10.0.0.2>:6379)", 3100});
  const std::string h = statusPage(stats);
  const size_t newer = h.find("bbbbbbbb (&lt;10.0.0.2&gt;:6379)");
  const size_t older = h.find("aaaaaaaa (10.0.0.1:6379)");
  ASSERT_NE(newer, std::string::npos);
  ASSERT_NE(older, std::string::npos);
  EXPECT_LT(newer, older);
  EXPECT_THAT(h, HasSubstr("<td class=\"num\">4200 ms</td>"));
  EXPECT_THAT(h, Not(HasSubstr("none since start")));
}

}  // namespace
}  // namespace slotproxy::admin
