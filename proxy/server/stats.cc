#include "proxy/server/stats.h"

#include "proxy/command/command_table.h"

namespace slotproxy::server {

Stats::Stats()
    : commands(std::make_unique<CommandStats[]>(command::count())),
      command_count(command::count()) {}

}  // namespace slotproxy::server
