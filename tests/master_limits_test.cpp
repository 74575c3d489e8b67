// forkpool-master under exhaustion and misbehaving clients: out of descriptors, a client that
// sends part of a message and stalls, a user who opens too many connections. Through the real
// binary.
#include <doctest/doctest.h>

#include <forkpool/forkpool.hpp>
#include <memory>

#include "master_process.hpp"

using namespace forkpool;

TEST_SUITE_BEGIN("master");

TEST_CASE("master: out of descriptors it keeps accepting and serves again once they are free" *
          doctest::timeout(90)) {
  master_process master({}, {.descriptor_limit = 64, .capture_log = true});
  REQUIRE(can_connect(master.socket));
  // Its workers started first: then accepting is all it does while descriptors are out (under
  // UndefinedBehaviorSanitizer, whose type checks need a free descriptor, any other work there
  // is reported as a bad object and ends the master).
  REQUIRE(eventually([&] { return client(master.socket).stats().workers_alive == 2; }));
  {
    // Far more than its 64 descriptors: the rest wait in the listen queue.
    std::vector<std::unique_ptr<raw_connection>> idle;
    for (int i = 0; i < 100; ++i) idle.push_back(std::make_unique<raw_connection>(master.socket));
    CHECK(eventually(
        [&] { return master.log().find("cannot accept connections") != std::string::npos; }));
  }  // all closed
  client c(master.socket);
  CHECK(c.submit<int>("square", 7).get(std::chrono::seconds(30)) == 49);
  auto [status, output] =
      run(std::string(FORKPOOL_MASTER_BINARY) + " status --socket " + master.socket);
  CHECK(status == 0);
  CHECK(output.find("workers:") != std::string::npos);
  const std::string log = master.log();
  CHECK(log.find("accepting connections again") != std::string::npos);
  // Said once per episode, not once per failed accept.
  std::size_t said = 0;
  for (std::size_t at = 0; (at = log.find("cannot accept", at)) != std::string::npos; ++at) ++said;
  CHECK(said == 1);
}

TEST_CASE("master: a connection that stalls inside a message is closed and an idle one is kept" *
          doctest::timeout(60)) {
  master_process master({"--message-timeout", "300ms"}, {.capture_log = true});
  raw_connection idle(master.socket);
  raw_connection stalled(master.socket);
  const std::uint8_t partial[2] = {100, 0};  // half of a length prefix, then nothing
  stalled.send(partial, sizeof partial);
  CHECK(stalled.closed_by_master(20000));
  CHECK(master.log().find("did not finish it within 300 ms") != std::string::npos);
  // The idle connection has waited longer than the timeout too, and is still open.
  pollfd p{idle.fd, POLLIN, 0};
  CHECK(::poll(&p, 1, 0) == 0);
  client c(master.socket);
  CHECK(c.submit<int>("square", 6).get() == 36);
}

TEST_CASE("master: one user's connections are bounded and a refused client is told why" *
          doctest::timeout(60)) {
  master_process master({"--max-connections-per-user", "3"}, {.capture_log = true});
  auto first = std::make_unique<client>(master.socket);
  client second(master.socket), third(master.socket);
  CHECK(first->submit<int>("square", 2).get() == 4);
  CHECK(third.submit<int>("square", 3).get() == 9);
  bool refused = false;
  try {
    client fourth(master.socket);
    (void)fourth.submit<int>("square", 4).get(std::chrono::seconds(20));
  } catch (const connection_error& e) {
    refused = std::string(e.what()).find("too many connections") != std::string::npos;
  }
  CHECK(refused);
  CHECK(master.log().find("refused a connection") != std::string::npos);
  first.reset();  // one place free again
  CHECK(eventually([&] {
    try {
      client again(master.socket);
      return again.submit<int>("square", 5).get(std::chrono::seconds(20)) == 25;
    } catch (const connection_error&) {
      return false;
    }
  }));
  CHECK(second.submit<int>("square", 8).get() == 64);
}

TEST_CASE("master: bad values for the connection limits are refused on the command line" *
          doctest::timeout(60)) {
  for (const std::string& args :
       {std::string("--message-timeout 0"), std::string("--max-connections-per-user 0"),
        std::string("--message-timeout soon")}) {
    CAPTURE(args);
    auto [status, output] =
        run(std::string(FORKPOOL_MASTER_BINARY) + " --workers 1 --tasks " + FORKPOOL_TEST_PLUGIN +
            " " + args + " --socket /tmp/forkpool-never-created/s.sock");
    CHECK(status == 2);
    CHECK(output.rfind("forkpool-master: ", 0) == 0);
  }
}

TEST_SUITE_END();
