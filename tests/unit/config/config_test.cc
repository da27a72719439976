#include "config/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace slotproxy::config {

// gtest prints a Config key by key instead of as bytes.
void PrintTo(const Config& c, std::ostream* os) {
  *os << "{command=" << c.command;
  for (const KeyDef& k : keys()) *os << " " << k.name << "=" << k.show(c);
  *os << "}";
}

namespace {

using ::testing::HasSubstr;

struct Outcome {
  ParseResult result;
  Config config;
};

// Runs parse() on "slotproxy <args...>" with exactly `env` as the environment.
Outcome parseWith(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  std::vector<const char*> argv{"slotproxy"};
  for (const std::string& a : args) argv.push_back(a.c_str());
  std::vector<const char*> envp;
  for (const std::string& e : env) envp.push_back(e.c_str());
  envp.push_back(nullptr);
  Outcome o;
  o.result = parse(static_cast<int>(argv.size()), argv.data(), envp.data(), &o.config);
  return o;
}

// Parses and expects failure with exactly `message` and exit code 2.
void expectError(const std::vector<std::string>& args, const std::vector<std::string>& env,
                 const std::string& message) {
  Outcome o = parseWith(args, env);
  EXPECT_FALSE(o.result.ok);
  EXPECT_EQ(o.result.exit_code, 2);
  EXPECT_EQ(o.result.message, message);
}

Outcome parseOk(const std::vector<std::string>& args, const std::vector<std::string>& env = {}) {
  Outcome o = parseWith(args, env);
  EXPECT_TRUE(o.result.ok) << o.result.message;
  EXPECT_EQ(o.result.exit_code, 0);
  return o;
}

// A file under the test temp dir, removed at scope exit.
class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    static int counter = 0;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = ::testing::TempDir() + "slotproxy_" + info->name() + "_" + std::to_string(counter++) +
            ".conf";
    std::ofstream(path_, std::ios::binary) << content;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---- defaults and subcommands ----

TEST(ConfigDefaults, MatchTheDesignContract) {
  Outcome o = parseOk({"--seeds", "10.0.0.1:7000"});
  const Config& c = o.config;
  EXPECT_EQ(c.command, "run");
  EXPECT_EQ(c.listen.str(), "127.0.0.1:6379");
  EXPECT_EQ(c.admin.str(), "0.0.0.0:9379");
  ASSERT_EQ(c.seeds.size(), 1u);
  EXPECT_EQ(c.seeds[0].str(), "10.0.0.1:7000");
  EXPECT_EQ(c.threads, 1);
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.backend_connections, 1);
  EXPECT_EQ(c.connect_timeout_ms, 500u);
  EXPECT_EQ(c.request_timeout_ms, 3000u);
  EXPECT_EQ(c.refresh_interval_ms, 5000u);
  EXPECT_EQ(c.refresh_min_interval_ms, 100u);
  EXPECT_EQ(c.failover_hold_ms, 30000u);
  EXPECT_EQ(c.max_redirects, 5u);
  EXPECT_EQ(c.reconnect_backoff_min_ms, 50u);
  EXPECT_EQ(c.reconnect_backoff_max_ms, 2000u);
  EXPECT_EQ(c.hold_max_requests, 100000u);
  EXPECT_EQ(c.hold_max_bytes, 256ull << 20);
  EXPECT_EQ(c.proto_max_bulk_len, 512ull << 20);
  EXPECT_EQ(c.max_multibulk_len, 1024u * 1024u);
  EXPECT_EQ(c.client_query_buffer_limit, 1ull << 30);
  EXPECT_EQ(c.client_output_high_watermark, 4ull << 20);
  EXPECT_EQ(c.client_output_low_watermark, 1ull << 20);
  EXPECT_EQ(c.max_pipeline_depth, 16384u);
  EXPECT_EQ(c.max_clients, 10000u);
  EXPECT_EQ(c.max_own_conns, 1000u);
  EXPECT_EQ(c.drain_timeout_ms, 5000u);
  EXPECT_EQ(c.sched_slice_ms, 10u);
  EXPECT_TRUE(c.sched_batch);
  EXPECT_EQ(c.node_write_wait_us, 150u);
  EXPECT_EQ(c.nodes_conf_file, "");
  EXPECT_EQ(c.myself_ip, "");
  EXPECT_EQ(c.hosts_file, "");
  EXPECT_FALSE(c.resolve_peers);
  EXPECT_FALSE(c.dry_run);
  Config expected;
  expected.seeds = c.seeds;
  EXPECT_EQ(c, expected);
}

