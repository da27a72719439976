// slotproxy: one Redis endpoint in front of a Redis Cluster.
#include <uv.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "config/config.h"
#include "proxy/admin/admin_server.h"
#include "proxy/net/log.h"
#include "proxy/server/check.h"
#include "proxy/server/stats.h"
#include "proxy/server/thread_sched.h"
#include "proxy/server/worker.h"
#include "proxy/tools/nodes_conf.h"

extern char** environ;

namespace slotproxy {
namespace {

// A worker loop on its own thread. The main loop asks it to drain or stop through `async`.
struct WorkerThread {
  uv_loop_t loop;
  uv_async_t async;
  std::unique_ptr<server::Worker> worker;
  std::thread thread;
  std::atomic<int> command{0};  // 1: drain, 2: stop
  std::atomic<bool> drained{false};
  uv_async_t* notify = nullptr;  // main loop's async, poked when drained
};

struct MainState {
  uv_loop_t* loop;
  std::vector<std::unique_ptr<WorkerThread>> workers;
  uv_signal_t sigterm;
  uv_signal_t sigint;
  uv_async_t drained;
  server::Stats* stats = nullptr;
  admin::AdminServer* admin = nullptr;  // on this loop; stopped with the workers
  bool stopping = false;
};

void stopWorkers(MainState& st) {
  for (auto& w : st.workers) {
    w->command.store(2);
    uv_async_send(&w->async);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&st.sigterm), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&st.sigint), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&st.drained), nullptr);
  if (st.admin != nullptr) st.admin->stop();
}

void onSignal(uv_signal_t* handle, int signum) {
  auto* st = static_cast<MainState*>(handle->data);
  if (st->stopping) {
    if (signum == SIGINT) {
      log::warn("second SIGINT: stopping now");
      stopWorkers(*st);
    }
    return;
  }
  st->stopping = true;
  st->stats->draining.store(true);
  log::info(signum == SIGTERM ? "SIGTERM: draining" : "SIGINT: draining");
  for (auto& w : st->workers) {
    w->command.store(1);
    uv_async_send(&w->async);
  }
}

// Asks the scheduler for the configured slice and policy on the calling worker thread; the first
// worker logs the outcome (they all get the same one).
void applyScheduling(uint32_t ms, bool batch, bool report) {
  std::string error;
  const std::string what =
      "sched-slice " + std::to_string(ms) + "ms, sched-batch " + (batch ? "yes" : "no");
  switch (server::setThreadScheduling(ms, batch, &error)) {
    case server::SliceResult::kSet:
      if (report) log::debug(what + " set on the worker threads");
      break;
    case server::SliceResult::kUnsupported:
      if (report) log::info(what + ": this kernel keeps its own slice (needs Linux 6.12+)");
      break;
    case server::SliceResult::kSkipped:
      if (report) log::info(what + ": worker threads have a real-time policy, left alone");
      break;
    case server::SliceResult::kFailed:
      if (report) log::warn(what + " not applied: " + error);
      break;
  }
}

// A password file (redis-password-file, client-password-file): its content, less one trailing
// newline, becomes the password, which must not also be given directly.
bool readPasswordFile(const std::string& key, const std::string& path, std::string* password,
                      std::string* error) {
  if (!password->empty()) {
    *error = "give " + key.substr(0, key.size() - 5) + " or " + key + ", not both";
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in.is_open()) {
    *error = key + ": cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) {
    *error = key + ": cannot read " + path;
    return false;
  }
  if (text.ends_with('\n')) text.pop_back();
  if (text.ends_with('\r')) text.pop_back();
  if (text.empty()) {
    *error = key + ": " + path + " is empty";
    return false;
  }
  *password = std::move(text);
  return true;
}

