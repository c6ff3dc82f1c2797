#include "api/long_poll.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace pgdc::api {
namespace {

using namespace std::chrono_literals;

struct Counter {
  std::atomic<int> answered{0};
  std::atomic<int> last_status{0};
};

std::shared_ptr<PollWaiter> waiter(const std::string& node, std::chrono::milliseconds wait,
                                   Counter& c) {
  auto w = std::make_shared<PollWaiter>();
  w->deployment = "prod";
  w->node_id = node;
  w->deadline = std::chrono::steady_clock::now() + wait;
  w->respond = [&c](HttpResponse r) {
    c.last_status = r.status;
    ++c.answered;
  };
  return w;
}

HttpResponse status(int s) {
  HttpResponse r;
  r.status = s;
  return r;
}

TEST(LongPollHub, TakeRemovesOnlyThoseNodes) {
  Counter c;
  LongPollHub hub(
      4, [](const PollWaiter&) { return status(200); },
      [](const PollWaiter&) { return status(503); });
  hub.start();
  ASSERT_TRUE(hub.park(waiter("a", 60s, c)));
  ASSERT_TRUE(hub.park(waiter("b", 60s, c)));
  auto taken = hub.take("prod", {"a", "zz"});
  ASSERT_EQ(taken.size(), 1u);
  EXPECT_EQ(taken[0]->node_id, "a");
  EXPECT_EQ(hub.parked(), 1u);
  EXPECT_TRUE(hub.take("staging", {"b"}).empty());
  hub.stop();
  EXPECT_EQ(c.answered, 1);  // b, by stop
  EXPECT_EQ(c.last_status, 503);
  EXPECT_FALSE(hub.park(waiter("c", 60s, c)));
}

TEST(LongPollHub, DeadlineAnswersOnceEvenIfTakenAndReparked) {
  Counter c;
  LongPollHub hub(
      4, [](const PollWaiter&) { return status(200); },
      [](const PollWaiter&) { return status(503); });
  hub.start();
  auto w = waiter("a", 100ms, c);
  ASSERT_TRUE(hub.park(w));
  auto taken = hub.take("prod", {"a"});
  ASSERT_EQ(taken.size(), 1u);
  ASSERT_TRUE(hub.park(taken[0]));  // nothing to deliver: parked again, same deadline
  for (int i = 0; i < 2000 && c.answered == 0; ++i) std::this_thread::sleep_for(5ms);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(c.answered, 1);
  EXPECT_EQ(c.last_status, 200);
  EXPECT_EQ(hub.parked(), 0u);
}

TEST(LongPollHub, PerNodeCapAnswersTheOldest) {
  Counter c;
  LongPollHub hub(
      2, [](const PollWaiter&) { return status(200); },
      [](const PollWaiter&) { return status(503); });
  hub.park(waiter("a", 60s, c));
  hub.park(waiter("a", 60s, c));
  hub.park(waiter("a", 60s, c));
  EXPECT_EQ(c.answered, 1);
  EXPECT_EQ(hub.parked(), 2u);
  EXPECT_EQ(hub.take_all().size(), 2u);
}

}  // namespace
}  // namespace pgdc::api