TEST(ConfigCommand, SubcommandIsTheFirstNonFlagArgument) {
  EXPECT_EQ(parseOk({"run", "--seeds", "a"}).config.command, "run");
  EXPECT_EQ(parseOk({"--seeds", "a", "check"}).config.command, "check");
  EXPECT_EQ(parseOk({"nodes-conf", "--file", "/data/nodes.conf", "--myself-ip", "10.0.0.5"})
                .config.command,
            "nodes-conf");
}

TEST(ConfigCommand, HelpAndVersionNeedNothingElse) {
  for (const char* flag : {"--help", "-h", "help"}) {
    Outcome o = parseOk({flag});
    EXPECT_EQ(o.config.command, "help") << flag;
    EXPECT_EQ(o.result.message, usage());
  }
  for (const char* flag : {"--version", "version"}) {
    Outcome o = parseOk({flag});
    EXPECT_EQ(o.config.command, "version");
    EXPECT_THAT(o.result.message, ::testing::StartsWith("slotproxy "));
  }
}

TEST(ConfigCommand, HelpWinsOverBadOptionsAndEnvironment) {
  Outcome o = parseOk({"--threads", "x", "--bogus", "--help"}, {"SLOTPROXY_NOPE=1"});
  EXPECT_EQ(o.config.command, "help");
}

TEST(ConfigCommand, UnknownAndExtraPositionalsAreErrors) {
  expectError({"serve"}, {}, "unknown command \"serve\" (expected run, check or nodes-conf)");
  expectError({"run", "check"}, {}, "unexpected argument \"check\"");
}

// ---- each source ----

TEST(ConfigFlags, SpaceAndEqualsFormsAndBareBooleans) {
  Outcome o = parseOk({"nodes-conf", "--file=/data/nodes.conf", "--myself-ip", "10.0.0.5",
                       "--resolve-peers", "--dry-run=no", "--hosts-file", "/etc/hosts",
                       "--threads=8", "--log-level", "DEBUG"});
  EXPECT_EQ(o.config.nodes_conf_file, "/data/nodes.conf");
  EXPECT_EQ(o.config.myself_ip, "10.0.0.5");
  EXPECT_TRUE(o.config.resolve_peers);
  EXPECT_FALSE(o.config.dry_run);
  EXPECT_EQ(o.config.hosts_file, "/etc/hosts");
  EXPECT_EQ(o.config.threads, 8);
  EXPECT_EQ(o.config.log_level, "debug");
}

TEST(ConfigFlags, LongNameOfAliasedKeyWorks) {
  Outcome o = parseOk({"nodes-conf", "--nodes-conf-file", "/n.conf", "--myself-ip=::1"});
  EXPECT_EQ(o.config.nodes_conf_file, "/n.conf");
  EXPECT_EQ(o.config.myself_ip, "::1");
}

TEST(ConfigFlags, RepeatedFlagLastWins) {
  EXPECT_EQ(parseOk({"--seeds", "a", "--threads", "2", "--threads", "3"}).config.threads, 3);
}

TEST(ConfigEnv, EveryTypeIsReadFromTheEnvironment) {
  Outcome o = parseOk(
      {}, {"PATH=/bin", "SLOTPROXY_SEEDS=redis-0.redis:7000,10.0.0.2",
           "SLOTPROXY_LISTEN=0.0.0.0:6380", "SLOTPROXY_THREADS=4", "SLOTPROXY_FAILOVER_HOLD=45s",
           "SLOTPROXY_HOLD_MAX_BYTES=64mb", "SLOTPROXY_LOG_LEVEL=warn", "SLOTPROXY_DRY_RUN=yes"});
  ASSERT_EQ(o.config.seeds.size(), 2u);
  EXPECT_EQ(o.config.seeds[0], (HostPort{"redis-0.redis", 7000}));
  EXPECT_EQ(o.config.seeds[1], (HostPort{"10.0.0.2", 6379}));
  EXPECT_EQ(o.config.listen, (HostPort{"0.0.0.0", 6380}));
  EXPECT_EQ(o.config.threads, 4);
  EXPECT_EQ(o.config.failover_hold_ms, 45000u);
  EXPECT_EQ(o.config.hold_max_bytes, 64ull << 20);
  EXPECT_EQ(o.config.log_level, "warn");
  EXPECT_TRUE(o.config.dry_run);
}

TEST(ConfigEnv, NullEnvironmentIsEmpty) {
  const char* argv[] = {"slotproxy", "--seeds", "a"};
  Config c;
  ParseResult r = parse(3, argv, nullptr, &c);
  EXPECT_TRUE(r.ok) << r.message;
}