int run(const config::Config& cfg) {
  std::signal(SIGPIPE, SIG_IGN);
  // libuv's thread pool only runs DNS lookups of seed names here: two threads are plenty, and
  // each idle one costs stack and a malloc arena in a sidecar's memory.
  setenv("UV_THREADPOOL_SIZE", "2", /*overwrite=*/0);
  log::setLevel(cfg.log_level);
  server::Stats stats;
  server::TopologyHub hub;  // outlives the workers (their refreshers leave it when destroyed)
  MainState st;
  st.loop = uv_default_loop();
  st.stats = &stats;

  // Admin HTTP (/metrics /healthz /readyz /topology /) on the main loop; serves while draining.
  // Bound before the workers: a bad --admin fails before anything runs.
  admin::AdminServer admin(st.loop, stats, cfg);
  std::string admin_error;
  if (!admin.start(&admin_error)) {
    log::error(admin_error);
    return 1;
  }
  st.admin = &admin;
  // Bind every worker first so that a bad --listen fails before anything runs.
  for (int i = 0; i < cfg.threads; ++i) {
    auto w = std::make_unique<WorkerThread>();
    uv_loop_init(&w->loop);
    w->notify = &st.drained;
    w->worker = std::make_unique<server::Worker>(cfg, &w->loop, stats);
    w->worker->setIndex(i);
    w->worker->setHub(&hub);
    std::string error;
    if (!w->worker->start(&error)) {
      log::error(error);
      return 1;
    }
    w->async.data = w.get();
    uv_async_init(&w->loop, &w->async, [](uv_async_t* a) {
      auto* self = static_cast<WorkerThread*>(a->data);
      const int cmd = self->command.exchange(0);
      if (cmd == 1) {
        self->worker->drain([self] {
          self->drained.store(true);
          uv_async_send(self->notify);
        });
      } else if (cmd == 2) {
        self->worker->shutdown();
        uv_close(reinterpret_cast<uv_handle_t*>(&self->async), nullptr);
      }
    });
    st.workers.push_back(std::move(w));
  }
  uv_signal_init(st.loop, &st.sigterm);
  uv_signal_init(st.loop, &st.sigint);
  st.sigterm.data = st.sigint.data = &st;
  uv_signal_start(&st.sigterm, onSignal, SIGTERM);
  uv_signal_start(&st.sigint, onSignal, SIGINT);
  st.drained.data = &st;
  uv_async_init(st.loop, &st.drained, [](uv_async_t* a) {
    auto* s = static_cast<MainState*>(a->data);
    for (auto& w : s->workers) {
      if (!w->drained.load()) return;
    }
    log::info("drained: exiting");
    stopWorkers(*s);
  });

  for (size_t i = 0; i < st.workers.size(); ++i) {
    WorkerThread* self = st.workers[i].get();
    const uint32_t slice_ms = cfg.sched_slice_ms;
    const bool batch = cfg.sched_batch;
    self->thread = std::thread([self, slice_ms, batch, first = i == 0] {
      if (slice_ms != 0 || batch) applyScheduling(slice_ms, batch, first);
      uv_run(&self->loop, UV_RUN_DEFAULT);
    });
  }
  std::string seeds;
  for (const auto& s : cfg.seeds) {
    if (!seeds.empty()) seeds += ',';
    seeds += s.str();
  }
  log::info("slotproxy listening on " + cfg.listen.str() + " (" + std::to_string(cfg.threads) +
            " worker thread(s)), seeds " + seeds);

  uv_run(st.loop, UV_RUN_DEFAULT);
  for (auto& w : st.workers) {
    w->thread.join();
    w->worker.reset();
    uv_run(&w->loop, UV_RUN_DEFAULT);  // close callbacks of what the worker's destructor closed
    uv_loop_close(&w->loop);
  }
  uv_loop_close(st.loop);
  return 0;
}

}  // namespace
}  // namespace slotproxy

int main(int argc, char** argv) {
  using namespace slotproxy;
  config::Config cfg;
  const config::ParseResult parsed = config::parse(argc, argv, environ, &cfg);
  if (!parsed.ok) {
    std::cerr << "slotproxy: " << parsed.message << "\n";
    return parsed.exit_code == 0 ? 2 : parsed.exit_code;
  }
  if (cfg.command == "help") {
    std::cout << config::usage();
    return 0;
  }
  if (cfg.command == "version") {
    std::cout << "slotproxy " << SLOTPROXY_VERSION << "\n";
    return 0;
  }
  if (cfg.command == "nodes-conf") {
    tools::NodesConfOptions opts;
    opts.file = cfg.nodes_conf_file;
    opts.myself_ip = cfg.myself_ip;
    opts.hosts_file = cfg.hosts_file;
    opts.resolve_peers = cfg.resolve_peers;
    opts.dry_run = cfg.dry_run;
    return tools::runNodesConf(opts, std::cout, std::cerr);
  }
  for (const auto& [key, path, password] :
       {std::tuple{"redis-password-file", &cfg.redis_password_file, &cfg.redis_password},
        std::tuple{"client-password-file", &cfg.client_password_file, &cfg.client_password}}) {
    std::string error;
    if (!path->empty() && !readPasswordFile(key, *path, password, &error)) {
      std::cerr << "slotproxy: " << error << "\n";
      return 2;
    }
  }
  if (cfg.command == "check") return server::runCheck(cfg, std::cout);
  return run(cfg);
}