TEST(ConfigEnv, KubernetesServiceLinkVariablesAreIgnored) {
  // What Kubernetes injects for Services named "slotproxy" and "slotproxy-admin".
  parseOk({"--seeds", "a"},
          {"SLOTPROXY_SERVICE_HOST=10.96.0.10", "SLOTPROXY_SERVICE_PORT=6379",
           "SLOTPROXY_SERVICE_PORT_RESP=6379", "SLOTPROXY_PORT=tcp://10.96.0.10:6379",
           "SLOTPROXY_PORT_6379_TCP=tcp://10.96.0.10:6379", "SLOTPROXY_PORT_6379_TCP_PROTO=tcp",
           "SLOTPROXY_PORT_6379_TCP_PORT=6379", "SLOTPROXY_PORT_6379_TCP_ADDR=10.96.0.10",
           "SLOTPROXY_ADMIN_SERVICE_HOST=10.96.0.11", "SLOTPROXY_ADMIN_PORT=tcp://10.96.0.11:9379",
           "SLOTPROXY_ADMIN_PORT_9379_TCP_ADDR=10.96.0.11"});
  // A look-alike that is not a service link is still an error.
  expectError({"--seeds", "a"}, {"SLOTPROXY_LISTEN_PORT=6380"},
              "unknown environment variable \"SLOTPROXY_LISTEN_PORT\"");
}

TEST(ConfigFile, RedisConfSyntax) {
  TempFile f(
      "# comment\n"
      "\n"
      "   # indented comment\n"
      "seeds 10.0.0.1:7000, 10.0.0.2:7001\n"
      "THREADS   2\r\n"
      "\tlog-level \"warn\"\n"
      "hosts-file \"/etc/my \\\"hosts\\\" \\\\ file\"   \n"
      "admin 127.0.0.1:1\n"
      "admin 127.0.0.1:9000\n"
      "client-output-high-watermark 8MB\n"
      "dry-run yes");  // no final newline
  Outcome o = parseOk({"--config", f.path()});
  ASSERT_EQ(o.config.seeds.size(), 2u);
  EXPECT_EQ(o.config.seeds[1].str(), "10.0.0.2:7001");
  EXPECT_EQ(o.config.threads, 2);
  EXPECT_EQ(o.config.log_level, "warn");
  EXPECT_EQ(o.config.hosts_file, "/etc/my \"hosts\" \\ file");
  EXPECT_EQ(o.config.admin.str(), "127.0.0.1:9000");  // the later line wins
  EXPECT_EQ(o.config.client_output_high_watermark, 8ull << 20);
  EXPECT_TRUE(o.config.dry_run);
}

TEST(ConfigFile, Utf8ByteOrderMarkIsSkipped) {
  TempFile f("\xEF\xBB\xBFseeds a\n");
  EXPECT_EQ(parseOk({"--config", f.path()}).config.seeds[0].host, "a");
}

TEST(ConfigFile, NamedByEnvironmentOrFlag) {
  TempFile from_env("seeds env:1\nthreads 2\n");
  TempFile from_flag("seeds flag:1\n");
  Outcome o = parseOk({}, {"SLOTPROXY_CONFIG=" + from_env.path()});
  EXPECT_EQ(o.config.seeds[0].host, "env");
  EXPECT_EQ(o.config.threads, 2);
  o = parseOk({"--config=" + from_flag.path()}, {"SLOTPROXY_CONFIG=" + from_env.path()});
  EXPECT_EQ(o.config.seeds[0].host, "flag");
  EXPECT_EQ(o.config.threads, 1);  // the env-named file was not read
}

TEST(ConfigFile, EmptyConfigVariableMeansNoFile) {
  parseOk({"--seeds", "a"}, {"SLOTPROXY_CONFIG="});
}

// ---- precedence ----

TEST(ConfigPrecedence, FlagBeatsEnvBeatsFileBeatsDefault) {
  TempFile f("seeds a\nthreads 2\nfailover-hold 10s\n");
  std::vector<std::string> env{"SLOTPROXY_THREADS=3", "SLOTPROXY_FAILOVER_HOLD=20s"};
  std::string conf = "--config=" + f.path();

  Outcome o = parseOk({conf, "--threads", "4"}, env);
  EXPECT_EQ(o.config.threads, 4);                // flag
  EXPECT_EQ(o.config.failover_hold_ms, 20000u);  // env
  EXPECT_EQ(o.config.max_clients, 10000u);       // default

  o = parseOk({conf}, env);
  EXPECT_EQ(o.config.threads, 3);  // env over file
  o = parseOk({conf});
  EXPECT_EQ(o.config.threads, 2);  // file over default
  EXPECT_EQ(o.config.failover_hold_ms, 10000u);
  o = parseOk({"--seeds", "a"});
  EXPECT_EQ(o.config.threads, 1);  // default
}

TEST(ConfigPrecedence, SeedsFromHigherSourceReplaceTheList) {
  TempFile f("seeds a,b,c\n");
  Outcome o = parseOk({"--config", f.path()}, {"SLOTPROXY_SEEDS=d"});
  ASSERT_EQ(o.config.seeds.size(), 1u);
  EXPECT_EQ(o.config.seeds[0].host, "d");
}

TEST(ConfigPrecedence, CrossFieldChecksSeeTheMergedResult) {
  // The file alone would be invalid (low >= default high 4mb); the flag fixes it.
  TempFile f("seeds a\nclient-output-low-watermark 6mb\n");
  parseOk({"--config", f.path(), "--client-output-high-watermark", "8mb"});
}

// ---- every error path, exact messages ----

TEST(ConfigErrors, FlagSyntax) {
  expectError({"--seedz", "a"}, {}, "unknown flag \"--seedz\"");
  expectError({"--seedz=a"}, {}, "unknown flag \"--seedz\"");
  expectError({"-t", "2"}, {}, "unknown flag \"-t\"");
  expectError({"--"}, {}, "unknown flag \"--\"");
  expectError({"--config"}, {}, "--config: missing value");
  expectError({"--threads"}, {}, "--threads: missing value");
  expectError({"--threads", "--seeds", "a"}, {}, "--threads: missing value");
}

TEST(ConfigErrors, BadValuesNameTheFlag) {
  std::vector<std::string> seeds{"--seeds", "a"};
  auto with = [&](std::vector<std::string> more) {
    more.insert(more.begin(), seeds.begin(), seeds.end());
    return more;
  };
  expectError(with({"--threads", "x"}), {}, "--threads: expected an integer in 1..64, got \"x\"");
  expectError(with({"--threads", "0"}), {}, "--threads: expected an integer in 1..64, got \"0\"");
  expectError(with({"--threads=65"}), {}, "--threads: expected an integer in 1..64, got \"65\"");
  expectError(with({"--threads", "-1"}), {}, "--threads: expected an integer in 1..64, got \"-1\"");
  expectError(with({"--threads", "+2"}), {}, "--threads: expected an integer in 1..64, got \"+2\"");
  expectError(with({"--backend-connections", "17"}), {},
              "--backend-connections: expected an integer in 1..16, got \"17\"");
  expectError(with({"--max-clients", "99999999999999999999999"}), {},
              "--max-clients: expected an integer in 1..1000000, got "
              "\"99999999999999999999999\"");
  expectError(with({"--hold-max-bytes", "lots"}), {},
              "--hold-max-bytes: expected a size in 1..1024gb (e.g. 64kb, 512mb, 1gb), got "
              "\"lots\"");
  expectError(with({"--hold-max-bytes", "0"}), {},
              "--hold-max-bytes: expected a size in 1..1024gb (e.g. 64kb, 512mb, 1gb), got "
              "\"0\"");
  expectError(with({"--connect-timeout", "soon"}), {},
              "--connect-timeout: expected a duration in 1ms..10m (e.g. 500ms, 5s, 2m), got "
              "\"soon\"");
  expectError(with({"--connect-timeout", "0"}), {},
              "--connect-timeout: expected a duration in 1ms..10m (e.g. 500ms, 5s, 2m), got "
              "\"0\"");
  expectError(with({"--failover-hold", "2h"}), {},
              "--failover-hold: expected a duration in 0ms..1h (e.g. 500ms, 5s, 2m), got "
              "\"2h\"");
  expectError(with({"--sched-slice", "101ms"}), {},
              "--sched-slice: expected a duration in 0ms..100ms (e.g. 500ms, 5s, 2m), got "
              "\"101ms\"");
  expectError(with({"--log-level", "verbose"}), {},
              "--log-level: expected one of debug, info, warn, error, got \"verbose\"");
  expectError(with({"--dry-run=maybe"}), {}, "--dry-run: expected yes or no, got \"maybe\"");
  expectError(with({"--listen", "foo"}), {}, "--listen: bad address \"foo\" (expected HOST:PORT)");
  expectError(with({"--admin", "1.2.3.4:70000"}), {},
              "--admin: bad address \"1.2.3.4:70000\" (expected HOST:PORT)");
  expectError({"nodes-conf", "--file", "f", "--myself-ip", "pod-0"}, {},
              "--myself-ip: bad IP address \"pod-0\"");
}

TEST(ConfigErrors, BadSeedNamesTheItem) {
  const std::string hint = " (expected HOST[:PORT], port 6379 if omitted)";
  expectError({"--seeds", "a:1,b:x"}, {}, "--seeds: bad address \"b:x\"" + hint);
  expectError({"--seeds", "a:1,,b"}, {}, "--seeds: bad address \"\"" + hint);
  expectError({"--seeds", "a:1,"}, {}, "--seeds: bad address \"\"" + hint);
  expectError({"--seeds", "::1:6379:x"}, {}, "--seeds: bad address \"::1:6379:x\"" + hint);
  expectError({"--seeds", "bad_host-:1"}, {}, "--seeds: bad address \"bad_host-:1\"" + hint);
  expectError({"--seeds", "10.0.0.1:0"}, {}, "--seeds: bad address \"10.0.0.1:0\" (port 0)");
}

TEST(ConfigErrors, EnvironmentNamesTheVariable) {
  expectError({"--seeds", "a"}, {"SLOTPROXY_SEEDZ=a"},
              "unknown environment variable \"SLOTPROXY_SEEDZ\"");
  expectError({}, {"SLOTPROXY_LISTEN=foo"},
              "SLOTPROXY_LISTEN: bad address \"foo\" (expected HOST:PORT)");
  expectError({"--seeds", "a"}, {"SLOTPROXY_RESOLVE_PEERS=on"},
              "SLOTPROXY_RESOLVE_PEERS: expected yes or no, got \"on\"");
  expectError({}, {"SLOTPROXY_SEEDS="},
              "SLOTPROXY_SEEDS: bad address \"\" (expected HOST[:PORT], port 6379 if omitted)");
  // Only our prefix is ours.
  parseOk({"--seeds", "a"}, {"slotproxy_threads=x", "REDIS_SEEDZ=1", "NOEQUALS"});
}

TEST(ConfigErrors, FileErrorsNameFileAndLine) {
  TempFile unknown("seeds a\n# fine\n\nseedz b\n");
  expectError({"--config", unknown.path()}, {}, unknown.path() + ":4: unknown key \"seedz\"");

  TempFile bad("seeds a\nthreads x\n");
  expectError({"--config", bad.path()}, {},
              bad.path() + ":2: threads: expected an integer in 1..64, got \"x\"");

  TempFile missing("threads\n");
  expectError({"--config", missing.path()}, {}, missing.path() + ":1: threads: missing value");

  TempFile unterminated("seeds \"a\n");
  expectError({"--config", unterminated.path()}, {},
              unterminated.path() + ":1: seeds: unterminated quoted value");

  TempFile trailing("seeds \"a\" b\n");
  expectError({"--config", trailing.path()}, {},
              trailing.path() + ":1: seeds: unexpected text after closing quote");

  TempFile flag_syntax("--threads 2\n");
  expectError({"--config", flag_syntax.path()}, {},
              flag_syntax.path() + ":1: unknown key \"--threads\"");

  TempFile bool_value("resolve-peers\n");
  expectError({"--config", bool_value.path()}, {},
              bool_value.path() + ":1: resolve-peers: missing value");

  TempFile config_key("config other.conf\n");
  expectError({"--config", config_key.path()}, {},
              config_key.path() + ":1: unknown key \"config\"");
}

TEST(ConfigErrors, UnreadableFileNamesItsSource) {
  const std::string nowhere = ::testing::TempDir() + "slotproxy_does_not_exist.conf";
  expectError({"--config", nowhere}, {},
              "--config: cannot read config file \"" + nowhere + "\": No such file or directory");
  expectError(
      {}, {"SLOTPROXY_CONFIG=" + nowhere},
      "SLOTPROXY_CONFIG: cannot read config file \"" + nowhere + "\": No such file or directory");
  expectError({"--config", ::testing::TempDir()}, {},
              "--config: cannot read config file \"" + ::testing::TempDir() + "\": Is a directory");
}

TEST(ConfigErrors, MissingRequiredPerCommand) {
  expectError({}, {}, "no seeds: give --seeds HOST:PORT[,...]");
  expectError({"check"}, {}, "no seeds: give --seeds HOST:PORT[,...]");
  expectError({"nodes-conf", "--myself-ip", "10.0.0.1"}, {},
              "nodes-conf: give --file PATH (the nodes.conf)");
  expectError({"nodes-conf", "--file", "/data/nodes.conf"}, {},
              "nodes-conf: give --myself-ip IP (this pod's IP)");
}

TEST(ConfigErrors, CrossFieldChecks) {
  expectError({"--seeds", "a", "--client-output-low-watermark", "4mb"}, {},
              "client-output-low-watermark (4mb) must be below client-output-high-watermark "
              "(4mb)");
  expectError({"--seeds", "a", "--reconnect-backoff-min", "3s"}, {},
              "reconnect-backoff-min (3s) must not exceed reconnect-backoff-max (2s)");
  parseOk({"--seeds", "a", "--reconnect-backoff-min", "2s"});  // equal is fine
  expectError({"--seeds", "a", "--refresh-min-interval", "6s"}, {},
              "refresh-min-interval (6s) must not exceed refresh-interval (5s)");
  expectError({"--seeds", "a", "--proto-max-bulk-len", "2gb"}, {},
              "proto-max-bulk-len (2gb) must not exceed client-query-buffer-limit (1gb)");
  expectError({"--seeds", "a", "--admin", "127.0.0.1:6379"}, {},
              "listen (127.0.0.1:6379) and admin (127.0.0.1:6379) use the same port");
  expectError({"--seeds", "a", "--listen", "[::]:9379"}, {},
              "listen ([::]:9379) and admin (0.0.0.0:9379) use the same port");
  parseOk({"--seeds", "a", "--listen", "127.0.0.1:9379", "--admin", "[::1]:9379"});
  parseOk({"--seeds", "a", "--listen", "0.0.0.0:0", "--admin", "0.0.0.0:0"});
}

TEST(ConfigErrors, OutputUntouchedOnError) {
  std::vector<const char*> argv{"slotproxy", "--threads", "9", "--threads", "x"};
  const char* envp[] = {nullptr};
  Config c;
  c.threads = 42;
  ParseResult r = parse(static_cast<int>(argv.size()), argv.data(), envp, &c);
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(c.threads, 42);
}

// ---- sizes, durations, addresses ----

TEST(ConfigValues, ParseSizeIsRedisConfStyle) {
  struct Case {
    const char* text;
    uint64_t bytes;
  };
  for (const Case& c : {Case{"100", 100}, Case{"100b", 100}, Case{"1k", 1000}, Case{"1kb", 1024},
                        Case{"64KB", 64 * 1024}, Case{"2m", 2000000}, Case{"512mb", 512ull << 20},
                        Case{"1g", 1000000000}, Case{"1Gb", 1ull << 30}, Case{"0", 0},
                        Case{"18446744073709551615", UINT64_MAX}}) {
    uint64_t v = 1;
    EXPECT_TRUE(parseSize(c.text, &v)) << c.text;
    EXPECT_EQ(v, c.bytes) << c.text;
  }
  for (const char* bad : {"", "mb", "1.5gb", "-1", "+1", " 1", "1 mb", "1tb", "1kib",
                          "18446744073709551616", "17179869184gb"}) {
    uint64_t v = 7;
    EXPECT_FALSE(parseSize(bad, &v)) << bad;
    EXPECT_EQ(v, 7u) << bad;
  }
}

TEST(ConfigValues, ParseDurationDefaultsToMilliseconds) {
  struct Case {
    const char* text;
    uint32_t ms;
  };
  for (const Case& c : {Case{"500", 500}, Case{"500ms", 500}, Case{"5s", 5000}, Case{"2m", 120000},
                        Case{"1H", 3600000}, Case{"0", 0}, Case{"4294967295", UINT32_MAX}}) {
    uint32_t v = 1;
    EXPECT_TRUE(parseDurationMs(c.text, &v)) << c.text;
    EXPECT_EQ(v, c.ms) << c.text;
  }
  for (const char* bad : {"", "s", "1.5s", "-1s", "5 s", "5sec", "1d", "4294967296", "49711h"}) {
    uint32_t v = 7;
    EXPECT_FALSE(parseDurationMs(bad, &v)) << bad;
    EXPECT_EQ(v, 7u) << bad;
  }
}

TEST(ConfigValues, FormatIsTheInverseOfParse) {
  EXPECT_EQ(formatSize(0), "0");
  EXPECT_EQ(formatSize(1000), "1000");
  EXPECT_EQ(formatSize(1536), "1536");
  EXPECT_EQ(formatSize(64 * 1024), "64kb");
  EXPECT_EQ(formatSize(256ull << 20), "256mb");
  EXPECT_EQ(formatSize(1ull << 30), "1gb");
  EXPECT_EQ(formatDurationMs(0), "0ms");
  EXPECT_EQ(formatDurationMs(1500), "1500ms");
  EXPECT_EQ(formatDurationMs(30000), "30s");
  EXPECT_EQ(formatDurationMs(120000), "2m");
  EXPECT_EQ(formatDurationMs(7200000), "2h");
}

TEST(ConfigValues, HostPortForms) {
  HostPort hp;
  ASSERT_TRUE(parseHostPort("[::1]:6380", 0, &hp));
  EXPECT_EQ(hp, (HostPort{"::1", 6380}));
  EXPECT_EQ(hp.str(), "[::1]:6380");
  ASSERT_TRUE(parseHostPort("[2001:db8::7]", 6379, &hp));
  EXPECT_EQ(hp.str(), "[2001:db8::7]:6379");
  ASSERT_TRUE(parseHostPort("fe80::1", 6379, &hp));  // bare IPv6 only without a port
  EXPECT_EQ(hp.str(), "[fe80::1]:6379");
  ASSERT_TRUE(parseHostPort("redis-cluster.ns.svc.cluster.local.:7000", 0, &hp));
  EXPECT_EQ(hp.host, "redis-cluster.ns.svc.cluster.local.");
  ASSERT_TRUE(parseHostPort("_redis._tcp.example:1", 0, &hp));
  ASSERT_TRUE(parseHostPort("localhost", 6379, &hp));
  EXPECT_EQ(hp.str(), "localhost:6379");
  ASSERT_TRUE(parseHostPort("0.0.0.0:0", 0, &hp));
  EXPECT_EQ(hp.port, 0);
  ASSERT_TRUE(parseHostPort("10.0.0.1:65535", 0, &hp));
  EXPECT_EQ(hp.port, 65535);

  for (const char* bad : {"", ":6379", "host:", "host:65536", "host:-1", "host:0x10",
                          "localhost",  // port required when default_port is 0
                          "[::1]", "::1", "[::1]6379", "[::1", "[10.0.0.1]:1", "300.1.1.1:1",
                          "10.0.0:1", "-bad:1", "bad-:1", "a..b:1", "sp ace:1", "ünï:1"}) {
    EXPECT_FALSE(parseHostPort(bad, 0, &hp)) << bad;
  }
  EXPECT_FALSE(parseHostPort(std::string(64, 'a') + ".com:1", 0, &hp));
  EXPECT_TRUE(parseHostPort(std::string(63, 'a') + ".com:1", 0, &hp));
}

TEST(ConfigValues, Ipv6ThroughEverySource) {
  TempFile f("admin [::]:9379\n");
  Outcome o = parseOk({"--config", f.path(), "--listen", "[::1]:6379"},
                      {"SLOTPROXY_SEEDS=[fd00::1]:7000,fd00::2"});
  EXPECT_EQ(o.config.listen, (HostPort{"::1", 6379}));
  EXPECT_EQ(o.config.admin, (HostPort{"::", 9379}));
  ASSERT_EQ(o.config.seeds.size(), 2u);
  EXPECT_EQ(o.config.seeds[0].str(), "[fd00::1]:7000");
  EXPECT_EQ(o.config.seeds[1].str(), "[fd00::2]:6379");
  o = parseOk({"nodes-conf", "--file", "f", "--myself-ip", "[fd00::5]"});
  EXPECT_EQ(o.config.myself_ip, "fd00::5");
}

// ---- the key table ----

TEST(ConfigKeys, TableCoversEveryConfigField) {
  // Update with Config: one key per field except `command`.
  const std::set<std::string> expected{"listen",
                                       "admin",
                                       "seeds",
                                       "threads",
                                       "log-level",
                                       "backend-connections",
                                       "connect-timeout",
                                       "request-timeout",
                                       "refresh-interval",
                                       "refresh-min-interval",
                                       "failover-hold",
                                       "max-redirects",
                                       "reconnect-backoff-min",
                                       "reconnect-backoff-max",
                                       "hold-max-requests",
                                       "hold-max-bytes",
                                       "proto-max-bulk-len",
                                       "max-multibulk-len",
                                       "client-query-buffer-limit",
                                       "client-output-high-watermark",
                                       "client-output-low-watermark",
                                       "max-pipeline-depth",
                                       "max-clients",
                                       "max-own-conns",
                                       "drain-timeout",
                                       "sched-slice",
                                       "sched-batch",
                                       "node-write-wait-us",
                                       "nodes-conf-file",
                                       "myself-ip",
                                       "hosts-file",
                                       "resolve-peers",
                                       "dry-run",
                                       "redis-username",
                                       "redis-password",
                                       "redis-password-file",
                                       "client-password",
                                       "client-password-file"};
  std::set<std::string> actual;
  for (const KeyDef& k : keys()) {
    EXPECT_TRUE(actual.insert(std::string(k.name)).second) << "duplicate " << k.name;
  }
  EXPECT_EQ(actual, expected);
}

TEST(ConfigKeys, EachKeySetsItsOwnFieldFromEverySource) {
  const Config defaults;
  for (const KeyDef& k : keys()) {
    SCOPED_TRACE(std::string(k.name));
    EXPECT_EQ(
        k.env, "SLOTPROXY_" + [&] {
          std::string s(k.name);
          for (char& c : s) c = c == '-' ? '_' : static_cast<char>(std::toupper(c));
          return s;
        }());
    Config c;
    std::string error;
    ASSERT_TRUE(k.set(&c, k.example, &error)) << error;
    ASSERT_NE(c, defaults) << "example equals the default";
    EXPECT_NE(k.show(c), k.show(defaults));
    // show() round-trips.
    Config again;
    ASSERT_TRUE(k.set(&again, k.show(c), &error)) << error;
    EXPECT_EQ(again, c);

    // The same value through a flag, the environment and a file gives the same Config. Use
    // nodes-conf so no other key is required; it only adds its own checks.
    std::vector<std::string> base{"nodes-conf", "--file", "/n", "--myself-ip", "10.0.0.9"};
    auto expect = [&](const Config& got) {
      Config want = c;
      want.command = "nodes-conf";
      if (k.name != "nodes-conf-file") want.nodes_conf_file = "/n";
      if (k.name != "myself-ip") want.myself_ip = "10.0.0.9";
      EXPECT_EQ(got, want);
    };
    // Flags for the key after the base flags, so they win over the base values.
    std::vector<std::string> flag_args = base;
    flag_args.push_back("--" + std::string(k.name) + "=" + std::string(k.example));
    expect(parseOk(flag_args).config);
    std::vector<std::string> env_args{"nodes-conf"};
    if (k.name != "nodes-conf-file") env_args.insert(env_args.end(), {"--file", "/n"});
    if (k.name != "myself-ip") env_args.insert(env_args.end(), {"--myself-ip", "10.0.0.9"});
    expect(parseOk(env_args, {k.env + "=" + std::string(k.example)}).config);
    TempFile f(std::string(k.name) + " " + std::string(k.example) + "\n");
    std::vector<std::string> file_args = env_args;
    file_args.push_back("--config=" + f.path());
    expect(parseOk(file_args).config);
  }
}

TEST(ConfigKeys, UsageListsEveryKeyWithItsDefault) {
  const std::string u = usage();
  const Config defaults;
  EXPECT_THAT(u, HasSubstr("--config FILE"));
  EXPECT_THAT(u, HasSubstr("--file"));
  EXPECT_THAT(u, HasSubstr("flag > environment > file > default"));
  std::istringstream lines(u);
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 100u) << line;
  for (const KeyDef& k : keys()) {
    std::string line = "--" + std::string(k.name);
    if (!k.value_hint.empty()) line += " " + std::string(k.value_hint);
    EXPECT_THAT(u, HasSubstr(line)) << k.name;
    std::string def = k.show(defaults);
    if (!def.empty()) {
      EXPECT_THAT(u, HasSubstr(std::string(k.help) + " [" + def + "]"));
    }
  }
}

// ---- the documented example file ----

std::string readExample() {
  std::ifstream in(SLOTPROXY_EXAMPLE_CONF);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(ConfigExampleFile, ParsesAsIs) {
  Outcome o = parseOk({"--config", SLOTPROXY_EXAMPLE_CONF, "--seeds", "10.0.0.1:6379"});
  Config expected;
  expected.seeds = o.config.seeds;
  EXPECT_EQ(o.config, expected);  // it only documents: nothing differs from the defaults
}

TEST(ConfigExampleFile, ShowsEveryKeyOnceWithItsRealDefault) {
  const std::string text = readExample();
  ASSERT_FALSE(text.empty()) << SLOTPROXY_EXAMPLE_CONF;
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);

  EXPECT_THAT(text, HasSubstr("SLOTPROXY_FAILOVER_HOLD"));  // explains the environment
  const Config defaults;
  std::string uncommented;
  for (const KeyDef& k : keys()) {
    SCOPED_TRACE(std::string(k.name));
    std::vector<std::string> shown;  // "# key value" or "key value"
    const std::string prefix = std::string(k.name) + " ";
    for (const std::string& line : lines) {
      std::string_view l = line;
      if (l.starts_with("# ")) l.remove_prefix(2);
      if (l.starts_with(prefix)) shown.emplace_back(l);
    }
    ASSERT_EQ(shown.size(), 1u) << "want exactly one \"# " << k.name << " VALUE\" line";
    uncommented += shown[0] + "\n";

    // The shown value parses, and is the default unless the key has none (then an example).
    Config c;
    std::string error;
    std::string value = shown[0].substr(prefix.size());
    if (value == "\"\"") value.clear();
    ASSERT_TRUE(k.set(&c, value, &error)) << error;
    if (!k.show(defaults).empty()) {
      EXPECT_EQ(k.show(c), k.show(defaults)) << "documented default differs from the code";
    }
    // There is an explanation right above it (at least two comment lines: what, default).
    for (size_t i = 0; i < lines.size(); ++i) {
      std::string_view l = lines[i];
      if (l.starts_with("# ")) l.remove_prefix(2);
      if (!l.starts_with(prefix)) continue;
      ASSERT_GE(i, 2u);
      EXPECT_TRUE(lines[i - 1].starts_with("# ") && lines[i - 2].starts_with("# "));
      EXPECT_FALSE(lines[i - 1].starts_with("# " + prefix));
    }
  }

  // Uncommenting every shown line still gives a valid configuration.
  TempFile f(uncommented);
  Outcome o = parseOk({"--config", f.path()});
  for (const KeyDef& k : keys()) {
    if (!k.show(defaults).empty()) {
      EXPECT_EQ(k.show(o.config), k.show(defaults)) << k.name;
    }
  }
}

}  // namespace
}  // namespace slotproxy::config
